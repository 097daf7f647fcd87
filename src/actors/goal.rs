//! The online-time goal timer a user actor runs while the user has a
//! socket open: it sleeps on the automation clock until today's online
//! time reaches the goal (or the UTC day ends), and reports the goal
//! passed at most once a day — the day is marked in the store before it
//! is reported, so neither a reconnect nor a second actor reports it again.

use crate::clock::Clock;
use crate::model::UserId;
use crate::online_time::{date, day_of, day_start, goal_reached_at, ms_per_day, whole_minutes};
use crate::protocol::{Encoded, ServerFrame};
use crate::store::{StoreHandle, StoreResult};
use std::sync::Arc;

/// Today's online time passed the goal (and the day is marked).
pub struct GoalReached {
    pub day: i64,
    pub goal_minutes: u32,
    pub minutes: u64,
}

impl GoalReached {
    pub fn frame(&self) -> Encoded {
        ServerFrame::GoalExceeded {
            date: &date(self.day),
            goal_minutes: self.goal_minutes,
            minutes: self.minutes,
        }
        .encode()
    }
}

/// Waits until the user's goal is passed today and not yet reported;
/// `None` when there is no goal (a new one re-arms the timer) or the
/// store failed.
pub async fn watch(store: StoreHandle, clock: Arc<Clock>, user_id: UserId) -> Option<GoalReached> {
    match next(&store, &clock, user_id).await {
        Ok(reached) => reached,
        Err(e) => {
            tracing::warn!(user_id, error = %e, "cannot watch the online-time goal");
            None
        }
    }
}

async fn next(
    store: &StoreHandle,
    clock: &Clock,
    user_id: UserId,
) -> StoreResult<Option<GoalReached>> {
    loop {
        let goal = store.run(move |s| s.online_goal(user_id)).await?;
        let Some(goal_minutes) = goal.minutes else {
            return Ok(None);
        };
        let now = clock.now();
        let today = day_of(now);
        let tomorrow = day_start(today + 1);
        if goal.notified_day == Some(today) {
            clock.sleep_until(tomorrow).await;
            continue;
        }
        let from = day_start(today);
        let intervals = store
            .run(move |s| s.online_intervals(user_id, from, tomorrow, now))
            .await?;
        let today_ms: i64 = ms_per_day(&intervals, today, 1).iter().sum();
        let at = goal_reached_at(now, today_ms, goal_minutes);
        if at > now {
            // The clock may jump meanwhile (tests): look again on waking.
            clock.sleep_until(at.min(tomorrow)).await;
            continue;
        }
        if store
            .run(move |s| s.mark_goal_notified(user_id, today))
            .await?
        {
            return Ok(Some(GoalReached {
                day: today,
                goal_minutes,
                minutes: whole_minutes(today_ms),
            }));
        }
    }
}
