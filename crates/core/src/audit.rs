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

/// Prefixed to the canonical encoding before hashing, so an event hash can
/// never be confused with a hash of anything else.
const DOMAIN: &[u8] = b"tollgate audit event v1\0";

impl AuditEvent {
    /// The event's own hash: SHA-256 over a domain tag and the canonical
    /// encoding, which includes `prev_hash`.
    pub fn hash(&self) -> [u8; 32] {
        self.view().hash(&mut Vec::with_capacity(768))
    }

    /// The event's fields, borrowed, for the canonical encoder.
    pub fn view(&self) -> EventView<'_> {
        EventView {
            id: &self.id,
            org_id: &self.org_id,
            seq: self.seq,
            occurred_at: self.occurred_at.0,
            actor_kind: &self.actor.kind,
            actor_id: self.actor.id.as_deref(),
            action: &self.action,
            target: self
                .target
                .as_ref()
                .map(|t| (t.kind.as_str(), t.id.as_str())),
            outcome: &self.outcome,
            request_id: self.request.request_id.as_deref(),
            ip: self.request.ip.as_deref(),
            user_agent: self.request.user_agent.as_deref(),
            method: self.request.method.as_deref(),
            route: self.request.route.as_deref(),
            details: Details::Value(&self.details),
            prev_hash: &self.prev_hash,
        }
    }
}

/// An event's `details` as the encoder takes them.
#[derive(Debug, Clone, Copy)]
pub enum Details<'a> {
    Value(&'a serde_json::Value),
    /// Stored text, spliced in as it is: see [`Details::canonical_text`].
    Text(DetailsText<'a>),
}

/// Text known to be one complete JSON value (the only way to build one is
/// [`Details::canonical_text`]).
#[derive(Debug, Clone, Copy)]
pub struct DetailsText<'a>(&'a str);

impl<'a> Details<'a> {
    /// Stored details text, spliced verbatim, so verification need not
    /// decode and re-encode every event. Only a single complete JSON value
    /// is accepted: its end is then unambiguous, so bytes cannot shift
    /// between `details` and the fields after it while the encoding (and the
    /// hash) stays the same. Text that is valid but not canonical simply
    /// fails to match its hash; [`ChainVerifier::push_view`] then falls back
    /// to decoding it.
    pub fn canonical_text(text: &'a str) -> Option<Self> {
        serde_json::from_str::<serde::de::IgnoredAny>(text)
            .ok()
            .map(|_| Details::Text(DetailsText(text)))
    }
}

/// One event's fields, borrowed: what the hash covers. Built from an
/// [`AuditEvent`] on append, or straight from a stored row on verification,
/// so neither needs an owned event or an intermediate JSON tree.
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    pub id: &'a str,
    pub org_id: &'a str,
    pub seq: i64,
    pub occurred_at: i64,
    pub actor_kind: &'a str,
    pub actor_id: Option<&'a str>,
    pub action: &'a str,
    /// `(kind, id)`.
    pub target: Option<(&'a str, &'a str)>,
    pub outcome: &'a str,
    pub request_id: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub method: Option<&'a str>,
    pub route: Option<&'a str>,
    pub details: Details<'a>,
    pub prev_hash: &'a [u8; 32],
}

