//! One WebSocket connection: handshake (token, Origin, subprotocol),
//! authentication, a reader that decodes action frames and calls actors, and
//! a writer task that owns the socket's sending side and its bounded queue.

use super::ordering::Ordering;
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
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

/// A client that opened a socket must authenticate within this time.
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// The server pings this often, so dead peers and idle NATs are noticed.
const PING_INTERVAL: Duration = Duration::from_secs(30);
/// A socket that sends nothing (not even a pong) for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Actions of one connection being processed at once; the reader waits
/// for a slot, which pushes back on a client that floods.
const MAX_IN_FLIGHT: usize = 64;

type Sink = SplitSink<WebSocketStream<TcpStream>, WsMessage>;
type Source = SplitStream<WebSocketStream<TcpStream>>;

/// Tungstenite's defaults (128 KiB read buffer per socket, 64 MiB messages,
/// unbounded write buffer) are wrong for many idle chat sockets. The read
/// buffer is allocated up front for every socket, so it is small: client
/// frames are a few hundred bytes, and a larger one just takes more reads.
/// Frames are collected up to 16 KiB and flushed when the queue is empty, so
/// a burst costs one write, not one per frame.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(1024)
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

// The handshake callback's Result type is fixed by tungstenite.
#[allow(clippy::result_large_err)]
pub async fn serve(app: Arc<App>, stream: TcpStream, peer: SocketAddr) {
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
    let ws = match tokio::time::timeout(AUTH_TIMEOUT, upgrade).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "websocket handshake failed");
            return;
        }
        Err(_) => return,
    };
    let format = handshake.format;
    let (mut sink, mut source) = ws.split();

    let mut request_id = None;
    let token = match handshake.token {
        Some(token) => Some(token),
        None => match Box::pin(first_frame_auth(&mut source)).await {
            Ok((token, rid)) => {
                request_id = rid;
                Some(token)
            }
            Err(reason) => {
                Box::pin(refuse(
                    &mut sink,
                    format,
                    None,
                    &Error::Unauthorized(reason),
                ))
                .await;
                return;
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
            Box::pin(refuse(&mut sink, format, request_id.as_deref(), &e)).await;
            return;
        }
    };
    let user_id = session.user_id;

    let (tx, rx) = mpsc::channel(app.config.ws_queue_frames);
    let conn = ConnHandle::new(app.next_conn_id(), tx, format, session.id);
    let (close_tx, close_rx) = oneshot::channel();
    // The ack goes first into the queue, and the writer starts only once
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
    let writer = tokio::spawn(write_loop(
        sink,
        format,
        rx,
        conn.kick.clone(),
        app.shutdown.clone(),
        close_rx,
    ));
    if let Err(e) = connected {
        let _ = close_tx.send(close_for(&e));
        let _ = writer.await;
        return;
    }
    // A logout that landed while the socket was being registered sent its
    // "end session" before the user actor knew this socket; check again now
    // that any later logout is sure to reach it.
    let token = token.unwrap_or_default();
    if Box::pin(service::authenticate(&app, &token)).await.is_err() {
        conn.kick.kick(KickReason::SessionEnded);
    }
    tracing::debug!(%peer, user_id, conn = conn.id, "websocket connected");

    let mut reader = Reader {
        app: app.clone(),
        user_id,
        conn: conn.clone(),
        rooms: HashMap::new(),
        in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        actions: (app.config.ws_actions_per_sec > 0).then(|| {
            let per_sec = f64::from(app.config.ws_actions_per_sec);
            LocalBucket::new(Rate {
                burst: 2.0 * per_sec,
                per_sec,
            })
        }),
        token,
        expiry: Box::pin(tokio::time::sleep_until(expiry_deadline(
            session.expires_at,
        ))),
    };
    let close = reader.run(&mut source).await;
    app.registry.do_send(Disconnect {
        user_id,
        conn_id: conn.id,
    });
    let _ = close_tx.send(close);
    let _ = writer.await;
    tracing::debug!(%peer, user_id, conn = conn.id, "websocket closed");
}

/// Waits for `{"action": "auth", "token": ...}` as the first frame.
async fn first_frame_auth(source: &mut Source) -> Result<(String, Option<String>), String> {
    let first = tokio::time::timeout(AUTH_TIMEOUT, source.next())
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
async fn refuse(sink: &mut Sink, format: Format, request_id: Option<&str>, e: &Error) {
    if let Ok(msg) = ws_message(format, &error_frame(format, request_id, e)) {
        let _ = sink.send(msg).await;
    }
    let (code, why) = close_for(e);
    let _ = sink
        .send(WsMessage::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: why.into(),
        })))
        .await;
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

