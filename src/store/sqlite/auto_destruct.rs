//! Disappearing messages: the `auto_destructs` rules, the sweep that finds
//! messages older than their room's lifetime, and the queue of files the
//! destroyed messages carried.

use super::filtered::List;
use super::messages::id_text;
use crate::model::{
    AutoDestruct, DueMessage, FileId, FreedFile, RoomId, RoomSweep, Seq, Timestamp, UserId,
};
use crate::query::{Field, FieldType, Filter};
use crate::store::{StoreError, StoreResult};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

const COLUMNS: &str = "id, user_id, room_id, lifetime_secs, created_at";

fn from_row(r: &Row) -> rusqlite::Result<AutoDestruct> {
    Ok(AutoDestruct {
        id: r.get(0)?,
        user_id: r.get(1)?,
        room_id: r.get(2)?,
        lifetime_secs: r.get(3)?,
        created_at: Timestamp(r.get(4)?),
    })
}

/// A new rule; the user's second rule for the same room is a conflict.
pub fn create(
    conn: &Connection,
    owner: UserId,
    room: RoomId,
    lifetime_secs: i64,
) -> StoreResult<AutoDestruct> {
    conn.prepare_cached(&format!(
        "INSERT INTO auto_destructs (user_id, room_id, lifetime_secs, created_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (user_id, room_id) DO NOTHING
         RETURNING {COLUMNS}"
    ))?
    .query_row(
        params![owner, room, lifetime_secs, Timestamp::now().millis()],
        from_row,
    )
    .optional()?
    .ok_or_else(|| {
        StoreError::Conflict(
            "you already have a disappearing-messages rule for this conversation; change that one"
                .into(),
        )
    })
}

/// One of `owner`'s rules.
pub fn one(conn: &Connection, owner: UserId, id: i64) -> StoreResult<Option<AutoDestruct>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM auto_destructs WHERE id = ?1 AND user_id = ?2"
        ))?
        .query_row(params![id, owner], from_row)
        .optional()?)
}

/// What `query=` may filter rules by.
pub const FILTER_FIELDS: &[Field] = &[
    Field::new("id", "id", FieldType::Integer),
    Field::new("roomId", "room_id", FieldType::Integer),
    Field::new("lifetimeSecs", "lifetime_secs", FieldType::Integer),
    Field::new("createdAt", "created_at", FieldType::Timestamp),
];

/// A page of `owner`'s rules that pass `filter`, oldest first, and how many
/// pass in all.
pub fn page(
    conn: &Connection,
    owner: UserId,
    filter: Option<&Filter>,
    offset: u32,
    limit: u32,
) -> StoreResult<(Vec<AutoDestruct>, u64)> {
    List::owned(COLUMNS, "auto_destructs", "id", owner, filter).page(conn, limit, offset, from_row)
}

pub fn update(
    conn: &Connection,
    owner: UserId,
    id: i64,
    lifetime_secs: i64,
) -> StoreResult<AutoDestruct> {
    conn.prepare_cached(&format!(
        "UPDATE auto_destructs SET lifetime_secs = ?3 WHERE id = ?1 AND user_id = ?2
         RETURNING {COLUMNS}"
    ))?
    .query_row(params![id, owner, lifetime_secs], from_row)
    .optional()?
    .ok_or(StoreError::NotFound("disappearing-messages rule"))
}

pub fn delete(conn: &Connection, owner: UserId, id: i64) -> StoreResult<()> {
    let n = conn
        .prepare_cached("DELETE FROM auto_destructs WHERE id = ?1 AND user_id = ?2")?
        .execute(params![id, owner])?;
    if n == 0 {
        return Err(StoreError::NotFound("disappearing-messages rule"));
    }
    Ok(())
}

