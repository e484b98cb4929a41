//! The rate limiter behind the middleware: one GCRA state per key.
//!
//! Embedded mode keeps the states in memory (sharded maps, pruned as keys go
//! idle). Scale-out mode will keep them in Redis behind the same interface,
//! so that every node enforces one shared limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tollgate_core::UnixMicros;
use tollgate_core::rate_limit::{Quota, Verdict, check};

const SHARDS: usize = 16;
/// Entries are swept from a shard once it holds this many.
const SWEEP_AT: usize = 10_000;

#[derive(Clone, Default)]
pub struct Limiter {
    shards: Arc<[Mutex<HashMap<String, i64>>; SHARDS]>,
}

impl Limiter {
    fn shard(&self, key: &str) -> &Mutex<HashMap<String, i64>> {
        // FNV-1a: cheap, and keys are ours (not attacker-chosen lengths).
        let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        &self.shards[(h % SHARDS as u64) as usize]
    }

    /// Decides and, when allowed, spends one request of `key`'s quota.
    pub fn admit(&self, key: &str, quota: Quota, now: UnixMicros) -> Verdict {
        let mut map = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        let (verdict, tat) = check(quota, map.get(key).copied(), now);
        if verdict.allowed {
            if map.len() >= SWEEP_AT {
                // A state whose TAT has passed is the same as no state.
                map.retain(|_, t| *t > now.0);
            }
            map.insert(key.to_owned(), tat);
        }
        verdict
    }

    /// Whether `key` would be admitted now, without spending anything.
    pub fn would_admit(&self, key: &str, quota: Quota, now: UnixMicros) -> Verdict {
        let map = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        check(quota, map.get(key).copied(), now).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_independent_and_peeking_spends_nothing() {
        let l = Limiter::default();
        let q = Quota {
            rate: 60,
            period_secs: 60,
            burst: 2,
        };
        let now = UnixMicros(1_000_000);
        assert!(l.would_admit("a", q, now).allowed);
        assert!(l.admit("a", q, now).allowed);
        assert!(l.admit("a", q, now).allowed);
        assert!(!l.admit("a", q, now).allowed);
        assert!(!l.would_admit("a", q, now).allowed);
        assert!(
            l.admit("b", q, now).allowed,
            "another key has its own budget"
        );
    }
}
