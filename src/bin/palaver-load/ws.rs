//! WebSocket client plumbing shared by the scenarios: connecting from a
//! spread of loopback source addresses, the first-frame handshake, frame
//! parsing, raising the fd limit, and the pipelined sender used by
//! `persist` and by `history` to fill its room.

use crate::stats::{now_us, Hist};
use anyhow::Context as _;
use futures_util::{FutureExt, SinkExt, StreamExt};
use serde::Deserialize;
use std::borrow::Cow;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

pub type Ws = WebSocketStream<TcpStream>;

/// How long a connect + upgrade + first frame may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Most connections being opened at once during setup.
pub const CONNECT_CONCURRENCY: usize = 200;

/// Small read buffers: thousands of these live in one process. Writes are
/// buffered until an explicit flush, so a batch is one syscall.
pub fn client_config(read_buffer: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(read_buffer)
        .write_buffer_size(64 * 1024)
        .max_write_buffer_size(4 << 20)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

/// 127.0.0.2 ..= 127.0.0.254 by connection index, so many connections do
/// not share one source address's ephemeral ports.
pub fn source_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 2 + (i % 253) as u8)
}

/// TCP connect from `source` (port chosen by the kernel), then the upgrade
/// to `ws://ADDR{path}`.
pub async fn connect(
    addr: SocketAddr,
    path: &str,
    source: Option<Ipv4Addr>,
    read_buffer: usize,
) -> anyhow::Result<Ws> {
    let socket = TcpSocket::new_v4().context("socket")?;
    if let Some(ip) = source {
        socket
            .bind(SocketAddrV4::new(ip, 0).into())
            .with_context(|| format!("bind {ip}:0"))?;
    }
    let tcp = socket
        .connect(addr)
        .await
        .with_context(|| format!("connect {addr}"))?;
    tcp.set_nodelay(true)?;
    let url = format!("ws://{addr}{path}");
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(url, tcp, Some(client_config(read_buffer)))
            .await
            .context("websocket upgrade")?;
    Ok(ws)
}

/// The next text frame (skipping pings and pongs); None when the socket ends.
pub async fn next_text(ws: &mut Ws) -> anyhow::Result<Option<Utf8Bytes>> {
    loop {
        match ws.next().await {
            None => return Ok(None),
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(Message::Text(t))) => return Ok(Some(t)),
            Some(Ok(Message::Close(frame))) => {
                anyhow::bail!("closed by the server: {frame:?}")
            }
            Some(Ok(_)) => continue,
        }
    }
}

/// Frames that arrived on a new socket before the server's auth ack (which
/// should be the first frame); reported, since it is a server bug.
pub static FRAMES_BEFORE_ACK: AtomicU64 = AtomicU64::new(0);
static FIRST_FRAME_BEFORE_ACK: Mutex<Option<String>> = Mutex::new(None);

/// The first frame seen before an auth ack, if any.
pub fn first_frame_before_ack() -> Option<String> {
    FIRST_FRAME_BEFORE_ACK.lock().ok()?.clone()
}

/// Connects and waits for the server's auth ack, `{"type":"ack",...}`,
/// which should be the first frame. Returns the socket and the `userId`
/// it names (0 from the relay).
pub async fn connect_authenticated(
    addr: SocketAddr,
    path: &str,
    source: Option<Ipv4Addr>,
    read_buffer: usize,
) -> anyhow::Result<(Ws, i64)> {
    let fut = async {
        let mut ws = connect(addr, path, source, read_buffer).await?;
        loop {
            let text = next_text(&mut ws)
                .await?
                .context("socket closed before the auth ack")?;
            let frame: InFrame = serde_json::from_str(text.as_str())
                .with_context(|| format!("not a server frame: {}", text.as_str()))?;
            match frame.ty.as_ref() {
                "ack" if frame.request_id.is_none() => return Ok((ws, frame.user_id.unwrap_or(0))),
                "error" => anyhow::bail!("refused: {}", text.as_str()),
                _ => {
                    // Not first, as it should be: note it and keep waiting.
                    FRAMES_BEFORE_ACK.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut first) = FIRST_FRAME_BEFORE_ACK.lock() {
                        first.get_or_insert_with(|| text.as_str().to_owned());
                    }
                }
            }
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT, fut)
        .await
        .map_err(|_| anyhow::anyhow!("no ack within {CONNECT_TIMEOUT:?}"))?
}

