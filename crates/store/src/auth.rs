//! Turning a presented credential into an [`Actor`].

use tollgate_core::token::{self, TokenHash, TokenKind};
use tollgate_core::{ApiKeyId, MemberId, OrgId, Role, ScopeSet, UnixMicros, UserId};

use std::sync::Arc;

use crate::db::{Pool, exec, fetch_optional};
use crate::scope::{Actor, Principal};
use crate::{Store, StoreError, mac_array};

/// Why a credential was refused. Each maps to a stable error code.
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    #[error("malformed credential")]
    Malformed,
    #[error("unknown credential")]
    Unknown,
    #[error("credential revoked")]
    Revoked,
    #[error("credential expired")]
    Expired,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AuthFailure {
    fn from(e: sqlx::Error) -> Self {
        AuthFailure::Store(e.into())
    }
}

/// An API key's row with its creator's membership: everything a request
/// needs to know about the key, read in one statement and cached per node
/// for a second (see `credential_cache`).
#[derive(sqlx::FromRow)]
pub(crate) struct KeyAuthRow {
    org_id: String,
    id: String,
    scopes: String,
    hash_key_id: String,
    hash: Vec<u8>,
    created_by: String,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
    role: Option<String>,
    member_id: Option<String>,
}

/// `last_used_at` is written at most this often per key, so a busy bot does
/// not turn every read into a write.
const LAST_USED_GRANULARITY_MICROS: i64 = 60 * UnixMicros::SECOND;

/// A key's row as the cache holds it, with what can be worked out from the
/// row alone done once per read instead of once per request: the stored
/// hash, and the actor the key acts as (parsing its identifiers and scopes
/// was a measurable share of an authenticated request's CPU). Revocation,
/// expiry and the presented secret are still checked on every request.
pub(crate) struct KeyAuth {
    row: KeyAuthRow,
    stored: TokenHash,
    /// `None` when the key's creator is no longer a member: such a key never
    /// authenticates.
    actor: Option<Actor>,
}

impl KeyAuth {
    fn from_row(row: KeyAuthRow) -> Result<KeyAuth, StoreError> {
        let stored = stored_hash(&row.hash_key_id, &row.hash)?;
        // The creator left; their keys were revoked with them, but a key
        // without a member behind it never authenticates either way.
        let actor = match bound_member(row.role.as_deref(), row.member_id.as_deref())? {
            Some((role, member)) => Some(Actor::new(crate::scope::ActorData {
                org_id: OrgId::parse(&row.org_id)?,
                principal: Principal::ApiKey {
                    key_id: ApiKeyId::parse(&row.id)?,
                    on_behalf_of: member,
                },
                user_id: UserId::parse(&row.created_by)?,
                role,
                scopes: Some(parse_scopes(&row.scopes)?),
            })),
            None => None,
        };
        Ok(KeyAuth { row, stored, actor })
    }
}

/// A credential's stored hash, from its two columns.
pub(crate) fn stored_hash(key_id: &str, hash: &[u8]) -> Result<TokenHash, StoreError> {
    Ok(TokenHash {
        key_id: key_id.to_owned(),
        mac: mac_array(hash.to_vec())?,
    })
}

/// The creator's membership, joined at every use rather than trusted:
/// `None` when they are no longer a member.
pub(crate) fn bound_member(
    role: Option<&str>,
    member_id: Option<&str>,
) -> Result<Option<(Role, MemberId)>, StoreError> {
    match (role, member_id) {
        (Some(r), Some(m)) => Ok(Some((
            r.parse()
                .map_err(|()| StoreError::Corrupt(format!("role `{r}`")))?,
            MemberId::parse(m)?,
        ))),
        _ => Ok(None),
    }
}

pub(crate) fn parse_scopes(text: &str) -> Result<ScopeSet, StoreError> {
    ScopeSet::parse_text(text).map_err(|s| StoreError::Corrupt(format!("scope `{s}`")))
}

impl Store {
    pub async fn authenticate_api_key(
        &self,
        presented: &str,
        now: UnixMicros,
    ) -> Result<Actor, AuthFailure> {
        let lookup =
            token::parse(TokenKind::ApiKey, presented).map_err(|_| AuthFailure::Malformed)?;
        let key = match self.credentials.api_key(lookup) {
            Some(key) => key,
            None => {
                let ticket = self.credentials.ticket();
                let key = Arc::new(self.key_auth(lookup).await?.ok_or(AuthFailure::Unknown)?);
                self.credentials.put_api_key(ticket, lookup, key.clone());
                key
            }
        };
        self.check_api_key(lookup, &key, presented, now).await
    }

