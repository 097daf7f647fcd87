//! The `messages` table. Seqs are gap-free, so a page by number is a seq
//! range, never an OFFSET scan.

use super::filtered::List;
use super::{is_foreign_key_violation, reactions};
use crate::model::{
    FileId, HistoryCursor, Message, MessageKind, MessageStatus, NewMessage, Rev, RoomId, Seq,
    Timestamp, UserId,
};
use crate::query::{Field, FieldType, Op, Value};
use crate::store::list::Page;
use crate::store::{HistoryFilter, StoreError, StoreResult};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, Row};

/// The columns [`from_row`] reads, in its order.
pub(super) const COLUMNS: &str = "room_id, seq, message_id, sender_id, kind, content, reply_id, \
     created_at, forward_of, edited_at, deleted_at, rev, file_id, preview, auto_reply";

/// Message ids are UUIDs in the model (canonical text) and 16 bytes in the
/// table. The model only ever holds validated or generated UUIDs.
pub(super) fn id_bytes(id: &str) -> StoreResult<[u8; 16]> {
    uuid::Uuid::parse_str(id)
        .map(|u| *u.as_bytes())
        .map_err(|_| StoreError::Internal(format!("not a UUID: {id}")))
}

/// A stored 16-byte id as its hyphenated text. Read in place and written
/// into a stack buffer: history pages turn up to three ids per message into
/// text, and the copies showed in the history profile.
pub(super) fn id_text(r: &Row, column: usize) -> rusqlite::Result<Option<String>> {
    let bytes = match r.get_ref(column)? {
        ValueRef::Null => return Ok(None),
        ValueRef::Blob(bytes) => bytes,
        other => {
            return Err(rusqlite::Error::InvalidColumnType(
                column,
                String::new(),
                other.data_type(),
            ))
        }
    };
    let id = uuid::Uuid::from_slice(bytes).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Blob, Box::new(e))
    })?;
    let mut buffer = uuid::Uuid::encode_buffer();
    Ok(Some(id.hyphenated().encode_lower(&mut buffer).to_owned()))
}

/// A message from the [`COLUMNS`] of a row; reactions are attached apart.
pub(super) fn from_row(r: &Row) -> rusqlite::Result<Message> {
    let kind = r.get_ref(4)?.as_str()?;
    let deleted_at: Option<i64> = r.get(10)?;
    Ok(Message {
        room_id: r.get(0)?,
        seq: r.get(1)?,
        message_id: id_text(r, 2)?.unwrap_or_default(),
        sender_id: r.get(3)?,
        // Only kinds from MessageKind::as_str are ever written.
        kind: MessageKind::parse(kind).unwrap_or(MessageKind::Text),
        content: r.get(5)?,
        reply_id: id_text(r, 6)?,
        created_at: Timestamp(r.get(7)?),
        forward_of: id_text(r, 8)?,
        edited_at: r.get::<_, Option<i64>>(9)?.map(Timestamp),
        deleted: deleted_at.is_some(),
        deleted_at: deleted_at.map(Timestamp),
        rev: r.get(11)?,
        file_id: r.get(12)?,
        // Written only from a checked LinkPreview; unreadable JSON would
        // be a bug, and then no preview is better than no message.
        preview: r
            .get::<_, Option<String>>(13)?
            .and_then(|json| serde_json::from_str(&json).ok()),
        reactions: Vec::new(),
        status: MessageStatus::Success,
        auto_reply: r.get(14)?,
    })
}

pub fn last_seq(conn: &Connection, room: RoomId) -> StoreResult<Seq> {
    Ok(conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM messages WHERE room_id = ?1")?
        .query_row([room], |r| r.get(0))?)
}

pub fn last_rev(conn: &Connection, room: RoomId) -> StoreResult<Rev> {
    Ok(conn
        .prepare_cached(
            "SELECT COALESCE(MAX(rev), 0) FROM messages WHERE room_id = ?1 AND rev > 0",
        )?
        .query_row([room], |r| r.get(0))?)
}

