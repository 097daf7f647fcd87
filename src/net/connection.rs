//! One WebSocket connection: handshake (token, Origin, subprotocol),
//! authentication, then one task that reads action frames and hands them to
//! the actors, and writes the socket's bounded queue, pings and close frame.

use super::ordering::Ordering;
use super::queue::{queue, QueueReceiver};
use crate::actors::messages::{
    By, ConnHandle, Connect, Disconnect, Kick, KickReason, MarkSeen, Outgoing, PostFromSocket,
    Resume, SocketReply, Typing,
};
use crate::actors::{room_actor, RoomActor};
use crate::app::App;
use crate::error::{close_code, Error};
use crate::model::{MessageChange, Rev};
use crate::model::{RoomId, UserId};
use crate::protocol::{
    self, answer, error_frame, AckBody, Action, ClientFrame, DecodeError, Encoded, Format,
    ResumeStatus, ServerFrame, TypingState, SUBPROTOCOL_BINCODE, SUBPROTOCOL_JSON,
};
use crate::ratelimit::{LocalBucket, Rate};
use crate::service::{self, MessageRequest, RoomRequest};
use actix::Addr;
use bytes::Bytes;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use std::collections::{BTreeMap, HashMap};
use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

/// A client that opened a socket must authenticate within this time.
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// The server pings this often, so dead peers and idle NATs are noticed.
const PING_INTERVAL: Duration = Duration::from_secs(30);
/// How long the closing handshake may take before the socket is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// A socket that sends nothing (not even a pong) for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Actions of one connection being processed at once; the reader waits
/// for a slot, which pushes back on a client that floods.
const MAX_IN_FLIGHT: usize = 64;

type Ws = WebSocketStream<TcpStream>;

/// Tungstenite's defaults (128 KiB read buffer per socket, 64 MiB messages,
/// unbounded write buffer) are wrong for many idle chat sockets. The read
/// buffer is allocated up front for every socket and kept, so it is small:
/// client frames are a few hundred bytes, and a larger one just takes more
/// reads (512 rather than 1024 bytes saves half a KiB per idle socket).
/// Frames are collected up to 16 KiB and flushed when the queue is empty, so
/// a burst costs one write, not one per frame.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(512)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(Some(protocol::MAX_FRAME_BYTES))
        .max_frame_size(Some(protocol::MAX_FRAME_BYTES))
}

/// What the upgrade request told us.
struct Handshake {
    token: Option<String>,
    /// Encoding of server frames, from the subprotocol the client chose.
    format: Format,
}

fn token_from_request(req: &Request) -> Option<String> {
    let from_query = req.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == "token")
            .map(|(_, v)| v.to_owned())
    });
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    from_query
        .or_else(|| {
            header("authorization")
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned)
        })
        .or_else(|| header("accesstoken").map(str::to_owned))
}

fn reject(status: u16, reason: &str) -> ErrorResponse {
    let mut resp = ErrorResponse::new(Some(reason.to_owned()));
    *resp.status_mut() = tokio_tungstenite::tungstenite::http::StatusCode::from_u16(status)
        .unwrap_or(tokio_tungstenite::tungstenite::http::StatusCode::BAD_REQUEST);
    resp
}

/// Serves one connection until it closes.
///
/// The setup's future is boxed and gone once the socket runs: a future is
/// as big as its largest await and the task keeps that size for the
/// socket's whole life, so only the running socket's state stays. The
/// socket is boxed too: moved out of one await into the next, it was kept
/// twice in this future (measured: 1.5 KB with it inline, 400 bytes
/// boxed). Not an `async fn`, so the arguments are not kept twice (see
/// `Socket::run`).
#[allow(clippy::manual_async_fn)]
pub fn serve(app: Arc<App>, stream: TcpStream, peer: SocketAddr) -> impl Future<Output = ()> {
    async move {
        if let Some((socket, kick)) = Box::pin(open(app, stream, peer)).await {
            socket.run(kick).await;
        }
    }
}

