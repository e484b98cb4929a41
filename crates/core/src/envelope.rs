//! Envelope encryption: the sealed-value format, its associated data, and
//! data keys wrapped by a key-encryption key.
//!
//! Every sensitive value is sealed with AES-256-GCM under a data-encryption
//! key (DEK) of its owner's scope: one organization, or the system scope for
//! secrets that belong to a person rather than a tenant (TOTP seeds). DEKs
//! are stored only wrapped by the key-encryption key (KEK), which never
//! touches the database. The associated data binds each ciphertext to its
//! scope, table, record id and field, so a ciphertext copied to another row,
//! field or tenant fails to open instead of decrypting in the wrong place.
//!
//! Sealed value, format version 1 (docs/crypto.md):
//!
//! ```text
//! offset  size  field
//! 0       1     version = 0x01
//! 1       16    key id of the DEK
//! 17      12    nonce (random, fresh per seal)
//! 29      n     ciphertext
//! 29+n    16    GCM tag
//! ```
//!
//! The version byte and key id are part of the associated data, so a header
//! edited to point at another key fails authentication as well.
//!
//! Pure: callers pass fresh random bytes (nonces, new keys); nothing here
//! reads a clock, a file or the system's randomness.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use aes_gcm::aead::{Aead, AeadInOut, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The sealed-value format this code writes.
pub const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;
/// Bytes a sealed value adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// The wrapped-DEK format of [`LocalKek`]: version, nonce, key, tag.
const WRAP_VERSION: u8 = 1;
const WRAPPED_LEN: usize = 1 + NONCE_LEN + 32 + TAG_LEN;

/// Why a value could not be sealed or opened. Never carries key material or
/// plaintext, so it can be logged and audited as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Too short, or a format version this code does not know.
    #[error("malformed sealed value")]
    Malformed,
    /// The value names a key other than the one supplied.
    #[error("sealed under key {found}, not {expected}")]
    WrongKey { expected: KeyId, found: KeyId },
    /// Authentication failed: tampered bytes, the wrong key, or associated
    /// data of another row, field or scope. GCM cannot tell these apart.
    #[error("the sealed value does not open here (tampered, wrong key or wrong place)")]
    Rejected,
    /// The key-encryption key could not wrap or unwrap (a remote KMS that is
    /// down, for example).
    #[error("key-encryption key unavailable: {0}")]
    KekUnavailable(String),
}

/// The identifier of a data key: 16 random bytes, shown as 32 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

impl KeyId {
    pub fn parse_hex(s: &str) -> Option<KeyId> {
        if s.len() != KEY_ID_LEN * 2 {
            return None;
        }
        let mut out = [0u8; KEY_ID_LEN];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            let hi = hex_digit(chunk[0])?;
            let lo = hex_digit(chunk[1])?;
            out[i] = hi << 4 | lo;
        }
        Some(KeyId(out))
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// Whose key seals a value: one organization's, or the system's (secrets of
/// a person, such as a TOTP seed, that no single tenant owns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyScope<'a> {
    Org(&'a str),
    System,
}

impl KeyScope<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            KeyScope::Org(org) => {
                out.push(1);
                put(out, org.as_bytes());
            }
            KeyScope::System => out.push(2),
        }
    }
}

/// Where a sealed value lives: its scope, table, record id and field. The
/// same bytes must be presented to open it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aad<'a> {
    pub scope: KeyScope<'a>,
    pub table: &'a str,
    pub record: &'a str,
    pub field: &'a str,
}

impl<'a> Aad<'a> {
    pub fn org(org: &'a str, table: &'a str, record: &'a str, field: &'a str) -> Self {
        Aad {
            scope: KeyScope::Org(org),
            table,
            record,
            field,
        }
    }

    pub fn system(table: &'a str, record: &'a str, field: &'a str) -> Self {
        Aad {
            scope: KeyScope::System,
            table,
            record,
            field,
        }
    }

