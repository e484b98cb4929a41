//! OAuth 2.1 client credentials: registered clients and their access tokens.
//!
//! A client is registered by a member and acts on behalf of that member,
//! exactly like an API key: its authority is its scopes *and* the member's
//! current role, and removing the member revokes the client. Client secrets
//! and access tokens are opaque Tollgate tokens stored only as keyed hashes.
//! Every check (token revoked, client revoked, member gone, expiry) happens
//! at each authentication against the token's row, read from the database or
//! from the node's credential cache (at most one second old), so a
//! revocation on one node is seen by every node within that second and by
//! the node that made it at once.

use std::sync::Arc;

use serde::Serialize;
use tollgate_core::id::OAuthClientKind;
use tollgate_core::token::{self, NewToken, TokenHash, TokenKind};
use tollgate_core::{MemberId, OAuthClientId, OrgId, Role, ScopeSet, UnixMicros, UserId};

use crate::audit::{self, Draft};
use crate::auth::{AuthFailure, bound_member, parse_scopes, stored_hash};
use crate::db::{Pool, Tx, exec, fetch_all, fetch_optional};
use crate::scope::{Actor, Ctx, OrgScope, Principal};
use crate::{Store, StoreError, mac_array, new_id, random_bytes};

/// A registered client as shown after creation: never the secret or its hash.
#[derive(Debug, Clone, Serialize)]
pub struct OAuthClient {
    pub id: OAuthClientId,
    pub name: String,
    pub scopes: Vec<String>,
    /// The public start of the secret (`tg_ocs_<lookup>_`), to recognise it.
    pub secret_prefix: String,
    pub created_by: MemberId,
    pub created_at: UnixMicros,
    pub revoked_at: Option<UnixMicros>,
    pub revoked_reason: Option<String>,
}

/// A validated request for a client.
#[derive(Debug, Clone)]
pub struct NewOAuthClient {
    pub name: String,
    pub scopes: ScopeSet,
}

/// A freshly issued access token with its only plaintext copy.
#[derive(Debug)]
pub struct IssuedToken {
    pub token: NewToken,
    pub scopes: ScopeSet,
    pub issued_at: UnixMicros,
    pub expires_at: UnixMicros,
}

/// What introspection tells about an active token.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub client_id: OAuthClientId,
    pub on_behalf_of: MemberId,
    pub scopes: ScopeSet,
    pub issued_at: UnixMicros,
    pub expires_at: UnixMicros,
}

#[derive(sqlx::FromRow)]
struct ClientRow {
    id: String,
    secret_lookup: String,
    name: String,
    scopes: String,
    created_by: String,
    created_at: i64,
    revoked_at: Option<i64>,
    revoked_reason: Option<String>,
}

impl ClientRow {
    fn into_client(self) -> Result<OAuthClient, StoreError> {
        let scopes = ScopeSet::parse_text(&self.scopes)
            .map_err(|s| StoreError::Corrupt(format!("scope `{s}`")))?;
        Ok(OAuthClient {
            id: OAuthClientId::parse(&self.id)?,
            name: self.name,
            scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            secret_prefix: format!(
                "{}{}_",
                TokenKind::OAuthClientSecret.prefix(),
                self.secret_lookup
            ),
            created_by: MemberId::parse(&self.created_by)?,
            created_at: UnixMicros(self.created_at),
            revoked_at: self.revoked_at.map(UnixMicros),
            revoked_reason: self.revoked_reason,
        })
    }
}

async fn client_by_id(
    tx: &mut Tx,
    org: &str,
    id: &OAuthClientId,
) -> Result<OAuthClient, StoreError> {
    fetch_optional!(
        tx,
        ClientRow,
        "SELECT id, secret_lookup, name, scopes, created_by_member AS created_by, created_at, revoked_at, revoked_reason \
         FROM oauth_clients WHERE org_id = $1 AND id = $2",
        org,
        id.as_str()
    )?
    .ok_or(StoreError::NotFound)?
    .into_client()
}

