//! Rooms and their participants.

use super::context::Ctx;
use super::listing;
use super::response::Reply;
use super::users::limit;
use crate::actors::messages::{By, MarkSeen};
use crate::actors::room_actor;
use crate::error::{Error, Result};
use crate::model::validate::{self, Checker};
use crate::model::{Role, RoomDetails, RoomId, RoomPatch, Seq, UserId};
use crate::service::{self, RoomRequest};
use crate::store::{RoomListQuery, ROOM_FILTER_FIELDS};
use serde::{Deserialize, Serialize};

/// The caller's role in the room; 404 when they are not in it, so a
/// stranger cannot tell a private room from a missing one.
pub async fn role_in(ctx: &Ctx, room: RoomId, user: UserId) -> Result<Role> {
    ctx.app
        .store
        .run(move |s| s.member_role(room, user))
        .await?
        .ok_or_else(|| Error::not_found("room"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRoom {
    #[serde(rename = "type")]
    kind: Option<String>,
    name: Option<String>,
    public: Option<bool>,
    #[serde(default)]
    participants: Vec<UserId>,
}

/// POST /api/rooms {type, name?, public?, participants[]} → 201 with the
/// room; an existing direct room with the same person → 200 with it.
pub async fn create(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let body: CreateRoom = ctx.json()?;
    let req = RoomRequest {
        kind: body.kind,
        name: body.name,
        public: body.public,
        participants: body.participants,
    };
    let (room, created) = service::create_room(&ctx.app, me, req).await?;
    Ok(room_created(&room, created, "/api/rooms"))
}

/// 201 with `Location` under `collection` for a new room; 200 for the
/// existing direct room that was returned instead.
pub fn room_created(room: &RoomDetails, created: bool, collection: &str) -> Reply {
    if created {
        Reply::created(room, format!("{collection}/{}", room.room.id))
    } else {
        Reply::ok(room)
    }
}

#[derive(Serialize)]
struct Count {
    count: usize,
}

/// The rooms `member` is in, as `offset`, `limit` and `query` ask; all of
/// them when there is no `limit` (a room list is short and wanted whole).
pub fn rooms_of(ctx: &Ctx, member: UserId) -> Result<RoomListQuery> {
    let (offset, limit, filter) = listing::filtered_whole_list(ctx, ROOM_FILTER_FIELDS)?;
    Ok(RoomListQuery {
        member,
        filter,
        offset,
        limit,
    })
}

/// GET /api/rooms — the rooms I am in, by id, each with `lastSeq`, my
/// `readSeq` and `deliveredSeq`, and `unread` (others' messages after
/// `readSeq`). All of them unless `limit` is given (a client's room list
/// is short and wanted whole); `offset` pages and `query` filters over
/// `store::ROOM_FILTER_FIELDS`.
pub async fn list_mine(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let query = rooms_of(&ctx, me)?;
    let (offset, limit) = (query.offset, query.limit);
    let (rooms, total) = ctx
        .app
        .store
        .run(move |s| {
            let page = s.list_rooms_of_user(&query)?;
            // Positions for all my rooms: the list is short, one query.
            let mut positions: std::collections::HashMap<_, _> = s
                .rooms_with_receipts(me)?
                .into_iter()
                .map(|r| (r.room.id, r))
                .collect();
            let rooms: Vec<_> = page
                .items
                .iter()
                .filter_map(|room| positions.remove(&room.id))
                .collect();
            Ok((rooms, page.total))
        })
        .await?;
    Ok(listing::whole_list_reply(
        &ctx, &rooms, total, offset, limit,
    ))
}

#[derive(Deserialize)]
struct PublicQuery {
    limit: Option<u32>,
}

/// GET /api/rooms/public?limit=N — N public rooms at random.
pub async fn list_public(ctx: Ctx) -> Result<Reply> {
    ctx.session().await?;
    let q: PublicQuery = ctx.query()?;
    let n = limit(q.limit)?;
    let rooms = ctx.app.store.run(move |s| s.public_rooms(n)).await?;
    Ok(Reply::with_meta(
        &rooms,
        Some(&Count { count: rooms.len() }),
    ))
}

/// GET /api/rooms/{id} — details with participants, for participants.
pub async fn get(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "room")?;
    role_in(&ctx, id, me).await?;
    let details = ctx
        .app
        .store
        .run(move |s| s.room_details(id))
        .await?
        .ok_or_else(|| Error::not_found("room"))?;
    Ok(Reply::ok(&details))
}

/// The changeable fields of a room (owners here, the administrator in the
/// Management API); anything else in the body is rejected.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchRoom {
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    public: Option<bool>,
}

impl PatchRoom {
    /// Validates the change (422 with every bad field).
    pub fn checked(self) -> Result<RoomPatch> {
        let mut c = Checker::default();
        if let Some(Some(name)) = &self.name {
            c.optional_text("name", Some(name), validate::MAX_ROOM_NAME_CHARS);
        }
        c.finish().map_err(Error::Validation)?;
        Ok(RoomPatch {
            name: self.name.map(|n| n.map(|n| n.trim().to_owned())),
            public: self.public,
        })
    }
}

/// Tells `"name": null` (clear it) from a missing `name` (keep it).
pub fn present<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Ok(Some(Option::deserialize(d)?))
}

