//! `fanout`: N clients in R rooms (round-robin), S senders per room posting
//! at a fixed rate. Every client checks it receives each (room, seq) once;
//! at the end every acked message must have reached every online member.
//!
//! With `--relay` the same accounting runs against `palaver-relay`: no
//! auth and no setup; a client joins room r by connecting to `/r`; a sender
//! sends a ready-made `message_created` frame whose `seq` it numbers itself
//! (`counter * S + sender_index + 1`, unique per room), and its own copy
//! coming back counts as its ack.

use crate::api::{login_prefix, Api};
use crate::stats::{now_us, round2, round4, CpuWindow, Hist, Report};
use crate::ws::{self, InFrame, Ws};
use crate::{Common, Target};
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

#[derive(clap::Args, Debug)]
pub struct Opts {
    /// WebSocket clients; client i is a member of room i % rooms
    #[arg(long, default_value_t = 200)]
    clients: usize,
    /// Rooms
    #[arg(long, default_value_t = 10)]
    rooms: usize,
    /// Senders per room (the first members of each room)
    #[arg(long, default_value_t = 2)]
    senders: usize,
    /// Messages per second per sender
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// Most messages one sender sends
    #[arg(long, default_value_t = 1_000_000)]
    max_messages: u64,
    /// Bytes of message content (send timestamp plus padding)
    #[arg(long, default_value_t = 64)]
    content_bytes: usize,
    /// Longest wait for outstanding acks and deliveries after the senders stop
    #[arg(long, default_value_t = 2.0)]
    drain_secs: f64,
    /// Drive palaver-relay at --ws: no auth, no REST setup, rooms are paths
    #[arg(long)]
    relay: bool,
}

/// Counters every client task updates, read by the drain loop.
struct Shared {
    /// First receipts of load messages, all clients.
    deliveries: AtomicU64,
    sent: AtomicU64,
    /// Acks plus errors.
    answered: AtomicU64,
    acked_per_room: Vec<AtomicU64>,
    senders_done: AtomicU64,
}

#[derive(Clone, Copy)]
struct SenderSpec {
    /// Index among the room's senders (numbers relay seqs).
    index: u64,
    senders_in_room: u64,
    first_tick: Instant,
}

struct ClientSpec {
    idx: usize,
    room_idx: usize,
    /// The server's room id (palaver) or the room number (relay).
    room_id: i64,
    sender: Option<SenderSpec>,
}

struct Plan {
    relay: bool,
    period: Duration,
    max_messages: u64,
    content_bytes: usize,
    send_deadline: Instant,
}

/// Seqs seen, as a growable bit set.
#[derive(Default)]
struct Seen(Vec<u64>);

impl Seen {
    /// Marks `seq`; false when it was already marked.
    fn insert(&mut self, seq: u64) -> bool {
        let (w, b) = ((seq / 64) as usize, seq % 64);
        if w >= self.0.len() {
            self.0.resize(w + 1, 0);
        }
        let had = self.0[w] & (1 << b) != 0;
        self.0[w] |= 1 << b;
        !had
    }

    fn contains(&self, seq: u64) -> bool {
        let (w, b) = ((seq / 64) as usize, seq % 64);
        self.0.get(w).is_some_and(|x| x & (1 << b) != 0)
    }
}

#[derive(Default)]
struct ClientOut {
    room_idx: usize,
    seen: Seen,
    latency: Option<Hist>,
    ack_latency: Option<Hist>,
    acked_seqs: Vec<u64>,
    deliveries: u64,
    duplicates: u64,
    foreign: u64,
    sent: u64,
    errors: u64,
    first_error: Option<String>,
    /// Why the socket ended before the run did.
    disconnected: Option<String>,
}