/// Handshake, authentication and registration; the socket to run, with
/// the kick that closes it.
// The handshake callback's Result type is fixed by tungstenite.
#[allow(clippy::result_large_err)]
async fn open(app: Arc<App>, stream: TcpStream, peer: SocketAddr) -> Option<(Box<Socket>, Kick)> {
    let _ = stream.set_nodelay(true);
    let mut handshake = Handshake {
        token: None,
        format: Format::Json,
    };
    let allowed = &app.config.ws_allowed_origins;
    let callback = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        if !allowed.is_empty() {
            let origin = req.headers().get("origin").and_then(|v| v.to_str().ok());
            // Non-browser clients send no Origin; browsers always do.
            if let Some(origin) = origin {
                if !allowed.iter().any(|a| a == origin) {
                    return Err(reject(403, "origin not allowed"));
                }
            }
        }
        let offered = req
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        // The first subprotocol we speak, in the client's order of preference.
        let chosen = offered
            .split(',')
            .map(str::trim)
            .find(|p| *p == SUBPROTOCOL_JSON || *p == SUBPROTOCOL_BINCODE);
        if let Some(chosen) = chosen {
            if chosen == SUBPROTOCOL_BINCODE {
                handshake.format = Format::Bincode;
            }
            resp.headers_mut().insert(
                "sec-websocket-protocol",
                tokio_tungstenite::tungstenite::http::HeaderValue::from_static(
                    if chosen == SUBPROTOCOL_BINCODE {
                        SUBPROTOCOL_BINCODE
                    } else {
                        SUBPROTOCOL_JSON
                    },
                ),
            );
        }
        handshake.token = token_from_request(req);
        Ok(resp)
    };
    // Boxed, like every other one-off step of this function below: a
    // future's size is that of its largest await, and it is kept for the
    // socket's whole life, so a big handshake or request future held
    // inline would cost every idle socket its size.
    let upgrade = Box::pin(tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        callback,
        Some(ws_config()),
    ));
    let mut ws = match tokio::time::timeout(AUTH_TIMEOUT, upgrade).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "websocket handshake failed");
            return None;
        }
        Err(_) => return None,
    };
    let format = handshake.format;

    let mut request_id = None;
    let token = match handshake.token {
        Some(token) => Some(token),
        None => match Box::pin(first_frame_auth(&mut ws)).await {
            Ok((token, rid)) => {
                request_id = rid;
                Some(token)
            }
            Err(reason) => {
                Box::pin(refuse(&mut ws, format, None, &Error::Unauthorized(reason))).await;
                return None;
            }
        },
    };
    let session = match Box::pin(service::authenticate(
        &app,
        token.as_deref().unwrap_or_default(),
    ))
    .await
    {
        Ok(session) => session,
        Err(e) => {
            Box::pin(refuse(&mut ws, format, request_id.as_deref(), &e)).await;
            return None;
        }
    };
    let user_id = session.user_id;

    let (tx, queue) = queue(app.config.ws_queue_frames);
    let conn = ConnHandle::new(app.next_conn_id(), tx, format, session.id);
    // The ack goes first into the queue, and the queue is written only once
    // the socket is registered with the user's rooms: so the ack is the
    // first frame the client reads, and when it arrives the socket already
    // receives every room's traffic.
    conn.offer(Outgoing::Frame(
        ServerFrame::Ack {
            request_id: request_id.as_deref(),
            body: AckBody::Authenticated { user_id },
        }
        .encode_for(format),
    ));
    let connected = Box::pin(app.registry.send(Connect {
        user_id,
        conn: conn.clone(),
    }))
    .await
    .map_err(Error::from)
    .and_then(|r| r);
    if let Err(e) = connected {
        Box::pin(close(&mut ws, Some(close_for(&e)))).await;
        return None;
    }
    // A logout that landed while the socket was being registered sent its
    // "end session" before the user actor knew this socket; check again now
    // that any later logout is sure to reach it. The check runs beside the
    // socket's loop rather than before it: the queue already takes the
    // rooms' traffic, and waiting on the store first could let it fill
    // before the ack is written.
    let token = token.unwrap_or_default();
    let recheck: Recheck = {
        let (app, token, kick) = (app.clone(), token.clone(), conn.kick.clone());
        let expires_at = session.expires_at;
        Box::pin(async move {
            if service::authenticate(&app, &token).await.is_err() {
                kick.kick(KickReason::SessionEnded);
            }
            Ok(expires_at)
        })
    };
    let conn_id = conn.id;
    tracing::debug!(%peer, user_id, conn = conn_id, "websocket connected");

    let now = Instant::now();
    let kick = conn.kick.clone();
    let socket = Box::new(Socket {
        ws,
        peer,
        user_id,
        conn_id,
        format,
        queue,
        ordering: Ordering::default(),
        frames: Vec::new(),
        written: 0,
        unflushed: false,
        ping_due: false,
        next_ping: now + PING_INTERVAL,
        idle_at: now + IDLE_TIMEOUT,
        expires_at: expiry_deadline(session.expires_at),
        actions: Some(Box::new(Actions {
            app: app.clone(),
            user_id,
            conn,
            rooms: HashMap::new(),
            in_flight: None,
            actions: (app.config.ws_actions_per_sec > 0).then(|| {
                let per_sec = f64::from(app.config.ws_actions_per_sec);
                LocalBucket::new(Rate {
                    burst: 2.0 * per_sec,
                    per_sec,
                })
            }),
        })),
        action: None,
        recheck: Some(recheck),
        app: app.clone(),
        token,
    });
    Some((socket, kick))
}

