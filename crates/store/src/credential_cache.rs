//! A per-node cache of credential rows, so a busy bot's requests do not each
//! read the database to learn what its key may do.
//!
//! What is cached is the stored row (the credential's hash, scopes, expiry,
//! revocation and its member's role), never a verdict and never a secret:
//! every request still verifies the presented secret against the cached hash
//! in constant time and re-checks revocation, expiry and the member exactly
//! as a fresh read would. An entry lives for at most the cache's time to live
//! (one second by default), so a change made on another node reaches this
//! one within that window; a change made through this node's store
//! ([`CredentialCache::invalidate`]) takes effect here at once.
//!
//! Only rows that exist are cached: an unknown lookup goes to the database
//! every time, and a bounded size keeps a flood of distinct credentials from
//! growing the cache.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a credential row is trusted without reading it again, unless the
/// store is told otherwise. The issue allows a revocation to take "seconds"
/// on other nodes; one second keeps that promise with room to spare.
pub const DEFAULT_TTL: Duration = Duration::from_secs(1);

/// Entries per kind of credential. Far above the number of keys a node sees
/// in one second; when full, expired entries go first, then everything.
const CAPACITY: usize = 16_384;

/// Rows of one kind, by a key (for credentials, the token's public lookup
/// id), each trusted for a time to live; also used by the gate's cache.
pub(crate) struct TtlCache<V> {
    entries: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> TtlCache<V> {
    pub(crate) fn new() -> Self {
        TtlCache {
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn get(&self, lookup: &str, ttl: Duration) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(lookup)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, v)| v.clone())
    }

    pub(crate) fn put(&self, lookup: &str, value: V, fetched: Instant, ttl: Duration) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CAPACITY && !entries.contains_key(lookup) {
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(lookup.to_owned(), (fetched, value));
    }

    pub(crate) fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// The two kinds of bearer credential a request can present.
pub(crate) struct CredentialCache<K, T> {
    ttl: Duration,
    /// Bumped by every invalidation. A row read before an invalidation is
    /// not stored after it, so a request racing a revocation cannot put the
    /// pre-revocation row back for another second.
    generation: Generation,
    pub(crate) api_keys: TtlCache<K>,
    pub(crate) oauth_tokens: TtlCache<T>,
}

/// A ticket taken before reading a row from the database; the row may be
/// cached only if no invalidation happened since.
#[derive(Clone, Copy)]
pub(crate) struct Ticket {
    generation: u64,
    pub(crate) at: Instant,
}

/// The invalidation counter of a cache (this one and
/// [`crate::gate_cache`]): rows read under a ticket are stored only while
/// no invalidation has happened since the ticket was taken.
#[derive(Default)]
pub(crate) struct Generation(AtomicU64);

impl Generation {
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket {
            generation: self.0.load(Ordering::Acquire),
            at: Instant::now(),
        }
    }

    pub(crate) fn is_current(&self, ticket: Ticket) -> bool {
        self.0.load(Ordering::Acquire) == ticket.generation
    }

    pub(crate) fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

impl<K: Clone, T: Clone> CredentialCache<K, T> {
    pub(crate) fn new(ttl: Duration) -> Self {
        CredentialCache {
            ttl,
            generation: Generation::default(),
            api_keys: TtlCache::new(),
            oauth_tokens: TtlCache::new(),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    pub(crate) fn api_key(&self, lookup: &str) -> Option<K> {
        self.enabled()
            .then(|| self.api_keys.get(lookup, self.ttl))
            .flatten()
    }

    pub(crate) fn oauth_token(&self, lookup: &str) -> Option<T> {
        self.enabled()
            .then(|| self.oauth_tokens.get(lookup, self.ttl))
            .flatten()
    }

    pub(crate) fn ticket(&self) -> Ticket {
        self.generation.ticket()
    }

    pub(crate) fn put_api_key(&self, ticket: Ticket, lookup: &str, row: K) {
        if self.enabled() && self.generation.is_current(ticket) {
            self.api_keys.put(lookup, row, ticket.at, self.ttl);
        }
    }

    pub(crate) fn put_oauth_token(&self, ticket: Ticket, lookup: &str, row: T) {
        if self.enabled() && self.generation.is_current(ticket) {
            self.oauth_tokens.put(lookup, row, ticket.at, self.ttl);
        }
    }

    /// Forgets every cached row. Called after any change that can take
    /// authority away (a revocation, a role change, a member's removal):
    /// such changes are rare, so forgetting everything is simpler and no
    /// slower in practice than finding the rows the change touched.
    pub(crate) fn invalidate(&self) {
        self.generation.bump();
        self.api_keys.clear();
        self.oauth_tokens.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_expires_after_the_ttl() {
        let cache: CredentialCache<u32, u32> = CredentialCache::new(Duration::from_millis(30));
        let t = cache.ticket();
        cache.put_api_key(t, "a", 1);
        assert_eq!(cache.api_key("a"), Some(1));
        assert_eq!(cache.oauth_token("a"), None);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.api_key("a"), None);
    }

    #[test]
    fn a_row_read_before_an_invalidation_is_not_stored_after_it() {
        let cache: CredentialCache<u32, u32> = CredentialCache::new(DEFAULT_TTL);
        let before = cache.ticket();
        cache.put_api_key(before, "a", 1);
        let racing = cache.ticket();
        cache.invalidate();
        assert_eq!(cache.api_key("a"), None);
        cache.put_api_key(racing, "a", 1);
        assert_eq!(cache.api_key("a"), None);
        cache.put_api_key(cache.ticket(), "a", 2);
        assert_eq!(cache.api_key("a"), Some(2));
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache: CredentialCache<u32, u32> = CredentialCache::new(Duration::ZERO);
        cache.put_oauth_token(cache.ticket(), "a", 1);
        assert_eq!(cache.oauth_token("a"), None);
    }

    #[test]
    fn the_size_is_bounded() {
        let cache: CredentialCache<u32, u32> = CredentialCache::new(DEFAULT_TTL);
        for i in 0..(CAPACITY as u32 + 10) {
            cache.put_api_key(cache.ticket(), &i.to_string(), i);
        }
        let len = cache.api_keys.entries.lock().unwrap().len();
        assert!(len <= CAPACITY, "{len}");
    }
}
