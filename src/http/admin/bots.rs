//! The admin's bots: create (the token is shown once), list, read, change,
//! delete, rotate the token, set the webhook, and see failed deliveries.

use crate::auth;
use crate::error::{Error, Result};
use crate::http::bot::{remove_webhook, set_webhook};
use crate::http::context::Ctx;
use crate::http::listing;
use crate::http::response::Reply;
use crate::http::rooms::present;
use crate::http::users::limit;
use crate::model::validate::{self, Checker};
use crate::model::{Bot, BotPatch, NewBot, UserId};
use crate::store::{BOT_FILTER_FIELDS, DELIVERY_FILTER_FIELDS};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct CreateBot {
    name: Option<String>,
    avatar: Option<String>,
}

/// A bot with its token: only in the answers that make a new token.
#[derive(Serialize)]
struct BotWithToken {
    #[serde(flatten)]
    bot: Bot,
    token: String,
}

#[derive(Serialize)]
struct Token {
    token: String,
}

/// POST /api/admin/bots {name, avatar?} → 201 {id, name, ..., token}. The
/// bot is a user who can be added to rooms; it cannot log in.
pub async fn create(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let body: CreateBot = ctx.json()?;
    let mut c = Checker::default();
    c.text("name", body.name.as_deref(), validate::MAX_NAME_CHARS);
    c.optional_text("avatar", body.avatar.as_deref(), validate::MAX_AVATAR_CHARS);
    c.finish().map_err(Error::Validation)?;
    let token = auth::new_token();
    let new = NewBot {
        // ':' is not allowed in user logins, so no person can take it.
        login: format!("bot:{}", uuid::Uuid::new_v4().simple()),
        name: body.name.unwrap_or_default().trim().to_owned(),
        avatar: body.avatar,
        password_hash: String::new(),
        token_hash: auth::token_hash(&token),
    };
    let _slot = ctx.app.password_slot().await?;
    let bot = ctx
        .app
        .store
        .run(move |s| {
            // A password nobody knows, hashed like any other: a login
            // attempt takes the usual time and always fails.
            let password_hash = auth::hash_for_store(&auth::new_token())?;
            s.create_bot(&NewBot {
                password_hash,
                ..new
            })
        })
        .await?;
    let location = format!("/api/admin/bots/{}", bot.id);
    Ok(Reply::created(&BotWithToken { bot, token }, location))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ListQuery {
    last_id: Option<UserId>,
    offset: Option<u32>,
    limit: Option<u32>,
    query: Option<String>,
}

/// GET /api/admin/bots?lastId=&offset=&limit=&query= — by id; `query`
/// filters over `BOT_FILTER_FIELDS`.
pub async fn list(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let q: ListQuery = ctx.query()?;
    let n = limit(q.limit)?;
    let offset = q.offset.unwrap_or(0);
    let filter = listing::filter(q.query.as_deref(), BOT_FILTER_FIELDS)?;
    let page = ctx
        .app
        .store
        .run(move |s| s.bots(q.last_id, filter.as_ref(), offset.into(), n))
        .await?;
    Ok(listing::offset_reply(
        &ctx,
        &page.items,
        page.total,
        offset,
        n,
    ))
}

/// GET /api/admin/bots/{id} — with its webhook (no secret) and counts of
/// delivered, retrying and failed deliveries.
pub async fn get(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let id = ctx.id("id", "bot")?;
    let bot = ctx
        .app
        .store
        .run(move |s| s.bot(id))
        .await?
        .ok_or_else(|| Error::not_found("bot"))?;
    Ok(Reply::ok(&bot))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBot {
    name: Option<String>,
    /// `null` clears it; absent keeps it.
    #[serde(default, deserialize_with = "present")]
    avatar: Option<Option<String>>,
}

/// PATCH /api/admin/bots/{id} {name?, avatar?}
pub async fn update(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let id = ctx.id("id", "bot")?;
    let body: PatchBot = ctx.json()?;
    let mut c = Checker::default();
    if body.name.is_some() {
        c.text("name", body.name.as_deref(), validate::MAX_NAME_CHARS);
    }
    if let Some(Some(avatar)) = &body.avatar {
        c.optional_text("avatar", Some(avatar), validate::MAX_AVATAR_CHARS);
    }
    c.finish().map_err(Error::Validation)?;
    let patch = BotPatch {
        name: body.name.map(|n| n.trim().to_owned()),
        avatar: body.avatar,
    };
    let bot = ctx.app.store.run(move |s| s.update_bot(id, &patch)).await?;
    Ok(Reply::ok(&bot))
}

/// DELETE /api/admin/bots/{id} — the bot leaves its rooms, its token stops
/// working, its messages stay (with no sender).
pub async fn delete(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let id = ctx.id("id", "bot")?;
    ctx.app.store.run(move |s| s.delete_bot(id)).await?;
    ctx.app.webhooks.changed();
    Ok(Reply::done())
}

/// POST /api/admin/bots/{id}/token → {token}; the old token stops working.
pub async fn rotate_token(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let id = ctx.id("id", "bot")?;
    let token = auth::new_token();
    let hash = auth::token_hash(&token);
    ctx.app
        .store
        .run(move |s| s.set_bot_token_hash(id, &hash))
        .await?;
    Ok(Reply::ok(&Token { token }))
}

/// PUT /api/admin/bots/{id}/webhook {url} → {url, secret, since}
pub async fn put_webhook(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let id = ctx.id("id", "bot")?;
    set_webhook(&ctx, id).await
}

/// DELETE /api/admin/bots/{id}/webhook
pub async fn delete_webhook(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let id = ctx.id("id", "bot")?;
    remove_webhook(&ctx, id).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DeliveriesQuery {
    before: Option<i64>,
    offset: Option<u32>,
    limit: Option<u32>,
    query: Option<String>,
}

/// GET /api/admin/bots/{id}/deliveries?before=&offset=&limit=&query= —
/// deliveries that failed at least once (retrying, delivered after
/// retries, or failed), newest first: status, attempts, last error, next
/// attempt. `query` filters over `DELIVERY_FILTER_FIELDS`.
pub async fn deliveries(ctx: Ctx) -> Result<Reply> {
    ctx.admin()?;
    let id = ctx.id("id", "bot")?;
    let q: DeliveriesQuery = ctx.query()?;
    let n = limit(q.limit)?;
    let offset = q.offset.unwrap_or(0);
    let filter = listing::filter(q.query.as_deref(), DELIVERY_FILTER_FIELDS)?;
    let page = ctx
        .app
        .store
        .run(move |s| {
            if s.bot(id)?.is_none() {
                return Ok(None);
            }
            s.deliveries(id, q.before, filter.as_ref(), offset.into(), n)
                .map(Some)
        })
        .await?
        .ok_or_else(|| Error::not_found("bot"))?;
    Ok(listing::offset_reply(
        &ctx,
        &page.items,
        page.total,
        offset,
        n,
    ))
}
