//! The embedded SQLite store: an r2d2 pool for reads, one writer thread for
//! chat writes (group commit), and rarely-written tables (users, sessions,
//! rooms) written through the pool. The search index lives in a file of its
//! own (`search.db`), written by the indexer thread and read through a
//! second small pool.

mod admin;
mod auto_destruct;
mod auto_replies;
mod auto_seen;
mod bots;
mod changes;
mod channels;
mod checkpointer;
mod contacts;
mod files;
mod filtered;
mod indexer;
mod list;
mod messages;
mod online;
mod outbox;
mod phone;
mod presence;
mod reactions;
mod rooms;
mod scheduled;
mod search;
mod sessions;
mod stats;
mod users;
mod writer;

use super::list::{ListQuery, Page};
use super::{
    BatchResult, HistoryFilter, RoomBatch, RoomListQuery, Store, StoreError, StoreResult,
    UserListQuery,
};
use crate::model::phone::{OutboxSms, PhoneCode, PhoneLogin, PhoneLoginOutcome};
use crate::model::receipts::MyRoom;
use crate::model::{
    AttemptOutcome, AutoDestruct, AutoReply, AutoReplyPatch, AutoReplyWork, AutoSeen, Bot,
    BotPatch, Channel, Contact, ContactActivity, ConversationEvent, Counts, Delivery, FileId,
    FreedFile, HistoryCursor, Message, NewAutoReply, NewBot, NewFile, NewRoom, NewScheduled,
    NewSession, NewUser, NewWebhook, OnlineGoal, OnlineInterval, Participant, Rev, Role, Room,
    RoomDetails, RoomId, RoomPatch, RoomSweep, ScheduledMessage, SearchHit, SearchQuery,
    SendOutcome, Seq, Session, StoredFile, Timestamp, User, UserId, UserPatch, WebhookTarget,
    WebhookWork,
};
use crate::query::Filter;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use tokio::sync::oneshot;

pub use auto_destruct::FILTER_FIELDS as AUTO_DESTRUCT_FILTER_FIELDS;
pub use auto_replies::FILTER_FIELDS as AUTO_REPLY_FILTER_FIELDS;
pub use auto_seen::FILTER_FIELDS as AUTO_SEEN_FILTER_FIELDS;
pub use bots::{DELIVERY_FILTER_FIELDS, FILTER_FIELDS as BOT_FILTER_FIELDS};
pub use channels::FILTER_FIELDS as CHANNEL_FILTER_FIELDS;
pub use contacts::FILTER_FIELDS as CONTACT_FILTER_FIELDS;
pub use messages::{FILTER_FIELDS as MESSAGE_FILTER_FIELDS, SEARCH_FILTER_FIELDS};
pub use rooms::FILTER_FIELDS as ROOM_FILTER_FIELDS;
pub use scheduled::FILTER_FIELDS as SCHEDULED_FILTER_FIELDS;
pub use sessions::FILTER_FIELDS as SESSION_FILTER_FIELDS;
pub use users::FILTER_FIELDS as USER_FILTER_FIELDS;
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

/// Migrations, in order of their numbers. Numbers may have gaps (work on
/// different features reserves numbers ahead), and a migration with a lower
/// number than one already applied still runs: the `schema_migrations`
/// table records each one applied, not just the highest.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../../../data/migrations/0001_init.sql")),
    (2, include_str!("../../../data/migrations/0002_phone.sql")),
    (3, include_str!("../../../data/migrations/0003_bots.sql")),
    (
        4,
        include_str!("../../../data/migrations/0004_messages.sql"),
    ),
    (5, include_str!("../../../data/migrations/0005_admin.sql")),
    (6, include_str!("../../../data/migrations/0006_files.sql")),
    (
        7,
        include_str!("../../../data/migrations/0007_presence.sql"),
    ),
    (
        8,
        include_str!("../../../data/migrations/0008_contacts.sql"),
    ),
    (
        9,
        include_str!("../../../data/migrations/0009_message_files.sql"),
    ),
    (
        10,
        include_str!("../../../data/migrations/0010_search_split.sql"),
    ),
    (
        11,
        include_str!("../../../data/migrations/0011_scheduled.sql"),
    ),
    (
        12,
        include_str!("../../../data/migrations/0012_link_preview.sql"),
    ),
    (
        13,
        include_str!("../../../data/migrations/0013_channel_ratings.sql"),
    ),
    (
        14,
        include_str!("../../../data/migrations/0014_auto_replies.sql"),
    ),
    (
        15,
        include_str!("../../../data/migrations/0015_auto_destruct.sql"),
    ),
    (
        16,
        include_str!("../../../data/migrations/0016_auto_seen.sql"),
    ),
    (
        17,
        include_str!("../../../data/migrations/0017_online_time.sql"),
    ),
];

/// Read connections to `search.db`: searches only, each one short.
const SEARCH_POOL_SIZE: u32 = 4;

/// Longest a search waits for the index to hold every message acknowledged
/// before it. Past it the search runs on the index as it is (a moment
/// behind) rather than hang the request: the indexer only falls that far
/// behind under a load the queue between it and the writer could not hold.
const SEARCH_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

pub struct SqliteStore {
    /// Copies the WAL back into the database file beside the writer.
    checkpointer: checkpointer::Checkpointer,
    pool: r2d2::Pool<SqliteConnectionManager>,
    /// Reads run on the async workers themselves ([`StoreHandle::run_short`]
    /// (crate::store::StoreHandle::run_short)): one connection per thread
    /// that may run them, so taking one never waits.
    short_pool: r2d2::Pool<SqliteConnectionManager>,
    /// Reads of `search.db`.
    search_pool: r2d2::Pool<SqliteConnectionManager>,
    writer: writer::Writer,
    indexer: std::sync::Arc<indexer::Indexer>,
}

