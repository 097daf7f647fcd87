//! A room's messages: post (same path as WebSocket), history pages, edits,
//! deletes, reactions, and search across the caller's rooms.

use super::context::Ctx;
use super::listing;
use super::pagination::Pagination;
use super::response::Reply;
use super::users::limit;
use crate::actors::messages::By;
use crate::error::{Error, Result};
use crate::model::{
    FileId, HistoryCursor, LinkPreview, MessageChange, RoomId, SearchQuery, Seq, UserId,
};
use crate::service::{self, MessageRequest};
use crate::store::{HistoryFilter, MESSAGE_FILTER_FIELDS, SEARCH_FILTER_FIELDS};
use serde::{Deserialize, Serialize};

/// A message as clients post it over REST (users and bots alike).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CreateMessage {
    message_id: Option<String>,
    content: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    reply_id: Option<String>,
    forward_of: Option<String>,
    file_id: Option<FileId>,
    preview: Option<LinkPreview>,
}

impl CreateMessage {
    /// Validates (a forward copies the original) and posts through the room
    /// actor: 201 with the message's place in history, or 200 for a retry
    /// (nothing was created this time).
    pub(super) async fn post(self, ctx: &Ctx, sender: UserId, room: RoomId) -> Result<Reply> {
        let req = MessageRequest {
            message_id: self.message_id,
            content: self.content,
            kind: self.kind,
            reply_id: self.reply_id,
            forward_of: self.forward_of,
            file_id: self.file_id,
            preview: self.preview,
        };
        let message = service::message_from_request(&ctx.app, sender, req).await?;
        let posted = service::post_message(&ctx.app, room, message).await?;
        if posted.duplicate {
            return Ok(Reply::ok(&posted.message));
        }
        let seq = posted.message.seq;
        let location = format!("/api/rooms/{room}/messages?after={}&limit=1", seq - 1);
        Ok(Reply::created(&posted.message, location))
    }
}

/// POST /api/rooms/{id}/messages {messageId?, content, type?, replyId?} or
/// {messageId?, forwardOf, replyId?} — answered after commit, fanned out
/// live to WebSocket members: 201. A retry with the same messageId returns
/// the original message: 200.
pub async fn create(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "room")?;
    let body: CreateMessage = ctx.json()?;
    body.post(&ctx, me, id).await
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
    offset: Option<u32>,
    query: Option<String>,
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

/// GET /api/rooms/{id}/messages?before=SEQ|after=SEQ|lastId=SEQ|page=N&limit=N
/// — newest first. Seqs are gap-free, so `page` is exact and cheap. With
/// `query` (over `MESSAGE_FILTER_FIELDS`) or `offset`, see [`filtered`].
pub async fn list(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "room")?;
    let q: HistoryQuery = ctx.query()?;
    let limit = limit(q.limit)?;
    // Seqs are stored as SQLite integers (i64); anything larger is simply
    // "past the end".
    let clamp = |s: Option<Seq>| s.map(|s| s.min(i64::MAX as Seq));
    let before = clamp(q.before.or(q.last_id));
    if q.query.is_some() || q.offset.is_some() {
        if q.after.is_some() || q.page.is_some() {
            return Err(Error::validation(
                "query",
                "exclusive",
                "query and offset page with before, lastId or offset, not after or page",
            ));
        }
        let query = HistoryFilter {
            filter: listing::filter(q.query.as_deref(), MESSAGE_FILTER_FIELDS)?,
            before,
            offset: q.offset.unwrap_or(0).into(),
            limit,
        };
        return filtered(ctx, me, id, query).await;
    }
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
    // Membership, page and room length in one short read, on this thread.
    let (messages, last_seq) = ctx
        .app
        .store
        .run_short(move |s| s.member_history(id, me, cursor, limit))?
        .ok_or_else(|| Error::not_found("room"))?;
    let oldest = messages.last().map(|m| m.seq);
    let pagination = match cursor {
        HistoryCursor::Page(page) => Some(Pagination::by_page(page, limit, last_seq, |p| {
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

/// A history page that passes a `query=` filter: newest first, `offset`
/// rows skipped below `before`. Matches skip seqs, so the page is read by
/// offset, and `meta.pagination` counts the matches.
async fn filtered(ctx: Ctx, me: UserId, room: RoomId, query: HistoryFilter) -> Result<Reply> {
    let (offset, limit) = (query.offset, query.limit);
    let (page, last_seq) = ctx
        .app
        .store
        .run(move |s| s.member_history_filtered(room, me, &query))
        .await?
        .ok_or_else(|| Error::not_found("room"))?;
    let meta = HistoryMeta {
        count: page.items.len(),
        last_seq,
        next_before: None,
        pagination: Some(Pagination::by_offset(
            offset,
            limit.into(),
            page.total,
            |o| ctx.link_with("offset", &o.to_string()),
        )),
    };
    Ok(Reply::with_meta(&page.items, Some(&meta)))
}

/// Runs a change of the message named in the path and answers with the
/// message as the caller now sees it.
async fn change(ctx: Ctx, change: impl FnOnce(&Ctx) -> Result<MessageChange>) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let room = ctx.id("id", "room")?;
    let message_id = ctx.text_param("messageId", "message")?;
    let change = change(&ctx)?;
    let changed =
        service::change_message(&ctx.app, room, By::Member(me), message_id, change).await?;
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
    query: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SearchMeta {
    count: usize,
    total: u64,
    offset: u64,
    pagination: Pagination,
}

/// GET /api/messages/search?q=...&roomId=N&query=...&limit=N&offset=N|page=N
/// — the caller's rooms only, best match first, `snippet` marked with
/// `<mark>`. `q` is FTS5 syntax (words, "phrases", prefix*, AND/OR/NOT,
/// NEAR); a query that does not parse is 400. `query` filters the hits'
/// messages (over `SEARCH_FILTER_FIELDS`) before they are ranked, counted
/// and paged.
pub async fn search(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let p: SearchParams = ctx.query()?;
    let limit = limit(p.limit)?;
    let filter = listing::filter(p.query.as_deref(), SEARCH_FILTER_FIELDS)?;
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
        filter,
        limit,
        offset,
    };
    let (hits, total) = service::search(&ctx.app, query).await?;
    let encode = |text: &str| {
        percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let q = encode(p.q.as_deref().unwrap_or_default());
    let room = p
        .room_id
        .map(|r| format!("&roomId={r}"))
        .unwrap_or_default();
    let filter = p
        .query
        .as_deref()
        .map(|f| format!("&query={}", encode(f)))
        .unwrap_or_default();
    let page = offset / u64::from(limit) + 1;
    let meta = SearchMeta {
        count: hits.len(),
        total,
        offset,
        pagination: Pagination::by_page(page, limit, total, |p| {
            format!("/api/messages/search?q={q}{room}{filter}&page={p}&limit={limit}")
        }),
    };
    Ok(Reply::with_meta(&hits, Some(&meta)))
}