/// Waits for `{"action": "auth", "token": ...}` as the first frame.
async fn first_frame_auth(ws: &mut Ws) -> Result<(String, Option<String>), String> {
    let first = tokio::time::timeout(AUTH_TIMEOUT, ws.next())
        .await
        .map_err(|_| "no auth frame within 10 seconds".to_owned())?;
    let decoded = match first {
        Some(Ok(WsMessage::Text(text))) => protocol::decode(text.as_bytes()),
        Some(Ok(WsMessage::Binary(bytes))) => protocol::binary::decode(&bytes),
        _ => return Err("the first frame must be {\"action\": \"auth\", \"token\": ...}".into()),
    };
    match decoded {
        Ok(ClientFrame {
            request_id,
            action: Action::Auth { token },
        }) => Ok((token, request_id)),
        _ => Err("the first frame must be {\"action\": \"auth\", \"token\": ...}".into()),
    }
}

/// Tells an unauthenticated client why, then closes.
async fn refuse(ws: &mut Ws, format: Format, request_id: Option<&str>, e: &Error) {
    if let Ok(msg) = ws_message(format, &error_frame(format, request_id, e)) {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.send(msg)).await;
    }
    close(ws, Some(close_for(e))).await;
}

/// Sends the close frame that says why the server ends the connection
/// (none when the connection broke), then closes it. A client that does
/// not read (the usual reason for a kick) could hold that write forever,
/// and the socket with it, so it gets CLOSE_TIMEOUT; then the connection
/// is just dropped.
async fn close(ws: &mut Ws, why: Option<(u16, &'static str)>) {
    let goodbye = async {
        if let Some((code, reason)) = why {
            ws.send(WsMessage::Close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            })))
            .await?;
        }
        ws.close(None).await
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, goodbye).await;
}

/// The close frame for a socket the server closes on its own.
fn kick_close(reason: KickReason) -> (u16, &'static str) {
    match reason {
        KickReason::TooSlow => (
            close_code::POLICY_VIOLATION,
            "connection too slow; reconnect and resume",
        ),
        KickReason::SessionEnded => (close_code::POLICY_VIOLATION, "session ended; log in again"),
    }
}

fn close_for(e: &Error) -> (u16, &'static str) {
    match e {
        Error::Unauthorized(_) => (close_code::POLICY_VIOLATION, "authentication failed"),
        Error::ShuttingDown => (close_code::GOING_AWAY, "server shutting down"),
        _ => (close_code::TRY_AGAIN_LATER, "try again later"),
    }
}

