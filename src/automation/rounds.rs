//! The loop every automation task runs: a round of due work, then a sleep
//! on the automation clock until the next thing falls due, the task's
//! rules change, or the server stops.

use crate::app::App;
use crate::error::Error;
use crate::model::Timestamp;
use std::future::Future;
use std::time::Duration;
use tokio::sync::Notify;

/// Longest sleep between rounds, whatever the store says: a cheap guard
/// against a missed wake-up.
const IDLE_SECS: i64 = 60;
/// Pause after a round failed for a reason that may pass (the writer was
/// busy, the server is shutting down).
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// How a round ended.
pub enum Round {
    /// A full batch was done: there may be more due now.
    More,
    /// Nothing more is due; the next thing falls due then, if known.
    Done(Option<Timestamp>),
    /// Some work failed for a passing reason; look again shortly.
    Retry,
}

/// Runs `round` until shutdown, waking early when `changed` is told.
pub async fn repeat<F, Fut>(app: &App, changed: &Notify, task: &str, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Round, Error>>,
{
    loop {
        let next = match round().await {
            Ok(Round::More) => continue,
            Ok(Round::Done(next)) => Some(next),
            Ok(Round::Retry) => None,
            Err(e) => {
                tracing::error!(error = %e, task, "automation round failed");
                None
            }
        };
        let idle = app.clock.now().plus_seconds(IDLE_SECS);
        let wake_at = next.map(|n| n.map_or(idle, |t| t.min(idle)));
        tokio::select! {
            _ = app.shutdown.cancelled() => return,
            _ = changed.notified() => {}
            _ = app.clock.sleep_until(wake_at.unwrap_or(idle)), if wake_at.is_some() => {}
            _ = tokio::time::sleep(RETRY_PAUSE), if wake_at.is_none() => {}
        }
    }
}

/// Failures worth another try: the server was busy or stopping. Anything
/// else (the user left the room, the room is gone, a store failure that
/// would repeat) is final, so one bad row never holds up the rest.
pub fn is_passing(e: &Error) -> bool {
    matches!(e, Error::Overloaded(_) | Error::ShuttingDown)
}
