-- Disappearing messages. A rule makes every message of its room (earlier
-- ones too) disappear for everyone once it is older than the lifetime;
-- with several rules on one room the shortest lifetime wins. One rule per
-- user and room.
CREATE TABLE auto_destructs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    room_id        INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    lifetime_secs  INTEGER NOT NULL CHECK (lifetime_secs > 0),
    created_at     INTEGER NOT NULL,
    UNIQUE (user_id, room_id)
);
CREATE INDEX auto_destructs_room ON auto_destructs(room_id);

-- How far each room has been swept: every message with seq <= seq is a
-- tombstone or a system message. The sweep scans the primary key from here,
-- so finding due messages costs the live ones, not the room's history, and
-- no index is added to the insert path of messages.
CREATE TABLE auto_destruct_sweeps (
    room_id  INTEGER PRIMARY KEY REFERENCES rooms(id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL
);

-- Files that a destroyed message carried, waiting to be freed if no live
-- message carries them any more. Written before the messages are deleted
-- and removed once the blob is gone (or kept), so a crash in between
-- leaves work to finish, never a leak.
CREATE TABLE auto_destruct_frees (
    file_id  INTEGER PRIMARY KEY,
    sha256   BLOB    NOT NULL
);