/// An action being handled: its future owns [`Actions`] and gives it back.
type Handling = Pin<Box<dyn Future<Output = Box<Actions>> + Send>>;
/// The session looked at again when it is due to expire.
type Recheck = Pin<Box<dyn Future<Output = Result<crate::model::Timestamp, Error>> + Send>>;

/// One authenticated socket, run by a single task: one task rather than a
/// reader and a writer over a split stream saves an idle socket the second
/// task (its future was 0.8 KB) and the lock the two halves shared, and a
/// delivery wakes one task, not two. With the lean queue and the smaller
/// read buffer, idle RSS per socket went from 6.6 to 3.5 KiB (19,000
/// sockets, medians of three runs).
///
/// Reading and writing are separate steps of one poll, so neither waits
/// for the other: a client that does not read (its TCP window full) still
/// has its frames read, and a frame being handled does not hold back
/// queued frames. The frame after it is read only once it is handled, as
/// before, so one socket's actions keep their order.
struct Socket {
    ws: Ws,
    peer: SocketAddr,
    user_id: UserId,
    conn_id: crate::actors::messages::ConnId,
    format: Format,
    queue: QueueReceiver<Outgoing>,
    ordering: Ordering,
    /// Frames of the batch taken from the queue; those before `written`
    /// are handed to tungstenite.
    frames: Vec<Encoded>,
    written: usize,
    /// Frames handed to tungstenite since the last flush.
    unflushed: bool,
    ping_due: bool,
    // One timer serves the ping, the idle timeout and the session expiry:
    // it is set to the earliest of the three (see `next_deadline`), and
    // reading a frame only moves `idle_at`, without touching the timer.
    next_ping: Instant,
    /// Closes a socket that sent nothing for IDLE_TIMEOUT while it was
    /// being read (the time an action takes does not count).
    idle_at: Instant,
    /// When the session expires: the socket closes then, unless REST use
    /// moved the expiry (sliding expiry) in the meantime.
    expires_at: Instant,
    /// Here while no action is being handled.
    actions: Option<Box<Actions>>,
    action: Option<Handling>,
    recheck: Option<Recheck>,
    app: Arc<App>,
    /// The token the socket logged in with, to look at its session again.
    token: String,
}

/// A deadline no socket reaches (about 30 years away).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365 * 30)
}

impl Socket {
    /// Not an `async fn`: its arguments would be kept twice in the future
    /// (as arguments and as the locals they move into), and this future
    /// lives as long as the socket.
    #[allow(clippy::manual_async_fn)]
    fn run(mut self: Box<Self>, kick: Kick) -> impl Future<Output = ()> + Send {
        async move {
            let app = self.app.clone();
            // The shutdown wait is made once for the socket's life, not on
            // every pass: a new one registers with (and on drop leaves) a
            // waiter list shared by every socket, under its lock, and the
            // socket wakes once per delivery.
            let kicked = kick.kicked();
            let cancelled = app.shutdown.cancelled();
            let timer = tokio::time::sleep_until(self.next_deadline());
            tokio::pin!(kicked, cancelled, timer);
            let ending = poll_fn(|cx| {
                self.poll_run(cx, timer.as_mut(), kicked.as_mut(), cancelled.as_mut())
            })
            .await;
            let (user_id, conn_id, peer) = (self.user_id, self.conn_id, self.peer);
            app.registry.do_send(Disconnect { user_id, conn_id });
            Box::pin(close(&mut self.ws, ending)).await;
            tracing::debug!(%peer, user_id, conn = conn_id, "websocket closed");
        }
    }

    fn next_deadline(&self) -> Instant {
        let mut at = self.next_ping.min(self.expires_at);
        if self.action.is_none() {
            at = at.min(self.idle_at);
        }
        at
    }

