//! Accounts, as the administrator sees them.

use super::list;
use crate::error::{Error, Result};
use crate::http::context::Ctx;
use crate::http::response::Reply;
use crate::http::rooms::present;
use crate::model::validate::{self, Checker};
use crate::model::{Room, User, UserPatch};
use crate::service::{self, UserRequest};
use crate::store::list::fields;
use serde::{Deserialize, Serialize};

/// GET /api/admin/users?page|offset&limit&query&sort&direction&id&login&name&createdAfter&createdBefore
pub async fn list(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let req = list::parse(&ctx, &fields::USERS)?;
    let q = req.query.clone();
    let page = ctx.app.store.run(move |s| s.users_page(&q)).await?;
    Ok(req.reply(&ctx, page, |u| u))
}

#[derive(Serialize)]
struct UserWithRooms {
    #[serde(flatten)]
    user: User,
    rooms: Vec<Room>,
}

/// GET /api/admin/users/{id} — the user with the rooms they are in.
pub async fn get(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let id = ctx.id("id", "user")?;
    let found = ctx
        .app
        .store
        .run(move |s| match s.user(id)? {
            Some(user) => Ok(Some(UserWithRooms {
                user,
                rooms: s.rooms_of_user(id)?,
            })),
            None => Ok(None),
        })
        .await?;
    Ok(Reply::ok(&found.ok_or_else(|| Error::not_found("user"))?))
}

/// POST /api/admin/users {login, password, name, avatar?} — 201, with the
/// same rules as sign-up (but no sign-up rate limit).
pub async fn create(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    // Only the fields of UserRequest: ids and times are the server's.
    let req: UserRequest = ctx.json()?;
    let user = service::create_user(&ctx.app, req).await?;
    let location = format!("/api/admin/users/{}", user.id);
    Ok(Reply::created(&user, location))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchUser {
    login: Option<String>,
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    avatar: Option<Option<String>>,
    password: Option<String>,
}

/// PATCH /api/admin/users/{id} {login?, name?, avatar?, password?} — a new
/// password ends every session of the user (their sockets close).
pub async fn update(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let id = ctx.id("id", "user")?;
    let body: PatchUser = ctx.json()?;
    let mut c = Checker::default();
    if body.login.is_some() {
        validate::login(&mut c, body.login.as_deref());
    }
    c.optional_text("name", body.name.as_deref(), validate::MAX_NAME_CHARS);
    if let Some(Some(avatar)) = &body.avatar {
        c.optional_text("avatar", Some(avatar), validate::MAX_AVATAR_CHARS);
    }
    if body.password.is_some() {
        validate::password(&mut c, "password", body.password.as_deref());
    }
    c.finish().map_err(Error::Validation)?;
    let patch = UserPatch {
        login: body.login,
        name: body.name.map(|n| n.trim().to_owned()),
        avatar: body.avatar,
        password_hash: None,
    };
    let user = service::update_user(&ctx.app, id, patch, body.password).await?;
    Ok(Reply::ok(&user))
}

/// DELETE /api/admin/users/{id} — sessions end, sockets close, the user
/// leaves every room (members see `participant_removed`); their messages
/// stay, without a sender.
pub async fn delete(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let id = ctx.id("id", "user")?;
    service::delete_user(&ctx.app, id).await?;
    Ok(Reply::done())
}
