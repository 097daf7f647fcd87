//! The `auto_replies` and `auto_reply_cursors` tables: users' rules, and
//! per (owner, direct room) how far the auto-replier has read. The
//! messages themselves are the queue; nothing is written on their commit.

use super::filtered::List;
use super::messages;
use crate::model::{
    AutoReply, AutoReplyPatch, AutoReplyWork, MatchMode, NewAutoReply, RoomId, Seq, Timestamp,
    UserId,
};
use crate::query::{Field, FieldType, Filter};
use crate::store::{StoreError, StoreResult};
use rusqlite::{params, Connection, OptionalExtension, Row};

const COLUMNS: &str = "id, user_id, pattern, match_mode, contact_id, reply, enabled, \
     active_since, created_at, updated_at";

fn from_row(r: &Row) -> rusqlite::Result<AutoReply> {
    let mode: String = r.get(3)?;
    Ok(AutoReply {
        id: r.get(0)?,
        user_id: r.get(1)?,
        pattern: r.get(2)?,
        // Only MatchMode::as_str values are written (and CHECKed).
        match_mode: MatchMode::parse(&mode).unwrap_or(MatchMode::Literal),
        contact_id: r.get(4)?,
        reply: r.get(5)?,
        enabled: r.get(6)?,
        active_since: Timestamp(r.get(7)?),
        created_at: Timestamp(r.get(8)?),
        updated_at: Timestamp(r.get(9)?),
    })
}

pub fn create(conn: &mut Connection, new: &NewAutoReply) -> StoreResult<AutoReply> {
    let now = Timestamp::now().millis();
    let tx = conn.transaction()?;
    let rule = tx
        .prepare_cached(&format!(
            "INSERT INTO auto_replies
             (user_id, pattern, match_mode, contact_id, reply, enabled, active_since, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?7) RETURNING {COLUMNS}"
        ))?
        .query_row(
            params![
                new.user_id,
                new.pattern,
                new.match_mode.as_str(),
                new.contact_id,
                new.reply,
                new.enabled,
                now
            ],
            from_row,
        )?;
    if rule.enabled {
        start_cursors(&tx, rule.user_id)?;
    }
    tx.commit()?;
    Ok(rule)
}

/// Gives each of `owner`'s direct rooms that has no cursor one at its
/// last message, so the replier does not read through old history that
/// no rule could answer (a rule only answers messages from its
/// `active_since` on). Existing cursors stay: messages after them may
/// still be waiting for another rule.
fn start_cursors(conn: &Connection, owner: UserId) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO auto_reply_cursors (user_id, room_id, seq)
         SELECT p.user_id, p.room_id,
                (SELECT COALESCE(MAX(m.seq), 0) FROM messages m WHERE m.room_id = p.room_id)
           FROM participants p JOIN rooms r ON r.id = p.room_id
          WHERE p.user_id = ?1 AND r.kind = 'direct'",
    )?
    .execute([owner])?;
    Ok(())
}

/// One of `owner`'s rules.
pub fn one(conn: &Connection, owner: UserId, id: i64) -> StoreResult<Option<AutoReply>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM auto_replies WHERE id = ?1 AND user_id = ?2"
        ))?
        .query_row(params![id, owner], from_row)
        .optional()?)
}

/// What `query=` may filter auto-reply rules by.
pub const FILTER_FIELDS: &[Field] = &[
    Field::new("id", "id", FieldType::Integer),
    Field::new("pattern", "pattern", FieldType::Text),
    Field::new("matchMode", "match_mode", FieldType::Text),
    Field::new("contactId", "contact_id", FieldType::Integer),
    Field::new("reply", "reply", FieldType::Text),
    Field::new("enabled", "enabled", FieldType::Boolean),
    Field::new("createdAt", "created_at", FieldType::Timestamp),
    Field::new("updatedAt", "updated_at", FieldType::Timestamp),
];

/// A page of `owner`'s rules that pass `filter`, oldest first, and how
/// many pass in all.
pub fn page(
    conn: &Connection,
    owner: UserId,
    filter: Option<&Filter>,
    offset: u32,
    limit: u32,
) -> StoreResult<(Vec<AutoReply>, u64)> {
    List::owned(COLUMNS, "auto_replies", "id", owner, filter).page(conn, limit, offset, from_row)
}

