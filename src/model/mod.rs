//! Domain types shared by every layer. Imports nothing else of ours.

mod auto_reply;
mod automation;
mod bot;
mod channel;
mod contact;
mod file;
mod online;
pub mod phone;
pub mod receipts;
mod schedule;
mod time;
pub mod validate;

pub use self::auto_reply::{AutoReply, AutoReplyPatch, AutoReplyWork, MatchMode, NewAutoReply};
pub use self::automation::{AutoDestruct, AutoSeen, DueMessage, FreedFile, RoomSweep};
pub use self::bot::*;
pub use self::channel::Channel;
pub use self::contact::{Contact, ContactActivity, ConversationEvent};
pub use self::file::{FileId, NewFile, StoredFile};
pub use self::online::{OnlineGoal, OnlineInterval};
pub use self::schedule::{NewScheduled, ScheduleStatus, ScheduledMessage, SendOutcome};
pub use self::time::Timestamp;
pub use self::validate::FieldError;

use serde::{Deserialize, Serialize};

pub type UserId = i64;
pub type RoomId = i64;
/// Per-room message sequence number: strictly increasing and gap-free.
pub type Seq = u64;

/// A person (or, later, a bot) who can log in and chat.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: UserId,
    pub login: String,
    pub name: String,
    pub avatar: Option<String>,
    pub created_at: Timestamp,
}

/// What a new user row needs; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub login: String,
    pub password_hash: String,
    pub name: String,
    pub avatar: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum RoomKind {
    Direct,
    Group,
    Channel,
}

impl RoomKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Direct => "direct",
            RoomKind::Group => "group",
            RoomKind::Channel => "channel",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "direct" => Some(RoomKind::Direct),
            "group" => Some(RoomKind::Group),
            "channel" => Some(RoomKind::Channel),
            _ => None,
        }
    }
}

/// A participant's power in a room. The creator is the owner; owners and
/// admins manage participants, and are the only ones who post in a channel.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    pub fn manages(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Room {
    pub id: RoomId,
    #[serde(rename = "type")]
    pub kind: RoomKind,
    pub name: Option<String>,
    pub public: bool,
    /// `None` once the creator's account has been deleted.
    pub creator_id: Option<UserId>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewRoom {
    pub kind: RoomKind,
    pub name: Option<String>,
    pub public: bool,
    pub creator_id: UserId,
    /// Everyone else who starts in the room; the creator is added as owner.
    pub participants: Vec<UserId>,
}

/// Changes to a user's account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub login: Option<String>,
    pub name: Option<String>,
    /// `Some(None)` clears the avatar.
    pub avatar: Option<Option<String>>,
    /// Already hashed.
    pub password_hash: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RoomPatch {
    pub name: Option<Option<String>>,
    pub public: Option<bool>,
}

/// A room member as clients see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    pub id: UserId,
    pub login: String,
    pub name: String,
    pub avatar: Option<String>,
    pub role: Role,
    pub joined_at: Timestamp,
}

/// A room with the people in it (room details, `room_created`).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RoomDetails {
    #[serde(flatten)]
    pub room: Room,
    pub participants: Vec<Participant>,
}

/// Kinds of message content. `System` is written only by the server.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    Text,
    Image,
    File,
    Audio,
    Video,
    Voice,
    Link,
    System,
}

impl MessageKind {
    pub const CLIENT_KINDS: &'static str = "text, image, file, audio, video, voice, link";

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Image => "image",
            MessageKind::File => "file",
            MessageKind::Audio => "audio",
            MessageKind::Video => "video",
            MessageKind::Voice => "voice",
            MessageKind::Link => "link",
            MessageKind::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "text" => MessageKind::Text,
            "image" => MessageKind::Image,
            "file" => MessageKind::File,
            "audio" => MessageKind::Audio,
            "video" => MessageKind::Video,
            "voice" => MessageKind::Voice,
            "link" => MessageKind::Link,
            "system" => MessageKind::System,
            _ => return None,
        })
    }
}

/// A stored chat message. `status` is always "success": a message exists
/// for clients only once it is committed. Every field is always present
/// (never skipped when empty): the bincode encoding has no field names.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub room_id: RoomId,
    pub seq: Seq,
    pub message_id: String,
    /// `None` for system messages.
    pub sender_id: Option<UserId>,
    #[serde(rename = "type")]
    pub kind: MessageKind,
    /// Empty once the message is deleted.
    pub content: String,
    pub reply_id: Option<String>,
    /// The messageId this one is a forwarded copy of.
    pub forward_of: Option<String>,
    /// The uploaded file this message carries (images, files, audio...).
    pub file_id: Option<FileId>,
    /// A link message's preview, as its sender described it.
    pub preview: Option<LinkPreview>,
    pub created_at: Timestamp,
    pub edited_at: Option<Timestamp>,
    /// A tombstone: the body is gone, the seq stays so history has no gap.
    pub deleted: bool,
    pub deleted_at: Option<Timestamp>,
    /// The room's change counter when this message last changed (edit,
    /// delete, reaction); 0 if it never did. Of two states of a message,
    /// the one with the higher rev is the newer.
    pub rev: Rev,
    /// Reaction counts per emoji, in order of first use.
    pub reactions: Vec<Reaction>,
    pub status: MessageStatus,
    /// Posted by the server for one of the sender's auto-reply rules.
    /// Such a message never triggers a rule itself (no reply loops).
    pub auto_reply: bool,
}

