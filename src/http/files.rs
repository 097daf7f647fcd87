//! Uploads and downloads: `POST /api/files` (multipart, streamed to disk)
//! and `GET /api/files/{id}` (ranges, image variants, caching headers).

use super::context::Ctx;
use super::response::{Body, Reply};
use crate::error::{Error, Result};
use crate::files::variant::{self, Variant};
use crate::files::ReceiveError;
use crate::model::{NewFile, StoredFile};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;
use std::path::PathBuf;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// The multipart field that carries the file.
const FILE_FIELD: &str = "file";
/// Room for the multipart framing (boundaries, part headers) on top of the
/// file itself.
const MULTIPART_OVERHEAD_BYTES: u64 = 64 * 1024;
/// Longest file name kept, in characters.
const MAX_NAME_CHARS: usize = 255;

/// POST /api/files — multipart/form-data with one part named `file`.
/// 201 + `Location` with the stored file; the same bytes from the same
/// uploader again answer 200 with the first upload.
pub async fn upload(mut ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let content_type = ctx.header("content-type").unwrap_or_default().to_owned();
    let boundary = multer::parse_boundary(&content_type).map_err(|_| {
        Error::UnsupportedMediaType(
            "send the file as multipart/form-data with a part named 'file'".into(),
        )
    })?;
    let max = ctx.app.config.max_upload_bytes;
    let declared = ctx
        .header("content-length")
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max + MULTIPART_OVERHEAD_BYTES) {
        return Err(too_large(max));
    }
    let body = ctx
        .take_stream()
        .ok_or_else(|| Error::Internal("upload body already taken".into()))?
        .into_data_stream();
    let limits = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().whole_stream(max + MULTIPART_OVERHEAD_BYTES));
    let mut multipart = multer::Multipart::with_constraints(body, boundary, limits);
    let mut field = loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some(FILE_FIELD) => break field,
            // Other parts (a caption, say) are skipped.
            Ok(Some(_)) => continue,
            Ok(None) => {
                return Err(Error::validation(
                    FILE_FIELD,
                    "required",
                    "the form has no part named 'file'",
                ))
            }
            Err(e) => return Err(multipart_error(e, max)),
        }
    };
    let name = clean_name(field.file_name().unwrap_or("file"));
    let chunks =
        futures_util::stream::poll_fn(move |cx| field.poll_next_unpin(cx)).map(move |chunk| {
            chunk.map_err(|e| match e {
                multer::Error::StreamSizeExceeded { .. } => ReceiveError::TooLarge(max),
                other => ReceiveError::Interrupted(other.to_string()),
            })
        });
    let received = ctx
        .app
        .blobs
        .receive(Box::pin(chunks), max)
        .await
        .map_err(|e| match e {
            ReceiveError::TooLarge(max) => too_large(max),
            ReceiveError::Interrupted(reason) => {
                Error::BadRequest(format!("the upload could not be read: {reason}"))
            }
            ReceiveError::NotAnImage(content_type) => Error::validation(
                FILE_FIELD,
                "image",
                format!(
                    "the file looks like {content_type} but cannot be read as an image, or is over {} pixels on a side",
                    crate::files::MAX_IMAGE_SIDE
                ),
            ),
            ReceiveError::Io(e) => Error::Internal(format!("storing an upload: {e}")),
        })?;
    let new = NewFile {
        sha256: received.sha256,
        size: received.size,
        content_type: received.content_type,
        name,
        uploader_id: me,
        dimensions: received.dimensions,
    };
    let (file, created) = ctx.app.store.run(move |s| s.create_file(&new)).await?;
    // A row names the blob now: a removal waiting for the lock sees it.
    drop(received.lock);
    if created {
        Ok(Reply::created(&file, format!("/api/files/{}", file.id)))
    } else {
        Ok(Reply::ok(&file))
    }
}

#[derive(Deserialize)]
struct DownloadQuery {
    w: Option<u32>,
    h: Option<u32>,
    mode: Option<String>,
    download: Option<bool>,
}

