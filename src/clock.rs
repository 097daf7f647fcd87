//! The time that automation runs on: scheduled messages, disappearing
//! messages, auto-seen periods, online time.
//!
//! It is the system clock, plus an offset that only a server started with
//! `--test-clock` lets a client move (forward only, through
//! `POST /api/test/clock`), so integration tests can make an hour pass
//! without waiting an hour. Timers wait on [`Clock::sleep_until`], which
//! wakes early when the offset moves.

use crate::model::Timestamp;
use std::sync::atomic::{AtomicI64, Ordering};
use tokio::sync::watch;

pub struct Clock {
    /// Milliseconds added to the system time; moves only forward.
    offset_ms: AtomicI64,
    /// Whether clients may move it (`--test-clock`).
    adjustable: bool,
    /// Ticks when the offset moves, so sleeping timers look again.
    moved: watch::Sender<i64>,
}

impl Clock {
    pub fn new(adjustable: bool) -> Self {
        Clock {
            offset_ms: AtomicI64::new(0),
            adjustable,
            moved: watch::channel(0).0,
        }
    }

    pub fn now(&self) -> Timestamp {
        Timestamp(
            Timestamp::now()
                .millis()
                .saturating_add(self.offset_ms.load(Ordering::Relaxed)),
        )
    }

    pub fn is_adjustable(&self) -> bool {
        self.adjustable
    }

    /// Moves the clock forward by `seconds` (tests only); `None` when this
    /// clock is the real one.
    pub fn advance(&self, seconds: i64) -> Option<Timestamp> {
        if !self.adjustable {
            return None;
        }
        let add = seconds.max(0).saturating_mul(1000);
        let offset = self.offset_ms.fetch_add(add, Ordering::Relaxed) + add;
        self.moved.send_replace(offset);
        Some(self.now())
    }

    /// Waits until the clock reads `at` or later (at once if it already
    /// does), waking early to look again when the clock is moved.
    pub async fn sleep_until(&self, at: Timestamp) {
        let mut moved = self.moved.subscribe();
        loop {
            let left = at.millis() - self.now().millis();
            if left <= 0 {
                return;
            }
            let wait = std::time::Duration::from_millis(left as u64);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                changed = moved.changed() => {
                    if changed.is_err() {
                        // The clock is gone with the server; nothing to wait for.
                        return;
                    }
                }
            }
        }
    }

    /// Waits until the clock is moved (or forever, on the real clock).
    pub async fn moved(&self) {
        let mut moved = self.moved.subscribe();
        let _ = moved.changed().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_test_clock_moves_and_only_forward() {
        let real = Clock::new(false);
        assert!(real.advance(60).is_none());
        let test = Clock::new(true);
        let before = test.now();
        let after = test.advance(3600).unwrap();
        assert!(after.millis() - before.millis() >= 3_600_000);
        test.advance(-100);
        assert!(test.now() >= after, "never backwards");
    }

    #[tokio::test]
    async fn sleepers_wake_when_the_clock_jumps() {
        let clock = std::sync::Arc::new(Clock::new(true));
        let due = clock.now().plus_seconds(3600);
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until(due).await }
        });
        tokio::task::yield_now().await;
        clock.advance(3601);
        tokio::time::timeout(std::time::Duration::from_secs(5), sleeper)
            .await
            .expect("woke after the jump")
            .unwrap();
    }
}
