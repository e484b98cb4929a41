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

impl LimiterDown {
    pub(crate) fn new(why: &str) -> LimiterDown {
        LimiterDown(why.to_owned())
    }
}

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

/// GCRA over one or more keys in order (KEYS[i] with ARGV[3i-2] the
/// emission interval, ARGV[3i-1] the tolerance and ARGV[3i] '1' to spend or
/// '0' to only look): each admitted key that spends spends one request, and
/// the first refusal ends the chain, so later keys spend nothing. Returns a
/// triple per key judged.
const GCRA_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[3 * i - 2])
  local tolerance = tonumber(ARGV[3 * i - 1])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - tolerance - interval
  if now < allow_at then
    table.insert(out, 0)
    table.insert(out, tat - now)
    table.insert(out, allow_at - now)
    return out
  end
  if ARGV[3 * i] == '1' then
    redis.call('SET', key, new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
  end
  table.insert(out, 1)
  table.insert(out, new_tat - now)
  table.insert(out, 0)
end
return out
"#;

/// One limit of a chain ([`Limiter::chain`]): judged, and when admitted
/// spent, or only looked at.
#[derive(Debug, Clone, Copy)]
pub struct Limit<'a> {
    pub key: &'a str,
    pub quota: Quota,
    /// `false`: judged without spending (a budget of failures, say, which
    /// only a failure spends).
    pub spend: bool,
}

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
        let spend = true;
        first(self.chain(&[Limit { key, quota, spend }], now).await?)
    }

    /// Whether `key` would be admitted now, without spending anything.
    pub async fn would_admit(
        &self,
        key: &str,
        quota: Quota,
        now: UnixMicros,
    ) -> Result<Verdict, LimiterDown> {
        let spend = false;
        first(self.chain(&[Limit { key, quota, spend }], now).await?)
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

    /// Several limits in order, the first refusal ending the chain (later
    /// limits spend nothing and have no verdict): one round trip to Redis
    /// instead of one per limit.
    pub async fn chain(
        &self,
        limits: &[Limit<'_>],
        now: UnixMicros,
    ) -> Result<Vec<Verdict>, LimiterDown> {
        let mut verdicts = Vec::with_capacity(limits.len());
        match self {
            Limiter::Local(shards) => {
                for &Limit { key, quota, spend } in limits {
                    let shard = &shards[(fnv(key) % SHARDS as u64) as usize];
                    let mut map = shard.lock().unwrap_or_else(|p| p.into_inner());
                    let (verdict, tat) = check(quota, map.get(key).copied(), now);
                    if verdict.allowed && spend {
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
                    verdicts.push(verdict);
                    if !verdict.allowed {
                        break;
                    }
                }
            }
            Limiter::Redis {
                conn,
                script,
                prefix,
            } => {
                let mut conn = conn.clone();
                let mut call = script.prepare_invoke();
                for &Limit { key, quota, spend } in limits {
                    call.key(format!(
                        "{prefix}:rl:{}",
                        hex16(&Sha256::digest(key.as_bytes()))
                    ))
                    .arg(quota.emission_interval())
                    .arg(quota.tolerance())
                    .arg(if spend { "1" } else { "0" });
                }
                let reply: Vec<i64> =
                    tokio::time::timeout(REDIS_TIMEOUT, call.invoke_async(&mut conn))
                        .await
                        .map_err(|_| LimiterDown("timed out".into()))?
                        .map_err(|e| LimiterDown(e.to_string()))?;
                // A triple per key judged: all of them, or up to the refusal.
                let judged = reply.chunks_exact(3);
                if !judged.remainder().is_empty()
                    || reply.is_empty()
                    || reply.len() > 3 * limits.len()
                {
                    return Err(LimiterDown("unexpected reply".into()));
                }
                for (triple, &Limit { quota, .. }) in judged.zip(limits) {
                    let &[allowed, reset_after, retry_after] = triple else {
                        return Err(LimiterDown("unexpected reply".into()));
                    };
                    verdicts.push(verdict_from(quota, allowed == 1, reset_after, retry_after));
                }
                let refused = verdicts.iter().position(|v| !v.allowed);
                if refused.map_or(verdicts.len() != limits.len(), |i| i + 1 != verdicts.len()) {
                    return Err(LimiterDown("unexpected reply".into()));
                }
            }
        }
        Ok(verdicts)
    }
}

/// The verdict of a one-limit chain.
fn first(verdicts: Vec<Verdict>) -> Result<Verdict, LimiterDown> {
    verdicts
        .into_iter()
        .next()
        .ok_or_else(|| LimiterDown("no verdict".into()))
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
    const ONE: Quota = Quota {
        rate: 60,
        period_secs: 60,
        burst: 1,
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
        chain(l, prefix).await;
    }

    /// A chain spends each admitted limit and stops at the first refusal.
    async fn chain(l: &Limiter, prefix: &str) {
        let now = UnixMicros(1_000_000);
        let (k, o, spare) = (
            format!("{prefix}:key"),
            format!("{prefix}:org"),
            format!("{prefix}:spare"),
        );
        let allowed = |v: Vec<Verdict>| v.iter().map(|v| v.allowed).collect::<Vec<_>>();
        let both = [spend(&k, Q), spend(&o, ONE)];
        assert_eq!(allowed(l.chain(&both, now).await.unwrap()), [true, true]);
        // The second limit refuses; the first was spent all the same.
        assert_eq!(allowed(l.chain(&both, now).await.unwrap()), [true, false]);
        // Now the first refuses, and the one after it is never judged.
        let first_refuses = [spend(&k, Q), spend(&spare, ONE)];
        let v = l.chain(&first_refuses, now).await.unwrap();
        assert_eq!(allowed(v.clone()), [false]);
        assert!(v[0].retry_after > 0);
        assert!(
            l.admit(&spare, ONE, now).await.unwrap().allowed,
            "a limit after a refusal spent nothing"
        );
        look_only(l, prefix).await;
    }

    /// A limit only looked at in a chain spends nothing when admitted, and
    /// its refusal ends the chain like any other.
    async fn look_only(l: &Limiter, prefix: &str) {
        let now = UnixMicros(1_000_000);
        let (budget, key) = (format!("{prefix}:budget"), format!("{prefix}:k2"));
        let look = Limit {
            key: &budget,
            quota: ONE,
            spend: false,
        };
        for _ in 0..2 {
            let v = l.chain(&[look], now).await.unwrap();
            assert!(v[0].allowed, "looking spends nothing");
        }
        // Spent once (a failure): it refuses now, and ends the chain.
        assert!(l.admit(&budget, ONE, now).await.unwrap().allowed);
        let v = l.chain(&[look, spend(&key, Q)], now).await.unwrap();
        assert_eq!(v.len(), 1);
        assert!(!v[0].allowed);
        // The key after the refusal spent nothing: both of its two are left.
        assert!(l.admit(&key, Q, now).await.unwrap().allowed);
        assert!(l.admit(&key, Q, now).await.unwrap().allowed);
        assert!(!l.admit(&key, Q, now).await.unwrap().allowed);
    }

    fn spend(key: &str, quota: Quota) -> Limit<'_> {
        Limit {
            key,
            quota,
            spend: true,
        }
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

    /// Concurrent requests on one key through Redis are judged exactly: of
    /// 200 requests at once against a burst of 50, 50 pass.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_through_redis_are_judged_exactly() {
        let Ok(url) = std::env::var("TOLLGATE_TEST_REDIS_URL") else {
            return;
        };
        let limiter = Limiter::redis(&url, "test").await.unwrap();
        let mut r = [0u8; 8];
        getrandom::fill(&mut r).unwrap();
        let key = hex16(&Sha256::digest(r));
        // One request an hour after the burst: none comes back in the test.
        let quota = Quota {
            rate: 1,
            period_secs: 3600,
            burst: 50,
        };
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let (l, k) = (limiter.clone(), key.clone());
                tokio::spawn(async move { l.admit(&k, quota, UnixMicros(0)).await.unwrap() })
            })
            .collect();
        let mut allowed = 0;
        for t in tasks {
            allowed += usize::from(t.await.unwrap().allowed);
        }
        assert_eq!(allowed, 50);
    }

    #[test]
    fn redis_answers_map_to_the_same_verdicts_as_in_process() {
        let now = UnixMicros(5_000_000);
        let (v, tat) = check(Q, None, now);
        assert_eq!(verdict_from(Q, true, tat - now.0, 0), v);
    }
}
