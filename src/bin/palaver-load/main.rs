//! `palaver-load`: a load generator that drives a running palaver server
//! (or `palaver-relay`) over real sockets on 127.0.0.1 and reports
//! throughput and latency percentiles.
//!
//! Every scenario sets up its own users and rooms through the REST API
//! (logins `load<unix_ms>x<n>`), stops by itself (time and count limits),
//! closes its sockets, deletes the rooms it created and logs its sessions
//! out. Users cannot be deleted through the API yet, so they stay.
//!
//! Output: a human summary, then exactly one JSON object on one line (the
//! last line on stdout) with `"scenario"` and every number. Progress goes
//! to stderr.

mod api;
mod fanout;
mod history;
mod idle;
mod persist;
mod stats;
mod storm;
mod ws;

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;

#[derive(Parser)]
#[command(
    name = "palaver-load",
    version,
    about = "Drives a palaver server on 127.0.0.1 over real sockets and reports throughput and latency"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    scenario: Scenario,
}

/// Flags every scenario takes.
#[derive(Args, Clone, Debug)]
pub struct Common {
    /// REST address of the server (127.0.0.1 only), e.g. 127.0.0.1:8080 or http://127.0.0.1:8080
    #[arg(
        long,
        global = true,
        default_value = "127.0.0.1:8080",
        env = "PALAVER_LOAD_HTTP"
    )]
    pub http: String,
    /// WebSocket address of the server or relay (127.0.0.1 only), e.g. 127.0.0.1:8081
    #[arg(
        long,
        global = true,
        default_value = "127.0.0.1:8081",
        env = "PALAVER_LOAD_WS"
    )]
    pub ws: String,
    /// Pid of the server under test: report its CPU seconds (and RSS) over the measured window
    #[arg(long, global = true)]
    pub server_pid: Option<u32>,
    /// How long the measured phase runs (each scenario has its own default)
    #[arg(long, global = true)]
    pub duration_secs: Option<f64>,
}

#[derive(Subcommand)]
enum Scenario {
    /// Rooms with many online members; senders post at a fixed rate; every
    /// member checks it receives every acked message exactly once.
    Fanout(fanout::Opts),
    /// Many authenticated idle WebSocket connections; server RSS per connection.
    Idle(idle::Opts),
    /// Pipelined create_message with up to K un-acked messages per socket.
    Persist(persist::Opts),
    /// Fill one room, then page its history over REST with `before` cursors.
    History(history::Opts),
    /// Open, authenticate and close connections as fast as possible.
    Storm(storm::Opts),
}

/// Where the load goes, checked to be on 127.0.0.1.
#[derive(Clone, Debug)]
pub struct Target {
    pub http: SocketAddr,
    pub ws: SocketAddr,
    pub server_pid: Option<u32>,
}

/// Accepts `127.0.0.1:PORT`, `localhost:PORT`, with or without an
/// `http://`/`ws://` scheme and a trailing `/`; refuses anything else.
pub fn loopback_addr(what: &str, value: &str) -> anyhow::Result<SocketAddr> {
    let mut s = value.trim();
    for scheme in ["http://", "ws://"] {
        if let Some(rest) = s.strip_prefix(scheme) {
            s = rest;
        }
    }
    let s = s.trim_end_matches('/');
    let s = match s.strip_prefix("localhost:") {
        Some(port) => format!("127.0.0.1:{port}"),
        None => s.to_owned(),
    };
    let addr: SocketAddr = s
        .parse()
        .map_err(|_| anyhow::anyhow!("--{what} '{value}' is not an address like 127.0.0.1:8080"))?;
    anyhow::ensure!(
        addr.ip() == std::net::IpAddr::from([127, 0, 0, 1]),
        "--{what} {addr}: palaver-load only talks to 127.0.0.1 (it is a local bench tool)"
    );
    anyhow::ensure!(addr.port() != 0, "--{what} {addr}: port 0 is not a server");
    Ok(addr)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    stats::now_us(); // start the clock before anything is timed
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("palaver-load")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("palaver-load: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    // Dropping the runtime would wait for stray tasks; the work is done.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(report) => {
            report.print();
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("palaver-load: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<stats::Report> {
    let c = &cli.common;
    let target = Target {
        http: loopback_addr("http", &c.http)?,
        ws: loopback_addr("ws", &c.ws)?,
        server_pid: c.server_pid,
    };
    if let Some(pid) = c.server_pid {
        anyhow::ensure!(
            stats::cpu_secs(&pid.to_string()).is_some(),
            "--server-pid {pid}: no such process (cannot read /proc/{pid}/stat)"
        );
    }
    if let Some(d) = c.duration_secs {
        anyhow::ensure!(
            d > 0.0 && d <= 3600.0,
            "--duration-secs must be in (0, 3600]"
        );
    }
    let mut report = match cli.scenario {
        Scenario::Fanout(o) => fanout::run(&target, c, o).await,
        Scenario::Idle(o) => idle::run(&target, c, o).await,
        Scenario::Persist(o) => persist::run(&target, c, o).await,
        Scenario::History(o) => history::run(&target, c, o).await,
        Scenario::Storm(o) => storm::run(&target, c, o).await,
    }?;
    let early = ws::FRAMES_BEFORE_ACK.load(std::sync::atomic::Ordering::Relaxed);
    report.num("frames_before_auth_ack", early);
    if early > 0 {
        report.note(format!(
            "server bug: {early} frames arrived on new sockets before the auth ack (which should come first); first: {}",
            ws::first_frame_before_ack().unwrap_or_default()
        ));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::loopback_addr;

    #[test]
    fn only_loopback_is_accepted() {
        assert!(loopback_addr("http", "127.0.0.1:8080").is_ok());
        assert!(loopback_addr("http", "http://127.0.0.1:8080/").is_ok());
        assert!(loopback_addr("ws", "ws://localhost:8081").is_ok());
        assert!(loopback_addr("http", "10.0.0.1:8080").is_err());
        assert!(loopback_addr("http", "0.0.0.0:8080").is_err());
        assert!(loopback_addr("http", "[::1]:8080").is_err());
        assert!(loopback_addr("http", "example.com:80").is_err());
        assert!(loopback_addr("http", "127.0.0.1:0").is_err());
    }
}
