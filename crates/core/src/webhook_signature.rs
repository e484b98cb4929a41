//! Standard Webhooks signatures (spec 1.0.0, symmetric `v1` scheme).
//!
//! A secret is `whsec_` followed by the standard, padded base64 of random
//! bytes; the HMAC-SHA256 key is those decoded bytes, not the text. The
//! signed content is `{webhook-id}.{webhook-timestamp}.{body}` over the exact
//! bytes sent, and the `webhook-signature` header carries one `v1,<base64>`
//! token per valid secret, joined by a single space (the official Python
//! library raises on an empty token, so there is never a double or trailing
//! space). Pure: the caller supplies randomness and time.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The text prefix of a serialized secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Bytes of a secret we generate (the spec allows 24 to 64).
pub const SECRET_BYTES: usize = 32;
/// The replay window every official verifier library applies (both ways).
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// A signing secret: the decoded key bytes, zeroized on drop, never printed.
#[derive(Clone)]
pub struct WebhookSecret {
    key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<secret>)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a webhook secret starts with `whsec_` followed by padded base64 of 24 to 64 bytes")]
    Malformed,
}

impl WebhookSecret {
    /// A secret from fresh random bytes.
    pub fn from_random(random: [u8; SECRET_BYTES]) -> Self {
        let random = Zeroizing::new(random);
        WebhookSecret {
            key: Zeroizing::new(random.to_vec()),
        }
    }

    /// Parses `whsec_<padded base64>` (as we emit it; the Rust reference
    /// library also refuses unpadded text).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let b64 = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::Malformed)?;
        let key = Zeroizing::new(STANDARD.decode(b64).map_err(|_| SecretError::Malformed)?);
        if !(24..=64).contains(&key.len()) {
            return Err(SecretError::Malformed);
        }
        Ok(WebhookSecret { key })
    }

    /// The form shown once to the tenant: `whsec_` + padded base64.
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(SECRET_PREFIX.len() + 88));
        out.push_str(SECRET_PREFIX);
        STANDARD.encode_string(self.key.as_slice(), &mut out);
        out
    }

    /// The raw key bytes (for sealing).
    pub fn key_bytes(&self) -> &[u8] {
        &self.key
    }

    /// From raw key bytes (as unsealed).
    pub fn from_key_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        if !(24..=64).contains(&bytes.len()) {
            return Err(SecretError::Malformed);
        }
        Ok(WebhookSecret {
            key: Zeroizing::new(bytes.to_vec()),
        })
    }

    fn mac(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).expect("any key length");
        m.update(msg_id.as_bytes());
        m.update(b".");
        m.update(timestamp.to_string().as_bytes());
        m.update(b".");
        m.update(body);
        m.finalize().into_bytes().into()
    }

    /// One `v1,<padded base64>` token.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(msg_id, timestamp, body)))
    }
}

/// Whether `id` may be a `webhook-id`: it is part of the signed content,
/// whose fields are separated by `.`, so it must not contain one (spec).
pub fn valid_message_id(id: &str) -> bool {
    (1..=255).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic() && b != b'.')
}

/// The `webhook-signature` header value: one token per secret, in order,
/// joined by one space.
pub fn signature_header(
    secrets: &[WebhookSecret],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let mut out = String::with_capacity(secrets.len() * 48);
    for (i, s) in secrets.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&s.sign(msg_id, timestamp, body));
    }
    out
}

/// Why a delivery did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the timestamp is outside the tolerance")]
    Timestamp,
    #[error("no signature matches")]
    NoMatch,
}

