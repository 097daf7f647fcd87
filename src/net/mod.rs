//! The WebSocket listener: accepts TCP connections up to a bound and runs
//! one connection task each.

mod connection;
pub mod ordering;
pub mod queue;

use crate::app::App;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Accepts until shutdown, then waits for every connection to close.
pub async fn serve(app: Arc<App>, listener: TcpListener) {
    let permits = Arc::new(Semaphore::new(app.config.max_ws_connections));
    let mut connections = JoinSet::new();
    loop {
        let permit = tokio::select! {
            _ = app.shutdown.cancelled() => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = app.shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: pause, don't spin.
                    tracing::warn!(error = %e, "websocket accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let app = app.clone();
        connections.spawn(async move {
            connection::serve(app, stream, peer).await;
            drop(permit);
        });
        // Reap finished tasks so the set stays as small as the live set.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}
