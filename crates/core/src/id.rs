//! Typed, prefixed, time-sortable identifiers: `org_01jd…`, `usr_…`, `key_…`.
//!
//! The body is 26 Crockford base32 characters: 48 bits of milliseconds since
//! the epoch followed by 80 random bits (the ULID layout), so identifiers
//! sort by creation time, which keeps B-tree inserts at the right edge and
//! makes cursors cheap. The prefix makes a pasted identifier self-describing
//! and lets the parser reject an identifier of the wrong kind before any
//! lookup: a `key_` where a `usr_` is expected is simply not found.

use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::base32;

const BODY_LEN: usize = 26;

/// The kind of an identifier: its prefix.
pub trait IdKind {
    const PREFIX: &'static str;
}

/// An identifier of kind `K`. Always canonical: lower case, exact length.
pub struct Id<K> {
    text: String,
    kind: PhantomData<fn() -> K>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("expected an identifier starting with `{expected}`")]
    WrongPrefix { expected: &'static str },
    #[error("malformed identifier")]
    Malformed,
}

impl<K: IdKind> Id<K> {
    /// Builds an identifier from the creation time and 10 fresh random bytes.
    pub fn generate(now_millis: i64, random: [u8; 10]) -> Self {
        let mut bytes = [0u8; 16];
        let millis = (now_millis.max(0) as u64) & 0xffff_ffff_ffff;
        bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
        bytes[6..].copy_from_slice(&random);
        // 128 bits in 26 characters: the first character carries only 3 bits,
        // so encode the top 3 bits separately, then the remaining 125 bits.
        let value = u128::from_be_bytes(bytes);
        let mut body = String::with_capacity(BODY_LEN);
        body.push_str(&base32::encode_u64((value >> 125) as u64, 1));
        let rest = value & ((1u128 << 125) - 1);
        body.push_str(&base32::encode_u64((rest >> 75) as u64, 10));
        body.push_str(&base32::encode_u64(
            ((rest >> 25) & ((1 << 50) - 1)) as u64,
            10,
        ));
        body.push_str(&base32::encode_u64((rest & ((1 << 25) - 1)) as u64, 5));
        Id {
            text: format!("{}{}", K::PREFIX, body),
            kind: PhantomData,
        }
    }

    /// Parses a canonical identifier. Upper case is not accepted: identifiers
    /// are machine-written, and one spelling per value keeps lookups exact.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let body = s.strip_prefix(K::PREFIX).ok_or(IdError::WrongPrefix {
            expected: K::PREFIX,
        })?;
        if body.len() != BODY_LEN || !base32::is_canonical(body) {
            return Err(IdError::Malformed);
        }
        // The first character holds 3 bits only.
        if base32::digit(body.as_bytes()[0]).is_none_or(|d| d > 7) {
            return Err(IdError::Malformed);
        }
        Ok(Id {
            text: s.to_owned(),
            kind: PhantomData,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl<K> Clone for Id<K> {
    fn clone(&self) -> Self {
        Id {
            text: self.text.clone(),
            kind: PhantomData,
        }
    }
}
impl<K> PartialEq for Id<K> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}
impl<K> Eq for Id<K> {}
impl<K> std::hash::Hash for Id<K> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state)
    }
}
impl<K> PartialOrd for Id<K> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<K> Ord for Id<K> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}
impl<K> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
impl<K> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
impl<K> Serialize for Id<K> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}
impl<'de, K: IdKind> Deserialize<'de> for Id<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Id::parse(&s).map_err(serde::de::Error::custom)
    }
}

