//! The `reactions` table: who reacted to which message with which emoji,
//! and the per-emoji counts messages carry.

use crate::model::{Message, Reaction, RoomId, Seq, Timestamp, UserId};
use crate::store::StoreResult;
use rusqlite::{params, Connection, Row};

/// One (message, emoji) group of the counting queries below.
fn group(r: &Row) -> rusqlite::Result<(Seq, Reaction)> {
    Ok((
        r.get(0)?,
        Reaction {
            emoji: r.get(1)?,
            count: r.get(2)?,
            me: r.get(3)?,
        },
    ))
}

/// Counts per emoji of the messages with seq in [lo, hi], in order of each
/// emoji's first use. `viewer` 0 matches nobody (ids start at 1).
const COUNTS: &str = "SELECT seq, emoji, COUNT(*), MAX(user_id = ?4), MIN(created_at) AS first
     FROM reactions WHERE room_id = ?1 AND seq BETWEEN ?2 AND ?3
     GROUP BY seq, emoji ORDER BY seq, first";

/// Fills `reactions` of a run of one room's messages (a history page): one
/// range scan over their seqs.
pub fn attach_range(
    conn: &Connection,
    room: RoomId,
    messages: &mut [Message],
    viewer: Option<UserId>,
) -> StoreResult<()> {
    let (Some(lo), Some(hi)) = (
        messages.iter().map(|m| m.seq).min(),
        messages.iter().map(|m| m.seq).max(),
    ) else {
        return Ok(());
    };
    let mut stmt = conn.prepare_cached(COUNTS)?;
    let rows = stmt.query_map(params![room, lo, hi, viewer.unwrap_or(0)], group)?;
    for row in rows {
        let (seq, reaction) = row?;
        // Pages are ordered by seq (either way), so the index is a subtraction.
        let at = seq.abs_diff(messages[0].seq);
        if let Some(m) = messages.get_mut(at as usize).filter(|m| m.seq == seq) {
            m.reactions.push(reaction);
        }
    }
    Ok(())
}

/// The reaction counts of one message.
pub fn of_message(
    conn: &Connection,
    room: RoomId,
    seq: Seq,
    viewer: Option<UserId>,
) -> StoreResult<Vec<Reaction>> {
    let mut stmt = conn.prepare_cached(COUNTS)?;
    let rows = stmt.query_map(params![room, seq, seq, viewer.unwrap_or(0)], group)?;
    Ok(rows
        .map(|r| r.map(|(_, reaction)| reaction))
        .collect::<Result<_, _>>()?)
}

/// Adds the user's reaction; `false` if it was already there.
pub fn add(
    conn: &Connection,
    room: RoomId,
    seq: Seq,
    emoji: &str,
    user: UserId,
    at: Timestamp,
) -> StoreResult<bool> {
    let n = conn
        .prepare_cached(
            "INSERT INTO reactions (room_id, seq, emoji, user_id, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        )?
        .execute(params![room, seq, emoji, user, at.millis()])?;
    Ok(n == 1)
}

/// Removes the user's reaction; `false` if there was none.
pub fn remove(
    conn: &Connection,
    room: RoomId,
    seq: Seq,
    emoji: &str,
    user: UserId,
) -> StoreResult<bool> {
    let n = conn
        .prepare_cached(
            "DELETE FROM reactions
             WHERE room_id = ?1 AND seq = ?2 AND emoji = ?3 AND user_id = ?4",
        )?
        .execute(params![room, seq, emoji, user])?;
    Ok(n == 1)
}

/// How many reacted to the message with this emoji.
pub fn count(conn: &Connection, room: RoomId, seq: Seq, emoji: &str) -> StoreResult<u64> {
    Ok(conn
        .prepare_cached(
            "SELECT COUNT(*) FROM reactions WHERE room_id = ?1 AND seq = ?2 AND emoji = ?3",
        )?
        .query_row(params![room, seq, emoji], |r| r.get(0))?)
}

/// Drops every reaction of a message (it was deleted).
pub fn clear(conn: &Connection, room: RoomId, seq: Seq) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM reactions WHERE room_id = ?1 AND seq = ?2")?
        .execute(params![room, seq])?;
    Ok(())
}
