//! Read and delivery positions, as the rooms list shows them.

use super::{Room, Seq};
use serde::Serialize;

/// One of my rooms with my positions in it (`GET /api/rooms`).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MyRoom {
    #[serde(flatten)]
    pub room: Room,
    /// The room's newest seq (0 when it has no messages).
    pub last_seq: Seq,
    /// The newest seq I marked as read (`seen`).
    pub read_seq: Seq,
    /// The newest seq that reached one of my sockets (flushed in batches,
    /// so it may trail the truth by one flush interval).
    pub delivered_seq: Seq,
    /// Messages after `read_seq` that others wrote (mine are never unread).
    pub unread: u64,
}
