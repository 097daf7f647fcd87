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
use crate::model::{DueMessage, FileId, MessageChange, RoomId, RoomSweep, Timestamp};
use crate::service;
use futures_util::future::join_all;
use std::sync::Arc;

/// Most messages deleted in one round, over all rooms; the rest wait for
/// the next round, which follows at once.
const BATCH: u32 = 200;
/// Most queued files looked at in one go.
const FREE_BATCH: u32 = 100;

/// Runs until shutdown.
pub async fn run(app: Arc<App>) {
    repeat(&app, &app.destructs_changed, "auto-destruct", || {
        destroy_due(&app)
    })
    .await;
}

async fn destroy_due(app: &App) -> Result<Round, Error> {
    // Files a crash left queued go first.
    free_files(app).await?;
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
    free_files(app).await?;
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
    let mut swept_to = sweep.swept_to;
    let mut all_done = true;
    for (m, result) in sweep.due.iter().zip(results) {
        match result {
            Ok(()) => {}
            Err(e) => {
                if !is_passing(&e) {
                    tracing::error!(error = %e, room_id, seq = m.seq, "could not delete a due message");
                }
                all_done = false;
                swept_to = swept_to.min(m.seq.saturating_sub(1));
            }
        }
    }
    app.store
        .run(move |s| s.mark_destruct_swept(room_id, swept_to))
        .await?;
    Ok(all_done)
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
/// from disk when no file names them any more.
///
/// Known gap: an upload of the very same bytes that lands between the
/// store's "no file names this blob" and the removal finds the blob on disk
/// (uploads are deduplicated by hash), records a row, and then loses its
/// bytes; its download fails until the bytes are uploaded again.
async fn free_files(app: &App) -> Result<(), Error> {
    loop {
        let freed = app
            .store
            .run(move |s| s.free_queued_files(FREE_BATCH))
            .await?;
        let full = freed.len() as u32 == FREE_BATCH;
        for file in freed {
            let blobs = app.blobs.clone();
            let sha256 = file.sha256.clone();
            tokio::task::spawn_blocking(move || blobs.remove(&sha256))
                .await
                .map_err(|e| Error::Internal(format!("blob removal failed: {e}")))?
                .map_err(|e| Error::Internal(format!("removing a freed blob: {e}")))?;
            let id = file.file_id;
            app.store.run(move |s| s.forget_file_free(id)).await?;
        }
        if !full {
            return Ok(());
        }
    }
}