/// Verifies a delivery as a receiver would (our own tests and benchmark
/// receiver use this; tenants use the official libraries). Constant-time
/// comparison; tokens of other versions are skipped.
pub fn verify(
    secret: &WebhookSecret,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    header: &str,
    now_secs: i64,
) -> Result<(), VerifyError> {
    if now_secs - timestamp > TOLERANCE_SECS || timestamp - now_secs > TOLERANCE_SECS {
        return Err(VerifyError::Timestamp);
    }
    let expected = secret.mac(msg_id, timestamp, body);
    for token in header.split(' ') {
        let Some(b64) = token.strip_prefix("v1,") else {
            continue;
        };
        let Ok(given) = STANDARD.decode(b64) else {
            continue;
        };
        if given.len() == expected.len() && bool::from(given.ct_eq(&expected)) {
            return Ok(());
        }
    }
    Err(VerifyError::NoMatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The known-answer vector of the official Rust library's `test_sign`.
    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TS: i64 = 1_649_367_553;
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;

    #[test]
    fn known_answer_vector() {
        let s = WebhookSecret::parse(SECRET).unwrap();
        assert_eq!(
            s.sign(ID, TS, BODY),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
        assert_eq!(verify(&s, ID, TS, BODY, &s.sign(ID, TS, BODY), TS), Ok(()));
    }

    #[test]
    fn secrets_round_trip_padded() {
        let s = WebhookSecret::from_random([0xAB; SECRET_BYTES]);
        let text = s.to_text();
        assert!(
            text.starts_with("whsec_") && text.ends_with('='),
            "{}",
            *text
        );
        assert_eq!(text.len(), 6 + 44);
        let back = WebhookSecret::parse(&text).unwrap();
        assert_eq!(back.key_bytes(), s.key_bytes());
        assert!(!format!("{s:?}").contains("AB"));
        // Unpadded (or truncated) base64 is refused, as the Rust library does.
        assert!(WebhookSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7o").is_err());
        assert!(WebhookSecret::parse("C2FVsBQIhrscChlQIMV+b5sSYspob7oD").is_err());
        assert!(WebhookSecret::parse("whsec_AAAA").is_err());
    }

    #[test]
    fn header_has_one_token_per_secret_single_spaced() {
        let a = WebhookSecret::from_random([1; SECRET_BYTES]);
        let b = WebhookSecret::from_random([2; SECRET_BYTES]);
        let h = signature_header(&[a.clone(), b.clone()], ID, TS, BODY);
        let tokens: Vec<&str> = h.split(' ').collect();
        assert_eq!(tokens.len(), 2);
        assert!(tokens.iter().all(|t| t.starts_with("v1,") && t.len() == 47));
        assert!(!h.starts_with(' ') && !h.ends_with(' ') && !h.contains("  "));
        // Either secret verifies; a third does not; a changed body does not.
        assert_eq!(verify(&a, ID, TS, BODY, &h, TS), Ok(()));
        assert_eq!(verify(&b, ID, TS, BODY, &h, TS), Ok(()));
        let c = WebhookSecret::from_random([3; SECRET_BYTES]);
        assert_eq!(verify(&c, ID, TS, BODY, &h, TS), Err(VerifyError::NoMatch));
        assert_eq!(verify(&a, ID, TS, b"{}", &h, TS), Err(VerifyError::NoMatch));
    }

    #[test]
    fn timestamps_outside_five_minutes_fail() {
        let s = WebhookSecret::parse(SECRET).unwrap();
        let h = s.sign(ID, TS, BODY);
        assert_eq!(verify(&s, ID, TS, BODY, &h, TS + 300), Ok(()));
        assert_eq!(
            verify(&s, ID, TS, BODY, &h, TS + 301),
            Err(VerifyError::Timestamp)
        );
        assert_eq!(
            verify(&s, ID, TS, BODY, &h, TS - 301),
            Err(VerifyError::Timestamp)
        );
    }

    #[test]
    fn message_ids_never_contain_a_dot() {
        let id = crate::id::WebhookMessageId::generate(1_795_000_000_000, [9; 10]);
        assert!(id.as_str().starts_with("msg_"));
        assert!(valid_message_id(id.as_str()));
        assert!(!valid_message_id("msg_a.b"));
        assert!(!valid_message_id(""));
    }
}
