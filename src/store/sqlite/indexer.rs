//! The search indexer: a thread of its own with its own connection to
//! `search.db`, so FTS5 work runs beside the group commits (on another
//! core) and never holds the main database's write lock.
//!
//! After each commit, before the acks go out, the writer hands the indexer
//! a [`Note`] of what the commit did to searchable text. The queue between
//! them is bounded and never blocks the writer: a note that does not fit is
//! dropped, and the indexer is told it is behind. Being behind, it catches
//! up from the main database (through a read connection) before it applies
//! another note: for each room the messages above the seq mark `search.db`
//! keeps, and the messages changed above its rev mark. The same catch-up
//! runs at start (whatever a crash left unindexed) and after a failed index
//! transaction. Marks move in the same `search.db` transaction as the rows.
//!
//! Notes are numbered. A search asks for "everything acknowledged before
//! me": it waits, for a bounded time, until the indexer has applied the
//! number handed last.

use super::search::{self, Mark};
use super::{messages, rooms, setup_connection, ConnRole, Durability};
use crate::model::{Rev, RoomId, Seq};
use crate::store::{StoreError, StoreResult};
use rusqlite::{Connection, TransactionBehavior};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

/// Notes that may wait for the indexer. A note is one commit (up to about
/// `max_ops_per_commit` messages), so this is seconds of peak load; past it
/// the indexer reads the main database instead, which needs no memory.
const QUEUE_NOTES: usize = 256;
/// Bytes of text the waiting notes may hold, which bounds their memory.
const QUEUE_BYTES: usize = 64 << 20;
/// Bytes a note entry costs besides its text (rough; for [`QUEUE_BYTES`]).
const ENTRY_BYTES: usize = 48;
/// Notes applied in one `search.db` transaction at most. FTS5 writes an
/// index segment per commit, so a bigger transaction costs less per
/// message; a bound keeps the searches waiting for it from waiting long.
const NOTES_PER_TRANSACTION: usize = 64;
/// How long the indexer lets notes gather after the first one before it
/// writes them. Under a steady trickle of small commits (a busy chat, not a
/// bulk load) every note would otherwise cost its own `search.db`
/// transaction and a thread wake-up: profiling the fan-out load showed the
/// indexer thread using as much CPU as the writer. A search cuts the wait
/// short, and so does a queue that holds a transaction's worth of notes.
const LINGER: Duration = Duration::from_millis(50);
/// Rows read from the main database per room and step while catching up:
/// bounds the memory, and keeps each read snapshot short (a long one holds
/// back the main database's WAL checkpoints).
const CATCH_UP_ROWS: u32 = 10_000;
/// How often an idle indexer looks whether a note was dropped. A search
/// wakes it at once; this is for the index to catch up with no search.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// What a commit did to searchable text, in commit order.
#[derive(Debug, Default)]
pub struct Note {
    entries: Vec<Entry>,
    /// Text bytes plus a per-entry cost: what the note holds in the queue.
    bytes: usize,
}

#[derive(Debug)]
enum Entry {
    /// A new message. `text: None` for a system message: not searchable,
    /// but it moves the room's seq mark.
    Insert {
        room: RoomId,
        seq: Seq,
        text: Option<String>,
    },
    /// A change committed under `rev`.
    Change {
        room: RoomId,
        seq: Seq,
        rev: Rev,
        text: Text,
    },
}

/// What a change did to a message's searchable text.
#[derive(Debug, Clone, PartialEq)]
pub enum Text {
    /// An edit: the new text.
    Set(String),
    /// A delete: the message leaves the index.
    Remove,
    /// A reaction: the text stays, only the rev mark moves.
    Keep,
}

impl Note {
    pub fn insert(&mut self, room: RoomId, seq: Seq, text: Option<String>) {
        self.bytes += ENTRY_BYTES + text.as_ref().map_or(0, String::len);
        self.entries.push(Entry::Insert { room, seq, text });
    }

    pub fn change(&mut self, room: RoomId, seq: Seq, rev: Rev, text: Text) {
        if let Text::Set(t) = &text {
            self.bytes += t.len();
        }
        self.bytes += ENTRY_BYTES;
        self.entries.push(Entry::Change {
            room,
            seq,
            rev,
            text,
        });
    }
}

enum Msg {
    /// A commit's note and its number.
    Note(u64, Note),
    /// A search waits: look whether a note was dropped.
    Wake,
    /// Apply what is queued ahead of this, then exit and say so.
    Stop(std::sync::mpsc::Sender<()>),
}

