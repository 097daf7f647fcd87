//! The `sessions` table: one row per login, keyed by the token's hash.

use super::filtered::List;
use crate::model::{NewSession, Session, Timestamp, UserId};
use crate::query::{Field, FieldType, Filter, Value};
use crate::store::list::Page;
use crate::store::StoreResult;
use rusqlite::{params, Connection, OptionalExtension, Row};

pub(super) const COLUMNS: &str = "id, user_id, device_id, created_at, expires_at, revoked_at";

pub(super) fn from_row(r: &Row) -> rusqlite::Result<Session> {
    Ok(Session {
        id: r.get(0)?,
        user_id: r.get(1)?,
        device_id: r.get(2)?,
        created_at: Timestamp(r.get(3)?),
        expires_at: Timestamp(r.get(4)?),
        revoked: r.get::<_, Option<i64>>(5)?.is_some(),
    })
}

pub fn create(conn: &Connection, new: &NewSession) -> StoreResult<Session> {
    Ok(conn
        .prepare_cached(&format!(
            "INSERT INTO sessions (user_id, token_hash, device_id, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {COLUMNS}"
        ))?
        .query_row(
            params![
                new.user_id,
                new.token_hash,
                new.device_id,
                Timestamp::now().millis(),
                new.expires_at.millis()
            ],
            from_row,
        )?)
}

pub fn by_token_hash(conn: &Connection, hash: &[u8]) -> StoreResult<Option<Session>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM sessions WHERE token_hash = ?1"
        ))?
        .query_row([hash], from_row)
        .optional()?)
}

pub fn revoke(conn: &Connection, id: i64, at: Timestamp) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
    )?
    .execute(params![id, at.millis()])?;
    Ok(())
}

/// What `GET /api/sessions?query=` may filter on. Never the token hash.
pub const FILTER_FIELDS: &[Field] = &[
    Field::new("id", "id", FieldType::Integer),
    Field::new("deviceId", "device_id", FieldType::Text),
    Field::new("createdAt", "created_at", FieldType::Timestamp),
    Field::new("expiresAt", "expires_at", FieldType::Timestamp),
];

/// The user's sessions that are neither revoked nor expired at `now` and
/// pass `filter` (checked against [`FILTER_FIELDS`]), newest first:
/// `offset` skipped, at most `limit` (all when `None`), and how many pass.
pub fn live_of_user(
    conn: &Connection,
    user: UserId,
    now: Timestamp,
    filter: Option<&Filter>,
    offset: u32,
    limit: Option<u32>,
) -> StoreResult<Page<Session>> {
    let mut list = List::new(COLUMNS, "sessions", "id DESC");
    list.condition("user_id = ?", Value::Integer(user));
    list.fixed("revoked_at IS NULL");
    list.condition("expires_at > ?", Value::Integer(now.millis()));
    list.filter(filter);
    let total = list.count(conn)?;
    let items = list.fetch(conn, limit, offset.into(), from_row)?;
    Ok(Page { items, total })
}

/// Revokes every live session of the user but `keep`; returns their ids.
pub fn revoke_all_of_user(
    conn: &Connection,
    user: UserId,
    keep: Option<i64>,
    at: Timestamp,
) -> StoreResult<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "UPDATE sessions SET revoked_at = ?2
         WHERE user_id = ?1 AND revoked_at IS NULL AND (?3 IS NULL OR id <> ?3) RETURNING id",
    )?;
    let rows = stmt.query_map(params![user, at.millis(), keep], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn extend(conn: &Connection, id: i64, expires_at: Timestamp) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE sessions SET expires_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
    )?
    .execute(params![id, expires_at.millis()])?;
    Ok(())
}
