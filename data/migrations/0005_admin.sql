-- Management API: a user can be deleted although rooms name them as creator.
-- rooms.creator_id becomes nullable with ON DELETE SET NULL (as
-- messages.sender_id already is): the room, its members and its history
-- stay; only "who created it" is forgotten. SQLite cannot change a foreign
-- key in place, so the table is rebuilt (the runner has foreign keys off
-- while a migration runs and checks them before it commits).
CREATE TABLE rooms_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL CHECK (kind IN ('direct', 'group', 'channel')),
    name        TEXT,
    public      INTEGER NOT NULL DEFAULT 0,
    creator_id  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    direct_key  TEXT UNIQUE,
    created_at  INTEGER NOT NULL
);
INSERT INTO rooms_new (id, kind, name, public, creator_id, direct_key, created_at)
    SELECT id, kind, name, public, creator_id, direct_key, created_at FROM rooms;
-- Keep the id high-water mark: ids of deleted rooms are never given out
-- again (a client may still hold one).
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'rooms_new', seq FROM sqlite_sequence
     WHERE name = 'rooms' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'rooms_new');
UPDATE sqlite_sequence SET seq = max(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'rooms'))
    WHERE name = 'rooms_new';
DROP TABLE rooms;
ALTER TABLE rooms_new RENAME TO rooms;
CREATE INDEX rooms_public ON rooms(public) WHERE public = 1;
-- Admin lists filter sessions and messages by these.
CREATE INDEX IF NOT EXISTS messages_sender ON messages(sender_id);