/// Which job a connection does; the writer gets the bigger page cache.
#[derive(Clone, Copy)]
enum ConnRole {
    /// The group-commit writer: keeps the hot index pages of every active
    /// room cached, so inserts rarely read from disk.
    Writer,
    /// A pooled read connection.
    Reader,
    /// The indexer's connection to `search.db`: FTS5 merges segments as it
    /// writes, and cached pages spare it the reads.
    Indexer,
}

/// Bytes of the database file each connection maps into memory. Reads of
/// mapped pages skip a `pread` and a copy into the page cache: profiling
/// the history load showed both. The mapping is shared with the OS page
/// cache, so it costs address space, not memory per connection.
const MMAP_BYTES: u64 = 1 << 30;

/// WAL pages after which the group-commit writer checkpoints by itself:
/// a backstop, as the checkpointer thread (`checkpointer.rs`) normally
/// copies the log back long before. 64 MiB of WAL at most.
const WRITER_CHECKPOINT_PAGES: u32 = 16384;
/// The search index's own file: its indexer is its only writer and
/// checkpoints at SQLite's default.
const INDEXER_CHECKPOINT_PAGES: u32 = 1000;

/// Runs `read` in one read transaction: the reads see one snapshot, and
/// the WAL read lock is taken once instead of once per statement (the
/// history profile showed the per-statement locking). BEGIN and COMMIT
/// come from the statement cache, so they are not parsed on every call.
fn in_read_transaction<T>(
    conn: &Connection,
    read: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    conn.prepare_cached("BEGIN")?.execute([])?;
    let result = read(conn);
    // Ends the transaction whatever `read` did, so the pooled connection
    // never goes back to the pool inside one.
    let end = conn
        .prepare_cached("COMMIT")
        .and_then(|mut s| s.execute([]));
    let value = result?;
    end?;
    Ok(value)
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
        // Smaller was tried against `pcache1TruncateUnsafe` (9-11% of the
        // writer on persist with random ids; it walks every cached page
        // after a commit whose page splits renumbered pages): with 8 MiB
        // it was 9.1% against 9.0% in 10 s runs and 8.9% against 10.9%
        // in 40 s runs, and the CPU per message did not move beyond the
        // noise at 8, 16 or 32 MiB (bench/findings.md).
        ConnRole::Writer => 64 * 1024,
        ConnRole::Reader => 16 * 1024,
        ConnRole::Indexer => 32 * 1024,
    };
    let checkpoint_pages = match role {
        ConnRole::Writer => WRITER_CHECKPOINT_PAGES,
        // Their rare writes (delivered positions, sessions) leave the
        // checkpoints to the checkpointer thread instead of a request.
        ConnRole::Reader => 0,
        ConnRole::Indexer => INDEXER_CHECKPOINT_PAGES,
    };
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS as u64))?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = {synchronous};
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -{cache_kib};
         PRAGMA mmap_size = {MMAP_BYTES};
         PRAGMA wal_autocheckpoint = {checkpoint_pages};"
    ))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             applied_at INTEGER NOT NULL
         )",
    )?;
    // Databases from before the table kept only `user_version` (the one
    // migration there was then).
    let legacy: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    conn.execute(
        "INSERT OR IGNORE INTO schema_migrations (version, applied_at)
         SELECT 1, ?1 WHERE ?2 >= 1",
        rusqlite::params![Timestamp::now().millis(), legacy],
    )?;
    // A migration may rebuild a table (SQLite's way to change a foreign
    // key), which needs foreign keys off; they cannot be switched inside a
    // transaction, so off around all of them, checked before each commit.
    conn.execute_batch("PRAGMA foreign_keys = OFF")?;
    let result = apply_migrations(conn, MIGRATIONS);
    conn.execute_batch("PRAGMA foreign_keys = ON")?;
    result
}