macro_rules! id_kinds {
    ($($(#[$doc:meta])* $alias:ident / $kind:ident = $prefix:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub enum $kind {}
        impl IdKind for $kind {
            const PREFIX: &'static str = $prefix;
        }
        $(#[$doc])*
        pub type $alias = Id<$kind>;
    )*};
}

id_kinds! {
    /// An organization: the tenant.
    OrgId / OrgKind = "org_";
    /// A person. One person may belong to several organizations; this id
    /// never leaves the server, so it cannot correlate tenants.
    UserId / UserKind = "usr_";
    /// A person's membership in one organization: how the API names them.
    MemberId / MemberKind = "mem_";
    /// An API key of a bot.
    ApiKeyId / ApiKeyKind = "key_";
    /// An audit event.
    EventId / EventKind = "evt_";
    /// A registered OAuth client (client credentials grant).
    OAuthClientId / OAuthClientKind = "ocl_";
    /// A person's dashboard session (the id shown on "my sessions"; the
    /// cookie holds a separate secret token).
    SessionId / SessionKind = "ses_";
    /// A call recorded by a bot.
    CallId / CallKind = "call_";
    /// A redaction policy (the organization's default; later a campaign's).
    RedactionPolicyId / RedactionPolicyKind = "rdp_";
    /// One extraction result submitted for a call.
    ExtractionId / ExtractionKind = "ext_";
    /// A stored credential of an outside provider (voice platform,
    /// telephony, DNC data).
    ProviderCredentialId / ProviderCredentialKind = "pcr_";
    /// A lead: a number to call, with its consent evidence.
    LeadId / LeadKind = "lead_";
    /// A calling campaign.
    CampaignId / CampaignKind = "cmp_";
    /// An entry of an organization's suppression list.
    SuppressionId / SuppressionKind = "sup_";
    /// One decision of the dial gate.
    DialCheckId / DialCheckKind = "dck_";
    // Issue 10: signed webhooks.
    /// A webhook endpoint of an organization.
    WebhookEndpointId / WebhookEndpointKind = "whe_";
    /// One signing secret of a webhook endpoint (current or retiring).
    WebhookSecretId / WebhookSecretKind = "whs_";
    /// A webhook message: the `webhook-id` header, stable across retries
    /// (the Standard Webhooks spec's own `msg_` convention).
    WebhookMessageId / WebhookMessageKind = "msg_";
    /// One message's delivery to one endpoint.
    WebhookDeliveryId / WebhookDeliveryKind = "whd_";
    /// One HTTP attempt of a delivery.
    WebhookAttemptId / WebhookAttemptKind = "wha_";
    // Issue 8: do-not-call data.
    /// An incident: a DNC source failed for an organization (dialing that
    /// needs it is paused until it is healthy again).
    DncIncidentId / DncIncidentKind = "dni_";
    /// One imported version of a registry list (deployment-wide).
    DncListVersionId / DncListVersionKind = "dnl_";
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn has_prefix_and_length() {
        let id = OrgId::generate(1_795_000_000_000, [7; 10]);
        assert!(id.as_str().starts_with("org_"));
        assert_eq!(id.as_str().len(), 4 + BODY_LEN);
        assert_eq!(OrgId::parse(id.as_str()), Ok(id.clone()));
    }

    #[test]
    fn rejects_foreign_and_malformed() {
        let id = UserId::generate(1, [1; 10]);
        assert_eq!(
            OrgId::parse(id.as_str()),
            Err(IdError::WrongPrefix { expected: "org_" })
        );
        assert_eq!(OrgId::parse("org_"), Err(IdError::Malformed));
        assert_eq!(
            OrgId::parse("org_01JD0000000000000000000000"),
            Err(IdError::Malformed)
        );
        assert_eq!(
            OrgId::parse("org_8zzzzzzzzzzzzzzzzzzzzzzzzz"),
            Err(IdError::Malformed)
        );
        assert_eq!(
            OrgId::parse("org_0000000000000000000000000u"),
            Err(IdError::Malformed)
        );
        assert_eq!(
            OrgId::parse("org_../../etc/passwd"),
            Err(IdError::Malformed)
        );
    }

    proptest! {
        #[test]
        fn sorts_by_time(a in 0i64..(1 << 47), b in 0i64..(1 << 47), ra: [u8; 10], rb: [u8; 10]) {
            let ia = OrgId::generate(a, ra);
            let ib = OrgId::generate(b, rb);
            if a < b {
                prop_assert!(ia < ib);
            }
            prop_assert_eq!(OrgId::parse(ia.as_str()), Ok(ia));
        }

        #[test]
        fn distinct_randomness_gives_distinct_ids(t in 0i64..(1 << 47), ra: [u8; 10], rb: [u8; 10]) {
            prop_assume!(ra != rb);
            prop_assert_ne!(OrgId::generate(t, ra), OrgId::generate(t, rb));
        }
    }
}