pub async fn run(target: &Target, common: &Common, o: Opts) -> anyhow::Result<Report> {
    anyhow::ensure!(
        (1..=100_000).contains(&o.clients),
        "--clients must be 1..=100000"
    );
    anyhow::ensure!(
        (1..=o.clients).contains(&o.rooms),
        "--rooms must be 1..=clients"
    );
    anyhow::ensure!(o.senders >= 1, "--senders must be at least 1");
    anyhow::ensure!(
        o.rate > 0.0 && o.rate <= 100_000.0,
        "--rate must be in (0, 100000]"
    );
    anyhow::ensure!(
        (16..=4000).contains(&o.content_bytes),
        "--content-bytes must be 16..=4000"
    );
    let fd_limit = ws::raise_fd_limit(o.clients as u64 + 1024);
    anyhow::ensure!(
        (o.clients as u64) + 64 < fd_limit,
        "--clients {} needs more file descriptors than the limit {fd_limit}",
        o.clients
    );
    let duration = Duration::from_secs_f64(common.duration_secs.unwrap_or(10.0));
    let api = (!o.relay).then(|| Api::new(target.http));
    let result = run_inner(target, &o, duration, api.as_ref()).await;
    let cleanup = match &api {
        Some(api) => Some(api.cleanup().await),
        None => None,
    };
    let mut report = result?;
    if let Some(c) = cleanup {
        eprintln!("palaver-load: {c}");
        report.note(c);
    }
    Ok(report)
}

