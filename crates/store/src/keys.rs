//! Remembering which keys a database was initialized with.
//!
//! A server started with a missing or different key-encryption key or
//! token-hash key would otherwise run and fail later in confusing ways (or,
//! for a freshly generated key, silently lose every stored secret). The first
//! start records each key's public fingerprint; every later start compares.

use tollgate_core::UnixMicros;

use crate::db::{Pool, PoolSettings, exec, fetch_one, fetch_optional};
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
                exec!(
                    &mut tx,
                    "INSERT INTO key_fingerprints (purpose, key_id, created_at) VALUES ($1, $2, $3)",
                    purpose,
                    *current,
                    now.0
                )?;
                KeyCheck::Recorded
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

/// How many key fingerprints the database at `url` holds: zero means no
/// data is keyed yet, so keys may be generated.
pub async fn recorded_key_count(url: &str) -> Result<i64, StoreError> {
    let pool = Pool::open(
        url,
        &PoolSettings {
            max_connections: 1,
            ..Default::default()
        },
    )
    .await?;
    let mut tx = pool.read().await?;
    let (n,) = fetch_one!(&mut tx, (i64,), "SELECT COUNT(*) FROM key_fingerprints")?;
    drop(tx);
    pool.close().await;
    Ok(n)
}
