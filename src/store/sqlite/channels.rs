//! Channels a user belongs to, with member counts and ratings.

use super::filtered::List;
use super::rooms;
use crate::model::{Channel, RoomId, Timestamp, UserId};
use crate::query::{Field, FieldType, Filter, Value};
use crate::store::StoreResult;
use rusqlite::{params, Connection, OptionalExtension, Row};

/// Members of channel `r`.
macro_rules! members {
    () => {
        "(SELECT count(*) FROM participants x WHERE x.room_id = r.id)"
    };
}
/// The average rating of channel `r`, to two places.
macro_rules! rating {
    () => {
        "(SELECT round(avg(rate), 2) FROM channel_ratings c WHERE c.room_id = r.id)"
    };
}
/// How many rated channel `r`.
macro_rules! ratings {
    () => {
        "(SELECT count(*) FROM channel_ratings c WHERE c.room_id = r.id)"
    };
}
/// Member ?1's rating of channel `r`.
macro_rules! my_rating {
    () => {
        "(SELECT rate FROM channel_ratings c WHERE c.room_id = r.id AND c.user_id = ?1)"
    };
}

/// The channel columns after the room's, for member ?1.
const CHANNEL_COLUMNS: &str = concat!(
    members!(),
    ", ",
    rating!(),
    ", ",
    ratings!(),
    ", ",
    my_rating!()
);

/// The channels member ?1 is in.
const FROM: &str = "participants p JOIN rooms r ON r.id = p.room_id";
const MINE: &str = "p.user_id = ?1 AND r.kind = 'channel'";

/// What `GET /api/channels?query=` may filter on, for member ?1: the
/// room's own fields (not its type: every one is a channel) and the counts
/// and ratings a channel shows.
pub const FILTER_FIELDS: &[Field] = &[
    Field::new("id", "r.id", FieldType::Integer),
    Field::new("name", "r.name", FieldType::Text),
    Field::new("public", "r.public", FieldType::Boolean),
    Field::new("creatorId", "r.creator_id", FieldType::Integer),
    Field::new("createdAt", "r.created_at", FieldType::Timestamp),
    Field::new("members", members!(), FieldType::Integer),
    // Whole numbers compare with the average as numbers: `rating >= 50`.
    Field::new("rating", rating!(), FieldType::Integer),
    Field::new("ratings", ratings!(), FieldType::Integer),
    Field::new("myRating", my_rating!(), FieldType::Integer),
];

fn from_row(r: &Row) -> rusqlite::Result<Channel> {
    Ok(Channel {
        room: rooms::from_row(r)?,
        members: r.get(6)?,
        rating: r.get(7)?,
        ratings: r.get(8)?,
        my_rating: r.get(9)?,
    })
}

/// A page of the channels `user` is in that pass `filter` (checked against
/// [`FILTER_FIELDS`]), by id, and how many pass in all.
pub fn page(
    conn: &Connection,
    user: UserId,
    filter: Option<&Filter>,
    offset: u64,
    limit: u32,
) -> StoreResult<(Vec<Channel>, u64)> {
    let columns = format!("{}, {CHANNEL_COLUMNS}", rooms::COLUMNS);
    let mut list = List::with_params(&columns, FROM, "r.id", vec![Value::Integer(user)]);
    list.fixed(MINE);
    list.filter(filter);
    let total = list.count(conn)?;
    let items = list.fetch(conn, Some(limit), offset, from_row)?;
    Ok((items, total))
}

/// One channel `user` is in; `None` for a room that is not a channel or
/// that they are not in.
pub fn one(conn: &Connection, user: UserId, room: RoomId) -> StoreResult<Option<Channel>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {cols}, {CHANNEL_COLUMNS} FROM {FROM} WHERE {MINE} AND r.id = ?2",
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
