//! Domain types shared by every layer. Imports nothing else of ours.

mod bot;
mod contact;
mod file;
pub mod phone;
pub mod receipts;
mod time;
pub mod validate;

pub use self::bot::*;
pub use self::contact::{Contact, ContactActivity, ConversationEvent};
pub use self::file::{FileId, NewFile, StoredFile};
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
/// for clients only once it is committed.
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
    pub content: String,
    pub reply_id: Option<String>,
    pub created_at: Timestamp,
    pub status: MessageStatus,
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
    pub created_at: Timestamp,
}

impl NewMessage {
    pub fn system(content: String) -> Self {
        NewMessage {
            message_id: uuid::Uuid::now_v7().to_string(),
            sender_id: None,
            kind: MessageKind::System,
            content,
            reply_id: None,
            created_at: Timestamp::now(),
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
            created_at: self.created_at,
            status: MessageStatus::Success,
        }
    }
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
