//! Tollgate's storage layer: every SQL statement of the product lives here.
//!
//! Tenant data is reachable only through an [`OrgScope`], and an `OrgScope`
//! comes only from an authenticated [`Actor`], which only this crate can
//! construct (by verifying a credential). No function here takes an
//! organization id from request input. On PostgreSQL, row-level security
//! enforces the same boundary a second time, underneath this code.

mod api_keys;
mod audit;
mod audit_sqlite;
mod auth;
mod bootstrap;
mod checkpointer;
mod credential_cache;
pub(crate) mod db;
mod gate;
mod gate_cache;
mod idempotency;
mod keys;
mod members;
mod migrate;
mod oauth;
mod orgs;
mod provider_credentials;
mod rotation;
mod scope;
mod sign_in;
mod sqlite_file;
mod sqlite_read;
mod vault;
// Issue 9: redaction on every write path.
mod calls;
pub mod redacted;
// Issue 8: do-not-call data.
mod dnc;
mod redaction;
// Issue 10: signed webhooks.
mod webhooks;

use std::sync::Arc;

use tollgate_core::id::{Id, IdKind};
use tollgate_core::token::TokenHasher;
use tollgate_core::{IdError, UnixMicros};

pub use api_keys::{ApiKey, NewApiKey};
pub use audit::{ApiCall, AuditFilter, AuditPage, ChainReport, StoredEvent};
pub use auth::AuthFailure;
pub use bootstrap::{BootstrapInput, BootstrapOutcome, BootstrapState};
pub use db::{Backend, PoolSettings};
pub use gate::{
    AttemptsHeld, Campaign, CampaignPatch, CampaignSpec, CommittedGroup, DayWindows, DialCheck,
    DialJob, DialRequest, DncAnswer, GateSettings, GateSettingsPatch, ImportChunk, ImportTotals,
    Lead, ListVersionRecord, MAX_CAP_WINDOW_HOURS, NewLead, NewSuppression, NumberHasher,
    ReasonRecord, RecordedCheck, ScrubRow, Suppression, SuppressionList, SuppressionSource,
    WEEKDAYS, hhmm, lead_location,
};
pub use idempotency::IdempotencyClaim;
pub use keys::{KeyCheck, recorded_key_purposes};
pub use members::{Member, MemberInvite};
pub use migrate::{MigrationReport, migrate};
pub use oauth::{IssuedToken, NewOAuthClient, OAuthClient, TokenInfo};
pub use orgs::{HIPAA_RETENTION_DAYS, MIN_RETENTION_DAYS, Org, OrgPatch, effective_retention_days};
pub use provider_credentials::{
    NewProviderCredential, ProviderCredential, ReplaceProviderCredential, SecretFields, last_four,
};
pub use rotation::{DekRotationStatus, KekRotationReport};
pub use scope::{Actor, Ctx, OrgScope, Principal};
pub use sign_in::{
    AccessReviewRow, IssuedLink, LinkPurpose, LinkState, NewSession, OrgChoice, RedeemFailure,
    Redeemed, Session, SessionFailure, SessionPolicy, SessionStage, TotpFactor,
};
pub use vault::{DataKeyInfo, Vault};
// Issue 9: redaction on every write path.
pub use calls::{Call, Extraction, NewCall, Transcript};
pub use redacted::{FieldsError, RedactedFields, RedactedTranscript, RemovedSpan, Speaker};
pub use redaction::RedactionPolicy;
// Issue 10: signed webhooks.
pub use webhooks::{
    AttemptOutcome, AttemptVerdict, ClaimedDelivery, DeliveryJob, FinishedAttempt, MAX_OLD_SECRETS,
    NewWebhookEndpoint, OpenedSecrets, PAYLOADS as WEBHOOK_PAYLOADS, WebhookAttempt,
    WebhookEndpoint, WebhookEndpointPatch,
};
// Issue 8: do-not-call data.
pub use dnc::{DncIncident, DncListVersion, NewDncListVersion};

/// Everything that can go wrong below the HTTP shell. The server maps each
/// variant to a stable problem code in one place.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("refused: {0}")]
    Refused(Refusal),
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// From the audit log's SQLite paths, which use rusqlite (ADR 0008).
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("randomness unavailable")]
    Random,
    /// A sealed value did not open, or a key could not be wrapped.
    #[error("encryption: {0}")]
    Sealed(tollgate_core::envelope::SealError),
    /// A transient database failure ([`StoreError::is_transient`]) as told
    /// to a caller other than the one that met it.
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