/// Per-room change counter for edits, deletes and reactions.
pub type Rev = u64;

/// How many people reacted to a message with one emoji, and whether the
/// reader is one of them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Reaction {
    pub emoji: String,
    pub count: u64,
    pub me: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    Success,
}

/// A message the room actor hands to the writer; the writer gives it its seq.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub message_id: String,
    pub sender_id: Option<UserId>,
    pub kind: MessageKind,
    pub content: String,
    pub reply_id: Option<String>,
    pub forward_of: Option<String>,
    pub file_id: Option<FileId>,
    pub preview: Option<LinkPreview>,
    pub created_at: Timestamp,
    /// Set only by the auto-replier; clients cannot ask for it.
    pub auto_reply: bool,
}

/// What a link points at, as the sending client saw it. The server never
/// fetches the page; it keeps what the client sent, checked for shape.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkPreview {
    pub url: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub site_name: Option<String>,
}

impl NewMessage {
    pub fn system(content: String) -> Self {
        NewMessage {
            message_id: uuid::Uuid::now_v7().to_string(),
            sender_id: None,
            kind: MessageKind::System,
            content,
            reply_id: None,
            forward_of: None,
            file_id: None,
            preview: None,
            created_at: Timestamp::now(),
            auto_reply: false,
        }
    }

    pub fn into_message(self, room_id: RoomId, seq: Seq) -> Message {
        Message {
            room_id,
            seq,
            message_id: self.message_id,
            sender_id: self.sender_id,
            kind: self.kind,
            content: self.content,
            reply_id: self.reply_id,
            forward_of: self.forward_of,
            file_id: self.file_id,
            preview: self.preview,
            created_at: self.created_at,
            edited_at: None,
            deleted: false,
            deleted_at: None,
            rev: 0,
            reactions: Vec::new(),
            status: MessageStatus::Success,
            auto_reply: self.auto_reply,
        }
    }
}

/// A change to an existing message that a room member asks for. The
/// writer checks it against the stored message (who sent it, whether it
/// is deleted) in the same transaction that applies it.
#[derive(Debug, Clone)]
pub enum MessageChange {
    /// New content; only the sender may edit.
    Edit { content: String },
    /// Empties the body and keeps a tombstone. The sender may delete; so
    /// may the room's owner and admins (`moderator`).
    Delete { moderator: bool },
    /// Adds (`add`) or removes the user's reaction with this emoji.
    React { emoji: String, add: bool },
}

/// What a committed [`MessageChange`] did, for the broadcast.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangedMessage {
    pub message: Message,
    /// For reactions: the emoji, whether it was added, and how many now
    /// reacted with it.
    pub reaction: Option<(String, bool, u64)>,
    /// False when the message already was as asked (a repeated delete or
    /// reaction): nothing was written, no rev was used.
    pub changed: bool,
}

/// One search hit: the message, and its text with the matched terms marked.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    pub message: Message,
    /// HTML-escaped excerpt with each match wrapped in `<mark>…</mark>`.
    pub snippet: String,
    /// bm25 relevance; lower is more relevant.
    pub rank: f64,
}

/// A full-text search over the rooms a user is in.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub user_id: UserId,
    /// FTS5 query syntax; a syntax error is the caller's 400.
    pub q: String,
    pub room_id: Option<RoomId>,
    /// A `query=` filter over the hits' messages, checked against
    /// `SEARCH_FILTER_FIELDS`; it narrows the rooms searched, never widens.
    pub filter: Option<crate::query::Filter>,
    pub limit: u32,
    pub offset: u64,
}

/// A login session bound to a device.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: i64,
    pub user_id: UserId,
    pub device_id: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub user_id: UserId,
    pub token_hash: Vec<u8>,
    pub device_id: Option<String>,
    pub expires_at: Timestamp,
}

/// Which slice of a room's history to read. Pages are newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryCursor {
    /// The newest messages.
    Latest,
    /// The newest messages with seq < before.
    Before(Seq),
    /// The oldest messages with seq > after (still returned newest first).
    After(Seq),
    /// Page number (1-based) counted from the newest message.
    Page(u64),
}

/// How many of each thing the server holds (the admin's overview).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub users: i64,
    pub rooms: i64,
    pub participants: i64,
    pub messages: i64,
    /// Sessions neither revoked nor expired.
    pub live_sessions: i64,
}
