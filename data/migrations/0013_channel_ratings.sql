-- Each member's rating of a channel, 0–99; a channel shows the average.
CREATE TABLE channel_ratings (
    room_id   INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    rate      INTEGER NOT NULL CHECK (rate BETWEEN 0 AND 99),
    rated_at  INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
