//! The rules of webhook delivery that need no I/O: the event catalogue, the
//! retry schedule, `Retry-After` bounds, and which custom headers an
//! endpoint may set.

/// Every event type an endpoint can subscribe to. Fixed: a type outside
/// this list is refused, so a typo cannot silently receive nothing.
pub const EVENT_TYPES: &[(&str, &str)] = &[
    ("gate.decision.denied", "The dial gate denied a dial check."),
    (
        "lead.suppressed",
        "A number joined the suppression list after an opt-out.",
    ),
    (
        "dnc.incident.opened",
        "The DNC data provider became unavailable; dialing is paused.",
    ),
    (
        "dnc.incident.resolved",
        "The DNC data provider answers again.",
    ),
    ("import.finished", "A lead import finished."),
    ("audit.checkpoint", "An audit chain head was signed."),
    (
        "webhook.test",
        "A test event sent on request (always delivered to the endpoint it was sent to).",
    ),
];

pub fn is_event_type(t: &str) -> bool {
    EVENT_TYPES.iter().any(|(name, _)| *name == t)
}

/// Delays before each attempt, in seconds: immediately, 5 s, 5 min, 30 min,
/// 2 h, 5 h, 10 h, 14 h, 20 h, 24 h (the Standard Webhooks example
/// schedule, about 3 days 3.5 hours in total).
pub const RETRY_SCHEDULE_SECS: [i64; 10] = [
    0,
    5,
    5 * 60,
    30 * 60,
    2 * 3600,
    5 * 3600,
    10 * 3600,
    14 * 3600,
    20 * 3600,
    24 * 3600,
];

/// The longest `Retry-After` honored; a longer one is clamped to it (a
/// receiver cannot park a message for a week).
pub const MAX_RETRY_AFTER_SECS: i64 = 24 * 3600;

/// An endpoint failing without a single success for this long is disabled.
pub const DISABLE_AFTER_FAILING_SECS: i64 = 5 * 24 * 3600;

/// The delay before attempt `next` (0-based; attempt 0 is the first), or
/// `None` when the schedule is exhausted. `jitter` is a random value in
/// `0..=u16::MAX` from the caller: up to +/-10% of the delay is added, so a
/// burst of failures does not retry in lockstep. `retry_after` (seconds the
/// receiver asked for) replaces the scheduled delay, clamped to
/// `[scheduled, MAX_RETRY_AFTER_SECS]` so it can slow us down but never
/// make us hammer.
pub fn delay_before(next: u32, jitter: u16, retry_after: Option<i64>) -> Option<i64> {
    let base = *RETRY_SCHEDULE_SECS.get(next as usize)?;
    let spread = base / 10;
    let offset = if spread == 0 {
        0
    } else {
        (i64::from(jitter) * 2 * spread) / i64::from(u16::MAX) - spread
    };
    let scheduled = (base + offset).max(0);
    Some(match retry_after {
        Some(asked) => asked.clamp(scheduled, MAX_RETRY_AFTER_SECS.max(scheduled)),
        None => scheduled,
    })
}

/// Parses a `Retry-After` value: delay-seconds only (an HTTP date would
/// need a clock; it is ignored and the schedule applies).
pub fn parse_retry_after(value: &str) -> Option<i64> {
    let v = value.trim();
    if v.is_empty() || v.len() > 10 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// Why a custom header is refused.
pub fn refuse_custom_header(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if lower.is_empty()
        || lower.len() > 64
        || !lower
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
    {
        return Some("header names are 1 to 64 letters, digits, `-` or `_`");
    }
    if lower.starts_with("webhook-") || lower.starts_with("svix-") {
        return Some("the `webhook-*` and `svix-*` headers are the signature's own");
    }
    // Hop-by-hop headers (RFC 9110 7.6.1) and the ones the client owns.
    const RESERVED: &[&str] = &[
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "proxy-authenticate",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "cookie",
        "user-agent",
        // Header values are stored and shown as configuration, not sealed:
        // a credential does not belong in one. Receivers authenticate us by
        // the signature.
        "authorization",
    ];
    if RESERVED.contains(&lower.as_str()) {
        return Some("hop-by-hop and transport headers are set by the sender");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_matches_the_spec_example_and_ends() {
        let mid = u16::MAX / 2;
        let delays: Vec<i64> = (0..10)
            .map(|i| delay_before(i, mid, None).unwrap())
            .collect();
        for (got, want) in delays.iter().zip(RETRY_SCHEDULE_SECS) {
            assert!((got - want).abs() <= want / 100 + 1, "{got} vs {want}");
        }
        assert_eq!(delay_before(10, mid, None), None);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        for j in [0, 1, 1000, u16::MAX] {
            let d = delay_before(3, j, None).unwrap();
            assert!((1620..=1980).contains(&d), "{d}");
        }
        assert_eq!(delay_before(0, u16::MAX, None), Some(0));
    }

    #[test]
    fn retry_after_slows_down_but_is_bounded() {
        let mid = u16::MAX / 2;
        assert_eq!(delay_before(1, mid, Some(60)), Some(60));
        // Shorter than the schedule: the schedule wins.
        assert!(delay_before(2, mid, Some(1)).unwrap() >= 270);
        assert_eq!(
            delay_before(1, mid, Some(10_000_000)),
            Some(MAX_RETRY_AFTER_SECS)
        );
        assert_eq!(parse_retry_after(" 120 "), Some(120));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-5"), None);
    }

    #[test]
    fn custom_headers_cannot_forge_the_signature_or_transport() {
        assert!(refuse_custom_header("X-Tenant").is_none());
        for bad in [
            "webhook-signature",
            "Webhook-Id",
            "svix-id",
            "Host",
            "Authorization",
            "content-length",
            "Transfer-Encoding",
            "x bad",
            "",
        ] {
            assert!(refuse_custom_header(bad).is_some(), "{bad}");
        }
        assert!(is_event_type("gate.decision.denied") && !is_event_type("gate.*"));
    }
}