    /// Checks a presented API key against its row, cached or just read.
    pub(crate) async fn check_api_key(
        &self,
        lookup: &str,
        key: &KeyAuth,
        presented: &str,
        now: UnixMicros,
    ) -> Result<Actor, AuthFailure> {
        // The presented secret is checked against the stored hash on every
        // request, cached row or not.
        if !self.hasher.verify(&key.stored, presented) {
            return Err(AuthFailure::Unknown);
        }
        let row = &key.row;
        if row.revoked_at.is_some() {
            return Err(AuthFailure::Revoked);
        }
        if row.expires_at.is_some_and(|e| e <= now.0) {
            return Err(AuthFailure::Expired);
        }
        let Some(actor) = &key.actor else {
            return Err(AuthFailure::Revoked);
        };
        if row
            .last_used_at
            .is_none_or(|t| now.0 - t >= LAST_USED_GRANULARITY_MICROS)
        {
            let org = row.org_id.as_str();
            let mut tx = self.pool.write().await?;
            tx.bind_org(org).await?;
            exec!(
                &mut tx,
                "UPDATE api_keys SET last_used_at = $3 WHERE org_id = $1 AND id = $2",
                org,
                row.id.as_str(),
                now.0
            )?;
            tx.commit().await?;
            // The cached row would otherwise ask for this write again on
            // every request until it expires.
            let ticket = self.credentials.ticket();
            if let Some(fresh) = self.key_auth(lookup).await? {
                self.credentials
                    .put_api_key(ticket, lookup, Arc::new(fresh));
            }
        }
        Ok(actor.clone())
    }

    async fn key_auth(&self, lookup: &str) -> Result<Option<KeyAuth>, StoreError> {
        self.key_row(lookup)
            .await?
            .map(KeyAuth::from_row)
            .transpose()
    }

    /// The key's row, joined with its creator's current membership: the
    /// membership is joined, not trusted from the key, so a removed or
    /// demoted member's keys lose that authority.
    async fn key_row(&self, lookup: &str) -> Result<Option<KeyAuthRow>, StoreError> {
        // One statement on SQLite, outside any transaction: each statement is
        // a hand-off to sqlx's connection thread, and a BEGIN and COMMIT
        // around a single read would triple them. PostgreSQL's row-level
        // security needs the organization bound before the key can be read,
        // so there the index is read first.
        if let Pool::Sqlite(pool, _) = &self.pool {
            return Ok(sqlx::query_as::<_, KeyAuthRow>(
                "SELECT k.org_id, k.id, k.scopes, k.hash_key_id, k.hash, k.created_by, k.expires_at, k.last_used_at, k.revoked_at, \
                        m.role, m.id AS member_id \
                 FROM credential_index ci \
                 JOIN api_keys k ON k.org_id = ci.org_id AND k.lookup = ci.lookup \
                 LEFT JOIN memberships m ON m.org_id = k.org_id AND m.user_id = k.created_by \
                 WHERE ci.lookup = $1 AND ci.kind = 'api_key'",
            )
            .bind(lookup)
            .fetch_optional(pool)
            .await?);
        }
        let mut tx = self.pool.read().await?;
        let Some((org,)) = fetch_optional!(
            &mut tx,
            (String,),
            "SELECT org_id FROM credential_index WHERE lookup = $1 AND kind = 'api_key'",
            lookup
        )?
        else {
            return Ok(None);
        };
        tx.bind_org(&org).await?;
        Ok(fetch_optional!(
            &mut tx,
            KeyAuthRow,
            "SELECT k.org_id, k.id, k.scopes, k.hash_key_id, k.hash, k.created_by, k.expires_at, k.last_used_at, k.revoked_at, \
                    m.role, m.id AS member_id \
             FROM api_keys k LEFT JOIN memberships m ON m.org_id = k.org_id AND m.user_id = k.created_by \
             WHERE k.org_id = $1 AND k.lookup = $2",
            org.as_str(),
            lookup
        )?)
    }
}

impl Store {
    /// An actor for an operator of this deployment (the CLI) acting as
    /// `member_id` inside `org_id`, for recovery tasks such as issuing a key
    /// for a member. Never reachable from HTTP: request input cannot name an
    /// organization. Fails unless the person is a member.
    pub async fn operator_actor_for_member(
        &self,
        org_id: &OrgId,
        member_id: &MemberId,
    ) -> Result<Actor, StoreError> {
        let mut tx = self.pool.read().await?;
        tx.bind_org(org_id.as_str()).await?;
        let (role, user_id) = fetch_optional!(
            &mut tx,
            (String, String),
            "SELECT role, user_id FROM memberships WHERE org_id = $1 AND id = $2",
            org_id.as_str(),
            member_id.as_str()
        )?
        .ok_or(StoreError::NotFound)?;
        let role: Role = role
            .parse()
            .map_err(|()| StoreError::Corrupt(format!("role `{role}`")))?;
        Ok(Actor::new(crate::scope::ActorData {
            org_id: org_id.clone(),
            principal: Principal::Operator {
                on_behalf_of: member_id.clone(),
            },
            user_id: UserId::parse(&user_id)?,
            role,
            scopes: None,
        }))
    }
}
