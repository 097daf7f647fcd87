//! Full-text search over `messages_fts` (see migration 0004): ranked by
//! bm25, limited to the rooms the searcher is a participant of, with an
//! HTML-safe highlighted snippet per hit.

use super::messages::{from_row, COLUMNS, COLUMN_COUNT};
use super::reactions;
use crate::model::{RoomId, SearchHit, SearchQuery, Seq};
use crate::store::{StoreError, StoreResult};
use rusqlite::{params, Connection, TransactionBehavior};
use std::collections::HashMap;

/// Marks snippet() puts around matches: private-use characters, so the
/// text can be HTML-escaped first and the marks turned into tags after.
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';
/// Tokens of context in a snippet.
const SNIPPET_TOKENS: u32 = 16;

/// Index rows of rooms the user is in (and of one room, if asked). The
/// room is the high half of the rowid.
const SCOPE: &str = "messages_fts MATCH ?1
       AND (f.rowid >> 32) IN (SELECT room_id FROM participants WHERE user_id = ?2)
       AND (?3 IS NULL OR (f.rowid >> 32) = ?3)";

pub fn search(conn: &Connection, q: &SearchQuery) -> StoreResult<(Vec<SearchHit>, u64)> {
    let sql = format!(
        "SELECT {columns}, snippet(messages_fts, 0, char({open}), char({close}), '…', {SNIPPET_TOKENS}),
                bm25(messages_fts)
         FROM messages_fts f
         JOIN messages m ON m.room_id = (f.rowid >> 32) AND m.seq = (f.rowid & 4294967295)
         WHERE {SCOPE} AND m.deleted_at IS NULL
         ORDER BY bm25(messages_fts), f.rowid DESC LIMIT ?4 OFFSET ?5",
        columns = prefixed_columns("m"),
        open = OPEN as u32,
        close = CLOSE as u32,
    );
    let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
    let run = || -> rusqlite::Result<(Vec<SearchHit>, u64)> {
        let total: u64 = conn
            .prepare_cached(&format!(
                "SELECT COUNT(*) FROM messages_fts f WHERE {SCOPE}"
            ))?
            .query_row(params![q.q, q.user_id, q.room_id], |r| r.get(0))?;
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![q.q, q.user_id, q.room_id, q.limit, offset], |r| {
            let snippet: String = r.get(COLUMN_COUNT)?;
            Ok(SearchHit {
                message: from_row(r)?,
                snippet: mark(&snippet),
                rank: r.get(COLUMN_COUNT + 1)?,
            })
        })?;
        Ok((rows.collect::<Result<_, _>>()?, total))
    };
    let (mut hits, total) = run().map_err(query_error)?;
    for hit in &mut hits {
        let m = &mut hit.message;
        m.reactions = reactions::of_message(conn, m.room_id, m.seq, Some(q.user_id))?;
    }
    Ok((hits, total))
}

/// A committed message the writer has not indexed yet. System messages
/// (`content: None`) are not indexed but still move the room's mark.
#[derive(Debug)]
pub struct Unindexed {
    pub room: RoomId,
    pub seq: Seq,
    pub content: Option<String>,
}

/// Indexes `rows` and moves each room's mark past them, in the caller's
/// transaction.
pub fn index(conn: &Connection, rows: &[Unindexed]) -> StoreResult<()> {
    let mut insert = conn
        .prepare_cached("INSERT INTO messages_fts (rowid, content) VALUES ((?1 << 32) | ?2, ?3)")?;
    let mut marks: HashMap<RoomId, Seq> = HashMap::new();
    for row in rows {
        if let Some(content) = &row.content {
            insert.execute(params![row.room, row.seq, content])?;
        }
        let mark = marks.entry(row.room).or_default();
        *mark = (*mark).max(row.seq);
    }
    let mut mark = conn.prepare_cached(
        "INSERT INTO search_indexed (room_id, seq) VALUES (?1, ?2)
         ON CONFLICT (room_id) DO UPDATE SET seq = max(seq, excluded.seq)",
    )?;
    for (room, seq) in marks {
        mark.execute(params![room, seq])?;
    }
    Ok(())
}

/// Indexes what a crash left queued: each room's messages above its mark.
/// Runs at start, before the writer; returns how many messages it indexed.
pub fn recover(conn: &mut Connection) -> StoreResult<usize> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let marks: Vec<(RoomId, Seq)> = tx
        .prepare(
            "SELECT r.id, COALESCE(w.seq, 0) FROM rooms r
             LEFT JOIN search_indexed w ON w.room_id = r.id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    {
        // An edited or deleted message was put right by the triggers, even
        // above the mark (a change in the commit that stored it); one that
        // is in the index already (a restored copy) is left as it is.
        let mut above = tx.prepare(
            "SELECT m.seq, m.kind, m.content,
                    m.edited_at IS NOT NULL OR m.deleted_at IS NOT NULL
                    OR EXISTS (SELECT 1 FROM messages_fts f
                               WHERE f.rowid = (m.room_id << 32) | m.seq)
             FROM messages m WHERE m.room_id = ?1 AND m.seq > ?2 ORDER BY m.seq",
        )?;
        for (room, mark) in marks {
            let found = above.query_map(params![room, mark], |r| {
                let (kind, done): (String, bool) = (r.get(1)?, r.get(3)?);
                let searchable = kind != "system" && !done;
                Ok(Unindexed {
                    room,
                    seq: r.get(0)?,
                    content: if searchable { Some(r.get(2)?) } else { None },
                })
            })?;
            for row in found {
                rows.push(row?);
            }
        }
    }
    index(&tx, &rows)?;
    tx.commit()?;
    Ok(rows.len())
}

fn prefixed_columns(table: &str) -> String {
    COLUMNS
        .split(',')
        .map(|c| format!("{table}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// FTS5 reports a query it cannot parse as a plain SQLITE_ERROR at step
/// time ("fts5: syntax error near ...", "unterminated string", "no such
/// column: x"...). The statements are fixed and prepared before stepping,
/// so a plain SQLITE_ERROR here is the query's fault: 400. Only messages
/// known to be about the query are passed on; I/O, corruption, busy and
/// the rest have other codes and stay internal.
fn query_error(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        if f.extended_code == rusqlite::ffi::SQLITE_ERROR {
            let known = [
                "fts5: ",
                "unterminated string",
                "no such column",
                "unknown special query",
            ];
            let detail = msg
                .as_deref()
                .filter(|m| known.iter().any(|k| m.starts_with(k)))
                .map(|m| format!(": {}", m.strip_prefix("fts5: ").unwrap_or(m)))
                .unwrap_or_default();
            return StoreError::BadQuery(format!("q is not a valid search query{detail}"));
        }
    }
    e.into()
}

/// HTML-escapes the snippet, then turns the match marks into `<mark>` tags.
fn mark(snippet: &str) -> String {
    let mut out = String::with_capacity(snippet.len() + 32);
    for c in snippet.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            OPEN => out.push_str("<mark>"),
            CLOSE => out.push_str("</mark>"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_escaped_before_marking() {
        assert_eq!(
            mark("a <b> \u{E000}lunch\u{E001} & \"x\""),
            "a &lt;b&gt; <mark>lunch</mark> &amp; &quot;x&quot;"
        );
    }
}