/// Owns the sending half: writes queued frames in order, pings, and sends
/// the close frame that fits why the connection ends.
async fn write_loop(
    mut sink: Sink,
    format: Format,
    mut rx: mpsc::Receiver<Outgoing>,
    kick: Kick,
    shutdown: CancellationToken,
    mut close_rx: oneshot::Receiver<(u16, &'static str)>,
) {
    let mut ordering = Ordering::default();
    let mut frames = Vec::new();
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.reset();
    // Made once, not on every pass: each new one registers with (and on
    // drop leaves) a waiter list shared by every socket, under its lock,
    // and the writer wakes once per delivered burst.
    let cancelled = shutdown.cancelled();
    let kicked = kick.kicked();
    tokio::pin!(cancelled, kicked);
    let close = loop {
        tokio::select! {
            biased;
            _ = &mut cancelled => break Some((close_code::GOING_AWAY, "server shutting down")),
            reason = &mut kicked => break Some(kick_close(reason)),
            reason = &mut close_rx => break reason.ok(),
            item = rx.recv() => {
                let Some(item) = item else { break None };
                ordering.accept(item, &mut frames);
                if write_frames(&mut sink, format, &mut frames).await.is_err() {
                    break None;
                }
                // Flush once per burst rather than once per frame.
                if rx.is_empty() && sink.flush().await.is_err() {
                    break None;
                }
            }
            _ = ping.tick() => {
                if sink.send(WsMessage::Ping(Bytes::new())).await.is_err() {
                    break None;
                }
            }
        }
    };
    if let Some((code, reason)) = close {
        let _ = sink
            .send(WsMessage::Close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            })))
            .await;
    }
    let _ = sink.close().await;
}

async fn write_frames(
    sink: &mut Sink,
    format: Format,
    frames: &mut Vec<Encoded>,
) -> Result<(), WsError> {
    for frame in frames.drain(..) {
        sink.feed(ws_message(format, &frame)?).await?;
    }
    Ok(())
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

/// The receiving half: decodes each action and hands it to the actors.
struct Reader {
    app: Arc<App>,
    user_id: UserId,
    conn: ConnHandle,
    /// Room actors this socket talks to, so a post is one mailbox push.
    rooms: HashMap<RoomId, Addr<RoomActor>>,
    in_flight: Arc<Semaphore>,
    /// This socket's action budget (`None`: unlimited).
    actions: Option<LocalBucket>,
    /// The token the socket logged in with, to look at its session again.
    token: String,
    /// Fires when the session expires: the socket closes then, unless REST
    /// use moved the expiry (sliding expiry) in the meantime.
    expiry: std::pin::Pin<Box<tokio::time::Sleep>>,
}

/// When a session that expires at `at` (wall clock) ends on tokio's clock.
fn expiry_deadline(at: crate::model::Timestamp) -> tokio::time::Instant {
    let left = at
        .millis()
        .saturating_sub(crate::model::Timestamp::now().millis())
        .max(0);
    tokio::time::Instant::now() + Duration::from_millis(left as u64)
}

impl Reader {
    /// Reads until the peer leaves or breaks the protocol; returns the close
    /// frame to send.
    async fn run(&mut self, source: &mut Source) -> (u16, &'static str) {
        // Made once for the socket's life (see `write_loop`).
        let (kick, shutdown) = (self.conn.kick.clone(), self.app.shutdown.clone());
        let kicked = kick.kicked();
        let cancelled = shutdown.cancelled();
        tokio::pin!(kicked, cancelled);
        loop {
            let next = tokio::select! {
                reason = &mut kicked => return kick_close(reason),
                _ = &mut cancelled => return (close_code::GOING_AWAY, "server shutting down"),
                _ = &mut self.expiry => {
                    match Box::pin(service::authenticate(&self.app, &self.token)).await {
                        Ok(session) => {
                            self.expiry.as_mut().reset(expiry_deadline(session.expires_at));
                            continue;
                        }
                        Err(_) => return (close_code::POLICY_VIOLATION, "session expired; log in again"),
                    }
                }
                next = tokio::time::timeout(IDLE_TIMEOUT, source.next()) => next,
            };
            match next {
                Err(_) => return (close_code::POLICY_VIOLATION, "idle timeout"),
                Ok(None) | Ok(Some(Ok(WsMessage::Close(_)))) => return (1000, "bye"),
                Ok(Some(Ok(WsMessage::Text(text)))) => {
                    let decoded = protocol::decode(text.as_bytes());
                    // Boxed: see `serve`; an action's future is as big as
                    // the biggest action, and lives only while it runs.
                    Box::pin(self.handle(decoded, || json_request_id(text.as_bytes()))).await
                }
                Ok(Some(Ok(WsMessage::Binary(bytes)))) => {
                    Box::pin(self.handle(protocol::binary::decode(&bytes), || None)).await
                }
                Ok(Some(Ok(_))) => {} // ping/pong: answered by tungstenite
                Ok(Some(Err(WsError::Capacity(_)))) => {
                    return (close_code::MESSAGE_TOO_BIG, "frame exceeds 64 KiB")
                }
                Ok(Some(Err(WsError::Protocol(_)))) | Ok(Some(Err(WsError::Utf8(_)))) => {
                    return (close_code::PROTOCOL_ERROR, "protocol error")
                }
                Ok(Some(Err(e))) => {
                    tracing::debug!(error = %e, "websocket read ended");
                    return (1000, "bye");
                }
            }
        }
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
            .in_flight
            .clone()
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
        let Ok(permit) = self.in_flight.clone().acquire_owned().await else {
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
