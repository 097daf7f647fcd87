//! The `sms_outbox` table: SMS waiting for the sender task.

use crate::model::phone::OutboxSms;
use crate::model::Timestamp;
use crate::store::StoreResult;
use rusqlite::{params, Connection, OptionalExtension};

pub fn insert(
    conn: &Connection,
    phone: &str,
    text: &str,
    expires_at: Timestamp,
    now: Timestamp,
) -> StoreResult<i64> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO sms_outbox (phone, text, next_attempt_at, expires_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?3) RETURNING id",
        )?
        .query_row(
            params![phone, text, now.millis(), expires_at.millis()],
            |r| r.get(0),
        )?)
}

pub fn remove_for_phone(conn: &Connection, phone: &str) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM sms_outbox WHERE phone = ?1")?
        .execute([phone])?;
    Ok(())
}

/// Rows due by `now`, oldest first.
pub fn due(conn: &Connection, now: Timestamp, limit: u32) -> StoreResult<Vec<OutboxSms>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, phone, text, attempts, expires_at FROM sms_outbox
         WHERE next_attempt_at <= ?1 ORDER BY next_attempt_at, id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now.millis(), limit], |r| {
        Ok(OutboxSms {
            id: r.get(0)?,
            phone: r.get(1)?,
            text: r.get(2)?,
            attempts: r.get(3)?,
            expires_at: Timestamp(r.get(4)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn next_due(conn: &Connection) -> StoreResult<Option<Timestamp>> {
    Ok(conn
        .prepare_cached("SELECT MIN(next_attempt_at) FROM sms_outbox")?
        .query_row([], |r| r.get::<_, Option<i64>>(0))
        .optional()?
        .flatten()
        .map(Timestamp))
}

pub fn remove(conn: &Connection, id: i64) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM sms_outbox WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// Counts a failed try and sets when to try again.
pub fn retry_at(conn: &Connection, id: i64, at: Timestamp) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE sms_outbox SET attempts = attempts + 1, next_attempt_at = ?2 WHERE id = ?1",
    )?
    .execute(params![id, at.millis()])?;
    Ok(())
}
