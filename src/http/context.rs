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
    path: String,
    headers: HeaderMap,
    query: String,
    params: Vec<(String, String)>,
    body: Bytes,
    /// The unread body, for routes that stream it (uploads).
    stream: Option<Incoming>,
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
    /// A request whose body the handler reads itself, as a stream with a
    /// limit of its own (uploads).
    pub fn streaming(
        app: Arc<App>,
        req: Request<Incoming>,
        params: Vec<(String, String)>,
        peer: std::net::IpAddr,
    ) -> Ctx {
        let (parts, body) = req.into_parts();
        Ctx {
            app,
            method: parts.method,
            peer,
            path: parts.uri.path().to_owned(),
            headers: parts.headers,
            query: parts.uri.query().unwrap_or_default().to_owned(),
            params,
            body: Bytes::new(),
            stream: Some(body),
        }
    }

    /// A request with its JSON body read in full, within the body limit.
    pub async fn read(
        app: Arc<App>,
        req: Request<Incoming>,
        params: Vec<(String, String)>,
        peer: std::net::IpAddr,
    ) -> Result<Ctx> {
        let limit = app.config.max_body_bytes;
        let mut ctx = Ctx::streaming(app, req, params, peer);
        let too_large =
            || Error::PayloadTooLarge(format!("the request body is over the {limit}-byte limit"));
        let declared = ctx
            .header(CONTENT_LENGTH.as_str())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let Some(stream) = ctx.stream.take() else {
            return Ok(ctx);
        };
        let body = Limited::new(stream, limit)
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
            let content_type = ctx.header(CONTENT_TYPE.as_str()).unwrap_or_default();
            let essence = content_type.split(';').next().unwrap_or_default().trim();
            if essence != "application/json" && !essence.ends_with("+json") {
                return Err(Error::UnsupportedMediaType(format!(
                    "send the body as application/json, not '{content_type}'"
                )));
            }
        }
        ctx.body = body;
        Ok(ctx)
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

    /// The body stream of a [`Ctx::streaming`] request (once).
    pub fn take_stream(&mut self) -> Option<Incoming> {
        self.stream.take()
    }

    /// A request header as text, if present and printable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// This request's path and query with parameter `name` set to `value`
    /// (added, or replacing every earlier one): a link to another page of
    /// the same list that keeps the client's other parameters.
    pub fn link_with(&self, name: &str, value: &str) -> String {
        let mut pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(&self.query).unwrap_or_default();
        pairs.retain(|(k, _)| k != name);
        pairs.push((name.to_owned(), value.to_owned()));
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("{}?{query}", self.path)
    }

    pub fn query<T: DeserializeOwned>(&self) -> Result<T> {
        serde_urlencoded::from_str(&self.query)
            .map_err(|e| Error::BadRequest(format!("invalid query string: {e}")))
    }

    /// The query string as name/value pairs, in order.
    pub fn query_pairs(&self) -> Result<Vec<(String, String)>> {
        self.query()
    }

    /// A path parameter as text.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
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

    /// The Management API's gate: 404 when no administrator is configured
    /// (the API does not exist then), 401 without a live admin token. The
    /// token comes as `admin-accesstoken` or as a Bearer token.
    pub fn admin(&self) -> Result<&crate::auth::AdminAuth> {
        let admin = self.admin_enabled()?;
        let token = self.admin_token().ok_or_else(|| {
            Error::Unauthorized(
                "missing admin token: send 'admin-accesstoken: <token>' from POST /api/admin/auth"
                    .into(),
            )
        })?;
        if !admin.is_valid(token) {
            return Err(Error::Unauthorized(
                "the admin token is not valid or has expired; log in again at POST /api/admin/auth"
                    .into(),
            ));
        }
        Ok(admin)
    }

    /// The administrator, or 404 when the Management API is off.
    pub fn admin_enabled(&self) -> Result<&crate::auth::AdminAuth> {
        self.app
            .admin
            .as_ref()
            .ok_or_else(|| Error::NotFound(format!("no endpoint at {}", self.path)))
    }

    /// The admin token this request carries, if any (for logout).
    pub fn admin_token(&self) -> Option<&str> {
        self.headers
            .get("admin-accesstoken")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .or_else(|| self.token())
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
