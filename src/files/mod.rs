//! Uploaded bytes on disk: content-addressed blobs under `data/files`, and
//! cached image variants beside them.
//!
//! An upload streams into a temporary file while it is hashed and counted;
//! only a complete upload within the size limit is renamed to its hash's
//! path, so a cut-off or oversized upload leaves nothing behind, and equal
//! bytes are stored once.

pub mod variant;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// Bytes kept from the start of an upload to tell what it is.
const SNIFF_BYTES: usize = 8 * 1024;
/// Largest image side accepted, in pixels: beyond this decoding costs more
/// memory than a chat image deserves (decompression bombs).
pub const MAX_IMAGE_SIDE: u32 = 16_384;

/// Why an upload was not stored.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("the file is over the {0}-byte limit")]
    TooLarge(u64),
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
    /// The bytes start like an image of this type but do not decode, or
    /// are too large to.
    #[error("not a readable {0} image")]
    NotAnImage(String),
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
}

/// A complete upload, hashed, already at its content-addressed path.
#[derive(Debug)]
pub struct Received {
    /// Lower-case hex SHA-256.
    pub sha256: String,
    pub size: u64,
    /// The content type judged from the first bytes.
    pub content_type: String,
    /// Pixel size when the bytes are an image we can read.
    pub dimensions: Option<(u32, u32)>,
}

/// The `data/files` directory.
#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
}

impl Blobs {
    pub fn new(data_dir: &Path) -> Blobs {
        Blobs {
            root: data_dir.join("files"),
        }
    }

    /// Where the blob with this hash lives: `files/ab/abcdef…`, so no
    /// directory grows past a few thousand entries.
    pub fn path(&self, sha256: &str) -> PathBuf {
        let prefix = sha256.get(..2).unwrap_or("00");
        self.root.join(prefix).join(sha256)
    }

    /// Where a cached variant of a blob lives: one directory per blob, so
    /// its variants can be counted.
    pub fn variant_path(&self, sha256: &str, key: &str) -> PathBuf {
        self.root.join("variants").join(sha256).join(key)
    }

    /// How many variants of a blob are cached. Blocking.
    pub fn variant_count(&self, sha256: &str) -> usize {
        std::fs::read_dir(self.root.join("variants").join(sha256))
            .map_or(0, |entries| entries.count())
    }

    /// Removes a blob and its cached variants, once no file names it.
    /// Already gone is fine. Blocking.
    pub fn remove(&self, sha256: &str) -> std::io::Result<()> {
        let gone = |r: std::io::Result<()>| match r {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
        gone(std::fs::remove_file(self.path(sha256)))?;
        gone(std::fs::remove_dir_all(
            self.root.join("variants").join(sha256),
        ))
    }

    /// A fresh path for a file that lives only while it is served.
    pub fn temp_path(&self) -> PathBuf {
        self.root
            .join("tmp")
            .join(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Streams `body` to disk, at most `max_bytes`, then moves it to its
    /// content-addressed path. On any error nothing is left behind.
    pub async fn receive<S>(&self, body: S, max_bytes: u64) -> Result<Received, ReceiveError>
    where
        S: Stream<Item = Result<Bytes, ReceiveError>> + Unpin,
    {
        let temp = self.temp_path();
        if let Some(dir) = temp.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let result = self.write_temp(&temp, body, max_bytes).await;
        let (sha256, size, head) = match result {
            Ok(done) => done,
            Err(e) => {
                let _ = tokio::fs::remove_file(&temp).await;
                return Err(e);
            }
        };
        let content_type = infer::get(&head)
            .map(|kind| kind.mime_type())
            .unwrap_or("application/octet-stream")
            .to_owned();
        let dimensions = if variant::is_image_type(&content_type) {
            let probe = temp.clone();
            tokio::task::spawn_blocking(move || variant::dimensions(&probe))
                .await
                .ok()
                .flatten()
        } else {
            None
        };
        if variant::is_image_type(&content_type) && dimensions.is_none() {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(ReceiveError::NotAnImage(content_type));
        }
        let final_path = self.path(&sha256);
        if let Some(dir) = final_path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        if tokio::fs::try_exists(&final_path).await.unwrap_or(false) {
            // Deduplicated: the same bytes are already stored.
            let _ = tokio::fs::remove_file(&temp).await;
        } else if let Err(e) = tokio::fs::rename(&temp, &final_path).await {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(e.into());
        }
        Ok(Received {
            sha256,
            size,
            content_type,
            dimensions,
        })
    }

    async fn write_temp<S>(
        &self,
        temp: &Path,
        mut body: S,
        max_bytes: u64,
    ) -> Result<(String, u64, Vec<u8>), ReceiveError>
    where
        S: Stream<Item = Result<Bytes, ReceiveError>> + Unpin,
    {
        let mut file = tokio::fs::File::create(temp).await?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            if size > max_bytes {
                return Err(ReceiveError::TooLarge(max_bytes));
            }
            if head.len() < SNIFF_BYTES {
                let take = (SNIFF_BYTES - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        // The blob must be on disk before a row names it.
        file.sync_all().await?;
        let sha256 = hex::encode(hasher.finalize());
        Ok((sha256, size, head))
    }
}
