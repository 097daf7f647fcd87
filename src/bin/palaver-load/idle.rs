//! `idle`: open N authenticated WebSocket connections that then sit idle
//! (a small set of users, many sockets each), from source addresses spread
//! over 127.0.0.2..254; measure the server's RSS before and after and
//! report bytes per connection.

use crate::api::{login_prefix, Api};
use crate::stats::{round2, rss_bytes, CpuWindow, Report};
use crate::ws;
use crate::{Common, Target};
use futures_util::StreamExt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};

#[derive(clap::Args, Debug)]
pub struct Opts {
    /// Connections to open and hold
    #[arg(long, default_value_t = 20_000)]
    connections: usize,
    /// Users the connections are spread over
    #[arg(long, default_value_t = 50)]
    users: usize,
    /// Connections being opened at once
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// How long to hold every connection open before measuring and closing
    #[arg(long, default_value_t = 5.0)]
    hold_secs: f64,
    /// Open fewer connections when the file-descriptor limit (ours or the
    /// server's) is below what N needs, instead of failing
    #[arg(long)]
    fit_fd_limit: bool,
}

/// File descriptors kept free for everything that is not a test socket.
const FD_RESERVE: u64 = 200;

pub async fn run(target: &Target, common: &Common, o: Opts) -> anyhow::Result<Report> {
    anyhow::ensure!(
        (1..=1_000_000).contains(&o.connections),
        "--connections must be 1..=1000000"
    );
    anyhow::ensure!((1..=10_000).contains(&o.users), "--users must be 1..=10000");
    anyhow::ensure!(
        (1..=10_000).contains(&o.concurrency),
        "--concurrency must be 1..=10000"
    );
    let connect_budget = Duration::from_secs_f64(common.duration_secs.unwrap_or(120.0));
    let api = Api::new(target.http);
    let result = run_inner(target, &o, connect_budget, &api).await;
    api.then_clean_up(result).await
}

