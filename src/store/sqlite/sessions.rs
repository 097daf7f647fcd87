//! The `sessions` table: one row per login, keyed by the token's hash.

use crate::model::{NewSession, Session, Timestamp, UserId};
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

/// The user's sessions that are neither revoked nor expired, newest first.
pub fn active_of_user(
    conn: &Connection,
    user: UserId,
    now: Timestamp,
) -> StoreResult<Vec<Session>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM sessions
         WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2
         ORDER BY id DESC"
    ))?;
    let rows = stmt.query_map(params![user, now.millis()], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
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
