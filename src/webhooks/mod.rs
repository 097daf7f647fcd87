//! Outgoing webhooks of bots: every new message in a bot's rooms (except
//! its own) is POSTed, signed, to the bot's URL.
//!
//! The outbox is the messages table itself. Per (bot, room) the store keeps
//! a cursor, the last seq handled; the deliverer reads the messages after
//! it, sends them in order, and moves the cursor only after the receiver
//! answered 2xx. A crash or an outage therefore redelivers (at least once,
//! with a stable `X-Palaver-Delivery` id to drop repeats), never loses, and
//! the group-commit writer is untouched. Room actors with a webhook bot
//! among their members nudge the deliverer through a bounded channel after
//! each commit; a sweep at start-up and on a timer catches anything a full
//! channel dropped.
//!
//! - [`deliverer`] — the task: nudges, sweeps, retries with backoff.
//! - [`client`] — one signed POST with a deadline.
//! - [`sign`] — the HMAC signature receivers check.

mod client;
mod deliverer;
mod sign;

pub use deliverer::{Deliverer, RetryPolicy};

use std::sync::Arc;
use tokio::sync::Notify;

/// What request handlers hold: a way to tell the deliverer that webhooks
/// were set or removed, so it re-reads who follows which rooms now.
#[derive(Clone, Default)]
pub struct WebhookSignal {
    changed: Arc<Notify>,
}

impl WebhookSignal {
    pub fn changed(&self) {
        self.changed.notify_one();
    }

    async fn wait(&self) {
        self.changed.notified().await;
    }
}
