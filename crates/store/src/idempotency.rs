//! Idempotency keys: the first response to a keyed POST is kept and
//! replayed for retries of the same request.
//!
//! The claim is one conditional INSERT, so of two concurrent requests with
//! the same key exactly one runs; the other sees it in flight. A claim holds
//! a lease: if the process dies mid-request, a retry after the lease takes
//! the claim over instead of waiting 24 hours.

use tollgate_core::UnixMicros;

use crate::StoreError;
use crate::db::{exec, fetch_optional};
use crate::scope::OrgScope;

/// What to do with a request carrying an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// First time (or a crashed attempt's lease ran out): run it.
    Proceed,
    /// Done before with the same request: answer with this.
    Replay {
        status: u16,
        content_type: Option<String>,
        body: Vec<u8>,
    },
    /// The key was used for a different request.
    Mismatch,
    /// The first request with this key is still running.
    InFlight,
}

#[derive(sqlx::FromRow)]
struct Row {
    fingerprint: Vec<u8>,
    state: String,
    status: Option<i32>,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
    locked_until: i64,
}

impl OrgScope<'_> {
    pub async fn claim_idempotency_key(
        &self,
        key_hash: &[u8],
        fingerprint: &[u8],
        now: UnixMicros,
        ttl_secs: i64,
        lease_secs: i64,
    ) -> Result<IdempotencyClaim, StoreError> {
        let mut tx = self.write().await?;
        exec!(
            &mut tx,
            "DELETE FROM idempotency_keys WHERE org_id = $1 AND key_hash = $2 AND expires_at <= $3",
            self.org(),
            key_hash,
            now.0
        )?;
        let inserted = exec!(
            &mut tx,
            "INSERT INTO idempotency_keys (org_id, key_hash, fingerprint, state, created_at, expires_at, locked_until) \
             VALUES ($1, $2, $3, 'in_flight', $4, $5, $6) ON CONFLICT (org_id, key_hash) DO NOTHING",
            self.org(),
            key_hash,
            fingerprint,
            now.0,
            now.plus_secs(ttl_secs).0,
            now.plus_secs(lease_secs).0
        )?;
        let claim = if inserted == 1 {
            IdempotencyClaim::Proceed
        } else {
            let row = fetch_optional!(
                &mut tx,
                Row,
                "SELECT fingerprint, state, status, content_type, body, locked_until FROM idempotency_keys \
                 WHERE org_id = $1 AND key_hash = $2",
                self.org(),
                key_hash
            )?
            .ok_or_else(|| StoreError::Corrupt("idempotency key vanished inside its transaction".into()))?;
            if row.fingerprint != fingerprint {
                IdempotencyClaim::Mismatch
            } else if row.state == "done" {
                IdempotencyClaim::Replay {
                    status: u16::try_from(row.status.unwrap_or(500)).unwrap_or(500),
                    content_type: row.content_type,
                    body: row.body.unwrap_or_default(),
                }
            } else if row.locked_until > now.0 {
                IdempotencyClaim::InFlight
            } else {
                exec!(
                    &mut tx,
                    "UPDATE idempotency_keys SET locked_until = $3 WHERE org_id = $1 AND key_hash = $2",
                    self.org(),
                    key_hash,
                    now.plus_secs(lease_secs).0
                )?;
                IdempotencyClaim::Proceed
            }
        };
        tx.commit().await?;
        Ok(claim)
    }

    /// Keeps the response of a claimed request for replay.
    pub async fn complete_idempotency_key(
        &self,
        key_hash: &[u8],
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        exec!(
            &mut tx,
            "UPDATE idempotency_keys SET state = 'done', status = $3, content_type = $4, body = $5 \
             WHERE org_id = $1 AND key_hash = $2",
            self.org(),
            key_hash,
            i32::from(status),
            content_type,
            body
        )?;
        tx.commit().await
    }

    /// Releases a claim whose request failed on our side (it changed
    /// nothing), so a retry runs again.
    pub async fn release_idempotency_key(&self, key_hash: &[u8]) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        exec!(
            &mut tx,
            "DELETE FROM idempotency_keys WHERE org_id = $1 AND key_hash = $2 AND state = 'in_flight'",
            self.org(),
            key_hash
        )?;
        tx.commit().await
    }
}
