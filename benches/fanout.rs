//! Fan-out of one message to every member of a room, inside the process:
//! the actors and the store as the server runs them, with in-memory
//! connection queues standing in for WebSockets.
//!
//! - `fanout/post/{10,100,1000}`: the path of `service::post_message` —
//!   look up the room actor, `Post` a message — timed until every member's
//!   connection queue holds the `message_created` frame. Each message is
//!   committed on its own (one group commit, `synchronous=NORMAL`, the
//!   server's default) before it is fanned out, so this is the latency of
//!   one message end to end, one message in flight at a time.
//! - `fanout/announce/{10,100,1000}`: the in-memory part alone — an
//!   already-encoded frame handed to the room actor (`Announce`, as
//!   `room_created` uses; the actor looked up through the registry, as for
//!   a post), timed until every member's queue holds it. No store, no
//!   encoding: room mailbox -> one `Deliver` per member's user actor -> the
//!   connection queue.
//!
//! Throughput is deliveries (members reached) per second.
//!
//! Setup per room size: a SQLite store in a temporary directory, N users,
//! one group room of all of them (created through the store), and one fake
//! connection per member registered with the registry (`Connect`). It runs
//! in an actix System on a multi-thread tokio runtime, like `server.rs`.
//!
//! Run with `cargo bench --bench fanout`.

use actix::{Actor, Addr};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use palaver::actors::messages::{Announce, By, ConnHandle, Connect, Kick, Outgoing, Post};
use palaver::actors::{room_actor, ActorLimits, RegistryActor};
use palaver::model::{
    MessageKind, NewMessage, NewRoom, NewUser, RoomId, RoomKind, Timestamp, UserId,
};
use palaver::net::queue::{queue, QueueReceiver};
use palaver::protocol::{Format, ServerFrame};
use palaver::store::sqlite::{Durability, SqliteStore, WriterConfig};
use palaver::store::{Store, StoreHandle};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Room sizes (members, all online with one connection each).
const SIZES: [usize; 3] = [10, 100, 1_000];
/// Per-connection outgoing queue, like a socket writer's.
const CONN_QUEUE: usize = 1024;
/// A round that takes longer than this is a bug (a member never got the
/// frame), not a slow machine: fail instead of hanging the suite.
const ROUND_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether a connection item is a room message frame. The one place that
/// looks inside `Outgoing`.
fn is_room_frame(item: &Outgoing) -> bool {
    matches!(item, Outgoing::RoomFrame { .. })
}

/// One room of `n` online members with its actors running.
struct Room {
    registry: Addr<RegistryActor>,
    store: StoreHandle,
    room_id: RoomId,
    /// The owner; posts every message.
    sender: UserId,
    /// One queue per member: what the member's socket writer would read.
    conns: Vec<QueueReceiver<Outgoing>>,
    kicks: Vec<Kick>,
    posted: u64,
    // Dropped last: the database files live here.
    _dir: TempDir,
}

