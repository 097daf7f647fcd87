//! Rooms, as the administrator sees them.

use super::list;
use crate::actors::messages::By;
use crate::error::{Error, Result};
use crate::http::context::Ctx;
use crate::http::response::Reply;
use crate::http::rooms::{room_created, PatchRoom};
use crate::model::UserId;
use crate::service::{self, RoomRequest};
use crate::store::list::fields;
use serde::Deserialize;

/// GET /api/admin/rooms?page|offset&limit&query&sort&direction&id&type&name&public&creatorId&createdAfter&createdBefore
pub async fn list(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let req = list::parse(&ctx, &fields::ROOMS)?;
    let q = req.query.clone();
    let page = ctx.app.store.run(move |s| s.rooms_page(&q)).await?;
    Ok(req.reply(&ctx, page, |r| r))
}

/// GET /api/admin/rooms/{id} — the room with its participants.
pub async fn get(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let id = ctx.id("id", "room")?;
    let details = ctx
        .app
        .store
        .run(move |s| s.room_details(id))
        .await?
        .ok_or_else(|| Error::not_found("room"))?;
    Ok(Reply::ok(&details))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateRoom {
    #[serde(rename = "type")]
    kind: Option<String>,
    name: Option<String>,
    public: Option<bool>,
    /// The user who owns the room (its creator).
    owner_id: Option<UserId>,
    #[serde(default)]
    participants: Vec<UserId>,
}

/// POST /api/admin/rooms {type, name?, public?, ownerId, participants[]} —
/// created as if by the owner: 201 and `room_created` to everyone online.
pub async fn create(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let body: CreateRoom = ctx.json()?;
    let owner = body
        .owner_id
        .ok_or_else(|| Error::Validation(vec![crate::model::FieldError::required("ownerId")]))?;
    let exists = ctx.app.store.run(move |s| s.user(owner)).await?.is_some();
    if !exists {
        return Err(Error::validation(
            "ownerId",
            "unknown",
            format!("user {owner} does not exist"),
        ));
    }
    let req = RoomRequest {
        kind: body.kind,
        name: body.name,
        public: body.public,
        participants: body.participants,
    };
    let (room, created) = service::create_room(&ctx.app, owner, req).await?;
    Ok(room_created(&room, created, "/api/admin/rooms"))
}

/// PATCH /api/admin/rooms/{id} {name?, public?}
pub async fn update(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let id = ctx.id("id", "room")?;
    let patch = ctx.json::<PatchRoom>()?.checked()?;
    let room = ctx
        .app
        .store
        .run(move |s| s.update_room(id, &patch))
        .await?;
    Ok(Reply::ok(&room))
}

/// DELETE /api/admin/rooms/{id} — every online participant gets
/// `room_deleted`, as when the owner deletes it.
pub async fn delete(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let id = ctx.id("id", "room")?;
    service::delete_room(&ctx.app, id, By::Admin).await?;
    Ok(Reply::done())
}