async fn run_inner(
    target: &Target,
    o: &Opts,
    duration: Duration,
    api: Option<&Api>,
) -> anyhow::Result<Report> {
    // Room membership: client i is in room i % R.
    let members: Vec<Vec<usize>> = (0..o.rooms)
        .map(|r| (r..o.clients).step_by(o.rooms).collect())
        .collect();

    // Setup: users and rooms over REST (palaver), or nothing (relay).
    let (room_ids, paths, user_ids): (Vec<i64>, Vec<String>, Vec<i64>) = match api {
        Some(api) => {
            let users = api.users(&login_prefix(), o.clients).await?;
            let mut room_ids = Vec::with_capacity(o.rooms);
            for (r, m) in members.iter().enumerate() {
                let owner = &users[m[0]];
                let others: Vec<_> = m[1..].iter().map(|&i| &users[i]).collect();
                room_ids.push(
                    api.room(owner, &others, &format!("load fanout {r}"))
                        .await?,
                );
            }
            let paths = users
                .iter()
                .map(|u| format!("/?token={}", u.token))
                .collect();
            (room_ids, paths, users.iter().map(|u| u.id).collect())
        }
        None => (
            (0..o.rooms as i64).collect(),
            (0..o.clients)
                .map(|i| format!("/{}", i % o.rooms))
                .collect(),
            vec![0; o.clients],
        ),
    };

    let connect_started = Instant::now();
    let sockets = connect_all(target, paths, 16 * 1024).await?;
    for (i, (_, uid)) in sockets.iter().enumerate() {
        anyhow::ensure!(
            *uid == user_ids[i],
            "client {i}: the server acked user {uid}, expected {}",
            user_ids[i]
        );
    }
    eprintln!(
        "palaver-load: {} clients connected in {:.1}s",
        sockets.len(),
        connect_started.elapsed().as_secs_f64()
    );

    // Senders: the first S members of each room, their first ticks spread
    // evenly over one period so the load is smooth.
    let period = Duration::from_secs_f64(1.0 / o.rate);
    let start = Instant::now() + Duration::from_millis(200);
    let send_deadline = start + duration;
    let total_senders: usize = members.iter().map(|m| m.len().min(o.senders)).sum();
    let mut specs: Vec<ClientSpec> = (0..o.clients)
        .map(|i| ClientSpec {
            idx: i,
            room_idx: i % o.rooms,
            room_id: room_ids[i % o.rooms],
            sender: None,
        })
        .collect();
    let mut k = 0;
    for m in &members {
        let s = m.len().min(o.senders);
        for (j, &i) in m[..s].iter().enumerate() {
            specs[i].sender = Some(SenderSpec {
                index: j as u64,
                senders_in_room: s as u64,
                first_tick: start + period.mul_f64(k as f64 / total_senders as f64),
            });
            k += 1;
        }
    }

    let shared = Arc::new(Shared {
        deliveries: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        answered: AtomicU64::new(0),
        acked_per_room: (0..o.rooms).map(|_| AtomicU64::new(0)).collect(),
        senders_done: AtomicU64::new(0),
    });
    let plan = Arc::new(Plan {
        relay: o.relay,
        period,
        max_messages: o.max_messages,
        content_bytes: o.content_bytes,
        send_deadline,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::with_capacity(o.clients);
    for ((ws, _), spec) in sockets.into_iter().zip(specs) {
        tasks.push(tokio::spawn(client(
            ws,
            spec,
            plan.clone(),
            shared.clone(),
            stop_rx.clone(),
        )));
    }

    tokio::time::sleep_until(start.into()).await;
    let cpu = CpuWindow::start(target.server_pid);
    eprintln!(
        "palaver-load: {total_senders} senders x {} msg/s for {:.1}s ({} mode)",
        o.rate,
        duration.as_secs_f64(),
        if o.relay { "relay" } else { "palaver" }
    );
    // Until the senders stop (deadline or count)...
    while Instant::now() < send_deadline && shared.senders_done.load(Relaxed) < total_senders as u64
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sending_secs = start.elapsed().as_secs_f64();
    // ...then until every message is answered and every acked message has
    // reached every member, or the grace period ends.
    let drain_deadline = Instant::now() + Duration::from_secs_f64(o.drain_secs);
    let expected = |s: &Shared| -> u64 {
        s.acked_per_room
            .iter()
            .zip(&members)
            .map(|(a, m)| a.load(Relaxed) * m.len() as u64)
            .sum()
    };
    let drained = loop {
        let answered = shared.answered.load(Relaxed) >= shared.sent.load(Relaxed);
        if answered && shared.deliveries.load(Relaxed) >= expected(&shared) {
            break true;
        }
        if Instant::now() >= drain_deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let used = cpu.stop();
    let _ = stop_tx.send(true);

    let mut outs = Vec::with_capacity(tasks.len());
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(10), t).await {
            Ok(Ok(out)) => outs.push(out),
            Ok(Err(e)) => anyhow::bail!("a client task failed: {e}"),
            Err(_) => anyhow::bail!("a client task did not stop within 10 s"),
        }
    }

    // Accounting.
    let mut acked_by_room: Vec<Vec<u64>> = vec![Vec::new(); o.rooms];
    for out in &outs {
        acked_by_room[out.room_idx].extend_from_slice(&out.acked_seqs);
    }
    let mut latency = Hist::new();
    let mut ack_latency = Hist::new();
    let (mut lost, mut missed_by_disconnected, mut duplicates, mut deliveries) = (0, 0, 0, 0);
    let (mut sent, mut errors, mut foreign, mut disconnected) = (0, 0, 0, 0);
    let mut first_error = None;
    let mut first_disconnect = None;
    for out in &outs {
        let missing = acked_by_room[out.room_idx]
            .iter()
            .filter(|s| !out.seen.contains(**s))
            .count() as u64;
        if let Some(why) = &out.disconnected {
            disconnected += 1;
            missed_by_disconnected += missing;
            first_disconnect.get_or_insert_with(|| why.clone());
        } else {
            lost += missing;
        }
        duplicates += out.duplicates;
        deliveries += out.deliveries;
        sent += out.sent;
        errors += out.errors;
        foreign += out.foreign;
        if first_error.is_none() {
            first_error.clone_from(&out.first_error);
        }
        if let Some(h) = &out.latency {
            latency.merge(h);
        }
        if let Some(h) = &out.ack_latency {
            ack_latency.merge(h);
        }
    }
    let acked: u64 = acked_by_room.iter().map(|v| v.len() as u64).sum();
    let expected_deliveries: u64 = acked_by_room
        .iter()
        .zip(&members)
        .map(|(a, m)| a.len() as u64 * m.len() as u64)
        .sum();

    let mut r = Report::new("fanout");
    r.text("mode", if o.relay { "relay" } else { "palaver" });
    r.num("clients", o.clients as u64);
    r.num("rooms", o.rooms as u64);
    r.num("senders", total_senders as u64);
    r.num("rate_per_sender", o.rate);
    r.num("duration_secs", round2(sending_secs));
    r.num(
        "offered_deliveries_per_sec",
        round2(
            members
                .iter()
                .map(|m| (m.len().min(o.senders) * m.len()) as f64 * o.rate)
                .sum::<f64>(),
        ),
    );
    r.num("sent", sent);
    r.num("acked", acked);
    r.num("acked_msgs_per_sec", round2(acked as f64 / sending_secs));
    r.num("errors", errors);
    r.num("deliveries", deliveries);
    r.num("expected_deliveries", expected_deliveries);
    r.num(
        "deliveries_per_sec",
        round2(deliveries as f64 / used.wall_secs.max(1e-9)),
    );
    r.num("lost", lost);
    r.num("duplicated", duplicates);
    r.num("disconnected_clients", disconnected);
    r.num("missed_by_disconnected", missed_by_disconnected);
    r.num("foreign_frames", foreign);
    r.num("drained", drained);
    latency.report_into(&mut r, "latency");
    ack_latency.report_into(&mut r, "ack_latency");
    used.report_into(&mut r, "delivery", deliveries);
    if let (Some(cpu), true) = (used.server_cpu_secs, acked > 0) {
        r.num("server_cpu_us_per_msg", round4(cpu * 1e6 / acked as f64));
    }
    if let Some(pid) = target.server_pid {
        if let Some(rss) = crate::stats::rss_bytes(&pid.to_string()) {
            r.num("server_rss_bytes", rss);
        }
    }
    if !drained {
        r.note(format!(
            "not drained within {:.1}s after the senders stopped: acked messages still in flight then count as lost",
            o.drain_secs
        ));
    }
    if let Some(e) = first_error {
        r.note(format!("first error frame: {e}"));
    }
    if let Some(d) = first_disconnect {
        r.note(format!(
            "{disconnected} clients were disconnected early; first: {d}"
        ));
    }
    Ok(r)
}

/// Opens every connection (bounded concurrency, spread source addresses)
/// and waits for each first frame; in order of `paths`.
async fn connect_all(
    target: &Target,
    paths: Vec<String>,
    read_buffer: usize,
) -> anyhow::Result<Vec<(Ws, i64)>> {
    let gate = Arc::new(tokio::sync::Semaphore::new(ws::CONNECT_CONCURRENCY));
    let mut set = tokio::task::JoinSet::new();
    let n = paths.len();
    for (i, path) in paths.into_iter().enumerate() {
        let gate = gate.clone();
        let addr = target.ws;
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let r =
                ws::connect_authenticated(addr, &path, Some(ws::source_ip(i)), read_buffer).await;
            (i, r)
        });
    }
    let mut out: Vec<Option<(Ws, i64)>> = (0..n).map(|_| None).collect();
    let mut failures = 0;
    let mut first = None;
    while let Some(joined) = set.join_next().await {
        let (i, r) = joined?;
        match r {
            Ok(pair) => out[i] = Some(pair),
            Err(e) => {
                failures += 1;
                first.get_or_insert(format!("{e:#}"));
            }
        }
    }
    if let Some(first) = first {
        anyhow::bail!("{failures} of {n} connections failed; first: {first}");
    }
    Ok(out.into_iter().flatten().collect())
}

