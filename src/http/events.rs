//! `GET /api/events`: the server frames a WebSocket gets, as Server-Sent
//! Events, for clients that cannot open a WebSocket.
//!
//! The stream is one more "socket" of the user actor (a [`ConnHandle`] with
//! a bounded queue), so fan-out reaches it exactly as it reaches a
//! WebSocket. Each event is `event: <frame type>` and `data: <JSON frame>`;
//! room frames that carry a `seq` also carry `id: <cursor>`, where the
//! cursor lists the newest seq this stream has given per room
//! (`roomId:seq,roomId:seq`, rooms at 0 left out). Reconnecting with
//! `Last-Event-ID: <cursor>` replays, per room, exactly what came after it
//! (through the rooms' `resume`, so replay and live frames neither repeat
//! nor skip), up to the resume limit. Ephemeral frames (typing, presence,
//! seen) carry no id and are not replayed. The first event, `ready`, has
//! the starting cursor as its id and each room's resume status.

use super::context::Ctx;
use super::response::{Body, Reply};
use crate::actors::messages::{ConnHandle, Connect, Disconnect, Kick, Outgoing, Resume};
use crate::actors::{room_actor, RegistryActor};
use crate::error::{Error, Result};
use crate::model::{RoomId, Seq, UserId};
use crate::net::ordering::Ordering;
use crate::net::queue::{queue, QueueReceiver};
use crate::protocol::{Encoded, Format, ResumeStatus};
use crate::service;
use actix::Addr;
use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::Response;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A comment line this often keeps proxies and NATs from closing an idle
/// stream, and notices a client that went away.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// Rendered chunks waiting for hyper to write them. Small: the real queue
/// (and its "too slow" rule) is the connection's frame queue before it.
const BODY_CHUNKS: usize = 16;
/// Most rooms a `Last-Event-ID` cursor may name.
const MAX_CURSOR_ROOMS: usize = 10_000;

/// Newest seq given per room.
type Cursor = BTreeMap<RoomId, Seq>;

/// `roomId:seq,...`; a room at 0 is left out (absent means 0), and a
/// cursor with no room past 0 is `-`: an empty `id:` would make clients
/// forget their position and reconnect as a fresh stream, which would skip
/// what comes in while they are away.
fn format_cursor(cursor: &Cursor) -> String {
    let mut out = String::new();
    for (room, seq) in cursor.iter().filter(|(_, seq)| **seq > 0) {
        if !out.is_empty() {
            out.push(',');
        }
        let _ = write!(out, "{room}:{seq}");
    }
    if out.is_empty() {
        out.push('-');
    }
    out
}

fn parse_cursor(text: &str) -> Result<Cursor> {
    let bad = || {
        Error::BadRequest(
            "Last-Event-ID must be an id this stream sent (roomId:seq,roomId:seq...)".into(),
        )
    };
    let text = text.trim();
    let mut cursor = Cursor::new();
    if text.is_empty() || text == "-" {
        return Ok(cursor);
    }
    for pair in text.split(',') {
        let (room, seq) = pair.split_once(':').ok_or_else(bad)?;
        let room: RoomId = room.trim().parse().map_err(|_| bad())?;
        let seq: Seq = seq.trim().parse().map_err(|_| bad())?;
        cursor.insert(room, seq);
        if cursor.len() > MAX_CURSOR_ROOMS {
            return Err(bad());
        }
    }
    Ok(cursor)
}

/// The `type` of a JSON server frame: serde writes the tag first, so it
/// is the first string of the object.
fn frame_type(json: &[u8]) -> &str {
    json.strip_prefix(br#"{"type":""#)
        .and_then(|rest| rest.iter().position(|b| *b == b'"').map(|end| &rest[..end]))
        .and_then(|t| std::str::from_utf8(t).ok())
        .unwrap_or("message")
}

/// Unregisters the stream from the user actor however it ends.
struct Registered {
    registry: Addr<RegistryActor>,
    user_id: UserId,
    conn_id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.do_send(Disconnect {
            user_id: self.user_id,
            conn_id: self.conn_id,
        });
    }
}

