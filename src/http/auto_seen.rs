//! Auto-seen periods: `/api/auto-seen`. Every period the server marks a
//! channel's messages as seen for me, as my own `seen` would (the runs are
//! in `automation::auto_seen`).

use super::context::Ctx;
use super::listing::{filtered_offset_page, offset_reply};
use super::response::Reply;
use crate::error::{Error, Result};
use crate::model::validate::{self, Checker};
use crate::model::{FieldError, RoomId};
use crate::store::{StoreError, AUTO_SEEN_FILTER_FIELDS};
use serde::Deserialize;

/// Shortest period: ten seconds (more often is what a client's own `seen`
/// is for).
const MIN_PERIOD_SECS: i64 = 10;
/// Longest period: a year.
const MAX_PERIOD_SECS: i64 = 366 * 24 * 3600;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewPeriod {
    channel_id: Option<RoomId>,
    period_secs: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Period {
    period_secs: Option<i64>,
}

fn period(c: &mut Checker, value: Option<i64>) -> Option<i64> {
    validate::seconds(c, "periodSecs", value, MIN_PERIOD_SECS, MAX_PERIOD_SECS)
}

/// POST /api/auto-seen {channelId, periodSecs} → 201 with the period; the
/// first run is one period from now. Only a channel I joined (any other
/// room is 404, as in `/api/channels`).
pub async fn create(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let body: NewPeriod = ctx.json()?;
    let mut c = Checker::default();
    let secs = period(&mut c, body.period_secs);
    if body.channel_id.is_none() {
        c.push(FieldError::required("channelId"));
    }
    c.finish().map_err(Error::Validation)?;
    let (channel, secs) = (
        body.channel_id.unwrap_or_default(),
        secs.unwrap_or(MIN_PERIOD_SECS),
    );
    let next_at = ctx.app.clock.now().plus_seconds(secs);
    let rule = ctx
        .app
        .store
        .run(move |s| {
            s.channel(me, channel)?
                .ok_or(StoreError::NotFound("channel"))?;
            s.create_auto_seen(me, channel, secs, next_at)
        })
        .await?;
    ctx.app.auto_seen_changed.notify_one();
    Ok(Reply::created(&rule, format!("/api/auto-seen/{}", rule.id)))
}

/// GET /api/auto-seen?offset=&limit=&query= — mine, oldest first; `query`
/// filters over `AUTO_SEEN_FILTER_FIELDS` (e.g. `channelId = 7`).
pub async fn list(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let (offset, limit, filter) = filtered_offset_page(&ctx, AUTO_SEEN_FILTER_FIELDS)?;
    let (items, total) = ctx
        .app
        .store
        .run(move |s| s.auto_seen_page(me, filter.as_ref(), offset, limit))
        .await?;
    Ok(offset_reply(&ctx, &items, total, offset, limit))
}

/// GET /api/auto-seen/{id}
pub async fn get(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "auto-seen period")?;
    let found = ctx
        .app
        .store
        .run(move |s| s.auto_seen(me, id))
        .await?
        .ok_or_else(|| Error::not_found("auto-seen period"))?;
    Ok(Reply::ok(&found))
}

/// PATCH /api/auto-seen/{id} {periodSecs} — a new period, counted from now.
pub async fn update(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "auto-seen period")?;
    let body: Period = ctx.json()?;
    let mut c = Checker::default();
    let secs = period(&mut c, body.period_secs);
    c.finish().map_err(Error::Validation)?;
    let secs = secs.unwrap_or(MIN_PERIOD_SECS);
    let next_at = ctx.app.clock.now().plus_seconds(secs);
    let updated = ctx
        .app
        .store
        .run(move |s| s.update_auto_seen(me, id, secs, next_at))
        .await?;
    ctx.app.auto_seen_changed.notify_one();
    Ok(Reply::ok(&updated))
}

/// DELETE /api/auto-seen/{id} — the server stops marking the channel.
pub async fn delete(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "auto-seen period")?;
    ctx.app
        .store
        .run(move |s| s.delete_auto_seen(me, id))
        .await?;
    ctx.app.auto_seen_changed.notify_one();
    Ok(Reply::done())
}