    /// Runs until the connection ends; gives the close frame to send
    /// (`None`: the connection broke, no close frame).
    fn poll_run(
        &mut self,
        cx: &mut Context<'_>,
        mut timer: Pin<&mut Sleep>,
        kicked: Pin<&mut impl Future<Output = KickReason>>,
        cancelled: Pin<&mut impl Future<Output = ()>>,
    ) -> Poll<Option<(u16, &'static str)>> {
        if cancelled.poll(cx).is_ready() {
            return Poll::Ready(Some((close_code::GOING_AWAY, "server shutting down")));
        }
        if let Poll::Ready(reason) = kicked.poll(cx) {
            return Poll::Ready(Some(kick_close(reason)));
        }
        loop {
            if let Some(why) = self.poll_timer(cx, timer.as_mut()) {
                return Poll::Ready(why);
            }
            if let Some(recheck) = &mut self.recheck {
                match recheck.as_mut().poll(cx) {
                    Poll::Ready(Ok(expires_at)) => {
                        self.recheck = None;
                        self.expires_at = expiry_deadline(expires_at);
                        timer.as_mut().reset(self.next_deadline());
                        continue;
                    }
                    Poll::Ready(Err(_)) => {
                        return Poll::Ready(Some((
                            close_code::POLICY_VIOLATION,
                            "session expired; log in again",
                        )))
                    }
                    Poll::Pending => {}
                }
            }
            if let Some(action) = &mut self.action {
                match action.as_mut().poll(cx) {
                    Poll::Ready(actions) => {
                        self.actions = Some(actions);
                        self.action = None;
                        // Reading starts again: so does the idle timeout.
                        self.idle_at = Instant::now() + IDLE_TIMEOUT;
                        timer.as_mut().reset(self.next_deadline());
                    }
                    Poll::Pending => {}
                }
            }
            if let Err(()) = self.poll_write(cx) {
                return Poll::Ready(None);
            }
            match self.poll_read(cx) {
                Poll::Ready(Some(why)) => return Poll::Ready(Some(why)),
                // A frame was read and its action started (and maybe done,
                // and queued an answer): go round once more.
                Poll::Ready(None) => continue,
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Pings, and notices idleness and expiry; `Some` ends the socket.
    fn poll_timer(
        &mut self,
        cx: &mut Context<'_>,
        mut timer: Pin<&mut Sleep>,
    ) -> Option<Option<(u16, &'static str)>> {
        while timer.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            if self.action.is_none() && now >= self.idle_at {
                return Some(Some((close_code::POLICY_VIOLATION, "idle timeout")));
            }
            if now >= self.next_ping {
                self.ping_due = true;
                self.next_ping = now + PING_INTERVAL;
            }
            if now >= self.expires_at && self.recheck.is_none() {
                let (app, token) = (self.app.clone(), self.token.clone());
                self.recheck = Some(Box::pin(async move {
                    service::authenticate(&app, &token)
                        .await
                        .map(|session| session.expires_at)
                }));
                // Looked at again when the recheck answers.
                self.expires_at = far_future();
            }
            timer.as_mut().reset(self.next_deadline());
        }
        None
    }

    /// Writes what is queued, then flushes. `Err` when the connection broke.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Result<(), ()> {
        loop {
            while self.written < self.frames.len() {
                if !self.poll_ready(cx)? {
                    // Blocked: the rest of the batch stays counted against
                    // the queue's bound, so a client that stops reading is
                    // disconnected once the bound is reached.
                    return Ok(());
                }
                let message = ws_message(self.format, &self.frames[self.written]);
                self.written += 1;
                self.start_send(message.map_err(drop)?)?;
            }
            if self.ping_due {
                if !self.poll_ready(cx)? {
                    return Ok(());
                }
                self.ping_due = false;
                self.start_send(WsMessage::Ping(Bytes::new()))?;
            }
            self.frames.clear();
            self.written = 0;
            // A big burst (a resume replay) does not keep its list.
            if self.frames.capacity() > 64 {
                self.frames = Vec::new();
            }
            match self.queue.poll_take(cx) {
                Poll::Ready(Some(batch)) => {
                    for item in batch {
                        self.ordering.accept(item, &mut self.frames);
                    }
                }
                Poll::Ready(None) => return Err(()),
                Poll::Pending => break,
            }
        }
        // Flush once per burst rather than once per frame.
        if self.unflushed {
            match Pin::new(&mut self.ws).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(_)) => return Err(()),
                Poll::Pending => {}
            }
        }
        Ok(())
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Result<bool, ()> {
        match Pin::new(&mut self.ws).poll_ready(cx) {
            Poll::Ready(Ok(())) => Ok(true),
            Poll::Ready(Err(_)) => Err(()),
            Poll::Pending => Ok(false),
        }
    }

