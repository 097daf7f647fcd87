//! Phone login: ask for a one-time code by SMS, then trade it for a
//! session. The first login with a number creates its account; a device
//! id, once used with a number, belongs to that number.

use super::auth::{LoggedIn, MAX_DEVICE_ID_CHARS};
use super::context::Ctx;
use super::response::Reply;
use crate::auth::{self, codes};
use crate::error::{Error, Result};
use crate::model::phone::{self as phones, PhoneCode, PhoneLogin, PhoneLoginOutcome};
use crate::model::validate::Checker;
use crate::model::{FieldError, Timestamp};
use serde::{Deserialize, Serialize};

/// Longest device type we keep ("browser", "ios", "android", ...).
const MAX_DEVICE_TYPE_CHARS: usize = 32;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CodeRequest {
    phone: Option<String>,
    device_id: Option<String>,
    device_type: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CodeSent {
    phone: String,
    expires_at: Timestamp,
    /// The device id to verify with: for a browser, the one already bound
    /// to this number (if any), else the one the client sent.
    device_id: Option<String>,
}

/// Checks the fields both endpoints take; returns the number in E.164
/// (empty when invalid, which `c` then reports).
fn check_fields(c: &mut Checker, body: &CodeRequest) -> String {
    let phone = phones::normalize("phone", body.phone.as_deref()).unwrap_or_else(|e| {
        c.push(e);
        String::new()
    });
    c.optional_text("deviceId", body.device_id.as_deref(), MAX_DEVICE_ID_CHARS);
    c.optional_text(
        "deviceType",
        body.device_type.as_deref(),
        MAX_DEVICE_TYPE_CHARS,
    );
    phone
}

/// A refused rate-limit check as the 429 it answers.
fn limited(check: std::result::Result<(), u64>) -> Result<()> {
    check.map_err(|retry_after_secs| Error::RateLimited { retry_after_secs })
}

fn device_forbidden() -> Error {
    Error::Forbidden("this device is registered to another phone number".into())
}

/// The SMS a code travels in.
fn sms_text(code: &str, ttl_secs: i64) -> String {
    let lifetime = if ttl_secs % 60 == 0 {
        format!("{} min", ttl_secs / 60)
    } else {
        format!("{ttl_secs} s")
    };
    format!("{code} is your palaver login code. It works for {lifetime}; do not share it.")
}

/// POST /api/auth/code {phone, deviceId?, deviceType?} → {phone, expiresAt, deviceId}
/// — sends a new code by SMS; an earlier code for the number stops working.
pub async fn send_code(ctx: Ctx) -> Result<Reply> {
    let body: CodeRequest = ctx.json()?;
    let mut c = Checker::default();
    let phone = check_fields(&mut c, &body);
    c.finish().map_err(Error::Validation)?;
    limited(ctx.app.phone.check_send_rate(ctx.peer, &phone))?;

    let ttl = ctx.app.config.phone_code_ttl_secs;
    let code = codes::new_code();
    let stored = PhoneCode {
        code_hash: ctx.app.phone.hasher.hash(&phone, &code),
        phone: phone.clone(),
        expires_at: Timestamp::now().plus_seconds(ttl),
        attempts_left: ctx.app.config.phone_code_attempts,
        used: false,
    };
    let text = sms_text(&code, ttl);
    let browser = body.device_type.as_deref() == Some(phones::BROWSER);
    let device_id = body.device_id;
    let sent = ctx
        .app
        .store
        .run(move |s| {
            let bound = if browser {
                s.browser_device_of_phone(&stored.phone)?
            } else {
                None
            };
            // A browser that gets the number's device id back uses that one,
            // so its own id does not matter.
            let device_id = match (bound, device_id) {
                (Some(bound), _) => Some(bound),
                (None, Some(own)) => match s.phone_of_device(&own)? {
                    Some(other) if other != stored.phone => return Ok(None),
                    _ => Some(own),
                },
                (None, None) => None,
            };
            let id = s.put_phone_code(&stored, &text)?;
            Ok(Some((id, device_id, stored.expires_at)))
        })
        .await?;
    let (outbox_id, device_id, expires_at) = sent.ok_or_else(device_forbidden)?;
    ctx.app.phone.sms.notify(outbox_id);
    Ok(Reply::ok(&CodeSent {
        phone,
        expires_at,
        device_id,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerifyRequest {
    #[serde(flatten)]
    device: CodeRequest,
    code: Option<String>,
}

/// A login's answer, plus the device id the session is bound to.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhoneLoggedIn {
    #[serde(flatten)]
    login: LoggedIn,
    device_id: String,
}

/// Why a code was not accepted; each has its own sentence for the client.
enum Refusal {
    DeviceTaken,
    NoCode,
    Used,
    Exhausted,
    Expired,
    Wrong { tries_left: u32 },
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        let again = "request a new code";
        match r {
            Refusal::DeviceTaken => device_forbidden(),
            Refusal::NoCode => {
                Error::Unauthorized(format!("no code was sent to this phone number; {again}"))
            }
            Refusal::Used => Error::Unauthorized(format!("this code was already used; {again}")),
            Refusal::Exhausted => {
                Error::Unauthorized(format!("too many wrong codes were tried; {again}"))
            }
            Refusal::Expired => Error::Unauthorized(format!("the code has expired; {again}")),
            Refusal::Wrong { tries_left: 0 } => Error::Unauthorized(format!(
                "the code is wrong and that was the last try; {again}"
            )),
            Refusal::Wrong { tries_left } => Error::Unauthorized(format!(
                "the code is wrong; {tries_left} more {} allowed",
                if tries_left == 1 { "try" } else { "tries" }
            )),
        }
    }
}

/// POST /api/auth/verify {phone, code, deviceId, deviceType?} → {token,
/// expiresAt, user, deviceId}; 201 with `Location` when this login created
/// the account, 200 otherwise.
pub async fn verify(ctx: Ctx) -> Result<Reply> {
    let body: VerifyRequest = ctx.json()?;
    let mut c = Checker::default();
    let phone = check_fields(&mut c, &body.device);
    match body.code.as_deref().map(str::trim) {
        None => c.push(FieldError::required("code")),
        Some(code)
            if code.len() != codes::CODE_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) =>
        {
            c.push(FieldError::new(
                "code",
                "format",
                format!(
                    "code must be the {} digits from the SMS",
                    codes::CODE_DIGITS
                ),
            ))
        }
        Some(_) => {}
    }
    if body.device.device_id.is_none() {
        c.push(FieldError::required("deviceId"));
    }
    c.finish().map_err(Error::Validation)?;
    limited(ctx.app.phone.check_verify_rate(ctx.peer, &phone))?;

    let code = body.code.unwrap_or_default().trim().to_owned();
    let device_id = body.device.device_id.unwrap_or_default();
    let hasher = ctx.app.phone.hasher.clone();
    let token = auth::new_token();
    let login = PhoneLogin {
        code_hash: hasher.hash(&phone, &code),
        phone,
        device_type: body.device.device_type,
        new_user_password_hash: auth::NO_PASSWORD.to_owned(),
        device_id: device_id.clone(),
        token_hash: auth::token_hash(&token),
        expires_at: Timestamp::now().plus_seconds(ctx.app.config.token_ttl_secs),
    };
    let outcome = ctx
        .app
        .store
        .run(move |s| {
            // The device is checked first: a wrong device burns no tries.
            if s.phone_of_device(&login.device_id)?
                .is_some_and(|bound| bound != login.phone)
            {
                return Ok(Err(Refusal::DeviceTaken));
            }
            let Some(stored) = s.phone_code(&login.phone)? else {
                return Ok(Err(Refusal::NoCode));
            };
            if stored.used {
                return Ok(Err(Refusal::Used));
            }
            if stored.attempts_left == 0 {
                return Ok(Err(Refusal::Exhausted));
            }
            if stored.expires_at <= Timestamp::now() {
                return Ok(Err(Refusal::Expired));
            }
            if !hasher.matches(&login.phone, &code, &stored.code_hash) {
                let tries_left = s.phone_code_failed(&login.phone)?;
                return Ok(Err(Refusal::Wrong { tries_left }));
            }
            Ok(match s.phone_login(&login)? {
                PhoneLoginOutcome::LoggedIn {
                    user,
                    session,
                    created,
                } => Ok((user, session.expires_at, created)),
                // Between the check and the login another request used,
                // replaced or used up the code, or took the device.
                PhoneLoginOutcome::CodeGone => Err(Refusal::Used),
                PhoneLoginOutcome::DeviceTaken => Err(Refusal::DeviceTaken),
            })
        })
        .await?;
    let (user, expires_at, created) = outcome?;
    let location = format!("/api/users/{}", user.id);
    let logged_in = PhoneLoggedIn {
        login: LoggedIn {
            token,
            expires_at,
            user,
        },
        device_id,
    };
    Ok(if created {
        Reply::created(&logged_in, location)
    } else {
        Reply::ok(&logged_in)
    })
}
