//! The `files` table: one row per upload; the bytes are on disk.

use crate::model::{FileId, NewFile, StoredFile, Timestamp, UserId};
use crate::store::{StoreError, StoreResult};
use rusqlite::{params, Connection, OptionalExtension, Row};

const COLUMNS: &str =
    "id, lower(hex(sha256)), size, content_type, name, uploader_id, width, height, created_at";

fn from_row(r: &Row) -> rusqlite::Result<StoredFile> {
    Ok(StoredFile {
        id: r.get(0)?,
        sha256: r.get(1)?,
        size: r.get(2)?,
        content_type: r.get(3)?,
        name: r.get(4)?,
        uploader_id: r.get(5)?,
        width: r.get(6)?,
        height: r.get(7)?,
        created_at: Timestamp(r.get(8)?),
    })
}

fn hash_bytes(hex: &str) -> StoreResult<Vec<u8>> {
    hex::decode(hex)
        .ok()
        .filter(|bytes| bytes.len() == 32)
        .ok_or_else(|| StoreError::Internal(format!("not a SHA-256 in hex: {hex}")))
}

/// Records an upload. The same uploader sending the same bytes again gets
/// the existing row and `false`.
pub fn create(conn: &Connection, new: &NewFile) -> StoreResult<(StoredFile, bool)> {
    let hash = hash_bytes(&new.sha256)?;
    let inserted = conn
        .prepare_cached(&format!(
            "INSERT INTO files (sha256, size, content_type, name, uploader_id, width, height, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (uploader_id, sha256) DO NOTHING
             RETURNING {COLUMNS}"
        ))?
        .query_row(
            params![
                hash,
                new.size,
                new.content_type,
                new.name,
                new.uploader_id,
                new.dimensions.map(|d| d.0),
                new.dimensions.map(|d| d.1),
                Timestamp::now().millis()
            ],
            from_row,
        )
        .optional()?;
    if let Some(file) = inserted {
        return Ok((file, true));
    }
    let existing = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM files WHERE uploader_id = ?1 AND sha256 = ?2"
        ))?
        .query_row(params![new.uploader_id, hash], from_row)?;
    Ok((existing, false))
}

/// Whether any file row names the blob with this hash.
pub fn blob_in_use(conn: &Connection, sha256: &str) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM files WHERE sha256 = ?1 LIMIT 1")?
        .exists([hash_bytes(sha256)?])?)
}

/// The file, if `reader` may read it: they uploaded it, or a message
/// (not deleted) in a room they are in carries it.
pub fn readable_by(
    conn: &Connection,
    id: FileId,
    reader: UserId,
) -> StoreResult<Option<StoredFile>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM files f
              WHERE f.id = ?1
                AND (f.uploader_id = ?2 OR EXISTS (
                     SELECT 1 FROM messages m
                       JOIN participants p ON p.room_id = m.room_id AND p.user_id = ?2
                      WHERE m.file_id = f.id AND m.deleted_at IS NULL))"
        ))?
        .query_row(params![id, reader], from_row)
        .optional()?)
}
