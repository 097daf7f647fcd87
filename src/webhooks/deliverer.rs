//! The delivery task. One round at a time: a round handles every (bot,
//! room) pair of the nudged rooms, or all of them on a sweep; within a
//! round pairs run concurrently (bounded), each one in seq order. Rounds
//! never overlap, so a message is never in flight twice.

use super::client::{Envelope, WebhookClient};
use super::WebhookSignal;
use crate::actors::RoomWatch;
use crate::model::{
    AttemptOutcome, Message, Room, RoomId, Seq, Timestamp, WebhookTarget, WebhookWork,
};
use crate::store::StoreHandle;
use bytes::Bytes;
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::HashSet;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Full sweep period: catches nudges a full channel dropped, and rooms a
/// bot joined through a path that does not nudge.
const SWEEP_INTERVAL: Duration = Duration::from_secs(30);
/// Messages read from the store per (bot, room) step.
const BATCH: u32 = 100;
/// (bot, room) pairs delivered to at the same time: one slow receiver does
/// not hold up the others, and a round opens at most this many connections.
const CONCURRENCY: usize = 16;
/// No retry waits longer than this, however many attempts failed.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);

/// When to try again and when to stop.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The wait after the first failure; each further failure doubles it.
    pub base: Duration,
    /// Attempts per message before it is marked failed and skipped.
    pub max_attempts: u32,
}

impl RetryPolicy {
    /// The wait after `failures` failed attempts (1 = the first).
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(20);
        self.base.saturating_mul(factor).min(MAX_RETRY_DELAY)
    }
}

/// The JSON body a receiver gets.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    event: &'static str,
    bot_id: i64,
    message: &'a Message,
    room: &'a Room,
}

pub struct Deliverer {
    store: StoreHandle,
    watch: RoomWatch,
    signal: WebhookSignal,
    client: WebhookClient,
    retry: RetryPolicy,
    shutdown: CancellationToken,
}

/// Which pairs a round handles.
enum Scope {
    All,
    Rooms(HashSet<RoomId>),
}

impl Deliverer {
    pub fn new(
        store: StoreHandle,
        watch: RoomWatch,
        signal: WebhookSignal,
        timeout: Duration,
        retry: RetryPolicy,
        shutdown: CancellationToken,
    ) -> Self {
        Deliverer {
            store,
            watch,
            signal,
            client: WebhookClient::new(timeout),
            retry,
            shutdown,
        }
    }

    /// Runs until shutdown. Stopping mid-delivery is safe: a cursor moves
    /// only after a 2xx, so the message is simply sent again next start.
    pub async fn run(self, mut nudges: mpsc::Receiver<RoomId>) {
        let mut sweep = tokio::time::interval(SWEEP_INTERVAL);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The earliest moment a waiting retry falls due.
        let mut retry_at: Option<Instant> = None;
        loop {
            let scope = tokio::select! {
                _ = self.shutdown.cancelled() => return,
                // The first tick fires at once: the start-up sweep.
                _ = sweep.tick() => Scope::All,
                _ = self.signal.wait() => Scope::All,
                Some(room) = nudges.recv() => {
                    let mut rooms = HashSet::from([room]);
                    while let Ok(room) = nudges.try_recv() {
                        rooms.insert(room);
                    }
                    Scope::Rooms(rooms)
                }
                _ = sleep_until(retry_at), if retry_at.is_some() => Scope::All,
            };
            let full = matches!(scope, Scope::All);
            let round = tokio::select! {
                _ = self.shutdown.cancelled() => return,
                due = self.round(scope) => due,
            };
            // A full round saw every waiting pair; a partial one only adds.
            retry_at = match (full, retry_at, round) {
                (true, _, due) => due,
                (false, Some(a), Some(b)) => Some(a.min(b)),
                (false, a, b) => a.or(b),
            };
        }
    }

    /// Delivers what is due in `scope`; returns when the next retry is due.
    async fn round(&self, scope: Scope) -> Option<Instant> {
        let targets = match self.targets(scope).await {
            Ok(targets) => targets,
            Err(e) => {
                tracing::error!(error = %e, "webhooks: cannot read targets");
                return Some(Instant::now() + SWEEP_INTERVAL);
            }
        };
        futures_util::stream::iter(targets)
            .map(|t| self.deliver(t))
            .buffer_unordered(CONCURRENCY)
            .fold(None, |earliest: Option<Instant>, due| async move {
                match (earliest, due) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            })
            .await
    }

    async fn targets(&self, scope: Scope) -> crate::store::StoreResult<Vec<WebhookTarget>> {
        match scope {
            Scope::All => {
                let (followers, targets) = self
                    .store
                    .run(|s| Ok((s.webhook_bots()?, s.webhook_targets(None)?)))
                    .await?;
                self.watch.set_followers(followers.into_iter().collect());
                Ok(targets)
            }
            Scope::Rooms(rooms) => {
                self.store
                    .run(move |s| {
                        let mut all = Vec::new();
                        for room in rooms {
                            all.extend(s.webhook_targets(Some(room))?);
                        }
                        Ok(all)
                    })
                    .await
            }
        }
    }

