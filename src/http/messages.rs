//! A room's messages: post (same path as WebSocket), history pages, edits,
//! deletes, reactions, and search across the caller's rooms.

use super::context::Ctx;
use super::response::Reply;
use super::users::limit;
use crate::error::{Error, Result};
use crate::model::{HistoryCursor, MessageChange, SearchQuery, Seq};
use crate::service::{self, MessageRequest};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateMessage {
    message_id: Option<String>,
    content: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    reply_id: Option<String>,
    forward_of: Option<String>,
}

/// POST /api/rooms/{id}/messages {messageId?, content, type?, replyId?} or
/// {messageId?, forwardOf, replyId?} — answered after commit, fanned out
/// live to WebSocket members: 201. A retry with the same messageId returns
/// the original message: 200.
pub async fn create(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "room")?;
    let body: CreateMessage = ctx.json()?;
    let req = MessageRequest {
        message_id: body.message_id,
        content: body.content,
        kind: body.kind,
        reply_id: body.reply_id,
        forward_of: body.forward_of,
    };
    let message = service::message_from_request(&ctx.app, me, req).await?;
    let posted = service::post_message(&ctx.app, id, message).await?;
    if posted.duplicate {
        // A retry: nothing was created this time.
        return Ok(Reply::ok(&posted.message));
    }
    let seq = posted.message.seq;
    let location = format!("/api/rooms/{id}/messages?after={}&limit=1", seq - 1);
    Ok(Reply::created(&posted.message, location))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistoryQuery {
    before: Option<Seq>,
    after: Option<Seq>,
    /// Alias of `before`, for clients that page by the last id they saw.
    last_id: Option<Seq>,
    page: Option<u64>,
    limit: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HistoryMeta {
    count: usize,
    /// Highest seq in the room now.
    last_seq: Seq,
    /// Pass as `before` to read older messages; absent at the beginning.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_before: Option<Seq>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination: Option<Pagination>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Pagination {
    current_page: u64,
    per_page: u32,
    total: u64,
    total_pages: u64,
    links: Links,
}

#[derive(Serialize)]
struct Links {
    next: Option<String>,
    previous: Option<String>,
}

/// GET /api/rooms/{id}/messages?before=SEQ|after=SEQ|lastId=SEQ|page=N&limit=N
/// — newest first. Seqs are gap-free, so `page` is exact and cheap.
pub async fn list(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "room")?;
    let q: HistoryQuery = ctx.query()?;
    let limit = limit(q.limit)?;
    // Seqs are stored as SQLite integers (i64); anything larger is simply
    // "past the end".
    let clamp = |s: Option<Seq>| s.map(|s| s.min(i64::MAX as Seq));
    let before = clamp(q.before.or(q.last_id));
    let cursor = match (before, clamp(q.after), q.page) {
        (None, None, None) => HistoryCursor::Latest,
        (Some(b), None, None) => HistoryCursor::Before(b),
        (None, Some(a), None) => HistoryCursor::After(a),
        (None, None, Some(p)) if p >= 1 => HistoryCursor::Page(p),
        (None, None, Some(_)) => {
            return Err(Error::validation("page", "range", "page starts at 1"));
        }
        _ => {
            return Err(Error::validation(
                "before",
                "exclusive",
                "use only one of before, after, lastId and page",
            ))
        }
    };
    // One trip to the blocking pool: membership, page and room length.
    let (messages, last_seq) = ctx
        .app
        .store
        .run(move |s| s.member_history(id, me, cursor, limit))
        .await?
        .ok_or_else(|| Error::not_found("room"))?;
    let oldest = messages.last().map(|m| m.seq);
    let pagination = match cursor {
        HistoryCursor::Page(page) => Some(Pagination::new(page, limit, last_seq, |p| {
            format!("/api/rooms/{id}/messages?page={p}&limit={limit}")
        })),
        _ => None,
    };
    let meta = HistoryMeta {
        count: messages.len(),
        last_seq,
        next_before: oldest.filter(|s| *s > 1),
        pagination,
    };
    Ok(Reply::with_meta(&messages, Some(&meta)))
}

