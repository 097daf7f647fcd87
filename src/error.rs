//! The crate error and the ONE place that turns it into an HTTP status, a
//! JSON error envelope, or a WebSocket `error` frame / close code.
//!
//! Internal failures (SQLite, I/O, a stopped actor) are logged here with their
//! detail and reach the client only as "internal error".

use crate::model::FieldError;
use crate::store::StoreError;
use serde::Serialize;

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("{0}")]
    NotAcceptable(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A `Range` outside a file of `size` bytes.
    #[error("the requested range is outside the file")]
    RangeNotSatisfiable { size: u64 },
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    #[error("{0}")]
    Overloaded(String),
    #[error("the server is shutting down")]
    ShuttingDown,
    /// Detail for the log only; never sent to a client.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn not_found(what: &str) -> Self {
        Error::NotFound(format!("{what} not found"))
    }

    pub fn validation(name: &str, code: &str, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(name, code, message)])
    }

    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest(_) => 400,
            Error::Unauthorized(_) => 401,
            Error::Forbidden(_) => 403,
            Error::NotFound(_) => 404,
            Error::MethodNotAllowed { .. } => 405,
            Error::NotAcceptable(_) => 406,
            Error::Conflict(_) => 409,
            Error::PayloadTooLarge(_) => 413,
            Error::UnsupportedMediaType(_) => 415,
            Error::RangeNotSatisfiable { .. } => 416,
            Error::Validation(_) => 422,
            Error::RateLimited { .. } => 429,
            Error::Internal(_) => 500,
            Error::Overloaded(_) | Error::ShuttingDown => 503,
        }
    }

    /// Stable machine-readable code, shared by REST and WebSocket.
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadRequest(_) => "bad_request",
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not_found",
            Error::MethodNotAllowed { .. } => "method_not_allowed",
            Error::NotAcceptable(_) => "not_acceptable",
            Error::Conflict(_) => "conflict",
            Error::PayloadTooLarge(_) => "payload_too_large",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::RangeNotSatisfiable { .. } => "range_not_satisfiable",
            Error::Validation(_) => "validation_failed",
            Error::RateLimited { .. } => "rate_limited",
            Error::Overloaded(_) => "overloaded",
            Error::ShuttingDown => "shutting_down",
            Error::Internal(_) => "internal",
        }
    }

    /// The sentence a client sees. Internal detail is logged, not returned.
    pub fn reason(&self) -> String {
        match self {
            Error::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "internal error; the server log has details".to_owned()
            }
            Error::Validation(errors) => match errors.as_slice() {
                [one] => one.message.clone(),
                _ => "the request has invalid fields".to_owned(),
            },
            other => other.to_string(),
        }
    }

    /// The JSON error envelope of PRODUCT.md.
    pub fn envelope(&self) -> ErrorEnvelope {
        ErrorEnvelope {
            error: true,
            code: self.code(),
            reason: self.reason(),
            errors: match self {
                Error::Validation(errors) => errors.clone(),
                _ => Vec::new(),
            },
            retry_after: match self {
                Error::RateLimited { retry_after_secs } => Some(*retry_after_secs),
                _ => None,
            },
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorEnvelope {
    pub error: bool,
    pub code: &'static str,
    pub reason: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// WebSocket close codes (RFC 6455 §7.4.1) chosen in one place.
pub mod close_code {
    /// The server is going away (shutdown).
    pub const GOING_AWAY: u16 = 1001;
    /// The peer broke the protocol (e.g. a frame over the size limit).
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// Authentication failed, or the client was too slow to keep up.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// The frame exceeded the configured size.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// Server overloaded; reconnect later and resume.
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Error::not_found(what),
            StoreError::Conflict(reason) => Error::Conflict(reason),
            StoreError::Forbidden(reason) => Error::Forbidden(reason),
            StoreError::Invalid { field, reason } => Error::validation(field, "invalid", reason),
            StoreError::BadQuery(reason) => Error::BadRequest(reason),
            StoreError::Busy => {
                Error::Overloaded("the message writer is busy; retry shortly".to_owned())
            }
            StoreError::Closed => Error::ShuttingDown,
            StoreError::Internal(detail) => Error::Internal(detail),
        }
    }
}

impl From<actix::MailboxError> for Error {
    fn from(e: actix::MailboxError) -> Self {
        match e {
            actix::MailboxError::Closed => Error::ShuttingDown,
            actix::MailboxError::Timeout => {
                Error::Overloaded("the room is busy; retry shortly".to_owned())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_detail_never_reaches_the_client() {
        let e = Error::Internal("disk I/O error at /secret/path".into());
        let env = e.envelope();
        assert_eq!(e.status(), 500);
        assert!(!env.reason.contains("secret"));
    }

    #[test]
    fn error_is_small_and_thread_safe() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Error>();
        assert!(std::mem::size_of::<Error>() <= 32);
    }
}
