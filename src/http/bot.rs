//! The Messaging API: what a bot does with its bot token. Bot tokens live
//! in their own table, so a user's session token is never a bot token and
//! a bot token opens no user endpoint.

use super::context::Ctx;
use super::listing;
use super::messages::CreateMessage;
use super::response::Reply;
use super::rooms::rooms_of;
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

/// GET /api/bot/rooms?query=&offset=&limit= — the rooms the bot is in, by
/// id: all of them unless `limit` is given; `query` filters over
/// `ROOM_FILTER_FIELDS`.
pub async fn rooms(ctx: Ctx) -> Result<Reply> {
    let id = bot_id(&ctx).await?;
    let query = rooms_of(&ctx, id)?;
    let (offset, limit) = (query.offset, query.limit);
    let page = ctx
        .app
        .store
        .run(move |s| s.list_rooms_of_user(&query))
        .await?;
    Ok(listing::whole_list_reply(
        &ctx,
        &page.items,
        page.total,
        offset,
        limit,
    ))
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

/// Refuses a URL whose host is or resolves to a loopback, private,
/// link-local or otherwise internal address: a bot must not make the
/// server post into its own network.
async fn refuse_internal(url: &str) -> Result<()> {
    let refused = |why: &str| {
        Error::validation(
            "url",
            "host",
            format!("url {why}; the server posts only to public addresses unless started with --webhook-allow-private-hosts"),
        )
    };
    let uri: hyper::Uri = url.parse().map_err(|_| refused("is not a URL"))?;
    let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
    let port = uri.port_u16().unwrap_or(80);
    let addrs: Vec<_> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| refused("names a host that does not resolve"))?
        .collect();
    if addrs.is_empty() || addrs.iter().any(|a| is_internal(a.ip())) {
        return Err(refused("points at an internal address"));
    }
    Ok(())
}

/// Addresses inside a host or its network, which no outside party owns.
fn is_internal(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                // 100.64.0.0/10, carrier-grade NAT
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_internal(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                v6.is_loopback()
                    || v6.is_unspecified()
                    // fc00::/7 unique local, fe80::/10 link-local
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80
            }
        },
    }
}

/// Sets the webhook of bot `id` from the body {url}: a new secret, and
/// delivery of messages from now on.
pub(super) async fn set_webhook(ctx: &Ctx, id: UserId) -> Result<Reply> {
    let body: WebhookBody = ctx.json()?;
    let mut c = Checker::default();
    check_url(&mut c, body.url.as_deref());
    c.finish().map_err(Error::Validation)?;
    let url = body.url.as_deref().unwrap_or_default().trim();
    if !ctx.app.config.webhook_allow_private_hosts {
        refuse_internal(url).await?;
    }
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

#[cfg(test)]
mod tests {
    use super::is_internal;

    #[test]
    fn internal_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1::1", "1.1.1.1"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }
}