    /// The associated data of a value with `header`: a domain label, then
    /// every part length-prefixed, so no two different places encode alike
    /// (`("ab", "c")` and `("a", "bc")` differ).
    fn encode(&self, header: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.table.len() + self.record.len());
        out.extend_from_slice(b"tollgate seal v1\0");
        self.scope.encode(&mut out);
        put(&mut out, self.table.as_bytes());
        put(&mut out, self.record.as_bytes());
        put(&mut out, self.field.as_bytes());
        put(&mut out, header);
        out
    }
}

fn put(out: &mut Vec<u8>, part: &[u8]) {
    let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(part);
}

/// A data-encryption key in the clear. Zeroized on drop; never printed.
pub struct DataKey {
    id: KeyId,
    key: Zeroizing<[u8; 32]>,
}

impl DataKey {
    /// A key from 32 fresh random bytes and a fresh random id.
    pub fn new(id: KeyId, key: Zeroizing<[u8; 32]>) -> Self {
        DataKey { id, key }
    }

    pub fn id(&self) -> KeyId {
        self.id
    }

    fn cipher(&self) -> Aes256Gcm {
        // The cipher's key schedule is zeroized on drop (feature `zeroize`).
        Aes256Gcm::new(&(*self.key).into())
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKey({}, <secret>)", self.id)
    }
}

/// Seals `plaintext` for the place `aad` under `key` with a fresh random
/// `nonce`. A nonce must never repeat under one key: with 96 random bits the
/// chance of a repeat stays below 2^-32 up to 2^32 seals per key, far above
/// what one tenant's key seals before it is rotated.
pub fn seal(key: &DataKey, aad: &Aad<'_>, nonce: [u8; NONCE_LEN], plaintext: &[u8]) -> Vec<u8> {
    let mut header = [0u8; HEADER_LEN];
    header[0] = VERSION;
    header[1..1 + KEY_ID_LEN].copy_from_slice(&key.id.0);
    header[1 + KEY_ID_LEN..].copy_from_slice(&nonce);
    let ad = aad.encode(&header[..1 + KEY_ID_LEN]);
    let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(plaintext);
    let tag = key
        .cipher()
        .encrypt_inout_detached(&Nonce::from(nonce), &ad, (&mut out[HEADER_LEN..]).into())
        // Only a plaintext over 64 GiB fails; values here are far smaller.
        .expect("AES-GCM plaintext within length limits");
    out.extend_from_slice(&tag);
    out
}

/// The key a sealed value names, to find it before opening.
pub fn key_id_of(sealed: &[u8]) -> Result<KeyId, SealError> {
    if sealed.len() < OVERHEAD || sealed[0] != VERSION {
        return Err(SealError::Malformed);
    }
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&sealed[1..1 + KEY_ID_LEN]);
    Ok(KeyId(id))
}

/// Opens a value sealed by [`seal`] for the same place under the same key.
pub fn open(key: &DataKey, aad: &Aad<'_>, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let found = key_id_of(sealed)?;
    if found != key.id {
        return Err(SealError::WrongKey {
            expected: key.id,
            found,
        });
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&sealed[1 + KEY_ID_LEN..HEADER_LEN]);
    let ad = aad.encode(&sealed[..1 + KEY_ID_LEN]);
    let mut buf = Zeroizing::new(sealed[HEADER_LEN..].to_vec());
    key.cipher()
        .decrypt_in_place(&Nonce::from(nonce), &ad, &mut *buf)
        .map_err(|_| SealError::Rejected)?;
    Ok(buf)
}

/// What a wrapped DEK is bound to: its scope and its own id, so a wrapped key
/// copied to another organization's row, or renamed, fails to unwrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrapContext<'a> {
    pub scope: KeyScope<'a>,
    pub key_id: KeyId,
}

impl WrapContext<'_> {
    fn encode(&self, kek_id: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(b"tollgate dek v1\0");
        self.scope.encode(&mut out);
        put(&mut out, &self.key_id.0);
        put(&mut out, kek_id.as_bytes());
        out
    }
}

