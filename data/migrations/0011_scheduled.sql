-- Scheduled messages (the message queue). Each row owns the messageId it
-- will be posted with, chosen when it is scheduled: posting is idempotent
-- on messageId, so a send repeated after a crash stores nothing twice.
CREATE TABLE scheduled_messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    room_id     INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    message_id  BLOB    NOT NULL UNIQUE,
    content     TEXT    NOT NULL,
    send_at     INTEGER NOT NULL,
    -- pending → sending → sent | failed; pending → cancelled.
    status      TEXT    NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    seq         INTEGER,
    error       TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX scheduled_due ON scheduled_messages(send_at) WHERE status IN ('pending', 'sending');
CREATE INDEX scheduled_user ON scheduled_messages(user_id, id);
