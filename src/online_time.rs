//! Online time per day from the stretches a user was online, and when a
//! daily goal will be passed. Pure functions over what the store returns.
//!
//! Days are UTC days (palaver keeps no time zone per user). A stretch over
//! midnight counts on both days, each its share. Minutes are whole minutes
//! rounded down, from the milliseconds of the day.

use crate::analytics::DAY_MS;
use crate::model::{OnlineInterval, Timestamp};
use serde::Serialize;

pub const MINUTE_MS: i64 = 60_000;

/// The UTC day (days since the epoch) `at` falls on.
pub fn day_of(at: Timestamp) -> i64 {
    at.millis().div_euclid(DAY_MS)
}

/// The first instant of a UTC day.
pub fn day_start(day: i64) -> Timestamp {
    Timestamp(day.saturating_mul(DAY_MS))
}

/// `YYYY-MM-DD` of a UTC day.
pub fn date(day: i64) -> String {
    day_start(day).to_rfc3339()[..10].to_owned()
}

/// Whole minutes in `ms`, rounded down.
pub fn whole_minutes(ms: i64) -> u64 {
    u64::try_from(ms / MINUTE_MS).unwrap_or(0)
}

/// One day of online time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnlineDay {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    pub minutes: u64,
}

/// Milliseconds online in each of the `days` days from `first_day` on.
/// Overlapping stretches (which the store never writes) would count twice.
pub fn ms_per_day(intervals: &[OnlineInterval], first_day: i64, days: u32) -> Vec<i64> {
    (0..i64::from(days))
        .map(|i| {
            let (from, to) = (
                day_start(first_day + i).millis(),
                day_start(first_day + i + 1).millis(),
            );
            intervals
                .iter()
                .map(|s| (s.end.millis().min(to) - s.start.millis().max(from)).max(0))
                .sum()
        })
        .collect()
}

/// Minutes online per day for the `days` days ending with `today`, oldest
/// first, zero-filled.
pub fn daily(intervals: &[OnlineInterval], today: i64, days: u32) -> Vec<OnlineDay> {
    let first = today - i64::from(days) + 1;
    ms_per_day(intervals, first, days)
        .into_iter()
        .zip(first..)
        .map(|(ms, day)| OnlineDay {
            date: date(day),
            minutes: whole_minutes(ms),
        })
        .collect()
}

/// When online time reaches `goal_minutes`, for someone online now with
/// `today_ms` already counted today: `now` if it already has.
pub fn goal_reached_at(now: Timestamp, today_ms: i64, goal_minutes: u32) -> Timestamp {
    let left = i64::from(goal_minutes) * MINUTE_MS - today_ms;
    Timestamp(now.millis() + left.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn span(start: i64, end: i64) -> OnlineInterval {
        OnlineInterval {
            start: Timestamp(start),
            end: Timestamp(end),
        }
    }

    #[test]
    fn a_stretch_over_midnight_counts_on_both_days() {
        let day = 20_000;
        let midnight = day_start(day + 1).millis();
        let spans = [span(midnight - H, midnight + 2 * H)];
        assert_eq!(ms_per_day(&spans, day, 2), [H, 2 * H]);
        let week = daily(&spans, day + 1, 7);
        assert_eq!(week.len(), 7);
        assert_eq!(week[5].minutes, 60);
        assert_eq!(week[6].minutes, 120);
        assert!(week[..5].iter().all(|d| d.minutes == 0));
        assert_eq!(week[6].date, date(day + 1));
        assert!(week[5].date < week[6].date, "oldest first");
    }

    #[test]
    fn stretches_outside_the_days_and_backwards_ones_count_nothing() {
        let day = 20_000;
        let start = day_start(day).millis();
        let spans = [
            span(start - 2 * H, start - H),
            span(start + 2 * H, start + H),
            span(start + H, start + H + 90_000),
        ];
        assert_eq!(ms_per_day(&spans, day, 1), [90_000]);
        assert_eq!(whole_minutes(90_000), 1, "rounded down");
    }

    #[test]
    fn the_goal_is_reached_after_what_is_left_of_it() {
        let now = Timestamp(1_000_000);
        assert_eq!(
            goal_reached_at(now, 10 * MINUTE_MS, 15),
            Timestamp(1_000_000 + 5 * MINUTE_MS)
        );
        assert_eq!(goal_reached_at(now, 20 * MINUTE_MS, 15), now);
    }

    #[test]
    fn dates_are_utc_days() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(day_of(Timestamp(DAY_MS - 1)), 0);
        assert_eq!(day_of(Timestamp(DAY_MS)), 1);
    }
}
