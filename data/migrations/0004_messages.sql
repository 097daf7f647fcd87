-- Rich messaging: edits, deletes (tombstones), reactions, forwards, and
-- full-text search.

-- `rev` is the room's change counter: every edit, delete or reaction change
-- gives the message the room's next rev, so a client that was away can ask
-- for "everything changed after rev R". New messages keep rev 0 until they
-- change, which keeps the partial index below off the insert path.
ALTER TABLE messages ADD COLUMN edited_at  INTEGER;
ALTER TABLE messages ADD COLUMN deleted_at INTEGER;
ALTER TABLE messages ADD COLUMN forward_of BLOB;
ALTER TABLE messages ADD COLUMN rev        INTEGER NOT NULL DEFAULT 0;
CREATE INDEX messages_changed ON messages(room_id, rev) WHERE rev > 0;

-- One row per (message, emoji, user). Keyed by the message's (room_id, seq)
-- so a history page's reactions are one range scan.
CREATE TABLE reactions (
    room_id    INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    emoji      TEXT    NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, seq, emoji, user_id),
    FOREIGN KEY (room_id, seq) REFERENCES messages(room_id, seq) ON DELETE CASCADE
) WITHOUT ROWID;

-- The search index. `messages` is WITHOUT ROWID (clustered by room and seq),
-- so it cannot be an external-content table; the index keeps its own copy of
-- the text (which snippet() needs) under rowid = room_id << 32 | seq, which
-- maps an index row back to its message and makes a room a rowid range.
-- Seqs stay below 2^32 per room.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    content,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- New messages are indexed by the writer thread, outside the commits that
-- acknowledge them: it queues them and indexes the queue in one transaction
-- of its own when it runs out of work (or the queue is long, or a search or
-- a change needs it). FTS5 writes a new index segment at every commit that
-- touched it, which measured about 100 µs a commit and three times the cost
-- of a message in a batch; indexing in bulk keeps that off the ack path.
-- `search_indexed` is how far each room's messages are indexed, so a
-- restart indexes what a crash left queued. A change (edit, delete) is
-- applied only after the queue is indexed, so the triggers below always
-- find what they update: an edited message is found by its new text only,
-- a deleted one never. (A message edited or deleted in the very commit that
-- stored it is left to the triggers and never queued.)
-- System messages are not searchable.
CREATE TABLE search_indexed (
    room_id INTEGER PRIMARY KEY,
    seq     INTEGER NOT NULL
);

CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, deleted_at ON messages
WHEN new.kind <> 'system'
BEGIN
    DELETE FROM messages_fts WHERE rowid = (old.room_id << 32) | old.seq;
    INSERT INTO messages_fts(rowid, content)
    SELECT (new.room_id << 32) | new.seq, new.content WHERE new.deleted_at IS NULL;
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN old.kind <> 'system'
BEGIN
    DELETE FROM messages_fts WHERE rowid = (old.room_id << 32) | old.seq;
END;

INSERT INTO messages_fts(rowid, content)
SELECT (room_id << 32) | seq, content FROM messages WHERE kind <> 'system';
INSERT INTO search_indexed (room_id, seq)
SELECT room_id, MAX(seq) FROM messages GROUP BY room_id;
