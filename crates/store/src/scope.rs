//! The authenticated actor and the org-bound handle it unlocks.

use tollgate_core::audit::{ActorRef, RequestMeta};
use tollgate_core::{
    ApiKeyId, MemberId, OAuthClientId, OrgId, Role, ScopeSet, SessionId, UnixMicros, UserId,
};

use std::sync::Arc;

use crate::db::Tx;
use crate::{Store, StoreError};

/// Who is acting, in which organization, with what authority. Only this
/// crate constructs one, and only after verifying a credential.
///
/// Shared, not copied: a request hands its actor to the handler, the
/// audit record and the credential cache, and copying five identifiers
/// each time was about 1% of a GET's CPU.
#[derive(Debug, Clone)]
pub struct Actor(Arc<ActorData>);

impl std::ops::Deref for Actor {
    type Target = ActorData;
    fn deref(&self) -> &ActorData {
        &self.0
    }
}

/// An [`Actor`]'s fields.
#[derive(Debug)]
pub struct ActorData {
    pub(crate) org_id: OrgId,
    /// The person behind the actor; internal, never shown by the API.
    pub(crate) user_id: UserId,
    pub(crate) principal: Principal,
    pub(crate) role: Role,
    pub(crate) scopes: Option<ScopeSet>,
}

/// The credential behind an actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A bot's API key, acting on behalf of the member who created it.
    ApiKey {
        key_id: ApiKeyId,
        on_behalf_of: MemberId,
    },
    /// An OAuth client (through one of its access tokens, or authenticating
    /// at the token endpoint), acting on behalf of the member who registered it.
    OAuthClient {
        client_id: OAuthClientId,
        on_behalf_of: MemberId,
    },
    /// An operator of the deployment at the command line, acting for a member.
    Operator { on_behalf_of: MemberId },
    /// A person signed in to the dashboard, acting as their membership.
    Session {
        session_id: SessionId,
        on_behalf_of: MemberId,
    },
}

/// An owner acting through the operator CLI in `org`, for the store's
/// own tests.
#[cfg(test)]
pub(crate) fn test_owner(org: &str) -> Actor {
    Actor::new(ActorData {
        org_id: OrgId::parse(org).unwrap(),
        user_id: UserId::generate(1, [1; 10]),
        principal: Principal::Operator {
            on_behalf_of: MemberId::generate(1, [2; 10]),
        },
        role: Role::Owner,
        scopes: None,
    })
}

impl Actor {
    pub(crate) fn new(data: ActorData) -> Actor {
        Actor(Arc::new(data))
    }
    pub fn org_id(&self) -> &OrgId {
        &self.org_id
    }
    pub fn principal(&self) -> &Principal {
        &self.principal
    }
    /// The effective role: for an API key, its creator's current role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// An API key's scopes; `None` for a human session (role only).
    pub fn scopes(&self) -> Option<ScopeSet> {
        self.scopes
    }
    pub(crate) fn audit_ref(&self) -> ActorRef {
        match &self.principal {
            Principal::ApiKey { key_id, .. } => ActorRef {
                kind: "api_key".into(),
                id: Some(key_id.to_string()),
            },
            Principal::OAuthClient { client_id, .. } => ActorRef {
                kind: "oauth_client".into(),
                id: Some(client_id.to_string()),
            },
            Principal::Operator { on_behalf_of } => ActorRef {
                kind: "operator".into(),
                id: Some(on_behalf_of.to_string()),
            },
            Principal::Session { on_behalf_of, .. } => ActorRef {
                kind: "member".into(),
                id: Some(on_behalf_of.to_string()),
            },
        }
    }
    pub(crate) fn user_id(&self) -> &UserId {
        &self.user_id
    }
    /// The membership the actor acts for.
    pub fn member_id(&self) -> &MemberId {
        match &self.principal {
            Principal::ApiKey { on_behalf_of, .. }
            | Principal::OAuthClient { on_behalf_of, .. }
            | Principal::Operator { on_behalf_of }
            | Principal::Session { on_behalf_of, .. } => on_behalf_of,
        }
    }
}

/// The context of a change: when, and which request asked for it (for the
/// audit event written in the same transaction).
#[derive(Debug, Clone)]
pub struct Ctx {
    pub now: UnixMicros,
    pub request: RequestMeta,
}

/// Every tenant operation goes through this handle: it opens transactions
/// bound to the actor's organization, and every statement it runs filters
/// on that organization.
pub struct OrgScope<'a> {
    pub(crate) store: &'a Store,
    pub(crate) actor: &'a Actor,
}

impl<'a> OrgScope<'a> {
    pub(crate) fn new(store: &'a Store, actor: &'a Actor) -> Self {
        OrgScope { store, actor }
    }

    pub fn actor(&self) -> &Actor {
        self.actor
    }

    pub(crate) fn org(&self) -> &str {
        self.actor.org_id.as_str()
    }

    pub(crate) async fn read(&self) -> Result<Tx, StoreError> {
        let mut tx = self.store.pool.read().await?;
        tx.bind_org(self.org()).await?;
        Ok(tx)
    }

    pub(crate) async fn write(&self) -> Result<Tx, StoreError> {
        let mut tx = self.store.pool.write().await?;
        tx.bind_org(self.org()).await?;
        Ok(tx)
    }
}
