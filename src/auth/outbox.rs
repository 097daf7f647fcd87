//! The SMS outbox task: takes SMS ids from a bounded queue, delivers what
//! the `sms_outbox` table holds through an [`SmsSender`], and retries
//! failures with exponential backoff. The table is the source of truth: a
//! full queue, a restart or a gateway outage only delays an SMS, and a row
//! is removed only after its delivery succeeded (or its code expired).

use super::sms::SmsSender;
use crate::model::phone::OutboxSms;
use crate::model::Timestamp;
use crate::store::{StoreHandle, StoreResult};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Wake-ups waiting for the task. Each SMS is already stored, so a full
/// queue loses nothing: the task finds the row on its next pass.
const QUEUE_CAPACITY: usize = 256;

/// SMS read from the table per pass.
const BATCH: u32 = 32;

/// The longest the task sleeps with nothing due, so rows written while the
/// queue was full are picked up within this time.
const IDLE_RECHECK: Duration = Duration::from_secs(30);

/// Delay before the first retry; it doubles with each failure...
const FIRST_RETRY_SECS: i64 = 1;
/// ...up to this. Codes expire within minutes, so longer waits buy nothing.
const MAX_RETRY_SECS: i64 = 60;

/// The handle handlers use to wake the task after storing an SMS.
#[derive(Clone)]
pub struct SmsQueue {
    tx: mpsc::Sender<i64>,
}

impl SmsQueue {
    /// Never blocks: when the queue is full the stored row waits for the
    /// task's next pass.
    pub fn notify(&self, id: i64) {
        if self.tx.try_send(id).is_err() {
            tracing::debug!(id, "SMS queue full; the outbox pass will pick it up");
        }
    }
}

/// Starts the task; it stops when `shutdown` is cancelled (undelivered SMS
/// stay in the table for the next start).
pub fn start(
    store: StoreHandle,
    sender: Arc<dyn SmsSender>,
    shutdown: CancellationToken,
) -> SmsQueue {
    let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
    tokio::spawn(run(store, sender, rx, shutdown));
    SmsQueue { tx }
}

async fn run(
    store: StoreHandle,
    sender: Arc<dyn SmsSender>,
    mut rx: mpsc::Receiver<i64>,
    shutdown: CancellationToken,
) {
    loop {
        let wait = match deliver_due(&store, sender.as_ref()).await {
            Ok(wait) => wait,
            Err(e) => {
                tracing::warn!(error = %e, "SMS outbox pass failed; trying again later");
                IDLE_RECHECK
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            woken = rx.recv() => if woken.is_none() { return },
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Sends every SMS due now; returns how long until the next one is due.
async fn deliver_due(store: &StoreHandle, sender: &dyn SmsSender) -> StoreResult<Duration> {
    loop {
        let now = Timestamp::now();
        let due = store.run(move |s| s.due_sms(now, BATCH)).await?;
        let full_batch = due.len() == BATCH as usize;
        for sms in due {
            deliver(store, sender, sms).await?;
        }
        if !full_batch {
            break;
        }
    }
    let next = store.run(|s| s.next_sms_due()).await?;
    Ok(match next {
        None => IDLE_RECHECK,
        Some(at) => {
            let ms = (at.millis() - Timestamp::now().millis()).max(0);
            Duration::from_millis(ms as u64).min(IDLE_RECHECK)
        }
    })
}

async fn deliver(store: &StoreHandle, sender: &dyn SmsSender, sms: OutboxSms) -> StoreResult<()> {
    let id = sms.id;
    let now = Timestamp::now();
    if sms.expires_at <= now {
        tracing::info!(
            id,
            attempts = sms.attempts,
            "SMS dropped unsent: its code expired"
        );
        return store.run(move |s| s.remove_sms(id)).await;
    }
    match sender.send(&sms.phone, &sms.text).await {
        Ok(()) => {
            tracing::debug!(id, "SMS delivered");
            store.run(move |s| s.remove_sms(id)).await
        }
        Err(e) => {
            let delay = retry_delay_secs(sms.attempts);
            tracing::warn!(id, attempt = sms.attempts + 1, retry_in_secs = delay, error = %e, "SMS delivery failed");
            let at = now.plus_seconds(delay);
            store.run(move |s| s.retry_sms_at(id, at)).await
        }
    }
}

/// Seconds to wait after the `failures`-th failure (0-based): 1, 2, 4, ...
fn retry_delay_secs(failures: u32) -> i64 {
    FIRST_RETRY_SECS
        .saturating_mul(1i64 << failures.min(20))
        .min(MAX_RETRY_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        let delays: Vec<i64> = (0..8).map(retry_delay_secs).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(retry_delay_secs(u32::MAX), MAX_RETRY_SECS);
    }
}
