//! Scrubbing secrets out of text bound for logs.
//!
//! The last line of defence: code never logs a secret on purpose, but a
//! formatted error, a debug dump of a request or a third-party crate might.
//! Everything the log writer emits passes through [`scrub`], which replaces
//! our own token formats (`tg_live_…`, `tg_ocs_…`, …, `whsec_…`) and common
//! secret shapes (vendor key prefixes, bearer credentials, JWTs, PEM private
//! keys, `password=…`-style pairs) with `[REDACTED]`. Identifiers, hashes
//! and ordinary text pass unchanged.
//!
//! A hand-written scanner instead of a regex set: one pass, no backtracking,
//! linear in the input, and no new dependency in the pure core.

use std::borrow::Cow;

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// A secret that starts with a known prefix, followed by at least `min`
/// token characters. The prefix stays visible, to tell what was removed.
struct Prefixed {
    prefix: &'static str,
    min: usize,
    /// JWTs also contain dots.
    dots: bool,
}

const PREFIXED: &[Prefixed] = &[
    // Ours (tollgate_core::token) and the webhook signing secret.
    p("tg_live_", 8),
    p("tg_boot_", 8),
    p("tg_ocs_", 8),
    p("tg_oat_", 8),
    p("whsec_", 8),
    // Vendors' documented secret-key prefixes.
    p("sk_live_", 8),
    p("sk_test_", 8),
    p("rk_live_", 8),
    p("rk_test_", 8),
    p("sk-", 16),
    p("sk_", 24),
    p("xoxb-", 8),
    p("xoxp-", 8),
    p("ghp_", 16),
    p("github_pat_", 16),
    p("glpat-", 16),
    p("AKIA", 16),
    Prefixed {
        prefix: "eyJ",
        min: 20,
        dots: true,
    },
];

const fn p(prefix: &'static str, min: usize) -> Prefixed {
    Prefixed {
        prefix,
        min,
        dots: false,
    }
}

/// Names whose value, after `=` or `:`, is a secret (matched without
/// regard to case, also as the end of a longer name: `db_password=`).
const KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "api_key",
    "apikey",
    "api-key",
    "auth_token",
    "access_token",
    "refresh_token",
    "client_secret",
    "private_key",
    "token",
];

/// Schemes of the `Authorization` header whose credential follows.
const SCHEMES: &[&str] = &["bearer ", "basic "];

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_credential_char(b: u8) -> bool {
    is_token_char(b) || matches!(b, b'.' | b'~' | b'+' | b'/' | b'=')
}

fn starts_with_ignore_case(hay: &[u8], needle: &str) -> bool {
    hay.len() >= needle.len() && hay[..needle.len()].eq_ignore_ascii_case(needle.as_bytes())
}

/// `text` with every recognised secret replaced; borrowed when nothing was.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    // Start of the input not yet copied to `out`.
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let at_boundary = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if let Some((keep, end)) = at_boundary.then(|| match_at(bytes, i)).flatten() {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[copied..i + keep]);
            o.push_str(REDACTED);
            copied = end;
            i = end;
            continue;
        }
        i += 1;
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            Cow::Owned(o)
        }
    }
}

/// A secret starting at `i`: how many bytes to keep visible, and where it
/// ends. Every index returned is on a character boundary: rules start and
/// stop at ASCII bytes.
fn match_at(bytes: &[u8], i: usize) -> Option<(usize, usize)> {
    let rest = &bytes[i..];
    if rest.starts_with(b"-----BEGIN ") {
        return pem(bytes, i);
    }
    for rule in PREFIXED {
        if rest.starts_with(rule.prefix.as_bytes()) {
            let start = i + rule.prefix.len();
            let end = run(bytes, start, |b| {
                is_token_char(b) || (rule.dots && b == b'.')
            });
            if end - start >= rule.min {
                return Some((rule.prefix.len(), end));
            }
        }
    }
    for scheme in SCHEMES {
        if starts_with_ignore_case(rest, scheme) {
            let start = i + scheme.len();
            let end = run(bytes, start, is_credential_char);
            if end - start >= 8 {
                return Some((scheme.len(), end));
            }
        }
    }
    for key in KEYS {
        if starts_with_ignore_case(rest, key) {
            // Skip a closing quote of a JSON key, spaces, the separator,
            // spaces and an opening quote.
            let mut j = i + key.len();
            // JSON inside a log field arrives escaped: `\"`.
            if j + 1 < bytes.len() && bytes[j] == b'\\' && bytes[j + 1] == b'"' {
                j += 1;
            }
            if j < bytes.len() && matches!(bytes[j], b'"' | b'\'') {
                j += 1;
            }
            j = run(bytes, j, |b| b == b' ');
            if j >= bytes.len() || !matches!(bytes[j], b'=' | b':') {
                continue;
            }
            j = run(bytes, j + 1, |b| b == b' ');
            if j < bytes.len() && bytes[j] == b'\\' {
                j += 1;
            }
            if j < bytes.len() && matches!(bytes[j], b'"' | b'\'') {
                j += 1;
            }
            // Non-ASCII bytes belong to the value: a stop is always ASCII,
            // so the end stays on a character boundary.
            let end = run(bytes, j, |b| {
                b >= 0x80
                    || (b.is_ascii_graphic()
                        && !matches!(b, b'"' | b'\'' | b',' | b'&' | b'}' | b';' | b'\\'))
            });
            if end > j {
                return Some((j - i, end));
            }
        }
    }
    None
}

