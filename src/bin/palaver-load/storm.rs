//! `storm`: open and authenticate N connections as fast as C workers can
//! (TCP connect + upgrade + the server's first `ack` frame), closing each
//! right after; measures setups/s and handshake latency.

use crate::api::{login_prefix, Api};
use crate::stats::{now_us, round2, CpuWindow, Hist, Report};
use crate::ws;
use crate::{Common, Target};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct Opts {
    /// Connections to open (and close)
    #[arg(long, default_value_t = 2000)]
    connections: u64,
    /// Connections being set up at once
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    /// Users the connections authenticate as
    #[arg(long, default_value_t = 20)]
    users: usize,
}

pub async fn run(target: &Target, common: &Common, o: Opts) -> anyhow::Result<Report> {
    anyhow::ensure!(
        (1..=10_000_000).contains(&o.connections),
        "--connections must be 1..=10000000"
    );
    anyhow::ensure!(
        (1..=10_000).contains(&o.concurrency),
        "--concurrency must be 1..=10000"
    );
    anyhow::ensure!((1..=10_000).contains(&o.users), "--users must be 1..=10000");
    ws::raise_fd_limit(o.concurrency as u64 * 2 + 1024);
    let duration = Duration::from_secs_f64(common.duration_secs.unwrap_or(60.0));
    let api = Api::new(target.http);
    let result = run_inner(target, &o, duration, &api).await;
    api.then_clean_up(result).await
}

struct WorkerOut {
    hist: Hist,
    ok: u64,
    failed: u64,
    first_error: Option<String>,
}

async fn run_inner(
    target: &Target,
    o: &Opts,
    duration: Duration,
    api: &Api,
) -> anyhow::Result<Report> {
    let users = api.users(&login_prefix(), o.users).await?;
    let tokens: Arc<Vec<String>> = Arc::new(users.iter().map(|u| u.token.clone()).collect());
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let cpu = CpuWindow::start(target.server_pid);
    let mut workers = Vec::new();
    for _ in 0..o.concurrency {
        let (tokens, next, addr, total) = (tokens.clone(), next.clone(), target.ws, o.connections);
        workers.push(tokio::spawn(async move {
            let mut out = WorkerOut {
                hist: Hist::new(),
                ok: 0,
                failed: 0,
                first_error: None,
            };
            loop {
                let i = next.fetch_add(1, Relaxed);
                if i >= total || Instant::now() >= deadline {
                    break;
                }
                let path = format!("/?token={}", tokens[i as usize % tokens.len()]);
                let t0 = now_us();
                match ws::connect_authenticated(addr, &path, Some(ws::source_ip(i as usize)), 4096)
                    .await
                {
                    Ok((socket, _)) => {
                        out.hist.record(now_us().saturating_sub(t0));
                        out.ok += 1;
                        // Closing is not part of the setup: let it run beside the next one.
                        tokio::spawn(ws::close(socket, Duration::from_secs(2)));
                    }
                    Err(e) => {
                        out.failed += 1;
                        out.first_error.get_or_insert(format!("{e:#}"));
                    }
                }
            }
            out
        }));
    }
    let mut hist = Hist::new();
    let (mut ok, mut failed) = (0, 0);
    let mut first_error = None;
    for w in workers {
        let out = w.await?;
        hist.merge(&out.hist);
        ok += out.ok;
        failed += out.failed;
        if first_error.is_none() {
            first_error = out.first_error;
        }
    }
    let used = cpu.stop();
    let secs = start.elapsed().as_secs_f64();

    let mut r = Report::new("storm");
    r.num("connections", o.connections);
    r.num("concurrency", o.concurrency as u64);
    r.num("users", users.len() as u64);
    r.num("setups", ok);
    r.num("failed", failed);
    r.num("duration_secs", round2(secs));
    r.num("setups_per_sec", round2(ok as f64 / secs));
    hist.report_into(&mut r, "handshake");
    used.report_into(&mut r, "setup", ok);
    if let Some(e) = first_error {
        r.note(format!("first failed connection: {e}"));
    }
    Ok(r)
}
