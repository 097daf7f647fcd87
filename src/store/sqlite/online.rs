//! Online time: the `online_intervals` a user actor opens and closes, the
//! daily goals, and the server heartbeat that says where a crash left the
//! intervals still open.

use crate::model::{OnlineGoal, OnlineInterval, Timestamp, UserId};
use crate::store::StoreResult;
use rusqlite::{params, Connection, OptionalExtension};

/// Opens an interval starting at `at`; returns its id.
pub fn open(conn: &Connection, user: UserId, at: Timestamp) -> StoreResult<i64> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO online_intervals (user_id, started_at) VALUES (?1, ?2) RETURNING id",
        )?
        .query_row(params![user, at.millis()], |r| r.get(0))?)
}

/// Closes an open interval at `at` (never before it started).
pub fn close(conn: &Connection, id: i64, at: Timestamp) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE online_intervals SET ended_at = max(started_at, ?2)
          WHERE id = ?1 AND ended_at IS NULL",
    )?
    .execute(params![id, at.millis()])?;
    Ok(())
}

/// The user's intervals that overlap `from..to`, an open one ending at
/// `now`, by start.
pub fn overlapping(
    conn: &Connection,
    user: UserId,
    from: Timestamp,
    to: Timestamp,
    now: Timestamp,
) -> StoreResult<Vec<OnlineInterval>> {
    let mut stmt = conn.prepare_cached(
        "SELECT started_at, coalesce(ended_at, ?4) FROM online_intervals
          WHERE user_id = ?1 AND (ended_at IS NULL OR ended_at > ?2) AND started_at < ?3
          ORDER BY started_at",
    )?;
    let rows = stmt.query_map(
        params![user, from.millis(), to.millis(), now.millis()],
        |r| {
            Ok(OnlineInterval {
                start: Timestamp(r.get(0)?),
                end: Timestamp(r.get(1)?),
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Records that the server is running at `at`.
pub fn heartbeat(conn: &Connection, at: Timestamp) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO online_heartbeat (id, at) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET at = excluded.at",
    )?
    .execute([at.millis()])?;
    Ok(())
}

/// Closes every interval a stopped server left open, at its last
/// heartbeat: the last moment it is known to have run. One opened after
/// that heartbeat (or with none) closes where it started, so downtime is
/// never counted. Returns how many were closed.
pub fn close_abandoned(conn: &Connection) -> StoreResult<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE online_intervals
                SET ended_at = max(started_at,
                                   coalesce((SELECT at FROM online_heartbeat WHERE id = 1), 0))
              WHERE ended_at IS NULL",
        )?
        .execute([])?)
}

pub fn goal(conn: &Connection, user: UserId) -> StoreResult<OnlineGoal> {
    Ok(conn
        .prepare_cached("SELECT minutes, notified_day FROM online_goals WHERE user_id = ?1")?
        .query_row([user], |r| {
            Ok(OnlineGoal {
                minutes: r.get(0)?,
                notified_day: r.get(1)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

/// Sets (`Some`) or clears (`None`) the goal; the day it was last reported
/// on is kept, so a goal set again the same day is not reported twice.
pub fn set_goal(conn: &Connection, user: UserId, minutes: Option<u32>) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO online_goals (user_id, minutes) VALUES (?1, ?2)
         ON CONFLICT (user_id) DO UPDATE SET minutes = excluded.minutes",
    )?
    .execute(params![user, minutes])?;
    Ok(())
}

/// Marks the goal reported on `day`; false when it already was, so of two
/// racing reporters only one sends.
pub fn mark_goal_notified(conn: &Connection, user: UserId, day: i64) -> StoreResult<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE online_goals SET notified_day = ?2
              WHERE user_id = ?1 AND notified_day IS NOT ?2",
        )?
        .execute(params![user, day])?;
    Ok(changed == 1)
}
