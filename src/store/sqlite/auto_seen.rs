//! The `auto_seen` table: channels whose messages the server marks as
//! seen for a user, once a period.

use super::filtered::List;
use crate::model::{AutoSeen, RoomId, Timestamp, UserId};
use crate::query::{Field, FieldType, Filter};
use crate::store::{StoreError, StoreResult};
use rusqlite::{params, Connection, OptionalExtension, Row};

const COLUMNS: &str = "id, user_id, room_id, period_secs, next_at, created_at";

fn from_row(r: &Row) -> rusqlite::Result<AutoSeen> {
    Ok(AutoSeen {
        id: r.get(0)?,
        user_id: r.get(1)?,
        channel_id: r.get(2)?,
        period_secs: r.get(3)?,
        next_at: Timestamp(r.get(4)?),
        created_at: Timestamp(r.get(5)?),
    })
}

/// A new rule, first run at `next_at`; a second one for the same channel
/// is a conflict.
pub fn create(
    conn: &Connection,
    owner: UserId,
    channel: RoomId,
    period_secs: i64,
    next_at: Timestamp,
) -> StoreResult<AutoSeen> {
    conn.prepare_cached(&format!(
        "INSERT INTO auto_seen (user_id, room_id, period_secs, next_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (user_id, room_id) DO NOTHING
         RETURNING {COLUMNS}"
    ))?
    .query_row(
        params![
            owner,
            channel,
            period_secs,
            next_at.millis(),
            Timestamp::now().millis()
        ],
        from_row,
    )
    .optional()?
    .ok_or_else(|| {
        StoreError::Conflict(
            "you already have an auto-seen period for this channel; change that one".into(),
        )
    })
}

pub fn one(conn: &Connection, owner: UserId, id: i64) -> StoreResult<Option<AutoSeen>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM auto_seen WHERE id = ?1 AND user_id = ?2"
        ))?
        .query_row(params![id, owner], from_row)
        .optional()?)
}

/// What `query=` may filter auto-seen periods by.
pub const FILTER_FIELDS: &[Field] = &[
    Field::new("id", "id", FieldType::Integer),
    Field::new("channelId", "room_id", FieldType::Integer),
    Field::new("periodSecs", "period_secs", FieldType::Integer),
    Field::new("nextAt", "next_at", FieldType::Timestamp),
    Field::new("createdAt", "created_at", FieldType::Timestamp),
];

/// A page of `owner`'s periods that pass `filter`, oldest first, and how
/// many pass in all.
pub fn page(
    conn: &Connection,
    owner: UserId,
    filter: Option<&Filter>,
    offset: u32,
    limit: u32,
) -> StoreResult<(Vec<AutoSeen>, u64)> {
    List::owned(COLUMNS, "auto_seen", "id", owner, filter).page(conn, limit, offset, from_row)
}

/// A new period, counted from `next_at` on.
pub fn update(
    conn: &Connection,
    owner: UserId,
    id: i64,
    period_secs: i64,
    next_at: Timestamp,
) -> StoreResult<AutoSeen> {
    conn.prepare_cached(&format!(
        "UPDATE auto_seen SET period_secs = ?3, next_at = ?4 WHERE id = ?1 AND user_id = ?2
         RETURNING {COLUMNS}"
    ))?
    .query_row(params![id, owner, period_secs, next_at.millis()], from_row)
    .optional()?
    .ok_or(StoreError::NotFound("auto-seen period"))
}

pub fn delete(conn: &Connection, owner: UserId, id: i64) -> StoreResult<()> {
    let n = conn
        .prepare_cached("DELETE FROM auto_seen WHERE id = ?1 AND user_id = ?2")?
        .execute(params![id, owner])?;
    if n == 0 {
        return Err(StoreError::NotFound("auto-seen period"));
    }
    Ok(())
}

/// When the next period ends, if any rule exists.
pub fn next_due(conn: &Connection) -> StoreResult<Option<Timestamp>> {
    Ok(conn
        .prepare_cached("SELECT min(next_at) FROM auto_seen")?
        .query_row([], |r| r.get::<_, Option<i64>>(0))?
        .map(Timestamp))
}

/// Up to `limit` rules due at `now`, soonest first.
pub fn due(conn: &Connection, now: Timestamp, limit: u32) -> StoreResult<Vec<AutoSeen>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM auto_seen WHERE next_at <= ?1 ORDER BY next_at, id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![now.millis(), limit], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The rule ran; it runs next at `next_at`.
pub fn ran(conn: &Connection, id: i64, next_at: Timestamp) -> StoreResult<()> {
    conn.prepare_cached("UPDATE auto_seen SET next_at = ?2 WHERE id = ?1")?
        .execute(params![id, next_at.millis()])?;
    Ok(())
}
