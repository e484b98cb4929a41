//! Envelope encryption in the store: data keys per organization (and one
//! system scope), wrapped by the key-encryption key, unwrapped on demand
//! into a small in-memory cache, and the two calls every other module uses:
//! [`Store::seal`] and [`Store::open_sealed`].
//!
//! Both take the caller's own transaction. The active data key is looked up
//! in it on every seal (one indexed row), so a DEK rotation takes effect on
//! every node at once, and creating the first key of a scope commits or
//! rolls back with the value it sealed. Only unwrapped keys are cached, by
//! key id; a cached key never decides which key seals.
//!
//! The format and the associated data are those of
//! [`tollgate_core::envelope`]; docs/crypto.md describes both.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tollgate_core::audit::ActorRef;
use tollgate_core::envelope::{self, Aad, DataKey, KeyEncryptionKey, KeyId, KeyScope, WrapContext};
use tollgate_core::{OrgId, UnixMicros};
use zeroize::Zeroizing;

use crate::audit::{self, Draft};
use crate::db::{Tx, exec, fetch_all, fetch_optional};
use crate::scope::Ctx;
use crate::{Store, StoreError, random_bytes};

/// How long an unwrapped key stays in memory without being looked at in the
/// database again. Bounds how long a retired key outlives its retirement in
/// a running node.
const CACHE_TTL: Duration = Duration::from_secs(300);

/// The key-encryption keys of this process and the cache of unwrapped data
/// keys. Keys are zeroized when dropped from the cache.
pub struct Vault {
    /// The current KEK first, then older ones still accepted during a KEK
    /// rotation. New data keys are wrapped by all of them, so a node that
    /// still runs with an older KEK can open what a newer node sealed.
    keks: Vec<Arc<dyn KeyEncryptionKey>>,
    cache: Mutex<HashMap<KeyId, Cached>>,
}

struct Cached {
    org: Option<String>,
    key: Arc<DataKey>,
    loaded: Instant,
}

impl Vault {
    pub fn new(
        current: Arc<dyn KeyEncryptionKey>,
        previous: Vec<Arc<dyn KeyEncryptionKey>>,
    ) -> Self {
        let mut keks = vec![current];
        keks.extend(previous);
        Vault {
            keks,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The id of the KEK that wraps new keys.
    pub fn kek_id(&self) -> &str {
        self.keks[0].id()
    }

    pub(crate) fn current(&self) -> Arc<dyn KeyEncryptionKey> {
        self.keks[0].clone()
    }

    pub fn kek_ids(&self) -> Vec<&str> {
        self.keks.iter().map(|k| k.id()).collect()
    }

    fn cached(&self, id: &KeyId) -> Option<(Option<String>, Arc<DataKey>)> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        match cache.get(id) {
            Some(c) if c.loaded.elapsed() < CACHE_TTL => Some((c.org.clone(), c.key.clone())),
            Some(_) => {
                cache.remove(id);
                None
            }
            None => None,
        }
    }

    fn remember(&self, org: Option<String>, key: Arc<DataKey>) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(
            key.id(),
            Cached {
                org,
                key,
                loaded: Instant::now(),
            },
        );
    }

    pub(crate) fn forget(&self, id: &KeyId) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.remove(id);
    }

    /// Wraps `dek` under every KEK held, for the insert of its wraps.
    async fn wrap_all(
        &self,
        dek: &DataKey,
        scope: KeyScope<'_>,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut out = Vec::with_capacity(self.keks.len());
        for kek in &self.keks {
            let nonce = random_bytes::<12>()?;
            let ctx = WrapContext {
                scope,
                key_id: dek.id(),
            };
            let wrapped = kek
                .wrap(dek, ctx, *nonce)
                .await
                .map_err(StoreError::Sealed)?;
            out.push((kek.id().to_owned(), wrapped));
        }
        Ok(out)
    }
}

/// The scope as stored: the organization id, or `''` for the system scope
/// (matching the `coalesce(org_id, '')` of the one-active-key index).
fn scope_text<'a>(scope: &KeyScope<'a>) -> &'a str {
    match scope {
        KeyScope::Org(org) => org,
        KeyScope::System => "",
    }
}

