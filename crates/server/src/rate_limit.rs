//! The rate limiter behind the middleware: one GCRA state per key.
//!
//! Embedded mode keeps the states in memory (sharded maps, pruned as keys go
//! idle). Scale-out mode keeps them in Redis and runs the same arithmetic as
//! one Lua script per request, timed by Redis's own clock, so every node
//! enforces one shared limit whatever its own clock says. Redis keys are
//! hashes of ours (which contain client IPs), so Redis holds no personal
//! data, and they expire when the bucket would be full again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tollgate_core::UnixMicros;
use tollgate_core::rate_limit::{Quota, Verdict, check};

const SHARDS: usize = 16;
/// Entries are swept from a shard once it holds this many.
const SWEEP_AT: usize = 10_000;
/// A limit that cannot be checked in time is a refusal (fail closed).
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// The shared limit store could not answer; the request must be refused.
#[derive(Debug, thiserror::Error)]
#[error("rate-limit store unavailable: {0}")]
pub struct LimiterDown(String);

#[derive(Clone)]
pub enum Limiter {
    Local(Arc<[Mutex<HashMap<String, i64>>; SHARDS]>),
    Redis {
        conn: redis::aio::ConnectionManager,
        script: Arc<redis::Script>,
        prefix: Arc<str>,
    },
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::Local(Arc::default())
    }
}

const GCRA_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance - interval
if now < allow_at then
  return {0, tat - now, allow_at - now}
end
if ARGV[3] ~= '1' then
  redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
end
return {1, new_tat - now, 0}
"#;

impl Limiter {
    /// Connects to Redis (scale-out). Fails when Redis does not answer, so a
    /// node never starts with limits it cannot share.
    pub async fn redis(url: &str, prefix: &str) -> anyhow::Result<Limiter> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT));
        let mut conn = client.get_connection_manager_with_config(config).await?;
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(Limiter::Redis {
            conn,
            script: Arc::new(redis::Script::new(GCRA_LUA)),
            prefix: prefix.into(),
        })
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Limiter::Local(_) => "memory",
            Limiter::Redis { .. } => "redis",
        }
    }

    /// Decides and, when allowed, spends one request of `key`'s quota.
    pub async fn admit(
        &self,
        key: &str,
        quota: Quota,
        now: UnixMicros,
    ) -> Result<Verdict, LimiterDown> {
        self.decide(key, quota, now, false).await
    }

    /// Whether `key` would be admitted now, without spending anything.
    pub async fn would_admit(
        &self,
        key: &str,
        quota: Quota,
        now: UnixMicros,
    ) -> Result<Verdict, LimiterDown> {
        self.decide(key, quota, now, true).await
    }

    /// Whether the limit store answers (for /readyz).
    pub async fn ping(&self) -> bool {
        match self {
            Limiter::Local(_) => true,
            Limiter::Redis { conn, .. } => {
                let mut conn = conn.clone();
                let cmd = redis::cmd("PING");
                let ping = cmd.query_async::<String>(&mut conn);
                matches!(tokio::time::timeout(REDIS_TIMEOUT, ping).await, Ok(Ok(_)))
            }
        }
    }

    async fn decide(
        &self,
        key: &str,
        quota: Quota,
        now: UnixMicros,
        peek: bool,
    ) -> Result<Verdict, LimiterDown> {
        match self {
            Limiter::Local(shards) => {
                let shard = &shards[(fnv(key) % SHARDS as u64) as usize];
                let mut map = shard.lock().unwrap_or_else(|p| p.into_inner());
                let (verdict, tat) = check(quota, map.get(key).copied(), now);
                if verdict.allowed && !peek {
                    // A known key (every request of a busy client) is
                    // updated in place, without copying the key.
                    if let Some(t) = map.get_mut(key) {
                        *t = tat;
                    } else {
                        if map.len() >= SWEEP_AT {
                            // A state whose TAT has passed is the same as no state.
                            map.retain(|_, t| *t > now.0);
                        }
                        map.insert(key.to_owned(), tat);
                    }
                }
                Ok(verdict)
            }
            Limiter::Redis {
                conn,
                script,
                prefix,
            } => {
                let mut conn = conn.clone();
                let hashed = format!("{prefix}:rl:{}", hex16(&Sha256::digest(key.as_bytes())));
                let mut call = script.key(hashed);
                call.arg(quota.emission_interval())
                    .arg(quota.tolerance())
                    .arg(if peek { "1" } else { "0" });
                let reply: Vec<i64> =
                    tokio::time::timeout(REDIS_TIMEOUT, call.invoke_async(&mut conn))
                        .await
                        .map_err(|_| LimiterDown("timed out".into()))?
                        .map_err(|e| LimiterDown(e.to_string()))?;
                let [allowed, reset_after, retry_after] = reply[..] else {
                    return Err(LimiterDown("unexpected reply".into()));
                };
                Ok(verdict_from(quota, allowed == 1, reset_after, retry_after))
            }
        }
    }
}

/// The same verdict the in-process arithmetic gives, from Redis's answer.
fn verdict_from(quota: Quota, allowed: bool, reset_after: i64, retry_after: i64) -> Verdict {
    let t = quota.emission_interval();
    let remaining = if allowed {
        ((quota.tolerance() - reset_after + t) / t).max(0)
    } else {
        0
    };
    Verdict {
        allowed,
        limit: quota.burst,
        remaining: u32::try_from(remaining)
            .unwrap_or(u32::MAX)
            .min(quota.burst),
        reset_after,
        retry_after,
    }
}

fn fnv(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn hex16(bytes: &[u8]) -> String {
    bytes[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: Quota = Quota {
        rate: 60,
        period_secs: 60,
        burst: 2,
    };

    async fn exercise(l: &Limiter, prefix: &str) {
        let now = UnixMicros(1_000_000);
        let (a, b) = (format!("{prefix}:a"), format!("{prefix}:b"));
        assert!(l.would_admit(&a, Q, now).await.unwrap().allowed);
        assert!(l.admit(&a, Q, now).await.unwrap().allowed);
        assert!(l.admit(&a, Q, now).await.unwrap().allowed);
        let denied = l.admit(&a, Q, now).await.unwrap();
        assert!(!denied.allowed && denied.retry_after > 0);
        assert!(!l.would_admit(&a, Q, now).await.unwrap().allowed);
        assert!(
            l.admit(&b, Q, now).await.unwrap().allowed,
            "another key has its own budget"
        );
    }

    #[tokio::test]
    async fn in_process_keys_are_independent_and_peeking_spends_nothing() {
        exercise(&Limiter::default(), "t").await;
    }

    /// The same behaviour through a real Redis, when one is configured
    /// (TOLLGATE_TEST_REDIS_URL; scripts/test provides one).
    #[tokio::test]
    async fn redis_keys_are_independent_and_peeking_spends_nothing() {
        let Ok(url) = std::env::var("TOLLGATE_TEST_REDIS_URL") else {
            return;
        };
        let limiter = Limiter::redis(&url, "test").await.unwrap();
        let mut r = [0u8; 8];
        getrandom::fill(&mut r).unwrap();
        exercise(&limiter, &hex16(&Sha256::digest(r))).await;
    }

    #[test]
    fn redis_answers_map_to_the_same_verdicts_as_in_process() {
        let now = UnixMicros(5_000_000);
        let (v, tat) = check(Q, None, now);
        assert_eq!(verdict_from(Q, true, tat - now.0, 0), v);
    }
}
