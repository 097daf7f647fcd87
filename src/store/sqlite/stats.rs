//! Counts over every table, for the admin's overview.

use crate::model::{Counts, Timestamp};
use crate::store::StoreResult;
use rusqlite::Connection;

pub fn counts(conn: &Connection) -> StoreResult<Counts> {
    // One statement: the counts come from one snapshot of the database.
    Ok(conn
        .prepare_cached(
            "SELECT (SELECT count(*) FROM users),
                    (SELECT count(*) FROM rooms),
                    (SELECT count(*) FROM participants),
                    (SELECT count(*) FROM messages),
                    (SELECT count(*) FROM sessions
                      WHERE revoked_at IS NULL AND expires_at > ?1)",
        )?
        .query_row([Timestamp::now().millis()], |r| {
            Ok(Counts {
                users: r.get(0)?,
                rooms: r.get(1)?,
                participants: r.get(2)?,
                messages: r.get(3)?,
                live_sessions: r.get(4)?,
            })
        })?)
}
