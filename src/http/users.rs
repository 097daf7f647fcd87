//! Users: sign up, list the people you can start a room with, look one up,
//! and `me` with my rooms.

use super::context::Ctx;
use super::listing::{self, Pagination};
use super::response::Reply;
use crate::actors::messages::OnlineUsers;
use crate::error::{Error, Result};
use crate::model::{Room, Timestamp, User};
use crate::service::{self, UserRequest};
use crate::store::{UserListQuery, USER_FILTER_FIELDS};
use serde::{Deserialize, Serialize};

/// Page size when the client names none, and the most it may ask for.
pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// Checks `limit` against PRODUCT.md's collection rules.
pub fn limit(value: Option<u32>) -> Result<u32> {
    match value {
        None => Ok(DEFAULT_LIMIT),
        Some(n @ 1..=MAX_LIMIT) => Ok(n),
        Some(_) => Err(Error::validation(
            "limit",
            "range",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateUser {
    login: Option<String>,
    password: Option<String>,
    name: Option<String>,
    avatar: Option<String>,
}

/// POST /api/users — sign up. 201 with the user.
pub async fn create(ctx: Ctx) -> Result<Reply> {
    let body: CreateUser = ctx.json()?;
    ctx.check_auth_rate(None)?;
    let user = service::create_user(
        &ctx.app,
        UserRequest {
            login: body.login,
            password: body.password,
            name: body.name,
            avatar: body.avatar,
        },
    )
    .await?;
    let location = format!("/api/users/{}", user.id);
    Ok(Reply::created(&user, location))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    limit: Option<u32>,
    offset: Option<u32>,
    last_id: Option<i64>,
    login: Option<String>,
    query: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListMeta {
    /// Rows on this page.
    count: usize,
    /// Pass as `lastId` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_id: Option<i64>,
    pagination: Pagination,
}

/// GET /api/users — people you can start a room with (everyone but you),
/// by id; `lastId` or `offset` pages, `login` filters by prefix, `query`
/// by the filter language over `store::USER_FILTER_FIELDS`.
pub async fn list(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let q: ListQuery = ctx.query()?;
    let limit = limit(q.limit)?;
    let offset = q.offset.unwrap_or(0);
    let query = UserListQuery {
        exclude: Some(me),
        after_id: q.last_id,
        login_prefix: q.login.filter(|l| !l.is_empty()),
        filter: listing::filter(q.query.as_deref(), USER_FILTER_FIELDS)?,
        offset,
        limit,
    };
    let page = ctx.app.store.run(move |s| s.list_users(&query)).await?;
    let users = page.items;
    let meta = ListMeta {
        count: users.len(),
        last_id: users
            .last()
            .filter(|_| users.len() as u32 == limit)
            .map(|u| u.id),
        pagination: Pagination::by_offset(offset.into(), limit.into(), page.total, |o| {
            ctx.link_with("offset", &o.to_string())
        }),
    };
    Ok(Reply::with_meta(&users, Some(&meta)))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WithPresence {
    #[serde(flatten)]
    user: User,
    online: bool,
    last_seen_at: Option<Timestamp>,
}

/// GET /api/users/{id} — with `online` and `lastSeenAt` for someone who
/// shares a room with me (or me); others see the bare profile.
pub async fn get(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "user")?;
    let (user, last_seen) = ctx
        .app
        .store
        .run(move |s| Ok(s.user(id)?.map(|u| (u, s.last_seen_for(me, id)))))
        .await?
        .ok_or_else(|| Error::not_found("user"))?;
    let Some(last_seen_at) = last_seen? else {
        return Ok(Reply::ok(&user));
    };
    let online = !ctx
        .app
        .registry
        .send(OnlineUsers { user_ids: vec![id] })
        .await?
        .is_empty();
    Ok(Reply::ok(&WithPresence {
        user,
        online,
        last_seen_at,
    }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Me {
    #[serde(flatten)]
    user: User,
    rooms: Vec<Room>,
}

/// GET /api/me — me, with the rooms I am in.
pub async fn me(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let found = ctx
        .app
        .store
        .run(move |s| Ok(s.user(me)?.map(|u| (u, s.rooms_of_user(me)))))
        .await?;
    let (user, rooms) = found.ok_or_else(|| Error::not_found("user"))?;
    Ok(Reply::ok(&Me {
        user,
        rooms: rooms?,
    }))
}
