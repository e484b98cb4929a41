//! The first-start bootstrap: a one-time link that creates the first
//! organization, its owner and an API key with every scope, so the API is
//! usable before human sign-in exists.
//!
//! The token is checked on GET (to show the form) without being consumed, so
//! a link scanner that fetches it cannot burn it; only the POST consumes it,
//! with a conditional UPDATE that succeeds for exactly one caller.

use tollgate_core::id::{MemberKind, OrgKind};
use tollgate_core::token::{self, NewToken, TokenHash, TokenKind};
use tollgate_core::{Role, ScopeSet, UnixMicros};

use crate::api_keys::{self, ApiKey, NewApiKey};
use crate::audit::{self, Draft};
use crate::db::{exec, fetch_one, fetch_optional};
use crate::members::{self, Member};
use crate::orgs::{Org, OrgRow};
use crate::scope::Ctx;
use crate::{Store, StoreError, mac_array, new_id, random_bytes};

/// What a presented bootstrap token is worth right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootstrapState {
    Usable { expires_at: UnixMicros },
    Used,
    Expired,
    Unknown,
}

/// The validated form of the bootstrap page.
#[derive(Debug, Clone)]
pub struct BootstrapInput {
    pub org_name: String,
    pub owner_name: String,
    pub owner_email: String,
}

pub struct BootstrapOutcome {
    pub org: Org,
    pub owner: Member,
    pub api_key: ApiKey,
    pub token: NewToken,
}

#[derive(sqlx::FromRow)]
struct BootstrapRow {
    hash_key_id: String,
    hash: Vec<u8>,
    expires_at: i64,
    used_at: Option<i64>,
}

impl Store {
    /// Whether any organization has been created through a bootstrap link.
    pub async fn bootstrapped(&self) -> Result<bool, StoreError> {
        let mut tx = self.pool.read().await?;
        let (n,) = fetch_one!(
            &mut tx,
            (i64,),
            "SELECT COUNT(*) FROM bootstrap_tokens WHERE org_id IS NOT NULL"
        )?;
        Ok(n > 0)
    }

    /// Mints a bootstrap link token valid for `ttl_secs`.
    pub async fn create_bootstrap_token(
        &self,
        now: UnixMicros,
        ttl_secs: i64,
    ) -> Result<NewToken, StoreError> {
        let lookup = random_bytes::<10>()?;
        let secret = random_bytes::<32>()?;
        let token = token::mint(TokenKind::Bootstrap, *lookup, &secret);
        let hash = self.hasher.hash(&token.plaintext);
        let mut tx = self.pool.write().await?;
        exec!(
            &mut tx,
            "INSERT INTO bootstrap_tokens (lookup, hash_key_id, hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            token.lookup.clone(),
            hash.key_id,
            hash.mac.to_vec(),
            now.0,
            now.plus_secs(ttl_secs).0
        )?;
        tx.commit().await?;
        Ok(token)
    }

    pub async fn bootstrap_state(
        &self,
        presented: &str,
        now: UnixMicros,
    ) -> Result<BootstrapState, StoreError> {
        let Ok(lookup) = token::parse(TokenKind::Bootstrap, presented) else {
            return Ok(BootstrapState::Unknown);
        };
        let mut tx = self.pool.read().await?;
        let row = fetch_optional!(
            &mut tx,
            BootstrapRow,
            "SELECT hash_key_id, hash, expires_at, used_at FROM bootstrap_tokens WHERE lookup = $1",
            lookup
        )?;
        let Some(row) = row else {
            return Ok(BootstrapState::Unknown);
        };
        let stored = TokenHash {
            key_id: row.hash_key_id,
            mac: mac_array(row.hash)?,
        };
        Ok(if !self.hasher.verify(&stored, presented) {
            BootstrapState::Unknown
        } else if row.used_at.is_some() {
            BootstrapState::Used
        } else if row.expires_at <= now.0 {
            BootstrapState::Expired
        } else {
            BootstrapState::Usable {
                expires_at: UnixMicros(row.expires_at),
            }
        })
    }