/// PATCH /api/rooms/{id} {name?, public?} — owners and admins only.
pub async fn update(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "room")?;
    let patch = ctx.json::<PatchRoom>()?.checked()?;
    let role = role_in(&ctx, id, me).await?;
    if !role.manages() {
        return Err(Error::Forbidden(
            "only the room's owner or admins may change it".into(),
        ));
    }
    let room = ctx
        .app
        .store
        .run(move |s| s.update_room(id, &patch))
        .await?;
    Ok(Reply::ok(&room))
}

/// DELETE /api/rooms/{id} — the owner deletes the room; every online
/// participant gets `room_deleted`.
pub async fn delete(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "room")?;
    service::delete_room(&ctx.app, id, By::Member(me)).await?;
    Ok(Reply::done())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddParticipant {
    user_id: Option<UserId>,
}

/// POST /api/rooms/{id}/participants {userId} — writes a system message
/// and broadcasts `participant_added`.
pub async fn add_participant(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "room")?;
    let body: AddParticipant = ctx.json()?;
    let user_id = body
        .user_id
        .ok_or_else(|| Error::Validation(vec![crate::model::FieldError::required("userId")]))?;
    role_in(&ctx, id, me).await?;
    let message =
        service::add_participant(&ctx.app, id, By::Member(me), user_id, Role::Member).await?;
    Ok(Reply::created(
        &message,
        format!("/api/rooms/{id}/participants/{user_id}"),
    ))
}

/// DELETE /api/rooms/{id}/participants/{userId} — leave, or remove someone
/// (owners and admins); broadcasts `participant_removed`.
pub async fn remove_participant(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "room")?;
    let user_id = ctx.id("userId", "participant")?;
    let message = service::remove_participant(&ctx.app, id, By::Member(me), user_id).await?;
    Ok(Reply::ok(&message))
}

#[derive(Deserialize)]
struct Seen {
    seq: Option<Seq>,
}

/// POST /api/rooms/{id}/seen {seq} — moves my read position forward (an
/// older seq changes nothing; one past the last message is 422) and tells
/// the room with a `seen` frame.
pub async fn seen(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "room")?;
    let body: Seen = ctx.json()?;
    let seq = body
        .seq
        .ok_or_else(|| Error::Validation(vec![crate::model::FieldError::required("seq")]))?;
    let room = room_actor(&ctx.app.registry, &ctx.app.store, id).await?;
    room.send(MarkSeen { user_id: me, seq }).await??;
    Ok(Reply::done())
}
