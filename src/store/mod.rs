//! Persistence behind one narrow trait, so a later multi-node mode can put
//! another database behind it without touching actors or handlers.
//!
//! Reads are plain blocking calls; callers run them off the async workers via
//! [`StoreHandle::run`]. Chat writes go through [`Store::submit`] to the one
//! group-commit writer thread, which answers each batch after its
//! transaction has committed.

pub mod list;
pub mod sqlite;

/// The fields each list's `query=` filter may name, and the columns behind
/// them.
pub use sqlite::{
    AUTO_DESTRUCT_FILTER_FIELDS, AUTO_REPLY_FILTER_FIELDS, AUTO_SEEN_FILTER_FIELDS,
    BOT_FILTER_FIELDS, CHANNEL_FILTER_FIELDS, CONTACT_FILTER_FIELDS, DELIVERY_FILTER_FIELDS,
    MESSAGE_FILTER_FIELDS, ROOM_FILTER_FIELDS, SCHEDULED_FILTER_FIELDS, SEARCH_FILTER_FIELDS,
    SESSION_FILTER_FIELDS, USER_FILTER_FIELDS,
};

use crate::model::phone::{OutboxSms, PhoneCode, PhoneLogin, PhoneLoginOutcome};
use crate::model::receipts::MyRoom;
use crate::model::{
    AttemptOutcome, AutoDestruct, AutoReply, AutoReplyPatch, AutoReplyWork, AutoSeen, Bot,
    BotPatch, ChangedMessage, Channel, Contact, ContactActivity, ConversationEvent, Counts,
    Delivery, FileId, FreedFile, HistoryCursor, Message, MessageChange, NewAutoReply, NewBot,
    NewFile, NewMessage, NewRoom, NewScheduled, NewSession, NewUser, NewWebhook, OnlineGoal,
    OnlineInterval, Participant, Rev, Role, Room, RoomDetails, RoomId, RoomPatch, RoomSweep,
    ScheduledMessage, SearchHit, SearchQuery, SendOutcome, Seq, Session, StoredFile, Timestamp,
    User, UserId, UserPatch, WebhookTarget, WebhookWork,
};
use crate::query::Filter;
use list::{ListQuery, Page};
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
    /// Checked against [`USER_FILTER_FIELDS`].
    pub filter: Option<Filter>,
    /// Rows skipped after the cursor and filters apply.
    pub offset: u32,
    pub limit: u32,
}

/// The rooms `member` is in, filtered and paged.
#[derive(Debug, Clone)]
pub struct RoomListQuery {
    pub member: UserId,
    /// Checked against [`ROOM_FILTER_FIELDS`].
    pub filter: Option<Filter>,
    pub offset: u32,
    /// `None`: all of them.
    pub limit: Option<u32>,
}

/// A page of one room's history read by `query=` and `offset` rather
/// than by seq window.
#[derive(Debug, Clone)]
pub struct HistoryFilter {
    /// Checked against [`MESSAGE_FILTER_FIELDS`].
    pub filter: Option<Filter>,
    /// Only messages with a lower seq.
    pub before: Option<Seq>,
    pub offset: u64,
    pub limit: u32,
}