/// GET /api/files/{id}?w=&h=&mode=resize|crop|fit&download=true — the
/// bytes, or an image variant (made once, then cached). Only the uploader
/// may read a file; anyone else gets 404.
pub async fn download(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    let id = ctx.id("id", "file")?;
    let q: DownloadQuery = ctx.query()?;
    let file = ctx
        .app
        .store
        .run(move |s| s.file_readable_by(id, me))
        .await?
        .ok_or_else(|| Error::not_found("file"))?;
    let wanted = Variant::parse(q.w, q.h, q.mode.as_deref())
        .map_err(|(name, code, message)| Error::validation(name, code, message))?;
    let original = ctx.app.blobs.path(&file.sha256);
    // A variant made for this request only: unlinked once opened.
    let mut one_off_variant = None;
    let (path, content_type, etag) = match wanted {
        None => (
            original,
            file.content_type.clone(),
            format!("\"{}\"", file.sha256),
        ),
        Some(v) if file.is_image() => {
            let (path, one_off) = variant_file(&ctx, &file, v, original.clone()).await?;
            one_off_variant = one_off.then(|| path.clone());
            let content_type = variant::output_content_type(&original).to_owned();
            (
                path,
                content_type,
                format!("\"{}-{}\"", file.sha256, v.key()),
            )
        }
        Some(_) => {
            return Err(Error::validation(
                "mode",
                "not_image",
                "w, h and mode apply to images only",
            ))
        }
    };
    if ctx
        .header("if-none-match")
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        let mut resp = Response::new(super::response::full(Bytes::new()));
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        set(&mut resp, header::ETAG, &etag);
        return Ok(Reply::raw(resp));
    }
    let mut handle = tokio::fs::File::open(&path)
        .await
        .map_err(|e| Error::Internal(format!("opening {}: {e}", path.display())))?;
    if let Some(one_off) = one_off_variant {
        // Open files stay readable after the unlink (Unix).
        let _ = tokio::fs::remove_file(one_off).await;
    }
    let size = handle
        .metadata()
        .await
        .map_err(|e| Error::Internal(format!("reading {}: {e}", path.display())))?
        .len();
    let range = match ctx.header("range") {
        None => None,
        Some(value) => byte_range(value, size)?,
    };
    let (start, len) = range.map_or((0, size), |(a, b)| (a, b - a + 1));
    handle
        .seek(std::io::SeekFrom::Start(start))
        .await
        .map_err(|e| Error::Internal(format!("seeking {}: {e}", path.display())))?;
    let stream =
        tokio_util::io::ReaderStream::new(handle.take(len)).map(|chunk| chunk.map(Frame::data));
    let body: Body = BodyExt::boxed(StreamBody::new(stream));
    let mut resp = Response::new(body);
    if let Some((a, b)) = range {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        set(
            &mut resp,
            header::CONTENT_RANGE,
            &format!("bytes {a}-{b}/{size}"),
        );
    }
    // Only media a browser shows without running anything go inline under
    // their own type; anything else (HTML, XML, SVG, ...) could run as a
    // page on this origin, so it is a download of opaque bytes.
    let inline_ok = renders_safely(&content_type);
    let served_type = if inline_ok {
        content_type.as_str()
    } else {
        "application/octet-stream"
    };
    set(&mut resp, header::CONTENT_TYPE, served_type);
    // Whatever a browser makes of it, it runs no script and loads nothing.
    set(
        &mut resp,
        header::CONTENT_SECURITY_POLICY,
        "sandbox; default-src 'none'",
    );
    set(&mut resp, header::CONTENT_LENGTH, &len.to_string());
    set(&mut resp, header::ETAG, &etag);
    set(&mut resp, header::ACCEPT_RANGES, "bytes");
    // The type was judged from the bytes; browsers must not guess another.
    set(&mut resp, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(&mut resp, header::CACHE_CONTROL, "private, max-age=86400");
    let disposition = if q.download.unwrap_or(false) || !inline_ok {
        "attachment"
    } else {
        "inline"
    };
    set(
        &mut resp,
        header::CONTENT_DISPOSITION,
        &content_disposition(disposition, &file.name),
    );
    Ok(Reply::raw(resp))
}

