//! The admin's overview.

use crate::error::Result;
use crate::http::context::Ctx;
use crate::http::response::Reply;

/// GET /api/admin/stats → {users, rooms, participants, messages, liveSessions}
pub async fn get(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let counts = ctx.app.store.run(|s| s.counts()).await?;
    Ok(Reply::ok(&counts))
}