    /// Sends the pair's undelivered messages in order until one fails or
    /// none is left. Returns when a failed one may be tried again.
    async fn deliver(&self, t: WebhookTarget) -> Option<Instant> {
        loop {
            let work = match self.store.run(move |s| s.webhook_work(t, BATCH)).await {
                Ok(Some(work)) => work,
                Ok(None) => return None,
                Err(e) => {
                    tracing::error!(bot = t.bot_id, room = t.room_id, error = %e, "webhooks: cannot read work");
                    return Some(Instant::now() + SWEEP_INTERVAL);
                }
            };
            if work.messages.is_empty() {
                return None;
            }
            let now = Timestamp::now();
            if let Some(at) = work.not_before.filter(|at| *at > now) {
                return Some(instant_of(at, now));
            }
            if let Some(due) = self.send_all(t, &work).await {
                return Some(due);
            }
        }
    }

    /// `None` when every message of `work` was handled. A run of
    /// successes is recorded with one write, before a failure or at the end.
    async fn send_all(&self, t: WebhookTarget, work: &WebhookWork) -> Option<Instant> {
        let mut failures = work.attempts;
        // The last delivered seq not yet recorded, and how many lead to it.
        let mut run: Option<(Seq, u32)> = None;
        for message in &work.messages {
            let error = match self.send(t, work, message).await {
                Ok(()) => {
                    run = Some((message.seq, run.map_or(1, |(_, n)| n + 1)));
                    failures = 0;
                    continue;
                }
                Err(error) => error,
            };
            if let Some((seq, count)) = run.take() {
                if let Err(due) = self
                    .record(t, seq, AttemptOutcome::Delivered { count })
                    .await
                {
                    return Some(due);
                }
            }
            failures += 1;
            let seq = message.seq;
            if failures >= self.retry.max_attempts {
                tracing::warn!(bot = t.bot_id, room = t.room_id, seq, %error, "webhook delivery failed for good");
                if let Err(due) = self.record(t, seq, AttemptOutcome::GiveUp { error }).await {
                    return Some(due);
                }
                failures = 0;
                continue;
            }
            let delay = self.retry.delay(failures);
            tracing::debug!(bot = t.bot_id, room = t.room_id, seq, %error, ?delay, "webhook delivery failed; will retry");
            let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
            let at = Timestamp(Timestamp::now().millis().saturating_add(delay_ms));
            if let Err(due) = self
                .record(t, seq, AttemptOutcome::Retry { error, at })
                .await
            {
                return Some(due);
            }
            return Some(instant_of(at, Timestamp::now()));
        }
        match run {
            Some((seq, count)) => self
                .record(t, seq, AttemptOutcome::Delivered { count })
                .await
                .err(),
            None => None,
        }
    }

    /// Writes an outcome; `Err` with when to try the pair again if the
    /// store failed (the cursor did not move, so nothing is lost).
    async fn record(
        &self,
        t: WebhookTarget,
        seq: Seq,
        outcome: AttemptOutcome,
    ) -> Result<(), Instant> {
        self.store
            .run(move |s| s.record_attempt(t, seq, &outcome))
            .await
            .map_err(|e| {
                tracing::error!(bot = t.bot_id, room = t.room_id, error = %e, "webhooks: cannot record an attempt");
                Instant::now() + SWEEP_INTERVAL
            })
    }

    async fn send(
        &self,
        t: WebhookTarget,
        work: &WebhookWork,
        message: &Message,
    ) -> Result<(), String> {
        let payload = Payload {
            event: "message_created",
            bot_id: t.bot_id,
            message,
            room: &work.room,
        };
        let body = serde_json::to_vec(&payload).map_err(|e| format!("cannot encode: {e}"))?;
        let delivery_id = format!("{}.{}.{}", t.bot_id, t.room_id, message.seq);
        self.client
            .post(Envelope {
                url: &work.url,
                secret: &work.secret,
                delivery_id: &delivery_id,
                body: Bytes::from(body),
            })
            .await
            .map_err(|f| f.0)
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The monotonic instant of wall-clock time `at`.
fn instant_of(at: Timestamp, now: Timestamp) -> Instant {
    let ms = u64::try_from(at.millis() - now.millis()).unwrap_or(0);
    Instant::now() + Duration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            base: Duration::from_millis(100),
            max_attempts: 5,
        };
        assert_eq!(p.delay(1), Duration::from_millis(100));
        assert_eq!(p.delay(2), Duration::from_millis(200));
        assert_eq!(p.delay(4), Duration::from_millis(800));
        assert_eq!(p.delay(40), MAX_RETRY_DELAY);
    }
}
