//! Password login and logout.

use super::context::Ctx;
use super::response::Reply;
use crate::auth as passwords;
use crate::error::{Error, Result};
use crate::model::validate::Checker;
use crate::model::{FieldError, NewSession, Timestamp, User};
use serde::{Deserialize, Serialize};

/// Longest device id we keep.
pub(super) const MAX_DEVICE_ID_CHARS: usize = 128;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Login {
    login: Option<String>,
    password: Option<String>,
    device_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LoggedIn {
    pub token: String,
    pub expires_at: Timestamp,
    pub user: User,
}

/// POST /api/auth/login {login, password, deviceId?} → {token, expiresAt, user}
pub async fn login(ctx: Ctx) -> Result<Reply> {
    let body: Login = ctx.json()?;
    let mut c = Checker::default();
    if body.login.is_none() {
        c.push(FieldError::required("login"));
    }
    if body.password.is_none() {
        c.push(FieldError::required("password"));
    }
    c.optional_text("deviceId", body.device_id.as_deref(), MAX_DEVICE_ID_CHARS);
    c.finish().map_err(Error::Validation)?;
    ctx.check_auth_rate(body.login.as_deref())?;
    let login = body.login.unwrap_or_default();
    let password = body.password.unwrap_or_default();
    let ttl = ctx.app.config.token_ttl_secs;
    let device_id = body.device_id;
    let _slot = ctx.app.password_slot().await?;
    let result = ctx
        .app
        .store
        .run(move |s| {
            let found = s.user_with_password(&login)?;
            // Verify even for an unknown login so timing reveals nothing.
            let ok = passwords::verify_password(&password, found.as_ref().map(|(_, h)| h.as_str()));
            let Some((user, _)) = found.filter(|_| ok) else {
                return Ok(None);
            };
            let token = passwords::new_token();
            let session = s.create_session(&NewSession {
                user_id: user.id,
                token_hash: passwords::token_hash(&token),
                device_id,
                expires_at: Timestamp::now().plus_seconds(ttl),
            })?;
            Ok(Some(LoggedIn {
                token,
                expires_at: session.expires_at,
                user,
            }))
        })
        .await?;
    let logged_in =
        result.ok_or_else(|| Error::Unauthorized("login or password is wrong".into()))?;
    Ok(Reply::ok(&logged_in))
}

/// POST /api/auth/logout — ends this session; the token stops working.
pub async fn logout(ctx: Ctx) -> Result<Reply> {
    let session = ctx.session().await?;
    ctx.app
        .store
        .run(move |s| s.revoke_session(session.id, Timestamp::now()))
        .await?;
    // After the revocation is stored, so no request can cache it again.
    crate::service::end_sessions(&ctx.app, session.user_id, Some(vec![session.id]));
    Ok(Reply::done())
}

/// POST /api/auth/logout-all — ends every session of mine, on every device;
/// their sockets close at once.
pub async fn logout_all(ctx: Ctx) -> Result<Reply> {
    let me = ctx.session().await?.user_id;
    ctx.app
        .store
        .run(move |s| s.revoke_all_sessions(me, None, Timestamp::now()))
        .await?;
    crate::service::end_sessions(&ctx.app, me, None);
    Ok(Reply::done())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangePassword {
    current_password: Option<String>,
    new_password: Option<String>,
}

/// PUT /api/me/password {currentPassword, newPassword} — every other
/// session of mine ends (their sockets close); this one stays.
pub async fn change_password(ctx: Ctx) -> Result<Reply> {
    let session = ctx.session().await?;
    let body: ChangePassword = ctx.json()?;
    let mut c = Checker::default();
    if body.current_password.is_none() {
        c.push(FieldError::required("currentPassword"));
    }
    crate::model::validate::password(&mut c, "newPassword", body.new_password.as_deref());
    c.finish().map_err(Error::Validation)?;
    let user_id = session.user_id;
    ctx.app
        .check_auth_rate(ctx.peer, Some(&format!("#{user_id}")))
        .map_err(|retry_after_secs| Error::RateLimited { retry_after_secs })?;
    let current = body.current_password.unwrap_or_default();
    let new = body.new_password.unwrap_or_default();
    let _slot = ctx.app.password_slot().await?;
    let changed = ctx
        .app
        .store
        .run(move |s| {
            let stored = s.password_hash(user_id)?;
            if !passwords::verify_password(&current, stored.as_deref()) {
                return Ok(None);
            }
            let hash = passwords::hash_for_store(&new)?;
            s.set_password_hash(user_id, &hash)?;
            s.revoke_all_sessions(user_id, Some(session.id), Timestamp::now())
                .map(Some)
        })
        .await?;
    let Some(ended) = changed else {
        return Err(Error::Forbidden("the current password is wrong".into()));
    };
    crate::service::end_sessions(&ctx.app, user_id, Some(ended));
    Ok(Reply::done())
}
