//! Channels I joined, and their ratings: `/api/channels`.

use super::context::Ctx;
use super::listing::{filtered_offset_page, offset_reply};
use super::response::Reply;
use crate::error::{Error, Result};
use crate::store::CHANNEL_FILTER_FIELDS;
use serde::Deserialize;

/// Highest rating; ratings run 0–99.
const MAX_RATE: u8 = 99;

/// GET /api/channels?query=&offset=&limit= — the channels I am in, by id,
/// each with `members`, the average `rating`, `ratings` and `myRating`;
/// `query` filters over `CHANNEL_FILTER_FIELDS`.
pub async fn list(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let (offset, limit, filter) = filtered_offset_page(&ctx, CHANNEL_FILTER_FIELDS)?;
    let (channels, total) = ctx
        .app
        .store
        .run(move |s| s.channels(me, filter.as_ref(), offset.into(), limit))
        .await?;
    Ok(offset_reply(&ctx, &channels, total, offset, limit))
}

/// GET /api/channels/{id} — one of my channels; any other room is 404.
pub async fn get(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "channel")?;
    let channel = ctx
        .app
        .store
        .run(move |s| s.channel(me, id))
        .await?
        .ok_or_else(|| Error::not_found("channel"))?;
    Ok(Reply::ok(&channel))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rating {
    rate: Option<i64>,
}

/// PUT /api/channels/{id}/rating {rate: 0–99} — my rating, replacing any
/// earlier one; answers the channel with its new average.
pub async fn rate(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "channel")?;
    let body: Rating = ctx.json()?;
    let rate = body
        .rate
        .and_then(|r| u8::try_from(r).ok())
        .filter(|r| *r <= MAX_RATE)
        .ok_or_else(|| {
            Error::validation(
                "rate",
                "range",
                format!("rate must be a whole number from 0 to {MAX_RATE}"),
            )
        })?;
    let channel = ctx
        .app
        .store
        .run(move |s| {
            if s.channel(me, id)?.is_none() {
                return Ok(None);
            }
            s.rate_channel(me, id, rate)?;
            s.channel(me, id)
        })
        .await?
        .ok_or_else(|| Error::not_found("channel"))?;
    Ok(Reply::ok(&channel))
}
