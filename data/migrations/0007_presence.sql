-- Presence and receipts.

-- When the user's last socket closed (unix ms); NULL: never seen online.
-- Written once per disconnect, never per keystroke or message.
ALTER TABLE users ADD COLUMN last_seen_at INTEGER;

-- The highest seq that reached one of the member's sockets. The user actor
-- batches these and writes them periodically and on disconnect, so it may
-- lag the truth by one flush interval (never run ahead of it).
ALTER TABLE participants ADD COLUMN last_delivered_seq INTEGER NOT NULL DEFAULT 0;
