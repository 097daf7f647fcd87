//! The `scheduled_messages` table: the message queue. The scheduler claims
//! due rows (pending → sending) before it posts them, so a cancel and a
//! send never both win.

use super::filtered::List;
use super::messages::{id_bytes, id_text};
use crate::model::{
    NewScheduled, ScheduleStatus, ScheduledMessage, SendOutcome, Timestamp, UserId,
};
use crate::query::{Field, FieldType, Filter, Value};
use crate::store::{StoreError, StoreResult};
use rusqlite::{params, Connection, OptionalExtension, Row};

const COLUMNS: &str =
    "id, user_id, room_id, message_id, content, send_at, status, seq, error, created_at";

fn from_row(r: &Row) -> rusqlite::Result<ScheduledMessage> {
    let status: String = r.get(6)?;
    Ok(ScheduledMessage {
        id: r.get(0)?,
        user_id: r.get(1)?,
        room_id: r.get(2)?,
        message_id: id_text(r, 3)?.unwrap_or_default(),
        content: r.get(4)?,
        send_at: Timestamp(r.get(5)?),
        // Only ScheduleStatus::as_str values are written (and CHECKed).
        status: ScheduleStatus::parse(&status).unwrap_or(ScheduleStatus::Failed),
        seq: r.get(7)?,
        error: r.get(8)?,
        created_at: Timestamp(r.get(9)?),
    })
}

pub fn create(conn: &Connection, new: &NewScheduled) -> StoreResult<ScheduledMessage> {
    Ok(conn
        .prepare_cached(&format!(
            "INSERT INTO scheduled_messages (user_id, room_id, message_id, content, send_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {COLUMNS}"
        ))?
        .query_row(
            params![
                new.user_id,
                new.room_id,
                id_bytes(&new.message_id)?,
                new.content,
                new.send_at.millis(),
                Timestamp::now().millis()
            ],
            from_row,
        )?)
}

/// One of `owner`'s scheduled messages.
pub fn one(conn: &Connection, owner: UserId, id: i64) -> StoreResult<Option<ScheduledMessage>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM scheduled_messages WHERE id = ?1 AND user_id = ?2"
        ))?
        .query_row(params![id, owner], from_row)
        .optional()?)
}

/// What `query=` may filter scheduled messages by.
pub const FILTER_FIELDS: &[Field] = &[
    Field::new("id", "id", FieldType::Integer),
    Field::new("roomId", "room_id", FieldType::Integer),
    Field::new("content", "content", FieldType::Text),
    Field::new("status", "status", FieldType::Text),
    Field::new("sendAt", "send_at", FieldType::Timestamp),
    Field::new("createdAt", "created_at", FieldType::Timestamp),
];

/// A page of `owner`'s scheduled messages that pass `filter`, soonest
/// first, and how many pass in all.
pub fn page(
    conn: &Connection,
    owner: UserId,
    filter: Option<&Filter>,
    offset: u32,
    limit: u32,
) -> StoreResult<(Vec<ScheduledMessage>, u64)> {
    let mut list = List::new(COLUMNS, "scheduled_messages", "send_at, id");
    list.condition("user_id = ?", Value::Integer(owner));
    list.filter(filter);
    let total = list.count(conn)?;
    let items = list.fetch(conn, Some(limit), offset.into(), from_row)?;
    Ok((items, total))
}

/// Changes a pending message's content and/or time; a message no longer
/// pending is a conflict, someone else's is not found.
pub fn update(
    conn: &Connection,
    owner: UserId,
    id: i64,
    content: Option<&str>,
    send_at: Option<Timestamp>,
) -> StoreResult<ScheduledMessage> {
    let updated = conn
        .prepare_cached(&format!(
            "UPDATE scheduled_messages
                SET content = COALESCE(?3, content), send_at = COALESCE(?4, send_at)
              WHERE id = ?1 AND user_id = ?2 AND status = 'pending'
              RETURNING {COLUMNS}"
        ))?
        .query_row(
            params![id, owner, content, send_at.map(Timestamp::millis)],
            from_row,
        )
        .optional()?;
    updated.map_or_else(|| Err(not_pending(conn, owner, id)), Ok)
}

/// Cancels a pending message: it will never be sent.
pub fn cancel(conn: &Connection, owner: UserId, id: i64) -> StoreResult<ScheduledMessage> {
    let cancelled = conn
        .prepare_cached(&format!(
            "UPDATE scheduled_messages SET status = 'cancelled'
              WHERE id = ?1 AND user_id = ?2 AND status = 'pending'
              RETURNING {COLUMNS}"
        ))?
        .query_row(params![id, owner], from_row)
        .optional()?;
    cancelled.map_or_else(|| Err(not_pending(conn, owner, id)), Ok)
}

/// Why an update or cancel matched nothing.
fn not_pending(conn: &Connection, owner: UserId, id: i64) -> StoreError {
    match one(conn, owner, id) {
        Ok(Some(m)) => StoreError::Conflict(format!(
            "the scheduled message is {} and can no longer be changed",
            m.status.as_str()
        )),
        Ok(None) => StoreError::NotFound("scheduled message"),
        Err(e) => e,
    }
}

/// When the next pending or interrupted send is due.
pub fn next_due(conn: &Connection) -> StoreResult<Option<Timestamp>> {
    Ok(conn
        .prepare_cached(
            "SELECT min(send_at) FROM scheduled_messages WHERE status IN ('pending', 'sending')",
        )?
        .query_row([], |r| r.get::<_, Option<i64>>(0))?
        .map(Timestamp))
}

/// Claims up to `limit` messages due at `now` (pending → sending) and
/// returns them with any a crash left mid-send, oldest first.
pub fn claim_due(
    conn: &mut Connection,
    now: Timestamp,
    limit: u32,
) -> StoreResult<Vec<ScheduledMessage>> {
    let tx = conn.transaction()?;
    let claimed = {
        let mut stmt = tx.prepare_cached(&format!(
            "UPDATE scheduled_messages SET status = 'sending'
              WHERE id IN (SELECT id FROM scheduled_messages
                            WHERE status IN ('pending', 'sending') AND send_at <= ?1
                            ORDER BY send_at, id LIMIT ?2)
              RETURNING {COLUMNS}"
        ))?;
        let rows = stmt.query_map(params![now.millis(), limit], from_row)?;
        rows.collect::<Result<Vec<_>, _>>()?
    };
    tx.commit()?;
    let mut claimed = claimed;
    claimed.sort_by_key(|m| (m.send_at, m.id));
    Ok(claimed)
}

/// Records how a claimed send ended.
pub fn finish(conn: &Connection, id: i64, outcome: &SendOutcome) -> StoreResult<()> {
    let (status, seq, error) = match outcome {
        SendOutcome::Sent(seq) => ("sent", Some(*seq), None),
        SendOutcome::Failed(reason) => ("failed", None, Some(reason.as_str())),
    };
    conn.prepare_cached(
        "UPDATE scheduled_messages SET status = ?2, seq = ?3, error = ?4
          WHERE id = ?1 AND status = 'sending'",
    )?
    .execute(params![id, status, seq, error])?;
    Ok(())
}
