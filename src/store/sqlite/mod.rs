//! The embedded SQLite store: an r2d2 pool for reads, one writer thread for
//! chat writes (group commit), and rarely-written tables (users, sessions,
//! rooms) written through the pool.

mod changes;
mod messages;
mod reactions;
mod rooms;
mod search;
mod sessions;
mod users;
mod writer;

use super::{BatchResult, RoomBatch, Store, StoreError, StoreResult, UserListQuery};
use crate::model::{
    HistoryCursor, Message, NewRoom, NewSession, NewUser, Rev, Role, Room, RoomDetails, RoomId,
    RoomPatch, SearchHit, SearchQuery, Seq, Session, Timestamp, User, UserId,
};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use tokio::sync::oneshot;

pub use writer::WriterConfig;

/// How hard a commit tries to reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// `synchronous=NORMAL`: in WAL mode a commit survives a crash of the
    /// process (kill -9); the last commits may be lost on power failure.
    Normal,
    /// `synchronous=FULL`: every commit is synced to disk before it is acked.
    Full,
}

/// Name of the database file inside the data directory.
pub const DB_FILE: &str = "palaver.db";

/// Read connections in the pool. SQLite in WAL mode serves readers in
/// parallel; more than a few per core only adds contention.
const READ_POOL_SIZE: u32 = 8;

/// How long a connection waits for SQLite's write lock before failing (ms).
/// Writes outside the writer thread are rare and short.
const BUSY_TIMEOUT_MS: u32 = 5_000;

/// Migrations, in ascending order of their number; numbers may have gaps
/// (each feature reserves its own). `PRAGMA user_version` records the last
/// one applied, and every higher one runs.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../../../data/migrations/0001_init.sql")),
    (
        4,
        include_str!("../../../data/migrations/0004_messages.sql"),
    ),
];

pub struct SqliteStore {
    pool: r2d2::Pool<SqliteConnectionManager>,
    writer: writer::Writer,
}

/// Which job a connection does; the writer gets the bigger page cache.
#[derive(Clone, Copy)]
enum ConnRole {
    /// The group-commit writer: keeps the hot index pages of every active
    /// room cached, so inserts rarely read from disk.
    Writer,
    /// A pooled read connection.
    Reader,
}

/// Sets every pragma; the one place connection behaviour is decided.
fn setup_connection(
    conn: &Connection,
    durability: Durability,
    role: ConnRole,
) -> rusqlite::Result<()> {
    let synchronous = match durability {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    // Negative cache_size is KiB.
    let cache_kib = match role {
        ConnRole::Writer => 64 * 1024,
        ConnRole::Reader => 16 * 1024,
    };
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS as u64))?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = {synchronous};
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -{cache_kib};"
    ))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, "applied migration");
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) `data_dir/palaver.db`, applies migrations
    /// and starts the writer thread.
    pub fn open(
        data_dir: &Path,
        durability: Durability,
        writer: WriterConfig,
    ) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Internal(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        let path: PathBuf = data_dir.join(DB_FILE);

        let mut conn = Connection::open(&path)?;
        setup_connection(&conn, durability, ConnRole::Writer)?;
        migrate(&mut conn)?;
        let indexed = search::recover(&mut conn)?;
        if indexed > 0 {
            tracing::info!(
                messages = indexed,
                "indexed messages left unindexed by the last run"
            );
        }

        let manager = SqliteConnectionManager::file(&path)
            .with_init(move |c| setup_connection(c, durability, ConnRole::Reader));
        // No liveness query on checkout: a SQLite file cannot drop the
        // connection, and the query cost a parse per request.
        let pool = r2d2::Pool::builder()
            .max_size(READ_POOL_SIZE)
            .test_on_check_out(false)
            .build(manager)?;
        let writer = writer::Writer::start(conn, writer)?;
        Ok(SqliteStore { pool, writer })
    }

    fn conn(&self) -> StoreResult<r2d2::PooledConnection<SqliteConnectionManager>> {
        Ok(self.pool.get()?)
    }
}

