//! Wires everything: store, actors, both listeners; stops them in order.

use crate::actors::{ActorLimits, RegistryActor, RoomWatch, RoomWatches};
use crate::app::App;
use crate::auth::phone::PhoneAuth;
use crate::clock::Clock;
use crate::config::Config;
use crate::store::sqlite::{SqliteStore, WriterConfig};
use crate::store::{Store, StoreHandle};
use crate::webhooks::{Deliverer, RetryPolicy, WebhookSignal};
use crate::{http, net, shutdown};
use actix::Actor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Rooms with new messages waiting for the webhook deliverer. Past this,
/// nudges are dropped; the deliverer's periodic sweep reads the store.
const WEBHOOK_NUDGES: usize = 1024;
/// Direct rooms with new messages waiting for the auto-replier; past this,
/// likewise dropped and found by its sweep.
const AUTO_REPLY_NUDGES: usize = 1024;

/// Runs the server on a multi-thread tokio runtime with actix on top, until
/// Ctrl-C or SIGTERM.
pub fn run_blocking(config: Config) -> anyhow::Result<()> {
    raise_open_file_limit();
    return_large_allocations_to_the_os();
    let system = actix_rt::System::with_tokio_rt(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("palaver-worker")
            .build()
            // Building a runtime fails only when the OS refuses threads.
            .expect("cannot build the tokio runtime")
    });
    let shutdown = CancellationToken::new();
    system.block_on(async move {
        shutdown::cancel_on_signal(shutdown.clone());
        run(config, shutdown, |_, _| {}).await
    })
}

/// Every socket is a file descriptor, and the usual soft limit (1,024 on
/// many systems) would cap the server far below what it can serve. Raise it
/// to the hard limit the administrator allows.
fn raise_open_file_limit() {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit read and write the struct we own.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0
                && limit.rlim_cur < limit.rlim_max
            {
                let wanted = limit.rlim_max;
                limit.rlim_cur = wanted;
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    tracing::warn!("cannot raise the open-file limit to {wanted}");
                }
            }
        }
    }
}

/// argon2 allocates ~19 MiB per hash. glibc raises its mmap threshold after
/// freeing such a block, so later ones come from per-thread arenas and stay
/// resident: a burst of sign-ups left the server holding over a gigabyte.
/// A fixed threshold keeps large blocks mmapped and returned on free.
fn return_large_allocations_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator tuning parameter.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Starts everything, calls `ready` with the bound addresses, serves until
/// `shutdown` is cancelled, then drains. Must run inside an actix System.
pub async fn run(
    config: Config,
    shutdown: CancellationToken,
    ready: impl FnOnce(SocketAddr, SocketAddr),
) -> anyhow::Result<()> {
    let data_dir = config.data_dir.clone();
    let durability = config.durability;
    let store: Arc<dyn Store> = tokio::task::spawn_blocking(move || {
        SqliteStore::open(&data_dir, durability, WriterConfig::default())
    })
    .await??
    .into_arc();
    let handle = StoreHandle::new(store.clone());
    // Before any user actor opens a new one.
    let abandoned = handle.run(|s| s.close_abandoned_intervals()).await?;
    if abandoned > 0 {
        tracing::info!(
            abandoned,
            "closed online intervals left open at the last heartbeat"
        );
    }
    let clock = Arc::new(Clock::new(config.test_clock));
    let limits = ActorLimits {
        resume_limit: config.resume_limit,
        typing_ttl: Duration::from_millis(config.typing_ttl_ms),
        presence_grace: Duration::from_millis(config.presence_grace_ms),
        delivered_flush: Duration::from_millis(config.delivered_flush_ms),
        ..ActorLimits::default()
    };
    let (watch, nudges) = RoomWatch::new(WEBHOOK_NUDGES);
    let (reply_watch, reply_nudges) = RoomWatch::new(AUTO_REPLY_NUDGES);
    let registry = RegistryActor::new(handle.clone(), limits, clock.clone())
        .watching(RoomWatches {
            webhooks: watch.clone(),
            auto_replies: reply_watch.clone(),
        })
        .start();

    let http_listener = TcpListener::bind(config.http_addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {} (http): {e}", config.http_addr))?;
    let ws_listener = TcpListener::bind(config.ws_addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {} (websocket): {e}", config.ws_addr))?;
    let http_addr = http_listener.local_addr()?;
    let ws_addr = ws_listener.local_addr()?;

    let phone = PhoneAuth::start(&config, &handle, shutdown.clone()).await?;
    let signal = WebhookSignal::default();
    let deliverer = Deliverer::new(
        handle.clone(),
        watch,
        signal.clone(),
        std::time::Duration::from_millis(config.webhook_timeout_ms),
        RetryPolicy {
            base: std::time::Duration::from_millis(config.webhook_retry_base_ms),
            max_attempts: config.webhook_max_attempts,
        },
        shutdown.clone(),
    );
    let webhook_task = tokio::spawn(deliverer.run(nudges));
    let app = Arc::new(App::new(
        config,
        handle,
        registry,
        shutdown.clone(),
        phone,
        signal,
        clock,
    ));
    let scheduler_task = tokio::spawn(crate::automation::scheduler::run(app.clone()));
    let destruct_task = tokio::spawn(crate::automation::destruct::run(app.clone()));
    let auto_seen_task = tokio::spawn(crate::automation::auto_seen::run(app.clone()));
    let auto_reply_task = tokio::spawn(crate::automation::auto_reply::run(
        app.clone(),
        reply_watch,
        reply_nudges,
    ));
    let heartbeat_task = tokio::spawn(crate::automation::heartbeat::run(app.clone()));
    let http_task = tokio::spawn(http::serve(app.clone(), http_listener));
    let ws_task = tokio::spawn(net::serve(app.clone(), ws_listener));
    if app.clock.is_adjustable() {
        tracing::warn!("--test-clock is on: any client may move the automation clock; never use it on a real server");
    }
    tracing::info!(%http_addr, %ws_addr, data_dir = %app.config.data_dir.display(), "palaver ready");
    ready(http_addr, ws_addr);

    shutdown.cancelled().await;
    tracing::info!("draining: no new connections; closing sockets with 1001");
    let _ = ws_task.await;
    let _ = http_task.await;
    let _ = webhook_task.await;
    let _ = scheduler_task.await;
    let _ = destruct_task.await;
    let _ = auto_seen_task.await;
    let _ = auto_reply_task.await;
    let _ = heartbeat_task.await;
    tokio::task::spawn_blocking(move || store.flush_and_stop()).await?;
    tracing::info!("writer flushed; stopped");
    Ok(())
}
