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
//!
//! SQLite writes the WAL from its start again only when a write begins
//! while every frame is copied back and no reader uses the WAL. Passes run
//! beside commits (one every millisecond on the fan-out load), so they
//! never end with every frame copied, and the WAL grew to the writer's
//! 16,384-page backstop (67.5 MB) before it started over: each append past
//! the file's end makes ext4 allocate and zero new pages. So once the WAL
//! is [`RESTART_PAGES`] long, this thread copies all but the last few
//! frames (passes back to back, each copying what was written while the
//! one before ran), and asks the writer to copy those itself between two
//! commits ([`TailRequest`]); its next commit then starts the WAL over.
//! Measured on fan-out (medians of three 10 s runs): the WAL file ends at
//! 17.6 MB instead of 67.5 MB, the writer's CPU per delivery went from
//! 5.75 to 4.1 µs (its `pwrite`s from 124 to 55 ms in a run) and the
//! server's from 19.95 to 17.5 µs; the writer pays 1-3 ms a time (two
//! fsyncs of little data), about twice a second, after the acks (on the
//! persist load 8-24 ms about four times a second, which is why the writer
//! copies only while no batch waits for it).

use super::Durability;
use super::{setup_connection, ConnRole};
use crate::store::{StoreError, StoreResult};
use rusqlite::Connection;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// WAL frames after which the WAL should start over (4 MiB of pages).
/// Fan-out writes ~4,000 pages a second, so it starts over about twice a
/// second. One build with the threshold switchable, medians of three
/// fan-out runs (so not comparable with the module's before/after): the
/// writer's CPU per delivery was 3.55 µs at 1,024 pages, 3.9 µs at 4,096
/// and 4.0 µs without restarts; persist did not move.
const RESTART_PAGES: i64 = 1024;
/// Frames the writer copies itself at most, when it can be helped.
const SMALL_TAIL: i64 = 256;
/// Passes back to back at most before the writer is asked anyway: on the
/// persist load (~70,000 pages a second) the passes do not get shorter
/// than their fsyncs, and the writer's part stays ~1,000 frames.
const TAIL_PASSES: usize = 4;

/// The checkpointer's request that the writer copy the WAL's last frames
/// back between two commits.
#[derive(Default)]
pub struct TailRequest(AtomicBool);

impl TailRequest {
    fn ask(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether a request is open, without answering it.
    pub fn wanted(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// True once per request.
    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::Relaxed)
    }
}

/// One PASSIVE checkpoint's answer.
#[derive(Debug, Clone, Copy)]
struct Pass {
    /// Another checkpoint was running.
    busy: bool,
    /// Frames in the WAL when it began.
    log: i64,
    /// Frames copied into the database file (by it and the ones before).
    copied: i64,
}

fn passive(conn: &Connection) -> rusqlite::Result<Pass> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok(Pass {
            busy: r.get::<_, i64>(0)? != 0,
            log: r.get(1)?,
            copied: r.get(2)?,
        })
    })
}

/// Run by the writer between commits when asked: copies the frames the
/// checkpointer left, so the writer's next commit starts the WAL over
/// (unless a reader still uses it). After the acks of the commit before,
/// so they do not wait for its two fsyncs.
pub fn copy_tail(conn: &Connection) {
    if let Err(e) = passive(conn) {
        tracing::warn!(error = %e, "checkpoint of the WAL's tail failed");
    }
}

/// After a pass that copied a long WAL up to where it began: passes again
/// at once, each copying what was written while the one before ran, until
/// one copies few frames; then the writer's part is as small. Answers the
/// last pass, and whether to ask the writer: not when the WAL started over
/// meanwhile, nothing was written (the next write starts it over), or a
/// reader holds frames back.
fn shrink_tail(conn: &Connection, first: Pass) -> rusqlite::Result<(Pass, bool)> {
    let mut last = first;
    for _ in 0..TAIL_PASSES {
        let next = passive(conn)?;
        if next.busy {
            return Ok((last, false));
        }
        // Frames written while the pass before ran: what this one copied.
        let appended = next.log - last.log;
        last = next;
        if appended <= 0 || next.copied < next.log {
            return Ok((last, false));
        }
        if appended <= SMALL_TAIL {
            break;
        }
    }
    Ok((last, true))
}

/// Whether the WAL should start over after this pass: it is long, the
/// pass copied all it saw (no reader held frames back), and it is being
/// written (else the next write starts it over by itself).
fn tail_wanted(pass: Pass, fresh: i64) -> bool {
    !pass.busy && pass.copied == pass.log && pass.log >= RESTART_PAGES && fresh > 0
}

