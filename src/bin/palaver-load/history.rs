//! `history`: fill one room with M messages (pipelined over WebSocket by a
//! few senders), then page through it over REST —
//! `GET /api/rooms/{id}/messages?limit=50&before=X` at random X — from C
//! keep-alive HTTP/1.1 connections; measures requests/s and latency.

use crate::api::{login_prefix, Api};
use crate::stats::{now_us, round2, CpuWindow, Hist, Report};
use crate::ws;
use crate::{Common, Target};
use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use rand::Rng;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct Opts {
    /// Messages to put in the room before reading
    #[arg(long, default_value_t = 100_000)]
    messages: u64,
    /// Concurrent keep-alive HTTP/1.1 connections reading history
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Messages per page
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// WebSocket senders filling the room
    #[arg(long, default_value_t = 4)]
    fill_senders: usize,
    /// Most requests in total
    #[arg(long, default_value_t = 100_000_000)]
    max_requests: u64,
    /// Longest time the fill may take
    #[arg(long, default_value_t = 600.0)]
    fill_timeout_secs: f64,
    /// Bytes of message content
    #[arg(long, default_value_t = 64)]
    content_bytes: usize,
}

pub async fn run(target: &Target, common: &Common, o: Opts) -> anyhow::Result<Report> {
    anyhow::ensure!(
        (100..=10_000_000).contains(&o.messages),
        "--messages must be 100..=10000000"
    );
    anyhow::ensure!(
        (1..=1000).contains(&o.concurrency),
        "--concurrency must be 1..=1000"
    );
    anyhow::ensure!((1..=100).contains(&o.limit), "--limit must be 1..=100");
    anyhow::ensure!(
        (1..=64).contains(&o.fill_senders),
        "--fill-senders must be 1..=64"
    );
    let duration = Duration::from_secs_f64(common.duration_secs.unwrap_or(10.0));
    let api = Api::new(target.http);
    let result = run_inner(target, &o, duration, &api).await;
    api.then_clean_up(result).await
}

async fn run_inner(
    target: &Target,
    o: &Opts,
    duration: Duration,
    api: &Api,
) -> anyhow::Result<Report> {
    let users = api.users(&login_prefix(), o.fill_senders).await?;
    let others: Vec<_> = users[1..].iter().collect();
    let room = api.room(&users[0], &others, "load history").await?;
    let mut r = Report::new("history");

    // Fill.
    let fill_started = Instant::now();
    let fill_deadline = fill_started + Duration::from_secs_f64(o.fill_timeout_secs);
    let mut tasks = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let share = o.messages / o.fill_senders as u64
            + u64::from((i as u64) < o.messages % o.fill_senders as u64);
        let (addr, path) = (target.ws, format!("/?token={}", u.token));
        let bytes = o.content_bytes;
        tasks.push(tokio::spawn(async move {
            let (mut ws, _) =
                ws::connect_authenticated(addr, &path, Some(ws::source_ip(i)), 64 * 1024).await?;
            let plan = ws::PipelinePlan {
                room_id: room,
                in_flight: 64,
                max: share,
                deadline: fill_deadline,
                grace: Duration::from_secs(10),
                content_bytes: bytes,
                ids: ws::MessageIds::V4,
            };
            let out = ws::pipeline(&mut ws, plan).await;
            ws::close(ws, Duration::from_secs(2)).await;
            anyhow::Ok(out)
        }));
    }
    let mut filled = 0;
    for t in tasks {
        let out = t.await??;
        if let Some(b) = out.broken {
            anyhow::bail!("a fill sender ended early: {b}");
        }
        if let Some(e) = out.first_error {
            anyhow::bail!("the server refused a message during the fill: {e}");
        }
        filled += out.acked;
    }
    let fill_secs = fill_started.elapsed().as_secs_f64();
    eprintln!(
        "palaver-load: filled room {room} with {filled} messages in {fill_secs:.1}s ({:.0} msg/s)",
        filled as f64 / fill_secs
    );
    r.num("messages", filled);
    r.num("fill_secs", round2(fill_secs));
    r.num("fill_msgs_per_sec", round2(filled as f64 / fill_secs));

    // The room's highest seq bounds the cursors.
    let (status, v) = api
        .call(
            hyper::Method::GET,
            &format!("/api/rooms/{room}/messages?limit=1"),
            Some(&users[0].token),
            None,
        )
        .await?;
    anyhow::ensure!(status.is_success(), "history answered {status}: {v}");
    let last_seq = v["meta"]["lastSeq"]
        .as_u64()
        .context("history answer has no meta.lastSeq")?;
    anyhow::ensure!(
        last_seq >= filled,
        "the room's lastSeq {last_seq} is below the {filled} acked messages"
    );

    // Read.
    let start = Instant::now();
    let deadline = start + duration;
    let budget = Arc::new(std::sync::atomic::AtomicU64::new(o.max_requests));
    let cpu = CpuWindow::start(target.server_pid);
    let mut tasks = Vec::new();
    for i in 0..o.concurrency {
        let token = users[i % users.len()].token.clone();
        let (addr, limit, budget) = (target.http, o.limit, budget.clone());
        tasks.push(tokio::spawn(async move {
            reader(addr, i, room, token, limit, last_seq, deadline, budget).await
        }));
    }
    let mut hist = Hist::new();
    let (mut ok, mut failed, mut short, mut bytes) = (0u64, 0u64, 0u64, 0u64);
    let mut first_failure = None;
    for t in tasks {
        let out = t.await?;
        hist.merge(&out.hist);
        ok += out.ok;
        failed += out.failed;
        short += out.short;
        bytes += out.bytes;
        if first_failure.is_none() {
            first_failure = out.first_failure;
        }
    }
    let used = cpu.stop();
    let secs = start.elapsed().as_secs_f64();

    r.num("last_seq", last_seq);
    r.num("concurrency", o.concurrency as u64);
    r.num("page_limit", u64::from(o.limit));
    r.num("duration_secs", round2(secs));
    r.num("requests", ok + failed);
    r.num("failed", failed);
    r.num("wrong_page_size", short);
    r.num("requests_per_sec", round2(ok as f64 / secs));
    r.num("avg_response_bytes", bytes.checked_div(ok).unwrap_or(0));
    hist.report_into(&mut r, "latency");
    used.report_into(&mut r, "request", ok);
    if let Some(f) = first_failure {
        r.note(format!("first failed request: {f}"));
    }
    Ok(r)
}

