//! Online time and its daily goal: `/api/me/goal`,
//! `/api/me/online-time/today` and `/api/me/online-time/week`. Times are on
//! the automation clock; days are UTC days (see [`crate::online_time`]).
//! The user actor records the intervals and sends `goal_exceeded`.

use super::context::Ctx;
use super::response::Reply;
use crate::actors::messages::GoalChanged;
use crate::error::{Error, Result};
use crate::model::UserId;
use crate::online_time::{self, OnlineDay};
use serde::{Deserialize, Serialize};

/// A goal is 1 minute to a whole day.
const MAX_GOAL_MINUTES: i64 = 24 * 60;
/// Days in the week view, today included.
const WEEK_DAYS: u32 = 7;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GoalBody {
    /// Required; `null` clears the goal.
    #[serde(deserialize_with = "Option::deserialize")]
    minutes: Option<i64>,
}

#[derive(Serialize)]
struct Goal {
    minutes: Option<u32>,
}

/// GET /api/me/goal → {minutes} (`null`: no goal).
pub async fn get_goal(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let goal = ctx.app.store.run(move |s| s.online_goal(me)).await?;
    Ok(Reply::ok(&Goal {
        minutes: goal.minutes,
    }))
}

/// PUT /api/me/goal {minutes: 1–1440 | null} — sets or clears the most
/// minutes a day I mean to be online; answers the goal.
pub async fn put_goal(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let body: GoalBody = ctx.json()?;
    let minutes = match body.minutes {
        None => None,
        Some(m) => Some(
            u32::try_from(m)
                .ok()
                .filter(|m| (1..=MAX_GOAL_MINUTES).contains(&i64::from(*m)))
                .ok_or_else(|| {
                    Error::validation(
                        "minutes",
                        "range",
                        format!(
                            "minutes must be a whole number from 1 to {MAX_GOAL_MINUTES}, or null to clear the goal"
                        ),
                    )
                })?,
        ),
    };
    ctx.app
        .store
        .run(move |s| s.set_online_goal(me, minutes))
        .await?;
    ctx.app.registry.do_send(GoalChanged { user_id: me });
    Ok(Reply::ok(&Goal { minutes }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Today {
    #[serde(flatten)]
    day: OnlineDay,
    goal_minutes: Option<u32>,
}

#[derive(Serialize)]
struct Week {
    days: Vec<OnlineDay>,
}

/// Minutes online per day for the `days` days ending today, oldest first;
/// an open interval counts up to now.
async fn online_days(ctx: &Ctx, me: UserId, days: u32) -> Result<Vec<OnlineDay>> {
    let now = ctx.app.clock.now();
    let today = online_time::day_of(now);
    let from = online_time::day_start(today - i64::from(days) + 1);
    let to = online_time::day_start(today + 1);
    let intervals = ctx
        .app
        .store
        .run(move |s| s.online_intervals(me, from, to, now))
        .await?;
    Ok(online_time::daily(&intervals, today, days))
}

/// GET /api/me/online-time/today → {date, minutes, goalMinutes}.
pub async fn today(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let day = online_days(&ctx, me, 1)
        .await?
        .pop()
        .ok_or_else(|| Error::Internal("no day in a one-day range".into()))?;
    let goal = ctx.app.store.run(move |s| s.online_goal(me)).await?;
    Ok(Reply::ok(&Today {
        day,
        goal_minutes: goal.minutes,
    }))
}

/// GET /api/me/online-time/week → {days: [{date, minutes}]}: the last 7
/// days, today last, zero-filled.
pub async fn week(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let days = online_days(&ctx, me, WEEK_DAYS).await?;
    Ok(Reply::ok(&Week { days }))
}