/// Applies every migration of `migrations` not yet recorded in
/// `schema_migrations`, in list order.
fn apply_migrations(conn: &mut Connection, migrations: &[(u32, &str)]) -> StoreResult<()> {
    for (version, sql) in migrations {
        let tx = conn.transaction()?;
        let applied = tx
            .prepare("SELECT 1 FROM schema_migrations WHERE version = ?1")?
            .exists([version])?;
        if applied {
            continue;
        }
        tx.execute_batch(sql)?;
        let broken = tx.prepare("PRAGMA foreign_key_check")?.exists([])?;
        if broken {
            return Err(StoreError::Internal(format!(
                "migration {version} leaves rows with broken foreign keys"
            )));
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            rusqlite::params![version, Timestamp::now().millis()],
        )?;
        // Kept for tools that read it: the highest number applied.
        let highest: u32 = tx.query_row("SELECT max(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })?;
        tx.pragma_update(None, "user_version", highest)?;
        tx.commit()?;
        tracing::info!(version, "applied migration");
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) `data_dir/palaver.db`, applies migrations,
    /// opens (creating if needed) the search index `data_dir/search.db`, and
    /// starts the indexer and writer threads.
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
        let search_path = data_dir.join(search::SEARCH_DB_FILE);
        // Catches up with the main database by itself, in the background.
        let indexer = std::sync::Arc::new(indexer::Indexer::start(&search_path, &path)?);

        let readers = || {
            SqliteConnectionManager::file(&path)
                .with_init(move |c| setup_connection(c, durability, ConnRole::Reader))
        };
        // No liveness query on checkout: a SQLite file cannot drop the
        // connection, and the query cost a parse per request.
        let pool = r2d2::Pool::builder()
            .max_size(READ_POOL_SIZE)
            .test_on_check_out(false)
            .build(readers())?;
        // The async workers are one per CPU; twice that leaves room for
        // any other runtime thread, so no worker ever waits here.
        let short_reads = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32 * 2;
        let short_pool = r2d2::Pool::builder()
            .max_size(short_reads)
            .test_on_check_out(false)
            .build(readers())?;
        // The indexer created the file and its tables above; the main
        // database is attached read-only for the filters of a search.
        let main_path = path.clone();
        let manager = SqliteConnectionManager::file(&search_path).with_init(move |c| {
            setup_connection(c, Durability::Normal, ConnRole::Reader)?;
            search::attach_main(c, &main_path)
        });
        let search_pool = r2d2::Pool::builder()
            .max_size(SEARCH_POOL_SIZE)
            .min_idle(Some(0))
            .test_on_check_out(false)
            .build(manager)?;
        let tail = std::sync::Arc::new(checkpointer::TailRequest::default());
        let checkpointer = checkpointer::Checkpointer::start(&path, durability, tail.clone())?;
        let writer = writer::Writer::start(conn, writer, indexer.clone(), tail)?;
        Ok(SqliteStore {
            checkpointer,
            pool,
            short_pool,
            search_pool,
            writer,
            indexer,
        })
    }

    fn conn(&self) -> StoreResult<r2d2::PooledConnection<SqliteConnectionManager>> {
        Ok(self.pool.get()?)
    }

    /// A connection for a read that runs on an async worker.
    fn short_conn(&self) -> StoreResult<r2d2::PooledConnection<SqliteConnectionManager>> {
        Ok(self.short_pool.get()?)
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
    fn list_users(&self, q: &UserListQuery) -> StoreResult<Page<User>> {
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
        let live = sessions::live_of_user(&*self.conn()?, user, Timestamp::now(), None, 0, None)?;
        Ok(live.items)
    }
    fn live_sessions(
        &self,
        user: UserId,
        filter: Option<&Filter>,
        offset: u32,
        limit: Option<u32>,
    ) -> StoreResult<Page<Session>> {
        let now = Timestamp::now();
        sessions::live_of_user(&*self.conn()?, user, now, filter, offset, limit)
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
    fn list_rooms_of_user(&self, q: &RoomListQuery) -> StoreResult<Page<Room>> {
        rooms::list_of_user(&*self.conn()?, q)
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
        let conn = self.short_conn()?;
        in_read_transaction(&conn, |conn| {
            if rooms::member_role(conn, room, user)?.is_none() {
                return Ok(None);
            }
            let page = messages::history(conn, room, cursor, limit, Some(user))?;
            let last = messages::last_seq(conn, room)?;
            Ok(Some((page, last)))
        })
    }
    fn member_history_filtered(
        &self,
        room: RoomId,
        user: UserId,
        q: &HistoryFilter,
    ) -> StoreResult<Option<(Page<Message>, Seq)>> {
        let conn = self.conn()?;
        if rooms::member_role(&conn, room, user)?.is_none() {
            return Ok(None);
        }
        let page = messages::filtered_history(&conn, room, q, Some(user))?;
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
        if !self.indexer.sync(SEARCH_WAIT) {
            tracing::warn!("search index behind: searching it as it is");
        }
        search::search(&*self.conn()?, &*self.search_pool.get()?, q)
    }

    fn create_file(&self, new: &NewFile) -> StoreResult<(StoredFile, bool)> {
        files::create(&*self.conn()?, new)
    }
    fn blob_in_use(&self, sha256: &str) -> StoreResult<bool> {
        files::blob_in_use(&*self.conn()?, sha256)
    }
    fn file_readable_by(&self, id: FileId, reader: UserId) -> StoreResult<Option<StoredFile>> {
        files::readable_by(&*self.conn()?, id, reader)
    }

    fn add_contacts_by_phone(
        &self,
        owner: UserId,
        phones: &[String],
    ) -> StoreResult<Vec<(String, Option<User>)>> {
        contacts::add_by_phone(&mut *self.conn()?, owner, phones)
    }
    fn contacts(
        &self,
        owner: UserId,
        filter: Option<&Filter>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<(Vec<Contact>, u64)> {
        contacts::page(&*self.conn()?, owner, filter, offset, limit)
    }
    fn contact(&self, owner: UserId, contact: UserId) -> StoreResult<Option<Contact>> {
        contacts::one(&*self.conn()?, owner, contact)
    }
    fn contact_activity(
        &self,
        owner: UserId,
        filter: Option<&Filter>,
    ) -> StoreResult<Vec<ContactActivity>> {
        contacts::activity(&*self.conn()?, owner, filter)
    }
    fn conversation(
        &self,
        owner: UserId,
        contact: UserId,
        since: Option<Timestamp>,
    ) -> StoreResult<Vec<ConversationEvent>> {
        contacts::conversation(&*self.conn()?, owner, contact, since)
    }

    fn channels(
        &self,
        user: UserId,
        filter: Option<&Filter>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<(Vec<Channel>, u64)> {
        channels::page(&*self.conn()?, user, filter, offset, limit)
    }
    fn channel(&self, user: UserId, room: RoomId) -> StoreResult<Option<Channel>> {
        channels::one(&*self.conn()?, user, room)
    }
    fn rate_channel(&self, user: UserId, room: RoomId, rate: u8) -> StoreResult<()> {
        channels::rate(&*self.conn()?, user, room, rate)
    }

    fn create_scheduled(&self, new: &NewScheduled) -> StoreResult<ScheduledMessage> {
        scheduled::create(&*self.conn()?, new)
    }
    fn scheduled(&self, owner: UserId, id: i64) -> StoreResult<Option<ScheduledMessage>> {
        scheduled::one(&*self.conn()?, owner, id)
    }
    fn scheduled_page(
        &self,
        owner: UserId,
        filter: Option<&Filter>,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<ScheduledMessage>, u64)> {
        scheduled::page(&*self.conn()?, owner, filter, offset, limit)
    }
    fn update_scheduled(
        &self,
        owner: UserId,
        id: i64,
        content: Option<&str>,
        send_at: Option<Timestamp>,
    ) -> StoreResult<ScheduledMessage> {
        scheduled::update(&*self.conn()?, owner, id, content, send_at)
    }
    fn cancel_scheduled(&self, owner: UserId, id: i64) -> StoreResult<ScheduledMessage> {
        scheduled::cancel(&*self.conn()?, owner, id)
    }
    fn next_scheduled_at(&self) -> StoreResult<Option<Timestamp>> {
        scheduled::next_due(&*self.conn()?)
    }
    fn claim_due_scheduled(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ScheduledMessage>> {
        scheduled::claim_due(&mut *self.conn()?, now, limit)
    }
    fn finish_scheduled(&self, id: i64, outcome: &SendOutcome) -> StoreResult<()> {
        scheduled::finish(&*self.conn()?, id, outcome)
    }

    fn create_auto_destruct(
        &self,
        owner: UserId,
        room: RoomId,
        lifetime_secs: i64,
    ) -> StoreResult<AutoDestruct> {
        auto_destruct::create(&*self.conn()?, owner, room, lifetime_secs)
    }
    fn auto_destruct(&self, owner: UserId, id: i64) -> StoreResult<Option<AutoDestruct>> {
        auto_destruct::one(&*self.conn()?, owner, id)
    }
    fn auto_destruct_page(
        &self,
        owner: UserId,
        filter: Option<&crate::query::Filter>,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<AutoDestruct>, u64)> {
        auto_destruct::page(&*self.conn()?, owner, filter, offset, limit)
    }
    fn update_auto_destruct(
        &self,
        owner: UserId,
        id: i64,
        lifetime_secs: i64,
    ) -> StoreResult<AutoDestruct> {
        auto_destruct::update(&*self.conn()?, owner, id, lifetime_secs)
    }
    fn delete_auto_destruct(&self, owner: UserId, id: i64) -> StoreResult<()> {
        auto_destruct::delete(&*self.conn()?, owner, id)
    }
    fn destruct_sweep(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<RoomSweep>> {
        auto_destruct::sweep(&*self.conn()?, now, limit)
    }
    fn shortest_destruct_lifetime(&self) -> StoreResult<Option<i64>> {
        auto_destruct::shortest_lifetime(&*self.conn()?)
    }
    fn mark_destruct_swept(&self, room: RoomId, seq: Seq) -> StoreResult<()> {
        auto_destruct::mark_swept(&*self.conn()?, room, seq)
    }
    fn queue_file_frees(&self, files: &[FileId]) -> StoreResult<()> {
        auto_destruct::queue_frees(&*self.conn()?, files)
    }
    fn free_queued_files(&self, after: FileId, limit: u32) -> StoreResult<Vec<FreedFile>> {
        auto_destruct::free_queued(&mut *self.conn()?, after, limit)
    }
    fn forget_file_free(&self, file_id: FileId) -> StoreResult<()> {
        auto_destruct::forget_free(&*self.conn()?, file_id)
    }

    fn create_auto_seen(
        &self,
        owner: UserId,
        channel: RoomId,
        period_secs: i64,
        next_at: Timestamp,
    ) -> StoreResult<AutoSeen> {
        auto_seen::create(&*self.conn()?, owner, channel, period_secs, next_at)
    }
    fn auto_seen(&self, owner: UserId, id: i64) -> StoreResult<Option<AutoSeen>> {
        auto_seen::one(&*self.conn()?, owner, id)
    }
    fn auto_seen_page(
        &self,
        owner: UserId,
        filter: Option<&crate::query::Filter>,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<AutoSeen>, u64)> {
        auto_seen::page(&*self.conn()?, owner, filter, offset, limit)
    }
    fn update_auto_seen(
        &self,
        owner: UserId,
        id: i64,
        period_secs: i64,
        next_at: Timestamp,
    ) -> StoreResult<AutoSeen> {
        auto_seen::update(&*self.conn()?, owner, id, period_secs, next_at)
    }
    fn delete_auto_seen(&self, owner: UserId, id: i64) -> StoreResult<()> {
        auto_seen::delete(&*self.conn()?, owner, id)
    }
    fn next_auto_seen_at(&self) -> StoreResult<Option<Timestamp>> {
        auto_seen::next_due(&*self.conn()?)
    }
    fn due_auto_seen(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<AutoSeen>> {
        auto_seen::due(&*self.conn()?, now, limit)
    }
    fn auto_seen_ran(&self, id: i64, next_at: Timestamp) -> StoreResult<()> {
        auto_seen::ran(&*self.conn()?, id, next_at)
    }
    fn create_auto_reply(&self, new: &NewAutoReply, max_rules: u32) -> StoreResult<AutoReply> {
        auto_replies::create(&mut *self.conn()?, new, max_rules)
    }
    fn auto_reply(&self, owner: UserId, id: i64) -> StoreResult<Option<AutoReply>> {
        auto_replies::one(&*self.conn()?, owner, id)
    }
    fn auto_reply_page(
        &self,
        owner: UserId,
        filter: Option<&crate::query::Filter>,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<AutoReply>, u64)> {
        auto_replies::page(&*self.conn()?, owner, filter, offset, limit)
    }
    fn update_auto_reply(
        &self,
        owner: UserId,
        id: i64,
        patch: &AutoReplyPatch,
    ) -> StoreResult<AutoReply> {
        auto_replies::update(&mut *self.conn()?, owner, id, patch)
    }
    fn delete_auto_reply(&self, owner: UserId, id: i64) -> StoreResult<()> {
        auto_replies::delete(&*self.conn()?, owner, id)
    }
    fn auto_reply_owners(&self) -> StoreResult<Vec<UserId>> {
        auto_replies::owners(&*self.conn()?)
    }
    fn auto_reply_targets(&self, room: Option<RoomId>) -> StoreResult<Vec<(UserId, RoomId)>> {
        auto_replies::targets(&*self.conn()?, room)
    }
    fn auto_reply_work(
        &self,
        owner: UserId,
        room: RoomId,
        limit: u32,
    ) -> StoreResult<AutoReplyWork> {
        auto_replies::work(&*self.conn()?, owner, room, limit)
    }
    fn auto_reply_done(&self, owner: UserId, room: RoomId, seq: Seq) -> StoreResult<()> {
        auto_replies::move_cursor(&*self.conn()?, owner, room, seq)
    }

    fn counts(&self) -> StoreResult<Counts> {
        stats::counts(&*self.conn()?)
    }

    fn users_page(&self, q: &ListQuery) -> StoreResult<Page<User>> {
        admin::users_page(&*self.conn()?, q)
    }
    fn rooms_page(&self, q: &ListQuery) -> StoreResult<Page<Room>> {
        admin::rooms_page(&*self.conn()?, q)
    }
    fn participants_page(&self, room: RoomId, q: &ListQuery) -> StoreResult<Page<Participant>> {
        admin::participants_page(&*self.conn()?, room, q)
    }
    fn messages_page(&self, q: &ListQuery) -> StoreResult<Page<Message>> {
        admin::messages_page(&*self.conn()?, q)
    }
    fn sessions_page(&self, q: &ListQuery) -> StoreResult<Page<Session>> {
        admin::sessions_page(&*self.conn()?, q)
    }
    fn session(&self, id: i64) -> StoreResult<Option<Session>> {
        admin::session(&*self.conn()?, id)
    }
    fn message(&self, message_id: &str) -> StoreResult<Option<Message>> {
        admin::message(&*self.conn()?, message_id)
    }
    fn update_user(&self, id: UserId, patch: &UserPatch) -> StoreResult<User> {
        admin::update_user(&*self.conn()?, id, patch)
    }
    fn delete_user(&self, id: UserId) -> StoreResult<()> {
        admin::delete_user(&*self.conn()?, id)
    }
    fn set_role(&self, room: RoomId, user: UserId, role: Role) -> StoreResult<()> {
        rooms::set_role(&*self.conn()?, room, user, role)
    }

    fn create_bot(&self, new: &NewBot) -> StoreResult<Bot> {
        bots::create(&mut *self.conn()?, new)
    }
    fn bot(&self, id: UserId) -> StoreResult<Option<Bot>> {
        bots::by_id(&*self.conn()?, id)
    }
    fn bots(
        &self,
        after_id: Option<UserId>,
        filter: Option<&Filter>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Page<Bot>> {
        bots::list(&*self.conn()?, after_id, filter, offset, limit)
    }
    fn bot_by_token_hash(&self, hash: &[u8]) -> StoreResult<Option<UserId>> {
        bots::by_token_hash(&*self.conn()?, hash)
    }
    fn update_bot(&self, id: UserId, patch: &BotPatch) -> StoreResult<Bot> {
        bots::update(&*self.conn()?, id, patch)
    }
    fn delete_bot(&self, id: UserId) -> StoreResult<()> {
        bots::delete(&*self.conn()?, id)
    }
    fn set_bot_token_hash(&self, id: UserId, hash: &[u8]) -> StoreResult<()> {
        bots::set_token_hash(&*self.conn()?, id, hash)
    }
    fn set_webhook(&self, id: UserId, hook: Option<&NewWebhook>) -> StoreResult<()> {
        bots::set_webhook(&mut *self.conn()?, id, hook)
    }
    fn webhook_bots(&self) -> StoreResult<Vec<UserId>> {
        bots::with_webhook(&*self.conn()?)
    }
    fn webhook_targets(&self, room: Option<RoomId>) -> StoreResult<Vec<WebhookTarget>> {
        bots::targets(&*self.conn()?, room)
    }
    fn webhook_work(&self, target: WebhookTarget, limit: u32) -> StoreResult<Option<WebhookWork>> {
        bots::work(&*self.conn()?, target, limit)
    }
    fn record_attempt(
        &self,
        target: WebhookTarget,
        seq: Seq,
        outcome: &AttemptOutcome,
    ) -> StoreResult<()> {
        bots::record_attempt(&mut *self.conn()?, target, seq, outcome)
    }
    fn deliveries(
        &self,
        bot: UserId,
        before_id: Option<i64>,
        filter: Option<&Filter>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Page<Delivery>> {
        bots::deliveries(&*self.conn()?, bot, before_id, filter, offset, limit)
    }

    fn submit(&self, batch: RoomBatch) -> StoreResult<oneshot::Receiver<BatchResult>> {
        self.writer.submit(batch)
    }
    fn flush_and_stop(&self) {
        // The writer's last notes go to the indexer before it stops.
        self.writer.flush_and_stop();
        self.indexer.stop();
        self.checkpointer.stop();
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
    fn mark_delivered(&self, room: RoomId, positions: &[(UserId, Seq)]) -> StoreResult<()> {
        presence::mark_delivered(&mut *self.conn()?, room, positions)
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

    fn open_online_interval(&self, user: UserId, at: Timestamp) -> StoreResult<i64> {
        online::open(&*self.conn()?, user, at)
    }
    fn close_online_interval(&self, id: i64, at: Timestamp) -> StoreResult<()> {
        online::close(&*self.conn()?, id, at)
    }
    fn online_intervals(
        &self,
        user: UserId,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> StoreResult<Vec<OnlineInterval>> {
        online::overlapping(&*self.conn()?, user, from, to, now)
    }
    fn online_heartbeat(&self, at: Timestamp) -> StoreResult<()> {
        online::heartbeat(&*self.conn()?, at)
    }
    fn close_abandoned_intervals(&self) -> StoreResult<usize> {
        online::close_abandoned(&*self.conn()?)
    }
    fn online_goal(&self, user: UserId) -> StoreResult<OnlineGoal> {
        online::goal(&*self.conn()?, user)
    }
    fn set_online_goal(&self, user: UserId, minutes: Option<u32>) -> StoreResult<()> {
        online::set_goal(&*self.conn()?, user, minutes)
    }
    fn mark_goal_notified(&self, user: UserId, day: i64) -> StoreResult<bool> {
        online::mark_goal_notified(&*self.conn()?, user, day)
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

    /// Only the group-commit writer lets the WAL grow past SQLite's default
    /// before it checkpoints.
    #[test]
    fn the_writer_checkpoints_less_often_than_other_connections() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint_pages = |role| {
            let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            setup_connection(&conn, Durability::Normal, role).unwrap();
            conn.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get::<_, u32>(0))
                .unwrap()
        };
        assert_eq!(checkpoint_pages(ConnRole::Writer), WRITER_CHECKPOINT_PAGES);
        assert_eq!(checkpoint_pages(ConnRole::Reader), 0);
        assert_eq!(
            checkpoint_pages(ConnRole::Indexer),
            INDEXER_CHECKPOINT_PAGES
        );
    }

    /// The database file takes the committed pages while the store is open,
    /// though the writer's own threshold is far away: the checkpointer
    /// thread copied the WAL back.
    #[test]
    fn the_wal_is_copied_back_beside_the_writer() {
        let mut f = Fixture::new();
        let db = f.dir.path().join(DB_FILE);
        let before = std::fs::metadata(&db).unwrap().len();
        let long = "x".repeat(2000);
        for batch in 0..20 {
            let ops = (0..50)
                .map(|i| {
                    post(
                        f.user,
                        &format!("00000000-0000-4000-8000-{batch:06}{i:06}"),
                        &long,
                    )
                })
                .collect();
            f.submit(ops);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::metadata(&db).unwrap().len() < before + 1_000_000 {
            assert!(
                std::time::Instant::now() < deadline,
                "the database file did not grow: the WAL was not checkpointed"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        f.stop();
    }

    /// Migrations are listed by number, so a reader sees the order they run in.
    #[test]
    fn migrations_are_in_ascending_order() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    /// A database made before `schema_migrations` existed (only
    /// `user_version = 1`) gets the later migrations and keeps its rows; a
    /// deleted creator leaves the room with no creator.
    #[test]
    fn migrates_a_version_1_database() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
            conn.execute_batch(MIGRATIONS[0].1).unwrap();
            conn.execute_batch(
                "PRAGMA user_version = 1;
                 INSERT INTO users (login, password_hash, name, created_at) VALUES ('a', '', 'A', 0);
                 INSERT INTO rooms (kind, name, public, creator_id, created_at) VALUES ('group', 'r', 0, 1, 0);
                 INSERT INTO rooms (kind, name, public, creator_id, created_at) VALUES ('group', 'gone', 0, 1, 0);
                 DELETE FROM rooms WHERE id = 2;
                 INSERT INTO participants (room_id, user_id, role, joined_at) VALUES (1, 1, 'owner', 0);",
            )
            .unwrap();
        }
        let store =
            SqliteStore::open(dir.path(), Durability::Normal, WriterConfig::default()).unwrap();
        assert_eq!(store.room(1).unwrap().unwrap().creator_id, Some(1));
        store.delete_user(1).unwrap();
        let room = store.room(1).unwrap().expect("the room stays");
        assert_eq!(room.creator_id, None);
        assert!(store.room_members(1).unwrap().is_empty());
        store.flush_and_stop();
        drop(store);
        // Opening again applies nothing twice.
        let store =
            SqliteStore::open(dir.path(), Durability::Normal, WriterConfig::default()).unwrap();
        assert!(store.room(1).unwrap().is_some());
        store.flush_and_stop();
        drop(store);
        // The rebuilt table keeps the id high-water mark: room 2 was
        // deleted before the migration and its id is never given out again.
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        let seq: i64 = conn
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'rooms'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(seq, 2);
    }

    fn tables(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 't_' ORDER BY name")
            .unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn a_migration_merged_late_still_runs() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )
        .unwrap();
        let (one, two, three) = (
            (1, "CREATE TABLE t1 (x)"),
            (2, "CREATE TABLE t2 (x)"),
            (3, "CREATE TABLE t3 (x)"),
        );
        apply_migrations(&mut conn, &[one, three]).unwrap();
        assert_eq!(tables(&conn), ["t1", "t3"]);
        apply_migrations(&mut conn, &[one, two, three]).unwrap();
        assert_eq!(tables(&conn), ["t1", "t2", "t3"]);
        let version: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 3);
    }

    use crate::model::{MessageChange, MessageKind, NewMessage, RoomKind, SearchQuery};
    use crate::store::{OpOutcome, RoomBatch, RoomOp, SEARCH_FILTER_FIELDS};

    fn post(user: UserId, id: &str, content: &str) -> RoomOp {
        RoomOp::Post(NewMessage {
            message_id: id.to_owned(),
            sender_id: Some(user),
            kind: MessageKind::Text,
            content: content.to_owned(),
            reply_id: None,
            forward_of: None,
            file_id: None,
            preview: None,
            created_at: Timestamp::now(),
            auto_reply: false,
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

    /// A store in a temporary directory with one user in one room, which
    /// submits batches as that room's actor would.
    struct Fixture {
        dir: tempfile::TempDir,
        store: Option<SqliteStore>,
        user: UserId,
        room: RoomId,
        next_seq: Seq,
        next_rev: Rev,
    }

    impl Fixture {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let store =
                SqliteStore::open(dir.path(), Durability::Normal, WriterConfig::default()).unwrap();
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
            let next_seq = store.last_seq(room).unwrap() + 1;
            Fixture {
                dir,
                store: Some(store),
                user,
                room,
                next_seq,
                next_rev: 1,
            }
        }

        fn store(&self) -> &SqliteStore {
            self.store.as_ref().expect("the store is open")
        }

        fn submit(&mut self, ops: Vec<RoomOp>) {
            let batch = RoomBatch {
                room_id: self.room,
                next_seq: self.next_seq,
                next_rev: self.next_rev,
                ops,
            };
            let outcomes = self
                .store()
                .submit(batch)
                .unwrap()
                .blocking_recv()
                .unwrap()
                .unwrap();
            for outcome in outcomes {
                match outcome {
                    OpOutcome::Inserted(_) => self.next_seq += 1,
                    OpOutcome::Changed(c) if c.changed => self.next_rev += 1,
                    OpOutcome::Failed(e) => panic!("an op failed: {e}"),
                    _ => {}
                }
            }
        }

        /// The user's search for `q`, with a `query=` filter if given.
        fn query(&self, q: &str, filter: Option<&str>) -> SearchQuery {
            SearchQuery {
                user_id: self.user,
                q: q.into(),
                room_id: None,
                filter: filter.map(|f| Filter::parse(f, SEARCH_FILTER_FIELDS).unwrap()),
                limit: 10,
                offset: 0,
            }
        }

        /// The contents found for `q`, sorted.
        fn found(&self, q: &str) -> Vec<String> {
            let (hits, _) = self.store().search(&self.query(q, None)).unwrap();
            let mut found: Vec<_> = hits.into_iter().map(|h| h.message.content).collect();
            found.sort();
            found
        }

        fn stop(&mut self) {
            if let Some(store) = self.store.take() {
                store.flush_and_stop();
            }
        }

        fn reopen(&mut self) {
            self.stop();
            let store =
                SqliteStore::open(self.dir.path(), Durability::Normal, WriterConfig::default())
                    .unwrap();
            self.store = Some(store);
        }

        /// Runs SQL on the stopped store's `search.db`.
        fn doctor_index(&self, sql: &str) {
            assert!(self.store.is_none(), "stop the store first");
            let db = Connection::open(self.dir.path().join(search::SEARCH_DB_FILE)).unwrap();
            db.execute_batch(sql).unwrap();
        }

        fn mark(&self) -> Option<search::Mark> {
            let db = Connection::open(self.dir.path().join(search::SEARCH_DB_FILE)).unwrap();
            search::stored_mark(&db, self.room).unwrap()
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            self.stop();
        }
    }

    const A: &str = "0190a1b2-0000-7000-8000-00000000000a";
    const B: &str = "0190a1b2-0000-7000-8000-00000000000b";
    const C: &str = "0190a1b2-0000-7000-8000-00000000000c";
    const D: &str = "0190a1b2-0000-7000-8000-00000000000d";
    const E: &str = "0190a1b2-0000-7000-8000-00000000000e";

    fn edit(text: &str) -> MessageChange {
        MessageChange::Edit {
            content: text.into(),
        }
    }

    fn react() -> MessageChange {
        MessageChange::React {
            emoji: "x".into(),
            add: true,
        }
    }

    const DELETE: MessageChange = MessageChange::Delete { moderator: false };

    /// Messages changed in the commit that stored them reach the index as
    /// changed, and a restart with the index's marks and a row lost (a
    /// crash before its commit reached the disk) indexes them again.
    #[test]
    fn changes_in_the_storing_commit_keep_the_index_right() {
        let mut f = Fixture::new();
        let user = f.user;
        f.submit(vec![
            post(user, A, "stale walrus"),
            change(user, A, edit("fresh walrus")),
            post(user, B, "doomed walrus"),
            change(user, B, DELETE),
            post(user, C, "liked walrus"),
            change(user, C, react()),
        ]);
        assert_eq!(f.found("walrus"), ["fresh walrus", "liked walrus"]);
        assert!(f.found("stale OR doomed").is_empty());

        f.stop();
        f.doctor_index(
            "DELETE FROM marks;
             DELETE FROM messages_fts WHERE content = 'liked walrus';",
        );
        f.reopen();
        assert_eq!(f.found("walrus"), ["fresh walrus", "liked walrus"]);
        assert!(f.found("stale OR doomed").is_empty());
    }

    /// Notes the indexer never got — an edit, a delete, a reaction and a
    /// new message — are read from the main database by the marks before
    /// the next note that does arrive is applied (it must not move the mark
    /// past the gap).
    #[test]
    fn dropped_notes_are_caught_up_from_the_marks() {
        let mut f = Fixture::new();
        let user = f.user;
        f.submit(vec![
            post(user, A, "alpha walrus"),
            post(user, B, "beta walrus"),
            post(user, C, "gamma walrus"),
        ]);
        assert_eq!(f.found("walrus").len(), 3);
        let before = f.mark().expect("the room is indexed");
        assert_eq!((before.seq, before.rev), (f.next_seq - 1, 0));

        f.store().indexer.drop_notes(true);
        f.submit(vec![change(user, A, edit("delta seal"))]);
        f.submit(vec![change(user, B, DELETE), change(user, C, react())]);
        f.submit(vec![post(user, D, "epsilon walrus")]);
        f.store().indexer.drop_notes(false);
        f.submit(vec![post(user, E, "zeta walrus")]);

        assert_eq!(
            f.found("walrus"),
            ["epsilon walrus", "gamma walrus", "zeta walrus"]
        );
        assert_eq!(f.found("seal OR alpha OR beta"), ["delta seal"]);
        let after = f.mark().unwrap();
        assert_eq!((after.seq, after.rev), (f.next_seq - 1, f.next_rev - 1));
    }

    /// A restart with an index older than the main database (a crash lost
    /// its last commits, or a copy of it was restored) catches up from its
    /// marks: the edit and the delete it missed included.
    #[test]
    fn a_restart_catches_up_an_old_index() {
        let mut f = Fixture::new();
        let user = f.user;
        f.submit(vec![
            post(user, A, "alpha walrus"),
            post(user, B, "beta walrus"),
        ]);
        assert_eq!(f.found("walrus").len(), 2);
        f.stop();
        let index = f.dir.path().join(search::SEARCH_DB_FILE);
        let old = f.dir.path().join("old-search.db");
        std::fs::copy(&index, &old).unwrap();

        f.reopen();
        f.submit(vec![
            change(user, A, edit("delta seal")),
            change(user, B, DELETE),
            post(user, C, "gamma walrus"),
        ]);
        assert_eq!(f.found("walrus"), ["gamma walrus"]);
        f.stop();
        std::fs::copy(&old, &index).unwrap();
        f.reopen();
        assert_eq!(f.found("walrus"), ["gamma walrus"]);
        assert_eq!(f.found("seal OR alpha OR beta"), ["delta seal"]);
        let mark = f.mark().unwrap();
        assert_eq!((mark.seq, mark.rev), (f.next_seq - 1, f.next_rev - 1));
    }

    /// A search's `query=` filter is evaluated on the message in the main
    /// database (attached read-only), not on the index's copy of its text,
    /// and each hit's message is one primary-key lookup, not a scan.
    #[test]
    fn a_search_filters_on_the_messages_of_the_main_database() {
        let mut f = Fixture::new();
        let user = f.user;
        f.submit(vec![
            post(user, A, "alpha walrus"),
            post(user, B, "beta walrus"),
        ]);
        assert_eq!(f.found("walrus").len(), 2);
        f.stop();
        // Only the index's copy of B's text changes: a filter on content
        // that read the index would now miss it.
        f.doctor_index(
            "UPDATE messages_fts SET content = 'beta walrus copy' WHERE content = 'beta walrus'",
        );
        f.reopen();
        let q = f.query("walrus", Some("content = 'beta walrus' AND seq > 0"));
        let (hits, total) = f.store().search(&q).unwrap();
        let found: Vec<_> = hits.iter().map(|h| h.message.message_id.as_str()).collect();
        assert_eq!((found, total), (vec![B], 1));

        let index = f.store().search_pool.get().unwrap();
        let plan = search::plan(&index, &q).unwrap();
        // Expected: the FTS5 match, then per hit
        // "SEARCH chat.messages USING PRIMARY KEY (room_id=? AND seq=?)".
        let by_key = "SEARCH chat.messages USING PRIMARY KEY (room_id=? AND seq=?)";
        assert!(plan.iter().any(|step| step == by_key), "{plan:#?}");
        assert!(
            !plan.iter().any(|step| step.starts_with("SCAN chat.")),
            "{plan:#?}"
        );
        let write = index.execute("DELETE FROM chat.messages", []);
        assert!(write.is_err(), "the main database is read-only here");
    }

    /// An index ahead of the main database (restored main copy, or a power
    /// cut that kept index commits the main file lost) drops the room's
    /// rows and indexes it again.
    #[test]
    fn an_index_ahead_of_the_database_is_rebuilt() {
        let mut f = Fixture::new();
        let user = f.user;
        f.submit(vec![post(user, A, "alpha walrus")]);
        assert_eq!(f.found("walrus"), ["alpha walrus"]);
        f.stop();
        let room = f.room;
        f.doctor_index(&format!(
            "INSERT INTO messages_fts (rowid, content) VALUES (({room} << 32) | 99, 'ghost walrus');
             UPDATE marks SET seq = 99 WHERE room_id = {room};"
        ));
        f.reopen();
        assert_eq!(f.found("walrus"), ["alpha walrus"]);
        assert_eq!(f.mark().unwrap().seq, f.next_seq - 1, "the mark is back");
        let db = Connection::open(f.dir.path().join(search::SEARCH_DB_FILE)).unwrap();
        let ghosts: u64 = db
            .query_row(
                "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'ghost'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(ghosts, 0);
        f.submit(vec![post(user, B, "beta walrus")]);
        assert_eq!(f.found("walrus"), ["alpha walrus", "beta walrus"]);
    }
}
