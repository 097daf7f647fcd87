//! Contacts: the people a user shares a direct room with, plus the ones
//! they added by phone number (the `contacts` table), and the messages of
//! those direct rooms as analysis reads them.

use super::filtered::List;
use crate::model::{
    Contact, ContactActivity, ConversationEvent, MessageKind, Timestamp, User, UserId,
};
use crate::query::{Field, FieldType, Filter, Value};
use crate::store::{StoreError, StoreResult};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

/// The ids of ?1's contacts. Direct rooms are found through the
/// participants index; a direct room's key is "lowId:highId".
const CONTACT_IDS: &str = "
    SELECT other.user_id AS contact_id
      FROM participants mine
      JOIN rooms r ON r.id = mine.room_id AND r.kind = 'direct'
      JOIN participants other ON other.room_id = r.id AND other.user_id <> mine.user_id
     WHERE mine.user_id = ?1
    UNION
    SELECT contact_id FROM contacts WHERE owner_id = ?1";

/// Whether ?1 added the contact `u` by phone number.
macro_rules! added_by_phone {
    () => {
        "EXISTS (SELECT 1 FROM contacts k WHERE k.owner_id = ?1 AND k.contact_id = u.id)"
    };
}

/// The direct room of ?1 and `u`, if there is one.
macro_rules! direct_room {
    () => {
        "(SELECT r.id FROM rooms r WHERE r.direct_key = min(?1, u.id) || ':' || max(?1, u.id))"
    };
}

/// A contact's columns. The phone number shows only when the owner added
/// the contact by it (they knew it already); the direct room when one exists.
const CONTACT_COLUMNS: &str = concat!(
    "u.id, u.login, u.name, u.avatar, u.created_at, CASE WHEN ",
    added_by_phone!(),
    " THEN u.phone END, ",
    direct_room!()
);

/// What `GET /api/contacts?query=` may filter on, for owner ?1. Not the
/// phone number: a filter on it would reveal the numbers of contacts the
/// owner did not add by phone.
pub const FILTER_FIELDS: &[Field] = &[
    Field::new("id", "u.id", FieldType::Integer),
    Field::new("login", "u.login", FieldType::Text),
    Field::new("name", "u.name", FieldType::Text),
    Field::new("avatar", "u.avatar", FieldType::Text),
    Field::new("createdAt", "u.created_at", FieldType::Timestamp),
    Field::new("addedByPhone", added_by_phone!(), FieldType::Boolean),
    Field::new("directRoomId", direct_room!(), FieldType::Integer),
];

fn contact_from_row(r: &Row) -> rusqlite::Result<Contact> {
    Ok(Contact {
        user: User {
            id: r.get(0)?,
            login: r.get(1)?,
            name: r.get(2)?,
            avatar: r.get(3)?,
            created_at: Timestamp(r.get(4)?),
        },
        phone: r.get(5)?,
        direct_room_id: r.get(6)?,
    })
}

/// Adds the palaver users among `phones` (E.164) to `owner`'s contacts;
/// answers, per number in order, the user it belongs to, if any.
pub fn add_by_phone(
    conn: &mut Connection,
    owner: UserId,
    phones: &[String],
) -> StoreResult<Vec<(String, Option<User>)>> {
    // Immediate: the write lock is taken up front, so a read followed by a
    // write cannot fail busy when the writer thread committed in between.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut found = Vec::with_capacity(phones.len());
    {
        let mut by_phone = tx.prepare_cached(&format!(
            "SELECT {} FROM users WHERE phone = ?1",
            super::users::COLUMNS
        ))?;
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO contacts (owner_id, contact_id, added_at) VALUES (?1, ?2, ?3)",
        )?;
        let now = Timestamp::now().millis();
        for phone in phones {
            let user = by_phone
                .query_row([phone], super::users::from_row)
                .optional()?;
            if let Some(user) = user.as_ref().filter(|u| u.id != owner) {
                insert.execute(params![owner, user.id, now])?;
            }
            found.push((phone.clone(), user));
        }
    }
    tx.commit()?;
    Ok(found)
}

