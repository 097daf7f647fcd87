//! The embedded SQLite store: an r2d2 pool for reads, one writer thread for
//! chat writes (group commit), and rarely-written tables (users, sessions,
//! rooms) written through the pool.

mod files;
mod messages;
mod outbox;
mod phone;
mod presence;
mod rooms;
mod sessions;
mod stats;
mod users;
mod writer;

use super::{BatchResult, RoomBatch, Store, StoreError, StoreResult, UserListQuery};
use crate::model::phone::{OutboxSms, PhoneCode, PhoneLogin, PhoneLoginOutcome};
use crate::model::receipts::MyRoom;
use crate::model::{
    Counts, FileId, HistoryCursor, Message, NewFile, NewRoom, NewSession, NewUser, Role, Room,
    RoomDetails, RoomId, RoomPatch, Seq, Session, StoredFile, Timestamp, User, UserId,
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

/// Migrations, in order. `PRAGMA user_version` records the last one applied.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../../../data/migrations/0001_init.sql")),
    (2, include_str!("../../../data/migrations/0002_phone.sql")),
    (6, include_str!("../../../data/migrations/0006_files.sql")),
    (
        7,
        include_str!("../../../data/migrations/0007_presence.sql"),
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
    fn history(
        &self,
        room: RoomId,
        cursor: HistoryCursor,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        messages::history(&*self.conn()?, room, cursor, limit)
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
        let page = messages::history(&conn, room, cursor, limit)?;
        let last = messages::last_seq(&conn, room)?;
        Ok(Some((page, last)))
    }
    fn messages_after(&self, room: RoomId, after: Seq, limit: u32) -> StoreResult<Vec<Message>> {
        messages::after(&*self.conn()?, room, after, limit)
    }

    fn create_file(&self, new: &NewFile) -> StoreResult<(StoredFile, bool)> {
        files::create(&*self.conn()?, new)
    }
    fn file_readable_by(&self, id: FileId, reader: UserId) -> StoreResult<Option<StoredFile>> {
        files::readable_by(&*self.conn()?, id, reader)
    }

    fn counts(&self) -> StoreResult<Counts> {
        stats::counts(&*self.conn()?)
    }

    fn submit(&self, batch: RoomBatch) -> StoreResult<oneshot::Receiver<BatchResult>> {
        self.writer.submit(batch)
    }
    fn flush_and_stop(&self) {
        self.writer.flush_and_stop();
    }

    fn server_secret(&self, name: &str, fresh: &[u8]) -> StoreResult<Vec<u8>> {
        phone::server_secret(&*self.conn()?, name, fresh)
    }
    fn phone_of_device(&self, device_id: &str) -> StoreResult<Option<String>> {
        phone::phone_of_device(&*self.conn()?, device_id)
    }
    fn browser_device_of_phone(&self, phone: &str) -> StoreResult<Option<String>> {
        phone::browser_device_of_phone(&*self.conn()?, phone)
    }
    fn put_phone_code(&self, code: &PhoneCode, sms_text: &str) -> StoreResult<i64> {
        phone::put_code(&mut *self.conn()?, code, sms_text, Timestamp::now())
    }
    fn phone_code(&self, phone: &str) -> StoreResult<Option<PhoneCode>> {
        phone::code(&*self.conn()?, phone)
    }
    fn phone_code_failed(&self, phone: &str) -> StoreResult<u32> {
        phone::code_failed(&*self.conn()?, phone)
    }
    fn phone_login(&self, login: &PhoneLogin) -> StoreResult<PhoneLoginOutcome> {
        phone::login(&mut *self.conn()?, login)
    }

    fn due_sms(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<OutboxSms>> {
        outbox::due(&*self.conn()?, now, limit)
    }
    fn next_sms_due(&self) -> StoreResult<Option<Timestamp>> {
        outbox::next_due(&*self.conn()?)
    }
    fn remove_sms(&self, id: i64) -> StoreResult<()> {
        outbox::remove(&*self.conn()?, id)
    }
    fn retry_sms_at(&self, id: i64, at: Timestamp) -> StoreResult<()> {
        outbox::retry_at(&*self.conn()?, id, at)
    }

    fn rooms_with_receipts(&self, user: UserId) -> StoreResult<Vec<MyRoom>> {
        presence::rooms_with_receipts(&*self.conn()?, user)
    }
    fn read_positions(&self, room: RoomId) -> StoreResult<Vec<(UserId, Seq)>> {
        presence::read_positions(&*self.conn()?, room)
    }
    fn mark_delivered(&self, user: UserId, positions: &[(RoomId, Seq)]) -> StoreResult<()> {
        presence::mark_delivered(&mut *self.conn()?, user, positions)
    }
    fn set_last_seen(&self, user: UserId, at: Timestamp) -> StoreResult<()> {
        presence::set_last_seen(&*self.conn()?, user, at)
    }
    fn co_members(&self, user: UserId) -> StoreResult<Vec<UserId>> {
        presence::co_members(&*self.conn()?, user)
    }
    fn last_seen_for(
        &self,
        viewer: UserId,
        user: UserId,
    ) -> StoreResult<Option<Option<Timestamp>>> {
        presence::last_seen_for(&*self.conn()?, viewer, user)
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

    /// `migrate` applies the list in order and records the last version, so
    /// a version out of order would be applied twice on the next start.
    #[test]
    fn migrations_are_in_ascending_order() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn a_reopened_database_applies_nothing_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        for _ in 0..2 {
            let mut conn = Connection::open(&path).unwrap();
            migrate(&mut conn).unwrap();
            let version: u32 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(Some(version), MIGRATIONS.last().map(|m| m.0));
        }
    }
}