struct ReaderOut {
    hist: Hist,
    ok: u64,
    failed: u64,
    /// Pages that did not hold the expected number of messages (checked on
    /// every 64th response, which is parsed).
    short: u64,
    bytes: u64,
    first_failure: Option<String>,
}

#[allow(clippy::too_many_arguments)]
async fn reader(
    addr: std::net::SocketAddr,
    i: usize,
    room: i64,
    token: String,
    limit: u32,
    last_seq: u64,
    deadline: Instant,
    budget: Arc<std::sync::atomic::AtomicU64>,
) -> ReaderOut {
    let mut out = ReaderOut {
        hist: Hist::new(),
        ok: 0,
        failed: 0,
        short: 0,
        bytes: 0,
        first_failure: None,
    };
    let fail = |out: &mut ReaderOut, why: String| {
        out.failed += 1;
        out.first_failure.get_or_insert(why);
    };
    let connect = async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(std::net::SocketAddrV4::new(ws::source_ip(i), 0).into())?;
        let tcp = socket.connect(addr).await?;
        tcp.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
        tokio::spawn(conn);
        anyhow::Ok(sender)
    };
    let mut sender = match connect.await {
        Ok(s) => s,
        Err(e) => {
            fail(&mut out, format!("connect: {e:#}"));
            return out;
        }
    };
    let auth = format!("Bearer {token}");
    let mut n = 0u64;
    while Instant::now() < deadline {
        if budget
            .fetch_update(
                std::sync::atomic::Ordering::Relaxed,
                std::sync::atomic::Ordering::Relaxed,
                |b| b.checked_sub(1),
            )
            .is_err()
        {
            break;
        }
        // A cursor anywhere in the room; `before` is exclusive.
        let before = rand::rng().random_range(2..=last_seq + 1);
        let req = Request::get(format!(
            "/api/rooms/{room}/messages?limit={limit}&before={before}"
        ))
        .header("host", addr.to_string())
        .header("authorization", &auth)
        .body(Empty::<Bytes>::new())
        .expect("valid request");
        let t0 = now_us();
        let result = async {
            sender.ready().await?;
            let resp = sender.send_request(req).await?;
            let status = resp.status();
            let body = resp.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, body))
        }
        .await;
        let took = now_us().saturating_sub(t0);
        match result {
            Ok((status, body)) if status.is_success() => {
                out.ok += 1;
                out.bytes += body.len() as u64;
                out.hist.record(took);
                if n.is_multiple_of(64) {
                    let want = (before - 1).min(u64::from(limit)) as usize;
                    let got = serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v["data"].as_array().map(Vec::len));
                    if got != Some(want) {
                        out.short += 1;
                    }
                }
            }
            Ok((status, body)) => fail(
                &mut out,
                format!("{status}: {}", String::from_utf8_lossy(&body)),
            ),
            Err(e) => {
                fail(&mut out, format!("{e:#}"));
                break;
            }
        }
        n += 1;
    }
    out
}