/// Sends a close frame and reads until the server ends the socket (at
/// most `wait`).
pub async fn close(mut ws: Ws, wait: Duration) {
    let _ = tokio::time::timeout(wait, async {
        let _ = ws.close(None).await;
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

/// A server frame, borrowing from the received text where it can.
#[derive(Deserialize)]
pub struct InFrame<'a> {
    #[serde(rename = "type", borrow)]
    pub ty: Cow<'a, str>,
    #[serde(default, rename = "requestId", borrow)]
    pub request_id: Option<Cow<'a, str>>,
    #[serde(default, rename = "userId")]
    pub user_id: Option<i64>,
    #[serde(default, borrow)]
    pub message: Option<InMessage<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InMessage<'a> {
    pub room_id: i64,
    pub seq: u64,
    #[serde(default)]
    pub sender_id: Option<i64>,
    #[serde(borrow)]
    pub content: Cow<'a, str>,
}

/// Content of a load message: the send time in µs (see `now_us`) first,
/// then padding up to `bytes`.
pub fn content(bytes: usize) -> String {
    let mut s = String::with_capacity(bytes);
    push_content(&mut s, bytes);
    s
}

/// Appends a [`content`] of `bytes` bytes to `out`.
fn push_content(out: &mut String, bytes: usize) {
    use std::fmt::Write as _;
    let start = out.len();
    // Writing to a String cannot fail.
    let _ = write!(out, "{}", now_us());
    let written = out.len() - start;
    if written < bytes {
        out.push(' ');
        out.extend(std::iter::repeat_n('x', bytes - written - 1));
    }
}

/// The send time a `content` carries.
pub fn sent_at(content: &str) -> Option<u64> {
    let end = content
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(content.len());
    content[..end].parse().ok()
}

/// Where a message's `messageId` comes from.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum MessageIds {
    /// Random UUIDv4 from the client, as browsers' crypto.randomUUID() makes
    #[default]
    V4,
    /// Time-ordered UUIDv7 from the client
    V7,
    /// None sent: the server assigns a UUIDv7
    Server,
}

/// A `create_message` frame with a timestamped content.
///
/// Written straight into one string: building a `serde_json::Value` map
/// and printing it cost the load generator, which shares the CPUs with the
/// server it measures, about as much as the rest of its work per message.
/// Every piece is digits, ASCII padding or a UUID, so nothing needs escaping.
pub fn create_message(
    request_id: u64,
    room_id: i64,
    content_bytes: usize,
    ids: MessageIds,
) -> Message {
    use std::fmt::Write as _;
    let mut frame = String::with_capacity(content_bytes + 160);
    // Writing to a String cannot fail.
    let _ = write!(
        frame,
        r#"{{"action":"create_message","requestId":"{request_id}","roomId":{room_id},"content":""#
    );
    push_content(&mut frame, content_bytes);
    frame.push('"');
    let id = match ids {
        MessageIds::V4 => Some(uuid::Uuid::new_v4()),
        MessageIds::V7 => Some(uuid::Uuid::now_v7()),
        MessageIds::Server => None,
    };
    if let Some(id) = id {
        let mut buffer = uuid::Uuid::encode_buffer();
        frame.push_str(r#","messageId":""#);
        frame.push_str(id.hyphenated().encode_lower(&mut buffer));
        frame.push('"');
    }
    frame.push('}');
    Message::Text(frame.into())
}

/// Whether a text frame is a `message_created` echo. serde writes an
/// internally tagged frame's `type` first, so the prefix tells without
/// parsing the message; any other spelling still gets the full parse.
pub fn is_echo(text: &str) -> bool {
    text.starts_with(r#"{"type":"message_created""#)
}

/// Raises RLIMIT_NOFILE's soft limit to the hard limit (first trying to
/// raise the hard limit to `want`, which root may). Returns the soft limit.
// rlim_t is u64 on 64-bit Linux but not everywhere.
#[allow(clippy::unnecessary_cast)]
pub fn raise_fd_limit(want: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid resource and a pointer to a
    // properly initialised struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_max < want as libc::rlim_t {
            let wanted = libc::rlimit {
                rlim_cur: want as libc::rlim_t,
                rlim_max: want as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) == 0 {
                return want;
            }
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return lim.rlim_max as u64;
            }
        }
        lim.rlim_cur as u64
    }
}

