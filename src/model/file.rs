//! Uploaded files as the API shows them.

use super::{Timestamp, UserId};
use serde::Serialize;

pub type FileId = i64;

/// One upload. The bytes are the blob named by `sha256`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StoredFile {
    pub id: FileId,
    /// Lower-case hex of the content's SHA-256.
    pub sha256: String,
    pub size: u64,
    /// What the bytes are, judged from the bytes themselves.
    pub content_type: String,
    pub name: String,
    pub uploader_id: Option<UserId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    pub created_at: Timestamp,
}

impl StoredFile {
    pub fn is_image(&self) -> bool {
        self.width.is_some() && self.height.is_some()
    }
}

/// A blob already on disk, to be recorded as an upload.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub sha256: String,
    pub size: u64,
    pub content_type: String,
    pub name: String,
    pub uploader_id: UserId,
    /// Pixel size, for images.
    pub dimensions: Option<(u32, u32)>,
}