    fn start_send(&mut self, message: WsMessage) -> Result<(), ()> {
        self.unflushed = true;
        Pin::new(&mut self.ws).start_send(message).map_err(drop)
    }

    /// Reads frames while no action is being handled. `Ready(None)`: a
    /// frame was read; `Ready(Some)`: the socket ends with that close frame.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Option<(u16, &'static str)>> {
        if self.action.is_some() {
            return Poll::Pending;
        }
        let next = match Pin::new(&mut self.ws).poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(next) => next,
        };
        self.idle_at = Instant::now() + IDLE_TIMEOUT;
        Poll::Ready(match next {
            None | Some(Ok(WsMessage::Close(_))) => Some((1000, "bye")),
            Some(Ok(WsMessage::Text(text))) => {
                let decoded = protocol::decode(text.as_bytes());
                self.start(decoded, move || json_request_id(text.as_bytes()));
                None
            }
            Some(Ok(WsMessage::Binary(bytes))) => {
                self.start(protocol::binary::decode(&bytes), || None);
                None
            }
            Some(Ok(_)) => None, // ping/pong: answered by tungstenite
            Some(Err(WsError::Capacity(_))) => {
                Some((close_code::MESSAGE_TOO_BIG, "frame exceeds 64 KiB"))
            }
            Some(Err(WsError::Protocol(_))) | Some(Err(WsError::Utf8(_))) => {
                Some((close_code::PROTOCOL_ERROR, "protocol error"))
            }
            Some(Err(e)) => {
                tracing::debug!(error = %e, "websocket read ended");
                Some((1000, "bye"))
            }
        })
    }

    /// Starts handling a frame; `poll_run` polls it from then on.
    fn start(
        &mut self,
        decoded: Result<ClientFrame, DecodeError>,
        request_id: impl FnOnce() -> Option<String> + Send + 'static,
    ) {
        // Always here: frames are read only while no action is handled.
        let Some(mut actions) = self.actions.take() else {
            return;
        };
        // Boxed: an action's future is as big as the biggest action, and
        // lives only while it runs.
        self.action = Some(Box::pin(async move {
            actions.handle(decoded, request_id).await;
            actions
        }));
    }
}

/// A text frame for JSON, a binary frame for bincode.
fn ws_message(format: Format, frame: &Encoded) -> Result<WsMessage, WsError> {
    let bytes = frame.get(format).clone();
    Ok(match format {
        // JSON frames come from serde_json, so they are UTF-8.
        Format::Json => {
            WsMessage::Text(Utf8Bytes::try_from(bytes).map_err(|_| WsError::Utf8("frame".into()))?)
        }
        Format::Bincode => WsMessage::Binary(bytes),
    })
}

/// The requestId of a JSON frame that is JSON but not a valid action.
fn json_request_id(bytes: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| {
            v.get("requestId")
                .and_then(|r| r.as_str())
                .map(str::to_owned)
        })
}

/// What handling an action needs. It moves into the boxed future of the
/// action being handled and comes back when that is done, so the socket's
/// loop can keep writing while an action waits.
struct Actions {
    app: Arc<App>,
    user_id: UserId,
    conn: ConnHandle,
    /// Room actors this socket talks to, so a post is one mailbox push.
    rooms: HashMap<RoomId, Addr<RoomActor>>,
    /// Made at the first post: most sockets only listen.
    in_flight: Option<Arc<Semaphore>>,
    /// This socket's action budget (`None`: unlimited).
    actions: Option<LocalBucket>,
}

/// When a session that expires at `at` (wall clock) ends on tokio's clock.
fn expiry_deadline(at: crate::model::Timestamp) -> tokio::time::Instant {
    let left = at
        .millis()
        .saturating_sub(crate::model::Timestamp::now().millis())
        .max(0);
    tokio::time::Instant::now() + Duration::from_millis(left as u64)
}