pub struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    pub fn start(path: &Path, durability: Durability, tail: Arc<TailRequest>) -> StoreResult<Self> {
        let conn = Connection::open(path)?;
        setup_connection(&conn, durability, ConnRole::Reader)?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("palaver-checkpointer".into())
            .spawn(move || run(&conn, &stopping, &tail))
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

fn run(conn: &Connection, stop: &(Mutex<bool>, Condvar), tail: &TailRequest) {
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
        // A busy pass (another checkpoint was running) says nothing; a
        // partial one (a reader still uses older frames) is finished by a
        // later one.
        let pass = match passive(conn) {
            Ok(pass) if pass.busy => continue,
            Ok(pass) => pass,
            Err(e) => {
                tracing::warn!(error = %e, "checkpoint failed");
                continue;
            }
        };
        let fresh = fresh_pages(pass.log, length);
        interval = next_interval(interval, fresh);
        length = pass.log;
        if !tail_wanted(pass, fresh) {
            continue;
        }
        match shrink_tail(conn, pass) {
            Ok((last, ask)) => {
                length = last.log;
                if ask {
                    tail.ask();
                }
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

    /// A WAL the checkpointer copies back while commits go on never ends
    /// fully copied, so it only grows; once the writer has copied the
    /// frames written during the pass, its next commit starts it over.
    #[test]
    fn the_wal_starts_over_once_the_writer_copies_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let writer = Connection::open(&path).unwrap();
        setup_connection(&writer, Durability::Normal, ConnRole::Writer).unwrap();
        writer.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        let checkpointer = Connection::open(&path).unwrap();
        setup_connection(&checkpointer, Durability::Normal, ConnRole::Reader).unwrap();
        let insert = "INSERT INTO t VALUES (randomblob(3000));";
        let commit = |n: usize| {
            for _ in 0..n {
                writer.execute_batch(insert).unwrap();
            }
        };
        // Bytes 12-15 of the WAL header count its restarts.
        let restarts = || {
            let header = std::fs::read(dir.path().join("wal.db-wal")).unwrap();
            u32::from_be_bytes(header[12..16].try_into().unwrap())
        };

        commit(RESTART_PAGES as usize);
        // The pass runs while a commit is on its way.
        writer
            .execute_batch(&format!("BEGIN IMMEDIATE; {insert}"))
            .unwrap();
        let pass = passive(&checkpointer).unwrap();
        writer.execute_batch("COMMIT").unwrap();
        assert!(tail_wanted(pass, pass.log), "{pass:?}");
        let before = restarts();
        commit(3);
        assert_eq!(restarts(), before, "appended after the uncopied tail");

        copy_tail(&writer);
        commit(1);
        assert_eq!(restarts(), before + 1);
        let after = passive(&checkpointer).unwrap();
        assert!(
            after.log < 5,
            "{after:?}: the WAL holds more than the last commit"
        );
    }

    /// The writer is asked only for frames written while the passes ran:
    /// not when nothing was written since, nor when a reader holds frames
    /// back (the writer could not copy them either).
    #[test]
    fn the_writer_is_not_asked_when_the_passes_left_nothing_it_could_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let open = |role| {
            let conn = Connection::open(&path).unwrap();
            setup_connection(&conn, Durability::Normal, role).unwrap();
            conn
        };
        let writer = open(ConnRole::Writer);
        writer.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        let checkpointer = open(ConnRole::Reader);
        let commit = |n: usize| {
            for _ in 0..n {
                writer
                    .execute_batch("INSERT INTO t VALUES (randomblob(3000))")
                    .unwrap();
            }
        };

        commit(RESTART_PAGES as usize);
        let quiet = passive(&checkpointer).unwrap();
        assert_eq!(quiet.copied, quiet.log, "{quiet:?}");
        let (_, ask) = shrink_tail(&checkpointer, quiet).unwrap();
        assert!(!ask, "nothing was written since the pass");

        let reader = open(ConnRole::Reader);
        reader
            .execute_batch("BEGIN; SELECT count(*) FROM t;")
            .unwrap();
        commit(10);
        let held = passive(&checkpointer).unwrap();
        assert!(held.copied < held.log, "{held:?}: the reader holds frames");
        let (_, ask) = shrink_tail(&checkpointer, held).unwrap();
        assert!(!ask, "the reader still holds them");
        reader.execute_batch("COMMIT").unwrap();
    }

    #[test]
    fn the_tail_is_wanted_once_a_long_wal_was_copied_up_to_its_pass() {
        let pass = |busy, log, copied| Pass { busy, log, copied };
        let long = RESTART_PAGES + 10;
        assert!(tail_wanted(pass(false, long, long), 1000));
        assert!(!tail_wanted(pass(false, 500, 500), 500), "short");
        assert!(!tail_wanted(pass(true, -1, -1), 1000), "busy");
        assert!(
            !tail_wanted(pass(false, long, long - 100), 1000),
            "a reader held frames back"
        );
        assert!(
            !tail_wanted(pass(false, long, long), 0),
            "no writes since: the next one starts it over"
        );
    }

    #[test]
    fn fresh_pages_count_from_the_last_look_or_from_a_restart() {
        assert_eq!(fresh_pages(5000, 5000), 0, "a quiet WAL that stayed long");
        assert_eq!(fresh_pages(6000, 5000), 1000);
        assert_eq!(fresh_pages(300, 5000), 300, "restarted from its start");
    }
}
