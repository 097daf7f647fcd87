-- A link message may carry a preview (title, description, image URL) that
-- the client sends: the server fetches nothing from the internet. Kept as
-- JSON text; NULL for every other message.
ALTER TABLE messages ADD COLUMN preview TEXT;
