//! Phone login: the `phone_codes` and `phone_devices` tables, phone users
//! in `users`, and the `server_secrets` the code HMAC is keyed with.

use super::{sessions, users};
use crate::model::phone::{PhoneCode, PhoneLogin, PhoneLoginOutcome};
use crate::model::{NewSession, Timestamp};
use crate::store::{StoreError, StoreResult};
use rusqlite::{params, Connection, OptionalExtension};

pub fn server_secret(conn: &Connection, name: &str, fresh: &[u8]) -> StoreResult<Vec<u8>> {
    // Two first starts racing both insert-or-ignore; both read the winner.
    conn.prepare_cached(
        "INSERT INTO server_secrets (name, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?
    .execute(params![name, fresh])?;
    Ok(conn
        .prepare_cached("SELECT value FROM server_secrets WHERE name = ?1")?
        .query_row([name], |r| r.get(0))?)
}

pub fn phone_of_device(conn: &Connection, device_id: &str) -> StoreResult<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT phone FROM phone_devices WHERE device_id = ?1")?
        .query_row([device_id], |r| r.get(0))
        .optional()?)
}

pub fn browser_device_of_phone(conn: &Connection, phone: &str) -> StoreResult<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT device_id FROM phone_devices WHERE phone = ?1 AND device_type = ?2
             ORDER BY bound_at DESC LIMIT 1",
        )?
        .query_row(params![phone, crate::model::phone::BROWSER], |r| r.get(0))
        .optional()?)
}

/// Replaces the phone's code and queues its SMS in one transaction; an
/// older code's SMS that is still waiting is dropped (its code is dead).
pub fn put_code(
    conn: &mut Connection,
    code: &PhoneCode,
    sms_text: &str,
    now: Timestamp,
) -> StoreResult<i64> {
    let tx = conn.transaction()?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO phone_codes
           (phone, code_hash, expires_at, attempts_left, used_at, created_at)
         VALUES (?1, ?2, ?3, ?4, NULL, ?5)",
    )?
    .execute(params![
        code.phone,
        code.code_hash,
        code.expires_at.millis(),
        code.attempts_left,
        now.millis()
    ])?;
    super::outbox::remove_for_phone(&tx, &code.phone)?;
    let id = super::outbox::insert(&tx, &code.phone, sms_text, code.expires_at, now)?;
    tx.commit()?;
    Ok(id)
}

pub fn code(conn: &Connection, phone: &str) -> StoreResult<Option<PhoneCode>> {
    Ok(conn
        .prepare_cached(
            "SELECT phone, code_hash, expires_at, attempts_left, used_at
             FROM phone_codes WHERE phone = ?1",
        )?
        .query_row([phone], |r| {
            Ok(PhoneCode {
                phone: r.get(0)?,
                code_hash: r.get(1)?,
                expires_at: Timestamp(r.get(2)?),
                attempts_left: r.get(3)?,
                used: r.get::<_, Option<i64>>(4)?.is_some(),
            })
        })
        .optional()?)
}

/// Counts one wrong try; returns the tries left (0 once the code is dead).
pub fn code_failed(conn: &Connection, phone: &str) -> StoreResult<u32> {
    Ok(conn
        .prepare_cached(
            "UPDATE phone_codes SET attempts_left = attempts_left - 1
             WHERE phone = ?1 AND attempts_left > 0 AND used_at IS NULL
             RETURNING attempts_left",
        )?
        .query_row([phone], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

pub fn login(conn: &mut Connection, login: &PhoneLogin) -> StoreResult<PhoneLoginOutcome> {
    let now = Timestamp::now();
    let tx = conn.transaction()?;
    // Consuming the code first makes it single-use even when two requests
    // with the right code race: only one of them changes the row.
    let consumed = tx
        .prepare_cached(
            "UPDATE phone_codes SET used_at = ?3
             WHERE phone = ?1 AND code_hash = ?2 AND used_at IS NULL
               AND attempts_left > 0 AND expires_at > ?3",
        )?
        .execute(params![login.phone, login.code_hash, now.millis()])?;
    if consumed == 0 {
        return Ok(PhoneLoginOutcome::CodeGone);
    }
    match phone_of_device(&tx, &login.device_id)? {
        Some(bound) if bound != login.phone => return Ok(PhoneLoginOutcome::DeviceTaken),
        Some(_) => {
            tx.prepare_cached(
                "UPDATE phone_devices SET bound_at = ?2, device_type = COALESCE(?3, device_type)
                 WHERE device_id = ?1",
            )?
            .execute(params![login.device_id, now.millis(), login.device_type])?;
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO phone_devices (device_id, phone, device_type, bound_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                login.device_id,
                login.phone,
                login.device_type,
                now.millis()
            ])?;
        }
    }
    let columns = users::COLUMNS;
    let inserted = tx
        .prepare_cached(&format!(
            // The number stays private: the login is random ('u' and 16
            // hex digits, a valid login nobody picks) and the name neutral;
            // the user changes both like anyone else.
            "INSERT INTO users (login, password_hash, name, avatar, created_at, phone)
             VALUES ('u' || lower(hex(randomblob(8))), ?2, 'New user', NULL, ?3, ?1)
             ON CONFLICT DO NOTHING RETURNING {columns}"
        ))?
        .query_row(
            params![login.phone, login.new_user_password_hash, now.millis()],
            users::from_row,
        )
        .optional()?;
    let created = inserted.is_some();
    let user = match inserted {
        Some(user) => user,
        None => tx
            .prepare_cached(&format!("SELECT {columns} FROM users WHERE phone = ?1"))?
            .query_row([&login.phone], users::from_row)
            .optional()?
            // Only a login equal to the number without that phone could
            // block the insert, and sign-up rules forbid such logins.
            .ok_or_else(|| StoreError::Conflict("the phone number's login is taken".into()))?,
    };
    let session = sessions::create(
        &tx,
        &NewSession {
            user_id: user.id,
            token_hash: login.token_hash.clone(),
            device_id: Some(login.device_id.clone()),
            expires_at: login.expires_at,
        },
    )?;
    tx.commit()?;
    Ok(PhoneLoginOutcome::LoggedIn {
        user,
        session,
        created,
    })
}
