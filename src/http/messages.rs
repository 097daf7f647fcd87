//! A room's messages: post (same path as WebSocket) and history pages.

use super::context::Ctx;
use super::pagination::Pagination;
use super::response::Reply;
use super::users::limit;
use crate::error::{Error, Result};
use crate::model::{HistoryCursor, RoomId, Seq, UserId};
use crate::service::{self, MessageRequest};
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
}

impl CreateMessage {
    /// Validates and posts through the room actor: 201 with the message's
    /// place in history, or 200 for a retry (nothing was created this time).
    pub(super) async fn post(self, ctx: &Ctx, sender: UserId, room: RoomId) -> Result<Reply> {
        let message = service::new_message(
            sender,
            MessageRequest {
                message_id: self.message_id,
                content: self.content,
                kind: self.kind,
                reply_id: self.reply_id,
            },
        )?;
        let posted = service::post_message(&ctx.app, room, message).await?;
        if posted.duplicate {
            return Ok(Reply::ok(&posted.message));
        }
        let seq = posted.message.seq;
        let location = format!("/api/rooms/{room}/messages?after={}&limit=1", seq - 1);
        Ok(Reply::created(&posted.message, location))
    }
}

/// POST /api/rooms/{id}/messages {messageId?, content, type?, replyId?} —
/// answered after commit, fanned out live to WebSocket members: 201. A
/// retry with the same messageId returns the original message: 200.
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
