//! The `bots`, `webhook_cursors` and `webhook_deliveries` tables. A bot is
//! also a `users` row; its id is that row's id.

use super::filtered::List;
use super::{is_unique_violation, messages, rooms};
use crate::model::{
    AttemptOutcome, Bot, BotPatch, Delivery, DeliveryCounts, DeliveryStatus, NewBot, NewWebhook,
    Seq, Timestamp, UserId, WebhookInfo, WebhookTarget, WebhookWork,
};
use crate::query::{Field, FieldType, Filter, Op, Value};
use crate::store::list::Page;
use crate::store::{StoreError, StoreResult};
use rusqlite::{params, Connection, OptionalExtension, Row};

/// A bot with its webhook and delivery counts, in one statement.
const BOT_COLUMNS: &str = "u.id, u.name, u.avatar, u.created_at, b.webhook_url, b.webhook_since,
        b.delivered,
        (SELECT count(*) FROM webhook_deliveries d
          WHERE d.bot_id = b.user_id AND d.status = 'retrying'),
        (SELECT count(*) FROM webhook_deliveries d
          WHERE d.bot_id = b.user_id AND d.status = 'failed')";
const BOT_FROM: &str = "bots b JOIN users u ON u.id = b.user_id";

/// What `GET /api/admin/bots?query=` may filter on. Never the token hash
/// or the webhook secret.
pub const FILTER_FIELDS: &[Field] = &[
    Field::new("id", "u.id", FieldType::Integer),
    Field::new("login", "u.login", FieldType::Text),
    Field::new("name", "u.name", FieldType::Text),
    Field::new("createdAt", "u.created_at", FieldType::Timestamp),
    Field::new("webhookUrl", "b.webhook_url", FieldType::Text),
    Field::new("delivered", "b.delivered", FieldType::Integer),
];

/// What `GET /api/admin/bots/{id}/deliveries?query=` may filter on.
pub const DELIVERY_FILTER_FIELDS: &[Field] = &[
    Field::new("id", "id", FieldType::Integer),
    Field::new("roomId", "room_id", FieldType::Integer),
    Field::new("seq", "seq", FieldType::Integer),
    Field::new("status", "status", FieldType::Text).with_ops(&[Op::Eq, Op::Ne, Op::In]),
    Field::new("attempts", "attempts", FieldType::Integer),
    Field::new("lastError", "last_error", FieldType::Text),
    Field::new("nextAttemptAt", "next_attempt_at", FieldType::Timestamp),
    Field::new("createdAt", "created_at", FieldType::Timestamp),
    Field::new("updatedAt", "updated_at", FieldType::Timestamp),
];

fn bot_from_row(r: &Row) -> rusqlite::Result<Bot> {
    let url: Option<String> = r.get(4)?;
    let since: Option<i64> = r.get(5)?;
    Ok(Bot {
        id: r.get(0)?,
        name: r.get(1)?,
        avatar: r.get(2)?,
        created_at: Timestamp(r.get(3)?),
        webhook: url.map(|url| WebhookInfo {
            url,
            since: Timestamp(since.unwrap_or_default()),
        }),
        deliveries: DeliveryCounts {
            delivered: r.get(6)?,
            retrying: r.get(7)?,
            failed: r.get(8)?,
        },
    })
}

pub fn create(conn: &mut Connection, new: &NewBot) -> StoreResult<Bot> {
    let tx = conn.transaction()?;
    let now = Timestamp::now().millis();
    let inserted = tx
        .prepare_cached(
            "INSERT INTO users (login, password_hash, name, avatar, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
        )?
        .query_row(
            params![new.login, new.password_hash, new.name, new.avatar, now],
            |r| r.get::<_, UserId>(0),
        );
    let id = match inserted {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::Conflict("a bot with this login exists".into()))
        }
        Err(e) => return Err(e.into()),
    };
    tx.prepare_cached("INSERT INTO bots (user_id, token_hash, created_at) VALUES (?1, ?2, ?3)")?
        .execute(params![id, new.token_hash, now])?;
    let bot = by_id(&tx, id)?.ok_or(StoreError::NotFound("bot"))?;
    tx.commit()?;
    Ok(bot)
}

