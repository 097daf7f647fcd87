//! Benchmarks of the SQLite store, below the actors.
//!
//! - `group_commit/{normal,full}/{1,100,1000}`: one `RoomBatch` of that many
//!   `Post` ops submitted to the group-commit writer, timed until its reply
//!   arrives. One batch alone at the writer is one transaction, so this is
//!   the cost of one commit carrying n messages, with `synchronous=NORMAL`
//!   and `synchronous=FULL`. Throughput is messages per second. The search
//!   indexer works beside the writer on its own thread and file, so its
//!   work shows here only as competition for the CPU; how long it takes to
//!   drain what it was handed is printed when each durability is done.
//! - `history/{latest,before,page}`: a 50-message page of a room holding
//!   1,000,000 messages (`PALAVER_BENCH_HISTORY_MESSAGES` overrides the
//!   count), read through `Store::history` — pool checkout included — with
//!   `HistoryCursor::Latest`, `Before(random seq)` and `Page(random page)`.
//!   The room is filled once, through the writer, in batches of 10,000; that
//!   takes a while and its duration is printed.
//!
//! The database lives in a fresh temporary directory (`TMPDIR` picks where;
//! put it on the disk you want to measure — `full` on tmpfs measures no
//! fsync at all).
//!
//! Run with `cargo bench --bench store`.

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use palaver::model::{
    HistoryCursor, MessageKind, NewMessage, NewRoom, NewUser, RoomId, RoomKind, Seq, Timestamp,
    UserId,
};
use palaver::store::sqlite::{Durability, SqliteStore, WriterConfig};
use palaver::store::{OpOutcome, RoomBatch, RoomOp, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Messages in the history room unless PALAVER_BENCH_HISTORY_MESSAGES says
/// otherwise.
const HISTORY_MESSAGES: u64 = 1_000_000;
/// Ops per batch while filling the history room.
const FILL_BATCH: u64 = 10_000;
/// Messages per history page, the API's usual page size.
const PAGE: u32 = 50;

/// A message as a client would send it: a fresh UUIDv7 messageId (what the
/// server generates when the client gives none) and a sentence of text.
fn new_message(sender: UserId, i: u64) -> NewMessage {
    NewMessage {
        message_id: uuid::Uuid::now_v7().to_string(),
        sender_id: Some(sender),
        kind: MessageKind::Text,
        content: format!(
            "Message {i}: are we still on for lunch tomorrow at noon, the usual place?"
        ),
        reply_id: None,
        forward_of: None,
        file_id: None,
        preview: None,
        created_at: Timestamp::now(),
        auto_reply: false,
    }
}

/// A store in a temporary directory with two users and a group room.
struct Fixture {
    store: SqliteStore,
    room: RoomId,
    users: [UserId; 2],
    /// The seq the writer gives the next inserted message.
    next_seq: Seq,
    // Dropped last: the database files live here.
    _dir: TempDir,
}

impl Fixture {
    fn new(durability: Durability) -> Self {
        let dir = tempfile::tempdir().expect("cannot create a temporary directory");
        let store = SqliteStore::open(dir.path(), durability, WriterConfig::default())
            .expect("cannot open the store");
        let mut users = [0; 2];
        for (i, login) in ["alice", "bob"].into_iter().enumerate() {
            let user = store
                .create_user(&NewUser {
                    login: login.to_owned(),
                    // Never checked here: no one logs in.
                    password_hash: "not-a-hash".to_owned(),
                    name: login.to_owned(),
                    avatar: None,
                })
                .expect("cannot create a user");
            users[i] = user.id;
        }
        let (details, created) = store
            .create_room(&NewRoom {
                kind: RoomKind::Group,
                name: Some("bench".to_owned()),
                public: false,
                creator_id: users[0],
                participants: vec![users[1]],
            })
            .expect("cannot create the room");
        assert!(created);
        let room = details.room.id;
        let next_seq = store.last_seq(room).expect("last_seq") + 1;
        Fixture {
            store,
            room,
            users,
            next_seq,
            _dir: dir,
        }
    }

    /// `n` posts, alternating between the two users.
    fn posts(&self, n: u64) -> Vec<RoomOp> {
        (0..n)
            .map(|i| {
                let seq = self.next_seq + i;
                RoomOp::Post(new_message(self.users[(seq % 2) as usize], seq))
            })
            .collect()
    }

    /// Submits one batch and waits for its commit; returns how long that
    /// took (submit to reply). Panics unless every op was inserted.
    fn commit(&mut self, ops: Vec<RoomOp>) -> Duration {
        let n = ops.len() as u64;
        let batch = RoomBatch {
            room_id: self.room,
            next_seq: self.next_seq,
            next_rev: 1,
            ops,
        };
        let start = Instant::now();
        let reply = self.store.submit(batch).expect("submit failed");
        let outcomes = reply
            .blocking_recv()
            .expect("the writer dropped the batch")
            .expect("the commit failed");
        let elapsed = start.elapsed();
        let last = match outcomes.last() {
            Some(OpOutcome::Inserted(m)) => m.seq,
            other => panic!("expected an inserted message, got {other:?}"),
        };
        let inserted = outcomes
            .iter()
            .filter(|o| matches!(o, OpOutcome::Inserted(_)))
            .count() as u64;
        assert_eq!(inserted, n, "some posts were not inserted");
        assert_eq!(last, self.next_seq + n - 1, "unexpected seqs");
        self.next_seq += n;
        elapsed
    }

    fn stop(self) {
        self.store.flush_and_stop();
    }
}

fn group_commit(c: &mut Criterion) {
    let mut group = c.benchmark_group("group_commit");
    // Commits take up to tens of milliseconds (an fsync or two): the same
    // number of iterations per sample fits them in the measurement time.
    group.sampling_mode(SamplingMode::Flat);
    for (name, durability) in [("normal", Durability::Normal), ("full", Durability::Full)] {
        // Created on first use, so a filter that skips these benches skips
        // the setup too.
        let mut fixture: Option<Fixture> = None;
        for n in [1u64, 100, 1_000] {
            group.throughput(Throughput::Elements(n));
            group.bench_function(BenchmarkId::new(name, n), |b| {
                let f = fixture.get_or_insert_with(|| Fixture::new(durability));
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        // Building the ops is not part of the commit.
                        let ops = f.posts(n);
                        total += f.commit(ops);
                    }
                    total
                })
            });
        }
        if let Some(f) = fixture {
            let start = Instant::now();
            f.stop();
            eprintln!(
                "group_commit/{name}: writer and indexer drained in {:.2} s",
                start.elapsed().as_secs_f64()
            );
        }
    }
    group.finish();
}

