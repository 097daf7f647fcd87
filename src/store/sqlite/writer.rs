//! The group-commit writer: one thread, one connection. It takes every batch
//! waiting in its queue (up to a bound), writes them all in ONE transaction,
//! commits, and only then answers each batch — so an ack always means
//! "durable", and a burst of messages costs one fsync instead of one each.
//!
//! New messages reach the search index later, in bulk: the writer queues
//! them and indexes the queue in a transaction of its own when it has
//! nothing else to do, when the queue is long, before a change to any
//! message, and when a search asks (see migration 0004 for why).

use super::search::{self, Unindexed};
use super::{changes, messages, rooms};
use crate::model::{MessageKind, Rev, RoomId, Seq};
use crate::store::{BatchResult, OpOutcome, RoomBatch, RoomOp, StoreError, StoreResult};
use rusqlite::{Connection, TransactionBehavior};
use std::collections::HashSet;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Mutex;
use std::thread::JoinHandle;
use tokio::sync::oneshot;

#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    /// Batches that may wait for the writer. Past this, submit says Busy and
    /// the client gets 503 / an `overloaded` error instead of the server
    /// buffering without bound.
    pub queue_batches: usize,
    /// The writer stops adding batches to a transaction once it holds this
    /// many ops, so one commit never holds the write lock (and every waiting
    /// ack) for long. A single batch is never split, so a transaction can
    /// exceed this by up to one batch (rooms send at most `room_batch` ops).
    pub max_ops_per_commit: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            queue_batches: 8192,
            max_ops_per_commit: 4096,
        }
    }
}

/// Index the queue once it holds this many messages, even while busy...
const INDEX_QUEUE_MESSAGES: usize = 4096;
/// ...or this many bytes of text, which bounds its memory.
const INDEX_QUEUE_BYTES: usize = 4 << 20;

enum Job {
    Batch(RoomBatch, oneshot::Sender<BatchResult>),
    /// Index everything committed ahead of this, then say so.
    SyncIndex(std::sync::mpsc::Sender<()>),
    /// Finish what is queued ahead of this, then exit and say so.
    Stop(std::sync::mpsc::Sender<()>),
}

/// Committed messages waiting for the search index, oldest first.
#[derive(Default)]
struct IndexQueue {
    rows: Vec<Unindexed>,
    bytes: usize,
}

impl IndexQueue {
    fn push(&mut self, row: Unindexed) {
        self.bytes += row.content.as_ref().map_or(0, String::len);
        self.rows.push(row);
    }

    fn is_long(&self) -> bool {
        self.rows.len() >= INDEX_QUEUE_MESSAGES || self.bytes >= INDEX_QUEUE_BYTES
    }

    fn clear(&mut self) {
        self.rows.clear();
        self.bytes = 0;
    }

    /// Indexes the queue in a transaction of its own. On failure the rows
    /// are dropped here; the next start indexes them (`search::recover`).
    fn flush(&mut self, conn: &mut Connection) {
        if self.rows.is_empty() {
            return;
        }
        let result = (|| -> StoreResult<()> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            search::index(&tx, &self.rows)?;
            Ok(tx.commit()?)
        })();
        if let Err(e) = result {
            tracing::error!(error = %e, messages = self.rows.len(), "search indexing failed");
        }
        self.clear();
    }
}

pub struct Writer {
    tx: SyncSender<Job>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    pub fn start(conn: Connection, config: WriterConfig) -> StoreResult<Self> {
        let (tx, rx) = sync_channel(config.queue_batches);
        let thread = std::thread::Builder::new()
            .name("palaver-writer".into())
            .spawn(move || run(conn, rx, config))
            .map_err(|e| StoreError::Internal(format!("cannot start writer thread: {e}")))?;
        Ok(Writer {
            tx,
            thread: Mutex::new(Some(thread)),
        })
    }

    pub fn submit(&self, batch: RoomBatch) -> StoreResult<oneshot::Receiver<BatchResult>> {
        let (reply, rx) = oneshot::channel();
        match self.tx.try_send(Job::Batch(batch, reply)) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) => Err(StoreError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(StoreError::Closed),
        }
    }

    /// Blocks until every message committed so far is in the search index.
    pub fn sync_index(&self) -> StoreResult<()> {
        let (ack, done) = std::sync::mpsc::channel();
        match self.tx.try_send(Job::SyncIndex(ack)) {
            Ok(()) => done.recv().map_err(|_| StoreError::Closed),
            Err(TrySendError::Full(_)) => Err(StoreError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(StoreError::Closed),
        }
    }

    pub fn flush_and_stop(&self) {
        let (ack, done) = std::sync::mpsc::channel();
        if self.tx.send(Job::Stop(ack)).is_ok() {
            let _ = done.recv();
        }
        let handle = self.thread.lock().map(|mut t| t.take()).unwrap_or(None);
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

fn run(mut conn: Connection, rx: Receiver<Job>, config: WriterConfig) {
    let mut stop_ack = None;
    let mut unindexed = IndexQueue::default();
    while stop_ack.is_none() {
        // Out of work: index now, while nobody waits for a commit.
        let first = match rx.try_recv() {
            Ok(job) => job,
            Err(_) => {
                unindexed.flush(&mut conn);
                let Ok(job) = rx.recv() else { break };
                job
            }
        };
        let mut group = Vec::new();
        let mut index_waiters = Vec::new();
        let mut ops = 0;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Batch(batch, reply) => {
                    ops += batch.ops.len();
                    group.push((batch, reply));
                }
                Job::SyncIndex(ack) => index_waiters.push(ack),
                Job::Stop(ack) => {
                    stop_ack = Some(ack);
                    break;
                }
            }
            if ops < config.max_ops_per_commit {
                next = rx.try_recv().ok();
            }
        }
        if !group.is_empty() {
            commit_group(&mut conn, group, &mut unindexed);
        }
        if unindexed.is_long() || !index_waiters.is_empty() || stop_ack.is_some() {
            unindexed.flush(&mut conn);
        }
        for ack in index_waiters {
            let _ = ack.send(());
        }
    }
    unindexed.flush(&mut conn);
    tracing::debug!("writer stopped");
    if let Some(ack) = stop_ack {
        let _ = ack.send(());
    }
}