/// Rooms with a rule in force, each with its shortest lifetime in
/// milliseconds. A rule is in force while its author is in the room and,
/// outside direct rooms, an owner or admin of it.
fn rooms_in_force(conn: &Connection) -> StoreResult<Vec<(RoomId, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.room_id, min(a.lifetime_secs) * 1000
           FROM auto_destructs a
           JOIN participants p ON p.room_id = a.room_id AND p.user_id = a.user_id
           JOIN rooms r ON r.id = a.room_id
          WHERE r.kind = 'direct' OR p.role IN ('owner', 'admin')
          GROUP BY a.room_id
          ORDER BY a.room_id",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The shortest lifetime of any rule in force, in seconds: no message
/// posted from now on can fall due sooner than that.
pub fn shortest_lifetime(conn: &Connection) -> StoreResult<Option<i64>> {
    Ok(rooms_in_force(conn)?
        .into_iter()
        .map(|(_, ms)| ms / 1000)
        .min())
}

/// Finds up to `limit` messages (in all) older than their room's lifetime
/// at `now`, oldest first per room. System messages never disappear.
///
/// Each room is scanned by seq from its sweep mark and the scan stops at
/// the first live message still young: seq order is posting order, and a
/// message's time is stamped just before it gets its seq, so a later one
/// could at most be a few milliseconds older and is taken on the next pass.
pub fn sweep(conn: &Connection, now: Timestamp, limit: u32) -> StoreResult<Vec<RoomSweep>> {
    let mut left = limit;
    let mut sweeps = Vec::new();
    let mut live = conn.prepare_cached(
        "SELECT seq, message_id, file_id, created_at FROM messages
          WHERE room_id = ?1 AND seq > ?2 AND deleted_at IS NULL AND kind <> 'system'
          ORDER BY seq LIMIT ?3",
    )?;
    for (room_id, lifetime_ms) in rooms_in_force(conn)? {
        if left == 0 {
            break;
        }
        let mark = sweep_mark(conn, room_id)?;
        let cutoff = now.millis().saturating_sub(lifetime_ms);
        let mut sweep = RoomSweep {
            room_id,
            due: Vec::new(),
            swept_to: mark,
            next_due: None,
        };
        let mut rows = live.query(params![room_id, mark, left])?;
        while let Some(r) = rows.next()? {
            let seq: Seq = r.get(0)?;
            let created_at: i64 = r.get(3)?;
            if created_at > cutoff {
                sweep.next_due = Some(Timestamp(created_at.saturating_add(lifetime_ms)));
                sweep.swept_to = seq - 1;
                break;
            }
            sweep.due.push(DueMessage {
                seq,
                message_id: id_text(r, 1)?.unwrap_or_default(),
                file_id: r.get(2)?,
            });
            sweep.swept_to = seq;
        }
        left -= sweep.due.len() as u32;
        sweeps.push(sweep);
    }
    Ok(sweeps)
}

fn sweep_mark(conn: &Connection, room: RoomId) -> StoreResult<Seq> {
    Ok(conn
        .prepare_cached("SELECT seq FROM auto_destruct_sweeps WHERE room_id = ?1")?
        .query_row([room], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Moves the room's sweep mark forward to `seq` (never back).
pub fn mark_swept(conn: &Connection, room: RoomId, seq: Seq) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO auto_destruct_sweeps (room_id, seq) VALUES (?1, ?2)
         ON CONFLICT (room_id) DO UPDATE SET seq = max(seq, excluded.seq)",
    )?
    .execute(params![room, seq])?;
    Ok(())
}

/// Queues the files that messages about to be destroyed carry.
pub fn queue_frees(conn: &Connection, files: &[FileId]) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO auto_destruct_frees (file_id, sha256)
         SELECT id, sha256 FROM files WHERE id = ?1",
    )?;
    for file in files {
        stmt.execute([file])?;
    }
    Ok(())
}

/// Works through up to `limit` queued files after `after`, in id order. A
/// file a live message still carries is kept; any other loses its row (so
/// nobody can download it, its uploader included). Answers the blobs no
/// row names any more: they stay queued until [`forget_free`] says they
/// are off the disk.
pub fn free_queued(
    conn: &mut Connection,
    after: FileId,
    limit: u32,
) -> StoreResult<Vec<FreedFile>> {
    // Immediate: a deferred transaction that reads and then writes fails
    // with SQLITE_BUSY_SNAPSHOT when the writer commits in between.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let queued: Vec<(FileId, Vec<u8>)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT file_id, sha256 FROM auto_destruct_frees
              WHERE file_id > ?1 ORDER BY file_id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut blobs = Vec::new();
    for (file_id, sha256) in queued {
        // Tombstones carry no file, so any message naming it is live.
        let carried = tx
            .prepare_cached("SELECT 1 FROM messages WHERE file_id = ?1 LIMIT 1")?
            .exists([file_id])?;
        if !carried {
            tx.prepare_cached("DELETE FROM files WHERE id = ?1")?
                .execute([file_id])?;
        }
        let shared = tx
            .prepare_cached("SELECT 1 FROM files WHERE sha256 = ?1 LIMIT 1")?
            .exists([&sha256])?;
        if shared {
            tx.prepare_cached("DELETE FROM auto_destruct_frees WHERE file_id = ?1")?
                .execute([file_id])?;
        } else {
            blobs.push(FreedFile {
                file_id,
                sha256: hex::encode(sha256),
            });
        }
    }
    tx.commit()?;
    Ok(blobs)
}