/// What `GET /api/messages/search?query=` may filter on: the room, then
/// every field of [`FILTER_FIELDS`]. Bare `messages` columns: the search
/// evaluates the filter in a subquery over `messages` alone (see
/// `search.rs`). A deleted message's content is already blanked, so
/// `content` finds no deleted text.
pub const SEARCH_FILTER_FIELDS: &[Field] = &[
    Field::new("roomId", "room_id", FieldType::Integer),
    Field::new("seq", "seq", FieldType::Integer),
    Field::new("senderId", "sender_id", FieldType::Integer),
    Field::new("type", "kind", FieldType::Text).with_ops(&[Op::Eq, Op::Ne, Op::In]),
    Field::new("content", "content", FieldType::Text),
    Field::new("createdAt", "created_at", FieldType::Timestamp),
    Field::new("editedAt", "edited_at", FieldType::Timestamp),
    Field::new("deletedAt", "deleted_at", FieldType::Timestamp),
];

/// What `GET /api/rooms/{id}/messages?query=` may filter on: the search's
/// fields but the room, which the path names.
pub const FILTER_FIELDS: &[Field] = SEARCH_FILTER_FIELDS.split_at(1).1;

/// A page of a room's history that passes `q.filter` (checked against
/// [`FILTER_FIELDS`]), newest first: `q.offset` rows skipped below
/// `q.before`, at most `q.limit`, with reactions (`me` for `viewer`); the
/// total counts every match, the cursor only picks where the page starts.
pub fn filtered_history(
    conn: &Connection,
    room: RoomId,
    q: &HistoryFilter,
    viewer: Option<UserId>,
) -> StoreResult<Page<Message>> {
    let mut list = List::new(COLUMNS, "messages", "seq DESC");
    list.condition("room_id = ?", Value::Integer(room));
    list.filter(q.filter.as_ref());
    let total = list.count(conn)?;
    if let Some(before) = q.before {
        // Seqs are SQLite integers; anything larger is past the end.
        let before = i64::try_from(before).unwrap_or(i64::MAX);
        list.condition("seq < ?", Value::Integer(before));
    }
    let mut items = list.fetch(conn, Some(q.limit), q.offset, from_row)?;
    // The page may skip seqs, so each message's reactions are read apart
    // (attach_range wants a gap-free run).
    for m in &mut items {
        m.reactions = reactions::of_message(conn, room, m.seq, viewer)?;
    }
    Ok(Page { items, total })
}

/// The newest (or with `oldest_first` the oldest) `limit` messages of room
/// `?1` with a seq in (`?2`, `?3`].
///
/// The limit is written into the SQL, never bound: SQLite plans with a
/// bound LIMIT's value, so it compiles the statement again every time that
/// value is bound anew, which is every page. (Found with perf: 13% of the
/// server's CPU on the history load went into parsing the same SELECT.)
/// A page size is one of few numbers, so the statement cache holds them.
fn history_sql(oldest_first: bool, limit: u64) -> String {
    let order = if oldest_first { "ASC" } else { "DESC" };
    format!(
        "SELECT {COLUMNS} FROM messages
         WHERE room_id = ?1 AND seq > ?2 AND seq <= ?3
         ORDER BY seq {order} LIMIT {limit}"
    )
}

/// A page of history with its reactions (`me` for `viewer`).
pub fn history(
    conn: &Connection,
    room: RoomId,
    cursor: HistoryCursor,
    limit: u32,
    viewer: Option<UserId>,
) -> StoreResult<Vec<Message>> {
    let limit = u64::from(limit);
    // Every cursor becomes a seq window (low, high]; the newest `limit` rows
    // of it are read, except for After, which wants the oldest.
    let (low, high, oldest_first) = match cursor {
        HistoryCursor::Latest => (0, Seq::MAX >> 1, false),
        HistoryCursor::Before(before) => (0, before.saturating_sub(1), false),
        HistoryCursor::After(after) => (after, Seq::MAX >> 1, true),
        HistoryCursor::Page(page) => {
            let last = last_seq(conn, room)?;
            let skip = page.saturating_sub(1).saturating_mul(limit);
            let high = last.saturating_sub(skip);
            (high.saturating_sub(limit), high, false)
        }
    };
    let mut stmt = conn.prepare_cached(&history_sql(oldest_first, limit))?;
    let mut rows: Vec<Message> = stmt
        .query_map(params![room, low, high], from_row)?
        .collect::<Result<_, _>>()?;
    if oldest_first {
        rows.reverse();
    }
    reactions::attach_range(conn, room, &mut rows, viewer)?;
    Ok(rows)
}

