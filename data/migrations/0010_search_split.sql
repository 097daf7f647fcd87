-- The search index moves out of this database into `search.db`, written by
-- a thread of its own (see src/store/sqlite/indexer.rs). FTS5 work in this
-- file shared the writer's thread and this file's one write lock with every
-- group commit, which cut acknowledged messages per second by two thirds.
-- The index there is rebuilt from `messages` (it keeps marks of how far it
-- got), so nothing here is copied over: the first start after this
-- migration re-indexes every message in the background.
DROP TRIGGER IF EXISTS messages_fts_update;
DROP TRIGGER IF EXISTS messages_fts_delete;
DROP TABLE IF EXISTS messages_fts;
DROP TABLE IF EXISTS search_indexed;