fn scope_org(scope: &KeyScope<'_>) -> Option<String> {
    match scope {
        KeyScope::Org(org) => Some((*org).to_owned()),
        KeyScope::System => None,
    }
}

fn parse_key_id(text: &str) -> Result<KeyId, StoreError> {
    KeyId::parse_hex(text).ok_or_else(|| StoreError::Corrupt(format!("data key id `{text}`")))
}

/// A column that holds sealed values. Declared once beside the statements
/// of its table and listed in [`ENCRYPTED_COLUMNS`], so that a DEK rotation
/// re-encrypts it and retires a key only when no row of any listed column
/// still names it. The associated data of a value is (scope, `table`, the
/// row's `id_column` value, `column`), so a value copied to another row,
/// column or tenant does not open.
#[derive(Debug)]
pub(crate) struct EncryptedColumn {
    pub table: &'static str,
    pub id_column: &'static str,
    pub column: &'static str,
    /// Organization columns live in tables with an `org_id` column; system
    /// columns hold secrets of a person.
    pub system: bool,
    /// A text column that held the value in the clear before the column
    /// was encrypted, for rows written then. A DEK rotation seals such a
    /// row into `column` and clears this one; exactly one of the two holds
    /// a row's value.
    pub legacy_plaintext: Option<&'static str>,
}

impl EncryptedColumn {
    pub(crate) fn aad<'a>(&'a self, org: &'a str, record: &'a str) -> Aad<'a> {
        if self.system {
            Aad::system(self.table, record, self.column)
        } else {
            Aad::org(org, self.table, record, self.column)
        }
    }

    /// Seals `plaintext` for the row `record` of `org` (ignored for a system
    /// column), in the caller's transaction.
    pub(crate) async fn seal(
        &self,
        store: &Store,
        tx: &mut Tx,
        org: &str,
        record: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        store.seal(tx, self.aad(org, record), plaintext).await
    }

    /// Opens the value of the row `record`, in the caller's transaction.
    pub(crate) async fn open(
        &self,
        store: &Store,
        tx: &mut Tx,
        org: &str,
        record: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        store.open_sealed(tx, self.aad(org, record), sealed).await
    }
}

/// Every encrypted column of the schema. Add a column here when you declare
/// one; key rotation walks this list.
pub(crate) const ENCRYPTED_COLUMNS: &[&EncryptedColumn] = &[
    &crate::provider_credentials::SECRET_COLUMN,
    &crate::sign_in::TOTP_SECRET,
    &crate::calls::TRANSCRIPT_BODY,
    &crate::calls::EXTRACTION_FIELDS,
    &crate::idempotency::RESPONSE_BODY,
    &crate::webhooks::SECRET_COLUMN,
    &SYSTEM_SECRET,
];

/// Secrets of the deployment that must outlive every key rotation (the
/// number-hash key of suppression lists): random, sealed with the system
/// data key, so a KEK rotation re-wraps the key that seals them and never
/// changes them.
pub(crate) const SYSTEM_SECRET: EncryptedColumn = EncryptedColumn {
    table: "system_secrets",
    id_column: "name",
    column: "sealed",
    system: true,
    legacy_plaintext: None,
};

impl Store {
    /// The 32-byte secret `name`, created at random on first use. Several
    /// nodes starting at once agree on one: the first insert wins and every
    /// node reads the stored value.
    pub async fn system_secret(
        &self,
        name: &str,
        now: UnixMicros,
    ) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        let mut tx = self.pool.write().await?;
        let existing = fetch_optional!(
            &mut tx,
            (Vec<u8>,),
            "SELECT sealed FROM system_secrets WHERE name = $1",
            name
        )?;
        let sealed = match existing {
            Some((sealed,)) => sealed,
            None => {
                let fresh = random_bytes::<32>()?;
                let sealed = SYSTEM_SECRET
                    .seal(self, &mut tx, "", name, fresh.as_ref())
                    .await?;
                exec!(
                    &mut tx,
                    "INSERT INTO system_secrets (name, sealed, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO NOTHING",
                    name,
                    sealed,
                    now.0
                )?;
                fetch_optional!(
                    &mut tx,
                    (Vec<u8>,),
                    "SELECT sealed FROM system_secrets WHERE name = $1",
                    name
                )?
                .ok_or_else(|| StoreError::Corrupt(format!("system secret {name} vanished")))?
                .0
            }
        };
        let opened = SYSTEM_SECRET.open(self, &mut tx, "", name, &sealed).await?;
        tx.commit().await?;
        let bytes: [u8; 32] = opened
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Corrupt(format!("system secret {name} is not 32 bytes")))?;
        Ok(Zeroizing::new(bytes))
    }
}