impl Room {
    /// Must run inside the actix System.
    async fn setup(n: usize) -> Room {
        let started = Instant::now();
        let dir = tempfile::tempdir().expect("cannot create a temporary directory");
        let path = dir.path().to_owned();
        let store: Arc<dyn Store> = tokio::task::spawn_blocking(move || {
            SqliteStore::open(&path, Durability::Normal, WriterConfig::default())
        })
        .await
        .expect("store task panicked")
        .expect("cannot open the store")
        .into_arc();
        let store = StoreHandle::new(store);
        let (users, room_id) = store
            .run(move |s| {
                let users = (0..n)
                    .map(|i| {
                        s.create_user(&NewUser {
                            login: format!("user{i}"),
                            // Never checked: no one logs in.
                            password_hash: "not-a-hash".to_owned(),
                            name: format!("User {i}"),
                            avatar: None,
                        })
                        .map(|u| u.id)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let (details, _) = s.create_room(&NewRoom {
                    kind: RoomKind::Group,
                    name: Some(format!("bench {n}")),
                    public: false,
                    creator_id: users[0],
                    participants: users[1..].to_vec(),
                })?;
                Ok((users, details.room.id))
            })
            .await
            .expect("cannot create users and the room");

        let registry = RegistryActor::new(
            store.clone(),
            ActorLimits::default(),
            Arc::new(palaver::clock::Clock::new(false)),
        )
        .start();
        let mut conns = Vec::with_capacity(n);
        let mut kicks = Vec::with_capacity(n);
        for (i, &user_id) in users.iter().enumerate() {
            let (tx, rx) = queue(CONN_QUEUE);
            // JSON is the default subprotocol; session 0 is never ended here.
            let conn = ConnHandle::new(i as u64 + 1, tx, Format::Json, 0);
            let kick = conn.kick.clone();
            registry
                .send(Connect { user_id, conn })
                .await
                .expect("registry mailbox closed")
                .expect("connect failed");
            conns.push(rx);
            kicks.push(kick);
        }
        let mut room = Room {
            registry,
            store,
            room_id,
            sender: users[0],
            conns,
            kicks,
            posted: 0,
            _dir: dir,
        };
        // Starts the room actor, and proves every member is reached before
        // anything is measured.
        room.post().await;
        eprintln!(
            "fanout: room of {n} members ready in {:.2} s",
            started.elapsed().as_secs_f64()
        );
        room
    }

    async fn post(&mut self) -> Duration {
        self.posted += 1;
        let message = NewMessage {
            message_id: uuid::Uuid::now_v7().to_string(),
            sender_id: Some(self.sender),
            kind: MessageKind::Text,
            content: format!(
                "Message {}: are we still on for lunch tomorrow at noon, the usual place?",
                self.posted
            ),
            reply_id: None,
            forward_of: None,
            file_id: None,
            preview: None,
            created_at: Timestamp::now(),
            auto_reply: false,
        };
        let start = Instant::now();
        let round = async {
            // What service::post_message does.
            let room = room_actor(&self.registry, &self.store, self.room_id)
                .await
                .expect("no room actor");
            room.send(Post {
                by: By::Member(self.sender),
                message,
            })
            .await
            .expect("room mailbox closed")
            .expect("post failed");
            self.receive_all(is_room_frame).await;
        };
        tokio::time::timeout(ROUND_TIMEOUT, round)
            .await
            .expect("a member never received the message");
        start.elapsed()
    }

    async fn announce(&mut self, frame: &Announce) -> Duration {
        let start = Instant::now();
        let round = async {
            let room = room_actor(&self.registry, &self.store, self.room_id)
                .await
                .expect("no room actor");
            room.send(Announce {
                frame: frame.frame.clone(),
            })
            .await
            .expect("room mailbox closed");
            // Nothing else is sent to these connections: any item is it.
            self.receive_all(|_| true).await;
        };
        tokio::time::timeout(ROUND_TIMEOUT, round)
            .await
            .expect("a member never received the announcement");
        start.elapsed()
    }

    /// Waits until every connection received one item that `wanted`.
    async fn receive_all(&mut self, wanted: fn(&Outgoing) -> bool) {
        for (rx, kick) in self.conns.iter_mut().zip(&self.kicks) {
            loop {
                match rx.take().await {
                    Some(batch) if batch.iter().any(wanted) => break,
                    Some(_) => {}
                    None => panic!("a connection queue closed"),
                }
            }
            assert!(!kick.is_kicked(), "a member was kicked (fell behind)");
        }
    }
}

/// A pre-encoded frame the size of a real message frame.
fn announcement() -> Announce {
    let message = NewMessage {
        message_id: uuid::Uuid::now_v7().to_string(),
        sender_id: Some(1),
        kind: MessageKind::Text,
        content: "Message 1: are we still on for lunch tomorrow at noon, the usual place?"
            .to_owned(),
        reply_id: None,
        forward_of: None,
        file_id: None,
        preview: None,
        created_at: Timestamp::now(),
        auto_reply: false,
    }
    .into_message(1, 1);
    Announce {
        frame: ServerFrame::MessageCreated { message: &message }.encode(),
    }
}

fn fanout(c: &mut Criterion) {
    let system = actix_rt::System::with_tokio_rt(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("bench-worker")
            .build()
            .expect("cannot build the tokio runtime")
    });
    // Rooms are set up on first use, so a filter skips their setup too.
    let mut rooms: HashMap<usize, Room> = HashMap::new();
    let announcement = announcement();
    let mut group = c.benchmark_group("fanout");
    for n in SIZES {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("post", n), |b| {
            let room = rooms
                .entry(n)
                .or_insert_with(|| system.block_on(Room::setup(n)));
            b.iter_custom(|iters| {
                system.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += room.post().await;
                    }
                    total
                })
            })
        });
    }
    for n in SIZES {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("announce", n), |b| {
            let room = rooms
                .entry(n)
                .or_insert_with(|| system.block_on(Room::setup(n)));
            b.iter_custom(|iters| {
                system.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += room.announce(&announcement).await;
                    }
                    total
                })
            })
        });
    }
    group.finish();
    for (_, room) in rooms.drain() {
        // Before the room (and its temporary directory) goes.
        room.store.blocking().flush_and_stop();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = fanout
}
criterion_main!(benches);
