//! Token-bucket rate limits keyed by a string (an IP, a login, a socket).
//! A refused call learns how long to wait, for `Retry-After` / `retryAfter`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Most keys remembered; past it, keys whose bucket has refilled (idle
/// callers) are dropped, so the map cannot grow without bound.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// Calls allowed in a burst.
    pub burst: f64,
    /// Calls regained per second.
    pub per_sec: f64,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct RateLimiter {
    rate: Rate,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(rate: Rate) -> Self {
        RateLimiter {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one call from `key`'s bucket, or says how many whole seconds
    /// until one is available.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            let rate = self.rate;
            buckets.retain(|_, b| refill(b, rate, now) < rate.burst);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.rate.burst,
            at: now,
        });
        take(bucket, self.rate, now)
    }
}

fn refill(bucket: &mut Bucket, rate: Rate, now: Instant) -> f64 {
    let elapsed = now.duration_since(bucket.at).as_secs_f64();
    bucket.tokens = (bucket.tokens + elapsed * rate.per_sec).min(rate.burst);
    bucket.at = now;
    bucket.tokens
}

fn take(bucket: &mut Bucket, rate: Rate, now: Instant) -> Result<(), u64> {
    if refill(bucket, rate, now) >= 1.0 {
        bucket.tokens -= 1.0;
        Ok(())
    } else {
        let wait = (1.0 - bucket.tokens) / rate.per_sec;
        Err(wait.ceil().max(1.0) as u64)
    }
}

/// A bucket owned by one caller (a WebSocket connection): no lock, no map.
pub struct LocalBucket {
    rate: Rate,
    bucket: Bucket,
}

impl LocalBucket {
    pub fn new(rate: Rate) -> Self {
        LocalBucket {
            rate,
            bucket: Bucket {
                tokens: rate.burst,
                at: Instant::now(),
            },
        }
    }

    pub fn check(&mut self) -> Result<(), u64> {
        take(&mut self.bucket, self.rate, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refused_with_a_wait() {
        let limiter = RateLimiter::new(Rate {
            burst: 3.0,
            per_sec: 0.5,
        });
        for _ in 0..3 {
            assert!(limiter.check("ip").is_ok());
        }
        assert_eq!(limiter.check("ip"), Err(2));
        assert!(limiter.check("other ip").is_ok(), "keys are independent");
        let mut local = LocalBucket::new(Rate {
            burst: 1.0,
            per_sec: 10.0,
        });
        assert!(local.check().is_ok());
        assert_eq!(local.check(), Err(1));
    }
}