#[derive(sqlx::FromRow)]
struct ClientAuthRow {
    id: String,
    scopes: String,
    hash_key_id: String,
    hash: Vec<u8>,
    created_by: String,
    revoked_at: Option<i64>,
    role: Option<String>,
    member_id: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    client_id: String,
    scopes: String,
    hash_key_id: String,
    hash: Vec<u8>,
    issued_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
    client_revoked_at: Option<i64>,
    created_by: String,
    role: Option<String>,
    member_id: Option<String>,
}

/// A token that passed every check, with the member it acts for.
struct ValidToken {
    info: TokenInfo,
    user_id: UserId,
    role: Role,
}

async fn token_row(tx: &mut Tx, org: &str, lookup: &str) -> Result<Option<TokenRow>, StoreError> {
    Ok(fetch_optional!(
        tx,
        TokenRow,
        "SELECT t.client_id, t.scopes, t.hash_key_id, t.hash, t.issued_at, t.expires_at, t.revoked_at, \
                c.revoked_at AS client_revoked_at, c.created_by, m.role, m.id AS member_id \
         FROM oauth_tokens t \
         JOIN oauth_clients c ON c.org_id = t.org_id AND c.id = t.client_id \
         LEFT JOIN memberships m ON m.org_id = c.org_id AND m.user_id = c.created_by \
         WHERE t.org_id = $1 AND t.lookup = $2",
        org,
        lookup
    )?)
}

/// A token's row with its organization, as authentication reads (and the
/// node's credential cache keeps) it.
#[derive(sqlx::FromRow)]
pub(crate) struct OrgTokenRow {
    org_id: String,
    #[sqlx(flatten)]
    row: TokenRow,
}

impl Store {
    /// The access token's row by its lookup id, in any organization. One
    /// statement on SQLite, outside any transaction (each statement is a
    /// hand-off to sqlx's connection thread); PostgreSQL's row-level
    /// security needs the organization bound first, so there the index is
    /// read first.
    async fn token_row_by_lookup(&self, lookup: &str) -> Result<Option<OrgTokenRow>, StoreError> {
        if let Pool::Sqlite(pool, _) = &self.pool {
            return Ok(sqlx::query_as::<_, OrgTokenRow>(
                "SELECT ci.org_id, t.client_id, t.scopes, t.hash_key_id, t.hash, t.issued_at, t.expires_at, t.revoked_at, \
                        c.revoked_at AS client_revoked_at, c.created_by, m.role, m.id AS member_id \
                 FROM credential_index ci \
                 JOIN oauth_tokens t ON t.org_id = ci.org_id AND t.lookup = ci.lookup \
                 JOIN oauth_clients c ON c.org_id = t.org_id AND c.id = t.client_id \
                 LEFT JOIN memberships m ON m.org_id = c.org_id AND m.user_id = c.created_by \
                 WHERE ci.lookup = $1 AND ci.kind = 'oauth_token'",
            )
            .bind(lookup)
            .fetch_optional(pool)
            .await?);
        }
        let mut tx = self.pool.read().await?;
        let Some((org_id,)) = fetch_optional!(
            &mut tx,
            (String,),
            "SELECT org_id FROM credential_index WHERE lookup = $1 AND kind = 'oauth_token'",
            lookup
        )?
        else {
            return Ok(None);
        };
        tx.bind_org(&org_id).await?;
        Ok(token_row(&mut tx, &org_id, lookup)
            .await?
            .map(|row| OrgTokenRow { org_id, row }))
    }
}

/// An access token's row as the node's credential cache holds it, with
/// what can be worked out from the row alone done once per read: the stored
/// hash and the actor (parsing the identifiers and scopes on every request
/// was a measurable share of its CPU, as for API keys: `auth::KeyAuth`).
/// Revocation, expiry and the presented secret are still checked on every
/// request.
pub(crate) struct TokenAuth {
    row: TokenRow,
    stored: TokenHash,
    /// `None` when the client's member is gone: such a token never
    /// authenticates.
    actor: Option<Actor>,
}

impl TokenAuth {
    fn from_row(OrgTokenRow { org_id, row }: OrgTokenRow) -> Result<TokenAuth, StoreError> {
        let actor = valid_token(&row)?.map(|valid| {
            Ok::<_, StoreError>(Actor::new(crate::scope::ActorData {
                org_id: OrgId::parse(&org_id)?,
                principal: Principal::OAuthClient {
                    client_id: valid.info.client_id,
                    on_behalf_of: valid.info.on_behalf_of,
                },
                user_id: valid.user_id,
                role: valid.role,
                scopes: Some(valid.info.scopes),
            }))
        });
        Ok(TokenAuth {
            stored: stored_hash(&row.hash_key_id, &row.hash)?,
            actor: actor.transpose()?,
            row,
        })
    }
}