pub trait Store: Send + Sync + 'static {
    fn create_user(&self, new: &NewUser) -> StoreResult<User>;
    fn user(&self, id: UserId) -> StoreResult<Option<User>>;
    /// The user and their password hash, for login.
    fn user_with_password(&self, login: &str) -> StoreResult<Option<(User, String)>>;
    fn list_users(&self, q: &UserListQuery) -> StoreResult<Page<User>>;

    fn create_session(&self, new: &NewSession) -> StoreResult<Session>;
    fn session_by_token_hash(&self, hash: &[u8]) -> StoreResult<Option<Session>>;
    fn revoke_session(&self, id: i64, at: Timestamp) -> StoreResult<()>;
    /// The user's sessions that are neither revoked nor expired, newest first.
    fn active_sessions(&self, user: UserId) -> StoreResult<Vec<Session>>;
    /// A page of them that pass `filter` (checked against
    /// [`SESSION_FILTER_FIELDS`]): all from `offset` when `limit` is `None`.
    fn live_sessions(
        &self,
        user: UserId,
        filter: Option<&Filter>,
        offset: u32,
        limit: Option<u32>,
    ) -> StoreResult<Page<Session>>;
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
    fn list_rooms_of_user(&self, q: &RoomListQuery) -> StoreResult<Page<Room>>;
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
    /// Short enough to run on an async worker ([`StoreHandle::run_short`]),
    /// and it takes its connection from a pool that never makes one wait.
    fn member_history(
        &self,
        room: RoomId,
        user: UserId,
        cursor: HistoryCursor,
        limit: u32,
    ) -> StoreResult<Option<(Vec<Message>, Seq)>>;
    /// A filtered history page and the room's last seq, if `user` is a
    /// participant.
    fn member_history_filtered(
        &self,
        room: RoomId,
        user: UserId,
        q: &HistoryFilter,
    ) -> StoreResult<Option<(Page<Message>, Seq)>>;
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

    /// Records an upload whose blob is on disk. The same uploader with the
    /// same bytes gets the existing row and `false`.
    fn create_file(&self, new: &NewFile) -> StoreResult<(StoredFile, bool)>;
    /// Whether any file names the blob with this (hex) hash.
    fn blob_in_use(&self, sha256: &str) -> StoreResult<bool>;
    /// The file, if `reader` may read it.
    fn file_readable_by(&self, id: FileId, reader: UserId) -> StoreResult<Option<StoredFile>>;

    // ---- contacts and their analysis ----
    /// Adds the users among `phones` (E.164) to `owner`'s contacts; per
    /// number in order, the user it belongs to.
    fn add_contacts_by_phone(
        &self,
        owner: UserId,
        phones: &[String],
    ) -> StoreResult<Vec<(String, Option<User>)>>;
    /// A page of `owner`'s contacts that pass `filter` (checked against
    /// [`CONTACT_FILTER_FIELDS`]), by id, and how many pass.
    fn contacts(
        &self,
        owner: UserId,
        filter: Option<&Filter>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<(Vec<Contact>, u64)>;
    /// One of `owner`'s contacts; `None` for anyone else.
    fn contact(&self, owner: UserId, contact: UserId) -> StoreResult<Option<Contact>>;
    /// Every contact that passes `filter` (checked against
    /// [`CONTACT_FILTER_FIELDS`]) with the messages exchanged in the direct room.
    fn contact_activity(
        &self,
        owner: UserId,
        filter: Option<&Filter>,
    ) -> StoreResult<Vec<ContactActivity>>;
    /// The direct room's messages since `since`, oldest first, no system ones.
    fn conversation(
        &self,
        owner: UserId,
        contact: UserId,
        since: Option<Timestamp>,
    ) -> StoreResult<Vec<ConversationEvent>>;

    // ---- channels ----
    /// A page of the channels `user` is in that pass `filter` (checked
    /// against [`CHANNEL_FILTER_FIELDS`]), and how many pass.
    fn channels(
        &self,
        user: UserId,
        filter: Option<&Filter>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<(Vec<Channel>, u64)>;
    /// A channel `user` is in; `None` for any other room.
    fn channel(&self, user: UserId, room: RoomId) -> StoreResult<Option<Channel>>;
    /// Sets `user`'s rating (0–99) of a channel they are in.
    fn rate_channel(&self, user: UserId, room: RoomId, rate: u8) -> StoreResult<()>;

    // ---- scheduled messages (the message queue) ----
    fn create_scheduled(&self, new: &NewScheduled) -> StoreResult<ScheduledMessage>;
    fn scheduled(&self, owner: UserId, id: i64) -> StoreResult<Option<ScheduledMessage>>;
    /// A page of `owner`'s that pass `filter` (checked against
    /// [`SCHEDULED_FILTER_FIELDS`]), soonest first, and how many pass.
    fn scheduled_page(
        &self,
        owner: UserId,
        filter: Option<&Filter>,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<ScheduledMessage>, u64)>;
    /// Changes a pending one; any other is a conflict.
    fn update_scheduled(
        &self,
        owner: UserId,
        id: i64,
        content: Option<&str>,
        send_at: Option<Timestamp>,
    ) -> StoreResult<ScheduledMessage>;
    /// Cancels a pending one for good; any other is a conflict.
    fn cancel_scheduled(&self, owner: UserId, id: i64) -> StoreResult<ScheduledMessage>;
    /// When the next send is due, if any is waiting.
    fn next_scheduled_at(&self) -> StoreResult<Option<Timestamp>>;
    /// Claims the sends due at `now` (and any a crash interrupted).
    fn claim_due_scheduled(&self, now: Timestamp, limit: u32)
        -> StoreResult<Vec<ScheduledMessage>>;
    fn finish_scheduled(&self, id: i64, outcome: &SendOutcome) -> StoreResult<()>;

    // ---- disappearing messages (auto-destruct) ----
    /// A rule of `owner` for a room; their second one for it is a conflict.
    fn create_auto_destruct(
        &self,
        owner: UserId,
        room: RoomId,
        lifetime_secs: i64,
    ) -> StoreResult<AutoDestruct>;
    fn auto_destruct(&self, owner: UserId, id: i64) -> StoreResult<Option<AutoDestruct>>;
    /// A page of `owner`'s rules that pass `filter` (checked against
    /// [`AUTO_DESTRUCT_FILTER_FIELDS`]), and how many pass.
    fn auto_destruct_page(
        &self,
        owner: UserId,
        filter: Option<&Filter>,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<AutoDestruct>, u64)>;
    fn update_auto_destruct(
        &self,
        owner: UserId,
        id: i64,
        lifetime_secs: i64,
    ) -> StoreResult<AutoDestruct>;
    fn delete_auto_destruct(&self, owner: UserId, id: i64) -> StoreResult<()>;
    /// Up to `limit` messages older than their room's lifetime at `now`,
    /// by room, with when each room's next one falls due.
    fn destruct_sweep(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<RoomSweep>>;
    /// The shortest lifetime (seconds) of any rule in force.
    fn shortest_destruct_lifetime(&self) -> StoreResult<Option<i64>>;
    /// Moves a room's sweep mark forward: nothing live is left at or below.
    fn mark_destruct_swept(&self, room: RoomId, seq: Seq) -> StoreResult<()>;
    /// Queues files that messages about to be destroyed carry.
    fn queue_file_frees(&self, files: &[FileId]) -> StoreResult<()>;
    /// Frees up to `limit` queued files after `after` (in id order) that no
    /// live message carries; answers the blobs no file names any more, to
    /// remove from disk.
    fn free_queued_files(&self, after: FileId, limit: u32) -> StoreResult<Vec<FreedFile>>;
    /// A freed file's blob is gone from disk.
    fn forget_file_free(&self, file_id: FileId) -> StoreResult<()>;

    // ---- auto-seen periods ----
    /// A period of `owner` for a channel, first ending at `next_at`; their
    /// second one for it is a conflict.
    fn create_auto_seen(
        &self,
        owner: UserId,
        channel: RoomId,
        period_secs: i64,
        next_at: Timestamp,
    ) -> StoreResult<AutoSeen>;
    fn auto_seen(&self, owner: UserId, id: i64) -> StoreResult<Option<AutoSeen>>;
    /// A page of `owner`'s that pass `filter` (checked against
    /// [`AUTO_SEEN_FILTER_FIELDS`]), and how many pass.
    fn auto_seen_page(
        &self,
        owner: UserId,
        filter: Option<&Filter>,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<AutoSeen>, u64)>;
    fn update_auto_seen(
        &self,
        owner: UserId,
        id: i64,
        period_secs: i64,
        next_at: Timestamp,
    ) -> StoreResult<AutoSeen>;
    fn delete_auto_seen(&self, owner: UserId, id: i64) -> StoreResult<()>;
    /// When the next period ends, if there is any.
    fn next_auto_seen_at(&self) -> StoreResult<Option<Timestamp>>;
    /// Up to `limit` periods that ended by `now`.
    fn due_auto_seen(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<AutoSeen>>;
    /// A period ran; the next one ends at `next_at`.
    fn auto_seen_ran(&self, id: i64, next_at: Timestamp) -> StoreResult<()>;
    // ---- auto-reply rules ----
    /// `Conflict` when the owner already has `max_rules` rules.
    fn create_auto_reply(&self, new: &NewAutoReply, max_rules: u32) -> StoreResult<AutoReply>;
    fn auto_reply(&self, owner: UserId, id: i64) -> StoreResult<Option<AutoReply>>;
    /// A page of `owner`'s rules that pass `filter` (checked against
    /// [`AUTO_REPLY_FILTER_FIELDS`]), oldest first, and how many pass.
    fn auto_reply_page(
        &self,
        owner: UserId,
        filter: Option<&Filter>,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<AutoReply>, u64)>;
    fn update_auto_reply(
        &self,
        owner: UserId,
        id: i64,
        patch: &AutoReplyPatch,
    ) -> StoreResult<AutoReply>;
    fn delete_auto_reply(&self, owner: UserId, id: i64) -> StoreResult<()>;
    /// Users with at least one enabled rule.
    fn auto_reply_owners(&self) -> StoreResult<Vec<UserId>>;
    /// (owner, direct room) pairs with messages the replier has not read
    /// yet; only `room`'s when given.
    fn auto_reply_targets(&self, room: Option<RoomId>) -> StoreResult<Vec<(UserId, RoomId)>>;
    /// The owner's enabled rules and up to `limit` unread messages of `room`.
    fn auto_reply_work(
        &self,
        owner: UserId,
        room: RoomId,
        limit: u32,
    ) -> StoreResult<AutoReplyWork>;
    /// The owner's messages of `room` up to `seq` are handled.
    fn auto_reply_done(&self, owner: UserId, room: RoomId, seq: Seq) -> StoreResult<()>;

    /// How many users, rooms, participants, messages and live sessions exist.
    fn counts(&self) -> StoreResult<Counts>;

    // ---- Management API ----
    /// Pages of every collection, filtered and sorted as `q` says.
    fn users_page(&self, q: &ListQuery) -> StoreResult<Page<User>>;
    fn rooms_page(&self, q: &ListQuery) -> StoreResult<Page<Room>>;
    fn participants_page(&self, room: RoomId, q: &ListQuery) -> StoreResult<Page<Participant>>;
    fn messages_page(&self, q: &ListQuery) -> StoreResult<Page<Message>>;
    fn sessions_page(&self, q: &ListQuery) -> StoreResult<Page<Session>>;
    fn session(&self, id: i64) -> StoreResult<Option<Session>>;
    fn message(&self, message_id: &str) -> StoreResult<Option<Message>>;
    fn update_user(&self, id: UserId, patch: &UserPatch) -> StoreResult<User>;
    /// Deletes the account with its sessions and memberships; its messages
    /// stay without a sender.
    fn delete_user(&self, id: UserId) -> StoreResult<()>;
    fn set_role(&self, room: RoomId, user: UserId, role: Role) -> StoreResult<()>;
    // ---- bots (Messaging API) and their webhooks ----

    /// Creates the bot's user row and its bot row together.
    fn create_bot(&self, new: &NewBot) -> StoreResult<Bot>;
    fn bot(&self, id: UserId) -> StoreResult<Option<Bot>>;
    /// Bots by id that pass `filter` (checked against
    /// [`BOT_FILTER_FIELDS`]): `offset` skipped after `after_id`, at most
    /// `limit`, and how many pass in all.
    fn bots(
        &self,
        after_id: Option<UserId>,
        filter: Option<&Filter>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Page<Bot>>;
    /// The bot whose token hashes to `hash`.
    fn bot_by_token_hash(&self, hash: &[u8]) -> StoreResult<Option<UserId>>;
    fn update_bot(&self, id: UserId, patch: &BotPatch) -> StoreResult<Bot>;
    fn delete_bot(&self, id: UserId) -> StoreResult<()>;
    /// Replaces the token hash: the old token stops working at once.
    fn set_bot_token_hash(&self, id: UserId, hash: &[u8]) -> StoreResult<()>;
    /// Sets (`Some`) or removes (`None`) the bot's webhook.
    fn set_webhook(&self, id: UserId, hook: Option<&NewWebhook>) -> StoreResult<()>;
    /// The bots that have a webhook.
    fn webhook_bots(&self) -> StoreResult<Vec<UserId>>;
    /// (bot, room) pairs with a webhook, all or those of one room.
    fn webhook_targets(&self, room: Option<RoomId>) -> StoreResult<Vec<WebhookTarget>>;
    /// What to deliver next for one pair; `None`: nothing to do any more.
    fn webhook_work(&self, target: WebhookTarget, limit: u32) -> StoreResult<Option<WebhookWork>>;
    /// How an attempt to deliver message `seq` ended.
    fn record_attempt(
        &self,
        target: WebhookTarget,
        seq: Seq,
        outcome: &AttemptOutcome,
    ) -> StoreResult<()>;
    /// The bot's deliveries that failed at least once and pass `filter`
    /// (checked against [`DELIVERY_FILTER_FIELDS`]), newest first:
    /// `offset` skipped before `before_id`, at most `limit`, and how many
    /// pass in all.
    fn deliveries(
        &self,
        bot: UserId,
        before_id: Option<i64>,
        filter: Option<&Filter>,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Page<Delivery>>;

    /// Queues a batch for the group-commit writer. Never blocks: a full
    /// queue is [`StoreError::Busy`].
    fn submit(&self, batch: RoomBatch) -> StoreResult<oneshot::Receiver<BatchResult>>;
    /// Commits everything queued so far, then stops the writer. Blocking.
    fn flush_and_stop(&self);

    /// The server secret called `name`; `fresh` is stored and returned the
    /// first time it is asked for.
    fn server_secret(&self, name: &str, fresh: &[u8]) -> StoreResult<Vec<u8>>;
    /// The phone number a device id is bound to.
    fn phone_of_device(&self, device_id: &str) -> StoreResult<Option<String>>;
    /// The browser device id most recently bound to `phone`.
    fn browser_device_of_phone(&self, phone: &str) -> StoreResult<Option<String>>;
    /// Replaces the phone's login code and queues its SMS in one
    /// transaction (an older code's waiting SMS is dropped); returns the
    /// outbox id.
    fn put_phone_code(&self, code: &PhoneCode, sms_text: &str) -> StoreResult<i64>;
    fn phone_code(&self, phone: &str) -> StoreResult<Option<PhoneCode>>;
    /// Counts a wrong try at the phone's code; returns the tries left.
    fn phone_code_failed(&self, phone: &str) -> StoreResult<u32>;
    /// Consumes the code and logs in, creating the user on a first login.
    fn phone_login(&self, login: &PhoneLogin) -> StoreResult<PhoneLoginOutcome>;

    /// SMS due by `now`, oldest first.
    fn due_sms(&self, now: Timestamp, limit: u32) -> StoreResult<Vec<OutboxSms>>;
    /// When the next waiting SMS is due, if any waits.
    fn next_sms_due(&self) -> StoreResult<Option<Timestamp>>;
    /// Removes an SMS that was delivered (or is no longer worth sending).
    fn remove_sms(&self, id: i64) -> StoreResult<()>;
    /// Counts a failed try and sets when to try again.
    fn retry_sms_at(&self, id: i64, at: Timestamp) -> StoreResult<()>;

    /// My rooms with their last seq, my read and delivered positions and
    /// my unread count (others' messages after my read position).
    fn rooms_with_receipts(&self, user: UserId) -> StoreResult<Vec<MyRoom>>;
    /// Every member's read position in the room.
    fn read_positions(&self, room: RoomId) -> StoreResult<Vec<(UserId, Seq)>>;
    /// Moves members' delivered positions in a room forward (never back).
    fn mark_delivered(&self, room: RoomId, positions: &[(UserId, Seq)]) -> StoreResult<()>;
    /// Records when the user's last socket closed.
    fn set_last_seen(&self, user: UserId, at: Timestamp) -> StoreResult<()>;
    /// Everyone who shares a room with the user.
    fn co_members(&self, user: UserId) -> StoreResult<Vec<UserId>>;
    /// The user's last-seen time, if `viewer` is them or shares a room
    /// with them; `None` when `viewer` may not know it.
    fn last_seen_for(&self, viewer: UserId, user: UserId)
        -> StoreResult<Option<Option<Timestamp>>>;

    // ---- online time ----
    /// Opens an online interval for the user at `at`; returns its id.
    fn open_online_interval(&self, user: UserId, at: Timestamp) -> StoreResult<i64>;
    /// Closes an open interval at `at`.
    fn close_online_interval(&self, id: i64, at: Timestamp) -> StoreResult<()>;
    /// The user's intervals overlapping `from..to`, an open one ending at
    /// `now`, by start.
    fn online_intervals(
        &self,
        user: UserId,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
    ) -> StoreResult<Vec<OnlineInterval>>;
    /// Records that the server is running at `at`.
    fn online_heartbeat(&self, at: Timestamp) -> StoreResult<()>;
    /// At start-up: closes the intervals a stopped server left open, at its
    /// last heartbeat; returns how many.
    fn close_abandoned_intervals(&self) -> StoreResult<usize>;
    fn online_goal(&self, user: UserId) -> StoreResult<OnlineGoal>;
    /// Sets (`Some`) or clears (`None`) the daily goal in minutes.
    fn set_online_goal(&self, user: UserId, minutes: Option<u32>) -> StoreResult<()>;
    /// Marks `goal_exceeded` sent on `day`; false if it already was.
    fn mark_goal_notified(&self, user: UserId, day: i64) -> StoreResult<bool>;
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

    /// Runs `f` on the calling thread, an async worker included. Only for
    /// reads bounded by an index range and a page limit (a history page:
    /// about 40 µs of SQLite), where the hand-off to the blocking pool and
    /// back cost more than the read: the two thread wake-ups per request
    /// were the largest item left in the history profile.
    pub fn run_short<R>(&self, f: impl FnOnce(&dyn Store) -> StoreResult<R>) -> StoreResult<R> {
        f(self.inner.as_ref())
    }

    /// Non-blocking: see [`Store::submit`].
    pub fn submit(&self, batch: RoomBatch) -> StoreResult<oneshot::Receiver<BatchResult>> {
        self.inner.submit(batch)
    }

    pub fn blocking(&self) -> &dyn Store {
        self.inner.as_ref()
    }
}
