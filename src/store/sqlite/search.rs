//! The search index in `search.db`: its schema, the writes the indexer
//! thread makes (see `indexer.rs`), and the search itself — ranked by bm25
//! over the index, limited to the rooms the searcher is a participant of,
//! with an HTML-safe highlighted snippet per hit, and the messages read from
//! the main database.
//!
//! `search.db` only ever holds what `palaver.db` already says, so it may be
//! deleted at any time: the next start rebuilds it.

use super::filtered::List;
use super::{messages, reactions, rooms, MMAP_BYTES};
use crate::model::{Rev, RoomId, SearchHit, SearchQuery, Seq};
use crate::query::Value;
use crate::store::{StoreError, StoreResult};
use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rusqlite::{params, Connection};
use std::collections::HashMap;
use std::path::Path;

/// Name of the index's database file inside the data directory.
pub const SEARCH_DB_FILE: &str = "search.db";

/// Marks snippet() puts around matches: private-use characters, so the
/// text can be HTML-escaped first and the marks turned into tags after.
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';
/// Tokens of context in a snippet.
const SNIPPET_TOKENS: u32 = 16;

/// The schema `search.db` is at; a file at another version is emptied and
/// rebuilt (it is only a copy of what `palaver.db` holds).
const SCHEMA_VERSION: u32 = 1;

/// `messages_fts` keeps its own copy of the text (snippet() needs it) under
/// rowid = room_id << 32 | seq, which maps an index row back to its message
/// and makes a room a rowid range. Seqs stay below 2^32 per room.
/// `marks` says how far each room is indexed: every message up to `seq`,
/// with every change up to `rev` applied. Marks and rows change in the same
/// transaction, so after a crash they still agree.
const SCHEMA: &str = "
    CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(
        content,
        tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TABLE IF NOT EXISTS marks (
        room_id INTEGER PRIMARY KEY,
        seq     INTEGER NOT NULL,
        rev     INTEGER NOT NULL
    );";

/// How far one room is indexed; see [`SCHEMA`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mark {
    pub seq: Seq,
    pub rev: Rev,
}

/// Creates the index's tables, or empties them when the file is at another
/// schema version.
pub fn create(conn: &Connection) -> StoreResult<()> {
    let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version != SCHEMA_VERSION {
        if version != 0 {
            tracing::warn!(version, "search index at another version: rebuilding it");
        }
        conn.execute_batch(
            "DROP TABLE IF EXISTS messages_fts;
             DROP TABLE IF EXISTS marks;",
        )?;
    }
    conn.execute_batch(SCHEMA)?;
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(())
}

pub fn load_marks(conn: &Connection) -> StoreResult<HashMap<RoomId, Mark>> {
    let mut stmt = conn.prepare("SELECT room_id, seq, rev FROM marks")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            Mark {
                seq: r.get(1)?,
                rev: r.get(2)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn set_mark(conn: &Connection, room: RoomId, mark: Mark) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO marks (room_id, seq, rev) VALUES (?1, ?2, ?3)
         ON CONFLICT (room_id) DO UPDATE SET seq = excluded.seq, rev = excluded.rev",
    )?
    .execute(params![room, mark.seq, mark.rev])?;
    Ok(())
}

/// Drops a room's rows and mark (the room is gone, or its mark is ahead of
/// the main database, which only a restored or power-cut copy can be).
pub fn forget_room(conn: &Connection, room: RoomId) -> StoreResult<()> {
    conn.prepare_cached(
        "DELETE FROM messages_fts WHERE rowid BETWEEN ?1 << 32 AND (?1 << 32) | 4294967295",
    )?
    .execute([room])?;
    conn.prepare_cached("DELETE FROM marks WHERE room_id = ?1")?
        .execute([room])?;
    Ok(())
}

/// Adds a new message's text. The caller knows the row is not there.
pub fn insert(conn: &Connection, room: RoomId, seq: Seq, text: &str) -> StoreResult<()> {
    conn.prepare_cached("INSERT INTO messages_fts (rowid, content) VALUES ((?1 << 32) | ?2, ?3)")?
        .execute(params![room, seq, text])?;
    Ok(())
}

/// Makes the message's row say `text`, or removes it (`None`).
pub fn replace(conn: &Connection, room: RoomId, seq: Seq, text: Option<&str>) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM messages_fts WHERE rowid = (?1 << 32) | ?2")?
        .execute(params![room, seq])?;
    if let Some(text) = text {
        insert(conn, room, seq, text)?;
    }
    Ok(())
}

/// The name the main database is attached under on search connections
/// (see [`attach_main`]).
const MAIN_SCHEMA: &str = "chat";

/// Attaches the main database, read-only, to a `search.db` connection, so a
/// search can filter its hits on the messages' columns in the same query
/// (before ranking and paging). URI filenames are on: rusqlite opens every
/// connection with `SQLITE_OPEN_URI`, which ATTACH follows.
pub fn attach_main(conn: &Connection, main_path: &Path) -> rusqlite::Result<()> {
    // A URI path is percent-encoded: `?`, `#` and `%` would otherwise end
    // or escape it. Everything but unreserved characters and `/` is.
    const PATH: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let path = percent_encode(main_path.as_os_str().as_encoded_bytes(), PATH);
    // Bound, not spliced: the path never becomes SQL text.
    conn.execute(
        &format!("ATTACH DATABASE ?1 AS {MAIN_SCHEMA}"),
        [format!("file:{path}?mode=ro")],
    )?;
    // The pragma without a schema name set the main database's only.
    conn.execute_batch(&format!("PRAGMA {MAIN_SCHEMA}.mmap_size = {MMAP_BYTES};"))
}

