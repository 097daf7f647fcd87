//! Recently validated sessions, so a REST request does not pay a database
//! round trip to learn who is calling. Logout removes the entry at once;
//! entries also age out, and expiry is checked on every use.

use crate::model::{Session, Timestamp};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a cached session is trusted without asking the store again.
/// Bounds how late a revocation made outside this process is noticed.
const TTL: Duration = Duration::from_secs(60);
/// Most sessions kept; when full, the cache starts over (cheap, and rare).
const CAPACITY: usize = 65_536;

#[derive(Default)]
pub struct SessionCache {
    entries: Mutex<HashMap<Vec<u8>, (Session, Instant)>>,
}

impl SessionCache {
    /// The cached session for this token hash, if fresh and not expired.
    pub fn get(&self, token_hash: &[u8]) -> Option<Session> {
        let entries = self.entries.lock().ok()?;
        let (session, cached_at) = entries.get(token_hash)?;
        let fresh = cached_at.elapsed() < TTL && session.expires_at > Timestamp::now();
        fresh.then(|| session.clone())
    }

    pub fn put(&self, token_hash: Vec<u8>, session: Session) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(token_hash, (session, Instant::now()));
        }
    }

    /// Drops the sessions that match; revocations are rare, so a scan is fine.
    pub fn forget_where(&self, ended: impl Fn(&Session) -> bool) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (session, _)| !ended(session));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(expires_at: Timestamp) -> Session {
        Session {
            id: 1,
            user_id: 2,
            device_id: None,
            created_at: Timestamp(0),
            expires_at,
            revoked: false,
        }
    }

    #[test]
    fn hit_miss_expiry_and_forget() {
        let cache = SessionCache::default();
        assert!(cache.get(b"t").is_none());
        cache.put(b"t".to_vec(), session(Timestamp::now().plus_seconds(60)));
        assert_eq!(cache.get(b"t").map(|s| s.user_id), Some(2));
        cache.forget_where(|s| s.id == 1);
        assert!(cache.get(b"t").is_none());
        cache.put(b"old".to_vec(), session(Timestamp(1)));
        assert!(
            cache.get(b"old").is_none(),
            "an expired session is never served"
        );
    }
}