/// Ticks of a sender; pending forever for a pure receiver.
async fn tick(ticker: &mut Option<tokio::time::Interval>) {
    match ticker {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn client(
    mut ws: Ws,
    spec: ClientSpec,
    plan: Arc<Plan>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> ClientOut {
    let mut out = ClientOut {
        room_idx: spec.room_idx,
        latency: Some(Hist::new()),
        ack_latency: spec.sender.map(|_| Hist::new()),
        ..ClientOut::default()
    };
    let mut ticker = spec.sender.map(|s| {
        let mut t = tokio::time::interval_at(s.first_tick.into(), plan.period);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        t
    });
    let mut counter = 0u64;
    let relay_sender = if plan.relay {
        Some(spec.idx as i64)
    } else {
        None
    };
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            _ = tick(&mut ticker) => {
                let s = spec.sender.expect("only senders tick");
                if Instant::now() >= plan.send_deadline || counter >= plan.max_messages {
                    ticker = None;
                    shared.senders_done.fetch_add(1, Relaxed);
                    continue;
                }
                let msg = if plan.relay {
                    let seq = counter * s.senders_in_room + s.index + 1;
                    relay_frame(spec.room_id, seq, spec.idx, plan.content_bytes)
                } else {
                    ws::create_message(counter, spec.room_id, plan.content_bytes, ws::MessageIds::V4)
                };
                counter += 1;
                if let Err(e) = ws.send(msg).await {
                    out.disconnected = Some(format!("send failed: {e}"));
                    break;
                }
                out.sent += 1;
                shared.sent.fetch_add(1, Relaxed);
            }
            item = ws.next() => match item {
                Some(Ok(Message::Text(t))) => on_frame(t.as_str(), &spec, relay_sender, &shared, &mut out),
                Some(Ok(Message::Close(frame))) => {
                    out.disconnected = Some(format!("closed by the server: {frame:?}"));
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    out.disconnected = Some(format!("socket error: {e}"));
                    break;
                }
                None => {
                    out.disconnected = Some("socket ended".into());
                    break;
                }
            },
        }
    }
    if ticker.is_some() {
        shared.senders_done.fetch_add(1, Relaxed);
    }
    if out.disconnected.is_none() {
        ws::close(ws, Duration::from_secs(2)).await;
    }
    out
}

fn on_frame(
    text: &str,
    spec: &ClientSpec,
    relay_sender: Option<i64>,
    shared: &Shared,
    out: &mut ClientOut,
) {
    let Ok(f) = serde_json::from_str::<InFrame>(text) else {
        return;
    };
    match f.ty.as_ref() {
        "message_created" => {
            let Some(m) = f.message else { return };
            if m.room_id != spec.room_id {
                out.foreign += 1;
                return;
            }
            // System messages (joins...) carry no send time.
            let Some(at) = ws::sent_at(&m.content) else {
                return;
            };
            let now = now_us();
            if !out.seen.insert(m.seq) {
                out.duplicates += 1;
                return;
            }
            out.deliveries += 1;
            shared.deliveries.fetch_add(1, Relaxed);
            if let Some(h) = &mut out.latency {
                h.record(now.saturating_sub(at));
            }
            // The relay has no acks: a sender's own copy is its ack.
            if relay_sender.is_some() && m.sender_id == relay_sender && spec.sender.is_some() {
                acked(out, shared, spec, m.seq, now.saturating_sub(at));
            }
        }
        "ack" => {
            if let Some(m) = f.message {
                let at = ws::sent_at(&m.content).unwrap_or(0);
                acked(out, shared, spec, m.seq, now_us().saturating_sub(at));
            }
        }
        "error" => {
            out.errors += 1;
            if f.request_id.is_some() {
                shared.answered.fetch_add(1, Relaxed);
            }
            if out.first_error.is_none() {
                out.first_error = Some(text.to_owned());
            }
        }
        _ => {}
    }
}

fn acked(out: &mut ClientOut, shared: &Shared, spec: &ClientSpec, seq: u64, latency_us: u64) {
    out.acked_seqs.push(seq);
    shared.acked_per_room[spec.room_idx].fetch_add(1, Relaxed);
    shared.answered.fetch_add(1, Relaxed);
    if let Some(h) = &mut out.ack_latency {
        h.record(latency_us);
    }
}

/// What palaver would fan out for a message, built by the sender itself.
fn relay_frame(room: i64, seq: u64, sender: usize, content_bytes: usize) -> Message {
    let text = format!(
        r#"{{"type":"message_created","message":{{"roomId":{room},"seq":{seq},"messageId":"{}","senderId":{sender},"type":"text","content":"{}","replyId":null,"createdAt":"2026-01-01T00:00:00.000Z","status":"success"}}}}"#,
        uuid::Uuid::new_v4(),
        ws::content(content_bytes),
    );
    Message::Text(text.into())
}
