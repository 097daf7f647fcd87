//! Online time: stretches of being connected, and the daily goal.

use super::Timestamp;

/// One stretch of being online; `end` is the time asked about for the
/// stretch that is still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnlineInterval {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// A user's daily online-time goal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OnlineGoal {
    /// The most minutes a day they mean to be online; `None`: no goal.
    pub minutes: Option<u32>,
    /// The UTC day (days since the epoch) `goal_exceeded` last went out.
    pub notified_day: Option<i64>,
}
