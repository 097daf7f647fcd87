//! Phone numbers (validated and normalised to E.164), one-time login codes
//! and the SMS outbox, as the store and the phone-login handlers share them.

use super::{FieldError, Session, Timestamp, User};

/// Longest phone input we parse. E.164 numbers have at most 15 digits; the
/// rest leaves room for spaces, dashes and brackets a person may type.
const MAX_PHONE_INPUT_CHARS: usize = 32;

/// `value` in E.164 (`+4915123456789`), or the field error that says why not.
/// Only international numbers are accepted (a leading `+` and the country
/// code): the server has no country to assume for a local one.
pub fn normalize(name: &str, value: Option<&str>) -> Result<String, FieldError> {
    let invalid = || {
        FieldError::new(
            name,
            "format",
            format!("{name} must be an international phone number such as +4915123456789"),
        )
    };
    let raw = value.ok_or_else(|| FieldError::required(name))?.trim();
    if raw.is_empty() || raw.chars().count() > MAX_PHONE_INPUT_CHARS || !raw.starts_with('+') {
        return Err(invalid());
    }
    // The parser works on text from the network; should one of its edge
    // cases panic, that must be a 422 for this client, not a dead worker.
    let parsed =
        std::panic::catch_unwind(|| phonenumber::parse(None, raw).ok()).map_err(|_| invalid())?;
    match parsed {
        Some(number) if phonenumber::is_valid(&number) => {
            Ok(number.format().mode(phonenumber::Mode::E164).to_string())
        }
        _ => Err(invalid()),
    }
}

/// The kind of client a device id belongs to, as the client says. Browsers
/// cannot keep a device id of their own reliably, so they reuse the one
/// already bound to the phone number.
pub const BROWSER: &str = "browser";

/// A code as the store keeps it: hashed, with its limits.
#[derive(Debug, Clone)]
pub struct PhoneCode {
    pub phone: String,
    pub code_hash: Vec<u8>,
    pub expires_at: Timestamp,
    /// Wrong tries left before the code stops working.
    pub attempts_left: u32,
    /// Set once the code has logged someone in.
    pub used: bool,
}

/// One SMS waiting in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxSms {
    pub id: i64,
    pub phone: String,
    pub text: String,
    /// Failed tries so far (the next delay doubles with each).
    pub attempts: u32,
    /// After this the code in it is useless, so it is dropped unsent.
    pub expires_at: Timestamp,
}

/// A successful code check turned into a login, done in one transaction:
/// the code is marked used, the user is found or created, the device bound,
/// the session created.
#[derive(Debug, Clone)]
pub struct PhoneLogin {
    pub phone: String,
    /// The hash that matched; the code is only consumed if it still does.
    pub code_hash: Vec<u8>,
    pub device_type: Option<String>,
    /// The user row for a first login; its login is the phone number and
    /// its password hash one that never verifies.
    pub new_user_password_hash: String,
    pub device_id: String,
    pub token_hash: Vec<u8>,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone)]
pub enum PhoneLoginOutcome {
    LoggedIn {
        user: User,
        session: Session,
        /// The account was created by this login.
        created: bool,
    },
    /// Another request used, replaced or exhausted the code meanwhile.
    CodeGone,
    /// The device was bound to another phone meanwhile.
    DeviceTaken,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_normalised_to_e164() {
        for input in [
            "+49 151 23456789",
            "+49-151-234-567-89",
            "+49 (151) 23456789",
            "+4915123456789",
        ] {
            assert_eq!(
                normalize("phone", Some(input)).as_deref(),
                Ok("+4915123456789"),
                "{input}"
            );
        }
        assert_eq!(
            normalize("phone", Some(" +1 415 555 2671 ")).as_deref(),
            Ok("+14155552671")
        );
    }

    #[test]
    fn bad_numbers_are_field_errors() {
        for input in [
            "",
            "0151 23456789",
            "+49",
            "+999 123",
            "+1 555",
            "hello",
            "+491512345678901234567890123456789",
        ] {
            let e = normalize("phone", Some(input)).unwrap_err();
            assert_eq!(
                (e.name.as_str(), e.code.as_str()),
                ("phone", "format"),
                "{input:?}"
            );
        }
        assert_eq!(normalize("phone", None).unwrap_err().code, "required");
    }
}
