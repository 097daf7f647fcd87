//! A room's participants, as the administrator manages them: through the
//! room's actor, so the room writes its system messages and everyone in it
//! hears `participant_added` / `participant_removed`.

use super::list;
use crate::actors::messages::{By, SetRole};
use crate::actors::room_actor;
use crate::error::{Error, Result};
use crate::http::context::Ctx;
use crate::http::response::Reply;
use crate::model::{FieldError, Role, RoomId, RoomKind, UserId};
use crate::service;
use crate::store::list::fields;
use serde::Deserialize;

/// The room, or 404.
async fn room_kind(ctx: &Ctx, id: RoomId) -> Result<RoomKind> {
    let room = ctx.app.store.run(move |s| s.room(id)).await?;
    Ok(room.ok_or_else(|| Error::not_found("room"))?.kind)
}

/// A role from a body: 422 unless owner, admin or member.
fn role_field(role: Option<&str>) -> Result<Option<Role>> {
    role.map(|r| {
        Role::parse(r).ok_or_else(|| {
            Error::validation(
                "role",
                "invalid",
                "role must be one of owner, admin, member",
            )
        })
    })
    .transpose()
}

/// GET /api/admin/rooms/{id}/participants?page|offset&limit&query&sort&direction&id&login&name&role
pub async fn list(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let id = ctx.id("id", "room")?;
    let req = list::parse(&ctx, &fields::PARTICIPANTS)?;
    room_kind(&ctx, id).await?;
    let q = req.query.clone();
    let page = ctx
        .app
        .store
        .run(move |s| s.participants_page(id, &q))
        .await?;
    Ok(req.reply(&ctx, page, |p| p))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AddParticipant {
    user_id: Option<UserId>,
    role: Option<String>,
}

/// POST /api/admin/rooms/{id}/participants {userId, role?} — 201 with the
/// system message; `role` defaults to member.
pub async fn add(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let id = ctx.id("id", "room")?;
    let body: AddParticipant = ctx.json()?;
    let user_id = body
        .user_id
        .ok_or_else(|| Error::Validation(vec![FieldError::required("userId")]))?;
    let role = role_field(body.role.as_deref())?.unwrap_or(Role::Member);
    let message = service::add_participant(&ctx.app, id, By::Admin, user_id, role).await?;
    Ok(Reply::created(
        &message,
        format!("/api/admin/rooms/{id}/participants?id={user_id}"),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchParticipant {
    role: Option<String>,
}

/// PATCH /api/admin/rooms/{id}/participants/{userId} {role} — the
/// participant with the new role.
pub async fn update(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let id = ctx.id("id", "room")?;
    let user_id = ctx.id("userId", "participant")?;
    let body: PatchParticipant = ctx.json()?;
    let role = role_field(body.role.as_deref())?
        .ok_or_else(|| Error::Validation(vec![FieldError::required("role")]))?;
    let room = room_actor(&ctx.app.registry, &ctx.app.store, id).await?;
    room.send(SetRole { user_id, role }).await??;
    let participant = ctx
        .app
        .store
        .run(move |s| s.room_details(id))
        .await?
        .and_then(|d| d.participants.into_iter().find(|p| p.id == user_id))
        .ok_or_else(|| Error::not_found("participant"))?;
    Ok(Reply::ok(&participant))
}

/// DELETE /api/admin/rooms/{id}/participants/{userId} — 200 with the
/// system message. The owner may be removed too; a direct room keeps its
/// two people (delete the room instead).
pub async fn remove(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let id = ctx.id("id", "room")?;
    let user_id = ctx.id("userId", "participant")?;
    if room_kind(&ctx, id).await? == RoomKind::Direct {
        return Err(Error::Conflict(
            "a direct room always has exactly two participants; delete it instead".into(),
        ));
    }
    let message = service::remove_participant(&ctx.app, id, By::Admin, user_id).await?;
    Ok(Reply::ok(&message))
}
