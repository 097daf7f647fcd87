//! Auto-reply rules: `/api/auto-replies`. The auto-replier in
//! `automation` answers matching messages in direct rooms with them.
//! Every rule is its owner's alone: anyone else's is 404.

use super::context::Ctx;
use super::listing::{filtered_offset_page, offset_reply};
use super::response::Reply;
use super::rooms::present;
use crate::error::{Error, Result};
use crate::model::validate::{self, Checker};
use crate::model::{AutoReplyPatch, FieldError, MatchMode, NewAutoReply, UserId};
use crate::store::AUTO_REPLY_FILTER_FIELDS;
use serde::Deserialize;

/// Longest pattern, in characters: a phrase, not a document.
const MAX_PATTERN_CHARS: usize = 200;
/// Most rules one user may have: every batch the replier reads loads all
/// of an owner's enabled rules and tries each on each message.
const MAX_RULES: u32 = 100;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewRule {
    pattern: Option<String>,
    match_mode: Option<String>,
    contact_id: Option<UserId>,
    reply: Option<String>,
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RulePatch {
    pattern: Option<String>,
    match_mode: Option<String>,
    #[serde(default, deserialize_with = "present")]
    contact_id: Option<Option<UserId>>,
    reply: Option<String>,
    enabled: Option<bool>,
}

fn match_mode(c: &mut Checker, value: Option<&str>) -> Option<MatchMode> {
    let mode = MatchMode::parse(value?);
    if mode.is_none() {
        c.push(FieldError::new(
            "matchMode",
            "invalid",
            format!("matchMode must be one of {}", MatchMode::ALL),
        ));
    }
    mode
}

/// A contact must be another palaver user: someone a direct room could
/// be shared with.
async fn check_contact(ctx: &Ctx, c: &mut Checker, me: UserId, contact: UserId) -> Result<()> {
    if contact == me {
        c.push(FieldError::new(
            "contactId",
            "self",
            "contactId must be someone else: your own messages are never answered",
        ));
        return Ok(());
    }
    let exists = ctx.app.store.run(move |s| s.user(contact)).await?.is_some();
    if !exists {
        c.push(FieldError::new(
            "contactId",
            "unknown",
            "contactId must name a palaver user (or be null for anyone)",
        ));
    }
    Ok(())
}

/// POST /api/auto-replies {pattern, matchMode?, contactId?, reply,
/// enabled?} → 201 with the rule. `matchMode` defaults to
/// `caseInsensitive`, `contactId` to null (anyone), `enabled` to true.
/// 409 when I already have `MAX_RULES`.
pub async fn create(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let body: NewRule = ctx.json()?;
    let mut c = Checker::default();
    let pattern = c
        .text("pattern", body.pattern.as_deref(), MAX_PATTERN_CHARS)
        .map(str::to_owned);
    let reply = c
        .text("reply", body.reply.as_deref(), validate::MAX_CONTENT_CHARS)
        .map(str::to_owned);
    let mode = match body.match_mode.as_deref() {
        None => Some(MatchMode::CaseInsensitive),
        some => match_mode(&mut c, some),
    };
    if let Some(contact) = body.contact_id {
        check_contact(&ctx, &mut c, me, contact).await?;
    }
    c.finish().map_err(Error::Validation)?;
    let new = NewAutoReply {
        user_id: me,
        pattern: pattern.unwrap_or_default(),
        match_mode: mode.unwrap_or(MatchMode::CaseInsensitive),
        contact_id: body.contact_id,
        reply: reply.unwrap_or_default(),
        enabled: body.enabled.unwrap_or(true),
    };
    let rule = ctx
        .app
        .store
        .run(move |s| s.create_auto_reply(&new, MAX_RULES))
        .await?;
    ctx.app.auto_replies_changed.notify_one();
    Ok(Reply::created(
        &rule,
        format!("/api/auto-replies/{}", rule.id),
    ))
}

/// GET /api/auto-replies?offset=&limit=&query= — mine, oldest first;
/// `query` filters over `AUTO_REPLY_FILTER_FIELDS` (e.g.
/// `enabled = true AND matchMode = 'wholeWord'`).
pub async fn list(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let (offset, limit, filter) = filtered_offset_page(&ctx, AUTO_REPLY_FILTER_FIELDS)?;
    let (items, total) = ctx
        .app
        .store
        .run(move |s| s.auto_reply_page(me, filter.as_ref(), offset, limit))
        .await?;
    Ok(offset_reply(&ctx, &items, total, offset, limit))
}

/// GET /api/auto-replies/{id}
pub async fn get(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "auto-reply rule")?;
    let found = ctx
        .app
        .store
        .run(move |s| s.auto_reply(me, id))
        .await?
        .ok_or_else(|| Error::not_found("auto-reply rule"))?;
    Ok(Reply::ok(&found))
}

/// PATCH /api/auto-replies/{id} {pattern?, matchMode?, contactId?, reply?,
/// enabled?} — `"contactId": null` makes the rule answer anyone.
/// Enabling a disabled rule answers only messages sent from then on.
pub async fn update(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "auto-reply rule")?;
    let body: RulePatch = ctx.json()?;
    let mut c = Checker::default();
    let pattern = c
        .optional_text("pattern", body.pattern.as_deref(), MAX_PATTERN_CHARS)
        .map(str::to_owned);
    let reply = c
        .optional_text("reply", body.reply.as_deref(), validate::MAX_CONTENT_CHARS)
        .map(str::to_owned);
    let mode = match_mode(&mut c, body.match_mode.as_deref());
    if let Some(Some(contact)) = body.contact_id {
        check_contact(&ctx, &mut c, me, contact).await?;
    }
    c.finish().map_err(Error::Validation)?;
    let patch = AutoReplyPatch {
        pattern,
        match_mode: mode,
        contact_id: body.contact_id,
        reply,
        enabled: body.enabled,
    };
    let rule = ctx
        .app
        .store
        .run(move |s| s.update_auto_reply(me, id, &patch))
        .await?;
    ctx.app.auto_replies_changed.notify_one();
    Ok(Reply::ok(&rule))
}

/// DELETE /api/auto-replies/{id}
pub async fn delete(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "auto-reply rule")?;
    ctx.app
        .store
        .run(move |s| s.delete_auto_reply(me, id))
        .await?;
    ctx.app.auto_replies_changed.notify_one();
    Ok(Reply::done())
}
