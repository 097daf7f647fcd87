//! The scheduler: one task that posts each scheduled message once, at its
//! time, as its author.
//!
//! Exactly once: a due row is claimed (pending → sending) before it is
//! posted, so a cancel that comes later finds nothing to cancel and one
//! that came first leaves nothing to claim; the row's own messageId makes
//! a post repeated after a crash (the row still says sending) store
//! nothing new; and it is marked sent after the post committed. Messages
//! that fell due while the server was down go out at start.

use super::is_passing;
use crate::app::App;
use crate::error::Error;
use crate::model::{MessageKind, NewMessage, ScheduledMessage, SendOutcome, Timestamp};
use crate::service;
use std::sync::Arc;
use std::time::Duration;

/// Most messages claimed at once; the rest wait for the next round.
const BATCH: u32 = 100;
/// Longest sleep between looks at the table, whatever it says: a cheap
/// guard against a missed wake-up.
const IDLE_SECS: i64 = 60;
/// Pause after a send failed for a reason that may pass (the writer was
/// busy, the server is shutting down).
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Runs until shutdown.
pub async fn run(app: Arc<App>) {
    loop {
        let pause = match send_due(&app).await {
            Ok(Round::More) => continue,
            Ok(Round::Done) => None,
            Ok(Round::Retry) => Some(RETRY_PAUSE),
            Err(e) => {
                tracing::error!(error = %e, "scheduler round failed");
                Some(RETRY_PAUSE)
            }
        };
        let now = app.clock.now();
        let next = match pause {
            Some(_) => None,
            None => app
                .store
                .run(|s| s.next_scheduled_at())
                .await
                .ok()
                .flatten(),
        };
        let wake_at = next.map_or(now.plus_seconds(IDLE_SECS), |t| {
            t.min(now.plus_seconds(IDLE_SECS))
        });
        tokio::select! {
            _ = app.shutdown.cancelled() => return,
            _ = app.schedule_changed.notified() => {}
            _ = app.clock.sleep_until(wake_at), if pause.is_none() => {}
            _ = tokio::time::sleep(pause.unwrap_or_default()), if pause.is_some() => {}
        }
    }
}

enum Round {
    /// A full batch went out: there may be more due.
    More,
    Done,
    /// A send failed for a passing reason; look again shortly.
    Retry,
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
        (false, false) => Round::Done,
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