/// A domain rule that refused an otherwise well-formed change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The organization would be left without an owner.
    LastOwner,
    /// Only owners may grant, change or remove the owner role.
    OwnerOnly,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::LastOwner => "the last owner cannot be removed or demoted",
            Refusal::OwnerOnly => "only an owner may grant, change or remove the owner role",
        })
    }
}

impl StoreError {
    /// Whether the same operation may succeed when tried again unchanged:
    /// the database was busy (a lock held elsewhere), out of reach, out of
    /// space or memory, or the pool had no connection free. Everything else
    /// (a constraint, a trigger's refusal, a bug) would fail the same way.
    pub fn is_transient(&self) -> bool {
        use rusqlite::ErrorCode as C;
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Db(e) => match e {
                sqlx::Error::PoolTimedOut
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                    // SQLite's primary result codes (the low byte of an
                    // extended one); PostgreSQL's SQLSTATE classes:
                    // connection (08), rollback on a conflict (40),
                    // resources (53), lock not available (55P03), operator
                    // intervention (57), system (58).
                    let sqlite = code.parse::<i32>().ok().map(|c| c & 0xff);
                    matches!(sqlite, Some(5 | 6 | 7 | 10 | 13 | 14))
                        || ["08", "40", "53", "57", "58"]
                            .iter()
                            .any(|c| code.starts_with(c))
                        || code == "55P03"
                }),
                _ => false,
            },
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                C::DatabaseBusy
                    | C::DatabaseLocked
                    | C::OutOfMemory
                    | C::SystemIoFailure
                    | C::DiskFull
                    | C::CannotOpen
            ),
            _ => false,
        }
    }
}

impl From<IdError> for StoreError {
    fn from(e: IdError) -> Self {
        StoreError::Corrupt(format!("stored identifier: {e}"))
    }
}

/// A handle on the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: db::Pool,
    hasher: Arc<TokenHasher>,
    /// The key-encryption keys and data-key cache; `None` refuses every
    /// operation on a secret instead of storing it unencrypted.
    vault: Option<Arc<Vault>>,
    /// The dial gate's number-hash key ([`Store::with_number_hasher`]).
    numbers: Option<Arc<NumberHasher>>,
    /// Credential rows by lookup id, shared by every clone of this store.
    credentials: Arc<Credentials>,
    /// Campaigns and gate settings for dial checks, shared likewise.
    gate: Arc<gate_cache::GateCache>,
    /// SQLite only: the audit log's rusqlite paths (ADR 0008).
    audit_direct: Option<Arc<audit_sqlite::Direct>>,
    /// SQLite only: the dial gate's point reads over rusqlite (ADR 0010).
    readers: Option<Arc<sqlite_read::Readers>>,
    /// SQLite only: the dial attempts' index, in memory (ADR 0014).
    attempts: Option<Arc<gate::AttemptIndex>>,
}

/// The per-node cache of API key and OAuth token rows.
pub(crate) type Credentials =
    credential_cache::CredentialCache<Arc<auth::KeyAuth>, Arc<oauth::TokenAuth>>;

pub use credential_cache::DEFAULT_TTL as CREDENTIAL_CACHE_TTL;
pub use gate_cache::DEFAULT_TTL as GATE_CACHE_TTL;

impl Store {
    /// Opens a pool. Does not migrate: see [`migrate`].
    pub async fn open(
        url: &str,
        settings: &PoolSettings,
        hasher: Arc<TokenHasher>,
    ) -> Result<Store, StoreError> {
        let pool = db::Pool::open(url, settings).await?;
        Ok(Store {
            audit_direct: pool.audit_direct(),
            readers: pool.readers(),
            attempts: matches!(pool, db::Pool::Sqlite(..)).then(Default::default),
            pool,
            hasher,
            vault: None,
            numbers: None,
            credentials: Arc::new(Credentials::new(credential_cache::DEFAULT_TTL)),
            gate: Arc::new(gate_cache::GateCache::new(gate_cache::DEFAULT_TTL)),
        })
    }

