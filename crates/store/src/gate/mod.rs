//! The dial gate's storage: leads, campaigns, the suppression list, gate
//! settings, and the dial-check transaction that loads facts, decides,
//! records the attempt and writes the audit event together.
//!
//! Numbers are matched across tables by a keyed hash ([`NumberHasher`]), so
//! the suppression list and the attempt counts never hold a number.

mod attempts;
mod campaigns;
mod dial;
mod leads;
mod settings;
mod suppressions;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use tollgate_gate::E164;
use zeroize::Zeroizing;

pub(crate) use attempts::AttemptIndex;
pub use attempts::AttemptsHeld;
pub use campaigns::{Campaign, CampaignPatch, CampaignSpec, DayWindows, WEEKDAYS, hhmm};
pub use dial::{
    CommittedGroup, DialCheck, DialJob, DialRequest, DncAnswer, ListVersionRecord,
    MAX_CAP_WINDOW_HOURS, ReasonRecord, RecordedCheck, ScrubRow, lead_location,
};
pub use leads::{ImportChunk, ImportTotals, Lead, NewLead};
pub use settings::{GateSettings, GateSettingsPatch};
pub use suppressions::{NewSuppression, Suppression, SuppressionList, SuppressionSource};

use crate::StoreError;

/// HMAC-SHA256 of an E.164 number under a key of its own. Deterministic
/// (lookups need equality), keyed (a stolen database alone cannot be
/// searched for a number), and stable across restarts: the key is derived
/// from the server's key-encryption key, whose fingerprint the database
/// records, with its own domain-separation label.
pub struct NumberHasher {
    key: Zeroizing<[u8; 32]>,
    id: String,
}

impl NumberHasher {
    const LABEL: &'static [u8] = b"tollgate number-hash key v1";

    /// Derives the number-hash key from a stable secret (see
    /// [`crate::Store::system_secret`]; never the KEK, which rotates).
    pub fn derive(secret: &[u8; 32]) -> NumberHasher {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("any key length");
        m.update(Self::LABEL);
        let key = Zeroizing::new(<[u8; 32]>::from(m.finalize().into_bytes()));
        let mut h = Sha256::new();
        h.update(b"tollgate number-hash key id v1\0");
        h.update(key.as_ref());
        let id = h.finalize()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        NumberHasher { key, id }
    }

    pub fn key_id(&self) -> &str {
        &self.id
    }

    pub fn hash(&self, number: &E164) -> Vec<u8> {
        let mut m =
            <Hmac<Sha256> as KeyInit>::new_from_slice(self.key.as_ref()).expect("any key length");
        m.update(number.as_str().as_bytes());
        m.finalize().into_bytes().to_vec()
    }
}

impl crate::Store {
    /// Gives the store the number-hash key. Without it every gate operation
    /// fails (and a dial check denies `internal_error`).
    pub fn with_number_hasher(mut self, hasher: NumberHasher) -> crate::Store {
        self.numbers = Some(std::sync::Arc::new(hasher));
        self
    }

    pub(crate) fn numbers(&self) -> Result<&NumberHasher, StoreError> {
        self.numbers
            .as_deref()
            .ok_or_else(|| StoreError::Config("no number-hash key configured".into()))
    }
}

impl crate::Store {
    /// An operator actor (the CLI) for the organization's longest-standing
    /// owner, for operator tasks such as a lead import when no member is
    /// named. Never reachable from HTTP.
    pub async fn operator_actor_for_first_owner(
        &self,
        org_id: &tollgate_core::OrgId,
    ) -> Result<crate::Actor, StoreError> {
        let mut tx = self.pool.read().await?;
        tx.bind_org(org_id.as_str()).await?;
        let (member,) = crate::db::fetch_optional!(
            &mut tx,
            (String,),
            "SELECT id FROM memberships WHERE org_id = $1 AND role = 'owner' AND status = 'active' \
             ORDER BY created_at, id LIMIT 1",
            org_id.as_str()
        )?
        .ok_or(StoreError::NotFound)?;
        drop(tx);
        self.operator_actor_for_member(org_id, &tollgate_core::MemberId::parse(&member)?)
            .await
    }
}

fn ts(micros: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(micros).unwrap_or(jiff::Timestamp::MIN)
}

fn micros(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_hash_is_keyed_and_stable() {
        let n = tollgate_gate::parse_nanp("850 555 0100").unwrap();
        let a = NumberHasher::derive(&[1; 32]);
        let b = NumberHasher::derive(&[1; 32]);
        let c = NumberHasher::derive(&[2; 32]);
        assert_eq!(a.hash(&n), b.hash(&n));
        assert_eq!(a.key_id(), b.key_id());
        assert_ne!(a.hash(&n), c.hash(&n));
        assert_eq!(a.hash(&n).len(), 32);
    }
}
