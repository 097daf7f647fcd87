//! What the front ends (HTTP and WebSocket) share: configuration, the store
//! handle, the actor registry, and the shutdown signal. Passed in, never global.

use crate::actors::RegistryActor;
use crate::auth::SessionCache;
use crate::config::Config;
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
    pub sessions: SessionCache,
    next_conn_id: AtomicU64,
}

impl App {
    pub fn new(
        config: Config,
        store: StoreHandle,
        registry: Addr<RegistryActor>,
        shutdown: CancellationToken,
    ) -> Self {
        App {
            config,
            store,
            registry,
            shutdown,
            password_work: Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            sessions: SessionCache::default(),
            next_conn_id: AtomicU64::new(1),
        }
    }

    pub fn next_conn_id(&self) -> u64 {
        self.next_conn_id.fetch_add(1, Ordering::Relaxed)
    }
}
