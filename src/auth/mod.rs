//! Passwords (argon2id) and bearer tokens (32 random bytes, kept only as a
//! SHA-256 hash). All of it is CPU work: callers run it on the blocking pool.
//! Phone login lives in the submodules: one-time codes, the SMS senders and
//! the outbox task that feeds them.

pub mod admin;
mod cache;
pub mod codes;
pub mod outbox;
pub mod phone;
pub mod sms;
pub mod webhook;

pub use admin::AdminAuth;
pub use cache::SessionCache;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Bytes of randomness in a token: 256 bits, beyond guessing.
const TOKEN_BYTES: usize = 32;

/// A PHC string hashed with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// `hash_password` for code running inside a store call.
pub fn hash_for_store(password: &str) -> crate::store::StoreResult<String> {
    hash_password(password).map_err(|e| crate::store::StoreError::Internal(format!("argon2: {e}")))
}

/// The password hash of accounts that have no password (phone logins): not
/// a PHC string, so no password ever verifies against it.
pub const NO_PASSWORD: &str = "!";

/// Checks a password against a stored hash. When there is no such user,
/// pass `None`: a dummy hash is verified anyway, so the answer takes as long
/// and the response time does not tell which logins exist.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    // argon2id hash of a random password nobody knows.
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$1Zm5sAr3IqSH3C5ikMHk+1nW7Pha2Jmpk0XrOWhe8pQ";
    // An account without a password verifies the dummy too, so timing
    // does not tell it apart either.
    let usable = stored.filter(|s| PasswordHash::new(s).is_ok());
    let Ok(parsed) = PasswordHash::new(usable.unwrap_or(DUMMY)) else {
        return false;
    };
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    ok && usable.is_some()
}

/// A new bearer token as sent to the client.
pub fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the store keeps in place of the token. A lookup by this hash is an
/// index probe, so there is no secret-dependent string comparison to time.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", Some(&h)));
        assert!(!verify_password("wrong horse", Some(&h)));
        assert!(!verify_password("anything", None));
        assert!(!verify_password("", Some(NO_PASSWORD)));
        assert!(!verify_password("!", Some(NO_PASSWORD)));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 32);
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}
