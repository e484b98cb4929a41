//! Memberships: who belongs to an organization, and in which role.

use serde::Serialize;
use sha2::{Digest, Sha256};
use tollgate_core::access::may_change_member;
use tollgate_core::id::{MemberKind, UserKind};
use tollgate_core::{MemberId, Role, UnixMicros, UserId};

use crate::audit::{self, Draft};
use crate::db::{Tx, exec, fetch_all, fetch_one, fetch_optional};
use crate::scope::{Ctx, OrgScope};
use crate::{Refusal, StoreError, new_id};

#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub id: MemberId,
    /// The global person id: internal, never shown by the API.
    #[serde(skip)]
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// `active`, or `invited` until the person first signs in.
    pub status: String,
    pub created_at: UnixMicros,
    pub updated_at: UnixMicros,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    id: String,
    user_id: String,
    email: String,
    name: String,
    role: String,
    status: String,
    created_at: i64,
    updated_at: i64,
}

impl MemberRow {
    fn into_member(self) -> Result<Member, StoreError> {
        Ok(Member {
            id: MemberId::parse(&self.id)?,
            user_id: UserId::parse(&self.user_id)?,
            email: self.email,
            name: self.name,
            role: self
                .role
                .parse()
                .map_err(|()| StoreError::Corrupt(format!("role `{}`", self.role)))?,
            status: self.status,
            created_at: UnixMicros(self.created_at),
            updated_at: UnixMicros(self.updated_at),
        })
    }
}

/// A validated invitation: the address is already normalized.
#[derive(Debug, Clone)]
pub struct MemberInvite {
    pub email: String,
    pub name: String,
    pub role: Role,
}

/// Hash of a normalized address for the directory; see the migration.
pub(crate) fn email_hash(email: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"tollgate user directory v1\0");
    h.update(email.as_bytes());
    h.finalize().to_vec()
}

/// Finds or creates the person with this address. Creating needs the
/// transaction to be bound to an organization (row-level security).
/// Records that a person belongs to an organization (for sign-in and the
/// organization switcher, which must find a person's organizations before
/// any one of them is bound).
pub(crate) async fn list_in_directory(
    tx: &mut Tx,
    user_id: &UserId,
    org_id: &str,
) -> Result<(), StoreError> {
    exec!(
        &mut *tx,
        "INSERT INTO membership_directory (user_id, org_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        user_id.as_str(),
        org_id
    )?;
    Ok(())
}

pub(crate) async fn find_or_create_user(
    tx: &mut Tx,
    email: &str,
    name: &str,
    now: UnixMicros,
) -> Result<UserId, StoreError> {
    let hash = email_hash(email);
    if let Some((id,)) = fetch_optional!(
        &mut *tx,
        (String,),
        "SELECT user_id FROM user_directory WHERE email_hash = $1",
        hash.clone()
    )? {
        return Ok(UserId::parse(&id)?);
    }
    let id = new_id::<UserKind>(now)?;
    exec!(
        &mut *tx,
        "INSERT INTO users (id, email, name, created_at) VALUES ($1, $2, $3, $4)",
        id.as_str(),
        email,
        name,
        now.0
    )?;
    exec!(
        &mut *tx,
        "INSERT INTO user_directory (email_hash, user_id) VALUES ($1, $2)",
        hash,
        id.as_str()
    )?;
    Ok(id)
}