impl EventView<'_> {
    /// Appends the canonical encoding: JSON, keys in byte order at every
    /// level, no whitespace. Byte-identical to encoding the serde
    /// representation of [`AuditEvent`] through a key-sorted
    /// `serde_json::Value` (the original definition, kept as the oracle of
    /// a property test), without building that tree.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"action\":");
        str_(out, self.action);
        out.extend_from_slice(b",\"actor\":{\"id\":");
        opt(out, self.actor_id);
        out.extend_from_slice(b",\"kind\":");
        str_(out, self.actor_kind);
        out.extend_from_slice(b"},\"details\":");
        match self.details {
            Details::Value(v) => {
                serde_json::to_writer(&mut *out, v).expect("writing to a Vec cannot fail")
            }
            Details::Text(DetailsText(t)) => out.extend_from_slice(t.as_bytes()),
        }
        out.extend_from_slice(b",\"id\":");
        str_(out, self.id);
        out.extend_from_slice(b",\"occurred_at\":");
        int(out, self.occurred_at);
        out.extend_from_slice(b",\"org_id\":");
        str_(out, self.org_id);
        out.extend_from_slice(b",\"outcome\":");
        str_(out, self.outcome);
        out.extend_from_slice(b",\"prev_hash\":\"");
        hex_into(out, self.prev_hash);
        out.extend_from_slice(b"\",\"request\":{\"ip\":");
        opt(out, self.ip);
        out.extend_from_slice(b",\"method\":");
        opt(out, self.method);
        out.extend_from_slice(b",\"request_id\":");
        opt(out, self.request_id);
        out.extend_from_slice(b",\"route\":");
        opt(out, self.route);
        out.extend_from_slice(b",\"user_agent\":");
        opt(out, self.user_agent);
        out.extend_from_slice(b"},\"seq\":");
        int(out, self.seq);
        out.extend_from_slice(b",\"target\":");
        match self.target {
            None => out.extend_from_slice(b"null"),
            Some((kind, id)) => {
                out.extend_from_slice(b"{\"id\":");
                str_(out, id);
                out.extend_from_slice(b",\"kind\":");
                str_(out, kind);
                out.push(b'}');
            }
        }
        out.push(b'}');
    }

    /// The event hash; `buf` is scratch space, reused across events.
    pub fn hash(&self, buf: &mut Vec<u8>) -> [u8; 32] {
        buf.clear();
        buf.extend_from_slice(DOMAIN);
        self.encode(buf);
        Sha256::digest(&buf[..]).into()
    }
}