impl Actions {
    fn in_flight(&mut self) -> Arc<Semaphore> {
        self.in_flight
            .get_or_insert_with(|| Arc::new(Semaphore::new(MAX_IN_FLIGHT)))
            .clone()
    }

    fn send_error(&self, request_id: Option<&str>, e: &Error) {
        self.conn.offer(Outgoing::Frame(error_frame(
            self.conn.format,
            request_id,
            e,
        )));
    }

    fn send_ack(&self, request_id: Option<&str>, body: AckBody) {
        self.conn.offer(Outgoing::Frame(
            ServerFrame::Ack { request_id, body }.encode_for(self.conn.format),
        ));
    }

    async fn room(&mut self, room_id: RoomId) -> Result<Addr<RoomActor>, Error> {
        if let Some(addr) = self.rooms.get(&room_id).filter(|a| a.connected()) {
            return Ok(addr.clone());
        }
        let addr = room_actor(&self.app.registry, &self.app.store, room_id).await?;
        self.rooms.insert(room_id, addr.clone());
        Ok(addr)
    }

    /// `request_id` digs the requestId out of a frame that did not decode,
    /// so even the error for a malformed frame can echo it.
    async fn handle(
        &mut self,
        decoded: Result<ClientFrame, DecodeError>,
        request_id: impl FnOnce() -> Option<String>,
    ) {
        let frame = match decoded {
            Ok(frame) => frame,
            Err(e) => {
                let error = match e {
                    DecodeError::TooLarge(_) => Error::PayloadTooLarge(e.to_string()),
                    DecodeError::Syntax(_) | DecodeError::Shape(_) => {
                        Error::BadRequest(e.to_string())
                    }
                };
                return self.send_error(request_id().as_deref(), &error);
            }
        };
        let rid = frame.request_id;
        if let Some(Err(retry_after_secs)) = self.actions.as_mut().map(LocalBucket::check) {
            return self.send_error(rid.as_deref(), &Error::RateLimited { retry_after_secs });
        }
        let result = match frame.action {
            Action::Auth { .. } => Err(Error::Conflict(
                "this connection is already authenticated".into(),
            )),
            Action::Ping => {
                self.conn.offer(Outgoing::Frame(
                    ServerFrame::Pong {
                        request_id: rid.as_deref(),
                    }
                    .encode_for(self.conn.format),
                ));
                Ok(())
            }
            Action::CreateMessage {
                room_id,
                message_id,
                content,
                kind,
                reply_id,
                forward_of,
                file_id,
                preview,
            } => {
                let req = MessageRequest {
                    message_id,
                    content,
                    kind,
                    reply_id,
                    forward_of,
                    file_id,
                    preview,
                };
                self.create_message(room_id, req, rid.clone()).await
            }
            Action::EditMessage {
                room_id,
                message_id,
                content,
            } => {
                let change = service::edit(Some(&content));
                self.change(room_id, message_id, change, rid.as_deref())
                    .await
            }
            Action::DeleteMessage {
                room_id,
                message_id,
            } => {
                let change = Ok(MessageChange::Delete { moderator: false });
                self.change(room_id, message_id, change, rid.as_deref())
                    .await
            }
            Action::React {
                room_id,
                message_id,
                emoji,
            } => {
                let change = service::reaction(&emoji, true);
                self.change(room_id, message_id, change, rid.as_deref())
                    .await
            }
            Action::Unreact {
                room_id,
                message_id,
                emoji,
            } => {
                let change = service::reaction(&emoji, false);
                self.change(room_id, message_id, change, rid.as_deref())
                    .await
            }
            Action::CreateRoom {
                participants,
                kind,
                name,
            } => {
                let req = RoomRequest {
                    kind,
                    name,
                    public: None,
                    participants,
                };
                self.create_room(req, rid.clone()).await;
                Ok(())
            }
            Action::Typing { room_id, state } => match self.room(room_id).await {
                Ok(room) => room
                    .send(Typing {
                        user_id: self.user_id,
                        active: state == TypingState::Start,
                    })
                    .await
                    .map_err(Error::from)
                    .and_then(|r| r)
                    .map(|()| {
                        if rid.is_some() {
                            self.send_ack(rid.as_deref(), AckBody::Empty {});
                        }
                    }),
                Err(e) => Err(e),
            },
            Action::Seen { room_id, seq } => match self.room(room_id).await {
                Ok(room) => room
                    .send(MarkSeen {
                        user_id: self.user_id,
                        seq,
                    })
                    .await
                    .map_err(Error::from)
                    .and_then(|r| r)
                    .map(|()| self.send_ack(rid.as_deref(), AckBody::Empty {})),
                Err(e) => Err(e),
            },
            Action::Resume { rooms, revs } => {
                let statuses = self.resume(rooms, revs).await;
                self.send_ack(rid.as_deref(), AckBody::Resume { rooms: statuses });
                Ok(())
            }
        };
        if let Err(e) = result {
            self.send_error(rid.as_deref(), &e);
        }
    }