pub fn after(
    conn: &Connection,
    room: RoomId,
    after: Seq,
    limit: u32,
    viewer: UserId,
) -> StoreResult<Vec<Message>> {
    // The limit is written in, not bound: see `history_sql`.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM messages WHERE room_id = ?1 AND seq > ?2 ORDER BY seq LIMIT {limit}"
    ))?;
    let mut rows: Vec<Message> = stmt
        .query_map(params![room, after], from_row)?
        .collect::<Result<_, _>>()?;
    reactions::attach_range(conn, room, &mut rows, Some(viewer))?;
    Ok(rows)
}

/// Messages with seq <= `upto` whose rev is above `after`, in rev order.
pub fn changed_after(
    conn: &Connection,
    room: RoomId,
    after: Rev,
    upto: Seq,
    limit: u32,
    viewer: UserId,
) -> StoreResult<Vec<Message>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM messages
         WHERE room_id = ?1 AND rev > ?2 AND seq <= ?3
         ORDER BY rev LIMIT {limit}"
    ))?;
    let mut rows: Vec<Message> = stmt
        .query_map(params![room, after, upto], from_row)?
        .collect::<Result<_, _>>()?;
    for m in &mut rows {
        m.reactions = reactions::of_message(conn, room, m.seq, Some(viewer))?;
    }
    Ok(rows)
}

/// The message at `seq` of `room`, reactions not attached.
pub fn by_seq(conn: &Connection, room: RoomId, seq: Seq) -> StoreResult<Option<Message>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM messages WHERE room_id = ?1 AND seq = ?2"
        ))?
        .query_row(params![room, seq], from_row)
        .optional()?)
}

/// A message as the search index sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexRow {
    pub seq: Seq,
    pub rev: Rev,
    /// The searchable text; `None` for system messages and tombstones,
    /// which the index does not hold.
    pub text: Option<String>,
}

/// Text of a searchable message, `None` otherwise: the one place that
/// decides what the index holds.
const INDEX_TEXT: &str = "CASE WHEN kind <> 'system' AND deleted_at IS NULL THEN content END";

/// Up to `limit` messages of `room` above `after`, by seq: what the index
/// has not seen yet.
pub fn index_rows_after(
    conn: &Connection,
    room: RoomId,
    after: Seq,
    limit: u32,
) -> StoreResult<Vec<IndexRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT seq, rev, {INDEX_TEXT} FROM messages
         WHERE room_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![room, after, limit], index_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Up to `limit` messages of `room` at or below `upto` changed after rev
/// `after`, by rev: the changes the index has not seen yet. (`rev > 0` lets
/// SQLite use the partial index of changed messages.)
pub fn index_rows_changed(
    conn: &Connection,
    room: RoomId,
    after: Rev,
    upto: Seq,
    limit: u32,
) -> StoreResult<Vec<IndexRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT seq, rev, {INDEX_TEXT} FROM messages
         WHERE room_id = ?1 AND rev > 0 AND rev > ?2 AND seq <= ?3 ORDER BY rev LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![room, after, upto, limit], index_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn index_row(r: &Row) -> rusqlite::Result<IndexRow> {
    Ok(IndexRow {
        seq: r.get(0)?,
        rev: r.get(1)?,
        text: r.get(2)?,
    })
}

pub fn by_message_id(conn: &Connection, message_id: &str) -> StoreResult<Option<Message>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM messages WHERE message_id = ?1"
        ))?
        .query_row([id_bytes(message_id)?], from_row)
        .optional()?)
}

/// Inserts unless the messageId is already stored; `false` then. One
/// statement does both the check and the write (a retry costs no extra
/// lookup on the hot path).
pub fn insert_new(conn: &Connection, room: RoomId, seq: Seq, m: &NewMessage) -> StoreResult<bool> {
    let reply_id = m.reply_id.as_deref().map(id_bytes).transpose()?;
    if let Some(reply_id) = reply_id {
        // Checked here, in the writer's transaction, so a reply to a
        // message committed just before it (even in the same batch) works.
        if !exists_in_room(conn, room, &reply_id)? {
            return Err(StoreError::Invalid {
                field: "replyId",
                reason: "replyId must name a message in the same room".into(),
            });
        }
    }
    let forward_of = m.forward_of.as_deref().map(id_bytes).transpose()?;
    let result = conn
        .prepare_cached(
            "INSERT INTO messages
             (room_id, seq, message_id, sender_id, kind, content, reply_id, created_at, forward_of,
              file_id, preview, auto_reply)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (message_id) DO NOTHING",
        )?
        .execute(params![
            room,
            seq,
            id_bytes(&m.message_id)?,
            m.sender_id,
            m.kind.as_str(),
            m.content,
            reply_id,
            m.created_at.millis(),
            forward_of,
            m.file_id,
            m.preview
                .as_ref()
                .and_then(|p| serde_json::to_string(p).ok()),
            m.auto_reply,
        ]);
    match result {
        Ok(n) => Ok(n == 1),
        Err(e) if is_foreign_key_violation(&e) => Err(missing_reference(conn, m.file_id)?),
        Err(e) => Err(e.into()),
    }
}

