//! The `rooms` and `participants` tables.

use super::filtered::List;
use super::{is_foreign_key_violation, is_unique_violation, users};
use crate::model::{
    NewRoom, Participant, Role, Room, RoomDetails, RoomId, RoomKind, RoomPatch, Timestamp, UserId,
};
use crate::query::{Field, FieldType, Op, Value};
use crate::store::list::Page;
use crate::store::{RoomListQuery, StoreError, StoreResult};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

pub(super) const COLUMNS: &str = "r.id, r.kind, r.name, r.public, r.creator_id, r.created_at";

/// What `GET /api/rooms?query=` may filter on.
pub const FILTER_FIELDS: &[Field] = &[
    Field::new("id", "r.id", FieldType::Integer),
    Field::new("type", "r.kind", FieldType::Text).with_ops(&[Op::Eq, Op::Ne, Op::In]),
    Field::new("name", "r.name", FieldType::Text),
    Field::new("public", "r.public", FieldType::Boolean),
    Field::new("creatorId", "r.creator_id", FieldType::Integer),
    Field::new("createdAt", "r.created_at", FieldType::Timestamp),
];

pub(super) fn from_row(r: &Row) -> rusqlite::Result<Room> {
    let kind: String = r.get(1)?;
    Ok(Room {
        id: r.get(0)?,
        // The CHECK constraint on rooms.kind admits only the three kinds.
        kind: RoomKind::parse(&kind).unwrap_or(RoomKind::Group),
        name: r.get(2)?,
        public: r.get(3)?,
        creator_id: r.get(4)?,
        created_at: Timestamp(r.get(5)?),
    })
}

/// A participant is a `participants` row (p) joined with its user (u).
pub(super) const PARTICIPANT_COLUMNS: &str = "u.id, u.login, u.name, u.avatar, p.role, p.joined_at";
pub(super) const PARTICIPANT_FROM: &str = "participants p JOIN users u ON u.id = p.user_id";

pub(super) fn participant_from_row(r: &Row) -> rusqlite::Result<Participant> {
    let role: String = r.get(4)?;
    Ok(Participant {
        id: r.get(0)?,
        login: r.get(1)?,
        name: r.get(2)?,
        avatar: r.get(3)?,
        // The CHECK constraint on participants.role admits only the three roles.
        role: Role::parse(&role).unwrap_or(Role::Member),
        joined_at: Timestamp(r.get(5)?),
    })
}

fn direct_key(a: UserId, b: UserId) -> String {
    format!("{}:{}", a.min(b), a.max(b))
}

pub fn create(conn: &mut Connection, new: &NewRoom) -> StoreResult<(RoomDetails, bool)> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut everyone = vec![new.creator_id];
    for id in &new.participants {
        if !everyone.contains(id) {
            everyone.push(*id);
        }
    }
    if let Some(&absent) = users::missing(&tx, &everyone)?.first() {
        return Err(StoreError::Conflict(format!(
            "user {absent} does not exist"
        )));
    }
    let key = match (new.kind, everyone.as_slice()) {
        (RoomKind::Direct, [a, b]) => Some(direct_key(*a, *b)),
        _ => None,
    };
    if let Some(key) = &key {
        let existing: Option<RoomId> = tx
            .prepare_cached("SELECT id FROM rooms WHERE direct_key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?;
        if let Some(id) = existing {
            let details = details(&tx, id)?.ok_or(StoreError::NotFound("room"))?;
            return Ok((details, false));
        }
    }
    let now = Timestamp::now().millis();
    let room_id: RoomId = tx
        .prepare_cached(
            "INSERT INTO rooms (kind, name, public, creator_id, direct_key, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        )?
        .query_row(
            params![
                new.kind.as_str(),
                new.name,
                new.public,
                new.creator_id,
                key,
                now
            ],
            |r| r.get(0),
        )?;
    for user in &everyone {
        let role = if *user == new.creator_id {
            Role::Owner
        } else {
            Role::Member
        };
        add_participant(&tx, room_id, *user, role)?;
    }
    let details = details(&tx, room_id)?.ok_or(StoreError::NotFound("room"))?;
    tx.commit()?;
    Ok((details, true))
}

pub fn by_id(conn: &Connection, id: RoomId) -> StoreResult<Option<Room>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM rooms r WHERE r.id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

pub fn details(conn: &Connection, id: RoomId) -> StoreResult<Option<RoomDetails>> {
    let Some(room) = by_id(conn, id)? else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PARTICIPANT_COLUMNS} FROM {PARTICIPANT_FROM}
         WHERE p.room_id = ?1 ORDER BY p.joined_at, u.id"
    ))?;
    let participants = stmt
        .query_map([id], participant_from_row)?
        .collect::<Result<_, _>>()?;
    Ok(Some(RoomDetails { room, participants }))
}

