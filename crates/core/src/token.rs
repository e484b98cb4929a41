//! Secret tokens: their printed format and their keyed hashes.
//!
//! A token reads `tg_live_<lookup>_<secret><check>`:
//! - a prefix per kind (`tg_live_` API keys, `tg_boot_` bootstrap links,
//!   `tg_ocs_` OAuth client secrets, `tg_oat_` OAuth access tokens), so
//!   secret scanners recognise a leaked Tollgate token and a human can tell
//!   what it is;
//! - `lookup`: 80 random bits, public, used to find the stored record without
//!   scanning (and without the database seeing the secret);
//! - `secret`: 32 random bytes;
//! - `check`: CRC-32 of everything before it, so a mistyped or truncated
//!   token is rejected without a database round trip and scanners can tell
//!   real tokens from look-alikes.
//!
//! Only an HMAC-SHA256 of the whole token under a server-held key is stored.
//! Unlike a plain hash, a stolen database alone does not let anyone test
//! guesses offline. Keys rotate: each stored hash names the key that made it,
//! and a [`TokenHasher`] holds the current key plus older ones for
//! verification.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::base32;

const LOOKUP_CHARS: usize = 16; // 10 bytes
const SECRET_CHARS: usize = 52; // 32 bytes
const CHECK_CHARS: usize = 7; // 32-bit CRC

/// The kinds of token Tollgate issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    ApiKey,
    Bootstrap,
    /// The secret of a registered OAuth client (client credentials grant).
    OAuthClientSecret,
    /// A short-lived OAuth access token, used as a bearer like an API key.
    OAuthAccessToken,
    /// An emailed sign-in (or invitation) link.
    SignInLink,
    /// A person's dashboard session, held in a cookie.
    Session,
}

impl TokenKind {
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::ApiKey => "tg_live_",
            TokenKind::Bootstrap => "tg_boot_",
            TokenKind::OAuthClientSecret => "tg_ocs_",
            TokenKind::OAuthAccessToken => "tg_oat_",
            TokenKind::SignInLink => "tg_sil_",
            TokenKind::Session => "tg_ses_",
        }
    }
}

/// A freshly minted token. The plaintext is zeroized when dropped; show it
/// once and let it go.
pub struct NewToken {
    pub lookup: String,
    pub plaintext: Zeroizing<String>,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("lookup", &self.lookup)
            .finish_non_exhaustive()
    }
}

/// Mints a token from 10 random bytes (lookup) and 32 random bytes (secret).
pub fn mint(kind: TokenKind, lookup: [u8; 10], secret: &[u8; 32]) -> NewToken {
    let lookup = base32::encode(&lookup);
    let mut text = Zeroizing::new(String::with_capacity(96));
    text.push_str(kind.prefix());
    text.push_str(&lookup);
    text.push('_');
    text.push_str(&Zeroizing::new(base32::encode(secret)));
    let check = crc32fast::hash(text.as_bytes());
    text.push_str(&base32::encode_u64(u64::from(check), CHECK_CHARS));
    NewToken {
        lookup,
        plaintext: text,
    }
}

/// Why a presented token was refused before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenFormatError {
    #[error("not a Tollgate token of this kind")]
    WrongKind,
    #[error("malformed token")]
    Malformed,
    #[error("token checksum does not match")]
    BadChecksum,
}

/// Checks a presented token's shape and checksum and returns its lookup id.
pub fn parse(kind: TokenKind, token: &str) -> Result<&str, TokenFormatError> {
    let rest = token
        .strip_prefix(kind.prefix())
        .ok_or(TokenFormatError::WrongKind)?;
    if !rest.is_ascii()
        || rest.len() != LOOKUP_CHARS + 1 + SECRET_CHARS + CHECK_CHARS
        || rest.as_bytes()[LOOKUP_CHARS] != b'_'
        || !base32::is_canonical(&rest[..LOOKUP_CHARS])
        || !base32::is_canonical(&rest[LOOKUP_CHARS + 1..])
    {
        return Err(TokenFormatError::Malformed);
    }
    let (body, check) = token.split_at(token.len() - CHECK_CHARS);
    let expected = base32::encode_u64(u64::from(crc32fast::hash(body.as_bytes())), CHECK_CHARS);
    if !bool::from(expected.as_bytes().ct_eq(check.as_bytes())) {
        return Err(TokenFormatError::BadChecksum);
    }
    Ok(&rest[..LOOKUP_CHARS])
}

/// A 256-bit HMAC key with a short public id naming it in stored hashes.
pub struct HashKey {
    id: String,
    key: Zeroizing<[u8; 32]>,
}