/// What a hit reads from the index: its room and seq (from the rowid, see
/// [`SCHEMA`]), the snippet with the matches between [`OPEN`] and
/// [`CLOSE`], and its bm25 rank.
fn hit_columns() -> String {
    format!(
        "f.rowid >> 32, f.rowid & 4294967295,
         snippet(messages_fts, 0, char({open}), char({close}), '…', {SNIPPET_TOKENS}),
         bm25(messages_fts)",
        open = OPEN as u32,
        close = CLOSE as u32,
    )
}

/// Index rows among `rooms` (`?2`, a JSON array of ids, bound as one value
/// so the statement text stays the same for any number of rooms) that match
/// the FTS5 query `?1`. The room is the high half of the rowid.
const SCOPE: &str = "messages_fts MATCH ?1
       AND (f.rowid >> 32) IN (SELECT value FROM json_each(?2))";

/// The hit's message in the main database, where a `query=` filter is
/// evaluated: a primary-key lookup per hit. Inside this subquery the
/// filter's bare column names (`SEARCH_FILTER_FIELDS`) resolve to
/// `messages` — the innermost FROM wins — never to the index's own
/// `content`.
const MESSAGE_OF_HIT: &str =
    "chat.messages WHERE room_id = f.rowid >> 32 AND seq = f.rowid & 4294967295";

/// The hits of `q` among `rooms` (see [`SCOPE`]) that pass its filter,
/// best first; `columns` from [`hit_columns`].
fn hits<'a>(columns: &'a str, q: &SearchQuery, rooms: String) -> List<'a> {
    let params = vec![Value::Text(q.q.clone()), Value::Text(rooms)];
    let mut list = List::with_params(
        columns,
        "messages_fts f",
        "bm25(messages_fts), f.rowid DESC",
        params,
    );
    list.fixed(SCOPE);
    // After the scope, in parentheses: it narrows the rooms, never widens.
    list.filter_exists(q.filter.as_ref(), MESSAGE_OF_HIT);
    list
}

/// Searches the rooms `q.user_id` is in: the ranked hits from the index
/// (`index`, a `search.db` connection with the main database attached),
/// filtered by `q.filter` before they are counted and paged, and their
/// messages from the main database (`main`). Returns the hits of the page
/// and the total count.
pub fn search(
    main: &Connection,
    index: &Connection,
    q: &SearchQuery,
) -> StoreResult<(Vec<SearchHit>, u64)> {
    let rooms: Vec<RoomId> = match q.room_id {
        Some(room) => match rooms::member_role(main, room, q.user_id)? {
            Some(_) => vec![room],
            None => Vec::new(),
        },
        None => rooms::ids_of_user(main, q.user_id)?,
    };
    // Still parsed when there is no room to look in, so a broken query is
    // a 400 for everyone.
    let rooms = serde_json::to_string(&rooms)
        .map_err(|e| StoreError::Internal(format!("cannot encode room ids: {e}")))?;
    let columns = hit_columns();
    let list = hits(&columns, q, rooms);
    let run = || -> rusqlite::Result<_> {
        let total = list.count(index)?;
        let found = list.fetch(index, Some(q.limit), q.offset, |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        Ok((found, total))
    };
    let (found, total): (Vec<(RoomId, Seq, String, f64)>, u64) = run().map_err(query_error)?;
    let mut hits = Vec::with_capacity(found.len());
    for (room, seq, snippet, rank) in found {
        // Deleted (or its room deleted) since the index was read: skipped.
        let Some(mut message) = messages::by_seq(main, room, seq)?.filter(|m| !m.deleted) else {
            continue;
        };
        message.reactions = reactions::of_message(main, room, seq, Some(q.user_id))?;
        hits.push(SearchHit {
            message,
            snippet: mark(&snippet),
            rank,
        });
    }
    Ok((hits, total))
}

/// The plan of `q`'s page query, for tests that check how a filtered
/// search reads the main database.
#[cfg(test)]
pub fn plan(index: &Connection, q: &SearchQuery) -> StoreResult<Vec<String>> {
    let columns = hit_columns();
    Ok(hits(&columns, q, "[1]".into()).plan(index)?)
}

/// The mark of one room as stored, for tests that look behind the indexer.
#[cfg(test)]
pub fn stored_mark(conn: &Connection, room: RoomId) -> StoreResult<Option<Mark>> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row(
            "SELECT seq, rev FROM marks WHERE room_id = ?1",
            [room],
            |r| {
                Ok(Mark {
                    seq: r.get(0)?,
                    rev: r.get(1)?,
                })
            },
        )
        .optional()?)
}

/// FTS5 reports a query it cannot parse as a plain SQLITE_ERROR at step
/// time ("fts5: syntax error near ...", "unterminated string", "no such
/// column: x"...). The statements are built only from our own SQL and
/// allow-listed columns (a `query=` filter is checked before it gets here,
/// and its values are bound), so a plain SQLITE_ERROR here is the query's
/// fault: 400. Only messages
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