pub fn member_role(conn: &Connection, room: RoomId, user: UserId) -> StoreResult<Option<Role>> {
    let role: Option<String> = conn
        .prepare_cached("SELECT role FROM participants WHERE room_id = ?1 AND user_id = ?2")?
        .query_row([room, user], |r| r.get(0))
        .optional()?;
    Ok(role.and_then(|r| Role::parse(&r)))
}

pub fn members(conn: &Connection, room: RoomId) -> StoreResult<Vec<(UserId, Role)>> {
    let mut stmt =
        conn.prepare_cached("SELECT user_id, role FROM participants WHERE room_id = ?1")?;
    let rows = stmt.query_map([room], |r| {
        let role: String = r.get(1)?;
        Ok((r.get(0)?, Role::parse(&role).unwrap_or(Role::Member)))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn of_user(conn: &Connection, user: UserId) -> StoreResult<Vec<Room>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM participants p JOIN rooms r ON r.id = p.room_id
         WHERE p.user_id = ?1 ORDER BY r.id"
    ))?;
    let rows = stmt.query_map([user], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The rooms `q.member` is in, by id, filtered and paged.
pub fn list_of_user(conn: &Connection, q: &RoomListQuery) -> StoreResult<Page<Room>> {
    let mut list = List::new(
        COLUMNS,
        "participants p JOIN rooms r ON r.id = p.room_id",
        "r.id",
    );
    list.condition("p.user_id = ?", Value::Integer(q.member));
    list.filter(q.filter.as_ref());
    let total = list.count(conn)?;
    let items = list.fetch(conn, q.limit, q.offset.into(), from_row)?;
    Ok(Page { items, total })
}

pub fn ids_of_user(conn: &Connection, user: UserId) -> StoreResult<Vec<RoomId>> {
    let mut stmt = conn.prepare_cached("SELECT room_id FROM participants WHERE user_id = ?1")?;
    let rows = stmt.query_map([user], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every room's id, in order.
pub fn all_ids(conn: &Connection) -> StoreResult<Vec<RoomId>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM rooms ORDER BY id")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Up to `limit` public rooms, chosen at random.
pub fn public_sample(conn: &Connection, limit: u32) -> StoreResult<Vec<Room>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM rooms r WHERE r.public = 1 ORDER BY random() LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn update(conn: &Connection, id: RoomId, patch: &RoomPatch) -> StoreResult<Room> {
    let changed = conn
        .prepare_cached(
            "UPDATE rooms SET
                name   = CASE WHEN ?2 THEN ?3 ELSE name END,
                public = COALESCE(?4, public)
             WHERE id = ?1",
        )?
        .execute(params![
            id,
            patch.name.is_some(),
            patch.name.clone().flatten(),
            patch.public
        ])?;
    if changed == 0 {
        return Err(StoreError::NotFound("room"));
    }
    by_id(conn, id)?.ok_or(StoreError::NotFound("room"))
}

pub fn delete(conn: &Connection, id: RoomId) -> StoreResult<()> {
    // Messages and participants go with the room (ON DELETE CASCADE).
    let n = conn
        .prepare_cached("DELETE FROM rooms WHERE id = ?1")?
        .execute([id])?;
    if n == 0 {
        return Err(StoreError::NotFound("room"));
    }
    Ok(())
}

pub fn add_participant(
    conn: &Connection,
    room: RoomId,
    user: UserId,
    role: Role,
) -> StoreResult<()> {
    let result = conn
        .prepare_cached(
            "INSERT INTO participants (room_id, user_id, role, joined_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            room,
            user,
            role.as_str(),
            Timestamp::now().millis()
        ]);
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
            "user {user} is already a participant"
        ))),
        Err(e) if is_foreign_key_violation(&e) => Err(StoreError::NotFound("user")),
        Err(e) => Err(e.into()),
    }
}

pub fn remove_participant(conn: &Connection, room: RoomId, user: UserId) -> StoreResult<()> {
    let n = conn
        .prepare_cached("DELETE FROM participants WHERE room_id = ?1 AND user_id = ?2")?
        .execute([room, user])?;
    if n == 0 {
        return Err(StoreError::NotFound("participant"));
    }
    Ok(())
}

/// Changes a participant's role.
pub fn set_role(conn: &Connection, room: RoomId, user: UserId, role: Role) -> StoreResult<()> {
    let n = conn
        .prepare_cached("UPDATE participants SET role = ?3 WHERE room_id = ?1 AND user_id = ?2")?
        .execute(params![room, user, role.as_str()])?;
    if n == 0 {
        return Err(StoreError::NotFound("participant"));
    }
    Ok(())
}

pub fn mark_read(conn: &Connection, room: RoomId, user: UserId, seq: u64) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE participants SET last_read_seq = max(last_read_seq, ?3)
         WHERE room_id = ?1 AND user_id = ?2",
    )?
    .execute(params![room, user, seq])?;
    Ok(())
}
