//! Messages, read-only for the administrator (deleting and editing come
//! with message tombstones).

use super::list;
use crate::actors::messages::By;
use crate::error::{Error, Result};
use crate::http::context::Ctx;
use crate::http::response::Reply;
use crate::model::{Message, MessageChange};
use crate::query::Value;
use crate::service;
use crate::store::list::fields;

/// GET /api/admin/messages?page|offset&limit&query&sort&direction&roomId&seq&senderId&type&createdAfter&createdBefore
/// — across rooms, by room and seq unless sorted otherwise.
pub async fn list(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let req = list::parse(&ctx, &fields::MESSAGES)?;
    page(ctx, req).await
}

/// GET /api/admin/rooms/{id}/messages — the same, for one room.
pub async fn list_room(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let id = ctx.id("id", "room")?;
    let mut req = list::parse(&ctx, &fields::MESSAGES)?;
    let exists = ctx.app.store.run(move |s| s.room(id)).await?.is_some();
    if !exists {
        return Err(Error::not_found("room"));
    }
    // fields::MESSAGES[0] is roomId.
    req.scope(&fields::MESSAGES.fields[0], Value::Integer(id));
    page(ctx, req).await
}

async fn page(ctx: Ctx, req: list::ListRequest) -> Result<Reply> {
    let q = req.query.clone();
    let page = ctx.app.store.run(move |s| s.messages_page(&q)).await?;
    Ok(req.reply(&ctx, page, |m| m))
}

/// GET /api/admin/messages/{messageId}
pub async fn get(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    Ok(Reply::ok(&named_message(&ctx).await?))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Announcement {
    content: Option<String>,
}

/// POST /api/admin/rooms/{id}/messages {content} — an announcement: a
/// system message (no sender) in the room, fanned out live. 201.
pub async fn create(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let room = ctx.id("id", "room")?;
    let body: Announcement = ctx.json()?;
    let posted = service::announce(&ctx.app, room, body.content.as_deref()).await?;
    let location = format!("/api/admin/messages/{}", posted.message.message_id);
    Ok(Reply::created(&posted.message, location))
}

/// DELETE /api/admin/messages/{messageId} — deletes it for everyone, as a
/// room moderator would: a tombstone keeps its seq, members get
/// `message_deleted`. Answers the tombstone.
pub async fn delete(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let message = named_message(&ctx).await?;
    let changed = service::change_message(
        &ctx.app,
        message.room_id,
        By::Admin,
        message.message_id,
        MessageChange::Delete { moderator: true },
    )
    .await?;
    Ok(Reply::ok(&changed.message))
}

/// The message named by the path's `messageId`, or 404.
async fn named_message(ctx: &Ctx) -> Result<Message> {
    let id = ctx
        .param("messageId")
        .ok_or_else(|| Error::not_found("message"))?
        .to_owned();
    ctx.app
        .store
        .run(move |s| s.message(&id))
        .await?
        .ok_or_else(|| Error::not_found("message"))
}
