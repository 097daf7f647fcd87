//! The administrator's login and logout.

use crate::error::{Error, Result};
use crate::http::context::Ctx;
use crate::http::response::Reply;
use crate::model::validate::Checker;
use crate::model::{FieldError, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct AdminLogin {
    username: Option<String>,
    password: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AdminToken {
    token: String,
    expires_at: Timestamp,
}

/// POST /api/admin/auth {username, password} → {token, expiresAt}; send the
/// token as `admin-accesstoken` (or Bearer) to the other admin endpoints.
pub async fn login(ctx: Ctx) -> Result<Reply> {
    let admin = ctx.admin_enabled()?;
    let body: AdminLogin = ctx.json()?;
    let mut c = Checker::default();
    if body.username.is_none() {
        c.push(FieldError::required("username"));
    }
    if body.password.is_none() {
        c.push(FieldError::required("password"));
    }
    c.finish().map_err(Error::Validation)?;
    // Per IP and for the one admin account: guessing is slowed either way.
    ctx.check_auth_rate(Some("admin:"))?;
    let (username, password) = (
        body.username.unwrap_or_default(),
        body.password.unwrap_or_default(),
    );
    if !admin.credentials_match(&username, &password) {
        return Err(Error::Unauthorized(
            "admin username or password is wrong".into(),
        ));
    }
    let (token, expires_at) = admin.issue();
    Ok(Reply::ok(&AdminToken { token, expires_at }))
}

/// POST /api/admin/auth/logout — this admin token stops working.
pub async fn logout(ctx: Ctx) -> Result<Reply> {
    let admin = ctx.admin()?;
    if let Some(token) = ctx.admin_token() {
        admin.revoke(token);
    }
    Ok(Reply::done())
}