fn commit_group(
    conn: &mut Connection,
    group: Vec<(RoomBatch, oneshot::Sender<BatchResult>)>,
    unindexed: &mut IndexQueue,
) {
    let (batches, replies): (Vec<_>, Vec<_>) = group.into_iter().unzip();
    let count = batches.len();
    // A change is applied to an indexed message only, so the index
    // triggers see the row they update.
    let changes_messages = batches
        .iter()
        .any(|b| b.ops.iter().any(|op| matches!(op, RoomOp::Change { .. })));
    let index_first = changes_messages && !unindexed.rows.is_empty();
    let outcome = (|| -> StoreResult<Vec<Vec<OpOutcome>>> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if index_first {
            search::index(&tx, &unindexed.rows)?;
        }
        let results = batches
            .into_iter()
            .map(|batch| apply_batch(&tx, batch))
            .collect::<StoreResult<Vec<_>>>()?;
        tx.commit()?;
        Ok(results)
    })();
    match outcome {
        Ok(results) => {
            if index_first {
                unindexed.clear();
            }
            // A message edited or deleted in the same commit that stored it
            // is already right in the index: the triggers did it.
            let handled: HashSet<(RoomId, Seq)> = results
                .iter()
                .flatten()
                .filter_map(|o| match o {
                    OpOutcome::Changed(c) if c.message.edited_at.is_some() || c.message.deleted => {
                        Some((c.message.room_id, c.message.seq))
                    }
                    _ => None,
                })
                .collect();
            for (reply, result) in replies.into_iter().zip(results) {
                for outcome in &result {
                    if let OpOutcome::Inserted(m) = outcome {
                        let searchable =
                            m.kind != MessageKind::System && !handled.contains(&(m.room_id, m.seq));
                        unindexed.push(Unindexed {
                            room: m.room_id,
                            seq: m.seq,
                            content: searchable.then(|| m.content.clone()),
                        });
                    }
                }
                let _ = reply.send(Ok(result));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, batches = count, "group commit failed");
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

/// Applies one room's ops. A failing op (a reused messageId, a participant
/// already there) fails alone — SQLite rolls back just that statement — and
/// does not consume a seq.
fn apply_batch(conn: &Connection, batch: RoomBatch) -> StoreResult<Vec<OpOutcome>> {
    let room = batch.room_id;
    let mut seq: Seq = batch.next_seq;
    let mut rev: Rev = batch.next_rev;
    let mut outcomes = Vec::with_capacity(batch.ops.len());
    for op in batch.ops {
        let step = match op {
            RoomOp::Post(m) => match messages::insert_new(conn, room, seq, &m)? {
                true => Ok(OpOutcome::Inserted(m.into_message(room, seq))),
                // The messageId exists: a retry of the same message, or a clash.
                false => match messages::by_message_id(conn, &m.message_id)? {
                    Some(original)
                        if original.room_id == room && original.sender_id == m.sender_id =>
                    {
                        Ok(OpOutcome::Duplicate(original))
                    }
                    _ => Err(StoreError::Conflict(
                        "messageId is already used by another message".into(),
                    )),
                },
            },
            RoomOp::AddParticipant {
                user_id,
                role,
                system,
            } => rooms::add_participant(conn, room, user_id, role)
                .and_then(|()| messages::insert(conn, room, seq, &system))
                .map(|()| OpOutcome::Inserted(system.into_message(room, seq))),
            RoomOp::RemoveParticipant { user_id, system } => {
                rooms::remove_participant(conn, room, user_id)
                    .and_then(|()| messages::insert(conn, room, seq, &system))
                    .map(|()| OpOutcome::Inserted(system.into_message(room, seq)))
            }
            RoomOp::MarkRead { user_id, seq: read } => {
                rooms::mark_read(conn, room, user_id, read).map(|()| OpOutcome::Done)
            }
            RoomOp::Change {
                message_id,
                user_id,
                change,
                at,
            } => changes::apply(conn, room, rev, user_id, &message_id, change, at)
                .map(OpOutcome::Changed),
        };
        let outcome = match step {
            Ok(outcome) => outcome,
            // An internal error (I/O, corruption) fails the whole group.
            Err(StoreError::Internal(e)) => return Err(StoreError::Internal(e)),
            Err(e) => OpOutcome::Failed(e),
        };
        match &outcome {
            OpOutcome::Inserted(_) => seq += 1,
            OpOutcome::Changed(c) if c.changed => rev += 1,
            _ => {}
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}