/// Which row a message's failed foreign key named: its file when that is
/// gone (freed by disappearing messages while the message was on its
/// way), else its room.
fn missing_reference(conn: &Connection, file: Option<FileId>) -> StoreResult<StoreError> {
    if let Some(file) = file {
        let exists = conn
            .prepare_cached("SELECT 1 FROM files WHERE id = ?1")?
            .exists([file])?;
        if !exists {
            return Ok(StoreError::NotFound("file"));
        }
    }
    Ok(StoreError::NotFound("room"))
}

/// Inserts a message whose id must be new (system messages).
pub fn insert(conn: &Connection, room: RoomId, seq: Seq, m: &NewMessage) -> StoreResult<()> {
    if insert_new(conn, room, seq, m)? {
        Ok(())
    } else {
        Err(StoreError::Conflict("messageId is already used".into()))
    }
}

fn exists_in_room(conn: &Connection, room: RoomId, message_id: &[u8; 16]) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM messages WHERE message_id = ?1 AND room_id = ?2")?
        .query_row(params![message_id, room], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The message if `user` is a participant of its room and it is not deleted.
pub fn readable(conn: &Connection, message_id: &str, user: UserId) -> StoreResult<Option<Message>> {
    let Ok(id) = id_bytes(message_id) else {
        return Ok(None);
    };
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM messages m
             WHERE m.message_id = ?1 AND m.deleted_at IS NULL
               AND EXISTS (SELECT 1 FROM participants p
                           WHERE p.room_id = m.room_id AND p.user_id = ?2)"
        ))?
        .query_row(params![id, user], from_row)
        .optional()?)
}

/// Sets new content and the edit time, under a new rev.
pub fn set_content(
    conn: &Connection,
    room: RoomId,
    seq: Seq,
    content: &str,
    at: Timestamp,
    rev: Rev,
) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE messages SET content = ?3, edited_at = ?4, rev = ?5
         WHERE room_id = ?1 AND seq = ?2",
    )?
    .execute(params![room, seq, content, at.millis(), rev])?;
    Ok(())
}

/// Turns the message into a tombstone: no body, no reactions, same seq.
pub fn tombstone(
    conn: &Connection,
    room: RoomId,
    seq: Seq,
    at: Timestamp,
    rev: Rev,
) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE messages SET content = '', preview = NULL, file_id = NULL, deleted_at = ?3, rev = ?4
         WHERE room_id = ?1 AND seq = ?2",
    )?
    .execute(params![room, seq, at.millis(), rev])?;
    reactions::clear(conn, room, seq)
}

pub fn set_rev(conn: &Connection, room: RoomId, seq: Seq, rev: Rev) -> StoreResult<()> {
    conn.prepare_cached("UPDATE messages SET rev = ?3 WHERE room_id = ?1 AND seq = ?2")?
        .execute(params![room, seq, rev])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::StatementStatus;

    /// A history statement is compiled once and reused with new cursors
    /// (SQLite recompiles a statement on every new binding of a value that
    /// can change its plan, such as a bound LIMIT).
    #[test]
    fn history_statements_are_not_recompiled_for_new_cursors() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO users (login, password_hash, name, created_at) VALUES ('a', '', 'A', 0);
             INSERT INTO rooms (kind, creator_id, created_at) VALUES ('group', 1, 0);",
        )
        .unwrap();
        for seq in 1..=200 {
            conn.execute(
                "INSERT INTO messages (room_id, seq, message_id, sender_id, kind, content, created_at)
                 VALUES (1, ?1, ?2, 1, 'text', 'x', 0)",
                params![seq, uuid::Uuid::new_v4().as_bytes().to_vec()],
            )
            .unwrap();
        }
        for before in [200, 150, 100, 50] {
            let page = history(&conn, 1, HistoryCursor::Before(before), 20, None).unwrap();
            assert_eq!(page.len(), 20);
        }
        let stmt = conn.prepare_cached(&history_sql(false, 20)).unwrap();
        assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0);
    }
}