async fn run_inner(
    target: &Target,
    o: &Opts,
    connect_budget: Duration,
    api: &Api,
) -> anyhow::Result<Report> {
    let mut r = Report::new("idle");
    let own_limit = ws::raise_fd_limit(o.connections as u64 + 4096);
    let server_limit = target.server_pid.and_then(ws::fd_limit_of);
    let fits = own_limit
        .min(server_limit.unwrap_or(u64::MAX))
        .saturating_sub(FD_RESERVE) as usize;
    let n = if o.connections > fits {
        let why = format!(
            "asked for {} connections but the fd limit allows about {fits} (ours {own_limit}, server's {})",
            o.connections,
            server_limit.map_or("unknown".into(), |l| l.to_string())
        );
        anyhow::ensure!(
            o.fit_fd_limit,
            "{why}; pass --fit-fd-limit to open that many"
        );
        r.note(format!("{why}; opened {fits}"));
        fits
    } else {
        o.connections
    };
    r.num("connections_requested", o.connections as u64);
    r.num("fd_limit_load", own_limit);
    if let Some(l) = server_limit {
        r.num("fd_limit_server", l);
    }

    let users = api.users(&login_prefix(), o.users.min(n)).await?;
    let pid = target.server_pid.map(|p| p.to_string());
    // Let the server settle after the sign-ups before the baseline.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = pid.as_deref().and_then(rss_bytes);

    let gate = Arc::new(Semaphore::new(o.concurrency));
    let opened = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let dropped = Arc::new(AtomicU64::new(0));
    let first_error: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let started = Instant::now();
    let deadline = started + connect_budget;
    let cpu = CpuWindow::start(target.server_pid);
    let mut tasks = Vec::with_capacity(n);
    // Two halves: the RSS slope over the second half is less sensitive to
    // what the first connections reuse of memory the allocator kept.
    let half = n / 2;
    let mut rss_mid = None;
    let mut settle = Duration::ZERO;
    for (phase, range) in [(0, 0..half), (1, half..n)] {
        for i in range.clone() {
            let path = format!("/?token={}", users[i % users.len()].token);
            let (gate, opened, failed, dropped) = (
                gate.clone(),
                opened.clone(),
                failed.clone(),
                dropped.clone(),
            );
            let first_error = first_error.clone();
            let stop = stop_rx.clone();
            let addr = target.ws;
            tasks.push(tokio::spawn(async move {
                let permit = gate.acquire_owned().await;
                if Instant::now() >= deadline || *stop.borrow() {
                    failed.fetch_add(1, Relaxed);
                    return;
                }
                match ws::connect_authenticated(addr, &path, Some(ws::source_ip(i)), 4096).await {
                    Ok((ws, _)) => {
                        opened.fetch_add(1, Relaxed);
                        drop(permit);
                        hold(ws, stop, dropped).await;
                    }
                    Err(e) => {
                        failed.fetch_add(1, Relaxed);
                        first_error
                            .lock()
                            .expect("error lock")
                            .get_or_insert(format!("{e:#}"));
                    }
                }
            }));
        }
        let mut last_print = Instant::now();
        while opened.load(Relaxed) + failed.load(Relaxed) < range.end as u64
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if last_print.elapsed() >= Duration::from_secs(2) {
                eprintln!("palaver-load: {} connections open", opened.load(Relaxed));
                last_print = Instant::now();
            }
        }
        if phase == 0 {
            let t = Instant::now();
            tokio::time::sleep(Duration::from_secs(1)).await;
            rss_mid = pid.as_deref().and_then(rss_bytes);
            settle = t.elapsed();
        }
    }
    let open_mid = half as u64;
    let connect_secs = (started.elapsed() - settle).as_secs_f64();
    let connect_used = cpu.stop();
    let open_now = opened.load(Relaxed);
    eprintln!(
        "palaver-load: {open_now} connections open in {connect_secs:.1}s; holding {:.1}s",
        o.hold_secs
    );
    tokio::time::sleep(Duration::from_secs_f64(o.hold_secs)).await;
    let rss_after = pid.as_deref().and_then(rss_bytes);
    let still_open = opened.load(Relaxed) - dropped.load(Relaxed);

    let _ = stop_tx.send(true);
    let close_started = Instant::now();
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
    }
    let close_secs = close_started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_closed = pid.as_deref().and_then(rss_bytes);

    r.num("connections", n as u64);
    r.num("users", users.len() as u64);
    r.num("opened", open_now);
    r.num("failed", failed.load(Relaxed));
    r.num("dropped_by_server", dropped.load(Relaxed));
    r.num("held", still_open);
    r.num("connect_secs", round2(connect_secs));
    r.num("connects_per_sec", round2(open_now as f64 / connect_secs));
    r.num("hold_secs", o.hold_secs);
    r.num("close_secs", round2(close_secs));
    connect_used.report_into(&mut r, "connect", open_now);
    match (rss_before, rss_after) {
        (Some(before), Some(after)) => {
            r.num("server_rss_before_bytes", before);
            r.num("server_rss_after_bytes", after);
            if let Some(closed) = rss_closed {
                r.num("server_rss_after_close_bytes", closed);
            }
            if still_open > 0 {
                r.num(
                    "rss_bytes_per_connection",
                    round2(after.saturating_sub(before) as f64 / still_open as f64),
                );
            }
            if let (Some(mid), true) = (rss_mid, still_open > open_mid && open_mid > 0) {
                r.num("server_rss_half_bytes", mid);
                r.num(
                    "rss_bytes_per_connection_second_half",
                    round2(after.saturating_sub(mid) as f64 / (still_open - open_mid) as f64),
                );
            }
        }
        _ => r.note("server RSS not measured (pass --server-pid)"),
    }
    if let Some(e) = first_error.lock().expect("error lock").clone() {
        r.note(format!("first failed connection: {e}"));
    }
    Ok(r)
}

/// Keeps one connection open and idle until `stop`; reads only to answer
/// the server's pings and to notice a close.
async fn hold(mut ws: ws::Ws, mut stop: watch::Receiver<bool>, dropped: Arc<AtomicU64>) {
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            item = ws.next() => match item {
                Some(Ok(_)) => continue,
                _ => {
                    dropped.fetch_add(1, Relaxed);
                    return;
                }
            },
        }
    }
    ws::close(ws, Duration::from_secs(5)).await;
}
