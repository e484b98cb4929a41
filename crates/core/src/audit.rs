//! The audit event and its hash chain.
//!
//! Each organization has its own chain: event `n` stores the hash of event
//! `n-1` and its own hash over a canonical encoding of every field, so an
//! edited, removed, inserted or reordered event breaks the chain at a point
//! a verifier can name. The encoding is JSON with keys in lexicographic
//! order, no insignificant whitespace and integers only (no floats), which
//! is stable across serde_json versions and reproducible in any language.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::time::UnixMicros;

/// The hash before the first event of every chain.
pub const GENESIS: [u8; 32] = [0; 32];

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorRef {
    /// `api_key`, `user`, `operator` or `system`.
    pub kind: String,
    pub id: Option<String>,
}

/// What the event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetRef {
    pub kind: String,
    pub id: String,
}

/// The HTTP request that caused the event, when there was one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub method: Option<String>,
    pub route: Option<String>,
}

/// One event as written: every field is covered by its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: String,
    pub org_id: String,
    /// Position in the org's chain, from 1.
    pub seq: i64,
    pub occurred_at: UnixMicros,
    pub actor: ActorRef,
    /// Dotted verb, e.g. `member.role_changed`.
    pub action: String,
    pub target: Option<TargetRef>,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    pub request: RequestMeta,
    /// Action-specific facts (before/after values). Never secrets.
    pub details: serde_json::Value,
    #[serde(with = "hex32")]
    pub prev_hash: [u8; 32],
}

impl AuditEvent {
    /// The event's own hash: SHA-256 over a domain tag and the canonical
    /// encoding, which includes `prev_hash`.
    pub fn hash(&self) -> [u8; 32] {
        let canonical =
            serde_json::to_vec(&serde_json::to_value(self).expect("audit events are plain data"))
                .expect("a JSON value always encodes");
        let mut h = Sha256::new();
        h.update(b"tollgate audit event v1\0");
        h.update(&canonical);
        h.finalize().into()
    }
}

/// Where a chain stops being consistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// The event's stored hash is not the hash of its content: edited.
    HashMismatch { seq: i64 },
    /// The event does not point at the previous event's hash: an event
    /// before it was removed, inserted or reordered.
    BrokenLink { seq: i64 },
    /// Sequence numbers are not 1, 2, 3, …
    SequenceGap { expected: i64, found: i64 },
}

/// Checks a chain one event at a time, so any length verifies in constant
/// memory. Feed events in sequence order.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    prev: [u8; 32],
    expected: i64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            prev: GENESIS,
            expected: 1,
        }
    }
}

impl ChainVerifier {
    /// Starts after a known head, e.g. a checkpoint or the last pruned event.
    pub fn after(count: i64, head: [u8; 32]) -> Self {
        ChainVerifier {
            prev: head,
            expected: count + 1,
        }
    }

    pub fn push(&mut self, event: &AuditEvent, stored_hash: &[u8; 32]) -> Result<(), ChainBreak> {
        if event.seq != self.expected {
            return Err(ChainBreak::SequenceGap {
                expected: self.expected,
                found: event.seq,
            });
        }
        if event.prev_hash != self.prev {
            return Err(ChainBreak::BrokenLink { seq: event.seq });
        }
        if event.hash() != *stored_hash {
            return Err(ChainBreak::HashMismatch { seq: event.seq });
        }
        self.prev = *stored_hash;
        self.expected += 1;
        Ok(())
    }

    /// Events verified so far and the hash of the last one.
    pub fn head(&self) -> (i64, [u8; 32]) {
        (self.expected - 1, self.prev)
    }
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainBreak::HashMismatch { seq } => {
                write!(f, "event {seq} does not match its hash: it was edited")
            }
            ChainBreak::BrokenLink { seq } => write!(
                f,
                "event {seq} does not follow the event before it: an event was removed, inserted or reordered before it"
            ),
            ChainBreak::SequenceGap { expected, found } => write!(
                f,
                "expected event {expected} but found {found}: events were removed or reordered"
            ),
        }
    }
}

/// Walks `(event, stored_hash)` pairs in sequence order and reports the
/// first break, or the head (count, last hash) when the chain is whole.
pub fn verify_chain<I>(events: I) -> Result<(i64, [u8; 32]), ChainBreak>
where
    I: IntoIterator<Item = (AuditEvent, [u8; 32])>,
{
    let mut v = ChainVerifier::default();
    for (event, stored) in events {
        v.push(&event, &stored)?;
    }
    Ok(v.head())
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::to_hex(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; 32];
        if s.len() != 64 {
            return Err(serde::de::Error::custom("expected 64 hex digits"));
        }
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = u8::from_str_radix(s.get(2 * i..2 * i + 2).unwrap_or("zz"), 16)
                .map_err(serde::de::Error::custom)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<(AuditEvent, [u8; 32])> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let e = AuditEvent {
                    id: format!("evt_{seq}"),
                    org_id: "org_a".into(),
                    seq,
                    occurred_at: UnixMicros(seq * 1000),
                    actor: ActorRef {
                        kind: "system".into(),
                        id: None,
                    },
                    action: "test.event".into(),
                    target: None,
                    outcome: "success".into(),
                    request: RequestMeta::default(),
                    details: serde_json::json!({"n": seq, "b": [1, 2], "a": "x"}),
                    prev_hash: prev,
                };
                let h = e.hash();
                prev = h;
                (e, h)
            })
            .collect()
    }

    #[test]
    fn whole_chain_verifies() {
        let c = chain(5);
        let head = c.last().unwrap().1;
        assert_eq!(verify_chain(c), Ok((5, head)));
    }

    #[test]
    fn edits_removals_and_reorders_are_named() {
        let mut edited = chain(5);
        edited[2].0.action = "test.other".into();
        assert_eq!(
            verify_chain(edited),
            Err(ChainBreak::HashMismatch { seq: 3 })
        );

        let mut removed = chain(5);
        removed.remove(2);
        assert_eq!(
            verify_chain(removed),
            Err(ChainBreak::SequenceGap {
                expected: 3,
                found: 4
            })
        );

        let mut reordered = chain(5);
        reordered.swap(1, 2);
        assert_eq!(
            verify_chain(reordered),
            Err(ChainBreak::SequenceGap {
                expected: 2,
                found: 3
            })
        );

        // A removal that renumbers the rest still breaks the link.
        let mut renumbered = chain(5);
        renumbered.remove(1);
        for (i, (e, _)) in renumbered.iter_mut().enumerate() {
            e.seq = i as i64 + 1;
        }
        assert!(matches!(
            verify_chain(renumbered),
            Err(ChainBreak::BrokenLink { seq: 2 })
        ));
    }

    #[test]
    fn encoding_is_key_sorted() {
        let (e, _) = chain(1).remove(0);
        let text = serde_json::to_string(&serde_json::to_value(&e).unwrap()).unwrap();
        assert!(
            text.contains(r#""details":{"a":"x","b":[1,2],"n":1}"#),
            "{text}"
        );
    }
}