    /// Consumes the token and creates the organization, its owner and an
    /// all-scope API key, all in one transaction with their audit events.
    pub async fn redeem_bootstrap(
        &self,
        presented: &str,
        input: BootstrapInput,
        ctx: &Ctx,
    ) -> Result<BootstrapOutcome, StoreError> {
        match self.bootstrap_state(presented, ctx.now).await? {
            BootstrapState::Usable { .. } => {}
            BootstrapState::Used => return Err(StoreError::Conflict("bootstrap_used")),
            BootstrapState::Expired => return Err(StoreError::Conflict("bootstrap_expired")),
            BootstrapState::Unknown => return Err(StoreError::NotFound),
        }
        let lookup =
            token::parse(TokenKind::Bootstrap, presented).map_err(|_| StoreError::NotFound)?;
        let org_id = new_id::<OrgKind>(ctx.now)?;
        let mut tx = self.pool.write().await?;
        let consumed = exec!(
            &mut tx,
            "UPDATE bootstrap_tokens SET used_at = $2, org_id = $3 WHERE lookup = $1 AND used_at IS NULL AND expires_at > $2",
            lookup,
            ctx.now.0,
            org_id.as_str()
        )?;
        if consumed != 1 {
            // Another request won the race between the check and here.
            return Err(StoreError::Conflict("bootstrap_used"));
        }
        tx.bind_org(org_id.as_str()).await?;
        exec!(
            &mut tx,
            "INSERT INTO organizations (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)",
            org_id.as_str(),
            input.org_name.clone(),
            ctx.now.0
        )?;
        exec!(
            &mut tx,
            "INSERT INTO org_directory (org_id, created_at) VALUES ($1, $2)",
            org_id.as_str(),
            ctx.now.0
        )?;
        audit::start_chain(&mut tx, org_id.as_str()).await?;
        let owner_id =
            members::find_or_create_user(&mut tx, &input.owner_email, &input.owner_name, ctx.now)
                .await?;
        let member_id = new_id::<MemberKind>(ctx.now)?;
        exec!(
            &mut tx,
            "INSERT INTO memberships (id, org_id, user_id, name, role, status, created_at, updated_at) \
             VALUES ($5, $1, $2, $4, 'owner', 'active', $3, $3)",
            org_id.as_str(),
            owner_id.as_str(),
            ctx.now.0,
            input.owner_name.clone(),
            member_id.as_str()
        )?;
        members::list_in_directory(&mut tx, &owner_id, org_id.as_str()).await?;
        let key_input = NewApiKey {
            name: "bootstrap".into(),
            scopes: ScopeSet::all(),
            expires_at: None,
        };
        let (api_key, token) = api_keys::insert(
            &mut tx,
            org_id.as_str(),
            &owner_id,
            &member_id,
            &key_input,
            &self.hasher,
            ctx.now,
        )
        .await?;
        let system = tollgate_core::audit::ActorRef {
            kind: "system".into(),
            id: Some("bootstrap".into()),
        };
        let events = [
            (
                "org.created",
                audit::target("org", &org_id),
                serde_json::json!({ "name": input.org_name }),
            ),
            (
                "member.added",
                audit::target("member", &member_id),
                serde_json::json!({ "role": Role::Owner }),
            ),
            (
                "api_key.created",
                audit::target("api_key", &api_key.id),
                serde_json::json!({ "name": api_key.name, "scopes": api_key.scopes, "on_behalf_of": member_id }),
            ),
        ];
        for (action, target, details) in events {
            audit::append(
                &mut tx,
                org_id.as_str(),
                Draft {
                    actor: system.clone(),
                    action,
                    target,
                    details,
                },
                ctx,
            )
            .await?;
        }
        let org = fetch_one!(
            &mut tx,
            OrgRow,
            "SELECT * FROM organizations WHERE id = $1",
            org_id.as_str()
        )?
        .into_org()?;
        let owner = members::member_in(&mut tx, org_id.as_str(), &member_id).await?;
        tx.commit().await?;
        Ok(BootstrapOutcome {
            org,
            owner,
            api_key,
            token,
        })
    }
}