/// A future a key-encryption key returns; boxed so that the trait stays
/// object-safe and a remote KMS can await its network call.
pub type KekFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, SealError>> + Send + 'a>>;

/// A key-encryption key: it wraps and unwraps data keys and never leaves its
/// backend. [`LocalKek`] keeps the key in this process (from a 0600 file or
/// the environment). A KMS backend (AWS KMS, GCP KMS, Vault transit) would
/// implement the same trait by sending the DEK to the service's
/// encrypt/decrypt call with [`WrapContext`] as its encryption context.
pub trait KeyEncryptionKey: Send + Sync {
    /// A stable, public identifier of this KEK, recorded beside every
    /// wrapping it makes.
    fn id(&self) -> &str;

    /// Wraps `dek` for `ctx`. `nonce` is fresh randomness for backends that
    /// need it; a KMS ignores it.
    fn wrap<'a>(
        &'a self,
        dek: &'a DataKey,
        ctx: WrapContext<'a>,
        nonce: [u8; NONCE_LEN],
    ) -> KekFuture<'a, Vec<u8>>;

    /// Unwraps a DEK wrapped by [`KeyEncryptionKey::wrap`] for the same `ctx`.
    fn unwrap<'a>(&'a self, wrapped: &'a [u8], ctx: WrapContext<'a>) -> KekFuture<'a, DataKey>;
}

/// A KEK held in this process. Zeroized on drop.
pub struct LocalKek {
    key: Zeroizing<[u8; 32]>,
    id: String,
}

impl LocalKek {
    /// The id is a short fingerprint of the key (the first 4 bytes of a
    /// domain-separated SHA-256), public and recorded in the database so a
    /// server started with another KEK stops instead of running blind.
    pub fn new(key: Zeroizing<[u8; 32]>) -> Self {
        let mut h = Sha256::new();
        h.update(b"tollgate kek id v1\0");
        h.update(key.as_ref());
        let id = h.finalize()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        LocalKek { key, id }
    }

    pub fn wrap_now(&self, dek: &DataKey, ctx: WrapContext<'_>, nonce: [u8; NONCE_LEN]) -> Vec<u8> {
        let cipher = Aes256Gcm::new(&(*self.key).into());
        let ad = ctx.encode(&self.id);
        let ct = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: dek.key.as_ref(),
                    aad: &ad,
                },
            )
            .expect("AES-GCM plaintext within length limits");
        let mut out = Vec::with_capacity(WRAPPED_LEN);
        out.push(WRAP_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    pub fn unwrap_now(&self, wrapped: &[u8], ctx: WrapContext<'_>) -> Result<DataKey, SealError> {
        if wrapped.len() != WRAPPED_LEN || wrapped[0] != WRAP_VERSION {
            return Err(SealError::Malformed);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&wrapped[1..1 + NONCE_LEN]);
        let cipher = Aes256Gcm::new(&(*self.key).into());
        let ad = ctx.encode(&self.id);
        let mut buf = Zeroizing::new(wrapped[1 + NONCE_LEN..].to_vec());
        cipher
            .decrypt_in_place(&Nonce::from(nonce), &ad, &mut *buf)
            .map_err(|_| SealError::Rejected)?;
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&buf);
        Ok(DataKey::new(ctx.key_id, key))
    }
}

impl fmt::Debug for LocalKek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalKek({}, <secret>)", self.id)
    }
}

impl KeyEncryptionKey for LocalKek {
    fn id(&self) -> &str {
        &self.id
    }

