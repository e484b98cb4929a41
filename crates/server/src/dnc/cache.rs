//! A cache of provider answers, so a lead dialled several times in a day
//! costs one provider call.
//!
//! Rules (docs/dnc-provider.md): only complete answers are cached, each with
//! its version date; an entry expires at the earlier of `ttl` after it was
//! stored and the day its data would be too old to rely on (version date +
//! the freshness limit), so no entry outlives 31 days; failures are never
//! cached, so a failure can never come back as "clear". Keys are a salted
//! hash of the number (the salt is random per process), never the number.

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::civil::Date;
use sha2::{Digest, Sha256};
use tollgate_gate::E164;

use super::provider::{Check, CheckAnswer};

type Key = [u8; 32];

pub struct AnswerCache {
    salt: [u8; 32],
    ttl_micros: i64,
    max_entries: usize,
    entries: Mutex<HashMap<Key, Entry>>,
}

struct Entry {
    answers: Vec<(Check, CheckAnswer)>,
    expires_at: i64,
}

impl AnswerCache {
    pub fn new(ttl_days: u32, max_entries: usize) -> AnswerCache {
        let mut salt = [0u8; 32];
        // Without randomness the cache keys would be plain number hashes;
        // a zero salt still works, it is only less private.
        let _ = getrandom::fill(&mut salt);
        AnswerCache {
            salt,
            ttl_micros: i64::from(ttl_days) * 86_400 * 1_000_000,
            max_entries,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn key(&self, credential: &str, number: &E164, checks: &[Check]) -> Key {
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update(credential.as_bytes());
        h.update([0]);
        h.update(number.as_str().as_bytes());
        for c in checks {
            h.update([0]);
            h.update(c.as_str().as_bytes());
        }
        h.finalize().into()
    }

    pub fn get(
        &self,
        credential: &str,
        number: &E164,
        checks: &[Check],
        now: i64,
    ) -> Option<Vec<(Check, CheckAnswer)>> {
        let key = self.key(credential, number, checks);
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&key) {
            Some(e) if e.expires_at > now => Some(e.answers.clone()),
            Some(_) => {
                map.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Stores a complete answer. `max_age_days` is the freshness limit of the
    /// data (31 for the national registry).
    pub fn put(
        &self,
        credential: &str,
        number: &E164,
        checks: &[Check],
        answers: &[(Check, CheckAnswer)],
        max_age_days: u32,
        now: i64,
    ) {
        if self.ttl_micros <= 0 || answers.len() != checks.len() {
            return;
        }
        let Some(oldest) = answers.iter().map(|(_, a)| a.version).min() else {
            return;
        };
        let Some(stale_at) = stale_at_micros(oldest, max_age_days) else {
            return;
        };
        let expires_at = now.saturating_add(self.ttl_micros).min(stale_at);
        if expires_at <= now {
            return;
        }
        let key = self.key(credential, number, checks);
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.max_entries {
            map.retain(|_, e| e.expires_at > now);
            if map.len() >= self.max_entries {
                // Full of live entries: answer without caching rather
                // than grow without bound.
                return;
            }
        }
        map.insert(
            key,
            Entry {
                answers: answers.to_vec(),
                expires_at,
            },
        );
    }

    /// Forgets everything (the provider setting of an organization changed).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// The first instant (UTC) at which data of `version` is older than
/// `max_age_days` days.
fn stale_at_micros(version: Date, max_age_days: u32) -> Option<i64> {
    let day = version
        .checked_add(jiff::Span::new().days(i64::from(max_age_days) + 1))
        .ok()?;
    let ts = day.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    Some(ts.as_microsecond())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use tollgate_gate::parse_nanp;

    const DAY: i64 = 86_400 * 1_000_000;

    fn answers(version: Date) -> Vec<(Check, CheckAnswer)> {
        vec![(
            Check::National,
            CheckAnswer {
                listed: false,
                source: "national".into(),
                version,
            },
        )]
    }

    fn micros(d: Date) -> i64 {
        d.to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp()
            .as_microsecond()
    }

    #[test]
    fn entries_expire_after_the_ttl_or_when_their_data_turns_stale() {
        let c = AnswerCache::new(30, 10);
        let n = parse_nanp("+18505550100").unwrap();
        let checks = [Check::National];
        let now = micros(date(2026, 12, 1));
        // Fresh data: the TTL bounds the entry.
        c.put("pcr", &n, &checks, &answers(date(2026, 11, 30)), 31, now);
        assert!(c.get("pcr", &n, &checks, now + 29 * DAY).is_some());
        assert!(c.get("pcr", &n, &checks, now + 30 * DAY).is_none());
        // Data from 2026-11-05 is usable through 2026-12-06 (31 days).
        c.put("pcr", &n, &checks, &answers(date(2026, 11, 5)), 31, now);
        assert!(c.get("pcr", &n, &checks, now + 5 * DAY).is_some());
        assert!(c.get("pcr", &n, &checks, now + 6 * DAY).is_none());
        // Another credential or another check list: another entry.
        c.put("pcr", &n, &checks, &answers(date(2026, 11, 30)), 31, now);
        assert!(c.get("pcr2", &n, &checks, now).is_none());
        assert!(
            c.get("pcr", &n, &[Check::National, Check::State], now)
                .is_none()
        );
    }

    #[test]
    fn stale_data_and_incomplete_answers_are_not_cached() {
        let c = AnswerCache::new(30, 10);
        let n = parse_nanp("+18505550100").unwrap();
        let now = micros(date(2026, 12, 1));
        c.put(
            "pcr",
            &n,
            &[Check::National],
            &answers(date(2026, 10, 1)),
            31,
            now,
        );
        assert!(c.get("pcr", &n, &[Check::National], now).is_none());
        c.put(
            "pcr",
            &n,
            &[Check::National, Check::State],
            &answers(date(2026, 11, 30)),
            31,
            now,
        );
        assert!(
            c.get("pcr", &n, &[Check::National, Check::State], now)
                .is_none()
        );
    }
}
