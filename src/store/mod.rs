//! Persistence behind one narrow trait, so a later multi-node mode can put
//! another database behind it without touching actors or handlers.
//!
//! Reads are plain blocking calls; callers run them off the async workers via
//! [`StoreHandle::run`]. Chat writes go through [`Store::submit`] to the one
//! group-commit writer thread, which answers each batch after its
//! transaction has committed.

pub mod sqlite;

use crate::model::{
    ChangedMessage, HistoryCursor, Message, MessageChange, NewMessage, NewRoom, NewSession,
    NewUser, Rev, Role, Room, RoomDetails, RoomId, RoomPatch, SearchHit, SearchQuery, Seq, Session,
    Timestamp, User, UserId,
};
use std::sync::Arc;
use tokio::sync::oneshot;

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this to this object.
    #[error("{0}")]
    Forbidden(String),
    /// A field names something it may not (e.g. a reply to another room).
    #[error("{reason}")]
    Invalid { field: &'static str, reason: String },
    /// A search query the index cannot parse; the reason is about the query.
    #[error("{0}")]
    BadQuery(String),
    /// The writer queue is full: back-pressure, not failure.
    #[error("writer queue full")]
    Busy,
    /// The store has been shut down.
    #[error("store closed")]
    Closed,
    #[error("{0}")]
    Internal(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Internal(format!("sqlite: {e}"))
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        StoreError::Internal(format!("connection pool: {e}"))
    }
}

/// One write a room actor asks for. Every op that changes what members see
/// carries a message, so the change gets a `seq` and shows up in history.
#[derive(Debug, Clone)]
pub enum RoomOp {
    Post(NewMessage),
    AddParticipant {
        user_id: UserId,
        role: Role,
        system: NewMessage,
    },
    RemoveParticipant {
        user_id: UserId,
        system: NewMessage,
    },
    /// Move a member's read position forward (never backward).
    MarkRead {
        user_id: UserId,
        seq: Seq,
    },
    /// Edit, delete or react to a stored message of the room.
    Change {
        message_id: String,
        user_id: UserId,
        change: MessageChange,
        at: Timestamp,
    },
}

/// What happened to one [`RoomOp`], in the order the ops were given.
#[derive(Debug, Clone, PartialEq)]
pub enum OpOutcome {
    /// Stored with a fresh seq.
    Inserted(Message),
    /// The messageId was already stored by the same sender in the same room:
    /// nothing new is written and the original is returned.
    Duplicate(Message),
    Done,
    /// A message changed (or already was as asked: see
    /// [`ChangedMessage::changed`]).
    Changed(ChangedMessage),
    Failed(StoreError),
}

/// The writes of one room that travel to the writer together. The writer
/// gives inserted messages `next_seq`, `next_seq + 1`, ... in op order, and
/// changed messages `next_rev`, `next_rev + 1`, ... the same way.
#[derive(Debug)]
pub struct RoomBatch {
    pub room_id: RoomId,
    pub next_seq: Seq,
    pub next_rev: Rev,
    pub ops: Vec<RoomOp>,
}

pub type BatchResult = StoreResult<Vec<OpOutcome>>;

/// `limit` is already clamped by the caller.
#[derive(Debug, Clone, Default)]
pub struct UserListQuery {
    pub exclude: Option<UserId>,
    pub after_id: Option<UserId>,
    pub login_prefix: Option<String>,
    pub limit: u32,
}

