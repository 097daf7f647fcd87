//! One request as handlers see it: path parameters, query, the body read
//! within its size limit, and the caller's session.

use crate::app::App;
use crate::error::{Error, Result};
use crate::model::{FieldError, Session};
use crate::service;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request};
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// The only API version; `application/vnd.palaver.vN+json` with another N is 406.
const API_VERSION: u32 = 1;

pub struct Ctx {
    pub app: Arc<App>,
    pub method: Method,
    /// The client's address, for per-IP limits.
    pub peer: std::net::IpAddr,
    headers: HeaderMap,
    query: String,
    params: Vec<(String, String)>,
    body: Bytes,
}

/// Rejects an `Accept` header that asks for a version this server lacks.
pub fn check_accept(headers: &HeaderMap) -> Result<()> {
    for value in headers.get_all(hyper::header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for media in value.split(',') {
            let media = media.split(';').next().unwrap_or_default().trim();
            if let Some(rest) = media.strip_prefix("application/vnd.palaver.v") {
                let version = rest.strip_suffix("+json").unwrap_or(rest);
                if version.parse::<u32>().ok() != Some(API_VERSION) {
                    return Err(Error::NotAcceptable(format!(
                        "API version '{media}' is not available; this server speaks application/vnd.palaver.v{API_VERSION}+json"
                    )));
                }
            }
        }
    }
    Ok(())
}

impl Ctx {
    pub async fn read(
        app: Arc<App>,
        req: Request<Incoming>,
        params: Vec<(String, String)>,
        peer: std::net::IpAddr,
    ) -> Result<Ctx> {
        let limit = app.config.max_body_bytes;
        let (parts, body) = req.into_parts();
        let too_large =
            || Error::PayloadTooLarge(format!("the request body is over the {limit}-byte limit"));
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let body = Limited::new(body, limit)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    too_large()
                } else {
                    Error::BadRequest("the request body could not be read".into())
                }
            })?
            .to_bytes();
        if !body.is_empty() {
            let content_type = parts
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let essence = content_type.split(';').next().unwrap_or_default().trim();
            if essence != "application/json" && !essence.ends_with("+json") {
                return Err(Error::UnsupportedMediaType(format!(
                    "send the body as application/json, not '{content_type}'"
                )));
            }
        }
        Ok(Ctx {
            app,
            method: parts.method,
            peer,
            headers: parts.headers,
            query: parts.uri.query().unwrap_or_default().to_owned(),
            params,
            body,
        })
    }

    /// The body as JSON. Broken JSON is 400 and says where; JSON of the
    /// wrong shape is 422.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        if self.body.is_empty() {
            return Err(Error::BadRequest(
                "the request body is empty; send a JSON object".into(),
            ));
        }
        serde_json::from_slice(&self.body).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => Error::Validation(vec![FieldError::new(
                "body",
                "type",
                format!("the body does not have the expected fields: {e}"),
            )]),
            _ => Error::BadRequest(format!("the body is not valid JSON: {e}")),
        })
    }

    pub fn query<T: DeserializeOwned>(&self) -> Result<T> {
        serde_urlencoded::from_str(&self.query)
            .map_err(|e| Error::BadRequest(format!("invalid query string: {e}")))
    }

    /// An integer id from the path. Ids are integers, so anything else names
    /// nothing that exists.
    pub fn id(&self, name: &str, what: &str) -> Result<i64> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse().ok())
            .ok_or_else(|| Error::not_found(what))
    }

    /// A text parameter from the path, percent-decoded (an emoji arrives
    /// as `%F0%9F%91%8D`). Bytes that are not UTF-8 name nothing.
    pub fn text_param(&self, name: &str, what: &str) -> Result<String> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| percent_encoding::percent_decode_str(v).decode_utf8().ok())
            .map(|v| v.into_owned())
            .ok_or_else(|| Error::not_found(what))
    }

    pub fn token(&self) -> Option<&str> {
        let header = |name| {
            self.headers
                .get(name)
                .and_then(|v: &hyper::header::HeaderValue| v.to_str().ok())
        };
        header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .or_else(|| header("accesstoken"))
            .map(str::trim)
    }

    /// 429 when this client (and `account`, if given) has made too many
    /// sign-up or login attempts.
    pub fn check_auth_rate(&self, account: Option<&str>) -> Result<()> {
        self.app
            .check_auth_rate(self.peer, account)
            .map_err(|retry_after_secs| Error::RateLimited { retry_after_secs })
    }

    /// The caller's session, or 401.
    pub async fn session(&self) -> Result<Session> {
        let token = self.token().ok_or_else(|| {
            Error::Unauthorized("missing token: send 'Authorization: Bearer <token>'".into())
        })?;
        service::authenticate(&self.app, token).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(hyper::header::ACCEPT, v.parse().unwrap());
        h
    }

    #[test]
    fn versions() {
        assert!(check_accept(&HeaderMap::new()).is_ok());
        assert!(check_accept(&accept("application/json")).is_ok());
        assert!(check_accept(&accept("*/*")).is_ok());
        assert!(check_accept(&accept("application/vnd.palaver.v1+json")).is_ok());
        assert_eq!(
            check_accept(&accept("application/vnd.palaver.v2+json"))
                .unwrap_err()
                .status(),
            406
        );
    }
}
