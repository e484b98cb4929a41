//! Remembering which keys a database was initialized with.
//!
//! A server started with a missing or different key-encryption key or
//! token-hash key would otherwise run and fail later in confusing ways (or,
//! for a freshly generated key, silently lose every stored secret). The first
//! start records each key's public fingerprint; every later start compares.

use tollgate_core::UnixMicros;

use crate::db::{Pool, PoolSettings, exec, fetch_all, fetch_one, fetch_optional};
use crate::{Store, StoreError};

/// The outcome of comparing a configured key with the recorded one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    /// First start: the fingerprint is now recorded.
    Recorded,
    Matches,
    /// The database was initialized with another key.
    Mismatch {
        recorded: String,
    },
}

impl Store {
    /// Whether the database already has data keyed by some key of `purpose`.
    pub async fn recorded_key(&self, purpose: &str) -> Result<Option<String>, StoreError> {
        let mut tx = self.pool.read().await?;
        Ok(fetch_optional!(
            &mut tx,
            (String,),
            "SELECT key_id FROM key_fingerprints WHERE purpose = $1",
            purpose
        )?
        .map(|(k,)| k))
    }

    /// Compares `key_ids` (current first, then older ones still accepted)
    /// with the recorded fingerprint, recording the current one on first use.
    pub async fn check_key(
        &self,
        purpose: &str,
        key_ids: &[&str],
        now: UnixMicros,
    ) -> Result<KeyCheck, StoreError> {
        let current = key_ids
            .first()
            .ok_or_else(|| StoreError::Config(format!("no {purpose} key")))?;
        let mut tx = self.pool.write().await?;
        let recorded = fetch_optional!(
            &mut tx,
            (String,),
            "SELECT key_id FROM key_fingerprints WHERE purpose = $1",
            purpose
        )?;
        let outcome = match recorded {
            None => {
                // Several nodes may start for the first time at once: the
                // first insert wins and the others compare against it.
                let inserted = exec!(
                    &mut tx,
                    "INSERT INTO key_fingerprints (purpose, key_id, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (purpose) DO NOTHING",
                    purpose,
                    *current,
                    now.0
                )?;
                if inserted == 1 {
                    KeyCheck::Recorded
                } else {
                    let (winner,) = fetch_one!(
                        &mut tx,
                        (String,),
                        "SELECT key_id FROM key_fingerprints WHERE purpose = $1",
                        purpose
                    )?;
                    if key_ids.contains(&winner.as_str()) {
                        KeyCheck::Matches
                    } else {
                        KeyCheck::Mismatch { recorded: winner }
                    }
                }
            }
            Some((recorded,)) if recorded == *current => KeyCheck::Matches,
            // A rotation: the recorded key is still configured as an older
            // key, so data made with it stays readable. Record the new one.
            Some((recorded,)) if key_ids.contains(&recorded.as_str()) => {
                exec!(
                    &mut tx,
                    "UPDATE key_fingerprints SET key_id = $2, created_at = $3 WHERE purpose = $1",
                    purpose,
                    *current,
                    now.0
                )?;
                KeyCheck::Matches
            }
            Some((recorded,)) => KeyCheck::Mismatch { recorded },
        };
        tx.commit().await?;
        Ok(outcome)
    }
}

/// The key purposes the database at `url` has fingerprints for: a key of a
/// purpose not listed may be generated, since nothing is keyed by it yet.
pub async fn recorded_key_purposes(url: &str) -> Result<Vec<String>, StoreError> {
    let pool = Pool::open(
        url,
        &PoolSettings {
            max_connections: 1,
            ..Default::default()
        },
    )
    .await?;
    let mut tx = pool.read().await?;
    let rows = fetch_all!(
        &mut tx,
        (String,),
        "SELECT purpose FROM key_fingerprints ORDER BY purpose"
    )?;
    drop(tx);
    pool.close().await;
    Ok(rows.into_iter().map(|(p,)| p).collect())
}
