-- Uploaded files. The bytes live once on disk under data/files, named by
-- their SHA-256 (content-addressed, so identical uploads share one blob);
-- each upload is a row of its own, so who may read it is decided per row.
CREATE TABLE files (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256        BLOB    NOT NULL,
    size          INTEGER NOT NULL,
    -- Sniffed from the bytes, never taken from the client.
    content_type  TEXT    NOT NULL,
    -- The client's file name, for Content-Disposition only.
    name          TEXT    NOT NULL,
    uploader_id   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    -- Pixel size of images; NULL for everything else.
    width         INTEGER,
    height        INTEGER,
    created_at    INTEGER NOT NULL
);
-- The same person uploading the same bytes twice gets the first row back.
CREATE UNIQUE INDEX files_uploader_hash ON files(uploader_id, sha256);
-- Freeing a blob asks whether any other row still names it.
CREATE INDEX files_hash ON files(sha256);