/// The soft RLIMIT_NOFILE of another process, from /proc/PID/limits.
pub fn fd_limit_of(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// What one pipelining sender did.
#[derive(Default)]
pub struct Pipelined {
    pub sent: u64,
    pub acked: u64,
    /// Acks that arrived before the deadline.
    pub acked_in_window: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// The socket ended before every message was answered.
    pub broken: Option<String>,
    pub acks: Option<Hist>,
    /// message_created frames seen (the sender is a member of the room).
    pub echoes: u64,
}

/// What a pipelining sender sends, and for how long.
#[derive(Clone, Copy)]
pub struct PipelinePlan {
    pub room_id: i64,
    pub in_flight: usize,
    pub max: u64,
    pub deadline: Instant,
    /// How long to wait for outstanding answers after the deadline.
    pub grace: Duration,
    pub content_bytes: usize,
    pub ids: MessageIds,
}

/// Sends create_message to the room keeping up to `in_flight` un-answered,
/// until `deadline` or `max` messages; then waits (at most `grace`) for the
/// outstanding answers. Ack latency is send → ack.
pub async fn pipeline(ws: &mut Ws, plan: PipelinePlan) -> Pipelined {
    let PipelinePlan {
        room_id,
        in_flight,
        max,
        deadline,
        grace,
        content_bytes,
        ids,
    } = plan;
    let mut out = Pipelined {
        acks: Some(Hist::new()),
        ..Pipelined::default()
    };
    let hist = out.acks.as_mut().expect("set above");
    let mut outstanding = 0usize;
    let mut next_request = 1u64;
    let drain_until = deadline + grace;
    loop {
        let now = Instant::now();
        let sending = now < deadline && out.sent < max;
        if !sending && outstanding == 0 {
            break;
        }
        if now >= drain_until {
            out.broken = Some(format!(
                "{outstanding} messages unanswered after the grace period"
            ));
            break;
        }
        if sending && outstanding < in_flight {
            let n = (in_flight - outstanding).min((max - out.sent) as usize);
            let mut failed = None;
            for _ in 0..n {
                let msg = create_message(next_request, room_id, content_bytes, ids);
                next_request += 1;
                if let Err(e) = ws.feed(msg).await {
                    failed = Some(e);
                    break;
                }
                out.sent += 1;
                outstanding += 1;
            }
            if let Some(e) = failed.or(ws.flush().await.err()) {
                out.broken = Some(format!("send failed: {e}"));
                break;
            }
        }
        // Wait for one frame (bounded so the deadline is noticed), then
        // take whatever else is already there before sending again.
        let limit = if sending { deadline } else { drain_until };
        let first = match tokio::time::timeout_at(limit.into(), ws.next()).await {
            Err(_) => continue,
            Ok(item) => item,
        };
        let mut item = first;
        loop {
            match item {
                None => {
                    out.broken = Some("the server closed the socket".into());
                    return out;
                }
                Some(Err(e)) => {
                    out.broken = Some(format!("socket error: {e}"));
                    return out;
                }
                Some(Ok(Message::Text(t))) if is_echo(t.as_str()) => out.echoes += 1,
                Some(Ok(Message::Text(t))) => {
                    if let Ok(f) = serde_json::from_str::<InFrame>(t.as_str()) {
                        match f.ty.as_ref() {
                            "ack" => {
                                outstanding = outstanding.saturating_sub(1);
                                out.acked += 1;
                                if Instant::now() <= deadline {
                                    out.acked_in_window += 1;
                                }
                                if let Some(at) =
                                    f.message.as_ref().and_then(|m| sent_at(&m.content))
                                {
                                    hist.record(now_us().saturating_sub(at));
                                }
                            }
                            "error" => {
                                outstanding = outstanding.saturating_sub(1);
                                out.errors += 1;
                                if out.first_error.is_none() {
                                    out.first_error = Some(t.as_str().to_owned());
                                }
                            }
                            "message_created" => out.echoes += 1,
                            _ => {}
                        }
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    out.broken = Some(format!("closed by the server: {frame:?}"));
                    return out;
                }
                Some(Ok(_)) => {}
            }
            match ws.next().now_or_never() {
                Some(next) => item = next,
                None => break,
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written frame is the JSON the server expects, with the
    /// content padded to its size and the send time first.
    #[test]
    fn create_message_writes_a_valid_frame() {
        for ids in [MessageIds::V4, MessageIds::V7, MessageIds::Server] {
            let Message::Text(text) = create_message(42, 7, 64, ids) else {
                panic!("not a text frame");
            };
            let v: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
            assert_eq!(v["action"], "create_message");
            assert_eq!(v["requestId"], "42");
            assert_eq!(v["roomId"], 7);
            let content = v["content"].as_str().unwrap();
            assert_eq!(content.len(), 64);
            assert!(sent_at(content).is_some());
            match ids {
                MessageIds::Server => assert!(v.get("messageId").is_none()),
                _ => assert!(uuid::Uuid::parse_str(v["messageId"].as_str().unwrap()).is_ok()),
            }
        }
    }

    #[test]
    fn echoes_are_told_from_acks_by_their_prefix() {
        assert!(is_echo(r#"{"type":"message_created","message":{}}"#));
        assert!(!is_echo(r#"{"type":"ack","requestId":"1"}"#));
    }
}
