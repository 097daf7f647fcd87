//! What the front ends (HTTP and WebSocket) share: configuration, the store
//! handle, the actor registry, and the shutdown signal. Passed in, never global.

use crate::actors::RegistryActor;
use crate::auth::phone::PhoneAuth;
use crate::auth::{AdminAuth, SessionCache};
use crate::config::Config;
use crate::ratelimit::{Rate, RateLimiter};
use crate::store::StoreHandle;
use actix::Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub struct App {
    pub config: Config,
    pub store: StoreHandle,
    pub registry: Addr<RegistryActor>,
    /// Cancelled when the server starts draining.
    pub shutdown: CancellationToken,
    /// Password hashes (argon2: ~19 MiB and tens of milliseconds each) run at
    /// most one per core; a burst of logins queues here instead of taking
    /// every blocking thread and gigabytes of memory.
    pub password_work: Semaphore,
    /// Image variants (decode, scale, encode) take one core each while
    /// they run; at most one per core, like password hashes.
    pub image_work: Semaphore,
    /// The time scheduled and disappearing messages, auto-seen periods and
    /// online time run on.
    pub clock: std::sync::Arc<crate::clock::Clock>,
    /// Told when a scheduled message is added or moved, so the scheduler
    /// looks at its table again.
    pub schedule_changed: tokio::sync::Notify,
    /// Told when a disappearing-messages rule is added, changed or
    /// removed, so the sweep looks at its rules again.
    pub destructs_changed: tokio::sync::Notify,
    /// Told when an auto-seen period is added, changed or removed.
    pub auto_seen_changed: tokio::sync::Notify,
    /// Told when an auto-reply rule is added, changed or removed, so the
    /// auto-replier re-reads whose direct rooms it follows.
    pub auto_replies_changed: tokio::sync::Notify,
    /// Uploaded files on disk.
    pub blobs: crate::files::Blobs,
    pub sessions: SessionCache,
    /// Sign-ups and logins per client IP (`None`: unlimited).
    pub auth_by_ip: Option<RateLimiter>,
    /// Logins per account (`None`: unlimited).
    pub auth_by_account: Option<RateLimiter>,
    /// The Management API's administrator; `None` when no credentials are
    /// configured, and then every admin endpoint is 404.
    pub admin: Option<AdminAuth>,
    /// Phone login: code key, SMS queue, code rate limits.
    pub phone: PhoneAuth,
    /// Tells the webhook deliverer that a bot's webhook was set or removed.
    pub webhooks: crate::webhooks::WebhookSignal,
    next_conn_id: AtomicU64,
}

impl App {
    pub fn new(
        config: Config,
        store: StoreHandle,
        registry: Addr<RegistryActor>,
        shutdown: CancellationToken,
        phone: PhoneAuth,
        webhooks: crate::webhooks::WebhookSignal,
        clock: std::sync::Arc<crate::clock::Clock>,
    ) -> Self {
        let auth_by_ip = per_minute(config.auth_per_ip_per_minute);
        let auth_by_account = per_minute(config.auth_per_account_per_minute);
        let admin = config
            .admin
            .clone()
            .map(|credentials| AdminAuth::new(credentials, config.admin_token_ttl_secs));
        let blobs = crate::files::Blobs::new(&config.data_dir);
        App {
            config,
            store,
            registry,
            shutdown,
            password_work: Semaphore::new(cores()),
            image_work: Semaphore::new(cores()),
            blobs,
            clock,
            schedule_changed: tokio::sync::Notify::new(),
            destructs_changed: tokio::sync::Notify::new(),
            auto_seen_changed: tokio::sync::Notify::new(),
            auto_replies_changed: tokio::sync::Notify::new(),
            sessions: SessionCache::default(),
            auth_by_ip,
            auth_by_account,
            admin,
            phone,
            webhooks,
            next_conn_id: AtomicU64::new(1),
        }
    }

    /// `Err(seconds to wait)` when `ip` or `account` is over its limit.
    pub fn check_auth_rate(&self, ip: std::net::IpAddr, account: Option<&str>) -> Result<(), u64> {
        if let Some(limiter) = &self.auth_by_ip {
            limiter.check(&ip.to_string())?;
        }
        if let (Some(limiter), Some(account)) = (&self.auth_by_account, account) {
            limiter.check(&account.to_lowercase())?;
        }
        Ok(())
    }

    /// Waits for a password-hashing slot; hold it while argon2 runs.
    pub async fn password_slot(&self) -> crate::error::Result<tokio::sync::SemaphorePermit<'_>> {
        self.password_work
            .acquire()
            .await
            .map_err(|_| crate::error::Error::ShuttingDown)
    }

    pub fn next_conn_id(&self) -> u64 {
        self.next_conn_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// A limiter allowing `n` calls a minute in a burst of `n`; 0 means none.
pub fn per_minute(n: u32) -> Option<RateLimiter> {
    (n > 0).then(|| {
        RateLimiter::new(Rate {
            burst: f64::from(n),
            per_sec: f64::from(n) / 60.0,
        })
    })
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}
