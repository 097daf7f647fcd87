//! One-time login codes: random digits, kept only as an HMAC-SHA256 keyed
//! with a per-server secret and bound to the phone number, compared in
//! constant time.

use hmac::{Hmac, Mac};
use rand::{Rng, RngCore};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Digits in a code: a million possibilities, with a handful of tries per
/// code (and per-phone rate limits) a guess has odds of about 1 in 200,000.
pub const CODE_DIGITS: usize = 6;

/// Bytes of the HMAC key made on first start.
pub const SECRET_BYTES: usize = 32;

/// The name of the key in the store's server secrets.
pub const SECRET_NAME: &str = "phone_code_hmac";

/// A fresh code, uniformly random, zero-padded.
pub fn new_code() -> String {
    let n: u32 = rand::rng().random_range(0..10u32.pow(CODE_DIGITS as u32));
    format!("{n:0width$}", width = CODE_DIGITS)
}

/// Random bytes for a new server secret.
pub fn new_secret() -> Vec<u8> {
    let mut key = vec![0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut key);
    key
}

/// Hashes and checks codes with the server's key. The store never holds a
/// code itself, so a copy of the database does not reveal a live code
/// without the key, and a code sent to one number is useless for another.
#[derive(Clone)]
pub struct CodeHasher {
    key: Vec<u8>,
}

impl CodeHasher {
    pub fn new(key: Vec<u8>) -> Self {
        CodeHasher { key }
    }

    pub fn hash(&self, phone: &str, code: &str) -> Vec<u8> {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts any key");
        mac.update(phone.as_bytes());
        // A separator no phone number contains keeps (phone, code) pairs apart.
        mac.update(b"\0");
        mac.update(code.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// True when `code` is the one `stored` was made from, for this phone.
    /// The comparison takes as long wherever the bytes differ.
    pub fn matches(&self, phone: &str, code: &str, stored: &[u8]) -> bool {
        self.hash(phone, code).ct_eq(stored).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..100 {
            let c = new_code();
            assert_eq!(c.len(), CODE_DIGITS);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn hashes_depend_on_key_phone_and_code() {
        let h = CodeHasher::new(b"key one".to_vec());
        let stored = h.hash("+4915123456789", "123456");
        assert_eq!(stored.len(), 32);
        assert_ne!(stored, b"123456".to_vec(), "never the code itself");
        assert!(h.matches("+4915123456789", "123456", &stored));
        assert!(!h.matches("+4915123456789", "123457", &stored));
        assert!(!h.matches("+4915123456780", "123456", &stored));
        assert!(!h.matches("+4915123456789", "123456", &stored[..31]));
        let other = CodeHasher::new(b"key two".to_vec());
        assert!(!other.matches("+4915123456789", "123456", &stored));
    }
}
