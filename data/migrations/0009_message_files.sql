-- A message may carry an uploaded file. Whoever can read the message can
-- read the file: the partial index answers "is this file in one of my
-- rooms" without touching the many messages that carry none.
ALTER TABLE messages ADD COLUMN file_id INTEGER REFERENCES files(id);
CREATE INDEX messages_file ON messages(file_id, room_id) WHERE file_id IS NOT NULL;
