//! The Messaging API: what a bot does with its bot token. Bot tokens live
//! in their own table, so a user's session token is never a bot token and
//! a bot token opens no user endpoint.

use super::context::Ctx;
use super::messages::CreateMessage;
use super::response::Reply;
use crate::auth;
use crate::error::{Error, Result};
use crate::model::validate::Checker;
use crate::model::{FieldError, NewWebhook, RoomId, Timestamp, UserId};
use serde::{Deserialize, Serialize};

/// Longest webhook URL accepted.
const MAX_URL_CHARS: usize = 2048;

/// The bot whose token the request carries, or 401.
async fn bot_id(ctx: &Ctx) -> Result<UserId> {
    let token = ctx.token().ok_or_else(|| {
        Error::Unauthorized("missing bot token: send 'Authorization: Bearer <bot token>'".into())
    })?;
    let hash = auth::token_hash(token);
    ctx.app
        .store
        .run(move |s| s.bot_by_token_hash(&hash))
        .await?
        .ok_or_else(|| Error::Unauthorized("the bot token is not valid".into()))
}

/// GET /api/bot/me — the bot itself, with its webhook and delivery counts.
pub async fn me(ctx: Ctx) -> Result<Reply> {
    let id = bot_id(&ctx).await?;
    let bot = ctx
        .app
        .store
        .run(move |s| s.bot(id))
        .await?
        .ok_or_else(|| Error::Unauthorized("the bot token is not valid".into()))?;
    Ok(Reply::ok(&bot))
}

/// GET /api/bot/rooms — the rooms the bot is in.
pub async fn rooms(ctx: Ctx) -> Result<Reply> {
    let id = bot_id(&ctx).await?;
    let rooms = ctx.app.store.run(move |s| s.rooms_of_user(id)).await?;
    Ok(Reply::counted(&rooms))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BotMessage {
    room_id: Option<RoomId>,
    #[serde(flatten)]
    message: CreateMessage,
}

/// POST /api/bot/messages {roomId, content, type?, messageId?, replyId?} —
/// the same path as a user's post: a seq, an answer after commit, live
/// fan-out, idempotent on messageId. 404 for a room the bot is not in.
pub async fn post(ctx: Ctx) -> Result<Reply> {
    let id = bot_id(&ctx).await?;
    let body: BotMessage = ctx.json()?;
    let room_id = body
        .room_id
        .ok_or_else(|| Error::Validation(vec![FieldError::required("roomId")]))?;
    body.message.post(&ctx, id, room_id).await
}

#[derive(Deserialize)]
struct WebhookBody {
    url: Option<String>,
}

/// The webhook as set: the secret is shown here and nowhere else.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookSet {
    url: String,
    secret: String,
    since: Timestamp,
}

/// Only plain `http://host[:port]/path` URLs: the deliverer speaks no TLS
/// (put a TLS-terminating proxy in front of an https receiver).
fn check_url(c: &mut Checker, url: Option<&str>) {
    let Some(url) = c.text("url", url, MAX_URL_CHARS) else {
        return;
    };
    let parsed = url.trim().parse::<hyper::Uri>().ok();
    let ok = parsed
        .as_ref()
        .is_some_and(|u| u.scheme_str() == Some("http") && u.host().is_some_and(|h| !h.is_empty()));
    if !ok {
        c.push(FieldError::new(
            "url",
            "format",
            "url must be an http:// URL with a host; for https, use a TLS-terminating proxy in front of the receiver",
        ));
    }
}

/// Sets the webhook of bot `id` from the body {url}: a new secret, and
/// delivery of messages from now on.
pub(super) async fn set_webhook(ctx: &Ctx, id: UserId) -> Result<Reply> {
    let body: WebhookBody = ctx.json()?;
    let mut c = Checker::default();
    check_url(&mut c, body.url.as_deref());
    c.finish().map_err(Error::Validation)?;
    let hook = NewWebhook {
        url: body.url.unwrap_or_default().trim().to_owned(),
        secret: auth::new_token(),
        since: Timestamp::now(),
    };
    let reply = WebhookSet {
        url: hook.url.clone(),
        secret: hook.secret.clone(),
        since: hook.since,
    };
    ctx.app
        .store
        .run(move |s| s.set_webhook(id, Some(&hook)))
        .await?;
    ctx.app.webhooks.changed();
    Ok(Reply::ok(&reply))
}

/// Removes the webhook of bot `id`; deliveries stop.
pub(super) async fn remove_webhook(ctx: &Ctx, id: UserId) -> Result<Reply> {
    ctx.app.store.run(move |s| s.set_webhook(id, None)).await?;
    ctx.app.webhooks.changed();
    Ok(Reply::done())
}

/// PUT /api/bot/webhook {url} → {url, secret, since}
pub async fn put_webhook(ctx: Ctx) -> Result<Reply> {
    let id = bot_id(&ctx).await?;
    set_webhook(&ctx, id).await
}

/// DELETE /api/bot/webhook
pub async fn delete_webhook(ctx: Ctx) -> Result<Reply> {
    let id = bot_id(&ctx).await?;
    remove_webhook(&ctx, id).await
}
