//! Bots of the Messaging API and their outgoing webhooks.

use super::{Message, Room, RoomId, Seq, Timestamp, UserId};
use serde::Serialize;

/// A bot as the admin sees it. Its id is its user id: in rooms it is a
/// participant like anyone else.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Bot {
    pub id: UserId,
    pub name: String,
    pub avatar: Option<String>,
    pub created_at: Timestamp,
    pub webhook: Option<WebhookInfo>,
    pub deliveries: DeliveryCounts,
}

/// The webhook without its secret (shown only when it is set).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebhookInfo {
    pub url: String,
    pub since: Timestamp,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryCounts {
    /// Messages the receiver accepted.
    pub delivered: i64,
    /// Deliveries waiting for their next attempt.
    pub retrying: i64,
    /// Deliveries given up on after the last attempt.
    pub failed: i64,
}

/// What a new bot row needs; token and password already hashed.
#[derive(Debug, Clone)]
pub struct NewBot {
    pub login: String,
    pub name: String,
    pub avatar: Option<String>,
    pub password_hash: String,
    pub token_hash: Vec<u8>,
}

/// A partial update; `avatar: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct BotPatch {
    pub name: Option<String>,
    pub avatar: Option<Option<String>>,
}

/// A webhook to set: URL, signing secret, and the instant from which
/// messages are delivered.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub secret: String,
    pub since: Timestamp,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Retrying,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Retrying => "retrying",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "retrying" => Some(DeliveryStatus::Retrying),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// A delivery that failed at least once.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: i64,
    pub room_id: RoomId,
    pub seq: Seq,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One (bot, room) pair whose new messages go to the bot's webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WebhookTarget {
    pub bot_id: UserId,
    pub room_id: RoomId,
}

/// What the deliverer does next for one target.
#[derive(Debug, Clone)]
pub struct WebhookWork {
    pub url: String,
    pub secret: String,
    pub room: Room,
    /// Attempts already made for the first of `messages` (0: none failed).
    pub attempts: u32,
    /// When the first of `messages` may be tried again; `None`: now.
    pub not_before: Option<Timestamp>,
    /// Undelivered messages from others, oldest first.
    pub messages: Vec<Message>,
}

/// How delivery attempts ended.
#[derive(Debug, Clone)]
pub enum AttemptOutcome {
    /// `count` messages up to and including this one were accepted, each
    /// on its latest attempt. Recorded once per run of successes: fewer
    /// writes, at the price of resending that run after a crash.
    Delivered { count: u32 },
    /// Try again at this time.
    Retry { error: String, at: Timestamp },
    /// The last attempt failed: give up on this message.
    GiveUp { error: String },
}