/// What the writer, the searches and the indexer thread share.
struct Shared {
    /// Number of the last note handed over (sent or dropped). Only the
    /// writer thread moves it.
    handed: AtomicU64,
    /// Set when a note was dropped or an index transaction failed: the
    /// indexer must catch up from the main database before it applies
    /// another note (a note applied over a gap would move a mark past
    /// messages never indexed).
    behind: AtomicBool,
    /// Bytes of the notes in the queue.
    queued_bytes: AtomicUsize,
    /// Notes in the queue: past a transaction's worth the writer wakes a
    /// lingering indexer.
    queued_notes: AtomicUsize,
    /// Every note up to this number is in the index; searches wait on it.
    applied: Mutex<u64>,
    progress: Condvar,
    /// Tests drop notes on purpose, as a full queue would.
    #[cfg(test)]
    drop_notes: AtomicBool,
}

impl Shared {
    fn applied(&self) -> std::sync::MutexGuard<'_, u64> {
        // A number is written whole, so a panic elsewhere while the lock was
        // held leaves nothing half-done.
        self.applied.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, number: u64) {
        let mut applied = self.applied();
        *applied = (*applied).max(number);
        self.progress.notify_all();
    }
}

pub struct Indexer {
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
    /// The indexer thread, to end its linger early.
    worker: Thread,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Indexer {
    /// Opens (creating if needed) the index at `index_path`, a read
    /// connection to the main database at `main_path`, and starts the
    /// thread. Its first job is to catch up with the main database.
    pub fn start(index_path: &Path, main_path: &Path) -> StoreResult<Self> {
        let index = Connection::open(index_path)?;
        // NORMAL even when the main database is FULL: a power cut may cost
        // the index its last transactions, never its consistency (WAL), and
        // the marks bring back what it lost from the main database. An
        // fsync per index commit would buy nothing.
        setup_connection(&index, Durability::Normal, ConnRole::Indexer)?;
        search::create(&index)?;
        let marks = search::load_marks(&index)?;
        let main = Connection::open(main_path)?;
        setup_connection(&main, Durability::Normal, ConnRole::Reader)?;
        // Note 1 stands for "what the main database held at start": behind
        // until the first catch-up, so a search waits for it.
        let shared = Arc::new(Shared {
            handed: AtomicU64::new(1),
            behind: AtomicBool::new(true),
            queued_bytes: AtomicUsize::new(0),
            queued_notes: AtomicUsize::new(0),
            applied: Mutex::new(0),
            progress: Condvar::new(),
            #[cfg(test)]
            drop_notes: AtomicBool::new(false),
        });
        let (tx, rx) = sync_channel(QUEUE_NOTES);
        let worker = Worker {
            index,
            main,
            marks,
            shared: shared.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("palaver-indexer".into())
            .spawn(move || run(worker, rx))
            .map_err(|e| StoreError::Internal(format!("cannot start indexer thread: {e}")))?;
        Ok(Indexer {
            tx,
            shared,
            worker: thread.thread().clone(),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues a committed note; never blocks. Called by the writer thread
    /// only, after the commit and before the acks.
    pub fn hand(&self, note: Note) {
        if note.entries.is_empty() {
            return;
        }
        let shared = &self.shared;
        let number = shared.handed.load(Ordering::SeqCst) + 1;
        let bytes = note.bytes;
        let queued = shared.queued_bytes.fetch_add(bytes, Ordering::SeqCst);
        #[cfg(test)]
        let fits = queued + bytes <= QUEUE_BYTES && !shared.drop_notes.load(Ordering::SeqCst);
        #[cfg(not(test))]
        let fits = queued + bytes <= QUEUE_BYTES;
        // Counted before the send: the indexer may take the note at once.
        let queued_notes = shared.queued_notes.fetch_add(1, Ordering::SeqCst) + 1;
        let sent = fits && self.tx.try_send(Msg::Note(number, note)).is_ok();
        if sent && queued_notes >= NOTES_PER_TRANSACTION {
            self.worker.unpark();
        }
        if !sent {
            shared.queued_bytes.fetch_sub(bytes, Ordering::SeqCst);
            shared.queued_notes.fetch_sub(1, Ordering::SeqCst);
            // Before `handed` moves and before the next note is sent, so the
            // indexer sees it before it could apply anything past the gap.
            shared.behind.store(true, Ordering::SeqCst);
        }
        shared.handed.store(number, Ordering::SeqCst);
    }

    /// Waits, at most `wait`, until everything handed so far (so every
    /// message acknowledged so far) is in the index. False if time ran out.
    pub fn sync(&self, wait: Duration) -> bool {
        let target = self.shared.handed.load(Ordering::SeqCst);
        let applied = self.shared.applied();
        if *applied >= target {
            return true;
        }
        // An idle indexer that is behind waits for work: wake it. A full
        // queue means it is busy, and it gets there by itself.
        let _ = self.tx.try_send(Msg::Wake);
        self.worker.unpark();
        let (applied, result) = self
            .shared
            .progress
            .wait_timeout_while(applied, wait, |applied| *applied < target)
            .unwrap_or_else(|e| e.into_inner());
        drop(applied);
        !result.timed_out()
    }

    /// Applies what is queued, then stops the thread.
    pub fn stop(&self) {
        let (ack, done) = std::sync::mpsc::channel();
        // Blocking is fine here: the writer has stopped, the queue drains.
        if self.tx.send(Msg::Stop(ack)).is_ok() {
            self.worker.unpark();
            let _ = done.recv();
        }
        let handle = self.thread.lock().map(|mut t| t.take()).unwrap_or(None);
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    #[cfg(test)]
    pub fn drop_notes(&self, drop: bool) {
        self.shared.drop_notes.store(drop, Ordering::SeqCst);
    }
}

/// The indexer thread's state.
struct Worker {
    /// `search.db`, written by this thread only.
    index: Connection,
    /// A read connection to the main database, for catching up.
    main: Connection,
    /// The marks as committed in `search.db`.
    marks: HashMap<RoomId, Mark>,
    shared: Arc<Shared>,
}

fn run(mut worker: Worker, rx: Receiver<Msg>) {
    let mut stop_ack = None;
    while stop_ack.is_none() {
        let mut next = match rx.recv_timeout(IDLE_CHECK) {
            Ok(msg) => Some(msg),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let linger_until = Instant::now() + LINGER;
        let mut notes = Vec::new();
        let mut last = 0;
        // A search is waiting or the server stops: write without lingering.
        let mut urgent = false;
        loop {
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Note(number, note) => {
                        let shared = &worker.shared;
                        shared.queued_bytes.fetch_sub(note.bytes, Ordering::SeqCst);
                        shared.queued_notes.fetch_sub(1, Ordering::SeqCst);
                        last = number;
                        notes.push(note);
                    }
                    Msg::Wake => urgent = true,
                    Msg::Stop(ack) => {
                        stop_ack = Some(ack);
                        break;
                    }
                }
                if notes.len() < NOTES_PER_TRANSACTION {
                    next = rx.try_recv().ok();
                }
            }
            let full = notes.len() >= NOTES_PER_TRANSACTION;
            let now = Instant::now();
            if urgent || full || stop_ack.is_some() || notes.is_empty() || now >= linger_until {
                break;
            }
            // Notes sent meanwhile do not wake a parked thread (only a
            // blocked `recv` does); a search, a stop or a full queue unparks.
            std::thread::park_timeout(linger_until - now);
            next = rx.try_recv().ok();
        }
        worker.step(&notes, last);
    }
    tracing::debug!("indexer stopped");
    if let Some(ack) = stop_ack {
        let _ = ack.send(());
    }
}

impl Worker {
    /// Catches up if behind, then applies `notes` (numbered up to `last`).
    fn step(&mut self, notes: &[Note], last: u64) {
        if self.shared.behind.swap(false, Ordering::SeqCst) {
            // Read before the catch-up's first snapshot: every note up to
            // here belongs to a commit that snapshot sees.
            let upto = self.shared.handed.load(Ordering::SeqCst);
            match self.catch_up() {
                Ok(0) => self.shared.publish(upto),
                Ok(indexed) => {
                    tracing::info!(messages = indexed, "search index caught up");
                    self.shared.publish(upto);
                }
                Err(e) => {
                    tracing::error!(error = %e, "search index catch-up failed");
                    self.fail();
                    // The notes would skip what the catch-up missed; the next
                    // catch-up covers them.
                    return;
                }
            }
        }
        if notes.is_empty() {
            return;
        }
        match self.apply(notes) {
            Ok(()) => self.shared.publish(last),
            Err(e) => {
                tracing::error!(error = %e, notes = notes.len(), "search indexing failed");
                self.fail();
            }
        }
    }

    /// After a failed transaction: the marks in memory may be ahead of the
    /// file, so read them again, and catch up next time.
    fn fail(&mut self) {
        self.shared.behind.store(true, Ordering::SeqCst);
        match search::load_marks(&self.index) {
            Ok(marks) => self.marks = marks,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the search index marks");
                self.marks.clear();
            }
        }
    }

    /// Applies notes in one transaction. An insert at or below its room's
    /// seq mark, or a change at or below its rev mark, is in the index
    /// already (a catch-up read it) and is skipped.
    fn apply(&mut self, notes: &[Note]) -> StoreResult<()> {
        let tx = self
            .index
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut touched: HashMap<RoomId, Mark> = HashMap::new();
        for entry in notes.iter().flat_map(|n| &n.entries) {
            let room = match entry {
                Entry::Insert { room, .. } | Entry::Change { room, .. } => *room,
            };
            let mark = touched
                .entry(room)
                .or_insert_with(|| self.marks.get(&room).copied().unwrap_or_default());
            match entry {
                Entry::Insert { seq, text, .. } => {
                    if *seq <= mark.seq {
                        continue;
                    }
                    if let Some(text) = text {
                        search::insert(&tx, room, *seq, text)?;
                    }
                    mark.seq = *seq;
                }
                Entry::Change { seq, rev, text, .. } => {
                    if *rev <= mark.rev {
                        continue;
                    }
                    match text {
                        Text::Set(text) => search::replace(&tx, room, *seq, Some(text))?,
                        Text::Remove => search::replace(&tx, room, *seq, None)?,
                        Text::Keep => {}
                    }
                    mark.rev = *rev;
                }
            }
        }
        for (room, mark) in &touched {
            search::set_mark(&tx, *room, *mark)?;
        }
        tx.commit()?;
        self.marks.extend(touched);
        Ok(())
    }

    /// Brings every room's index up to the main database; forgets rooms
    /// that are gone. Returns how many messages it (re)indexed.
    fn catch_up(&mut self) -> StoreResult<usize> {
        let rooms = rooms::all_ids(&self.main)?;
        let gone: Vec<RoomId> = self
            .marks
            .keys()
            .filter(|room| rooms.binary_search(room).is_err())
            .copied()
            .collect();
        if !gone.is_empty() {
            let tx = self
                .index
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            for room in &gone {
                search::forget_room(&tx, *room)?;
            }
            tx.commit()?;
            for room in gone {
                self.marks.remove(&room);
            }
        }
        let mut indexed = 0;
        for room in rooms {
            indexed += self.catch_up_room(room)?;
        }
        Ok(indexed)
    }

    /// Catches one room up, in steps of at most [`CATCH_UP_ROWS`] messages
    /// each way. A step reads, in one snapshot of the main database, the
    /// messages above the seq mark (their text now) and the messages below
    /// it changed above the rev mark (their text now), and writes them with
    /// the new marks in one transaction. The rev mark moves to the room's
    /// last rev once every change below the old seq mark was read: every
    /// message up to the new seq mark is then as the snapshot has it.
    fn catch_up_room(&mut self, room: RoomId) -> StoreResult<usize> {
        let full = CATCH_UP_ROWS as usize;
        let mut indexed = 0;
        loop {
            let mark = self.marks.get(&room).copied().unwrap_or_default();
            let read = self.main.transaction()?;
            let last = Mark {
                seq: messages::last_seq(&read, room)?,
                rev: messages::last_rev(&read, room)?,
            };
            // Ahead of the main database: a copy restored from backup, or a
            // power cut that kept index commits and lost main ones. The
            // room is indexed again from scratch.
            let stale = mark.seq > last.seq || mark.rev > last.rev;
            if !stale && mark == last {
                return Ok(indexed);
            }
            let mark = if stale { Mark::default() } else { mark };
            let fresh = messages::index_rows_after(&read, room, mark.seq, CATCH_UP_ROWS)?;
            let changed =
                messages::index_rows_changed(&read, room, mark.rev, mark.seq, CATCH_UP_ROWS)?;
            read.commit()?;
            let next = Mark {
                seq: fresh.last().map_or(mark.seq, |r| r.seq),
                rev: match changed.last() {
                    Some(r) if changed.len() == full => r.rev,
                    _ => last.rev,
                },
            };
            let tx = self
                .index
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            if stale {
                tracing::warn!(
                    room,
                    "search index ahead of the database: re-indexing the room"
                );
                search::forget_room(&tx, room)?;
            }
            for row in fresh.iter().chain(&changed) {
                search::replace(&tx, room, row.seq, row.text.as_deref())?;
            }
            search::set_mark(&tx, room, next)?;
            tx.commit()?;
            self.marks.insert(room, next);
            indexed += fresh.len() + changed.len();
            if fresh.len() < full && changed.len() < full {
                return Ok(indexed);
            }
        }
    }
}
