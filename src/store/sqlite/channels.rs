//! Channels a user belongs to, with member counts and ratings.

use super::rooms;
use crate::model::{Channel, RoomId, Timestamp, UserId};
use crate::store::StoreResult;
use rusqlite::{params, Connection, OptionalExtension, Row};

/// The channel columns after the room's, for member ?1.
const CHANNEL_COLUMNS: &str = "
    (SELECT count(*) FROM participants x WHERE x.room_id = r.id),
    (SELECT round(avg(rate), 2) FROM channel_ratings c WHERE c.room_id = r.id),
    (SELECT count(*) FROM channel_ratings c WHERE c.room_id = r.id),
    (SELECT rate FROM channel_ratings c WHERE c.room_id = r.id AND c.user_id = ?1)";

fn from_row(r: &Row) -> rusqlite::Result<Channel> {
    Ok(Channel {
        room: rooms::from_row(r)?,
        members: r.get(6)?,
        rating: r.get(7)?,
        ratings: r.get(8)?,
        my_rating: r.get(9)?,
    })
}

/// A page of the channels `user` is in, by id, and how many there are.
pub fn page(
    conn: &Connection,
    user: UserId,
    offset: u64,
    limit: u32,
) -> StoreResult<(Vec<Channel>, u64)> {
    let total: u64 = conn
        .prepare_cached(
            "SELECT count(*) FROM participants p JOIN rooms r ON r.id = p.room_id
              WHERE p.user_id = ?1 AND r.kind = 'channel'",
        )?
        .query_row([user], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {cols}, {CHANNEL_COLUMNS}
           FROM participants p JOIN rooms r ON r.id = p.room_id
          WHERE p.user_id = ?1 AND r.kind = 'channel'
          ORDER BY r.id LIMIT ?2 OFFSET ?3",
        cols = rooms::COLUMNS
    ))?;
    let rows = stmt.query_map(params![user, limit, offset], from_row)?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

/// One channel `user` is in; `None` for a room that is not a channel or
/// that they are not in.
pub fn one(conn: &Connection, user: UserId, room: RoomId) -> StoreResult<Option<Channel>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {cols}, {CHANNEL_COLUMNS}
               FROM participants p JOIN rooms r ON r.id = p.room_id
              WHERE p.user_id = ?1 AND r.id = ?2 AND r.kind = 'channel'",
            cols = rooms::COLUMNS
        ))?
        .query_row(params![user, room], from_row)
        .optional()?)
}

/// Sets `user`'s rating of a channel (replacing an earlier one).
pub fn rate(conn: &Connection, user: UserId, room: RoomId, rate: u8) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO channel_ratings (room_id, user_id, rate, rated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (room_id, user_id) DO UPDATE SET rate = excluded.rate, rated_at = excluded.rated_at",
    )?
    .execute(params![room, user, rate, Timestamp::now().millis()])?;
    Ok(())
}