/// A JSON string exactly as serde_json escapes it. serde_json escapes only
/// `"`, `\\` and control characters below 0x20; text without them (nearly
/// every stored value) is copied in one piece instead of through its
/// writer, which verification does for 14 strings of every event.
fn str_(out: &mut Vec<u8>, s: &str) {
    // A fold, not `all`: without the early exit the scan vectorizes.
    let needs_escaping = s.bytes().fold(false, |esc, b| {
        esc | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if !needs_escaping {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
    }
}

fn opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => str_(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Decimal digits as serde_json writes an integer (serde_json formats
/// through `itoa` too), on the stack and copied once, instead of through
/// serde_json's `io::Write` path, twice for every event.
fn int(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Lower-case hex, formatted on the stack and copied once rather than
/// pushed a byte at a time.
fn hex_into(out: &mut Vec<u8>, bytes: &[u8; 32]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = [0u8; 64];
    for (pair, b) in hex.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
    out.extend_from_slice(&hex);
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
        self.push_view(&event.view(), stored_hash, &mut Vec::new())
    }

    /// As [`ChainVerifier::push`], from borrowed fields; `buf` is scratch
    /// space reused across events.
    pub fn push_view(
        &mut self,
        event: &EventView<'_>,
        stored_hash: &[u8; 32],
        buf: &mut Vec<u8>,
    ) -> Result<(), ChainBreak> {
        if event.seq != self.expected {
            return Err(ChainBreak::SequenceGap {
                expected: self.expected,
                found: event.seq,
            });
        }
        if *event.prev_hash != self.prev {
            return Err(ChainBreak::BrokenLink { seq: event.seq });
        }
        if !matches_hash(event, stored_hash, buf) {
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

/// Whether the event hashes to `stored_hash`. Stored details text is tried
/// verbatim first; text that does not match is decoded and re-encoded, so
/// details stored in a non-canonical spelling of the same value still
/// verify, as they did when every event was decoded.
pub fn matches_hash(event: &EventView<'_>, stored_hash: &[u8; 32], buf: &mut Vec<u8>) -> bool {
    if event.hash(buf) == *stored_hash {
        return true;
    }
    let Details::Text(DetailsText(text)) = event.details else {
        return false;
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return false;
    };
    let decoded = EventView {
        details: Details::Value(&value),
        ..*event
    };
    decoded.hash(buf) == *stored_hash
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
    use proptest::prelude::*;

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

    /// The original definition of the encoding: the serde representation
    /// of the event through a `serde_json::Value`, whose maps sort keys.
    fn hash_via_value(e: &AuditEvent) -> [u8; 32] {
        let canonical = serde_json::to_vec(&serde_json::to_value(e).unwrap()).unwrap();
        let mut h = Sha256::new();
        h.update(DOMAIN);
        h.update(&canonical);
        h.finalize().into()
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("JSON has no NaN or infinities", |f| f.is_finite())
                .prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((any::<String>(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn event() -> impl Strategy<Value = AuditEvent> {
        let s = || any::<String>();
        let o = || proptest::option::of(any::<String>());
        (
            (s(), s(), any::<i64>(), any::<i64>(), s(), o(), s()),
            (
                proptest::option::of((s(), s())),
                s(),
                o(),
                o(),
                o(),
                o(),
                o(),
            ),
            (json_value(), any::<[u8; 32]>()),
        )
            .prop_map(
                |(
                    (id, org_id, seq, at, actor_kind, actor_id, action),
                    (target, outcome, request_id, ip, user_agent, method, route),
                    (details, prev_hash),
                )| AuditEvent {
                    id,
                    org_id,
                    seq,
                    occurred_at: UnixMicros(at),
                    actor: ActorRef {
                        kind: actor_kind,
                        id: actor_id,
                    },
                    action,
                    target: target.map(|(kind, id)| TargetRef { kind, id }),
                    outcome,
                    request: RequestMeta {
                        request_id,
                        ip,
                        user_agent,
                        method,
                        route,
                    },
                    details,
                    prev_hash,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// The direct encoder is byte-identical to the original, so every
        /// stored hash still verifies.
        #[test]
        fn direct_encoder_matches_the_value_encoding(e in event()) {
            let mut direct = Vec::new();
            e.view().encode(&mut direct);
            let via_value = serde_json::to_vec(&serde_json::to_value(&e).unwrap()).unwrap();
            prop_assert_eq!(String::from_utf8(direct).unwrap(), String::from_utf8(via_value).unwrap());
            prop_assert_eq!(e.hash(), hash_via_value(&e));
        }

        /// Stored details text (as the store writes it) spliced verbatim
        /// gives the same hash as the decoded value.
        #[test]
        fn stored_details_text_hashes_like_the_value(e in event()) {
            let text = e.details.to_string();
            let view = EventView {
                details: Details::canonical_text(&text).unwrap(),
                ..e.view()
            };
            prop_assert_eq!(view.hash(&mut Vec::new()), hash_via_value(&e));
        }
    }

    #[test]
    fn details_text_must_be_one_json_value() {
        assert!(Details::canonical_text(r#"{"a":1}"#).is_some());
        assert!(Details::canonical_text(r#"{"a":1},"id":"x""#).is_none());
        assert!(Details::canonical_text(r#"{"a":1"#).is_none());
        assert!(Details::canonical_text("").is_none());
    }

    /// Details stored in another spelling of the same value still verify
    /// (the decoding fallback); different content does not.
    #[test]
    fn non_canonical_details_text_falls_back_to_decoding() {
        let (e, h) = chain(1).remove(0);
        let mut buf = Vec::new();
        for (text, ok) in [
            (r#"{"n":1,"b":[1,2],"a":"x"}"#, true),
            (r#"{ "a": "x", "b": [1, 2], "n": 1 }"#, true),
            (r#"{"a":"x","b":[1,2],"n":2}"#, false),
            (r#"{"a":"x","b":[1,2]}"#, false),
        ] {
            let view = EventView {
                details: Details::canonical_text(text).unwrap(),
                ..e.view()
            };
            assert_eq!(matches_hash(&view, &h, &mut buf), ok, "{text}");
        }
    }

    /// Moving bytes between `details` and the next field, keeping the
    /// encoding's bytes, is refused: such details text is not one value.
    #[test]
    fn bytes_cannot_shift_out_of_details() {
        let (e, _) = chain(1).remove(0);
        let text = format!("{},\"id\":\"evt_1\"", e.details);
        assert!(Details::canonical_text(&text).is_none());
    }

    /// The integer and hex writers at their edges, against serde_json and
    /// `to_hex` (the property test draws random values, rarely these).
    #[test]
    fn integers_and_hashes_are_written_as_before() {
        for n in [
            0,
            1,
            -1,
            9,
            10,
            -10,
            99,
            100,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
        ] {
            let mut out = b"x".to_vec();
            int(&mut out, n);
            assert_eq!(
                out,
                format!("x{}", serde_json::to_string(&n).unwrap()).as_bytes()
            );
        }
        for bytes in [[0u8; 32], [0xff; 32], core::array::from_fn(|i| i as u8 * 8)] {
            let mut out = Vec::new();
            hex_into(&mut out, &bytes);
            assert_eq!(out, to_hex(&bytes).as_bytes());
        }
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
