-- Bots (Messaging API) and their outgoing webhooks.
--
-- A bot is a row in `users` (so it joins rooms and sends messages like a
-- person) plus a row here. Its password hash is of a random password nobody
-- knows, so it can never log in; it has no sessions, so no WebSocket either.
CREATE TABLE bots (
    user_id         INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    -- SHA-256 of the bot token; the token itself is shown once.
    token_hash      BLOB    NOT NULL UNIQUE,
    -- http:// URL new messages are POSTed to; NULL: no webhook.
    webhook_url     TEXT,
    -- HMAC key for the signature. Kept in clear: signing needs it.
    webhook_secret  TEXT,
    -- When the webhook was set: messages older than this are not delivered.
    webhook_since   INTEGER,
    -- Messages its receivers accepted, over the bot's lifetime.
    delivered       INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);

-- The outbox is the messages table itself: per (bot, room) the last seq
-- handled (delivered, given up on, or the bot's own). Advanced only after
-- the receiver answered 2xx, so a crash or an outage redelivers, never loses.
CREATE TABLE webhook_cursors (
    bot_id     INTEGER NOT NULL REFERENCES bots(user_id) ON DELETE CASCADE,
    room_id    INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    -- The bot's participants.joined_at this cursor belongs to: after a
    -- leave and re-join it starts again at the new join.
    joined_at  INTEGER NOT NULL,
    PRIMARY KEY (bot_id, room_id)
) WITHOUT ROWID;

-- Deliveries that failed at least once: retrying, recovered or given up.
-- A delivery that succeeds at once only moves its cursor.
CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    bot_id           INTEGER NOT NULL REFERENCES bots(user_id) ON DELETE CASCADE,
    room_id          INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    seq              INTEGER NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('retrying', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL,
    last_error       TEXT,
    next_attempt_at  INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (bot_id, room_id, seq)
);
CREATE INDEX webhook_deliveries_bot ON webhook_deliveries(bot_id, id);
