//! `GET /healthz` — liveness plus a store round trip.

use super::context::Ctx;
use super::response::Reply;
use crate::error::Result;

/// GET /healthz
pub async fn get(ctx: Ctx) -> Result<Reply> {
    ctx.app.store.run(|s| s.last_seq(0)).await?;
    Ok(Reply::done())
}
