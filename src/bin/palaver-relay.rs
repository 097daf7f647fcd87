//! `palaver-relay`: the transport ceiling palaver's fan-out is compared
//! against. A bare broadcast server over tokio-tungstenite — no auth, no
//! store, no actors, no parsing: the request path names the room, and
//! every text or binary frame a member sends is forwarded, as the same
//! shared bytes, to every member of that room including the sender.
//!
//! Like palaver it bounds each connection's outgoing queue (`try_send`; a
//! member whose queue is full is disconnected), uses a small read buffer
//! and a 64 KiB message limit, and greets each connection with one
//! `{"type":"ack","userId":0}` frame once it is in its room, so a client
//! knows when broadcasts will reach it.
//!
//! `palaver-relay --addr 127.0.0.1:0` prints `palaver-relay listening on
//! ADDR` on stdout once it accepts connections.

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};

/// The same allocator as the palaver server, so the comparison measures
/// the server's work, not the allocators.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;

/// Largest frame accepted, as in palaver.
const MAX_FRAME_BYTES: usize = 64 * 1024;

#[derive(Parser)]
#[command(
    name = "palaver-relay",
    version,
    about = "Bare WebSocket broadcast relay: frames sent to /ROOM go to every connection on /ROOM"
)]
struct Cli {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8082")]
    addr: SocketAddr,
    /// Frames queued for one connection before it counts as too slow and is closed
    #[arg(long, default_value_t = 1024)]
    queue_frames: usize,
}

/// Same spirit as palaver's socket settings: small read buffer, bounded
/// writes, 64 KiB messages.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES))
}

type Members = RwLock<Vec<(u64, mpsc::Sender<Message>)>>;

#[derive(Default)]
struct Rooms {
    by_path: Mutex<HashMap<String, Arc<Members>>>,
}

impl Rooms {
    fn join(&self, path: &str, id: u64, tx: mpsc::Sender<Message>) -> Arc<Members> {
        let room = self
            .by_path
            .lock()
            .expect("rooms lock")
            .entry(path.to_owned())
            .or_default()
            .clone();
        room.write().expect("room lock").push((id, tx));
        room
    }

    fn leave(&self, path: &str, room: &Members, id: u64) {
        let empty = {
            let mut members = room.write().expect("room lock");
            members.retain(|(m, _)| *m != id);
            members.is_empty()
        };
        if empty {
            let mut rooms = self.by_path.lock().expect("rooms lock");
            // Someone may have joined since; only drop a room still empty.
            if rooms
                .get(path)
                .is_some_and(|r| r.read().expect("room lock").is_empty())
            {
                rooms.remove(path);
            }
        }
    }
}

/// Hands `msg` to every member without waiting; members whose queue is
/// full are dropped from the room, which closes their connection.
fn broadcast(room: &Members, msg: &Message) {
    let mut full = Vec::new();
    for (id, tx) in room.read().expect("room lock").iter() {
        // Message clones share the payload bytes.
        if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(msg.clone()) {
            full.push(*id);
        }
    }
    if !full.is_empty() {
        room.write()
            .expect("room lock")
            .retain(|(id, _)| !full.contains(id));
    }
}

async fn serve(
    stream: TcpStream,
    rooms: Arc<Rooms>,
    id: u64,
    queue: usize,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let _ = stream.set_nodelay(true);
    let mut path = String::new();
    // The handshake callback's Result type is fixed by tungstenite.
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        path = req.uri().path().to_owned();
        Ok(resp)
    };
    let ws = tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(ws_config()))
        .await?;
    let (mut sink, mut source) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Message>(queue);
    let room = rooms.join(&path, id, tx);
    sink.send(Message::text(r#"{"type":"ack","userId":0}"#))
        .await?;
    let result = loop {
        tokio::select! {
            item = source.next() => match item {
                Some(Ok(msg @ (Message::Text(_) | Message::Binary(_)))) => broadcast(&room, &msg),
                Some(Ok(Message::Close(_))) | None => break Ok(()),
                Some(Ok(_)) => {} // ping/pong: answered by tungstenite
                Some(Err(e)) => break Err(e),
            },
            item = rx.recv() => match item {
                Some(msg) => {
                    // Write everything queued, then flush once.
                    let mut r = sink.feed(msg).await;
                    while r.is_ok() {
                        match rx.try_recv() {
                            Ok(more) => r = sink.feed(more).await,
                            Err(_) => break,
                        }
                    }
                    if let Err(e) = r.and(sink.flush().await) {
                        break Err(e);
                    }
                }
                None => {
                    // Dropped from the room: too slow.
                    let _ = sink
                        .send(Message::Close(Some(CloseFrame {
                            code: CloseCode::Policy,
                            reason: "connection too slow".into(),
                        })))
                        .await;
                    break Ok(());
                }
            },
        }
    };
    rooms.leave(&path, &room, id);
    let _ = sink.close().await;
    result
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if cli.queue_frames == 0 {
        eprintln!("palaver-relay: --queue-frames must be at least 1");
        return std::process::ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("palaver-relay")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("palaver-relay: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result: std::io::Result<()> = runtime.block_on(async move {
        let listener = TcpListener::bind(cli.addr).await?;
        let addr = listener.local_addr()?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "palaver-relay listening on {addr}")?;
            out.flush()?;
        }
        let rooms = Arc::new(Rooms::default());
        let ids = AtomicU64::new(1);
        let shutdown = tokio::signal::ctrl_c();
        tokio::pin!(shutdown);
        loop {
            let (stream, _) = tokio::select! {
                _ = &mut shutdown => return Ok(()),
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors and the like: pause, don't spin.
                        eprintln!("palaver-relay: accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let id = ids.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(serve(stream, rooms.clone(), id, cli.queue_frames));
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("palaver-relay: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
