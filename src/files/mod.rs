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
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::sync::{Mutex, OwnedMutexGuard};

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

/// Stripes of the blob locks: enough that uploads of different bytes
/// rarely wait for each other, few enough to keep them all.
const LOCK_STRIPES: usize = 64;

/// Held while a blob is put in place until its file row is stored, and
/// while a freed blob is checked and removed: so a removal never takes the
/// bytes of an upload that found them already on disk.
pub type BlobLock = OwnedMutexGuard<()>;

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
    /// The blob's lock: drop it once the file row is stored.
    pub lock: BlobLock,
}

/// The `data/files` directory.
#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
    locks: Arc<[Arc<Mutex<()>>]>,
}

impl Blobs {
    pub fn new(data_dir: &Path) -> Blobs {
        Blobs {
            root: data_dir.join("files"),
            locks: (0..LOCK_STRIPES)
                .map(|_| Arc::new(Mutex::new(())))
                .collect(),
        }
    }

    /// Waits for the lock of the blob with this hash (see [`BlobLock`]).
    pub async fn lock(&self, sha256: &str) -> BlobLock {
        let stripe = sha256
            .get(..2)
            .and_then(|prefix| usize::from_str_radix(prefix, 16).ok())
            .unwrap_or(0)
            % LOCK_STRIPES;
        self.locks[stripe].clone().lock_owned().await
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

    /// Removes a blob and its cached variants, once no file names it; the
    /// caller holds its [`BlobLock`]. Already gone is fine. Blocking.
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
        let lock = self.lock(&sha256).await;
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
            lock,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// An upload holds its blob's lock until it lets go (once its row is
    /// stored), so a removal of the same bytes waits for it.
    #[tokio::test]
    async fn a_received_blob_stays_locked_until_let_go() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(dir.path());
        let body = futures_util::stream::iter([Ok(Bytes::from_static(b"same bytes"))]);
        let received = blobs.receive(body, 1024).await.unwrap();
        let sha256 = received.sha256.clone();
        let waiting = tokio::time::timeout(Duration::from_millis(50), blobs.lock(&sha256)).await;
        assert!(waiting.is_err(), "a removal must wait for the upload");
        drop(received.lock);
        let _removal = blobs.lock(&sha256).await;
        assert!(blobs.path(&sha256).exists());
    }
}
