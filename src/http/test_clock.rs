//! `POST /api/test/clock` — moves the automation clock forward, on a
//! server started with `--test-clock` only (404 everywhere else).

use super::context::Ctx;
use super::response::Reply;
use crate::error::{Error, Result};
use crate::model::Timestamp;
use serde::{Deserialize, Serialize};

/// The most one call may jump: a year.
const MAX_ADVANCE_SECS: i64 = 366 * 24 * 3600;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Advance {
    advance_secs: i64,
}

#[derive(Serialize)]
struct Now {
    now: Timestamp,
}

/// POST /api/test/clock {advanceSecs} → {now}
pub async fn advance(ctx: Ctx) -> Result<Reply> {
    if !ctx.app.clock.is_adjustable() {
        return Err(Error::not_found("endpoint"));
    }
    let body: Advance = ctx.json()?;
    if !(0..=MAX_ADVANCE_SECS).contains(&body.advance_secs) {
        return Err(Error::validation(
            "advanceSecs",
            "range",
            format!("advanceSecs must be between 0 and {MAX_ADVANCE_SECS}"),
        ));
    }
    let now = ctx
        .app
        .clock
        .advance(body.advance_secs)
        .ok_or_else(|| Error::not_found("endpoint"))?;
    Ok(Reply::ok(&Now { now }))
}