fn history_messages() -> u64 {
    match std::env::var("PALAVER_BENCH_HISTORY_MESSAGES") {
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .ok()
            .filter(|n| *n >= u64::from(PAGE))
            .unwrap_or_else(|| {
                panic!("PALAVER_BENCH_HISTORY_MESSAGES must be a number >= {PAGE}, not {v:?}")
            }),
        Err(_) => HISTORY_MESSAGES,
    }
}

/// A room holding `total` messages, filled through the writer.
fn history_fixture(total: u64) -> Fixture {
    let mut f = Fixture::new(Durability::Normal);
    eprintln!("history: filling a room with {total} messages in batches of {FILL_BATCH}...");
    let start = Instant::now();
    let mut left = total;
    while left > 0 {
        let n = left.min(FILL_BATCH);
        let ops = f.posts(n);
        f.commit(ops);
        left -= n;
    }
    let took = start.elapsed();
    eprintln!(
        "history: filled {total} messages in {:.1} s ({:.0} messages/s)",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64()
    );
    f
}

fn history(c: &mut Criterion) {
    let total = history_messages();
    let pages = total / u64::from(PAGE);
    // Filled on first use, so a filter that skips these benches skips the
    // (long) fill too.
    let mut fixture: Option<Fixture> = None;
    let mut group = c.benchmark_group("history");
    group.throughput(Throughput::Elements(u64::from(PAGE)));

    let page = |f: &Fixture, cursor: HistoryCursor| {
        f.store
            .history(f.room, cursor, PAGE)
            .expect("history failed")
    };
    // Criterion calls each closure below once per sample: the generators
    // live out here so the samples do not replay the same cursors.
    let mut before_rng = StdRng::seed_from_u64(1);
    let mut page_rng = StdRng::seed_from_u64(2);

    group.bench_function("latest", |b| {
        let f = &*fixture.get_or_insert_with(|| history_fixture(total));
        let newest = page(f, HistoryCursor::Latest);
        assert_eq!((newest.len(), newest[0].seq), (PAGE as usize, total));
        b.iter(|| black_box(page(f, HistoryCursor::Latest)))
    });
    group.bench_function("before", |b| {
        let f = &*fixture.get_or_insert_with(|| history_fixture(total));
        // Any seq that still has a full page below it; total + 1 is "before
        // the end", i.e. the newest page.
        let first = u64::from(PAGE) + 1;
        assert_eq!(page(f, HistoryCursor::Before(first))[0].seq, first - 1);
        b.iter(|| {
            let before = before_rng.random_range(first..=total + 1);
            black_box(page(f, HistoryCursor::Before(before)))
        })
    });
    group.bench_function("page", |b| {
        let f = &*fixture.get_or_insert_with(|| history_fixture(total));
        assert_eq!(page(f, HistoryCursor::Page(pages)).len(), PAGE as usize);
        b.iter(|| {
            let n = page_rng.random_range(1..=pages);
            black_box(page(f, HistoryCursor::Page(n)))
        })
    });
    group.finish();
    if let Some(f) = fixture {
        f.stop();
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
    targets = group_commit, history
}
criterion_main!(benches);