impl OrgScope<'_> {
    pub async fn list_members(
        &self,
        after: Option<&MemberId>,
        limit: u32,
    ) -> Result<Vec<Member>, StoreError> {
        let mut tx = self.read().await?;
        let rows = fetch_all!(
            &mut tx,
            MemberRow,
            "SELECT m.id, m.user_id, u.email, m.name, m.role, m.status, m.created_at, m.updated_at \
             FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = $1 AND m.id > $2 ORDER BY m.id LIMIT $3",
            self.org(),
            after.map(|a| a.to_string()).unwrap_or_default(),
            i64::from(limit)
        )?;
        rows.into_iter().map(MemberRow::into_member).collect()
    }

    pub async fn get_member(&self, id: &MemberId) -> Result<Member, StoreError> {
        let mut tx = self.read().await?;
        member_in(&mut tx, self.org(), id).await
    }

    pub async fn invite_member(
        &self,
        invite: MemberInvite,
        ctx: &Ctx,
    ) -> Result<Member, StoreError> {
        if !may_change_member(self.actor.role(), Role::Viewer, Some(invite.role)) {
            return Err(StoreError::Refused(Refusal::OwnerOnly));
        }
        let mut tx = self.write().await?;
        let user_id = find_or_create_user(&mut tx, &invite.email, &invite.name, ctx.now).await?;
        let member_id = new_id::<MemberKind>(ctx.now)?;
        let inserted = exec!(
            &mut tx,
            "INSERT INTO memberships (id, org_id, user_id, name, role, status, invited_by, created_at, updated_at) \
             VALUES ($7, $1, $2, $6, $3, 'invited', $4, $5, $5) ON CONFLICT (org_id, user_id) DO NOTHING",
            self.org(),
            user_id.as_str(),
            invite.role.as_str(),
            self.actor.member_id().as_str(),
            ctx.now.0,
            invite.name.clone(),
            member_id.as_str()
        )?;
        if inserted == 0 {
            return Err(StoreError::Conflict("member_exists"));
        }
        list_in_directory(&mut tx, &user_id, self.org()).await?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "member.invited",
                target: audit::target("member", &member_id),
                details: serde_json::json!({ "role": invite.role }),
            },
            ctx,
        )
        .await?;
        let member = member_in(&mut tx, self.org(), &member_id).await?;
        tx.commit().await?;
        Ok(member)
    }

    pub async fn change_member_role(
        &self,
        id: &MemberId,
        role: Role,
        ctx: &Ctx,
    ) -> Result<Member, StoreError> {
        let mut tx = self.write().await?;
        tx.lock_org(self.org()).await?;
        let current = member_in(&mut tx, self.org(), id).await?;
        if !may_change_member(self.actor.role(), current.role, Some(role)) {
            return Err(StoreError::Refused(Refusal::OwnerOnly));
        }
        if current.role == role {
            return Ok(current);
        }
        if current.role == Role::Owner && owner_count(&mut tx, self.org()).await? <= 1 {
            return Err(StoreError::Refused(Refusal::LastOwner));
        }
        exec!(
            &mut tx,
            "UPDATE memberships SET role = $3, updated_at = $4 WHERE org_id = $1 AND id = $2",
            self.org(),
            id.as_str(),
            role.as_str(),
            ctx.now.0
        )?;
        // A privilege change: the member's sessions here get a fresh token
        // on their next request (rotation is due when rotated_at is old).
        exec!(
            &mut tx,
            "UPDATE sessions SET rotated_at = 0 WHERE org_id = $1 AND user_id = \
             (SELECT user_id FROM memberships WHERE org_id = $1 AND id = $2) AND revoked_at IS NULL",
            self.org(),
            id.as_str()
        )?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "member.role_changed",
                target: audit::target("member", id),
                details: serde_json::json!({ "before": { "role": current.role }, "after": { "role": role } }),
            },
            ctx,
        )
        .await?;
        let member = member_in(&mut tx, self.org(), id).await?;
        tx.commit().await?;
        self.store.credentials_changed();
        Ok(member)
    }

    /// Removes a member. Their API keys stop working at once: a key acts on
    /// behalf of its creator, and this also marks each one revoked so the
    /// admin sees why.
    pub async fn remove_member(&self, id: &MemberId, ctx: &Ctx) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        tx.lock_org(self.org()).await?;
        let current = member_in(&mut tx, self.org(), id).await?;
        let user_id = &current.user_id;
        if !may_change_member(self.actor.role(), current.role, None) {
            return Err(StoreError::Refused(Refusal::OwnerOnly));
        }
        if current.role == Role::Owner && owner_count(&mut tx, self.org()).await? <= 1 {
            return Err(StoreError::Refused(Refusal::LastOwner));
        }
        let revoked = fetch_all!(
            &mut tx,
            (String,),
            "UPDATE api_keys SET revoked_at = $3, revoked_reason = 'creator_removed' \
             WHERE org_id = $1 AND created_by = $2 AND revoked_at IS NULL RETURNING id",
            self.org(),
            user_id.as_str(),
            ctx.now.0
        )?;
        let clients_revoked =
            crate::oauth::revoke_clients_of(&mut tx, self.org(), user_id, ctx.now).await?;
        exec!(
            &mut tx,
            "DELETE FROM memberships WHERE org_id = $1 AND id = $2",
            self.org(),
            id.as_str()
        )?;
        exec!(
            &mut tx,
            "DELETE FROM membership_directory WHERE user_id = $1 AND org_id = $2",
            user_id.as_str(),
            self.org()
        )?;
        // Their dashboard sessions in this organization end now.
        let sessions_ended = exec!(
            &mut tx,
            "UPDATE sessions SET revoked_at = $3, revoked_reason = 'member_removed' \
             WHERE user_id = $1 AND org_id = $2 AND revoked_at IS NULL",
            user_id.as_str(),
            self.org(),
            ctx.now.0
        )?;
        for (key_id,) in &revoked {
            audit::append(
                &mut tx,
                self.org(),
                Draft {
                    actor: self.actor.audit_ref(),
                    action: "api_key.revoked",
                    target: audit::target("api_key", key_id),
                    details: serde_json::json!({ "reason": "creator_removed" }),
                },
                ctx,
            )
            .await?;
        }
        for client_id in &clients_revoked {
            audit::append(
                &mut tx,
                self.org(),
                Draft {
                    actor: self.actor.audit_ref(),
                    action: "oauth_client.revoked",
                    target: audit::target("oauth_client", client_id),
                    details: serde_json::json!({ "reason": "creator_removed" }),
                },
                ctx,
            )
            .await?;
        }
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "member.removed",
                target: audit::target("member", id),
                details: serde_json::json!({
                    "role": current.role,
                    "api_keys_revoked": revoked.len(),
                    "oauth_clients_revoked": clients_revoked.len(),
                    "sessions_ended": sessions_ended,
                }),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        self.store.credentials_changed();
        Ok(())
    }
}

pub(crate) async fn member_in(tx: &mut Tx, org: &str, id: &MemberId) -> Result<Member, StoreError> {
    fetch_optional!(
        tx,
        MemberRow,
        "SELECT m.id, m.user_id, u.email, m.name, m.role, m.status, m.created_at, m.updated_at \
         FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND m.id = $2",
        org,
        id.as_str()
    )?
    .ok_or(StoreError::NotFound)?
    .into_member()
}

async fn owner_count(tx: &mut Tx, org: &str) -> Result<i64, StoreError> {
    let (n,) = fetch_one!(
        tx,
        (i64,),
        "SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND role = 'owner'",
        org
    )?;
    Ok(n)
}
