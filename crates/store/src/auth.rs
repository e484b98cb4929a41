//! Turning a presented credential into an [`Actor`].

use tollgate_core::token::{self, TokenHash, TokenKind};
use tollgate_core::{ApiKeyId, MemberId, OrgId, Role, ScopeSet, UnixMicros, UserId};

use crate::db::{exec, fetch_optional};
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

#[derive(sqlx::FromRow)]
struct KeyAuthRow {
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

impl Store {
    pub async fn authenticate_api_key(
        &self,
        presented: &str,
        now: UnixMicros,
    ) -> Result<Actor, AuthFailure> {
        let lookup =
            token::parse(TokenKind::ApiKey, presented).map_err(|_| AuthFailure::Malformed)?;
        let mut tx = self.pool.read().await?;
        let (org,) = fetch_optional!(
            &mut tx,
            (String,),
            "SELECT org_id FROM credential_index WHERE lookup = $1 AND kind = 'api_key'",
            lookup
        )?
        .ok_or(AuthFailure::Unknown)?;
        tx.bind_org(&org).await?;
        // The creator's membership is joined, not trusted from the key: a
        // removed or demoted member's keys lose that authority at once.
        let row = fetch_optional!(
            &mut tx,
            KeyAuthRow,
            "SELECT k.id, k.scopes, k.hash_key_id, k.hash, k.created_by, k.expires_at, k.last_used_at, k.revoked_at, m.role, m.id AS member_id \
             FROM api_keys k LEFT JOIN memberships m ON m.org_id = k.org_id AND m.user_id = k.created_by \
             WHERE k.org_id = $1 AND k.lookup = $2",
            org.as_str(),
            lookup
        )?
        .ok_or(AuthFailure::Unknown)?;
        drop(tx);
        let stored = TokenHash {
            key_id: row.hash_key_id,
            mac: mac_array(row.hash)?,
        };
        if !self.hasher.verify(&stored, presented) {
            return Err(AuthFailure::Unknown);
        }
        if row.revoked_at.is_some() {
            return Err(AuthFailure::Revoked);
        }
        if row.expires_at.is_some_and(|e| e <= now.0) {
            return Err(AuthFailure::Expired);
        }
        let (role, member_id): (Role, MemberId) =
            match (row.role.as_deref(), row.member_id.as_deref()) {
                (Some(r), Some(m)) => (
                    r.parse()
                        .map_err(|()| StoreError::Corrupt(format!("role `{r}`")))?,
                    MemberId::parse(m).map_err(StoreError::from)?,
                ),
                // The creator left; their keys were revoked with them, but a key
                // without a member behind it never authenticates either way.
                _ => return Err(AuthFailure::Revoked),
            };
        let scopes = ScopeSet::parse_text(&row.scopes)
            .map_err(|s| StoreError::Corrupt(format!("scope `{s}`")))?;
        if row
            .last_used_at
            .is_none_or(|t| now.0 - t >= LAST_USED_GRANULARITY_MICROS)
        {
            let mut tx = self.pool.write().await?;
            tx.bind_org(&org).await?;
            exec!(
                &mut tx,
                "UPDATE api_keys SET last_used_at = $3 WHERE org_id = $1 AND id = $2",
                org.as_str(),
                row.id.as_str(),
                now.0
            )?;
            tx.commit().await?;
        }
        Ok(Actor {
            org_id: OrgId::parse(&org).map_err(StoreError::from)?,
            principal: Principal::ApiKey {
                key_id: ApiKeyId::parse(&row.id).map_err(StoreError::from)?,
                on_behalf_of: member_id,
            },
            user_id: UserId::parse(&row.created_by).map_err(StoreError::from)?,
            role,
            scopes: Some(scopes),
        })
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
        Ok(Actor {
            org_id: org_id.clone(),
            principal: Principal::Operator {
                on_behalf_of: member_id.clone(),
            },
            user_id: UserId::parse(&user_id)?,
            role,
            scopes: None,
        })
    }
}