/// Whether the token, its secret already checked, is still usable at `now`.
fn check_live(row: &TokenRow, now: UnixMicros) -> Result<(), AuthFailure> {
    if row.revoked_at.is_some() || row.client_revoked_at.is_some() {
        return Err(AuthFailure::Revoked);
    }
    if row.expires_at <= now.0 {
        return Err(AuthFailure::Expired);
    }
    Ok(())
}

/// What the token grants, parsed; `None` when its member left (their
/// clients were revoked with them, but a token without a member behind it
/// never authenticates either way).
fn valid_token(row: &TokenRow) -> Result<Option<ValidToken>, StoreError> {
    let Some((role, member)) = bound_member(row.role.as_deref(), row.member_id.as_deref())? else {
        return Ok(None);
    };
    Ok(Some(ValidToken {
        info: TokenInfo {
            client_id: OAuthClientId::parse(&row.client_id)?,
            on_behalf_of: member,
            scopes: parse_scopes(&row.scopes)?,
            issued_at: UnixMicros(row.issued_at),
            expires_at: UnixMicros(row.expires_at),
        },
        user_id: UserId::parse(&row.created_by)?,
        role,
    }))
}

impl Store {
    /// Checks a token row against the presented plaintext and `now`.
    fn validate_token(
        &self,
        row: &TokenRow,
        presented: &str,
        now: UnixMicros,
    ) -> Result<ValidToken, AuthFailure> {
        if !self
            .hasher
            .verify(&stored_hash(&row.hash_key_id, &row.hash)?, presented)
        {
            return Err(AuthFailure::Unknown);
        }
        check_live(row, now)?;
        valid_token(row)?.ok_or(AuthFailure::Revoked)
    }

    /// Authenticates an OAuth access token presented as a bearer.
    pub async fn authenticate_oauth_token(
        &self,
        presented: &str,
        now: UnixMicros,
    ) -> Result<Actor, AuthFailure> {
        let lookup = token::parse(TokenKind::OAuthAccessToken, presented)
            .map_err(|_| AuthFailure::Malformed)?;
        let cached = match self.credentials.oauth_token(lookup) {
            Some(cached) => cached,
            None => {
                let ticket = self.credentials.ticket();
                let row = self
                    .token_row_by_lookup(lookup)
                    .await?
                    .ok_or(AuthFailure::Unknown)?;
                let auth = Arc::new(TokenAuth::from_row(row)?);
                self.credentials
                    .put_oauth_token(ticket, lookup, auth.clone());
                auth
            }
        };
        self.check_token(&cached, presented, now)
    }

    /// Checks a presented access token against its row, cached or just read.
    fn check_token(
        &self,
        auth: &TokenAuth,
        presented: &str,
        now: UnixMicros,
    ) -> Result<Actor, AuthFailure> {
        // The presented secret is checked against the stored hash on every
        // request, cached row or not.
        if !self.hasher.verify(&auth.stored, presented) {
            return Err(AuthFailure::Unknown);
        }
        check_live(&auth.row, now)?;
        auth.actor.clone().ok_or(AuthFailure::Revoked)
    }

    /// Any bearer credential: an API key or an OAuth access token, told
    /// apart by their printed prefix.
    pub async fn authenticate_bearer(
        &self,
        presented: &str,
        now: UnixMicros,
    ) -> Result<Actor, AuthFailure> {
        if presented.starts_with(TokenKind::OAuthAccessToken.prefix()) {
            self.authenticate_oauth_token(presented, now).await
        } else {
            self.authenticate_api_key(presented, now).await
        }
    }

