//! The server heartbeat: the automation-clock time the server was last
//! known to run, written every minute and once more at shutdown.
//!
//! A user actor closes its online interval when the user goes offline; a
//! crash (or a shutdown faster than the presence grace) leaves intervals
//! open. At start-up, before any socket is accepted, they are closed at
//! the last heartbeat ([`Store::close_abandoned_intervals`]), so downtime
//! never counts as online and a crash loses at most a minute of it.
//!
//! [`Store::close_abandoned_intervals`]: crate::store::Store::close_abandoned_intervals

use crate::app::App;
use std::sync::Arc;

/// Seconds between heartbeats: the most online time a crash can lose.
pub const HEARTBEAT_SECS: i64 = 60;

/// Runs until shutdown; the last write is the shutdown time.
pub async fn run(app: Arc<App>) {
    loop {
        beat(&app).await;
        let next = app.clock.now().plus_seconds(HEARTBEAT_SECS);
        tokio::select! {
            _ = app.shutdown.cancelled() => break,
            _ = app.clock.sleep_until(next) => {}
        }
    }
    beat(&app).await;
}

async fn beat(app: &App) {
    let at = app.clock.now();
    if let Err(e) = app.store.run(move |s| s.online_heartbeat(at)).await {
        tracing::warn!(error = %e, "cannot write the online-time heartbeat");
    }
}
