//! My login sessions (one per device): list them, end one.

use super::context::Ctx;
use super::listing;
use super::response::Reply;
use crate::error::{Error, Result};
use crate::model::Timestamp;
use crate::service;
use crate::store::SESSION_FILTER_FIELDS;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionView {
    id: i64,
    device_id: Option<String>,
    created_at: Timestamp,
    expires_at: Timestamp,
    /// The session this request was made with.
    current: bool,
}

/// GET /api/sessions?query=&offset=&limit= — my live sessions, newest
/// first: all of them unless `limit` is given; `query` filters over
/// `SESSION_FILTER_FIELDS`.
pub async fn list(ctx: Ctx) -> Result<Reply> {
    let current = ctx.session().await?;
    let me = current.user_id;
    let (offset, limit, filter) = listing::filtered_whole_list(&ctx, SESSION_FILTER_FIELDS)?;
    let page = ctx
        .app
        .store
        .run(move |s| s.live_sessions(me, filter.as_ref(), offset, limit))
        .await?;
    let views: Vec<SessionView> = page
        .items
        .into_iter()
        .map(|s| SessionView {
            current: s.id == current.id,
            id: s.id,
            device_id: s.device_id,
            created_at: s.created_at,
            expires_at: s.expires_at,
        })
        .collect();
    Ok(listing::whole_list_reply(
        &ctx, &views, page.total, offset, limit,
    ))
}

/// DELETE /api/sessions/{id} — log one of my devices out; its token stops
/// working and its sockets close at once. Someone else's session is 404.
pub async fn delete(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "session")?;
    let mine = ctx
        .app
        .store
        .run(move |s| Ok(s.active_sessions(me)?.iter().any(|s| s.id == id)))
        .await?;
    if !mine {
        return Err(Error::not_found("session"));
    }
    ctx.app
        .store
        .run(move |s| s.revoke_session(id, Timestamp::now()))
        .await?;
    service::end_sessions(&ctx.app, me, Some(vec![id]));
    Ok(Reply::done())
}
