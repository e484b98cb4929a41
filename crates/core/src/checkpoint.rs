//! Signed checkpoints of an organization's audit chain.
//!
//! A checkpoint says "at this moment the chain of organization O had N
//! events and its last hash was H", signed with the server's Ed25519 key.
//! Exported and kept elsewhere, it makes truncation detectable: whoever
//! later drops events from the end (and rewrites the recorded head to
//! match) cannot produce a chain that still contains event N with hash H,
//! nor forge a new signature. Ed25519 rather than an HMAC so an auditor can
//! verify with the public key alone.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::audit::to_hex;
use crate::time::UnixMicros;

/// The server's checkpoint-signing key.
pub struct CheckpointKey {
    signing: SigningKey,
    id: String,
}

impl CheckpointKey {
    pub fn from_seed(seed: &Zeroizing<[u8; 32]>) -> Self {
        let signing = SigningKey::from_bytes(seed);
        let id = key_id(&signing.verifying_key());
        CheckpointKey { signing, id }
    }
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn public(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }
}

/// A short public id of a verifying key: the first 8 bytes of its SHA-256.
pub fn key_id(public: &VerifyingKey) -> String {
    to_hex(&Sha256::digest(public.as_bytes())[..8])
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub version: u8,
    pub org_id: String,
    /// Events in the chain at signing time.
    pub seq: i64,
    /// Hex hash of event `seq`.
    pub head_hash: String,
    pub created_at: UnixMicros,
    pub key_id: String,
    /// Hex Ed25519 signature over the other fields.
    pub signature: String,
}

/// The signed bytes: a domain tag and the fields, each length-prefixed so no
/// two different checkpoints encode the same.
fn payload(
    version: u8,
    org_id: &str,
    seq: i64,
    head_hash: &str,
    created_at: UnixMicros,
    key_id: &str,
) -> Vec<u8> {
    let mut out = b"tollgate audit checkpoint\0".to_vec();
    out.push(version);
    for field in [
        org_id.as_bytes(),
        &seq.to_be_bytes(),
        head_hash.as_bytes(),
        &created_at.0.to_be_bytes(),
        key_id.as_bytes(),
    ] {
        out.extend_from_slice(&(field.len() as u32).to_be_bytes());
        out.extend_from_slice(field);
    }
    out
}

impl Checkpoint {
    pub fn sign(
        key: &CheckpointKey,
        org_id: &str,
        seq: i64,
        head: &[u8; 32],
        created_at: UnixMicros,
    ) -> Checkpoint {
        let head_hash = to_hex(head);
        let sig = key
            .signing
            .sign(&payload(1, org_id, seq, &head_hash, created_at, &key.id));
        Checkpoint {
            version: 1,
            org_id: org_id.to_owned(),
            seq,
            head_hash,
            created_at,
            key_id: key.id.clone(),
            signature: to_hex(&sig.to_bytes()),
        }
    }

    /// Whether `public` signed exactly these fields.
    pub fn verify(&self, public: &VerifyingKey) -> bool {
        if self.version != 1 || self.key_id != key_id(public) {
            return false;
        }
        let Some(bytes) = from_hex::<64>(&self.signature) else {
            return false;
        };
        let sig = Signature::from_bytes(&bytes);
        let msg = payload(
            self.version,
            &self.org_id,
            self.seq,
            &self.head_hash,
            self.created_at,
            &self.key_id,
        );
        public.verify_strict(&msg, &sig).is_ok()
    }

    pub fn head(&self) -> Option<[u8; 32]> {
        from_hex::<32>(&self.head_hash)
    }
}

pub fn from_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> CheckpointKey {
        CheckpointKey::from_seed(&Zeroizing::new([seed; 32]))
    }

    #[test]
    fn a_signed_checkpoint_verifies_and_any_change_breaks_it() {
        let k = key(1);
        let cp = Checkpoint::sign(&k, "org_a", 42, &[7; 32], UnixMicros(1_000));
        assert!(cp.verify(&k.public()));
        assert_eq!(cp.head(), Some([7; 32]));
        let mut fewer = cp.clone();
        fewer.seq = 41;
        assert!(
            !fewer.verify(&k.public()),
            "a shortened chain cannot reuse the signature"
        );
        let mut other_org = cp.clone();
        other_org.org_id = "org_b".into();
        assert!(!other_org.verify(&k.public()));
        let mut other_head = cp.clone();
        other_head.head_hash = to_hex(&[8; 32]);
        assert!(!other_head.verify(&k.public()));
        assert!(!cp.verify(&key(2).public()), "another key does not verify");
        let mut garbage = cp.clone();
        garbage.signature = "zz".into();
        assert!(!garbage.verify(&k.public()));
    }

    #[test]
    fn checkpoints_round_trip_through_json() {
        let k = key(3);
        let cp = Checkpoint::sign(&k, "org_a", 1, &[0; 32], UnixMicros(5));
        let back: Checkpoint = serde_json::from_str(&serde_json::to_string(&cp).unwrap()).unwrap();
        assert!(back.verify(&k.public()));
    }
}
