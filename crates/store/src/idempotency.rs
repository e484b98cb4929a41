//! Idempotency keys: the first response to a keyed POST is kept and
//! replayed for retries of the same request.
//!
//! The claim is one conditional INSERT, so of two concurrent requests with
//! the same key exactly one runs; the other sees it in flight. A claim holds
//! a lease: if the process dies mid-request, a retry after the lease takes
//! the claim over instead of waiting 24 hours.
//!
//! The kept response is sealed ([`RESPONSE_BODY`]): it may be a redacted
//! transcript or extraction, which are sealed where they live (ADR 0103).

use tollgate_core::UnixMicros;
use tollgate_core::audit::to_hex;

use crate::StoreError;
use crate::db::{exec, fetch_optional};
use crate::scope::OrgScope;
use crate::vault::EncryptedColumn;

/// The kept response body, sealed, bound to the key's record id (the hex of
/// its hash). Rows from before migration 0011 hold it in `body` until a DEK
/// rotation seals it.
pub(crate) const RESPONSE_BODY: EncryptedColumn = EncryptedColumn {
    table: "idempotency_keys",
    id_column: "record_id",
    column: "body_sealed",
    system: false,
    legacy_plaintext: Some("body"),
};

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
    body_sealed: Option<Vec<u8>>,
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
            "INSERT INTO idempotency_keys (org_id, key_hash, record_id, fingerprint, state, created_at, expires_at, locked_until) \
             VALUES ($1, $2, $3, $4, 'in_flight', $5, $6, $7) ON CONFLICT (org_id, key_hash) DO NOTHING",
            self.org(),
            key_hash,
            to_hex(key_hash),
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
                "SELECT fingerprint, state, status, content_type, body, body_sealed, locked_until FROM idempotency_keys \
                 WHERE org_id = $1 AND key_hash = $2",
                self.org(),
                key_hash
            )?
            .ok_or_else(|| StoreError::Corrupt("idempotency key vanished inside its transaction".into()))?;
            if row.fingerprint != fingerprint {
                IdempotencyClaim::Mismatch
            } else if row.state == "done" {
                let body = match (&row.body_sealed, row.body) {
                    (Some(sealed), _) => RESPONSE_BODY
                        .open(self.store, &mut tx, self.org(), &to_hex(key_hash), sealed)
                        .await?
                        .to_vec(),
                    (None, legacy) => legacy.unwrap_or_default(),
                };
                IdempotencyClaim::Replay {
                    status: u16::try_from(row.status.unwrap_or(500)).unwrap_or(500),
                    content_type: row.content_type,
                    body,
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
        let sealed = RESPONSE_BODY
            .seal(self.store, &mut tx, self.org(), &to_hex(key_hash), body)
            .await?;
        exec!(
            &mut tx,
            "UPDATE idempotency_keys SET state = 'done', status = $3, content_type = $4, body = NULL, body_sealed = $5 \
             WHERE org_id = $1 AND key_hash = $2",
            self.org(),
            key_hash,
            i32::from(status),
            content_type,
            sealed
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

#[cfg(test)]
mod tests {
    use tollgate_core::OrgId;

    use super::*;
    use crate::db::fetch_one;
    use crate::scope::test_owner as actor;
    use crate::vault::tests::{ORG_A, ORG_B, store};

    const BODY: &[u8] = br#"{"turns":[{"speaker":"caller","text":"periwinkle narwhal"}]}"#;

    async fn keep(store: &crate::Store, org: &str, key: &[u8]) {
        let actor = actor(org);
        let scope = store.scope(&actor);
        let claim = scope
            .claim_idempotency_key(key, b"fp", UnixMicros(1), 3600, 60)
            .await
            .unwrap();
        assert_eq!(claim, IdempotencyClaim::Proceed);
        scope
            .complete_idempotency_key(key, 201, Some("application/json"), BODY)
            .await
            .unwrap();
    }

    async fn replay(
        store: &crate::Store,
        org: &str,
        key: &[u8],
    ) -> Result<IdempotencyClaim, StoreError> {
        let actor = actor(org);
        store
            .scope(&actor)
            .claim_idempotency_key(key, b"fp", UnixMicros(2), 3600, 60)
            .await
    }

    #[tokio::test]
    async fn kept_responses_are_sealed_and_replay_only_for_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), &[7]).await;
        keep(&store, ORG_A, &[1; 32]).await;
        keep(&store, ORG_A, &[2; 32]).await;
        keep(&store, ORG_B, &[3; 32]).await;
        let want = IdempotencyClaim::Replay {
            status: 201,
            content_type: Some("application/json".into()),
            body: BODY.to_vec(),
        };
        assert_eq!(replay(&store, ORG_A, &[1; 32]).await.unwrap(), want);
        let mut bytes = Vec::new();
        for f in ["t.db", "t.db-wal"] {
            bytes.extend(std::fs::read(dir.path().join(f)).unwrap_or_default());
        }
        assert!(bytes.len() > 4096, "the database was read");
        assert!(!bytes.windows(9).any(|w| w == b"periwinkl"));
        // A kept response moved to another key, or another org, does not open.
        let mut tx = store.pool.write().await.unwrap();
        let (sealed,): (Vec<u8>,) = fetch_one!(
            &mut tx,
            (Vec<u8>,),
            "SELECT body_sealed FROM idempotency_keys WHERE record_id = $1",
            to_hex(&[1; 32])
        )
        .unwrap();
        for id in [[2u8; 32], [3; 32]] {
            exec!(
                &mut tx,
                "UPDATE idempotency_keys SET body_sealed = $1 WHERE record_id = $2",
                sealed.clone(),
                to_hex(&id)
            )
            .unwrap();
        }
        tx.commit().await.unwrap();
        assert!(matches!(
            replay(&store, ORG_A, &[2; 32]).await,
            Err(StoreError::Sealed(_))
        ));
        assert!(matches!(
            replay(&store, ORG_B, &[3; 32]).await,
            Err(StoreError::Corrupt(_))
        ));
    }

    #[tokio::test]
    async fn dek_rotation_seals_responses_kept_before_0011() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), &[7]).await;
        keep(&store, ORG_A, &[1; 32]).await;
        // A row from before 0011: the body in the clear, no sealed value;
        // and a claim still in flight, which holds neither.
        let mut tx = store.pool.write().await.unwrap();
        exec!(
            &mut tx,
            "UPDATE idempotency_keys SET body = $1, body_sealed = NULL WHERE record_id = $2",
            BODY.to_vec(),
            to_hex(&[1; 32])
        )
        .unwrap();
        tx.commit().await.unwrap();
        let actor = actor(ORG_A);
        store
            .scope(&actor)
            .claim_idempotency_key(&[9; 32], b"fp", UnixMicros(1), 3600, 60)
            .await
            .unwrap();
        let org = OrgId::parse(ORG_A).unwrap();
        store.start_dek_rotation(&org, UnixMicros(5)).await.unwrap();
        let done = store.run_dek_rotation(&org, 10, None).await.unwrap();
        assert!(done.finished, "the in-flight claim does not hold it back");
        assert_eq!(done.resealed, 1);
        let mut tx = store.pool.read().await.unwrap();
        let (clear,): (i64,) = fetch_one!(
            &mut tx,
            (i64,),
            "SELECT COUNT(*) FROM idempotency_keys WHERE body IS NOT NULL"
        )
        .unwrap();
        drop(tx);
        assert_eq!(clear, 0);
        let want = IdempotencyClaim::Replay {
            status: 201,
            content_type: Some("application/json".into()),
            body: BODY.to_vec(),
        };
        assert_eq!(replay(&store, ORG_A, &[1; 32]).await.unwrap(), want);
    }
}