fn run(bytes: &[u8], from: usize, ok: impl Fn(u8) -> bool) -> usize {
    let mut j = from;
    while j < bytes.len() && ok(bytes[j]) {
        j += 1;
    }
    j
}

/// A PEM block holding a private key, up to its END line (or the end of
/// the text when it was cut).
fn pem(bytes: &[u8], i: usize) -> Option<(usize, usize)> {
    let header_end = i + bytes[i..]
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len() - i);
    let header = &bytes[i..header_end];
    if !header.windows(11).any(|w| w == b"PRIVATE KEY") {
        return None;
    }
    let body = &bytes[i + 11..];
    let end = match body.windows(9).position(|w| w == b"-----END ") {
        Some(p) => {
            let after = i + 11 + p + 9;
            // Through the closing dashes of the END line.
            match bytes[after..].windows(5).position(|w| w == b"-----") {
                Some(q) => after + q + 5,
                None => bytes.len(),
            }
        }
        None => bytes.len(),
    };
    Some((0, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> String {
        scrub(text).into_owned()
    }

    #[test]
    fn our_tokens_are_removed() {
        let t = "auth with tg_live_0123456789abcdef_abcdefghijklmnopqrstuvwxyz234567ab failed";
        assert_eq!(s(t), "auth with tg_live_[REDACTED] failed");
        assert_eq!(s("x=tg_ocs_abcdefghijk"), "x=tg_ocs_[REDACTED]");
        assert_eq!(
            s("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            "whsec_[REDACTED]"
        );
        assert_eq!(
            s("tg_oat_abcdefghij tg_boot_abcdefghij"),
            "tg_oat_[REDACTED] tg_boot_[REDACTED]"
        );
    }

    #[test]
    fn vendor_keys_bearer_jwt_and_pem_are_removed() {
        assert_eq!(s("key sk_live_51Habcdefgh"), "key sk_live_[REDACTED]");
        assert_eq!(
            s("Authorization: Bearer abc.def-ghi_jkl/mno+="),
            "Authorization: Bearer [REDACTED]"
        );
        assert_eq!(
            s("authorization: basic dXNlcjpwYXNz"),
            "authorization: basic [REDACTED]"
        );
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sflKxwRJSMeKKF2QT4fwpM";
        assert_eq!(s(&format!("t {jwt} end")), "t eyJ[REDACTED] end");
        assert_eq!(s("AKIAIOSFODNN7EXAMPLE"), "AKIA[REDACTED]");
        let pem =
            "a\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nxyz\n-----END RSA PRIVATE KEY-----\nb";
        assert_eq!(s(pem), "a\n[REDACTED]\nb");
        let cut = "-----BEGIN PRIVATE KEY-----\nMIIEow";
        assert_eq!(s(cut), "[REDACTED]");
        // A certificate is public.
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        assert_eq!(s(cert), cert);
    }

    #[test]
    fn key_value_pairs_lose_their_value() {
        assert_eq!(s("password=hunter2 next"), "password=[REDACTED] next");
        assert_eq!(s("db_password = 'p@ss'"), "db_password = '[REDACTED]'");
        assert_eq!(
            s(r#"{"api_key":"abc123","x":1}"#),
            r#"{"api_key":"[REDACTED]","x":1}"#
        );
        assert_eq!(
            s(r#"{\"auth_token\": \"abc123\"}"#),
            r#"{\"auth_token\": \"[REDACTED]\"}"#
        );
        assert_eq!(s("?token=abc&x=1"), "?token=[REDACTED]&x=1");
        assert_eq!(s("Client_Secret: xyz"), "Client_Secret: [REDACTED]");
    }

    #[test]
    fn ordinary_text_ids_and_hashes_pass() {
        for t in [
            "request finished status=200 latency_ms=3",
            "org_01jd0000000000000000000000 key_01jd0000000000000000000000",
            "head 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "the secret_sealed column; a token bucket; password reset",
            "tg_live_ short, sk_ short",
            "askew task_live_x",
            "héllo wörld, ünïcode ✓",
        ] {
            assert!(matches!(scrub(t), Cow::Borrowed(_)), "{t}");
        }
    }

    #[test]
    fn unicode_around_secrets_is_kept() {
        assert_eq!(s("é tg_live_abcdefghij ✓"), "é tg_live_[REDACTED] ✓");
        assert_eq!(s("password=ünïcode ok"), "password=[REDACTED] ok");
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_planted_tokens_never_survive(
            before in "\\PC{0,40}",
            secret in "[A-Za-z0-9_]{8,40}",
            after in "\\PC{0,40}",
        ) {
            let text = format!("{before} tg_live_{secret} {after}");
            let out = scrub(&text);
            let planted = format!("tg_live_{secret}");
            proptest::prop_assert!(!out.contains(&planted), "{}", out);
            let _ = scrub(&before);
        }
    }
}
