//! Contacts and what the server can tell about a conversation with one.

use super::{MessageKind, RoomId, User, UserId};
use serde::Serialize;

/// Someone I share a direct room with, or added by phone number.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    #[serde(flatten)]
    pub user: User,
    pub phone: Option<String>,
    /// Our direct room, once one exists.
    pub direct_room_id: Option<RoomId>,
}

/// Messages exchanged with one contact in our direct room.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContactActivity {
    #[serde(flatten)]
    pub contact: Contact,
    /// Messages I sent them.
    pub sent: i64,
    /// Messages they sent me.
    pub received: i64,
    /// Of those, the ones that carry media or links (not plain text).
    pub sent_media: i64,
    pub received_media: i64,
}

/// One message of a direct conversation, as analysis needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConversationEvent {
    pub sender_id: UserId,
    pub kind: MessageKind,
    /// Unix milliseconds.
    pub at: i64,
}
