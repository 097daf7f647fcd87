//! The scheduler: one task that posts each scheduled message once, at its
//! time, as its author.
//!
//! Exactly once: a due row is claimed (pending → sending) before it is
//! posted, so a cancel that comes later finds nothing to cancel and one
//! that came first leaves nothing to claim; the row's own messageId makes
//! a post repeated after a crash (the row still says sending) store
//! nothing new; and it is marked sent after the post committed. Messages
//! that fell due while the server was down go out at start.

use super::rounds::{is_passing, repeat, Round};
use crate::app::App;
use crate::error::Error;
use crate::model::{MessageKind, NewMessage, ScheduledMessage, SendOutcome, Timestamp};
use crate::service;
use std::sync::Arc;

/// Most messages claimed at once; the rest wait for the next round.
const BATCH: u32 = 100;

/// Runs until shutdown.
pub async fn run(app: Arc<App>) {
    repeat(&app, &app.schedule_changed, "scheduler", || send_due(&app)).await;
}

async fn send_due(app: &App) -> Result<Round, Error> {
    let now = app.clock.now();
    let due = app
        .store
        .run(move |s| s.claim_due_scheduled(now, BATCH))
        .await?;
    let full = due.len() as u32 == BATCH;
    let mut retry = false;
    for scheduled in due {
        let id = scheduled.id;
        let outcome = match post(app, scheduled).await {
            Ok(seq) => SendOutcome::Sent(seq),
            // Left claimed: the next round takes it again (and the repeated
            // post is idempotent). The rest of the batch goes on.
            Err(e) if is_passing(&e) => {
                retry = true;
                continue;
            }
            Err(e) => SendOutcome::Failed(e.reason()),
        };
        app.store
            .run(move |s| s.finish_scheduled(id, &outcome))
            .await?;
    }
    Ok(match (retry, full) {
        (true, _) => Round::Retry,
        (false, true) => Round::More,
        (false, false) => Round::Done(app.store.run(|s| s.next_scheduled_at()).await?),
    })
}

/// Posts it as its author, through the room like any message.
async fn post(app: &App, scheduled: ScheduledMessage) -> Result<u64, Error> {
    let message = NewMessage {
        message_id: scheduled.message_id,
        sender_id: Some(scheduled.user_id),
        kind: MessageKind::Text,
        content: scheduled.content,
        reply_id: None,
        forward_of: None,
        file_id: None,
        preview: None,
        created_at: Timestamp::now(),
        auto_reply: false,
    };
    let posted = service::post_message(app, scheduled.room_id, message).await?;
    Ok(posted.message.seq)
}
