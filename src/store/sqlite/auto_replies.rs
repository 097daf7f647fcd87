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
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

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

/// Stores a new rule unless `new.user_id` already has `max_rules`.
pub fn create(conn: &mut Connection, new: &NewAutoReply, max_rules: u32) -> StoreResult<AutoReply> {
    let now = Timestamp::now().millis();
    // Immediate: the count and the insert see the same rules, so two
    // requests at once cannot both add the last one allowed.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let count: u32 = tx
        .prepare_cached("SELECT COUNT(*) FROM auto_replies WHERE user_id = ?1")?
        .query_row([new.user_id], |r| r.get(0))?;
    if count >= max_rules {
        return Err(StoreError::Conflict(format!(
            "you already have {max_rules} auto-reply rules, the most allowed; \
             delete or change one instead"
        )));
    }
    let first_enabled = new.enabled && !has_enabled(&tx, new.user_id)?;
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
    if first_enabled {
        skip_history(&tx, rule.user_id)?;
    }
    tx.commit()?;
    Ok(rule)
}

/// Whether `owner` has an enabled rule.
fn has_enabled(conn: &Connection, owner: UserId) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM auto_replies WHERE user_id = ?1 AND enabled = 1)",
        )?
        .query_row([owner], |r| r.get(0))?)
}

/// Moves `owner`'s cursor in each direct room to its last message, for
/// when the owner goes from no enabled rule to one. No rule can answer
/// what is there (a rule answers only messages from its `active_since`
/// on), so the replier must not read through it: after months with every
/// rule off that would be every message since, while other owners wait.
/// With another rule already enabled nothing moves: messages after a
/// cursor may still be waiting for that rule.
fn skip_history(conn: &Connection, owner: UserId) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO auto_reply_cursors (user_id, room_id, seq)
         SELECT p.user_id, p.room_id,
                (SELECT COALESCE(MAX(m.seq), 0) FROM messages m WHERE m.room_id = p.room_id)
           FROM participants p JOIN rooms r ON r.id = p.room_id
          WHERE p.user_id = ?1 AND r.kind = 'direct'
         ON CONFLICT (user_id, room_id) DO UPDATE SET seq = max(seq, excluded.seq)",
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
    // Immediate, so whether another rule is enabled cannot change before
    // the update is in.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let had_enabled = has_enabled(&tx, owner)?;
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
    if rule.enabled && !had_enabled {
        skip_history(&tx, owner)?;
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
/// owners with an enabled rule; only `room`'s when given. Each owner
/// counts once however many rules they have.
pub fn targets(conn: &Connection, room: Option<RoomId>) -> StoreResult<Vec<(UserId, RoomId)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.user_id, p.room_id
           FROM (SELECT DISTINCT user_id FROM auto_replies WHERE enabled = 1) a
           JOIN participants p ON p.user_id = a.user_id
           JOIN rooms r ON r.id = p.room_id AND r.kind = 'direct'
          WHERE (?1 IS NULL OR p.room_id = ?1)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A database with users 1 and 2 and their direct room 1 and group
    /// room 2.
    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO users (login, password_hash, name, created_at) VALUES ('a', '', 'A', 0), ('b', '', 'B', 0);
             INSERT INTO rooms (kind, creator_id, created_at) VALUES ('direct', 1, 0), ('group', 1, 0);
             INSERT INTO participants (room_id, user_id, role, joined_at)
             VALUES (1, 1, 'owner', 0), (1, 2, 'member', 0), (2, 1, 'owner', 0), (2, 2, 'member', 0);",
        )
        .unwrap();
        conn
    }

    /// User 2 says something in `room` with the next seq.
    fn say(conn: &Connection, room: RoomId) {
        conn.execute(
            "INSERT INTO messages (room_id, seq, message_id, sender_id, kind, content, created_at)
             VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE room_id = ?1),
                     ?2, 2, 'text', 'x', 0)",
            params![room, uuid::Uuid::new_v4().as_bytes().to_vec()],
        )
        .unwrap();
    }

    fn rule(enabled: bool) -> NewAutoReply {
        NewAutoReply {
            user_id: 1,
            pattern: "p".into(),
            match_mode: MatchMode::Literal,
            contact_id: None,
            reply: "r".into(),
            enabled,
        }
    }

    fn enable(conn: &mut Connection, id: i64, on: bool) {
        let patch = AutoReplyPatch {
            enabled: Some(on),
            ..AutoReplyPatch::default()
        };
        update(conn, 1, id, &patch).unwrap();
    }

    fn cursor(conn: &Connection, room: RoomId) -> Option<Seq> {
        conn.query_row(
            "SELECT seq FROM auto_reply_cursors WHERE user_id = 1 AND room_id = ?1",
            [room],
            |r| r.get(0),
        )
        .optional()
        .unwrap()
    }

    #[test]
    fn turning_the_first_rule_on_skips_history_and_a_second_moves_nothing() {
        let mut conn = db();
        say(&conn, 1);
        say(&conn, 2);
        let a = create(&mut conn, &rule(true), 100).unwrap();
        assert_eq!(cursor(&conn, 1), Some(1));
        assert_eq!(cursor(&conn, 2), None, "group rooms are never read");

        // Months with every rule off: turning one on again does not make
        // the replier read through what was said meanwhile.
        enable(&mut conn, a.id, false);
        say(&conn, 1);
        say(&conn, 1);
        enable(&mut conn, a.id, true);
        assert_eq!(cursor(&conn, 1), Some(3));
        enable(&mut conn, a.id, false);
        say(&conn, 1);
        create(&mut conn, &rule(true), 100).unwrap();
        assert_eq!(cursor(&conn, 1), Some(4), "creating one does the same");

        // With a rule on, what waits after the cursor stays for it.
        say(&conn, 1);
        create(&mut conn, &rule(true), 100).unwrap();
        enable(&mut conn, a.id, true);
        assert_eq!(cursor(&conn, 1), Some(4));
        // A cursor never moves back.
        move_cursor(&conn, 1, 1, 5).unwrap();
        for r in page(&conn, 1, None, 0, 100).unwrap().0 {
            enable(&mut conn, r.id, false);
        }
        conn.execute("DELETE FROM messages WHERE room_id = 1 AND seq = 5", [])
            .unwrap();
        enable(&mut conn, a.id, true);
        assert_eq!(cursor(&conn, 1), Some(5));
    }

    #[test]
    fn an_owner_is_a_target_once_however_many_rules_and_only_in_direct_rooms() {
        let mut conn = db();
        for _ in 0..3 {
            create(&mut conn, &rule(true), 100).unwrap();
        }
        say(&conn, 1);
        say(&conn, 2);
        assert_eq!(targets(&conn, None).unwrap(), [(1, 1)]);
        assert_eq!(targets(&conn, Some(1)).unwrap(), [(1, 1)]);
        assert!(targets(&conn, Some(2)).unwrap().is_empty());
    }

    #[test]
    fn rules_past_the_most_allowed_are_refused_and_not_stored() {
        let mut conn = db();
        create(&mut conn, &rule(true), 2).unwrap();
        create(&mut conn, &rule(false), 2).unwrap();
        let err = create(&mut conn, &rule(true), 2).unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(page(&conn, 1, None, 0, 100).unwrap().1, 2);
        let other = NewAutoReply {
            user_id: 2,
            ..rule(true)
        };
        create(&mut conn, &other, 2).expect("the limit is per user");
    }
}
