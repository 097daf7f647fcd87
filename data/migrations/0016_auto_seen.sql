-- Auto-seen periods: every period the server moves the user's read
-- position in a channel to its last message. One rule per user and
-- channel; `next_at` is when it runs next (on the automation clock).
CREATE TABLE auto_seen (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    room_id      INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    period_secs  INTEGER NOT NULL CHECK (period_secs > 0),
    next_at      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (user_id, room_id)
);
CREATE INDEX auto_seen_due ON auto_seen(next_at);