    /// Another connection to the same database with another role (the
    /// owner, for the few operator tasks the application role may not do).
    pub async fn with_role(&self, url: &str) -> Result<Store, StoreError> {
        let settings = PoolSettings {
            max_connections: 2,
            ..Default::default()
        };
        let pool = db::Pool::open(url, &settings).await?;
        Ok(Store {
            audit_direct: pool.audit_direct(),
            readers: pool.readers(),
            attempts: self.attempts.clone(),
            pool,
            hasher: self.hasher.clone(),
            vault: self.vault.clone(),
            numbers: self.numbers.clone(),
            credentials: self.credentials.clone(),
            gate: self.gate.clone(),
        })
    }

    /// This store with credential rows cached for `ttl` (zero: never
    /// cached, every request reads the database). A change made through any
    /// clone of this store is seen at once; a change made by another node
    /// or process is seen within `ttl`.
    pub fn with_credential_cache(mut self, ttl: std::time::Duration) -> Store {
        self.credentials = Arc::new(Credentials::new(ttl));
        self
    }

    /// Forgets every cached credential row, after a change that can take
    /// authority away.
    pub(crate) fn credentials_changed(&self) {
        self.credentials.invalidate();
    }

    /// This store with campaigns and gate settings cached for `ttl` (zero:
    /// every dial check reads them); as [`Store::with_credential_cache`].
    pub fn with_gate_cache(mut self, ttl: std::time::Duration) -> Store {
        self.gate = Arc::new(gate_cache::GateCache::new(ttl));
        self
    }

    /// Forgets every cached campaign and gate setting, after a committed
    /// change to either.
    pub(crate) fn gate_config_changed(&self) {
        self.gate.invalidate();
    }

    /// SQLite's rusqlite readers (ADR 0010); `None` on PostgreSQL.
    pub(crate) fn readers(&self) -> Option<&sqlite_read::Readers> {
        self.readers.as_deref()
    }

    pub(crate) fn gate_cache(&self) -> &gate_cache::GateCache {
        &self.gate
    }

    /// This store with the key-encryption keys that seal its secrets.
    pub fn with_vault(mut self, vault: Vault) -> Store {
        self.vault = Some(Arc::new(vault));
        self
    }

    pub fn backend(&self) -> Backend {
        self.pool.backend()
    }

    pub fn hasher(&self) -> &TokenHasher {
        &self.hasher
    }

    pub async fn close(&self) {
        if let Some(direct) = &self.audit_direct {
            direct.close();
        }
        self.pool.close().await
    }

    /// The org-bound handle for an authenticated actor.
    pub fn scope<'a>(&'a self, actor: &'a Actor) -> OrgScope<'a> {
        OrgScope::new(self, actor)
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.read().await?;
        db::fetch_one!(&mut tx, (i32,), "SELECT 1")?;
        Ok(())
    }
}

/// A new identifier of kind `K`, created now.
pub(crate) fn new_id<K: IdKind>(now: UnixMicros) -> Result<Id<K>, StoreError> {
    Ok(Id::generate(now.millis(), id_random()?))
}

/// Ten random bytes for an identifier (never for a secret: those come from
/// [`random_bytes`]). The operating system's generator fills a block of 64
/// identifiers' worth per thread at a time: one `getrandom` call for every
/// request id and audit event id was a measurable share of a request.
pub fn id_random() -> Result<[u8; 10], StoreError> {
    const BLOCK: usize = 640;
    thread_local! {
        static POOL: std::cell::RefCell<(usize, [u8; BLOCK])> =
            const { std::cell::RefCell::new((BLOCK, [0; BLOCK])) };
    }
    POOL.with_borrow_mut(|(used, block)| {
        if *used == BLOCK {
            getrandom::fill(block).map_err(|_| StoreError::Random)?;
            *used = 0;
        }
        let mut out = [0u8; 10];
        out.copy_from_slice(&block[*used..*used + 10]);
        *used += 10;
        Ok(out)
    })
}

pub(crate) fn random_bytes<const N: usize>() -> Result<zeroize::Zeroizing<[u8; N]>, StoreError> {
    let mut out = zeroize::Zeroizing::new([0u8; N]);
    getrandom::fill(out.as_mut()).map_err(|_| StoreError::Random)?;
    Ok(out)
}

pub(crate) fn mac_array(bytes: Vec<u8>) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("stored hash is not 32 bytes".into()))
}