    /// [`Store::authenticate_bearer`] when this node's credential cache
    /// holds the row `presented` names; `None`, having read nothing from
    /// the database, when it does not (or `presented` is malformed). The
    /// secret, revocation and expiry are checked as on every request.
    pub async fn authenticate_cached_bearer(
        &self,
        presented: &str,
        now: UnixMicros,
    ) -> Option<Result<Actor, AuthFailure>> {
        if presented.starts_with(TokenKind::OAuthAccessToken.prefix()) {
            let lookup = token::parse(TokenKind::OAuthAccessToken, presented).ok()?;
            let auth = self.credentials.oauth_token(lookup)?;
            Some(self.check_token(&auth, presented, now))
        } else {
            let lookup = token::parse(TokenKind::ApiKey, presented).ok()?;
            let key = self.credentials.api_key(lookup)?;
            Some(self.check_api_key(lookup, &key, presented, now).await)
        }
    }

    /// Client authentication at the token, introspection and revocation
    /// endpoints. The actor carries the client's scopes and its member's
    /// current role.
    pub async fn authenticate_oauth_client(
        &self,
        client_id: &str,
        secret: &str,
        _now: UnixMicros,
    ) -> Result<Actor, AuthFailure> {
        let id = OAuthClientId::parse(client_id).map_err(|_| AuthFailure::Malformed)?;
        token::parse(TokenKind::OAuthClientSecret, secret).map_err(|_| AuthFailure::Malformed)?;
        let mut tx = self.pool.read().await?;
        let (org,) = fetch_optional!(
            &mut tx,
            (String,),
            "SELECT org_id FROM credential_index WHERE lookup = $1 AND kind = 'oauth_client'",
            id.as_str()
        )?
        .ok_or(AuthFailure::Unknown)?;
        tx.bind_org(&org).await?;
        let row = fetch_optional!(
            &mut tx,
            ClientAuthRow,
            "SELECT c.id, c.scopes, c.hash_key_id, c.hash, c.created_by, c.revoked_at, m.role, m.id AS member_id \
             FROM oauth_clients c LEFT JOIN memberships m ON m.org_id = c.org_id AND m.user_id = c.created_by \
             WHERE c.org_id = $1 AND c.id = $2",
            org.as_str(),
            id.as_str()
        )?
        .ok_or(AuthFailure::Unknown)?;
        drop(tx);
        let stored = TokenHash {
            key_id: row.hash_key_id,
            mac: mac_array(row.hash)?,
        };
        if !self.hasher.verify(&stored, secret) {
            return Err(AuthFailure::Unknown);
        }
        if row.revoked_at.is_some() {
            return Err(AuthFailure::Revoked);
        }
        let Some((role, member)) = bound_member(row.role.as_deref(), row.member_id.as_deref())?
        else {
            return Err(AuthFailure::Revoked);
        };
        Ok(Actor::new(crate::scope::ActorData {
            org_id: OrgId::parse(&org).map_err(StoreError::from)?,
            principal: Principal::OAuthClient {
                client_id: OAuthClientId::parse(&row.id).map_err(StoreError::from)?,
                on_behalf_of: member,
            },
            user_id: UserId::parse(&row.created_by).map_err(StoreError::from)?,
            role,
            scopes: Some(parse_scopes(&row.scopes)?),
        }))
    }
}