pub trait Store: Send + Sync + 'static {
    fn create_user(&self, new: &NewUser) -> StoreResult<User>;
    fn user(&self, id: UserId) -> StoreResult<Option<User>>;
    /// The user and their password hash, for login.
    fn user_with_password(&self, login: &str) -> StoreResult<Option<(User, String)>>;
    fn list_users(&self, q: &UserListQuery) -> StoreResult<Vec<User>>;

    fn create_session(&self, new: &NewSession) -> StoreResult<Session>;
    fn session_by_token_hash(&self, hash: &[u8]) -> StoreResult<Option<Session>>;
    fn revoke_session(&self, id: i64, at: Timestamp) -> StoreResult<()>;
    /// The user's sessions that are neither revoked nor expired, newest first.
    fn active_sessions(&self, user: UserId) -> StoreResult<Vec<Session>>;
    /// Revokes every live session of the user except `keep`; returns their ids.
    fn revoke_all_sessions(
        &self,
        user: UserId,
        keep: Option<i64>,
        at: Timestamp,
    ) -> StoreResult<Vec<i64>>;
    fn password_hash(&self, user: UserId) -> StoreResult<Option<String>>;
    fn set_password_hash(&self, user: UserId, hash: &str) -> StoreResult<()>;
    /// Moves a live session's expiry (sliding expiry).
    fn extend_session(&self, id: i64, expires_at: Timestamp) -> StoreResult<()>;

    /// Creates a room with its creator as owner. A direct room between two
    /// people who already have one returns that room and `false`.
    fn create_room(&self, new: &NewRoom) -> StoreResult<(RoomDetails, bool)>;
    fn room(&self, id: RoomId) -> StoreResult<Option<Room>>;
    fn room_details(&self, id: RoomId) -> StoreResult<Option<RoomDetails>>;
    fn member_role(&self, room: RoomId, user: UserId) -> StoreResult<Option<Role>>;
    fn room_members(&self, room: RoomId) -> StoreResult<Vec<(UserId, Role)>>;
    fn rooms_of_user(&self, user: UserId) -> StoreResult<Vec<Room>>;
    fn room_ids_of_user(&self, user: UserId) -> StoreResult<Vec<RoomId>>;
    fn public_rooms(&self, limit: u32) -> StoreResult<Vec<Room>>;
    fn update_room(&self, id: RoomId, patch: &RoomPatch) -> StoreResult<Room>;
    fn delete_room(&self, id: RoomId) -> StoreResult<()>;

    /// Highest committed seq of the room (0 when empty).
    fn last_seq(&self, room: RoomId) -> StoreResult<Seq>;
    /// Highest committed change rev of the room (0 when nothing changed).
    fn last_rev(&self, room: RoomId) -> StoreResult<Rev>;
    /// A history page, newest first.
    fn history(&self, room: RoomId, cursor: HistoryCursor, limit: u32)
        -> StoreResult<Vec<Message>>;
    /// A history page and the room's last seq, if `user` is a participant.
    fn member_history(
        &self,
        room: RoomId,
        user: UserId,
        cursor: HistoryCursor,
        limit: u32,
    ) -> StoreResult<Option<(Vec<Message>, Seq)>>;
    /// Messages with seq > after, oldest first, at most `limit`; reactions
    /// say `me` for `viewer`.
    fn messages_after(
        &self,
        room: RoomId,
        after: Seq,
        limit: u32,
        viewer: UserId,
    ) -> StoreResult<Vec<Message>>;
    /// Messages with seq <= `upto` that changed after rev `after`, in rev
    /// order, at most `limit` (their current state, tombstones included).
    fn changed_after(
        &self,
        room: RoomId,
        after: Rev,
        upto: Seq,
        limit: u32,
        viewer: UserId,
    ) -> StoreResult<Vec<Message>>;
    /// The message, if `user` is a participant of its room and it is not
    /// deleted (the source of a forward).
    fn readable_message(&self, message_id: &str, user: UserId) -> StoreResult<Option<Message>>;
    /// Ranked hits in rooms `q.user_id` is in, and how many there are.
    fn search(&self, q: &SearchQuery) -> StoreResult<(Vec<SearchHit>, u64)>;

    /// Queues a batch for the group-commit writer. Never blocks: a full
    /// queue is [`StoreError::Busy`].
    fn submit(&self, batch: RoomBatch) -> StoreResult<oneshot::Receiver<BatchResult>>;
    /// Commits everything queued so far, then stops the writer. Blocking.
    fn flush_and_stop(&self);
}

/// A cheap, cloneable handle that runs blocking store calls on tokio's
/// blocking pool so async workers and actor threads never wait on SQLite.
#[derive(Clone)]
pub struct StoreHandle {
    inner: Arc<dyn Store>,
}

impl StoreHandle {
    pub fn new(store: Arc<dyn Store>) -> Self {
        StoreHandle { inner: store }
    }

    pub async fn run<R, F>(&self, f: F) -> StoreResult<R>
    where
        F: FnOnce(&dyn Store) -> StoreResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let store = self.inner.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| StoreError::Internal(format!("store task failed: {e}")))?
    }

    /// Non-blocking: see [`Store::submit`].
    pub fn submit(&self, batch: RoomBatch) -> StoreResult<oneshot::Receiver<BatchResult>> {
        self.inner.submit(batch)
    }

    pub fn blocking(&self) -> &dyn Store {
        self.inner.as_ref()
    }
}