    /// The post enters the room's mailbox before the next frame is read, so
    /// one socket's messages keep their order; the ack is awaited apart so
    /// the socket can pipeline up to MAX_IN_FLIGHT posts.
    async fn create_message(
        &mut self,
        room_id: RoomId,
        req: MessageRequest,
        rid: Option<String>,
    ) -> Result<(), Error> {
        let message = service::message_from_request(&self.app, self.user_id, req).await?;
        let room = self.room(room_id).await?;
        let permit = self
            .in_flight()
            .acquire_owned()
            .await
            .map_err(|_| Error::ShuttingDown)?;
        // `do_send` skips the mailbox bound; the permit bounds this socket's
        // posts instead, and the room answers on the socket itself.
        room.do_send(PostFromSocket {
            sender: self.user_id,
            message,
            reply_to: SocketReply {
                conn: self.conn.clone(),
                request_id: rid,
                permit,
            },
        });
        Ok(())
    }

    /// An edit, delete or reaction: awaited here, so one socket's changes
    /// apply in the order it sent them; acked with the message as it is now.
    async fn change(
        &mut self,
        room_id: RoomId,
        message_id: String,
        change: Result<MessageChange, Error>,
        rid: Option<&str>,
    ) -> Result<(), Error> {
        let change = change?;
        let changed = service::change_message(
            &self.app,
            room_id,
            By::Member(self.user_id),
            message_id,
            change,
        )
        .await?;
        self.send_ack(
            rid,
            AckBody::Message {
                message: &changed.message,
            },
        );
        Ok(())
    }

    async fn create_room(&mut self, req: RoomRequest, rid: Option<String>) {
        let Ok(permit) = self.in_flight().acquire_owned().await else {
            return;
        };
        let app = self.app.clone();
        let user_id = self.user_id;
        let conn = self.conn.clone();
        tokio::spawn(async move {
            let result = service::create_room(&app, user_id, req).await;
            let body = result.as_ref().map(|(room, _)| AckBody::Room { room });
            let frame = answer(conn.format, rid.as_deref(), body);
            conn.offer(Outgoing::Frame(frame));
            drop(permit);
        });
    }

    async fn resume(
        &mut self,
        rooms: BTreeMap<String, u64>,
        revs: BTreeMap<String, Rev>,
    ) -> BTreeMap<String, ResumeStatus> {
        let mut statuses = BTreeMap::new();
        for (key, after) in rooms {
            let after_rev = revs.get(&key).copied();
            let status = match key.parse::<RoomId>() {
                Err(_) => ResumeStatus::NotFound,
                Ok(room_id) => match self.room(room_id).await {
                    Err(_) => ResumeStatus::NotFound,
                    Ok(room) => room
                        .send(Resume {
                            user_id: self.user_id,
                            conn: self.conn.clone(),
                            after,
                            after_rev,
                        })
                        .await
                        .unwrap_or(ResumeStatus::NotFound),
                },
            };
            statuses.insert(key, status);
        }
        statuses
    }
}
