//! `persist`: N WebSocket senders pipeline create_message with up to K
//! un-acked messages each; measures acked messages per second (an ack
//! means the message is committed) and send→ack latency.

use crate::api::{login_prefix, Api};
use crate::stats::{round2, CpuWindow, Hist, Report};
use crate::ws::{self, MessageIds, PipelinePlan, Pipelined};
use crate::{Common, Target};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct Opts {
    /// WebSocket senders, each its own user
    #[arg(long, default_value_t = 8)]
    senders: usize,
    /// Most un-acked messages per sender (the server processes up to 64 per socket at once)
    #[arg(long, default_value_t = 64)]
    in_flight: usize,
    /// Put every sender in one room instead of one room each
    #[arg(long)]
    one_room: bool,
    /// Most messages one sender sends
    #[arg(long, default_value_t = 10_000_000)]
    max_messages: u64,
    /// Bytes of message content
    #[arg(long, default_value_t = 64)]
    content_bytes: usize,
    /// Where messageIds come from
    #[arg(long, value_enum, default_value_t = MessageIds::V4)]
    message_ids: MessageIds,
}

pub async fn run(target: &Target, common: &Common, o: Opts) -> anyhow::Result<Report> {
    anyhow::ensure!(
        (1..=1000).contains(&o.senders),
        "--senders must be 1..=1000"
    );
    anyhow::ensure!(
        (1..=10_000).contains(&o.in_flight),
        "--in-flight must be 1..=10000"
    );
    anyhow::ensure!(
        (16..=4000).contains(&o.content_bytes),
        "--content-bytes must be 16..=4000"
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
    let users = api.users(&login_prefix(), o.senders).await?;
    let mut rooms = Vec::with_capacity(o.senders);
    if o.one_room {
        let others: Vec<_> = users[1..].iter().collect();
        let id = api.room(&users[0], &others, "load persist").await?;
        rooms.resize(o.senders, id);
    } else {
        for (i, u) in users.iter().enumerate() {
            rooms.push(api.room(u, &[], &format!("load persist {i}")).await?);
        }
    }
    let mut sockets = Vec::with_capacity(o.senders);
    for (i, u) in users.iter().enumerate() {
        let (ws, _) = ws::connect_authenticated(
            target.ws,
            &format!("/?token={}", u.token),
            Some(ws::source_ip(i)),
            64 * 1024,
        )
        .await?;
        sockets.push(ws);
    }

    let start = Instant::now();
    let deadline = start + duration;
    let cpu = CpuWindow::start(target.server_pid);
    let mut tasks = Vec::new();
    for (mut ws, room_id) in sockets.into_iter().zip(rooms) {
        let plan = PipelinePlan {
            room_id,
            in_flight: o.in_flight,
            max: o.max_messages,
            deadline,
            grace: Duration::from_secs(5),
            content_bytes: o.content_bytes,
            ids: o.message_ids,
        };
        tasks.push(tokio::spawn(async move {
            let out = ws::pipeline(&mut ws, plan).await;
            (out, ws)
        }));
    }
    let mut outs: Vec<Pipelined> = Vec::new();
    let mut closing = Vec::new();
    for t in tasks {
        let (out, ws) = t.await?;
        outs.push(out);
        closing.push(tokio::spawn(ws::close(ws, Duration::from_secs(2))));
    }
    // CPU over the measured window plus the short tail of outstanding acks.
    let used = cpu.stop();
    for c in closing {
        let _ = c.await;
    }

    let window = duration.as_secs_f64().min(start.elapsed().as_secs_f64());
    let mut acks = Hist::new();
    let (mut sent, mut acked, mut in_window, mut errors, mut echoes) = (0, 0, 0, 0, 0);
    let mut r = Report::new("persist");
    let (mut first_error, mut first_broken, mut broken) = (None, None, 0);
    for out in &outs {
        sent += out.sent;
        acked += out.acked;
        in_window += out.acked_in_window;
        errors += out.errors;
        echoes += out.echoes;
        if let Some(h) = &out.acks {
            acks.merge(h);
        }
        first_error = first_error.or(out.first_error.clone());
        broken += u64::from(out.broken.is_some());
        first_broken = first_broken.or(out.broken.clone());
    }
    r.num("senders", o.senders as u64);
    r.num("in_flight", o.in_flight as u64);
    r.num("rooms", if o.one_room { 1 } else { o.senders as u64 });
    r.num("duration_secs", round2(window));
    r.num("sent", sent);
    r.num("acked", acked);
    r.num("errors", errors);
    r.num("unanswered", sent.saturating_sub(acked + errors));
    r.num("echoes", echoes);
    r.num("acked_msgs_per_sec", round2(in_window as f64 / window));
    acks.report_into(&mut r, "ack_latency");
    used.report_into(&mut r, "msg", acked);
    r.text(
        "message_ids",
        match o.message_ids {
            MessageIds::V4 => "v4",
            MessageIds::V7 => "v7",
            MessageIds::Server => "server",
        },
    );
    if let Some(e) = first_error {
        r.note(format!("first error frame: {e}"));
    }
    if let Some(b) = first_broken {
        r.note(format!("{broken} senders ended early; first: {b}"));
    }
    Ok(r)
}