impl Store for SqliteStore {
    fn create_user(&self, new: &NewUser) -> StoreResult<User> {
        users::create(&*self.conn()?, new)
    }
    fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        users::by_id(&*self.conn()?, id)
    }
    fn user_with_password(&self, login: &str) -> StoreResult<Option<(User, String)>> {
        users::with_password(&*self.conn()?, login)
    }
    fn list_users(&self, q: &UserListQuery) -> StoreResult<Vec<User>> {
        users::list(&*self.conn()?, q)
    }

    fn create_session(&self, new: &NewSession) -> StoreResult<Session> {
        sessions::create(&*self.conn()?, new)
    }
    fn session_by_token_hash(&self, hash: &[u8]) -> StoreResult<Option<Session>> {
        sessions::by_token_hash(&*self.conn()?, hash)
    }
    fn revoke_session(&self, id: i64, at: Timestamp) -> StoreResult<()> {
        sessions::revoke(&*self.conn()?, id, at)
    }
    fn active_sessions(&self, user: UserId) -> StoreResult<Vec<Session>> {
        sessions::active_of_user(&*self.conn()?, user, Timestamp::now())
    }
    fn revoke_all_sessions(
        &self,
        user: UserId,
        keep: Option<i64>,
        at: Timestamp,
    ) -> StoreResult<Vec<i64>> {
        sessions::revoke_all_of_user(&*self.conn()?, user, keep, at)
    }
    fn password_hash(&self, user: UserId) -> StoreResult<Option<String>> {
        users::password_hash(&*self.conn()?, user)
    }
    fn set_password_hash(&self, user: UserId, hash: &str) -> StoreResult<()> {
        users::set_password_hash(&*self.conn()?, user, hash)
    }
    fn extend_session(&self, id: i64, expires_at: Timestamp) -> StoreResult<()> {
        sessions::extend(&*self.conn()?, id, expires_at)
    }

    fn create_room(&self, new: &NewRoom) -> StoreResult<(RoomDetails, bool)> {
        rooms::create(&mut *self.conn()?, new)
    }
    fn room(&self, id: RoomId) -> StoreResult<Option<Room>> {
        rooms::by_id(&*self.conn()?, id)
    }
    fn room_details(&self, id: RoomId) -> StoreResult<Option<RoomDetails>> {
        rooms::details(&*self.conn()?, id)
    }
    fn member_role(&self, room: RoomId, user: UserId) -> StoreResult<Option<Role>> {
        rooms::member_role(&*self.conn()?, room, user)
    }
    fn room_members(&self, room: RoomId) -> StoreResult<Vec<(UserId, Role)>> {
        rooms::members(&*self.conn()?, room)
    }
    fn rooms_of_user(&self, user: UserId) -> StoreResult<Vec<Room>> {
        rooms::of_user(&*self.conn()?, user)
    }
    fn room_ids_of_user(&self, user: UserId) -> StoreResult<Vec<RoomId>> {
        rooms::ids_of_user(&*self.conn()?, user)
    }
    fn public_rooms(&self, limit: u32) -> StoreResult<Vec<Room>> {
        rooms::public_sample(&*self.conn()?, limit)
    }
    fn update_room(&self, id: RoomId, patch: &RoomPatch) -> StoreResult<Room> {
        rooms::update(&*self.conn()?, id, patch)
    }
    fn delete_room(&self, id: RoomId) -> StoreResult<()> {
        rooms::delete(&*self.conn()?, id)
    }

    fn last_seq(&self, room: RoomId) -> StoreResult<Seq> {
        messages::last_seq(&*self.conn()?, room)
    }
    fn last_rev(&self, room: RoomId) -> StoreResult<Rev> {
        messages::last_rev(&*self.conn()?, room)
    }
    fn history(
        &self,
        room: RoomId,
        cursor: HistoryCursor,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        messages::history(&*self.conn()?, room, cursor, limit, None)
    }
    fn member_history(
        &self,
        room: RoomId,
        user: UserId,
        cursor: HistoryCursor,
        limit: u32,
    ) -> StoreResult<Option<(Vec<Message>, Seq)>> {
        // One pooled connection for the three reads. (An explicit read
        // transaction around them measured slower: BEGIN and COMMIT are
        // parsed on every call.)
        let conn = self.conn()?;
        if rooms::member_role(&conn, room, user)?.is_none() {
            return Ok(None);
        }
        let page = messages::history(&conn, room, cursor, limit, Some(user))?;
        let last = messages::last_seq(&conn, room)?;
        Ok(Some((page, last)))
    }
    fn messages_after(
        &self,
        room: RoomId,
        after: Seq,
        limit: u32,
        viewer: UserId,
    ) -> StoreResult<Vec<Message>> {
        messages::after(&*self.conn()?, room, after, limit, viewer)
    }
    fn changed_after(
        &self,
        room: RoomId,
        after: Rev,
        upto: Seq,
        limit: u32,
        viewer: UserId,
    ) -> StoreResult<Vec<Message>> {
        messages::changed_after(&*self.conn()?, room, after, upto, limit, viewer)
    }
    fn readable_message(&self, message_id: &str, user: UserId) -> StoreResult<Option<Message>> {
        messages::readable(&*self.conn()?, message_id, user)
    }
    fn search(&self, q: &SearchQuery) -> StoreResult<(Vec<SearchHit>, u64)> {
        // Read your writes: everything acked before the search is found.
        // A writer too busy to answer leaves the search a moment behind.
        match self.writer.sync_index() {
            Ok(()) | Err(StoreError::Busy) => {}
            Err(e) => return Err(e),
        }
        search::search(&*self.conn()?, q)
    }

    fn submit(&self, batch: RoomBatch) -> StoreResult<oneshot::Receiver<BatchResult>> {
        self.writer.submit(batch)
    }
    fn flush_and_stop(&self) {
        self.writer.flush_and_stop();
    }
}

