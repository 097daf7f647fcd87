//! The `users` table.

use super::is_unique_violation;
use crate::model::{NewUser, Timestamp, User, UserId};
use crate::store::{StoreError, StoreResult, UserListQuery};
use rusqlite::{params, Connection, OptionalExtension, Row};

pub(super) const COLUMNS: &str = "id, login, name, avatar, created_at";

pub(super) fn from_row(r: &Row) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        login: r.get(1)?,
        name: r.get(2)?,
        avatar: r.get(3)?,
        created_at: Timestamp(r.get(4)?),
    })
}

pub fn create(conn: &Connection, new: &NewUser) -> StoreResult<User> {
    let now = Timestamp::now();
    let result = conn
        .prepare_cached(&format!(
            "INSERT INTO users (login, password_hash, name, avatar, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {COLUMNS}"
        ))?
        .query_row(
            params![
                new.login,
                new.password_hash,
                new.name,
                new.avatar,
                now.millis()
            ],
            from_row,
        );
    match result {
        Ok(user) => Ok(user),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
            "login '{}' is taken",
            new.login
        ))),
        Err(e) => Err(e.into()),
    }
}

pub fn by_id(conn: &Connection, id: UserId) -> StoreResult<Option<User>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

pub fn with_password(conn: &Connection, login: &str) -> StoreResult<Option<(User, String)>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS}, password_hash FROM users WHERE login = ?1"
        ))?
        .query_row([login], |r| Ok((from_row(r)?, r.get(5)?)))
        .optional()?)
}

pub fn list(conn: &Connection, q: &UserListQuery) -> StoreResult<Vec<User>> {
    // LIKE with an escaped prefix: the client's text is a bound value and
    // its wildcards are literal.
    let prefix = q.login_prefix.as_ref().map(|p| {
        let escaped = p
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("{escaped}%")
    });
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM users
         WHERE (?1 IS NULL OR id <> ?1)
           AND (?2 IS NULL OR id > ?2)
           AND (?3 IS NULL OR login LIKE ?3 ESCAPE '\\')
         ORDER BY id LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![q.exclude, q.after_id, prefix, q.limit], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Which of `ids` are missing from the table, in the order given.
pub fn missing(conn: &Connection, ids: &[UserId]) -> StoreResult<Vec<UserId>> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM users WHERE id = ?1")?;
    let mut absent = Vec::new();
    for id in ids {
        if !stmt.exists([id])? {
            absent.push(*id);
        }
    }
    Ok(absent)
}

pub fn password_hash(conn: &Connection, id: UserId) -> StoreResult<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT password_hash FROM users WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

pub fn set_password_hash(conn: &Connection, id: UserId, hash: &str) -> StoreResult<()> {
    let n = conn
        .prepare_cached("UPDATE users SET password_hash = ?2 WHERE id = ?1")?
        .execute(params![id, hash])?;
    if n == 0 {
        return Err(StoreError::NotFound("user"));
    }
    Ok(())
}