impl HashKey {
    pub fn new(key: [u8; 32]) -> Self {
        let key = Zeroizing::new(key);
        let mut h = Sha256::new();
        h.update(b"tollgate token-hash key id v1\0");
        h.update(key.as_ref());
        let digest = h.finalize();
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        HashKey { id, key }
    }
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// A stored token hash: which key made it, and the 32-byte MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHash {
    pub key_id: String,
    pub mac: [u8; 32],
}

/// Hashes new tokens with the current key and verifies old ones with
/// whichever configured key made them.
pub struct TokenHasher {
    keys: Vec<HashKey>,
}

impl TokenHasher {
    /// `keys[0]` is current; the rest verify hashes made before a rotation.
    pub fn new(keys: Vec<HashKey>) -> Option<Self> {
        if keys.is_empty() {
            None
        } else {
            Some(TokenHasher { keys })
        }
    }

    pub fn current_key_id(&self) -> &str {
        self.keys[0].id()
    }

    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(HashKey::id)
    }

    pub fn hash(&self, token: &str) -> TokenHash {
        let k = &self.keys[0];
        TokenHash {
            key_id: k.id.clone(),
            mac: mac(k, token),
        }
    }

    /// Constant-time comparison against a stored hash. An unknown key id
    /// (a retired key) never verifies.
    pub fn verify(&self, stored: &TokenHash, token: &str) -> bool {
        match self.keys.iter().find(|k| k.id == stored.key_id) {
            Some(k) => bool::from(mac(k, token).ct_eq(&stored.mac)),
            None => false,
        }
    }
}

fn mac(key: &HashKey, token: &str) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key.key.as_ref())
        .expect("HMAC accepts any key length");
    m.update(token.as_bytes());
    m.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hasher(seed: u8) -> TokenHasher {
        TokenHasher::new(vec![HashKey::new([seed; 32])]).unwrap()
    }

    #[test]
    fn minted_tokens_parse_and_hash() {
        let t = mint(TokenKind::ApiKey, [1; 10], &[2; 32]);
        assert!(t.plaintext.starts_with("tg_live_"));
        assert_eq!(t.plaintext.len(), 8 + 16 + 1 + 52 + 7);
        assert_eq!(
            parse(TokenKind::ApiKey, &t.plaintext),
            Ok(t.lookup.as_str())
        );
        assert_eq!(
            parse(TokenKind::Bootstrap, &t.plaintext),
            Err(TokenFormatError::WrongKind)
        );
        let h = hasher(9);
        let stored = h.hash(&t.plaintext);
        assert!(h.verify(&stored, &t.plaintext));
        assert!(!hasher(8).verify(&stored, &t.plaintext));
    }

    #[test]
    fn a_changed_character_fails_the_checksum() {
        let t = mint(TokenKind::ApiKey, [1; 10], &[2; 32]);
        let mut s = t.plaintext.to_string();
        let i = 30;
        let replacement = if &s[i..=i] == "a" { "b" } else { "a" };
        s.replace_range(i..=i, replacement);
        assert_eq!(
            parse(TokenKind::ApiKey, &s),
            Err(TokenFormatError::BadChecksum)
        );
        assert_eq!(
            parse(TokenKind::ApiKey, &s[..s.len() - 1]),
            Err(TokenFormatError::Malformed)
        );
    }

    #[test]
    fn every_kind_refuses_every_other_kinds_tokens() {
        let kinds = [
            TokenKind::ApiKey,
            TokenKind::Bootstrap,
            TokenKind::OAuthClientSecret,
            TokenKind::OAuthAccessToken,
        ];
        for a in kinds {
            let t = mint(a, [5; 10], &[6; 32]);
            for b in kinds {
                assert_eq!(parse(b, &t.plaintext).is_ok(), a == b, "{a:?} as {b:?}");
            }
        }
    }

    #[test]
    fn rotation_keeps_old_hashes_verifiable() {
        let token = mint(TokenKind::ApiKey, [3; 10], &[4; 32]);
        let old = hasher(1);
        let stored = old.hash(&token.plaintext);
        let rotated = TokenHasher::new(vec![HashKey::new([2; 32]), HashKey::new([1; 32])]).unwrap();
        assert!(rotated.verify(&stored, &token.plaintext));
        assert_ne!(rotated.hash(&token.plaintext).key_id, stored.key_id);
    }

    proptest! {
        #[test]
        fn any_minted_token_round_trips(lookup: [u8; 10], secret: [u8; 32]) {
            let t = mint(TokenKind::Bootstrap, lookup, &secret);
            prop_assert_eq!(parse(TokenKind::Bootstrap, &t.plaintext), Ok(t.lookup.as_str()));
        }

        #[test]
        fn parse_never_panics(s in ".{0,120}") {
            let _ = parse(TokenKind::ApiKey, &s);
        }
    }
}
