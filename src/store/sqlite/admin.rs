//! What only the Management API needs: paged listings of every table (their
//! fields are in `store::list::fields`, with these table aliases), and the
//! account changes a user cannot make on their own.

use super::list::{page, Listing};
use super::{is_unique_violation, messages, rooms, sessions, users};
use crate::model::{Message, Participant, Room, RoomId, Session, User, UserId, UserPatch};
use crate::query::Value;
use crate::store::list::{ListQuery, Page};
use crate::store::{StoreError, StoreResult};
use rusqlite::{params, Connection};

const USERS: Listing = Listing {
    columns: users::COLUMNS,
    from: "users u",
    scope: None,
    key_order: "u.id",
};
const ROOMS: Listing = Listing {
    columns: rooms::COLUMNS,
    from: "rooms r",
    scope: None,
    key_order: "r.id",
};
const PARTICIPANTS: Listing = Listing {
    columns: rooms::PARTICIPANT_COLUMNS,
    from: rooms::PARTICIPANT_FROM,
    scope: Some("p.room_id = ?"),
    key_order: "p.joined_at, u.id",
};
const MESSAGES: Listing = Listing {
    columns: messages::COLUMNS,
    from: "messages m",
    scope: None,
    key_order: "m.room_id, m.seq",
};
const SESSIONS: Listing = Listing {
    columns: sessions::COLUMNS,
    from: "sessions s",
    scope: None,
    key_order: "s.id",
};

pub fn users_page(conn: &Connection, q: &ListQuery) -> StoreResult<Page<User>> {
    page(conn, &USERS, None, q, users::from_row)
}

pub fn rooms_page(conn: &Connection, q: &ListQuery) -> StoreResult<Page<Room>> {
    page(conn, &ROOMS, None, q, rooms::from_row)
}

pub fn participants_page(
    conn: &Connection,
    room: RoomId,
    q: &ListQuery,
) -> StoreResult<Page<Participant>> {
    let scope = Some(Value::Integer(room));
    page(conn, &PARTICIPANTS, scope, q, rooms::participant_from_row)
}

pub fn messages_page(conn: &Connection, q: &ListQuery) -> StoreResult<Page<Message>> {
    page(conn, &MESSAGES, None, q, messages::from_row)
}

pub fn sessions_page(conn: &Connection, q: &ListQuery) -> StoreResult<Page<Session>> {
    page(conn, &SESSIONS, None, q, sessions::from_row)
}

pub fn session(conn: &Connection, id: i64) -> StoreResult<Option<Session>> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {} FROM sessions WHERE id = ?1",
            sessions::COLUMNS
        ))?
        .query_row([id], sessions::from_row)
        .optional()?)
}

/// A message by its messageId; `None` for anything that is not a stored
/// message's UUID.
pub fn message(conn: &Connection, message_id: &str) -> StoreResult<Option<Message>> {
    if uuid::Uuid::parse_str(message_id).is_err() {
        return Ok(None);
    }
    messages::by_message_id(conn, message_id)
}

pub fn update_user(conn: &Connection, id: UserId, patch: &UserPatch) -> StoreResult<User> {
    let result = conn
        .prepare_cached(&format!(
            "UPDATE users SET
                login         = COALESCE(?2, login),
                name          = COALESCE(?3, name),
                avatar        = CASE WHEN ?4 THEN ?5 ELSE avatar END,
                password_hash = COALESCE(?6, password_hash)
             WHERE id = ?1 RETURNING {}",
            users::COLUMNS
        ))?
        .query_row(
            params![
                id,
                patch.login,
                patch.name,
                patch.avatar.is_some(),
                patch.avatar.clone().flatten(),
                patch.password_hash
            ],
            users::from_row,
        );
    match result {
        Ok(user) => Ok(user),
        Err(rusqlite::Error::QueryReturnedNoRows) => Err(StoreError::NotFound("user")),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
            "login '{}' is taken",
            patch.login.as_deref().unwrap_or_default()
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Deletes the account. Its sessions and memberships go with it, its
/// messages stay with no sender, and rooms it created forget their creator.
pub fn delete_user(conn: &Connection, id: UserId) -> StoreResult<()> {
    let n = conn
        .prepare_cached("DELETE FROM users WHERE id = ?1")?
        .execute([id])?;
    if n == 0 {
        return Err(StoreError::NotFound("user"));
    }
    Ok(())
}
