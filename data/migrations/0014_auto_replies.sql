-- Auto-reply rules: when a message matching `pattern` arrives in one of the
-- owner's direct rooms (from `contact_id`, or anyone when NULL), the server
-- answers with `reply` as the owner.
CREATE TABLE auto_replies (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    pattern       TEXT    NOT NULL,
    match_mode    TEXT    NOT NULL
                  CHECK (match_mode IN ('literal', 'caseInsensitive', 'wholeWord')),
    contact_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,
    reply         TEXT    NOT NULL,
    enabled       INTEGER NOT NULL DEFAULT 1,
    -- When the rule was created or last enabled: it answers only messages
    -- sent from then on, never older history.
    active_since  INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX auto_replies_user ON auto_replies(user_id, id);

-- Per (owner, direct room): the last seq the auto-replier has looked at.
-- Messages after it are read from `messages` itself, so nothing is queued
-- on the commit path and a restart carries on where it stopped.
CREATE TABLE auto_reply_cursors (
    user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    room_id  INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (user_id, room_id)
) WITHOUT ROWID;

-- 1 on messages the server posted as an auto-reply: they never trigger a
-- rule, so two users whose rules answer each other cannot loop.
ALTER TABLE messages ADD COLUMN auto_reply INTEGER NOT NULL DEFAULT 0;
