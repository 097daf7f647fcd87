//! Receipts (read and delivered positions in `participants`) and presence
//! (`users.last_seen_at`, who shares a room with whom).

use super::rooms;
use crate::model::receipts::MyRoom;
use crate::model::{RoomId, Seq, Timestamp, UserId};
use crate::store::StoreResult;
use rusqlite::{params, Connection, OptionalExtension};

/// My rooms with the room's last seq, my positions and my unread count.
/// The count reads only the index range after my read position (messages
/// are keyed by (room_id, seq)), so it costs what is unread, not the room's
/// size.
pub fn rooms_with_receipts(conn: &Connection, user: UserId) -> StoreResult<Vec<MyRoom>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {cols}, p.last_read_seq, p.last_delivered_seq,
            (SELECT COALESCE(MAX(m.seq), 0) FROM messages m WHERE m.room_id = r.id),
            (SELECT COUNT(*) FROM messages m
              WHERE m.room_id = r.id AND m.seq > p.last_read_seq AND m.sender_id IS NOT ?1)
         FROM participants p JOIN rooms r ON r.id = p.room_id
         WHERE p.user_id = ?1 ORDER BY r.id",
        cols = rooms::COLUMNS
    ))?;
    let rows = stmt.query_map([user], |r| {
        Ok(MyRoom {
            room: rooms::from_row(r)?,
            read_seq: r.get(6)?,
            delivered_seq: r.get(7)?,
            last_seq: r.get(8)?,
            unread: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every member's read position in a room.
pub fn read_positions(conn: &Connection, room: RoomId) -> StoreResult<Vec<(UserId, Seq)>> {
    let mut stmt =
        conn.prepare_cached("SELECT user_id, last_read_seq FROM participants WHERE room_id = ?1")?;
    let rows = stmt.query_map([room], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Moves members' delivered positions in one room forward (never back),
/// in one transaction.
pub fn mark_delivered(
    conn: &mut Connection,
    room: RoomId,
    positions: &[(UserId, Seq)],
) -> StoreResult<()> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "UPDATE participants SET last_delivered_seq = ?3
             WHERE room_id = ?1 AND user_id = ?2 AND last_delivered_seq < ?3",
        )?;
        for (user, seq) in positions {
            stmt.execute(params![room, user, seq])?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub fn set_last_seen(conn: &Connection, user: UserId, at: Timestamp) -> StoreResult<()> {
    conn.prepare_cached("UPDATE users SET last_seen_at = ?2 WHERE id = ?1")?
        .execute(params![user, at.millis()])?;
    Ok(())
}

/// Everyone who shares at least one room with `user` (not `user`).
pub fn co_members(conn: &Connection, user: UserId) -> StoreResult<Vec<UserId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT o.user_id FROM participants me
         JOIN participants o ON o.room_id = me.room_id
         WHERE me.user_id = ?1 AND o.user_id <> ?1",
    )?;
    let rows = stmt.query_map([user], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// `user`'s last-seen time if `viewer` may know it (it is them, or they
/// share a room); `None` when they may not.
pub fn last_seen_for(
    conn: &Connection,
    viewer: UserId,
    user: UserId,
) -> StoreResult<Option<Option<Timestamp>>> {
    let row: Option<Option<i64>> = conn
        .prepare_cached(
            "SELECT u.last_seen_at FROM users u WHERE u.id = ?2 AND (?1 = ?2 OR EXISTS (
                SELECT 1 FROM participants a JOIN participants b ON b.room_id = a.room_id
                WHERE a.user_id = ?1 AND b.user_id = ?2))",
        )?
        .query_row([viewer, user], |r| r.get(0))
        .optional()?;
    Ok(row.map(|at| at.map(Timestamp)))
}