#[derive(Deserialize)]
struct Query {
    token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Ready {
    #[serde(rename = "type")]
    kind: &'static str,
    user_id: UserId,
    rooms: BTreeMap<String, ResumeStatus>,
}

/// GET /api/events — the user's server frames as `text/event-stream`.
/// Auth by Bearer token (or `?token=`, for browsers' EventSource, which
/// cannot send headers); `Last-Event-ID` resumes.
pub async fn stream(ctx: Ctx) -> Result<Reply> {
    let q: Query = ctx.query()?;
    let token = ctx.token().map(str::to_owned).or(q.token).ok_or_else(|| {
        Error::Unauthorized("missing token: send 'Authorization: Bearer <token>'".into())
    })?;
    let session = service::authenticate(&ctx.app, &token).await?;
    let resume_from = match ctx.header("last-event-id") {
        Some(id) => Some(parse_cursor(id)?),
        None => None,
    };
    let app = ctx.app.clone();
    let user_id = session.user_id;

    let (tx, rx) = queue(app.config.ws_queue_frames);
    let conn = ConnHandle::new(app.next_conn_id(), tx, Format::Json, session.id);
    app.registry
        .send(Connect {
            user_id,
            conn: conn.clone(),
        })
        .await??;
    let registered = Registered {
        registry: app.registry.clone(),
        user_id,
        conn_id: conn.id,
    };

    // Registered first, then each room's position: everything after it is
    // fanned out to this stream, and with a cursor the gap is replayed.
    let rooms = app.store.run(move |s| s.room_ids_of_user(user_id)).await?;
    let mut cursor = Cursor::new();
    let mut statuses = BTreeMap::new();
    for room_id in rooms {
        let after = match &resume_from {
            Some(c) => c.get(&room_id).copied().unwrap_or(0),
            // A fresh stream starts at each room's newest message.
            None => Seq::MAX,
        };
        let Ok(room) = room_actor(&app.registry, &app.store, room_id).await else {
            continue;
        };
        let status = room
            .send(Resume {
                user_id,
                conn: conn.clone(),
                after,
                // Changes to older messages are not replayed here.
                after_rev: None,
            })
            .await
            .unwrap_or(ResumeStatus::NotFound);
        let start = match status {
            ResumeStatus::Replayed { last_seq, .. } => after.min(last_seq),
            // Too far behind: the client pages history; live from here.
            ResumeStatus::CannotRecover { last_seq, .. } => last_seq,
            ResumeStatus::NotFound => continue,
        };
        cursor.insert(room_id, start);
        statuses.insert(room_id.to_string(), status);
    }

    let ready = serde_json::to_string(&Ready {
        kind: "ready",
        user_id,
        rooms: statuses,
    })
    .unwrap_or_default();
    let first = format!(
        "retry: 1000\nid: {}\nevent: ready\ndata: {ready}\n\n",
        format_cursor(&cursor)
    );
    let (body_tx, body_rx) = mpsc::channel(BODY_CHUNKS);
    // Room for BODY_CHUNKS: the channel is new and empty.
    let _ = body_tx.try_send(Bytes::from(first));
    let pump = Pump {
        rx,
        ordering: Ordering::default(),
        cursor,
        kick: conn.kick.clone(),
        shutdown: app.shutdown.clone(),
        _registered: registered,
    };
    tokio::spawn(pump.run(body_tx));

    let mut response = Response::new(Body::new(EventBody { rx: body_rx }));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Proxies that buffer responses would hold events back.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(Reply::raw(response))
}

/// Turns the connection's queue into SSE text for the body.
struct Pump {
    rx: QueueReceiver<Outgoing>,
    /// Keeps replays and live frames of a room in order, each seq once.
    ordering: Ordering,
    cursor: Cursor,
    kick: Kick,
    shutdown: CancellationToken,
    _registered: Registered,
}

impl Pump {
    /// Ends when the client goes (the body is dropped), the stream is
    /// kicked (too slow, session ended) or the server drains; dropping
    /// `out` then ends the response.
    async fn run(mut self, out: mpsc::Sender<Bytes>) {
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.reset();
        loop {
            let chunk = tokio::select! {
                biased;
                _ = out.closed() => break,
                _ = self.shutdown.cancelled() => break,
                _ = self.kick.kicked() => break,
                batch = self.rx.take() => match batch {
                    Some(items) => self.render(items),
                    None => break,
                },
                _ = heartbeat.tick() => Bytes::from_static(b": keepalive\n\n"),
            };
            if chunk.is_empty() {
                continue;
            }
            tokio::select! {
                sent = out.send(chunk) => if sent.is_err() { break },
                // A client that stopped reading is kicked once its frame
                // queue fills; stop waiting for it.
                _ = self.kick.kicked() => break,
            }
        }
    }

    fn render(&mut self, items: impl IntoIterator<Item = Outgoing>) -> Bytes {
        let mut frames: Vec<(Option<(RoomId, Seq)>, Encoded)> = Vec::new();
        for item in items {
            self.ordering.accept(item, &mut frames);
        }
        let mut text = String::new();
        for (at, frame) in frames {
            let json = frame.get(Format::Json);
            if let Some((room, seq)) = at {
                let newest = self.cursor.entry(room).or_default();
                *newest = (*newest).max(seq);
                let _ = writeln!(text, "id: {}", format_cursor(&self.cursor));
            }
            let _ = writeln!(text, "event: {}", frame_type(json));
            text.push_str("data: ");
            // JSON from serde_json escapes newlines, so it is one line.
            text.push_str(&String::from_utf8_lossy(json));
            text.push_str("\n\n");
        }
        Bytes::from(text)
    }
}

/// The response body: chunks from the pump, until it stops.
struct EventBody {
    rx: mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for EventBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, Self::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|bytes| Ok(Frame::data(bytes))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_bad_ones_are_refused() {
        let c = parse_cursor("3:17, 5:2,9:0").unwrap();
        assert_eq!(c, Cursor::from([(3, 17), (5, 2), (9, 0)]));
        assert_eq!(format_cursor(&c), "3:17,5:2");
        assert!(parse_cursor("").unwrap().is_empty());
        assert_eq!(format_cursor(&Cursor::from([(4, 0)])), "-");
        assert!(parse_cursor("-").unwrap().is_empty());
        for bad in ["x", "3:", "3:-1", "a:1", "1:2;3:4"] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn frame_type_is_read_from_the_tag() {
        assert_eq!(
            frame_type(br#"{"type":"message_created","x":1}"#),
            "message_created"
        );
        assert_eq!(frame_type(b"[]"), "message");
    }
}
