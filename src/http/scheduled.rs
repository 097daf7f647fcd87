//! Scheduled messages (the message queue): `/api/scheduled-messages`.
//! The scheduler in `automation` posts each one once, at its time.

use super::context::Ctx;
use super::listing::{filtered_offset_page, offset_reply};
use super::response::Reply;
use crate::error::{Error, Result};
use crate::model::validate::{self, Checker};
use crate::model::{FieldError, NewScheduled, RoomId, Timestamp, UserId};
use crate::service::{self, RoomRequest};
use crate::store::SCHEDULED_FILTER_FIELDS;
use serde::Deserialize;

/// How far ahead a message may be scheduled: a year.
const MAX_AHEAD_SECS: i64 = 366 * 24 * 3600;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Schedule {
    room_id: Option<RoomId>,
    contact_id: Option<UserId>,
    content: Option<String>,
    send_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Reschedule {
    content: Option<String>,
    send_at: Option<String>,
}

/// `sendAt` as an instant in the future (on the automation clock), within
/// a year.
fn send_at(ctx: &Ctx, c: &mut Checker, value: Option<&str>) -> Option<Timestamp> {
    let Some(text) = value else {
        c.push(FieldError::required("sendAt"));
        return None;
    };
    let now = ctx.app.clock.now();
    match Timestamp::parse_rfc3339(text) {
        None => c.push(FieldError::new(
            "sendAt",
            "format",
            "sendAt must be an RFC 3339 time such as 2026-12-24T18:00:00Z",
        )),
        Some(t) if t <= now => c.push(FieldError::new(
            "sendAt",
            "past",
            "sendAt must be in the future",
        )),
        Some(t) if t > now.plus_seconds(MAX_AHEAD_SECS) => c.push(FieldError::new(
            "sendAt",
            "range",
            "sendAt must be within a year",
        )),
        Some(t) => return Some(t),
    }
    None
}

/// POST /api/scheduled-messages {roomId | contactId, content, sendAt} →
/// 201 with the scheduled message (status `pending`). A contact's direct
/// room is made if there is none yet.
pub async fn create(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let body: Schedule = ctx.json()?;
    let mut c = Checker::default();
    let content = c
        .text(
            "content",
            body.content.as_deref(),
            validate::MAX_CONTENT_CHARS,
        )
        .map(str::to_owned);
    let at = send_at(&ctx, &mut c, body.send_at.as_deref());
    if body.room_id.is_some() == body.contact_id.is_some() {
        c.push(FieldError::new(
            "roomId",
            "target",
            "give exactly one of roomId and contactId",
        ));
    }
    c.finish().map_err(Error::Validation)?;
    let room_id = match (body.room_id, body.contact_id) {
        (Some(room), _) => {
            let member = ctx
                .app
                .store
                .run(move |s| s.member_role(room, me))
                .await?
                .is_some();
            if !member {
                return Err(Error::not_found("room"));
            }
            room
        }
        (_, Some(contact)) => direct_room(&ctx, me, contact).await?,
        (None, None) => unreachable!("checked above: exactly one target"),
    };
    let new = NewScheduled {
        user_id: me,
        room_id,
        message_id: uuid::Uuid::now_v7().to_string(),
        content: content.unwrap_or_default(),
        send_at: at.unwrap_or_else(Timestamp::now),
    };
    let scheduled = ctx.app.store.run(move |s| s.create_scheduled(&new)).await?;
    ctx.app.schedule_changed.notify_one();
    Ok(Reply::created(
        &scheduled,
        format!("/api/scheduled-messages/{}", scheduled.id),
    ))
}

/// My direct room with a contact, made if needed; 404 for a non-contact.
async fn direct_room(ctx: &Ctx, me: UserId, contact: UserId) -> Result<RoomId> {
    let found = ctx
        .app
        .store
        .run(move |s| s.contact(me, contact))
        .await?
        .ok_or_else(|| Error::not_found("contact"))?;
    if let Some(room) = found.direct_room_id {
        return Ok(room);
    }
    let req = RoomRequest {
        kind: Some("direct".into()),
        name: None,
        public: None,
        participants: vec![contact],
    };
    let (details, _) = service::create_room(&ctx.app, me, req).await?;
    Ok(details.room.id)
}

/// GET /api/scheduled-messages?offset=&limit=&query= — mine, soonest
/// first, in every state; `query` filters over `SCHEDULED_FILTER_FIELDS`
/// (e.g. `status = 'pending' AND sendAt < '2026-12-25T00:00:00Z'`).
pub async fn list(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let (offset, limit, filter) = filtered_offset_page(&ctx, SCHEDULED_FILTER_FIELDS)?;
    let (items, total) = ctx
        .app
        .store
        .run(move |s| s.scheduled_page(me, filter.as_ref(), offset, limit))
        .await?;
    Ok(offset_reply(&ctx, &items, total, offset, limit))
}

/// GET /api/scheduled-messages/{id}
pub async fn get(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "scheduled message")?;
    let found = ctx
        .app
        .store
        .run(move |s| s.scheduled(me, id))
        .await?
        .ok_or_else(|| Error::not_found("scheduled message"))?;
    Ok(Reply::ok(&found))
}

/// PATCH /api/scheduled-messages/{id} {content?, sendAt?} — while pending
/// (409 once it is being sent, sent, failed or cancelled).
pub async fn update(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "scheduled message")?;
    let body: Reschedule = ctx.json()?;
    let mut c = Checker::default();
    let content = c
        .optional_text(
            "content",
            body.content.as_deref(),
            validate::MAX_CONTENT_CHARS,
        )
        .map(str::to_owned);
    let at = match body.send_at.as_deref() {
        None => None,
        some => send_at(&ctx, &mut c, some),
    };
    c.finish().map_err(Error::Validation)?;
    let updated = ctx
        .app
        .store
        .run(move |s| s.update_scheduled(me, id, content.as_deref(), at))
        .await?;
    ctx.app.schedule_changed.notify_one();
    Ok(Reply::ok(&updated))
}

/// DELETE /api/scheduled-messages/{id} — cancels it for good (409 if it is
/// no longer pending); answers it with status `cancelled`.
pub async fn cancel(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "scheduled message")?;
    let cancelled = ctx
        .app
        .store
        .run(move |s| s.cancel_scheduled(me, id))
        .await?;
    Ok(Reply::ok(&cancelled))
}