/// Applies `patch` to one of `owner`'s rules. Turning a rule on (again)
/// moves its `active_since` to now: it never answers what was said while
/// it was off.
pub fn update(
    conn: &mut Connection,
    owner: UserId,
    id: i64,
    patch: &AutoReplyPatch,
) -> StoreResult<AutoReply> {
    let tx = conn.transaction()?;
    // In SET, `enabled` is still the old value.
    let rule = tx
        .prepare_cached(&format!(
            "UPDATE auto_replies
                SET pattern = COALESCE(?3, pattern),
                    match_mode = COALESCE(?4, match_mode),
                    contact_id = CASE WHEN ?5 THEN ?6 ELSE contact_id END,
                    reply = COALESCE(?7, reply),
                    active_since = CASE WHEN ?8 = 1 AND enabled = 0 THEN ?9 ELSE active_since END,
                    enabled = COALESCE(?8, enabled),
                    updated_at = ?9
              WHERE id = ?1 AND user_id = ?2
              RETURNING {COLUMNS}"
        ))?
        .query_row(
            params![
                id,
                owner,
                patch.pattern,
                patch.match_mode.map(MatchMode::as_str),
                patch.contact_id.is_some(),
                patch.contact_id.flatten(),
                patch.reply,
                patch.enabled,
                Timestamp::now().millis()
            ],
            from_row,
        )
        .optional()?
        .ok_or(StoreError::NotFound("auto-reply rule"))?;
    if rule.enabled {
        start_cursors(&tx, owner)?;
    }
    tx.commit()?;
    Ok(rule)
}

pub fn delete(conn: &Connection, owner: UserId, id: i64) -> StoreResult<()> {
    let n = conn
        .prepare_cached("DELETE FROM auto_replies WHERE id = ?1 AND user_id = ?2")?
        .execute(params![id, owner])?;
    if n == 0 {
        return Err(StoreError::NotFound("auto-reply rule"));
    }
    Ok(())
}

/// Users with at least one enabled rule.
pub fn owners(conn: &Connection) -> StoreResult<Vec<UserId>> {
    let mut stmt =
        conn.prepare_cached("SELECT DISTINCT user_id FROM auto_replies WHERE enabled = 1")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// (owner, direct room) pairs with messages after the owner's cursor, for
/// owners with an enabled rule; only `room`'s when given.
pub fn targets(conn: &Connection, room: Option<RoomId>) -> StoreResult<Vec<(UserId, RoomId)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT p.user_id, p.room_id
           FROM auto_replies a
           JOIN participants p ON p.user_id = a.user_id
           JOIN rooms r ON r.id = p.room_id AND r.kind = 'direct'
          WHERE a.enabled = 1 AND (?1 IS NULL OR p.room_id = ?1)
            AND COALESCE((SELECT c.seq FROM auto_reply_cursors c
                           WHERE c.user_id = p.user_id AND c.room_id = p.room_id), 0)
                < (SELECT COALESCE(MAX(m.seq), 0) FROM messages m WHERE m.room_id = p.room_id)",
    )?;
    let rows = stmt.query_map([room], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// `owner`'s enabled rules and up to `limit` messages of `room` after the
/// owner's cursor there.
pub fn work(
    conn: &Connection,
    owner: UserId,
    room: RoomId,
    limit: u32,
) -> StoreResult<AutoReplyWork> {
    let cursor: Seq = conn
        .prepare_cached("SELECT seq FROM auto_reply_cursors WHERE user_id = ?1 AND room_id = ?2")?
        .query_row(params![owner, room], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    let rules = {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM auto_replies WHERE user_id = ?1 AND enabled = 1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([owner], from_row)?;
        rows.collect::<Result<_, _>>()?
    };
    let messages = messages::after(conn, room, cursor, limit, owner)?;
    Ok(AutoReplyWork { rules, messages })
}

/// Records that `owner`'s messages of `room` up to `seq` are handled. A
/// cursor never moves back.
pub fn move_cursor(conn: &Connection, owner: UserId, room: RoomId, seq: Seq) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO auto_reply_cursors (user_id, room_id, seq) VALUES (?1, ?2, ?3)
         ON CONFLICT (user_id, room_id) DO UPDATE SET seq = max(seq, excluded.seq)",
    )?
    .execute(params![owner, room, seq])?;
    Ok(())
}
