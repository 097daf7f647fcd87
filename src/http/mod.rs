//! The REST front: a hyper server (HTTP/1.1, and HTTP/2 where the client
//! asks), a matchit router, and one file per resource.

mod admin;
mod auth;
mod auto_destruct;
mod auto_replies;
mod auto_seen;
mod bot;
mod channels;
mod contacts;
mod context;
mod events;
mod files;
mod health;
mod listing;
mod messages;
mod online;
mod pagination;
mod phone;
mod response;
mod rooms;
mod router;
mod scheduled;
mod sessions;
mod test_clock;
mod users;

use crate::app::App;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long open HTTP connections get to finish their requests at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Headers must arrive within this time (slowloris guard).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves until shutdown, then lets in-flight requests finish.
pub async fn serve(app: Arc<App>, listener: TcpListener) {
    let router = Arc::new(router::Router::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    loop {
        let (stream, peer) = tokio::select! {
            _ = app.shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "http accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let router = router.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let app = app.clone();
            let router = router.clone();
            async move { Ok::<_, std::convert::Infallible>(handle(app, router, req, peer.ip()).await) }
        });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "http connection ended");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("http connections still open after the drain timeout");
    }
}

async fn handle(
    app: Arc<App>,
    router: Arc<router::Router>,
    req: Request<Incoming>,
    peer: std::net::IpAddr,
) -> Response<response::Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let if_none_match = req
        .headers()
        .get(hyper::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let result = async {
        context::check_accept(req.headers())?;
        // With no administrator configured the Management API does not
        // exist: 404 for every path under it, whatever the method.
        if app.admin.is_none() && (path == "/api/admin" || path.starts_with("/api/admin/")) {
            return Err(crate::error::Error::NotFound(format!(
                "no endpoint at {path}"
            )));
        }
        let (route, params) = router.find(&method, &path)?;
        let ctx = if route.streams_body() {
            context::Ctx::streaming(app, req, params, peer)
        } else {
            context::Ctx::read(app, req, params, peer).await?
        };
        router::dispatch(route, ctx).await
    }
    .await;
    let cache_check = (method == hyper::Method::GET).then(|| if_none_match.unwrap_or_default());
    match result {
        Ok(reply) => reply.into_response(cache_check.as_deref()),
        Err(e) => response::error(&e),
    }
}
