//! Login sessions (one per device) of every user: list, look at, revoke.

use super::list;
use crate::error::{Error, Result};
use crate::http::context::Ctx;
use crate::http::response::Reply;
use crate::model::{Session, Timestamp, UserId};
use crate::service;
use crate::store::list::fields;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionView {
    id: i64,
    user_id: UserId,
    device_id: Option<String>,
    created_at: Timestamp,
    expires_at: Timestamp,
    revoked: bool,
    /// Neither revoked nor expired: its token works now.
    live: bool,
}

impl From<Session> for SessionView {
    fn from(s: Session) -> Self {
        SessionView {
            live: !s.revoked && s.expires_at > Timestamp::now(),
            id: s.id,
            user_id: s.user_id,
            device_id: s.device_id,
            created_at: s.created_at,
            expires_at: s.expires_at,
            revoked: s.revoked,
        }
    }
}

/// GET /api/admin/sessions?page|offset&limit&query&sort&direction&id&userId&deviceId&live&createdAfter&createdBefore
pub async fn list(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let req = list::parse(&ctx, &fields::SESSIONS)?;
    let q = req.query.clone();
    let page = ctx.app.store.run(move |s| s.sessions_page(&q)).await?;
    Ok(req.reply(&ctx, page, SessionView::from))
}

async fn find(ctx: &Ctx) -> Result<Session> {
    let id = ctx.id("id", "session")?;
    ctx.app
        .store
        .run(move |s| s.session(id))
        .await?
        .ok_or_else(|| Error::not_found("session"))
}

/// GET /api/admin/sessions/{id}
pub async fn get(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    Ok(Reply::ok(&SessionView::from(find(&ctx).await?)))
}

/// DELETE /api/admin/sessions/{id} — the token stops working and the
/// session's sockets close (code 1008). Revoking twice is harmless.
pub async fn delete(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let session = find(&ctx).await?;
    let id = session.id;
    ctx.app
        .store
        .run(move |s| s.revoke_session(id, Timestamp::now()))
        .await?;
    service::end_sessions(&ctx.app, session.user_id, Some(vec![id]));
    Ok(Reply::done())
}