impl Store {
    pub(crate) fn vault(&self) -> Result<&Vault, StoreError> {
        self.vault.as_deref().ok_or_else(|| {
            StoreError::Config(
                "no key-encryption key is configured; refusing to store secrets unencrypted".into(),
            )
        })
    }

    /// Seals `plaintext` for the place `aad` under the active data key of
    /// its scope, creating that key on first use. Runs in the caller's
    /// transaction (which must be bound to the organization for an
    /// organization scope, as every [`crate::OrgScope`] transaction is).
    pub(crate) async fn seal(
        &self,
        tx: &mut Tx,
        aad: Aad<'_>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let vault = self.vault()?;
        let key = active_key(vault, tx, aad.scope).await?;
        let nonce = random_bytes::<12>()?;
        Ok(envelope::seal(&key, &aad, *nonce, plaintext))
    }

    /// Opens a value sealed by [`Store::seal`] for the same place. A value
    /// that does not open (tampered, moved to another row or tenant, or
    /// naming a key this scope does not have) is an error and an audit
    /// event of the organization, never a panic and never wrong plaintext.
    pub(crate) async fn open_sealed(
        &self,
        tx: &mut Tx,
        aad: Aad<'_>,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let vault = self.vault()?;
        let result = match envelope::key_id_of(sealed) {
            Ok(id) => match key_by_id(vault, tx, id, aad.scope).await {
                Ok(key) => envelope::open(&key, &aad, sealed).map_err(StoreError::Sealed),
                Err(e) => Err(e),
            },
            Err(e) => Err(StoreError::Sealed(e)),
        };
        if let Err(e) = &result
            && matches!(e, StoreError::Sealed(_) | StoreError::Corrupt(_))
        {
            self.record_open_failure(&aad, e);
        }
        result
    }

    /// Audits a value that did not open, in its own transaction: the
    /// caller's transaction is about to fail and roll back. Spawned, because
    /// on SQLite the caller may hold the only write lock until it returns.
    fn record_open_failure(&self, aad: &Aad<'_>, error: &StoreError) {
        tracing::warn!(
            table = aad.table,
            record = aad.record,
            field = aad.field,
            error = %error,
            "a sealed value did not open"
        );
        let KeyScope::Org(org) = aad.scope else {
            // A person's secrets have no organization chain to audit in.
            return;
        };
        let store = self.clone();
        let org = org.to_owned();
        let details = serde_json::json!({
            "table": aad.table,
            "field": aad.field,
            "error": error.to_string(),
        });
        let target = audit::target(aad.table, aad.record);
        tokio::spawn(async move {
            let ctx = Ctx {
                now: wall_clock(),
                request: Default::default(),
            };
            let write = async {
                let mut tx = store.pool.write().await?;
                tx.bind_org(&org).await?;
                audit::append_with_outcome(
                    &mut tx,
                    &org,
                    Draft {
                        actor: system_actor(),
                        action: "vault.open_failed",
                        target,
                        details,
                    },
                    "failure",
                    &ctx,
                )
                .await?;
                tx.commit().await
            };
            if let Err(e) = write.await {
                tracing::error!(error = %e, "could not audit a sealed value that did not open");
            }
        });
    }
}

pub(crate) fn system_actor() -> ActorRef {
    ActorRef {
        kind: "system".into(),
        id: None,
    }
}

