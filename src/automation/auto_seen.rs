//! Auto-seen periods: one task that, when a period ends, moves the user's
//! read position in the channel to its last message through the room's
//! actor, exactly as the user's own `seen` would (forward only, `seen`
//! broadcast to the room), then starts the next period. A period that
//! ended while the server was down runs once at start-up.

use super::rounds::{is_passing, repeat, Round};
use crate::actors::messages::MarkAllSeen;
use crate::actors::room_actor;
use crate::app::App;
use crate::error::Error;
use crate::model::AutoSeen;
use std::sync::Arc;

/// Most periods run in one round; the rest follow at once.
const BATCH: u32 = 100;

/// Runs until shutdown.
pub async fn run(app: Arc<App>) {
    repeat(&app, &app.auto_seen_changed, "auto-seen", || mark_due(&app)).await;
}

async fn mark_due(app: &App) -> Result<Round, Error> {
    let now = app.clock.now();
    let due = app.store.run(move |s| s.due_auto_seen(now, BATCH)).await?;
    let full = due.len() as u32 == BATCH;
    let mut retry = false;
    for rule in due {
        match mark(app, &rule).await {
            Ok(()) => {}
            // The period stays ended: the next round tries again.
            Err(e) if is_passing(&e) => {
                retry = true;
                continue;
            }
            // They left the channel, or it is gone: nothing to mark this
            // time, and the rule waits for them to be back.
            Err(e) => tracing::debug!(error = %e, rule = rule.id, "auto-seen skipped"),
        }
        let (id, next_at) = (rule.id, now.plus_seconds(rule.period_secs));
        app.store.run(move |s| s.auto_seen_ran(id, next_at)).await?;
    }
    Ok(match (retry, full) {
        (true, _) => Round::Retry,
        (false, true) => Round::More,
        (false, false) => Round::Done(app.store.run(|s| s.next_auto_seen_at()).await?),
    })
}

async fn mark(app: &App, rule: &AutoSeen) -> Result<(), Error> {
    let room = room_actor(&app.registry, &app.store, rule.channel_id).await?;
    room.send(MarkAllSeen {
        user_id: rule.user_id,
    })
    .await?
}