pub fn by_id(conn: &Connection, id: UserId) -> StoreResult<Option<Bot>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {BOT_COLUMNS} FROM {BOT_FROM} WHERE b.user_id = ?1"
        ))?
        .query_row([id], bot_from_row)
        .optional()?)
}

/// Bots by id that pass `filter` (checked against [`FILTER_FIELDS`]):
/// `offset` of them skipped after `after_id`, at most `limit`; the total
/// counts every match, the cursor only picks where the page starts.
pub fn list(
    conn: &Connection,
    after_id: Option<UserId>,
    filter: Option<&Filter>,
    offset: u64,
    limit: u32,
) -> StoreResult<Page<Bot>> {
    let mut list = List::new(BOT_COLUMNS, BOT_FROM, "b.user_id");
    list.filter(filter);
    let total = list.count(conn)?;
    if let Some(after) = after_id {
        list.condition("b.user_id > ?", Value::Integer(after));
    }
    let items = list.fetch(conn, Some(limit), offset, bot_from_row)?;
    Ok(Page { items, total })
}

/// The bot a token hash belongs to. An index probe: no secret-dependent
/// comparison to time.
pub fn by_token_hash(conn: &Connection, hash: &[u8]) -> StoreResult<Option<UserId>> {
    Ok(conn
        .prepare_cached("SELECT user_id FROM bots WHERE token_hash = ?1")?
        .query_row([hash], |r| r.get(0))
        .optional()?)
}

pub fn update(conn: &Connection, id: UserId, patch: &BotPatch) -> StoreResult<Bot> {
    let n = conn
        .prepare_cached(
            "UPDATE users SET name = COALESCE(?2, name),
                              avatar = CASE WHEN ?3 THEN ?4 ELSE avatar END
             WHERE id = ?1 AND id IN (SELECT user_id FROM bots)",
        )?
        .execute(params![
            id,
            patch.name,
            patch.avatar.is_some(),
            patch.avatar.clone().flatten()
        ])?;
    if n == 0 {
        return Err(StoreError::NotFound("bot"));
    }
    by_id(conn, id)?.ok_or(StoreError::NotFound("bot"))
}

/// Deletes the bot's user row; participants, cursors and deliveries go with
/// it, and its messages stay with no sender.
pub fn delete(conn: &Connection, id: UserId) -> StoreResult<()> {
    let n = conn
        .prepare_cached("DELETE FROM users WHERE id = ?1 AND id IN (SELECT user_id FROM bots)")?
        .execute([id])?;
    if n == 0 {
        return Err(StoreError::NotFound("bot"));
    }
    Ok(())
}

pub fn set_token_hash(conn: &Connection, id: UserId, hash: &[u8]) -> StoreResult<()> {
    let n = conn
        .prepare_cached("UPDATE bots SET token_hash = ?2 WHERE user_id = ?1")?
        .execute(params![id, hash])?;
    if n == 0 {
        return Err(StoreError::NotFound("bot"));
    }
    Ok(())
}

/// Sets or removes the webhook. Either way the cursors start over (a new
/// receiver gets messages from now on) and pending retries are given up.
pub fn set_webhook(
    conn: &mut Connection,
    id: UserId,
    hook: Option<&NewWebhook>,
) -> StoreResult<()> {
    let tx = conn.transaction()?;
    let n = tx
        .prepare_cached(
            "UPDATE bots SET webhook_url = ?2, webhook_secret = ?3, webhook_since = ?4
             WHERE user_id = ?1",
        )?
        .execute(params![
            id,
            hook.map(|h| &h.url),
            hook.map(|h| &h.secret),
            hook.map(|h| h.since.millis())
        ])?;
    if n == 0 {
        return Err(StoreError::NotFound("bot"));
    }
    tx.prepare_cached("DELETE FROM webhook_cursors WHERE bot_id = ?1")?
        .execute([id])?;
    tx.prepare_cached(
        "UPDATE webhook_deliveries
         SET status = 'failed', next_attempt_at = NULL, updated_at = ?2,
             last_error = 'the webhook was changed before this was delivered'
         WHERE bot_id = ?1 AND status = 'retrying'",
    )?
    .execute(params![id, Timestamp::now().millis()])?;
    tx.commit()?;
    Ok(())
}

