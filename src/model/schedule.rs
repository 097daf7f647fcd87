//! Scheduled messages: what a user asked to be posted later.

use super::{RoomId, Seq, Timestamp, UserId};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleStatus {
    /// Waiting for its time; may still be changed or cancelled.
    Pending,
    /// Claimed by the scheduler; being posted.
    Sending,
    Sent,
    /// Could not be posted (the sender left the room, say); `error` says why.
    Failed,
    Cancelled,
}

impl ScheduleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleStatus::Pending => "pending",
            ScheduleStatus::Sending => "sending",
            ScheduleStatus::Sent => "sent",
            ScheduleStatus::Failed => "failed",
            ScheduleStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => ScheduleStatus::Pending,
            "sending" => ScheduleStatus::Sending,
            "sent" => ScheduleStatus::Sent,
            "failed" => ScheduleStatus::Failed,
            "cancelled" => ScheduleStatus::Cancelled,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledMessage {
    pub id: i64,
    pub user_id: UserId,
    pub room_id: RoomId,
    /// The messageId the message is posted with.
    pub message_id: String,
    pub content: String,
    pub send_at: Timestamp,
    pub status: ScheduleStatus,
    /// Its place in the room once sent.
    pub seq: Option<Seq>,
    pub error: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewScheduled {
    pub user_id: UserId,
    pub room_id: RoomId,
    pub message_id: String,
    pub content: String,
    pub send_at: Timestamp,
}

/// How a send ended, for the record.
#[derive(Debug, Clone, PartialEq)]
pub enum SendOutcome {
    Sent(Seq),
    Failed(String),
}
