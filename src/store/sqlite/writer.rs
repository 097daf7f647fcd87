//! The group-commit writer: one thread, one connection. It takes every batch
//! waiting in its queue (up to a bound), writes them all in ONE transaction,
//! commits, and only then answers each batch — so an ack always means
//! "durable", and a burst of messages costs one fsync instead of one each.
//!
//! The search index is not written here: after each commit, before the
//! acks, the writer hands the indexer thread a note of the commit's new and
//! changed text (see `indexer.rs`), which never blocks.

use super::checkpointer::{copy_tail, TailRequest};
use super::indexer::{Indexer, Note, Text};
use super::{changes, messages, rooms};
use crate::model::{MessageKind, NewMessage, Rev, RoomId, Seq};
use crate::store::{BatchResult, OpOutcome, RoomBatch, RoomOp, StoreError, StoreResult};
use rusqlite::{Connection, TransactionBehavior};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
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

enum Job {
    Batch(RoomBatch, oneshot::Sender<BatchResult>),
    /// Finish what is queued ahead of this, then exit and say so.
    Stop(std::sync::mpsc::Sender<()>),
}

pub struct Writer {
    tx: SyncSender<Job>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    pub fn start(
        conn: Connection,
        config: WriterConfig,
        indexer: Arc<Indexer>,
        tail: Arc<TailRequest>,
    ) -> StoreResult<Self> {
        let (tx, rx) = sync_channel(config.queue_batches);
        let thread = std::thread::Builder::new()
            .name("palaver-writer".into())
            .spawn(move || run(conn, rx, config, &indexer, &tail))
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

fn run(
    mut conn: Connection,
    rx: Receiver<Job>,
    config: WriterConfig,
    indexer: &Indexer,
    tail: &TailRequest,
) {
    let mut stop_ack = None;
    // A job taken to see whether the writer is idle, kept for the next group.
    let mut waiting = None;
    while stop_ack.is_none() {
        let first = match waiting.take() {
            Some(job) => job,
            None => match rx.recv() {
                Ok(job) => job,
                Err(_) => break,
            },
        };
        let mut group = Vec::new();
        let mut ops = 0;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Batch(batch, reply) => {
                    ops += batch.ops.len();
                    group.push((batch, reply));
                }
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
            commit_group(&mut conn, group, indexer);
            // So that the WAL starts over (see `checkpointer.rs`). After
            // the acks, which do not wait for its fsyncs, and only while
            // no batch waits: one that did would wait for them (1-3 ms on
            // fan-out, 8-24 ms on the persist load). Under a steady stream
            // the request waits, and the writer's backstop bounds the WAL.
            if tail.wanted() {
                match rx.try_recv() {
                    Ok(job) => waiting = Some(job),
                    Err(_) => {
                        if tail.take() {
                            copy_tail(&conn);
                        }
                    }
                }
            }
        }
    }
    tracing::debug!("writer stopped");
    if let Some(ack) = stop_ack {
        let _ = ack.send(());
    }
}

fn commit_group(
    conn: &mut Connection,
    group: Vec<(RoomBatch, oneshot::Sender<BatchResult>)>,
    indexer: &Indexer,
) {
    let (batches, replies): (Vec<_>, Vec<_>) = group.into_iter().unzip();
    let count = batches.len();
    let outcome = (|| -> StoreResult<Vec<Vec<OpOutcome>>> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let results = batches
            .into_iter()
            .map(|batch| apply_batch(&tx, batch))
            .collect::<StoreResult<Vec<_>>>()?;
        tx.commit()?;
        Ok(results)
    })();
    match outcome {
        Ok(results) => {
            // Handed before the acks: a search that follows an ack waits
            // for this note.
            indexer.hand(note_of(&results));
            for (reply, result) in replies.into_iter().zip(results) {
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

/// What a commit did to searchable text, in op order (an edit in the same
/// commit as its message comes after the insert).
fn note_of(results: &[Vec<OpOutcome>]) -> Note {
    let mut note = Note::default();
    for outcome in results.iter().flatten() {
        match outcome {
            OpOutcome::Inserted(m) => {
                let text = (m.kind != MessageKind::System).then(|| m.content.clone());
                note.insert(m.room_id, m.seq, text);
            }
            OpOutcome::Changed(c) if c.changed => {
                let m = &c.message;
                let text = if m.deleted {
                    Text::Remove
                } else if c.reaction.is_some() {
                    Text::Keep
                } else {
                    Text::Set(m.content.clone())
                };
                note.change(m.room_id, m.seq, m.rev, text);
            }
            _ => {}
        }
    }
    note
}

/// Applies one room's ops. A failing op (a reused messageId, a participant
/// already there, a file freed meanwhile) fails alone — SQLite rolls back
/// just that statement — and does not consume a seq.
fn apply_batch(conn: &Connection, batch: RoomBatch) -> StoreResult<Vec<OpOutcome>> {
    let room = batch.room_id;
    let mut seq: Seq = batch.next_seq;
    let mut rev: Rev = batch.next_rev;
    let mut outcomes = Vec::with_capacity(batch.ops.len());
    for op in batch.ops {
        let step = match op {
            RoomOp::Post(m) => post(conn, room, seq, m),
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

/// Stores a new message, or finds the one an earlier try already stored.
fn post(conn: &Connection, room: RoomId, seq: Seq, m: NewMessage) -> StoreResult<OpOutcome> {
    if messages::insert_new(conn, room, seq, &m)? {
        return Ok(OpOutcome::Inserted(m.into_message(room, seq)));
    }
    // The messageId exists: a retry of the same message, or a clash.
    match messages::by_message_id(conn, &m.message_id)? {
        Some(original) if original.room_id == room && original.sender_id == m.sender_id => {
            Ok(OpOutcome::Duplicate(original))
        }
        _ => Err(StoreError::Conflict(
            "messageId is already used by another message".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Timestamp;

    fn message(id: &str, file_id: Option<i64>) -> NewMessage {
        NewMessage {
            message_id: id.to_owned(),
            sender_id: Some(1),
            kind: MessageKind::Text,
            content: "x".into(),
            reply_id: None,
            forward_of: None,
            file_id,
            preview: None,
            created_at: Timestamp::now(),
            auto_reply: false,
        }
    }

    /// A message whose file was freed on its way to the writer fails alone,
    /// saying its file is gone; the rest of the batch (and so of the group
    /// commit) is stored.
    #[test]
    fn a_message_naming_a_freed_file_fails_alone() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO users (login, password_hash, name, created_at) VALUES ('a', '', 'A', 0);
             INSERT INTO rooms (kind, creator_id, created_at) VALUES ('group', 1, 0);
             INSERT INTO participants (room_id, user_id, role, joined_at) VALUES (1, 1, 'owner', 0);",
        )
        .unwrap();
        let batch = RoomBatch {
            room_id: 1,
            next_seq: 1,
            next_rev: 1,
            ops: vec![
                RoomOp::Post(message("0190a1b2-0000-7000-8000-00000000000a", Some(42))),
                RoomOp::Post(message("0190a1b2-0000-7000-8000-00000000000b", None)),
            ],
        };
        let outcomes = apply_batch(&conn, batch).expect("the batch is not failed whole");
        assert!(
            matches!(outcomes[0], OpOutcome::Failed(StoreError::NotFound("file"))),
            "{:?}",
            outcomes[0]
        );
        assert!(
            matches!(&outcomes[1], OpOutcome::Inserted(m) if m.seq == 1),
            "{:?}",
            outcomes[1]
        );
    }
}