    fn wrap<'a>(
        &'a self,
        dek: &'a DataKey,
        ctx: WrapContext<'a>,
        nonce: [u8; NONCE_LEN],
    ) -> KekFuture<'a, Vec<u8>> {
        let out = self.wrap_now(dek, ctx, nonce);
        Box::pin(std::future::ready(Ok(out)))
    }

    fn unwrap<'a>(&'a self, wrapped: &'a [u8], ctx: WrapContext<'a>) -> KekFuture<'a, DataKey> {
        let out = self.unwrap_now(wrapped, ctx);
        Box::pin(std::future::ready(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dek(n: u8) -> DataKey {
        DataKey::new(KeyId([n; 16]), Zeroizing::new([n.wrapping_mul(7); 32]))
    }

    fn here<'a>() -> Aad<'a> {
        Aad::org("org_a", "provider_credentials", "pcr_1", "secret")
    }

    #[test]
    fn round_trip_and_format() {
        let k = dek(1);
        let sealed = seal(&k, &here(), [9; 12], b"sk_live_abc");
        assert_eq!(sealed.len(), OVERHEAD + 11);
        assert_eq!(sealed[0], VERSION);
        assert_eq!(&sealed[1..17], &[1; 16]);
        assert_eq!(&sealed[17..29], &[9; 12]);
        assert!(!sealed.windows(11).any(|w| w == b"sk_live_abc"));
        assert_eq!(key_id_of(&sealed).unwrap(), KeyId([1; 16]));
        assert_eq!(&**open(&k, &here(), &sealed).unwrap(), b"sk_live_abc");
        // An empty value seals and opens too.
        let empty = seal(&k, &here(), [3; 12], b"");
        assert!(open(&k, &here(), &empty).unwrap().is_empty());
    }

    #[test]
    fn every_flipped_bit_is_rejected() {
        let k = dek(1);
        let sealed = seal(&k, &here(), [9; 12], b"secret value");
        for i in 0..sealed.len() * 8 {
            let mut t = sealed.clone();
            t[i / 8] ^= 1 << (i % 8);
            let err = open(&k, &here(), &t).unwrap_err();
            match i / 8 {
                0 => assert_eq!(err, SealError::Malformed),
                1..=16 => assert!(matches!(err, SealError::WrongKey { .. })),
                _ => assert_eq!(err, SealError::Rejected),
            }
        }
        assert_eq!(
            open(&k, &here(), &sealed[..OVERHEAD - 1]).unwrap_err(),
            SealError::Malformed
        );
        let mut truncated = sealed.clone();
        truncated.pop();
        assert_eq!(
            open(&k, &here(), &truncated).unwrap_err(),
            SealError::Rejected
        );
    }

    #[test]
    fn moved_between_rows_fields_tables_or_orgs_is_rejected() {
        let k = dek(1);
        let sealed = seal(&k, &here(), [9; 12], b"secret value");
        let elsewhere = [
            Aad::org("org_b", "provider_credentials", "pcr_1", "secret"),
            Aad::org("org_a", "provider_credentials", "pcr_2", "secret"),
            Aad::org("org_a", "provider_credentials", "pcr_1", "other"),
            Aad::org("org_a", "transcripts", "pcr_1", "secret"),
            Aad::system("provider_credentials", "pcr_1", "secret"),
            // Length prefixes: shifting a boundary is another place.
            Aad::org("org_a", "provider_credentialsp", "cr_1", "secret"),
        ];
        for aad in elsewhere {
            assert_eq!(
                open(&k, &aad, &sealed).unwrap_err(),
                SealError::Rejected,
                "{aad:?}"
            );
        }
    }

    #[test]
    fn a_key_of_another_id_or_same_id_other_bytes_is_refused() {
        let sealed = seal(&dek(1), &here(), [9; 12], b"secret value");
        assert_eq!(
            open(&dek(2), &here(), &sealed).unwrap_err(),
            SealError::WrongKey {
                expected: KeyId([2; 16]),
                found: KeyId([1; 16])
            }
        );
        // A header rewritten to name the other key still fails: the key id
        // is authenticated, and the bytes of the key differ.
        let mut renamed = sealed.clone();
        renamed[1..17].copy_from_slice(&[2; 16]);
        assert_eq!(
            open(&dek(2), &here(), &renamed).unwrap_err(),
            SealError::Rejected
        );
        let impostor = DataKey::new(KeyId([1; 16]), Zeroizing::new([0xee; 32]));
        assert_eq!(
            open(&impostor, &here(), &sealed).unwrap_err(),
            SealError::Rejected
        );
    }

    #[test]
    fn unknown_versions_are_malformed() {
        let mut sealed = seal(&dek(1), &here(), [9; 12], b"x");
        sealed[0] = 2;
        assert_eq!(key_id_of(&sealed).unwrap_err(), SealError::Malformed);
    }

    #[test]
    fn wrapped_keys_bind_scope_id_and_kek() {
        let kek = LocalKek::new(Zeroizing::new([5; 32]));
        let other = LocalKek::new(Zeroizing::new([6; 32]));
        assert_ne!(kek.id(), other.id());
        assert_eq!(kek.id().len(), 8);
        let k = dek(1);
        let ctx = WrapContext {
            scope: KeyScope::Org("org_a"),
            key_id: k.id(),
        };
        let wrapped = kek.wrap_now(&k, ctx, [4; 12]);
        assert_eq!(wrapped.len(), WRAPPED_LEN);
        assert!(!wrapped.windows(32).any(|w| w == [7u8; 32]));
        let back = kek.unwrap_now(&wrapped, ctx).unwrap();
        let sealed = seal(&k, &here(), [9; 12], b"v");
        assert_eq!(&**open(&back, &here(), &sealed).unwrap(), b"v");

        let moved = WrapContext {
            scope: KeyScope::Org("org_b"),
            key_id: k.id(),
        };
        assert_eq!(
            kek.unwrap_now(&wrapped, moved).unwrap_err(),
            SealError::Rejected
        );
        let system = WrapContext {
            scope: KeyScope::System,
            key_id: k.id(),
        };
        assert_eq!(
            kek.unwrap_now(&wrapped, system).unwrap_err(),
            SealError::Rejected
        );
        let renamed = WrapContext {
            scope: KeyScope::Org("org_a"),
            key_id: KeyId([2; 16]),
        };
        assert_eq!(
            kek.unwrap_now(&wrapped, renamed).unwrap_err(),
            SealError::Rejected
        );
        assert_eq!(
            other.unwrap_now(&wrapped, ctx).unwrap_err(),
            SealError::Rejected
        );
        let mut tampered = wrapped.clone();
        tampered[20] ^= 1;
        assert_eq!(
            kek.unwrap_now(&tampered, ctx).unwrap_err(),
            SealError::Rejected
        );
        assert_eq!(
            kek.unwrap_now(&wrapped[1..], ctx).unwrap_err(),
            SealError::Malformed
        );
    }

    #[test]
    fn the_trait_object_wraps_like_the_local_kek() {
        let kek: Box<dyn KeyEncryptionKey> = Box::new(LocalKek::new(Zeroizing::new([5; 32])));
        let k = dek(3);
        let ctx = WrapContext {
            scope: KeyScope::System,
            key_id: k.id(),
        };
        let wrapped = block_on(kek.wrap(&k, ctx, [1; 12])).unwrap();
        let back = block_on(kek.unwrap(&wrapped, ctx)).unwrap();
        assert_eq!(back.id(), k.id());
        assert_eq!(*back.key, *k.key);
    }

    /// The local KEK's futures are ready at once; poll them once.
    fn block_on<T>(f: KekFuture<'_, T>) -> Result<T, SealError> {
        let mut f = f;
        let waker = std::task::Waker::noop();
        match f.as_mut().poll(&mut std::task::Context::from_waker(waker)) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("local KEK futures are ready at once"),
        }
    }

    #[test]
    fn key_ids_print_and_parse_as_hex() {
        let id = KeyId([0xab; 16]);
        assert_eq!(id.to_string(), "ab".repeat(16));
        assert_eq!(KeyId::parse_hex(&id.to_string()), Some(id));
        assert_eq!(KeyId::parse_hex("AB"), None);
        assert_eq!(KeyId::parse_hex(&"zz".repeat(16)), None);
        assert!(!format!("{:?}", dek(1)).contains("07"));
    }
}
