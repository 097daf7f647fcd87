//! The `users` table.

use super::filtered::List;
use super::is_unique_violation;
use crate::model::{NewUser, Timestamp, User, UserId};
use crate::query::{Field, FieldType, Value};
use crate::store::list::Page;
use crate::store::{StoreError, StoreResult, UserListQuery};
use rusqlite::{params, Connection, OptionalExtension, Row};

pub(super) const COLUMNS: &str = "id, login, name, avatar, created_at";

/// What `GET /api/users?query=` may filter on. `login` compares without
/// regard to case, as the column is declared.
pub const FILTER_FIELDS: &[Field] = &[
    Field::new("id", "id", FieldType::Integer),
    Field::new("login", "login", FieldType::Text),
    Field::new("name", "name", FieldType::Text),
    Field::new("avatar", "avatar", FieldType::Text),
    Field::new("createdAt", "created_at", FieldType::Timestamp),
];

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

pub fn list(conn: &Connection, q: &UserListQuery) -> StoreResult<Page<User>> {
    let mut list = List::new(COLUMNS, "users", "id");
    if let Some(me) = q.exclude {
        list.condition("id <> ?", Value::Integer(me));
    }
    if let Some(prefix) = &q.login_prefix {
        // LIKE with an escaped prefix: the client's text is a bound value
        // and its wildcards are literal.
        let escaped = prefix
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        list.condition(
            "login LIKE ? ESCAPE '\\'",
            Value::Text(format!("{escaped}%")),
        );
    }
    list.filter(q.filter.as_ref());
    // The total counts every match; the cursor only picks where a page starts.
    let total = list.count(conn)?;
    if let Some(after) = q.after_id {
        list.condition("id > ?", Value::Integer(after));
    }
    let items = list.fetch(conn, Some(q.limit), q.offset.into(), from_row)?;
    Ok(Page { items, total })
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