/// The freed file's blob is off the disk.
pub fn forget_free(conn: &Connection, file_id: FileId) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM auto_destruct_frees WHERE file_id = ?1")?
        .execute([file_id])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database with users 1 and 2, direct room 1 and group room 2 (user
    /// 1 owns it, user 2 is a member), and `messages` of room `r` as
    /// (seq, kind, created_at, deleted).
    fn db(messages: &[(RoomId, Seq, &str, i64, bool)]) -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO users (login, password_hash, name, created_at) VALUES ('a', '', 'A', 0), ('b', '', 'B', 0);
             INSERT INTO rooms (kind, creator_id, created_at) VALUES ('direct', 1, 0), ('group', 1, 0);
             INSERT INTO participants (room_id, user_id, role, joined_at)
             VALUES (1, 1, 'owner', 0), (1, 2, 'member', 0), (2, 1, 'owner', 0), (2, 2, 'member', 0);",
        )
        .unwrap();
        for (room, seq, kind, at, deleted) in messages {
            conn.execute(
                "INSERT INTO messages (room_id, seq, message_id, sender_id, kind, content, created_at, deleted_at)
                 VALUES (?1, ?2, ?3, 1, ?4, 'x', ?5, ?6)",
                params![
                    room,
                    seq,
                    uuid::Uuid::new_v4().as_bytes().to_vec(),
                    kind,
                    at,
                    deleted.then_some(*at)
                ],
            )
            .unwrap();
        }
        conn
    }

    fn seqs(sweep: &RoomSweep) -> Vec<Seq> {
        sweep.due.iter().map(|m| m.seq).collect()
    }

    #[test]
    fn a_sweep_takes_old_messages_in_order_and_stops_at_the_first_young_one() {
        let conn = db(&[
            (1, 1, "system", 0, false),
            (1, 2, "text", 1_000, false),
            (1, 3, "text", 2_000, true),
            (1, 4, "text", 3_000, false),
            (1, 5, "text", 9_000, false),
            (1, 6, "text", 1_000, false),
        ]);
        create(&conn, 2, 1, 5).unwrap();
        let now = Timestamp(10_000);
        let sweeps = sweep(&conn, now, 100).unwrap();
        assert_eq!(sweeps.len(), 1);
        let s = &sweeps[0];
        // System messages and tombstones are skipped; seq 6 waits behind 5.
        assert_eq!(seqs(s), [2, 4]);
        assert_eq!(s.swept_to, 4);
        assert_eq!(s.next_due, Some(Timestamp(14_000)));

        // The batch bound holds, and the mark moves only forward.
        let s = &sweep(&conn, now, 1).unwrap()[0];
        assert_eq!((seqs(s), s.swept_to), (vec![2], 2));
        mark_swept(&conn, 1, 4).unwrap();
        mark_swept(&conn, 1, 2).unwrap();
        let s = &sweep(&conn, now, 100).unwrap()[0];
        assert!(s.due.is_empty());
        assert_eq!(s.swept_to, 4);
    }

    #[test]
    fn a_group_rule_is_in_force_only_for_its_owners_and_admins() {
        let conn = db(&[(2, 1, "text", 0, false)]);
        create(&conn, 2, 2, 1).unwrap();
        assert!(sweep(&conn, Timestamp(10_000), 100).unwrap().is_empty());
        assert_eq!(shortest_lifetime(&conn).unwrap(), None);
        create(&conn, 1, 2, 3).unwrap();
        let s = &sweep(&conn, Timestamp(10_000), 100).unwrap()[0];
        assert_eq!((s.room_id, seqs(s)), (2, vec![1]));
        assert_eq!(shortest_lifetime(&conn).unwrap(), Some(3));
    }
}
