//! Copies the main database's WAL back into the database file on a thread
//! of its own, so the group-commit writer never does it inside a commit.
//!
//! SQLite's automatic checkpoint runs in whichever connection commits past
//! the threshold, which here is always the writer: every message waiting
//! for an ack waited for the checkpoint too (reading the frames back,
//! writing them into the file, two fsyncs). Measured with `palaver-load`
//! on the 2-core machine: at SQLite's 1,000-page default, checkpoints were
//! 19% of the server's CPU on the persist load with random messageIds; at
//! 8,192 pages persist went from 38-40k to 49-51k acked/s, but each longer
//! checkpoint stalled the writer, and the fan-out latency p99 went from
//! 5-6 ms to 15-17 ms. A PASSIVE checkpoint here runs beside the writer
//! (it never takes the write lock), so neither pays.
//!
//! The writer keeps a high automatic threshold as a backstop, so the WAL
//! stays bounded even if this thread falls behind.

use super::Durability;
use super::{setup_connection, ConnRole};
use crate::store::{StoreError, StoreResult};
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the WAL is copied back adapts to the write rate: each
/// checkpoint costs two fsyncs whatever it copies, so a quiet server
/// checkpoints rarely (a fixed 50 ms cost 3.7% of the server's CPU on the
/// fan-out load, which writes ~3,000 pages a second), and a busy one often
/// enough that the log stays a few thousand pages long (the persist load
/// with random messageIds writes ~60,000 pages a second).
const FASTEST: Duration = Duration::from_millis(10);
const SLOWEST: Duration = Duration::from_secs(1);
/// Pages per checkpoint the interval aims between.
const FEW_PAGES: i64 = 1000;
const MANY_PAGES: i64 = 4000;

/// Pages written since the checkpoint before, from the WAL's length now
/// and then: the length only drops when a write restarts the log from its
/// start, after a checkpoint copied all of it.
fn fresh_pages(length: i64, before: i64) -> i64 {
    if length >= before {
        length - before
    } else {
        length
    }
}

/// The next interval, after a checkpoint that found `pages` new in the WAL.
fn next_interval(interval: Duration, pages: i64) -> Duration {
    if pages < FEW_PAGES {
        (interval * 2).min(SLOWEST)
    } else if pages > MANY_PAGES {
        (interval / 2).max(FASTEST)
    } else {
        interval
    }
}

pub struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    pub fn start(path: &Path, durability: Durability) -> StoreResult<Self> {
        let conn = Connection::open(path)?;
        setup_connection(&conn, durability, ConnRole::Reader)?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("palaver-checkpointer".into())
            .spawn(move || run(&conn, &stopping))
            .map_err(|e| StoreError::Internal(format!("cannot start checkpoint thread: {e}")))?;
        Ok(Checkpointer {
            stop,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Ends the thread after its current checkpoint; the last connection
    /// to close checkpoints whatever is left. Safe to call more than once.
    pub fn stop(&self) {
        let (flag, wake) = &*self.stop;
        if let Ok(mut stopped) = flag.lock() {
            *stopped = true;
            wake.notify_all();
        }
        let handle = self.thread.lock().map(|mut t| t.take()).unwrap_or(None);
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

/// A store dropped without `flush_and_stop` (or one whose writer failed to
/// start) must not leave the thread behind.
impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(conn: &Connection, stop: &(Mutex<bool>, Condvar)) {
    let (flag, wake) = stop;
    let mut interval = SLOWEST;
    let mut length = 0;
    loop {
        {
            let Ok(stopped) = flag.lock() else { return };
            let Ok((stopped, _)) = wake.wait_timeout_while(stopped, interval, |s| !*s) else {
                return;
            };
            if *stopped {
                break;
            }
        }
        // (busy, frames in the WAL, frames copied); a busy or partial
        // checkpoint (a reader still uses older frames) is finished by a
        // later one.
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
            Ok(now) => {
                interval = next_interval(interval, fresh_pages(now, length));
                length = now;
            }
            Err(e) => tracing::warn!(error = %e, "checkpoint failed"),
        }
    }
    tracing::debug!("checkpointer stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_follows_the_write_rate() {
        let ms = Duration::from_millis;
        assert_eq!(next_interval(ms(100), 10), ms(200));
        assert_eq!(next_interval(SLOWEST, 0), SLOWEST);
        assert_eq!(next_interval(ms(100), 2000), ms(100));
        assert_eq!(next_interval(ms(100), 50_000), ms(50));
        assert_eq!(next_interval(FASTEST, 50_000), FASTEST);
    }

    #[test]
    fn fresh_pages_count_from_the_last_look_or_from_a_restart() {
        assert_eq!(fresh_pages(5000, 5000), 0, "a quiet WAL that stayed long");
        assert_eq!(fresh_pages(6000, 5000), 1000);
        assert_eq!(fresh_pages(300, 5000), 300, "restarted from its start");
    }
}
