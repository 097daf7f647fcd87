//! My contacts and what my conversations with them say: the people I share
//! a direct room with plus those I added by phone number; noisy and best
//! contacts; per-contact analysis and a 14-day chart. The estimation rules
//! are in [`crate::analytics`].

use super::context::Ctx;
use super::listing::{filtered_offset_page, offset_reply};
use super::response::Reply;
use crate::analytics::{self, Day, SentReceived, DAY_MS};
use crate::error::{Error, Result};
use crate::model::phone::normalize;
use crate::model::{Contact, ContactActivity, Timestamp, User, UserId};
use crate::store::CONTACT_FILTER_FIELDS;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most numbers one request may look up (an address book, in batches).
const MAX_PHONES: usize = 500;
/// Days in a contact's chart.
const CHART_DAYS: u32 = 14;

/// GET /api/contacts?query=&offset=&limit= — my contacts by id; `query`
/// filters over `CONTACT_FILTER_FIELDS`.
pub async fn list(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let (offset, limit, filter) = filtered_offset_page(&ctx, CONTACT_FILTER_FIELDS)?;
    let (contacts, total) = ctx
        .app
        .store
        .run(move |s| s.contacts(me, filter.as_ref(), offset.into(), limit))
        .await?;
    Ok(offset_reply(&ctx, &contacts, total, offset, limit))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddByPhone {
    phones: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhoneMatch {
    phone: String,
    is_user: bool,
    user: Option<User>,
}

/// POST /api/contacts {phones: [...]} — adds the palaver users among the
/// numbers to my contacts; answers, per number (normalised), whether it
/// belongs to a user and whom.
pub async fn add(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let body: AddByPhone = ctx.json()?;
    if body.phones.is_empty() || body.phones.len() > MAX_PHONES {
        return Err(Error::validation(
            "phones",
            "count",
            format!("phones must list 1 to {MAX_PHONES} numbers"),
        ));
    }
    let mut errors = Vec::new();
    let mut phones = Vec::with_capacity(body.phones.len());
    for (i, raw) in body.phones.iter().enumerate() {
        match normalize(&format!("phones[{i}]"), Some(raw)) {
            Ok(phone) => phones.push(phone),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let found = ctx
        .app
        .store
        .run(move |s| s.add_contacts_by_phone(me, &phones))
        .await?;
    let matches: Vec<PhoneMatch> = found
        .into_iter()
        .map(|(phone, user)| PhoneMatch {
            phone,
            is_user: user.is_some(),
            user,
        })
        .collect();
    Ok(Reply::ok(&matches))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Ranked {
    #[serde(flatten)]
    activity: ContactActivity,
    score: f64,
}

async fn ranked(
    ctx: Ctx,
    rank: fn(Vec<ContactActivity>) -> Vec<(ContactActivity, f64)>,
) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let (offset, limit, filter) = filtered_offset_page(&ctx, CONTACT_FILTER_FIELDS)?;
    let all = ctx
        .app
        .store
        .run(move |s| s.contact_activity(me, filter.as_ref()))
        .await?;
    let ranked = rank(all);
    let total = ranked.len() as u64;
    let items: Vec<Ranked> = ranked
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(limit as usize)
        .map(|(activity, score)| Ranked { activity, score })
        .collect();
    Ok(offset_reply(&ctx, &items, total, offset, limit))
}

/// GET /api/contacts/noisy?query=&offset=&limit= — who sends me most while I answer least
/// (`score` = received / (sent + 1)); only contacts who wrote at all.
pub async fn noisy(ctx: Ctx) -> Result<Reply> {
    ranked(ctx, analytics::rank_noisy).await
}

/// GET /api/contacts/best?query=&offset=&limit= — the most two-way conversation and shared media
/// (`score` = min(sent, received) + 2 × media and links either way).
pub async fn best(ctx: Ctx) -> Result<Reply> {
    ranked(ctx, analytics::rank_best).await
}

/// My contact `{id}`, or 404 for anyone who is not one.
async fn contact_of(ctx: &Ctx) -> Result<(UserId, Contact)> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "contact")?;
    let contact = ctx
        .app
        .store
        .run(move |s| s.contact(me, id))
        .await?
        .ok_or_else(|| Error::not_found("contact"))?;
    Ok((me, contact))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Analysis {
    contact: Contact,
    /// Sent and received per type: text, image, file, audio, video, voice, link.
    resources: BTreeMap<&'static str, SentReceived>,
    conversations: u64,
    conversation_minutes: f64,
    /// How the time is estimated, for whoever reads the numbers.
    method: &'static str,
}

/// The estimation rule in one sentence, returned with the numbers.
const METHOD: &str = "messages closer than 5 minutes belong to one conversation; a conversation lasts from its first to its last message plus 1 minute";

/// GET /api/contacts/{id}/analysis — messages per type each way and the
/// estimated time spent in conversation.
pub async fn analysis(ctx: Ctx) -> Result<Reply> {
    let (me, contact) = contact_of(&ctx).await?;
    let other = contact.user.id;
    let events = ctx
        .app
        .store
        .run(move |s| s.conversation(me, other, None))
        .await?;
    let time = analytics::conversation_time(&events);
    let resources = analytics::resources(&events, me)
        .into_iter()
        .map(|(kind, counts)| (kind.as_str(), counts))
        .collect();
    Ok(Reply::ok(&Analysis {
        contact,
        resources,
        conversations: time.conversations,
        conversation_minutes: time.minutes,
        method: METHOD,
    }))
}

#[derive(Serialize)]
struct Chart {
    contact: Contact,
    days: Vec<Day>,
}

/// GET /api/contacts/{id}/chart — messages and minutes per UTC day for the
/// last 14 days (today included), oldest first, zero-filled.
pub async fn chart(ctx: Ctx) -> Result<Reply> {
    let (me, contact) = contact_of(&ctx).await?;
    let other = contact.user.id;
    let now = Timestamp::now();
    // From the start of the first day, less one gap: a conversation running
    // over midnight into the first day is measured from its real start.
    let first_day = now.millis().div_euclid(DAY_MS) - i64::from(CHART_DAYS - 1);
    let since = Timestamp(first_day * DAY_MS - analytics::CONVERSATION_GAP_MS);
    let events = ctx
        .app
        .store
        .run(move |s| s.conversation(me, other, Some(since)))
        .await?;
    let days = analytics::daily(&events, now.millis(), CHART_DAYS);
    Ok(Reply::ok(&Chart { contact, days }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_method_sentence_matches_the_constants() {
        assert_eq!(crate::analytics::CONVERSATION_GAP_MS, 5 * 60 * 1000);
        assert_eq!(crate::analytics::FIRST_MESSAGE_MS, 60 * 1000);
        assert!(super::METHOD.contains("5 minutes") && super::METHOD.contains("1 minute"));
    }
}
