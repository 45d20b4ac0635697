//! Fixed-window rate limits kept in memory, keyed by strings like `signup:<ip>` or `login:<ip>`.
//! (Failed logins have their own brake: `login_throttle`.)
//! One control-plane replica enforces its own windows; behind several replicas the limit is per replica,
//! which still bounds brute force to replicas x limit.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::{Error, Result};

#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// Counts one event for `key`; past `max` events in `window`, refuses with the seconds left.
    pub fn hit(&self, key: &str, max: u32, window: Duration) -> Result<()> {
        let now = Instant::now();
        let mut w = self.windows.lock();
        if w.len() > 100_000 {
            w.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let slot = w.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(slot.0) >= window {
            *slot = (now, 0);
        }
        if slot.1 >= max {
            let left = window.saturating_sub(now.duration_since(slot.0));
            return Err(Error::RateLimited {
                retry_after: left.as_secs() + 1,
            });
        }
        slot.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_with_retry_after_and_keys_are_independent() {
        let l = RateLimiter::default();
        let w = Duration::from_secs(60);
        for _ in 0..3 {
            l.hit("a", 3, w).unwrap();
        }
        match l.hit("a", 3, w) {
            Err(Error::RateLimited { retry_after }) => assert!((1..=61).contains(&retry_after)),
            other => panic!("expected a rate limit, got {other:?}"),
        }
        l.hit("b", 3, w).unwrap();
    }

    #[test]
    fn a_new_window_resets_the_count() {
        let l = RateLimiter::default();
        let w = Duration::from_millis(20);
        l.hit("k", 1, w).unwrap();
        assert!(l.hit("k", 1, w).is_err());
        std::thread::sleep(Duration::from_millis(30));
        l.hit("k", 1, w).unwrap();
    }
}
