//! The administrator of the Management API: one account whose username and
//! password come from the environment or the config file, and the tokens it
//! logs in with.
//!
//! Admin tokens live in memory only: there are few of them, a restart asks
//! the administrator to log in again, and no table can leak one.

use super::{new_token, token_hash};
use crate::config::AdminCredentials;
use crate::model::Timestamp;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use subtle::ConstantTimeEq;

/// Most admin tokens alive at once; logging in past this ends the oldest.
/// An admin console needs a handful, and the map must stay bounded.
const MAX_TOKENS: usize = 64;

pub struct AdminAuth {
    credentials: AdminCredentials,
    ttl_secs: i64,
    /// Token hash → expiry.
    tokens: Mutex<HashMap<Vec<u8>, Timestamp>>,
}

impl AdminAuth {
    pub fn new(credentials: AdminCredentials, ttl_secs: i64) -> Self {
        AdminAuth {
            credentials,
            ttl_secs,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// Both fields are compared in constant time, and both always are, so
    /// the response time tells nothing about which one was wrong.
    pub fn credentials_match(&self, username: &str, password: &str) -> bool {
        let user_ok = same_secret(username, &self.credentials.username);
        let password_ok = same_secret(password, &self.credentials.password);
        user_ok & password_ok
    }

    /// A new admin token and its expiry.
    pub fn issue(&self) -> (String, Timestamp) {
        let token = new_token();
        let now = Timestamp::now();
        let expires_at = now.plus_seconds(self.ttl_secs);
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.retain(|_, expiry| *expiry > now);
            if tokens.len() >= MAX_TOKENS {
                let oldest = tokens
                    .iter()
                    .min_by_key(|(_, expiry)| **expiry)
                    .map(|(hash, _)| hash.clone());
                if let Some(oldest) = oldest {
                    tokens.remove(&oldest);
                }
            }
            tokens.insert(token_hash(&token), expires_at);
        }
        (token, expires_at)
    }

    /// Whether `token` is a live admin token. The lookup is by hash, so no
    /// secret-dependent comparison is timed.
    pub fn is_valid(&self, token: &str) -> bool {
        let now = Timestamp::now();
        self.tokens
            .lock()
            .is_ok_and(|tokens| tokens.get(&token_hash(token)).is_some_and(|e| *e > now))
    }

    /// Ends one admin token.
    pub fn revoke(&self, token: &str) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.remove(&token_hash(token));
        }
    }
}

/// Constant-time equality of two strings of any lengths: both are hashed
/// first, so neither the length nor the first differing byte shows.
fn same_secret(given: &str, expected: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.ct_eq(&b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin() -> AdminAuth {
        AdminAuth::new(
            AdminCredentials {
                username: "root".into(),
                password: "correct horse".into(),
            },
            60,
        )
    }

    #[test]
    fn credentials() {
        let a = admin();
        assert!(a.credentials_match("root", "correct horse"));
        assert!(!a.credentials_match("root", "correct hors"));
        assert!(!a.credentials_match("roo", "correct horse"));
        assert!(!a.credentials_match("", ""));
    }

    #[test]
    fn tokens_issue_check_revoke_and_stay_bounded() {
        let a = admin();
        let (first, _) = a.issue();
        assert!(a.is_valid(&first));
        assert!(!a.is_valid("not a token"));
        a.revoke(&first);
        assert!(!a.is_valid(&first));
        let issued: Vec<String> = (0..MAX_TOKENS + 5).map(|_| a.issue().0).collect();
        assert!(a.tokens.lock().unwrap().len() <= MAX_TOKENS);
        assert!(a.is_valid(issued.last().unwrap()));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let a = AdminAuth::new(
            AdminCredentials {
                username: "root".into(),
                password: "correct horse".into(),
            },
            0,
        );
        let (token, _) = a.issue();
        assert!(!a.is_valid(&token));
    }
}
