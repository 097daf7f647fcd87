//! Rules the server follows on a user's behalf, on the automation clock:
//! disappearing messages and auto-seen periods.

use super::{FileId, RoomId, Seq, Timestamp, UserId};
use serde::Serialize;

/// Messages of a room disappear for everyone once older than the lifetime.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoDestruct {
    pub id: i64,
    pub user_id: UserId,
    pub room_id: RoomId,
    pub lifetime_secs: i64,
    pub created_at: Timestamp,
}

/// A message a sweep found older than its room's lifetime.
#[derive(Debug, Clone, PartialEq)]
pub struct DueMessage {
    pub seq: Seq,
    pub message_id: String,
    pub file_id: Option<FileId>,
}

/// What one room's sweep found.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomSweep {
    pub room_id: RoomId,
    /// Oldest first.
    pub due: Vec<DueMessage>,
    /// Where the room's sweep mark may move once every due message is
    /// deleted: nothing live at or below it is left.
    pub swept_to: Seq,
    /// When the room's next live message falls due, if the sweep saw one.
    pub next_due: Option<Timestamp>,
}

/// A file that destroyed messages carried, once no live message does.
#[derive(Debug, Clone, PartialEq)]
pub struct FreedFile {
    pub file_id: FileId,
    /// Lower-case hex; the blob to remove from disk.
    pub sha256: String,
}

/// Every period the user's read position in a channel moves to its last
/// message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoSeen {
    pub id: i64,
    pub user_id: UserId,
    pub channel_id: RoomId,
    pub period_secs: i64,
    /// When it runs next.
    pub next_at: Timestamp,
    pub created_at: Timestamp,
}
