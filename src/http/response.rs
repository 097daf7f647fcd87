//! Response bodies in the one style of PRODUCT.md: `{"data", "meta"}` on
//! success, `{"status": "ok"}` when there is nothing to return, and the
//! error envelope from `error.rs`.

use crate::error::Error;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CONTENT_TYPE, ETAG, LOCATION, RETRY_AFTER};
use hyper::{Response, StatusCode};
use serde::Serialize;

/// Bodies are boxed so a file can stream from disk while JSON answers are
/// one buffer.
pub type Body = BoxBody<Bytes, std::io::Error>;

/// A body that is one buffer.
pub fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// What a handler returns; turned into a response in one place.
pub struct Reply {
    status: StatusCode,
    body: Bytes,
    location: Option<String>,
    /// A response the handler built itself (file downloads): sent as it is.
    raw: Option<Response<Body>>,
}

#[derive(Serialize)]
struct Envelope<'a, T: Serialize, M: Serialize> {
    data: &'a T,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<&'a M>,
}

fn json<T: Serialize>(value: &T) -> Bytes {
    // Our response types serialize infallibly (string keys, no NaN).
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

impl Reply {
    pub fn ok<T: Serialize>(data: &T) -> Reply {
        Reply::with_meta(data, None::<&()>)
    }

    pub fn with_meta<T: Serialize, M: Serialize>(data: &T, meta: Option<&M>) -> Reply {
        Reply {
            status: StatusCode::OK,
            body: json(&Envelope { data, meta }),
            location: None,
            raw: None,
        }
    }

    /// 201 with a `Location` header.
    pub fn created<T: Serialize>(data: &T, location: String) -> Reply {
        Reply {
            status: StatusCode::CREATED,
            body: json(&Envelope {
                data,
                meta: None::<&()>,
            }),
            location: Some(location),
            raw: None,
        }
    }

    /// A response built by the handler, with its own headers and caching.
    pub fn raw(response: Response<Body>) -> Reply {
        Reply {
            status: response.status(),
            body: Bytes::new(),
            location: None,
            raw: Some(response),
        }
    }

    /// `{"status": "ok"}` for actions with nothing to return.
    pub fn done() -> Reply {
        Reply {
            status: StatusCode::OK,
            body: Bytes::from_static(br#"{"status":"ok"}"#),
            location: None,
            raw: None,
        }
    }

    /// `cache_check` is the request's `If-None-Match` for a GET (`Some("")`
    /// when absent) and `None` for other methods: GET answers carry an ETag,
    /// and a client that already has this version gets 304 and no body.
    pub fn into_response(self, cache_check: Option<&str>) -> Response<Body> {
        if let Some(raw) = self.raw {
            return raw;
        }
        let etag = cache_check
            .filter(|_| self.status == StatusCode::OK)
            .map(|if_none_match| {
                let tag = etag_of(&self.body);
                let fresh = if_none_match
                    .split(',')
                    .any(|t| t.trim() == tag || t.trim() == "*");
                (tag, fresh)
            });
        let not_modified = etag.as_ref().is_some_and(|(_, fresh)| *fresh);
        let mut resp = if not_modified {
            let mut r = Response::new(full(Bytes::new()));
            *r.status_mut() = StatusCode::NOT_MODIFIED;
            r
        } else {
            let mut r = Response::new(full(self.body));
            *r.status_mut() = self.status;
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r
        };
        if let Some(tag) = etag.and_then(|(tag, _)| HeaderValue::from_str(&tag).ok()) {
            resp.headers_mut().insert(ETAG, tag);
        }
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            resp.headers_mut().insert(LOCATION, location);
        }
        resp
    }
}

pub fn error(e: &Error) -> Response<Body> {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = Response::new(full(json(&e.envelope())));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    match e {
        Error::RateLimited { retry_after_secs } => {
            headers.insert(RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        Error::RangeNotSatisfiable { size } => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                headers.insert(hyper::header::CONTENT_RANGE, v);
            }
        }
        Error::MethodNotAllowed { allow } => {
            if let Ok(v) = HeaderValue::from_str(allow) {
                headers.insert(hyper::header::ALLOW, v);
            }
        }
        _ => {}
    }
    resp
}

/// A validator for the body. Not a security boundary, so a fast 64-bit
/// hash with a fixed seed (stable across restarts) rather than SHA-256;
/// foldhash rather than SipHash, which took 5% of the server's CPU on the
/// history load hashing 20 KB pages.
fn etag_of(body: &[u8]) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = foldhash::fast::FixedState::with_seed(0).build_hasher();
    hasher.write(body);
    format!("\"{:016x}-{:x}\"", hasher.finish(), body.len())
}
