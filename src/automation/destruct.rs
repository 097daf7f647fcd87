//! Disappearing messages: one task that deletes for everyone, like a
//! moderator's delete, the messages of each room with a rule in force once
//! they are older than the room's shortest lifetime, and then frees the
//! files only those messages carried.
//!
//! Everything it needs is in the store (the rules, each room's sweep mark,
//! the files waiting to be freed), so messages that fell due while the
//! server was down go at start-up, and work a crash cut short is finished.

use super::rounds::{is_passing, repeat, Round};
use crate::actors::messages::By;
use crate::app::App;
use crate::error::Error;
use crate::model::{
    DueMessage, FileId, FreedFile, MessageChange, RoomId, RoomSweep, Seq, Timestamp,
};
use crate::service;
use futures_util::future::join_all;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Most messages deleted in one round, over all rooms; the rest wait for
/// the next round, which follows at once.
const BATCH: u32 = 200;
/// Most queued files looked at in one go.
const FREE_BATCH: u32 = 100;
/// Wait before trying a failed blob removal again; it doubles with each
/// failure, up to the longest.
const FIRST_RETRY_SECS: i64 = 5;
const LONGEST_RETRY_SECS: i64 = 3600;

/// Runs until shutdown.
pub async fn run(app: Arc<App>) {
    let retries = Mutex::new(Retries::default());
    repeat(&app, &app.destructs_changed, "auto-destruct", || {
        destroy_due(&app, &retries)
    })
    .await;
}

/// Deletes what is due, then frees the files it carried (and those a crash
/// or a failed removal left queued). Freeing comes second and never fails
/// the round, so a blob that cannot be removed never holds up the deletes.
async fn destroy_due(app: &App, retries: &Mutex<Retries>) -> Result<Round, Error> {
    let swept = sweep(app).await;
    let freed = free_files(app, retries).await;
    if let Err(e) = &freed {
        tracing::error!(error = %e, "could not free the files of destroyed messages");
    }
    Ok(match (swept?, freed) {
        (Round::More, _) => Round::More,
        (Round::Done(next), Ok(retry_at)) => Round::Done(earliest(next, retry_at)),
        (Round::Retry, _) | (_, Err(_)) => Round::Retry,
    })
}