pub(crate) fn wall_clock() -> UnixMicros {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    UnixMicros(micros)
}

/// The active data key of `scope`, created (and wrapped by every KEK held)
/// when the scope has none.
async fn active_key(
    vault: &Vault,
    tx: &mut Tx,
    scope: KeyScope<'_>,
) -> Result<Arc<DataKey>, StoreError> {
    let org = scope_text(&scope);
    for _ in 0..2 {
        let found = fetch_optional!(
            &mut *tx,
            (String,),
            "SELECT id FROM data_keys WHERE coalesce(org_id, '') = $1 AND status = 'active'",
            org
        )?;
        if let Some((id,)) = found {
            return key_by_id(vault, tx, parse_key_id(&id)?, scope).await;
        }
        match insert_key(vault, tx, scope, wall_clock()).await? {
            Some(key) => return Ok(key),
            // Another transaction created the scope's first key meanwhile.
            None => continue,
        }
    }
    Err(StoreError::Corrupt(
        "the scope's active data key vanished while being created".into(),
    ))
}

/// Inserts a new active key for `scope`, wrapped by every KEK held; `None`
/// when the scope already has an active key (another transaction's).
async fn insert_key(
    vault: &Vault,
    tx: &mut Tx,
    scope: KeyScope<'_>,
    now: UnixMicros,
) -> Result<Option<Arc<DataKey>>, StoreError> {
    let id = KeyId(*random_bytes::<16>()?);
    let dek = DataKey::new(id, random_bytes::<32>()?);
    let wraps = vault.wrap_all(&dek, scope).await?;
    let inserted = exec!(
        &mut *tx,
        "INSERT INTO data_keys (id, org_id, status, created_at) VALUES ($1, $2, 'active', $3) \
         ON CONFLICT DO NOTHING",
        id.to_string(),
        scope_org(&scope),
        now.0
    )?;
    if inserted == 0 {
        return Ok(None);
    }
    insert_wraps(tx, &id, &scope, &wraps, now).await?;
    let key = Arc::new(dek);
    vault.remember(scope_org(&scope), key.clone());
    Ok(Some(key))
}

/// A new active key for `scope`, whose previous active key the caller has
/// just demoted (a DEK rotation).
pub(crate) async fn create_key(
    vault: &Vault,
    tx: &mut Tx,
    scope: KeyScope<'_>,
    now: UnixMicros,
) -> Result<KeyId, StoreError> {
    insert_key(vault, tx, scope, now)
        .await?
        .map(|k| k.id())
        .ok_or(StoreError::Conflict("data_key_active"))
}

async fn insert_wraps(
    tx: &mut Tx,
    id: &KeyId,
    scope: &KeyScope<'_>,
    wraps: &[(String, Vec<u8>)],
    now: UnixMicros,
) -> Result<(), StoreError> {
    for (kek_id, wrapped) in wraps {
        exec!(
            &mut *tx,
            "INSERT INTO data_key_wraps (key_id, org_id, kek_id, wrapped, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            id.to_string(),
            scope_org(scope),
            kek_id.clone(),
            wrapped.clone(),
            now.0
        )?;
    }
    Ok(())
}