/// A page of `owner`'s contacts that pass `filter` (checked against
/// [`FILTER_FIELDS`]), by id, and how many pass in all.
pub fn page(
    conn: &Connection,
    owner: UserId,
    filter: Option<&Filter>,
    offset: u64,
    limit: u32,
) -> StoreResult<(Vec<Contact>, u64)> {
    let from = format!("({CONTACT_IDS}) c JOIN users u ON u.id = c.contact_id");
    // The owner is ?1 in the contact ids, the columns and the filter fields.
    let mut list = List::with_params(CONTACT_COLUMNS, &from, "u.id", vec![Value::Integer(owner)]);
    list.filter(filter);
    let total = list.count(conn)?;
    let items = list.fetch(conn, Some(limit), offset, contact_from_row)?;
    Ok((items, total))
}

/// One of `owner`'s contacts; `None` for anyone else.
pub fn one(conn: &Connection, owner: UserId, contact: UserId) -> StoreResult<Option<Contact>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {CONTACT_COLUMNS} FROM ({CONTACT_IDS}) c JOIN users u ON u.id = c.contact_id
              WHERE u.id = ?2"
        ))?
        .query_row(params![owner, contact], contact_from_row)
        .optional()?)
}

/// Every contact of `owner` that passes `filter` (checked against
/// [`FILTER_FIELDS`]) with the messages exchanged in their direct room
/// (zero where there is none), counted by direction and by media.
pub fn activity(
    conn: &Connection,
    owner: UserId,
    filter: Option<&Filter>,
) -> StoreResult<Vec<ContactActivity>> {
    // The owner is ?1; the filter's values follow.
    let mut params = vec![Value::Integer(owner)];
    let condition = filter
        .map(|f| format!("WHERE {}", f.to_sql(&mut params)))
        .unwrap_or_default();
    let mut stmt = conn.prepare(&format!(
        "SELECT {CONTACT_COLUMNS},
                count(m.seq) FILTER (WHERE m.sender_id = ?1),
                count(m.seq) FILTER (WHERE m.sender_id = u.id),
                count(m.seq) FILTER (WHERE m.sender_id = ?1 AND m.kind NOT IN ('text', 'system')),
                count(m.seq) FILTER (WHERE m.sender_id = u.id AND m.kind NOT IN ('text', 'system'))
           FROM ({CONTACT_IDS}) c
           JOIN users u ON u.id = c.contact_id
           LEFT JOIN rooms r ON r.direct_key = min(?1, u.id) || ':' || max(?1, u.id)
           LEFT JOIN messages m ON m.room_id = r.id
          {condition}
          GROUP BY u.id
          ORDER BY u.id"
    ))?;
    let rows = stmt.query_map(rusqlite::params_from_iter(&params), |r| {
        Ok(ContactActivity {
            contact: contact_from_row(r)?,
            sent: r.get(7)?,
            received: r.get(8)?,
            sent_media: r.get(9)?,
            received_media: r.get(10)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The messages of `owner`'s direct room with `contact` since `since`
/// (all when `None`), oldest first; system messages left out.
pub fn conversation(
    conn: &Connection,
    owner: UserId,
    contact: UserId,
    since: Option<Timestamp>,
) -> StoreResult<Vec<ConversationEvent>> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.sender_id, m.kind, m.created_at
           FROM rooms r JOIN messages m ON m.room_id = r.id
          WHERE r.direct_key = min(?1, ?2) || ':' || max(?1, ?2)
            AND m.kind <> 'system' AND m.sender_id IS NOT NULL
            AND m.created_at >= ?3
          ORDER BY m.seq",
    )?;
    let rows = stmt.query_map(
        params![owner, contact, since.map_or(i64::MIN, Timestamp::millis)],
        |r| {
            let kind: String = r.get(1)?;
            Ok((r.get::<_, UserId>(0)?, kind, r.get::<_, i64>(2)?))
        },
    )?;
    let mut events = Vec::new();
    for row in rows {
        let (sender_id, kind, at) = row?;
        let kind = MessageKind::parse(&kind)
            .ok_or_else(|| StoreError::Internal(format!("unknown message kind '{kind}'")))?;
        events.push(ConversationEvent {
            sender_id,
            kind,
            at,
        });
    }
    Ok(events)
}