impl Pagination {
    /// Page `page` of `total` items, `per_page` a page; `link` makes the
    /// URL of another page.
    fn new(page: u64, per_page: u32, total: u64, link: impl Fn(u64) -> String) -> Self {
        let total_pages = total.div_ceil(u64::from(per_page));
        Pagination {
            current_page: page,
            per_page,
            total,
            total_pages,
            links: Links {
                next: (page < total_pages).then(|| link(page + 1)),
                previous: (page > 1).then(|| link(page - 1)),
            },
        }
    }
}

/// Runs a change of the message named in the path and answers with the
/// message as the caller now sees it.
async fn change(ctx: Ctx, change: impl FnOnce(&Ctx) -> Result<MessageChange>) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let room = ctx.id("id", "room")?;
    let message_id = ctx.text_param("messageId", "message")?;
    let change = change(&ctx)?;
    let changed = service::change_message(&ctx.app, room, me, message_id, change).await?;
    Ok(Reply::ok(&changed.message))
}

#[derive(Deserialize)]
struct EditMessage {
    content: Option<String>,
}

/// PATCH /api/rooms/{id}/messages/{messageId} {content} — the sender edits;
/// broadcasts `message_updated`.
pub async fn update(ctx: Ctx) -> Result<Reply> {
    change(ctx, |ctx| {
        let body: EditMessage = ctx.json()?;
        service::edit(body.content.as_deref())
    })
    .await
}

/// DELETE /api/rooms/{id}/messages/{messageId} — the sender, or the room's
/// owner or an admin, deletes for everyone; the tombstone keeps its seq.
/// Broadcasts `message_deleted`.
pub async fn delete(ctx: Ctx) -> Result<Reply> {
    change(ctx, |_| Ok(MessageChange::Delete { moderator: false })).await
}

/// PUT (add) or DELETE (take back) /api/rooms/{id}/messages/{messageId}/reactions/{emoji}
/// — idempotent; broadcasts `reaction_updated` when something changed.
pub async fn react(ctx: Ctx, add: bool) -> Result<Reply> {
    change(ctx, |ctx| {
        let emoji = ctx.text_param("emoji", "reaction")?;
        service::reaction(&emoji, add)
    })
    .await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchParams {
    q: Option<String>,
    room_id: Option<i64>,
    limit: Option<u32>,
    offset: Option<u64>,
    page: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SearchMeta {
    count: usize,
    total: u64,
    offset: u64,
    pagination: Pagination,
}

/// GET /api/messages/search?q=...&roomId=N&limit=N&offset=N|page=N — the
/// caller's rooms only, best match first, `snippet` marked with `<mark>`.
/// `q` is FTS5 syntax (words, "phrases", prefix*, AND/OR/NOT, NEAR); a
/// query that does not parse is 400.
pub async fn search(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let p: SearchParams = ctx.query()?;
    let limit = limit(p.limit)?;
    let offset = match (p.offset, p.page) {
        (Some(_), Some(_)) => {
            return Err(Error::validation(
                "page",
                "exclusive",
                "use only one of offset and page",
            ))
        }
        (None, Some(0)) => return Err(Error::validation("page", "range", "page starts at 1")),
        (None, Some(page)) => (page - 1).saturating_mul(u64::from(limit)),
        (offset, None) => offset.unwrap_or(0),
    };
    let query = SearchQuery {
        user_id: me,
        q: p.q.clone().unwrap_or_default(),
        room_id: p.room_id,
        limit,
        offset,
    };
    let (hits, total) = service::search(&ctx.app, query).await?;
    let q = percent_encoding::utf8_percent_encode(
        p.q.as_deref().unwrap_or_default(),
        percent_encoding::NON_ALPHANUMERIC,
    )
    .to_string();
    let room = p
        .room_id
        .map(|r| format!("&roomId={r}"))
        .unwrap_or_default();
    let page = offset / u64::from(limit) + 1;
    let meta = SearchMeta {
        count: hits.len(),
        total,
        offset,
        pagination: Pagination::new(page, limit, total, |p| {
            format!("/api/messages/search?q={q}{room}&page={p}&limit={limit}")
        }),
    };
    Ok(Reply::with_meta(&hits, Some(&meta)))
}