/// The data key `id`, which must belong to `scope` and not be retired.
pub(crate) async fn key_by_id(
    vault: &Vault,
    tx: &mut Tx,
    id: KeyId,
    scope: KeyScope<'_>,
) -> Result<Arc<DataKey>, StoreError> {
    let want = scope_org(&scope);
    if let Some((org, key)) = vault.cached(&id) {
        if org != want {
            return Err(StoreError::Corrupt(format!(
                "data key {id} belongs to another scope"
            )));
        }
        return Ok(key);
    }
    let row = fetch_optional!(
        &mut *tx,
        (Option<String>, String),
        "SELECT org_id, status FROM data_keys WHERE id = $1",
        id.to_string()
    )?;
    let Some((org, status)) = row else {
        // Another tenant's key is invisible under RLS, and absent here.
        return Err(StoreError::Corrupt(format!("data key {id} is unknown")));
    };
    if org != want {
        return Err(StoreError::Corrupt(format!(
            "data key {id} belongs to another scope"
        )));
    }
    if status == "retired" {
        return Err(StoreError::Corrupt(format!("data key {id} is retired")));
    }
    let wraps = fetch_all!(
        &mut *tx,
        (String, Vec<u8>),
        "SELECT kek_id, wrapped FROM data_key_wraps WHERE key_id = $1",
        id.to_string()
    )?;
    let ctx = WrapContext { scope, key_id: id };
    for kek in &vault.keks {
        if let Some((_, wrapped)) = wraps.iter().find(|(k, _)| k == kek.id()) {
            let key = Arc::new(kek.unwrap(wrapped, ctx).await.map_err(StoreError::Sealed)?);
            vault.remember(want, key.clone());
            return Ok(key);
        }
    }
    Err(StoreError::Config(format!(
        "data key {id} is wrapped only by key-encryption keys this server does not hold ({}); \
         configure the current KEK",
        wraps
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// What a data key is doing, as shown by `tollgate keys list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DataKeyInfo {
    pub id: String,
    pub org_id: Option<OrgId>,
    pub status: String,
    pub created_at: UnixMicros,
    pub retired_at: Option<UnixMicros>,
    pub kek_ids: Vec<String>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tollgate_core::envelope::LocalKek;
    use tollgate_core::envelope::SealError;
    use tollgate_core::token::{HashKey, TokenHasher};

    pub(crate) const ORG_A: &str = "org_000000000000000000000000aa";
    pub(crate) const ORG_B: &str = "org_000000000000000000000000bb";

    pub(crate) fn kek(n: u8) -> Arc<dyn KeyEncryptionKey> {
        Arc::new(LocalKek::new(Zeroizing::new([n; 32])))
    }

    /// A migrated SQLite store in a temporary directory, with two orgs.
    pub(crate) async fn store(dir: &std::path::Path, keks: &[u8]) -> Store {
        let url = format!("sqlite://{}", dir.join("t.db").display());
        crate::migrate(&url, None).await.unwrap();
        let hasher = Arc::new(TokenHasher::new(vec![HashKey::new([1; 32])]).unwrap());
        let store = Store::open(&url, &Default::default(), hasher)
            .await
            .unwrap();
        let previous = keks[1..].iter().map(|n| kek(*n)).collect();
        let store = store.with_vault(Vault::new(kek(keks[0]), previous));
        let mut tx = store.pool.write().await.unwrap();
        for org in [ORG_A, ORG_B] {
            exec!(
                &mut tx,
                "INSERT INTO organizations (id, name, created_at, updated_at) VALUES ($1, $1, 0, 0) \
                 ON CONFLICT DO NOTHING",
                org
            )
            .unwrap();
            exec!(
                &mut tx,
                "INSERT INTO org_directory (org_id, created_at) VALUES ($1, 0) ON CONFLICT DO NOTHING",
                org
            )
            .unwrap();
            let _ = audit::start_chain(&mut tx, org).await;
        }
        tx.commit().await.unwrap();
        store
    }

    /// Seals in a transaction bound to `org`, as an OrgScope would.
    pub(crate) async fn seal_in(store: &Store, org: &str, aad: Aad<'_>, text: &[u8]) -> Vec<u8> {
        let mut tx = store.pool.write().await.unwrap();
        tx.bind_org(org).await.unwrap();
        let sealed = store.seal(&mut tx, aad, text).await.unwrap();
        tx.commit().await.unwrap();
        sealed
    }

    pub(crate) async fn open_in(
        store: &Store,
        org: &str,
        aad: Aad<'_>,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let mut tx = store.pool.read().await.unwrap();
        tx.bind_org(org).await.unwrap();
        store.open_sealed(&mut tx, aad, sealed).await
    }

    #[tokio::test]
    async fn seal_open_and_one_key_per_scope() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), &[7]).await;
        let a = Aad::org(ORG_A, "t", "r1", "f");
        let s1 = seal_in(&store, ORG_A, a, b"one").await;
        let s2 = seal_in(&store, ORG_A, a, b"two").await;
        assert_eq!(envelope::key_id_of(&s1), envelope::key_id_of(&s2));
        assert_ne!(s1[17..29], s2[17..29], "fresh nonces");
        let b = Aad::org(ORG_B, "t", "r1", "f");
        let sb = seal_in(&store, ORG_B, b, b"bee").await;
        assert_ne!(envelope::key_id_of(&s1), envelope::key_id_of(&sb));
        let sys = Aad::system("users", "usr_1", "totp_seed");
        let ss = seal_in(&store, ORG_A, sys, b"seed").await;
        assert_eq!(&**open_in(&store, ORG_A, a, &s1).await.unwrap(), b"one");
        assert_eq!(&**open_in(&store, ORG_B, b, &sb).await.unwrap(), b"bee");
        assert_eq!(&**open_in(&store, ORG_B, sys, &ss).await.unwrap(), b"seed");

        // A fresh process (empty cache) unwraps the stored keys.
        let again = Store {
            vault: Some(Arc::new(Vault::new(kek(7), vec![]))),
            ..store.clone()
        };
        assert_eq!(&**open_in(&again, ORG_A, a, &s2).await.unwrap(), b"two");
        assert_eq!(&**open_in(&again, ORG_A, sys, &ss).await.unwrap(), b"seed");
    }

    #[tokio::test]
    async fn moved_values_fail_cleanly_and_are_audited() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), &[7]).await;
        let a = Aad::org(ORG_A, "t", "r1", "f");
        let sealed = seal_in(&store, ORG_A, a, b"secret").await;
        // Another row, another field, another org (whose key it is not).
        for (org, aad) in [
            (ORG_A, Aad::org(ORG_A, "t", "r2", "f")),
            (ORG_A, Aad::org(ORG_A, "t", "r1", "g")),
            (ORG_B, Aad::org(ORG_B, "t", "r1", "f")),
            (ORG_A, Aad::system("t", "r1", "f")),
        ] {
            let err = open_in(&store, org, aad, &sealed).await.unwrap_err();
            assert!(
                matches!(err, StoreError::Sealed(_) | StoreError::Corrupt(_)),
                "{aad:?}: {err}"
            );
        }
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(matches!(
            open_in(&store, ORG_A, a, &tampered).await,
            Err(StoreError::Sealed(SealError::Rejected))
        ));
        assert!(matches!(
            open_in(&store, ORG_A, a, &sealed[..10]).await,
            Err(StoreError::Sealed(SealError::Malformed))
        ));
        let mut unknown = sealed.clone();
        unknown[1] ^= 1;
        assert!(matches!(
            open_in(&store, ORG_A, a, &unknown).await,
            Err(StoreError::Corrupt(_))
        ));
        // Each failure of an org value is an audit event of that org.
        let count = || async {
            let mut tx = store.pool.read().await.unwrap();
            fetch_one_count(&mut tx).await
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while count().await < 6 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(count().await, 6);
    }

    async fn fetch_one_count(tx: &mut Tx) -> i64 {
        crate::db::fetch_one!(
            tx,
            (i64,),
            "SELECT COUNT(*) FROM audit_events WHERE action = 'vault.open_failed' AND outcome = 'failure'"
        )
        .unwrap()
        .0
    }

    #[tokio::test]
    async fn a_store_without_a_kek_refuses_to_seal() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store {
            vault: None,
            ..store(dir.path(), &[7]).await
        };
        let mut tx = store.pool.write().await.unwrap();
        let err = store
            .seal(&mut tx, Aad::org(ORG_A, "t", "r", "f"), b"x")
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Config(_)));
    }

    #[tokio::test]
    async fn a_server_with_another_kek_cannot_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), &[7]).await;
        let a = Aad::org(ORG_A, "t", "r1", "f");
        let sealed = seal_in(&store, ORG_A, a, b"secret").await;
        let other = Store {
            vault: Some(Arc::new(Vault::new(kek(8), vec![]))),
            ..store.clone()
        };
        assert!(matches!(
            open_in(&other, ORG_A, a, &sealed).await,
            Err(StoreError::Config(_))
        ));
    }
}
