-- palaver schema, version 1.
-- Times are unix milliseconds (UTC); the API formats them as RFC 3339.

-- AUTOINCREMENT: an id is never given out twice, even after a delete, so a
-- client holding an old id can never reach someone else's row.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    login         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    avatar        TEXT,
    created_at    INTEGER NOT NULL
);

-- One row per login (a device session). Only the SHA-256 of the token is kept.
CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash  BLOB    NOT NULL UNIQUE,
    device_id   TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE rooms (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL CHECK (kind IN ('direct', 'group', 'channel')),
    name        TEXT,
    public      INTEGER NOT NULL DEFAULT 0,
    creator_id  INTEGER NOT NULL REFERENCES users(id),
    -- "lowId:highId" for direct rooms so the same pair never gets two rooms.
    direct_key  TEXT UNIQUE,
    created_at  INTEGER NOT NULL
);
CREATE INDEX rooms_public ON rooms(public) WHERE public = 1;

CREATE TABLE participants (
    room_id        INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role           TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    last_read_seq  INTEGER NOT NULL DEFAULT 0,
    joined_at      INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
CREATE INDEX participants_user ON participants(user_id, room_id);

-- seq is per room, gap-free, assigned by the room actor and written by the
-- group-commit writer; (room_id, seq) is the clustering key so history pages
-- are one index range scan.
CREATE TABLE messages (
    room_id     INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    -- The UUID's 16 bytes: the unique index that makes retries idempotent
    -- is less than half the size of one over the 36-character text.
    message_id  BLOB    NOT NULL UNIQUE,
    sender_id   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    kind        TEXT    NOT NULL,
    content     TEXT    NOT NULL,
    reply_id    BLOB,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (room_id, seq)
) WITHOUT ROWID;