/// Most variants cached per image. Past it a variant is made for the one
/// request and dropped, so looping over sizes cannot fill the disk.
const MAX_CACHED_VARIANTS: usize = 16;

/// The variant's path, rendering it first if needed, and whether it is a
/// one-off to delete once opened (the image already has its share of
/// cached variants).
async fn variant_file(
    ctx: &Ctx,
    file: &StoredFile,
    wanted: Variant,
    original: PathBuf,
) -> Result<(PathBuf, bool)> {
    let path = ctx.app.blobs.variant_path(&file.sha256, &wanted.key());
    if tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return Ok((path, false));
    }
    let _slot = ctx
        .app
        .image_work
        .acquire()
        .await
        .map_err(|_| Error::ShuttingDown)?;
    let blobs = ctx.app.blobs.clone();
    let sha256 = file.sha256.clone();
    tokio::task::spawn_blocking(move || {
        // Another request may have made it while this one waited.
        if path.exists() {
            return Ok((path, false));
        }
        let (target, one_off) = if blobs.variant_count(&sha256) >= MAX_CACHED_VARIANTS {
            (blobs.temp_path(), true)
        } else {
            (path, false)
        };
        wanted.render(&original, &target)?;
        Ok((target, one_off))
    })
    .await
    .map_err(|e| Error::Internal(format!("image task: {e}")))?
    .map_err(|e: String| Error::Internal(format!("rendering a variant of {}: {e}", file.sha256)))
}

/// Types a browser displays inline without running anything.
fn renders_safely(content_type: &str) -> bool {
    variant::is_image_type(content_type)
        || content_type.starts_with("audio/")
        || content_type.starts_with("video/")
        || content_type == "application/pdf"
}

/// The one byte range asked for, as (first, last) inclusive; `None` to
/// send the whole file (several ranges are answered with all of it).
fn byte_range(value: &str, size: u64) -> Result<Option<(u64, u64)>> {
    let ranges = http_range_header::parse_range_header(value)
        .and_then(|parsed| parsed.validate(size))
        .map_err(|_| Error::RangeNotSatisfiable { size })?;
    Ok(match ranges.as_slice() {
        [one] => Some((*one.start(), *one.end())),
        _ => None,
    })
}

fn set(resp: &mut Response<Body>, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

/// `inline` or `attachment`, with an ASCII name for old clients and the
/// exact name percent-encoded (RFC 6266).
fn content_disposition(kind: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._- ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let exact = utf8_percent_encode(name, NON_ALPHANUMERIC);
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{exact}")
}

/// The client's file name without any path and control characters.
fn clean_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let name: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    if name.trim().is_empty() {
        "file".to_owned()
    } else {
        name
    }
}

fn too_large(max: u64) -> Error {
    Error::PayloadTooLarge(format!("the file is over the {max}-byte upload limit"))
}

fn multipart_error(e: multer::Error, max: u64) -> Error {
    match e {
        multer::Error::StreamSizeExceeded { .. } => too_large(max),
        other => Error::BadRequest(format!("the multipart body is malformed: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\x\\photo.png"), "photo.png");
        assert_eq!(clean_name("a\u{0}b\nc.txt"), "abc.txt");
        assert_eq!(clean_name("   "), "file");
    }

    #[test]
    fn disposition_is_quoted_safely() {
        assert_eq!(
            content_disposition("inline", "é \"x\".png"),
            "inline; filename=\"_ _x_.png\"; filename*=UTF-8''%C3%A9%20%22x%22%2Epng"
        );
    }

    #[test]
    fn ranges() {
        assert_eq!(byte_range("bytes=0-9", 100).unwrap(), Some((0, 9)));
        assert_eq!(byte_range("bytes=90-", 100).unwrap(), Some((90, 99)));
        assert_eq!(byte_range("bytes=-10", 100).unwrap(), Some((90, 99)));
        assert_eq!(byte_range("bytes=0-1,5-6", 100).unwrap(), None);
        assert_eq!(byte_range("bytes=100-200", 100).unwrap_err().status(), 416);
        assert_eq!(byte_range("pages=1", 100).unwrap_err().status(), 416);
    }
}
