//! Disappearing messages: `/api/auto-destructs`. A rule names a
//! conversation and a lifetime; every message in it, earlier ones too,
//! disappears for everyone once older than that (the sweep is in
//! `automation::destruct`).

use super::context::Ctx;
use super::listing::{filtered_offset_page, offset_reply};
use super::response::Reply;
use crate::error::{Error, Result};
use crate::model::validate::{self, Checker};
use crate::model::{FieldError, RoomId, RoomKind, UserId};
use crate::store::{StoreError, AUTO_DESTRUCT_FILTER_FIELDS};
use serde::Deserialize;

/// Shortest lifetime: a second.
const MIN_LIFETIME_SECS: i64 = 1;
/// Longest lifetime: a year.
const MAX_LIFETIME_SECS: i64 = 366 * 24 * 3600;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewRule {
    room_id: Option<RoomId>,
    contact_id: Option<UserId>,
    lifetime_secs: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Lifetime {
    lifetime_secs: Option<i64>,
}

fn lifetime(c: &mut Checker, value: Option<i64>) -> Option<i64> {
    validate::seconds(
        c,
        "lifetimeSecs",
        value,
        MIN_LIFETIME_SECS,
        MAX_LIFETIME_SECS,
    )
}

/// POST /api/auto-destructs {roomId | contactId, lifetimeSecs} → 201 with
/// the rule. In a direct room either person may set one; in a group or a
/// channel only its owners and admins, since it deletes everyone's words.
pub async fn create(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let body: NewRule = ctx.json()?;
    let mut c = Checker::default();
    let secs = lifetime(&mut c, body.lifetime_secs);
    if body.room_id.is_some() == body.contact_id.is_some() {
        c.push(FieldError::new(
            "roomId",
            "target",
            "give exactly one of roomId and contactId",
        ));
    }
    c.finish().map_err(Error::Validation)?;
    let room_id = match (body.room_id, body.contact_id) {
        (Some(room), _) => room,
        (_, Some(contact)) => direct_room(&ctx, me, contact).await?,
        (None, None) => unreachable!("checked above: exactly one target"),
    };
    let secs = secs.unwrap_or(MIN_LIFETIME_SECS);
    let rule = ctx
        .app
        .store
        .run(move |s| {
            let role = s
                .member_role(room_id, me)?
                .ok_or(StoreError::NotFound("room"))?;
            let kind = s.room(room_id)?.ok_or(StoreError::NotFound("room"))?.kind;
            if kind != RoomKind::Direct && !role.manages() {
                return Err(StoreError::Forbidden(
                    "only the room's owners and admins may make its messages disappear".into(),
                ));
            }
            s.create_auto_destruct(me, room_id, secs)
        })
        .await?;
    ctx.app.destructs_changed.notify_one();
    Ok(Reply::created(
        &rule,
        format!("/api/auto-destructs/{}", rule.id),
    ))
}

/// My direct room with a contact: 404 for someone who is not a contact,
/// 422 while we have no conversation yet (nothing to make disappear, and
/// a rule does not start one).
async fn direct_room(ctx: &Ctx, me: UserId, contact: UserId) -> Result<RoomId> {
    let found = ctx
        .app
        .store
        .run(move |s| s.contact(me, contact))
        .await?
        .ok_or_else(|| Error::not_found("contact"))?;
    found.direct_room_id.ok_or_else(|| {
        Error::validation(
            "contactId",
            "no_conversation",
            "you have no direct room with this contact yet; send them a message first",
        )
    })
}

/// GET /api/auto-destructs?offset=&limit=&query= — mine, oldest first;
/// `query` filters over `AUTO_DESTRUCT_FILTER_FIELDS` (e.g.
/// `lifetimeSecs < 3600`).
pub async fn list(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let (offset, limit, filter) = filtered_offset_page(&ctx, AUTO_DESTRUCT_FILTER_FIELDS)?;
    let (items, total) = ctx
        .app
        .store
        .run(move |s| s.auto_destruct_page(me, filter.as_ref(), offset, limit))
        .await?;
    Ok(offset_reply(&ctx, &items, total, offset, limit))
}

/// GET /api/auto-destructs/{id}
pub async fn get(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "disappearing-messages rule")?;
    let found = ctx
        .app
        .store
        .run(move |s| s.auto_destruct(me, id))
        .await?
        .ok_or_else(|| Error::not_found("disappearing-messages rule"))?;
    Ok(Reply::ok(&found))
}

/// PATCH /api/auto-destructs/{id} {lifetimeSecs} — a new lifetime, for
/// every message of the room from the next sweep on.
pub async fn update(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "disappearing-messages rule")?;
    let body: Lifetime = ctx.json()?;
    let mut c = Checker::default();
    let secs = lifetime(&mut c, body.lifetime_secs);
    c.finish().map_err(Error::Validation)?;
    let secs = secs.unwrap_or(MIN_LIFETIME_SECS);
    let updated = ctx
        .app
        .store
        .run(move |s| s.update_auto_destruct(me, id, secs))
        .await?;
    ctx.app.destructs_changed.notify_one();
    Ok(Reply::ok(&updated))
}

/// DELETE /api/auto-destructs/{id} — messages stop disappearing (those
/// already gone stay gone).
pub async fn delete(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "disappearing-messages rule")?;
    ctx.app
        .store
        .run(move |s| s.delete_auto_destruct(me, id))
        .await?;
    ctx.app.destructs_changed.notify_one();
    Ok(Reply::done())
}