impl OrgScope<'_> {
    pub async fn list_oauth_clients(
        &self,
        after: Option<&OAuthClientId>,
        limit: u32,
    ) -> Result<Vec<OAuthClient>, StoreError> {
        let mut tx = self.read().await?;
        let rows = fetch_all!(
            &mut tx,
            ClientRow,
            "SELECT id, secret_lookup, name, scopes, created_by_member AS created_by, created_at, revoked_at, revoked_reason \
             FROM oauth_clients WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3",
            self.org(),
            after.map(|a| a.to_string()).unwrap_or_default(),
            i64::from(limit)
        )?;
        rows.into_iter().map(ClientRow::into_client).collect()
    }

    pub async fn get_oauth_client(&self, id: &OAuthClientId) -> Result<OAuthClient, StoreError> {
        let mut tx = self.read().await?;
        client_by_id(&mut tx, self.org(), id).await
    }

    /// Registers a client acting on behalf of the actor's member and returns
    /// it with the only plaintext copy of its secret.
    pub async fn create_oauth_client(
        &self,
        input: NewOAuthClient,
        ctx: &Ctx,
    ) -> Result<(OAuthClient, NewToken), StoreError> {
        let id = new_id::<OAuthClientKind>(ctx.now)?;
        let lookup = random_bytes::<10>()?;
        let secret = random_bytes::<32>()?;
        let token = token::mint(TokenKind::OAuthClientSecret, *lookup, &secret);
        let hash = self.store.hasher().hash(&token.plaintext);
        let mut tx = self.write().await?;
        // The client id, not the secret's lookup, routes client
        // authentication: the client presents its id next to the secret.
        exec!(
            &mut tx,
            "INSERT INTO credential_index (lookup, org_id, kind) VALUES ($1, $2, 'oauth_client')",
            id.as_str(),
            self.org()
        )?;
        exec!(
            &mut tx,
            "INSERT INTO oauth_clients (id, org_id, secret_lookup, name, scopes, hash_key_id, hash, created_by, created_by_member, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            id.as_str(),
            self.org(),
            token.lookup.clone(),
            input.name.clone(),
            input.scopes.to_text(),
            hash.key_id,
            hash.mac.to_vec(),
            self.actor.user_id().as_str(),
            self.actor.member_id().as_str(),
            ctx.now.0
        )?;
        let client = client_by_id(&mut tx, self.org(), &id).await?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "oauth_client.created",
                target: audit::target("oauth_client", &client.id),
                details: serde_json::json!({
                    "name": client.name,
                    "scopes": client.scopes,
                    "on_behalf_of": self.actor.member_id(),
                }),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok((client, token))
    }

    /// Revokes a client and, with it, every token it holds (checked at each
    /// use). Revoking a revoked client changes nothing and succeeds.
    pub async fn revoke_oauth_client(
        &self,
        id: &OAuthClientId,
        ctx: &Ctx,
    ) -> Result<OAuthClient, StoreError> {
        let mut tx = self.write().await?;
        let changed = exec!(
            &mut tx,
            "UPDATE oauth_clients SET revoked_at = $3, revoked_reason = 'revoked' \
             WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL",
            self.org(),
            id.as_str(),
            ctx.now.0
        )?;
        let client = client_by_id(&mut tx, self.org(), id).await?;
        if changed == 1 {
            audit::append(
                &mut tx,
                self.org(),
                Draft {
                    actor: self.actor.audit_ref(),
                    action: "oauth_client.revoked",
                    target: audit::target("oauth_client", id),
                    details: serde_json::json!({ "reason": "revoked", "name": client.name }),
                },
                ctx,
            )
            .await?;
        }
        tx.commit().await?;
        self.store.credentials_changed();
        Ok(client)
    }

    fn acting_client(&self) -> Result<&OAuthClientId, StoreError> {
        match self.actor.principal() {
            Principal::OAuthClient { client_id, .. } => Ok(client_id),
            _ => Err(StoreError::Invalid(
                "only an authenticated OAuth client may do this".into(),
            )),
        }
    }

    /// Issues an access token to the authenticated client for `scopes`
    /// (already checked to be a subset of the client's), valid `ttl_secs`.
    pub async fn issue_oauth_token(
        &self,
        scopes: ScopeSet,
        ttl_secs: i64,
        ctx: &Ctx,
    ) -> Result<IssuedToken, StoreError> {
        let client_id = self.acting_client()?.clone();
        let lookup = random_bytes::<10>()?;
        let secret = random_bytes::<32>()?;
        let token = token::mint(TokenKind::OAuthAccessToken, *lookup, &secret);
        let hash = self.store.hasher().hash(&token.plaintext);
        let expires_at = ctx.now.plus_secs(ttl_secs);
        let mut tx = self.write().await?;
        // Expired tokens answer nothing but "inactive", which an unknown token
        // answers too: drop this client's, so the tables do not grow forever.
        exec!(
            &mut tx,
            "DELETE FROM credential_index WHERE kind = 'oauth_token' AND lookup IN \
             (SELECT lookup FROM oauth_tokens WHERE org_id = $1 AND client_id = $2 AND expires_at <= $3)",
            self.org(),
            client_id.as_str(),
            ctx.now.0
        )?;
        exec!(
            &mut tx,
            "DELETE FROM oauth_tokens WHERE org_id = $1 AND client_id = $2 AND expires_at <= $3",
            self.org(),
            client_id.as_str(),
            ctx.now.0
        )?;
        exec!(
            &mut tx,
            "INSERT INTO credential_index (lookup, org_id, kind) VALUES ($1, $2, 'oauth_token')",
            token.lookup.clone(),
            self.org()
        )?;
        exec!(
            &mut tx,
            "INSERT INTO oauth_tokens (lookup, org_id, client_id, scopes, hash_key_id, hash, issued_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            token.lookup.clone(),
            self.org(),
            client_id.as_str(),
            scopes.to_text(),
            hash.key_id,
            hash.mac.to_vec(),
            ctx.now.0,
            expires_at.0
        )?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "oauth_token.issued",
                target: audit::target("oauth_client", &client_id),
                details: serde_json::json!({
                    "token_id": token.lookup,
                    "scopes": scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                    "expires_at": expires_at,
                }),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(IssuedToken {
            token,
            scopes,
            issued_at: ctx.now,
            expires_at,
        })
    }

    /// RFC 7662: the token's details if it is an active access token of this
    /// organization; `None` for anything else, including another
    /// organization's token (it is looked up in this organization only).
    pub async fn introspect_oauth_token(
        &self,
        presented: &str,
        now: UnixMicros,
    ) -> Result<Option<TokenInfo>, StoreError> {
        let Ok(lookup) = token::parse(TokenKind::OAuthAccessToken, presented) else {
            return Ok(None);
        };
        let mut tx = self.read().await?;
        let Some(row) = token_row(&mut tx, self.org(), lookup).await? else {
            return Ok(None);
        };
        drop(tx);
        match self.store.validate_token(&row, presented, now) {
            Ok(valid) => Ok(Some(valid.info)),
            Err(AuthFailure::Store(e)) => Err(e),
            Err(_) => Ok(None),
        }
    }

    /// RFC 7009: revokes an access token issued to the acting client.
    /// Returns whether a token was revoked now; anything else (unknown,
    /// another client's, already revoked) changes nothing.
    pub async fn revoke_oauth_token(&self, presented: &str, ctx: &Ctx) -> Result<bool, StoreError> {
        let client_id = self.acting_client()?.clone();
        let Ok(lookup) = token::parse(TokenKind::OAuthAccessToken, presented) else {
            return Ok(false);
        };
        let mut tx = self.write().await?;
        let Some(row) = fetch_optional!(
            &mut tx,
            (String, Vec<u8>),
            "SELECT hash_key_id, hash FROM oauth_tokens WHERE org_id = $1 AND lookup = $2 AND client_id = $3",
            self.org(),
            lookup,
            client_id.as_str()
        )?
        else {
            return Ok(false);
        };
        let stored = TokenHash {
            key_id: row.0,
            mac: mac_array(row.1)?,
        };
        if !self.store.hasher().verify(&stored, presented) {
            return Ok(false);
        }
        let changed = exec!(
            &mut tx,
            "UPDATE oauth_tokens SET revoked_at = $3 WHERE org_id = $1 AND lookup = $2 AND revoked_at IS NULL",
            self.org(),
            lookup,
            ctx.now.0
        )?;
        if changed == 1 {
            audit::append(
                &mut tx,
                self.org(),
                Draft {
                    actor: self.actor.audit_ref(),
                    action: "oauth_token.revoked",
                    target: audit::target("oauth_client", &client_id),
                    details: serde_json::json!({ "token_id": lookup }),
                },
                ctx,
            )
            .await?;
        }
        tx.commit().await?;
        self.store.credentials_changed();
        Ok(changed == 1)
    }
}

/// Revokes every client registered by a member being removed (in the
/// removal's transaction); returns their ids for the audit log.
pub(crate) async fn revoke_clients_of(
    tx: &mut Tx,
    org: &str,
    creator: &UserId,
    now: UnixMicros,
) -> Result<Vec<String>, StoreError> {
    let rows = fetch_all!(
        tx,
        (String,),
        "UPDATE oauth_clients SET revoked_at = $3, revoked_reason = 'creator_removed' \
         WHERE org_id = $1 AND created_by = $2 AND revoked_at IS NULL RETURNING id",
        org,
        creator.as_str(),
        now.0
    )?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