/// True when `e` is a UNIQUE or PRIMARY KEY violation.
fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// True when `e` is a FOREIGN KEY violation (the room or user is gone).
fn is_foreign_key_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY
    )
}

impl SqliteStore {
    pub fn into_arc(self) -> std::sync::Arc<dyn Store> {
        std::sync::Arc::new(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MessageChange, MessageKind, NewMessage, RoomKind, SearchQuery};
    use crate::store::{OpOutcome, RoomBatch, RoomOp};

    #[test]
    fn migrations_ascend() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    fn post(user: UserId, id: &str, content: &str) -> RoomOp {
        RoomOp::Post(NewMessage {
            message_id: id.to_owned(),
            sender_id: Some(user),
            kind: MessageKind::Text,
            content: content.to_owned(),
            reply_id: None,
            forward_of: None,
            created_at: Timestamp::now(),
        })
    }

    fn change(user: UserId, id: &str, change: MessageChange) -> RoomOp {
        RoomOp::Change {
            message_id: id.to_owned(),
            user_id: user,
            change,
            at: Timestamp::now(),
        }
    }

    /// Messages changed in the commit that stored them are indexed by the
    /// triggers alone, and a restart's recovery leaves them be.
    #[test]
    fn changes_in_the_storing_commit_keep_the_index_right() {
        let dir = tempfile::tempdir().unwrap();
        let open = || SqliteStore::open(dir.path(), Durability::Normal, WriterConfig::default());
        let store = open().unwrap();
        let user = store
            .create_user(&NewUser {
                login: "alice".into(),
                password_hash: "-".into(),
                name: "Alice".into(),
                avatar: None,
            })
            .unwrap()
            .id;
        let room = NewRoom {
            kind: RoomKind::Group,
            name: Some("r".into()),
            public: false,
            creator_id: user,
            participants: Vec::new(),
        };
        let room = store.create_room(&room).unwrap().0.room.id;
        let (a, b, c) = (
            "0190a1b2-0000-7000-8000-00000000000a",
            "0190a1b2-0000-7000-8000-00000000000b",
            "0190a1b2-0000-7000-8000-00000000000c",
        );
        let edit = MessageChange::Edit {
            content: "fresh walrus".into(),
        };
        let react = MessageChange::React {
            emoji: "x".into(),
            add: true,
        };
        let ops = vec![
            post(user, a, "stale walrus"),
            change(user, a, edit),
            post(user, b, "doomed walrus"),
            change(user, b, MessageChange::Delete { moderator: false }),
            post(user, c, "liked walrus"),
            change(user, c, react),
        ];
        let batch = RoomBatch {
            room_id: room,
            next_seq: 1,
            next_rev: 1,
            ops,
        };
        let outcomes = store
            .submit(batch)
            .unwrap()
            .blocking_recv()
            .unwrap()
            .unwrap();
        assert!(outcomes.iter().all(|o| !matches!(o, OpOutcome::Failed(_))));
        let found = |store: &SqliteStore, q: &str| -> Vec<String> {
            let q = SearchQuery {
                user_id: user,
                q: q.into(),
                room_id: None,
                limit: 10,
                offset: 0,
            };
            let (hits, _) = store.search(&q).unwrap();
            let mut found: Vec<_> = hits.into_iter().map(|h| h.message.content).collect();
            found.sort();
            found
        };
        assert_eq!(found(&store, "walrus"), ["fresh walrus", "liked walrus"]);
        store.flush_and_stop();
        drop(store);

        // A crash with the queue lost: the marks never moved and the one
        // queued message is not indexed. Recovery indexes it, and only it.
        let db = Connection::open(dir.path().join(DB_FILE)).unwrap();
        db.execute_batch(
            "DELETE FROM search_indexed;
             DELETE FROM messages_fts WHERE content = 'liked walrus';",
        )
        .unwrap();
        drop(db);
        let store = open().unwrap();
        assert_eq!(found(&store, "walrus"), ["fresh walrus", "liked walrus"]);
        store.flush_and_stop();
    }
}
