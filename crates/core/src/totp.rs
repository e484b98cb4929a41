//! Time-based one-time passwords (RFC 6238 over RFC 4226): HMAC-SHA1,
//! 6 digits, 30-second steps, one step of drift either way.
//!
//! The profile is fixed because it is the only one every phone authenticator
//! implements; offering choices would only let a person pick one their app
//! silently gets wrong. Replay protection needs state, so the caller keeps
//! the last accepted step and passes it in: a step at or below it is refused.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::UnixMicros;

pub const DIGITS: u32 = 6;
pub const STEP_SECS: i64 = 30;
/// Steps accepted on either side of the current one (clock drift, typing time).
pub const DRIFT_STEPS: i64 = 1;
/// 160 bits, the RFC 4226 recommendation for SHA-1.
pub const SECRET_BYTES: usize = 20;

/// A shared TOTP secret. Zeroized on drop; never printed by `Debug`.
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    pub fn new(bytes: [u8; SECRET_BYTES]) -> Self {
        TotpSecret(Zeroizing::new(bytes.to_vec()))
    }

    /// Restores a stored secret (any length RFC 4226 allows, 16 bytes or more).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        (16..=64)
            .contains(&bytes.len())
            .then(|| TotpSecret(Zeroizing::new(bytes.to_vec())))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4648 base32, upper case, unpadded: what authenticator apps expect.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(rfc4648_base32(&self.0))
    }

    /// The `otpauth://` URI that authenticator apps read from the QR code.
    /// Issuer and account are percent-encoded; the label carries both, as
    /// the Key Uri Format asks, so older apps that ignore `issuer=` still
    /// show which account this is.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> Zeroizing<String> {
        let issuer = percent_encode(issuer);
        let account = percent_encode(account);
        Zeroizing::new(format!(
            "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            rfc4648_base32(&self.0)
        ))
    }
}

/// The time step containing `now`.
pub fn step_at(now: UnixMicros) -> i64 {
    now.0.div_euclid(STEP_SECS * UnixMicros::SECOND)
}

/// The code for one step (RFC 4226 HOTP with the step as counter).
pub fn code_at_step(secret: &TotpSecret, step: i64) -> Zeroizing<String> {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts any key length");
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    let value = binary % 10u32.pow(DIGITS);
    Zeroizing::new(format!("{value:0width$}", width = DIGITS as usize))
}

/// Checks a presented code at `now`, allowing one step of drift, refusing
/// any step at or before `last_used_step` (each step is accepted once).
/// Returns the step that matched, to be stored as the new `last_used_step`.
pub fn verify(
    secret: &TotpSecret,
    presented: &str,
    now: UnixMicros,
    last_used_step: Option<i64>,
) -> Option<i64> {
    let presented: String = presented.chars().filter(|c| !c.is_whitespace()).collect();
    if presented.len() != DIGITS as usize || !presented.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step_at(now);
    let mut matched = None;
    // Every candidate is computed and compared, so timing does not say
    // which step (if any) matched.
    for step in current - DRIFT_STEPS..=current + DRIFT_STEPS {
        let expected = code_at_step(secret, step);
        let fresh = last_used_step.is_none_or(|last| step > last);
        if bool::from(expected.as_bytes().ct_eq(presented.as_bytes())) && fresh {
            matched.get_or_insert(step);
        }
    }
    matched
}

fn rfc4648_base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> UnixMicros {
        UnixMicros(secs * UnixMicros::SECOND)
    }

    /// RFC 6238 Appendix B, SHA-1 column (the 8-digit values, last 6 digits).
    #[test]
    fn rfc6238_test_vectors() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        for (t, full) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            let code = code_at_step(&secret, step_at(at(t)));
            assert_eq!(code.as_str(), &full[2..], "t = {t}");
        }
    }

    #[test]
    fn one_step_of_drift_and_no_more() {
        let secret = TotpSecret::new([7; SECRET_BYTES]);
        let now = at(1_700_000_000);
        let step = step_at(now);
        for (offset, ok) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
            let code = code_at_step(&secret, step + offset);
            assert_eq!(verify(&secret, &code, now, None).is_some(), ok, "{offset}");
        }
    }

    #[test]
    fn a_used_step_is_never_accepted_again() {
        let secret = TotpSecret::new([9; SECRET_BYTES]);
        let now = at(1_700_000_000);
        let code = code_at_step(&secret, step_at(now));
        let used = verify(&secret, &code, now, None).unwrap();
        assert_eq!(verify(&secret, &code, now, Some(used)), None);
        // Nor an earlier step still inside the drift window.
        let earlier = code_at_step(&secret, step_at(now) - 1);
        assert_eq!(verify(&secret, &earlier, now, Some(used)), None);
        // The next step is fine.
        let later = at(1_700_000_030);
        let next = code_at_step(&secret, step_at(later));
        assert_eq!(verify(&secret, &next, later, Some(used)), Some(used + 1));
    }

    #[test]
    fn malformed_codes_are_refused() {
        let secret = TotpSecret::new([1; SECRET_BYTES]);
        let now = at(1_700_000_000);
        for bad in ["", "12345", "1234567", "abcdef", "12 34 5x", "１２３４５６"] {
            assert_eq!(verify(&secret, bad, now, None), None, "{bad}");
        }
        let code = code_at_step(&secret, step_at(now));
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(verify(&secret, &spaced, now, None).is_some());
    }

    #[test]
    fn base32_and_uri() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        assert_eq!(
            secret.to_base32().as_str(),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        let uri = secret.otpauth_uri("Tollgate", "ana@example.com");
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/Tollgate:ana@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Tollgate&algorithm=SHA1&digits=6&period=30"
        );
        assert!(secret.otpauth_uri("A B", "x").contains("A%20B"));
    }
}