async fn sweep(app: &App) -> Result<Round, Error> {
    let now = app.clock.now();
    let sweeps = app.store.run(move |s| s.destruct_sweep(now, BATCH)).await?;
    let found: usize = sweeps.iter().map(|s| s.due.len()).sum();
    let files: Vec<FileId> = sweeps
        .iter()
        .flat_map(|s| s.due.iter().filter_map(|m| m.file_id))
        .collect();
    // Queued before the deletes, so no crash can forget them.
    if !files.is_empty() {
        app.store.run(move |s| s.queue_file_frees(&files)).await?;
    }
    let mut retry = false;
    let mut next_due: Option<Timestamp> = None;
    for sweep in sweeps {
        next_due = earliest(next_due, sweep.next_due);
        retry |= !destroy(app, sweep).await?;
    }
    if retry {
        return Ok(Round::Retry);
    }
    if found as u32 >= BATCH {
        return Ok(Round::More);
    }
    // A message posted from now on falls due no sooner than the shortest
    // lifetime, so that bounds the sleep too.
    let shortest = app.store.run(|s| s.shortest_destruct_lifetime()).await?;
    let soonest_new = shortest.map(|secs| app.clock.now().plus_seconds(secs));
    Ok(Round::Done(earliest(next_due, soonest_new)))
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Deletes one room's due messages through its actor (together, so they
/// share commits) and moves its sweep mark past them. `false` when some
/// could not be deleted for now: the mark stops below the first of them.
async fn destroy(app: &App, sweep: RoomSweep) -> Result<bool, Error> {
    let room_id = sweep.room_id;
    let results = join_all(sweep.due.iter().map(|m| delete(app, room_id, m))).await;
    let (swept_to, all_done) = settle(room_id, sweep.swept_to, sweep.due.iter().zip(results));
    app.store
        .run(move |s| s.mark_destruct_swept(room_id, swept_to))
        .await?;
    Ok(all_done)
}

/// Where a room's sweep mark may move once its due messages were deleted,
/// and whether all were. A failure that may pass holds the mark below its
/// message, to be tried again; any other is logged and passed over, as
/// trying again would fail again and hold the room's sweep for ever.
fn settle<'a>(
    room_id: RoomId,
    mut swept_to: Seq,
    results: impl Iterator<Item = (&'a DueMessage, Result<(), Error>)>,
) -> (Seq, bool) {
    let mut all_done = true;
    for (m, result) in results {
        match result {
            Ok(()) => {}
            Err(e) if is_passing(&e) => {
                all_done = false;
                swept_to = swept_to.min(m.seq.saturating_sub(1));
            }
            Err(e) => {
                tracing::error!(error = %e, room_id, seq = m.seq, "could not delete a due message; it stays");
            }
        }
    }
    (swept_to, all_done)
}

/// A moderator's delete: a tombstone for everyone, `message_deleted` to
/// every online member.
async fn delete(app: &App, room_id: RoomId, m: &DueMessage) -> Result<(), Error> {
    let change = MessageChange::Delete { moderator: true };
    match service::change_message(app, room_id, By::Admin, m.message_id.clone(), change).await {
        // Gone with its room meanwhile: nothing left to delete.
        Ok(_) | Err(Error::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Frees the queued files no live message carries, and removes their blobs
/// from disk when no file names them any more. A removal that fails is
/// logged and left queued, to be tried again after a growing wait; answers
/// when the next such try is due.
async fn free_files(app: &App, retries: &Mutex<Retries>) -> Result<Option<Timestamp>, Error> {
    let mut after: FileId = 0;
    let mut next_try = None;
    loop {
        let freed = app
            .store
            .run(move |s| s.free_queued_files(after, FREE_BATCH))
            .await?;
        let full = freed.len() as u32 == FREE_BATCH;
        for file in freed {
            after = file.file_id;
            let now = app.clock.now();
            if let Some(at) = lock(retries).waiting(file.file_id, now) {
                next_try = earliest(next_try, Some(at));
                continue;
            }
            match remove_blob(app, &file).await {
                Ok(()) => lock(retries).forget(file.file_id),
                Err(e) => {
                    let at = lock(retries).failed(file.file_id, now);
                    tracing::warn!(
                        error = %e, file_id = file.file_id, sha256 = %file.sha256,
                        "could not remove a freed blob; trying again later"
                    );
                    next_try = earliest(next_try, Some(at));
                }
            }
        }
        if !full {
            return Ok(next_try);
        }
    }
}

/// Removes a freed file's blob, unless an upload of the same bytes named it
/// again since it was freed, and takes the file off the queue.
async fn remove_blob(app: &App, file: &FreedFile) -> Result<(), Error> {
    // Held until the blob is gone: an upload of these bytes waits, then
    // stores them afresh.
    let _lock = app.blobs.lock(&file.sha256).await;
    let sha256 = file.sha256.clone();
    if !app.store.run(move |s| s.blob_in_use(&sha256)).await? {
        let blobs = app.blobs.clone();
        let sha256 = file.sha256.clone();
        tokio::task::spawn_blocking(move || blobs.remove(&sha256))
            .await
            .map_err(|e| Error::Internal(format!("blob removal failed: {e}")))?
            .map_err(|e| Error::Internal(format!("removing a freed blob: {e}")))?;
    }
    let id = file.file_id;
    app.store.run(move |s| s.forget_file_free(id)).await?;
    Ok(())
}

/// Blob removals that failed, by file: when each may be tried again and
/// how long the wait after its next failure is. Only queued files are in
/// it, so it is bounded by the queue.
#[derive(Default)]
struct Retries(HashMap<FileId, (Timestamp, i64)>);

impl Retries {
    /// When the file may be tried again, if not yet at `now`.
    fn waiting(&self, file: FileId, now: Timestamp) -> Option<Timestamp> {
        self.0.get(&file).map(|(at, _)| *at).filter(|at| *at > now)
    }

    /// Notes a failure at `now`; answers when to try again.
    fn failed(&mut self, file: FileId, now: Timestamp) -> Timestamp {
        let wait = self
            .0
            .get(&file)
            .map_or(FIRST_RETRY_SECS, |(_, wait)| *wait);
        let at = now.plus_seconds(wait);
        self.0
            .insert(file, (at, wait.saturating_mul(2).min(LONGEST_RETRY_SECS)));
        at
    }

    fn forget(&mut self, file: FileId) {
        self.0.remove(&file);
    }
}

/// The retries, even if a panic poisoned their lock (they are only ever
/// left consistent).
fn lock(retries: &Mutex<Retries>) -> MutexGuard<'_, Retries> {
    retries
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(seq: Seq) -> DueMessage {
        DueMessage {
            seq,
            message_id: String::new(),
            file_id: None,
        }
    }

    #[test]
    fn only_a_passing_failure_holds_the_sweep_mark() {
        let due: Vec<_> = (1..=3).map(due).collect();
        let results = |second: Result<(), Error>| due.iter().zip([Ok(()), second, Ok(())]);

        assert_eq!(settle(7, 3, results(Ok(()))), (3, true));
        // The writer was busy: seq 2 is tried again, the mark stays at 1.
        let busy = Error::Overloaded("busy".into());
        assert_eq!(settle(7, 3, results(Err(busy))), (1, false));
        // A failure that would only repeat is passed over.
        let broken = Error::Internal("broken".into());
        assert_eq!(settle(7, 3, results(Err(broken))), (3, true));
    }

    #[test]
    fn a_failed_removal_waits_longer_each_time_up_to_the_longest() {
        let mut retries = Retries::default();
        let t0 = Timestamp(0);
        assert_eq!(retries.waiting(1, t0), None);
        let first = retries.failed(1, t0);
        assert_eq!(first, t0.plus_seconds(FIRST_RETRY_SECS));
        assert_eq!(retries.waiting(1, t0), Some(first));
        assert_eq!(retries.waiting(2, t0), None, "only that file waits");
        assert_eq!(retries.waiting(1, first), None);
        let second = retries.failed(1, first);
        assert_eq!(second, first.plus_seconds(2 * FIRST_RETRY_SECS));
        let mut at = second;
        for _ in 0..20 {
            at = retries.failed(1, at);
        }
        assert_eq!(retries.failed(1, at), at.plus_seconds(LONGEST_RETRY_SECS));
        retries.forget(1);
        assert_eq!(retries.waiting(1, at), None);
        assert!(retries.0.is_empty());
    }
}