pub fn with_webhook(conn: &Connection) -> StoreResult<Vec<UserId>> {
    let mut stmt = conn.prepare_cached("SELECT user_id FROM bots WHERE webhook_url IS NOT NULL")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every (bot, room) pair with a webhook, or only those of `room`.
pub fn targets(conn: &Connection, room: Option<i64>) -> StoreResult<Vec<WebhookTarget>> {
    let mut stmt = conn.prepare_cached(
        "SELECT b.user_id, p.room_id FROM bots b JOIN participants p ON p.user_id = b.user_id
         WHERE b.webhook_url IS NOT NULL AND (?1 IS NULL OR p.room_id = ?1)",
    )?;
    let rows = stmt.query_map([room], |r| {
        Ok(WebhookTarget {
            bot_id: r.get(0)?,
            room_id: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The next messages to deliver for `t`, or `None` when the bot has no
/// webhook or is no longer in the room. A missing cursor (or one from an
/// earlier membership) starts at the later of the join and the webhook's
/// `since`, so a bot never receives what was said before it could hear it.
/// The bot's own messages are skipped by moving the cursor over them.
pub fn work(conn: &Connection, t: WebhookTarget, limit: u32) -> StoreResult<Option<WebhookWork>> {
    let hook = conn
        .prepare_cached(
            "SELECT b.webhook_url, b.webhook_secret, b.webhook_since, p.joined_at
             FROM bots b JOIN participants p ON p.user_id = b.user_id AND p.room_id = ?2
             WHERE b.user_id = ?1 AND b.webhook_url IS NOT NULL",
        )?
        .query_row([t.bot_id, t.room_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .optional()?;
    let Some((url, secret, since, joined_at)) = hook else {
        return Ok(None);
    };
    let Some(room) = rooms::by_id(conn, t.room_id)? else {
        return Ok(None);
    };
    let cursor: Option<(Seq, i64)> = conn
        .prepare_cached(
            "SELECT seq, joined_at FROM webhook_cursors WHERE bot_id = ?1 AND room_id = ?2",
        )?
        .query_row([t.bot_id, t.room_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let mut cursor = match cursor {
        Some((seq, at)) if at == joined_at => seq,
        _ => {
            // Newest first, stopping at the first message older than
            // `from`: reads only what was said since.
            let from = since.max(joined_at);
            let start: Seq = conn
                .prepare_cached(
                    "SELECT COALESCE((SELECT seq FROM messages WHERE room_id = ?1 AND created_at < ?2
                                      ORDER BY seq DESC LIMIT 1), 0)",
                )?
                .query_row(params![t.room_id, from], |r| r.get(0))?;
            conn.prepare_cached(
                "INSERT INTO webhook_cursors (bot_id, room_id, seq, joined_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (bot_id, room_id) DO UPDATE SET seq = excluded.seq, joined_at = excluded.joined_at",
            )?
            .execute(params![t.bot_id, t.room_id, start, joined_at])?;
            start
        }
    };
    let messages = loop {
        let page = messages::after(conn, t.room_id, cursor, limit, t.bot_id)?;
        let Some(last) = page.last().map(|m| m.seq) else {
            break page;
        };
        let others: Vec<_> = page
            .into_iter()
            .filter(|m| m.sender_id != Some(t.bot_id))
            .collect();
        if !others.is_empty() {
            break others;
        }
        // Only the bot's own messages: step over them.
        move_cursor(conn, t, last)?;
        cursor = last;
    };
    let retry: Option<(Seq, u32, Option<i64>)> = conn
        .prepare_cached(
            "SELECT seq, attempts, next_attempt_at FROM webhook_deliveries
             WHERE bot_id = ?1 AND room_id = ?2 AND status = 'retrying' ORDER BY seq LIMIT 1",
        )?
        .query_row([t.bot_id, t.room_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let (attempts, not_before) = match (retry, messages.first()) {
        (Some((seq, attempts, at)), Some(first)) if seq == first.seq => {
            (attempts, at.map(Timestamp))
        }
        _ => (0, None),
    };
    Ok(Some(WebhookWork {
        url,
        secret,
        room,
        attempts,
        not_before,
        messages,
    }))
}

fn move_cursor(conn: &Connection, t: WebhookTarget, seq: Seq) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE webhook_cursors SET seq = ?3 WHERE bot_id = ?1 AND room_id = ?2 AND seq < ?3",
    )?
    .execute(params![t.bot_id, t.room_id, seq])?;
    Ok(())
}

/// Records how attempts to deliver up to message `seq` to `t` ended. The
/// cursor moves past it once it is delivered or given up on.
pub fn record_attempt(
    conn: &mut Connection,
    t: WebhookTarget,
    seq: Seq,
    outcome: &AttemptOutcome,
) -> StoreResult<()> {
    let now = Timestamp::now().millis();
    let tx = conn.transaction()?;
    let (status, error, next) = match outcome {
        AttemptOutcome::Delivered { count } => {
            // Only the first message of a run can have been retrying.
            tx.prepare_cached(
                "UPDATE webhook_deliveries
                 SET status = 'delivered', attempts = attempts + 1, next_attempt_at = NULL,
                     updated_at = ?4
                 WHERE bot_id = ?1 AND room_id = ?2 AND seq <= ?3 AND status = 'retrying'",
            )?
            .execute(params![t.bot_id, t.room_id, seq, now])?;
            tx.prepare_cached("UPDATE bots SET delivered = delivered + ?2 WHERE user_id = ?1")?
                .execute(params![t.bot_id, count])?;
            move_cursor(&tx, t, seq)?;
            return Ok(tx.commit()?);
        }
        AttemptOutcome::Retry { error, at } => (DeliveryStatus::Retrying, error, Some(at.millis())),
        AttemptOutcome::GiveUp { error } => {
            move_cursor(&tx, t, seq)?;
            (DeliveryStatus::Failed, error, None)
        }
    };
    tx.prepare_cached(
        "INSERT INTO webhook_deliveries
         (bot_id, room_id, seq, status, attempts, last_error, next_attempt_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?7)
         ON CONFLICT (bot_id, room_id, seq) DO UPDATE SET
             status = excluded.status, attempts = attempts + 1, last_error = excluded.last_error,
             next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at",
    )?
    .execute(params![t.bot_id, t.room_id, seq, status.as_str(), error, next, now])?;
    Ok(tx.commit()?)
}

/// The bot's deliveries that failed at least once, newest first.
pub fn deliveries(
    conn: &Connection,
    bot: UserId,
    before_id: Option<i64>,
    filter: Option<&Filter>,
    offset: u64,
    limit: u32,
) -> StoreResult<Page<Delivery>> {
    let mut list = List::new(
        "id, room_id, seq, status, attempts, last_error, next_attempt_at, created_at, updated_at",
        "webhook_deliveries",
        "id DESC",
    );
    list.condition("bot_id = ?", Value::Integer(bot));
    list.filter(filter);
    let total = list.count(conn)?;
    if let Some(before) = before_id {
        list.condition("id < ?", Value::Integer(before));
    }
    let items = list.fetch(conn, Some(limit), offset, |r| {
        let status: String = r.get(3)?;
        Ok(Delivery {
            id: r.get(0)?,
            room_id: r.get(1)?,
            seq: r.get(2)?,
            // The CHECK constraint admits only the three statuses.
            status: DeliveryStatus::parse(&status).unwrap_or(DeliveryStatus::Failed),
            attempts: r.get(4)?,
            last_error: r.get(5)?,
            next_attempt_at: r.get::<_, Option<i64>>(6)?.map(Timestamp),
            created_at: Timestamp(r.get(7)?),
            updated_at: Timestamp(r.get(8)?),
        })
    })?;
    Ok(Page { items, total })
}
