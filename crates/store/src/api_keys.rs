//! API keys of bots: scoped, org-bound, stored only as keyed hashes.

use serde::Serialize;
use tollgate_core::id::ApiKeyKind;
use tollgate_core::token::{self, NewToken, TokenKind};
use tollgate_core::{ApiKeyId, MemberId, ScopeSet, UnixMicros, UserId};

use crate::audit::{self, Draft};
use crate::db::{Tx, exec, fetch_all, fetch_optional};
use crate::scope::{Ctx, OrgScope};
use crate::{StoreError, new_id, random_bytes};

/// An API key as shown after creation: never the secret, never its hash.
#[derive(Debug, Clone, Serialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub scopes: Vec<String>,
    /// The public start of the token (`tg_live_<lookup>_`), to recognise it.
    pub token_prefix: String,
    pub created_by: MemberId,
    pub created_at: UnixMicros,
    pub expires_at: Option<UnixMicros>,
    pub last_used_at: Option<UnixMicros>,
    pub revoked_at: Option<UnixMicros>,
    pub revoked_reason: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: String,
    lookup: String,
    name: String,
    scopes: String,
    created_by: String,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
    revoked_reason: Option<String>,
}

impl ApiKeyRow {
    fn into_key(self) -> Result<ApiKey, StoreError> {
        let scopes = ScopeSet::parse_text(&self.scopes)
            .map_err(|s| StoreError::Corrupt(format!("scope `{s}`")))?;
        Ok(ApiKey {
            id: ApiKeyId::parse(&self.id)?,
            name: self.name,
            scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            token_prefix: format!("{}{}_", TokenKind::ApiKey.prefix(), self.lookup),
            created_by: MemberId::parse(&self.created_by)?,
            created_at: UnixMicros(self.created_at),
            expires_at: self.expires_at.map(UnixMicros),
            last_used_at: self.last_used_at.map(UnixMicros),
            revoked_at: self.revoked_at.map(UnixMicros),
            revoked_reason: self.revoked_reason,
        })
    }
}

/// A validated request for a key.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub scopes: ScopeSet,
    pub expires_at: Option<UnixMicros>,
}

/// Creates a key in the transaction's organization on behalf of `creator`
/// and returns it with its only plaintext copy.
pub(crate) async fn insert(
    tx: &mut Tx,
    org: &str,
    creator: &UserId,
    creator_member: &MemberId,
    input: &NewApiKey,
    hasher: &tollgate_core::token::TokenHasher,
    now: UnixMicros,
) -> Result<(ApiKey, NewToken), StoreError> {
    let id = new_id::<ApiKeyKind>(now)?;
    let lookup = random_bytes::<10>()?;
    let secret = random_bytes::<32>()?;
    let token = token::mint(TokenKind::ApiKey, *lookup, &secret);
    let hash = hasher.hash(&token.plaintext);
    exec!(
        &mut *tx,
        "INSERT INTO credential_index (lookup, org_id, kind) VALUES ($1, $2, 'api_key')",
        token.lookup.clone(),
        org
    )?;
    exec!(
        &mut *tx,
        "INSERT INTO api_keys (id, org_id, lookup, name, scopes, hash_key_id, hash, created_by, created_at, expires_at, created_by_member) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        id.as_str(),
        org,
        token.lookup.clone(),
        input.name.clone(),
        input.scopes.to_text(),
        hash.key_id,
        hash.mac.to_vec(),
        creator.as_str(),
        now.0,
        input.expires_at.map(|t| t.0),
        creator_member.as_str()
    )?;
    let key = by_id(tx, org, &id).await?;
    Ok((key, token))
}

async fn by_id(tx: &mut Tx, org: &str, id: &ApiKeyId) -> Result<ApiKey, StoreError> {
    fetch_optional!(
        tx,
        ApiKeyRow,
        "SELECT id, lookup, name, scopes, created_by_member AS created_by, created_at, expires_at, last_used_at, revoked_at, revoked_reason \
         FROM api_keys WHERE org_id = $1 AND id = $2",
        org,
        id.as_str()
    )?
    .ok_or(StoreError::NotFound)?
    .into_key()
}

impl OrgScope<'_> {
    pub async fn list_api_keys(
        &self,
        after: Option<&ApiKeyId>,
        limit: u32,
    ) -> Result<Vec<ApiKey>, StoreError> {
        let mut tx = self.read().await?;
        let rows = fetch_all!(
            &mut tx,
            ApiKeyRow,
            "SELECT id, lookup, name, scopes, created_by_member AS created_by, created_at, expires_at, last_used_at, revoked_at, revoked_reason \
             FROM api_keys WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3",
            self.org(),
            after.map(|a| a.to_string()).unwrap_or_default(),
            i64::from(limit)
        )?;
        rows.into_iter().map(ApiKeyRow::into_key).collect()
    }

    pub async fn get_api_key(&self, id: &ApiKeyId) -> Result<ApiKey, StoreError> {
        let mut tx = self.read().await?;
        by_id(&mut tx, self.org(), id).await
    }

    pub async fn create_api_key(
        &self,
        input: NewApiKey,
        ctx: &Ctx,
    ) -> Result<(ApiKey, NewToken), StoreError> {
        let mut tx = self.write().await?;
        let (key, token) = insert(
            &mut tx,
            self.org(),
            self.actor.user_id(),
            self.actor.member_id(),
            &input,
            self.store.hasher(),
            ctx.now,
        )
        .await?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "api_key.created",
                target: audit::target("api_key", &key.id),
                details: serde_json::json!({
                    "name": key.name,
                    "scopes": key.scopes,
                    "expires_at": key.expires_at,
                    "on_behalf_of": self.actor.member_id(),
                }),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok((key, token))
    }

    /// Revokes a key; revoking a revoked key changes nothing and succeeds.
    pub async fn revoke_api_key(&self, id: &ApiKeyId, ctx: &Ctx) -> Result<ApiKey, StoreError> {
        let mut tx = self.write().await?;
        let changed = exec!(
            &mut tx,
            "UPDATE api_keys SET revoked_at = $3, revoked_reason = 'revoked' \
             WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL",
            self.org(),
            id.as_str(),
            ctx.now.0
        )?;
        let key = by_id(&mut tx, self.org(), id).await?;
        if changed == 1 {
            audit::append(
                &mut tx,
                self.org(),
                Draft {
                    actor: self.actor.audit_ref(),
                    action: "api_key.revoked",
                    target: audit::target("api_key", id),
                    details: serde_json::json!({ "reason": "revoked", "name": key.name }),
                },
                ctx,
            )
            .await?;
        }
        tx.commit().await?;
        self.store.credentials_changed();
        Ok(key)
    }
}
