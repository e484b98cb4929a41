//! The organization itself: the tenant's name and settings.

use serde::Serialize;
use tollgate_core::{OrgId, UnixMicros};

use crate::StoreError;
use crate::audit::{self, Draft};
use crate::db::{exec, fetch_one, fetch_optional};
use crate::scope::{Ctx, OrgScope};

#[derive(Debug, Clone, Serialize)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    /// Where compliance incidents of this organization are announced.
    pub contact_email: Option<String>,
    /// Days audit events are kept before they may be pruned.
    pub audit_retention_days: i32,
    /// HIPAA organizations keep their audit log at least 7 years.
    pub hipaa: bool,
    /// Owners and admins must have a second factor to sign in.
    pub require_2fa_admins: bool,
    pub created_at: UnixMicros,
    pub updated_at: UnixMicros,
}

#[derive(sqlx::FromRow)]
pub(crate) struct OrgRow {
    id: String,
    name: String,
    contact_email: Option<String>,
    audit_retention_days: i32,
    hipaa: bool,
    require_2fa_admins: bool,
    created_at: i64,
    updated_at: i64,
}

impl OrgRow {
    pub(crate) fn into_org(self) -> Result<Org, StoreError> {
        Ok(Org {
            id: OrgId::parse(&self.id)?,
            name: self.name,
            contact_email: self.contact_email,
            audit_retention_days: self.audit_retention_days,
            hipaa: self.hipaa,
            require_2fa_admins: self.require_2fa_admins,
            created_at: UnixMicros(self.created_at),
            updated_at: UnixMicros(self.updated_at),
        })
    }
}

/// A validated change to the organization's settings; `None` leaves a field
/// as it is, `Some(None)` clears an optional one.
#[derive(Debug, Default, Clone)]
pub struct OrgPatch {
    pub name: Option<String>,
    pub contact_email: Option<Option<String>>,
    pub audit_retention_days: Option<i32>,
    pub hipaa: Option<bool>,
    pub require_2fa_admins: Option<bool>,
}

/// The shortest retention allowed, and the HIPAA minimum (6 years of
/// documentation under 45 CFR 164.316(b)(2), rounded up to 7 as the issue
/// asks, leap days included).
pub const MIN_RETENTION_DAYS: i32 = 90;
pub const HIPAA_RETENTION_DAYS: i32 = 2557;

/// The retention in force: never below the minimum, nor below 7 years for
/// HIPAA organizations, whatever was asked.
pub fn effective_retention_days(days: i32, hipaa: bool) -> i32 {
    days.max(if hipaa {
        HIPAA_RETENTION_DAYS
    } else {
        MIN_RETENTION_DAYS
    })
}

impl OrgScope<'_> {
    pub async fn get_org(&self) -> Result<Org, StoreError> {
        let mut tx = self.read().await?;
        fetch_optional!(
            &mut tx,
            OrgRow,
            "SELECT * FROM organizations WHERE id = $1",
            self.org()
        )?
        .ok_or(StoreError::NotFound)?
        .into_org()
    }

    pub async fn update_org(&self, patch: OrgPatch, ctx: &Ctx) -> Result<Org, StoreError> {
        let mut tx = self.write().await?;
        let before = fetch_optional!(
            &mut tx,
            OrgRow,
            "SELECT * FROM organizations WHERE id = $1",
            self.org()
        )?
        .ok_or(StoreError::NotFound)?
        .into_org()?;
        let name = patch.name.clone().unwrap_or_else(|| before.name.clone());
        let contact = patch
            .contact_email
            .clone()
            .unwrap_or_else(|| before.contact_email.clone());
        let hipaa = patch.hipaa.unwrap_or(before.hipaa);
        let require_2fa = patch
            .require_2fa_admins
            .unwrap_or(before.require_2fa_admins);
        let retention = effective_retention_days(
            patch
                .audit_retention_days
                .unwrap_or(before.audit_retention_days),
            hipaa,
        );
        exec!(
            &mut tx,
            "UPDATE organizations SET name = $2, contact_email = $3, updated_at = $4, \
             audit_retention_days = $5, hipaa = $6, require_2fa_admins = $7 WHERE id = $1",
            self.org(),
            name.clone(),
            contact.clone(),
            ctx.now.0,
            retention,
            hipaa,
            require_2fa
        )?;
        let after = fetch_one!(
            &mut tx,
            OrgRow,
            "SELECT * FROM organizations WHERE id = $1",
            self.org()
        )?
        .into_org()?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "org.updated",
                target: audit::target("org", self.org()),
                details: serde_json::json!({
                    "before": { "name": before.name, "contact_email": before.contact_email,
                                "audit_retention_days": before.audit_retention_days, "hipaa": before.hipaa,
                                "require_2fa_admins": before.require_2fa_admins },
                    "after": { "name": after.name, "contact_email": after.contact_email,
                               "audit_retention_days": after.audit_retention_days, "hipaa": after.hipaa,
                               "require_2fa_admins": after.require_2fa_admins },
                }),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }
}

impl crate::Store {
    /// An organization's retention in force (operator tasks: the CLI).
    pub async fn audit_retention(&self, org_id: &OrgId) -> Result<i32, StoreError> {
        let mut tx = self.pool.read().await?;
        tx.bind_org(org_id.as_str()).await?;
        let (days, hipaa) = fetch_optional!(
            &mut tx,
            (i32, bool),
            "SELECT audit_retention_days, hipaa FROM organizations WHERE id = $1",
            org_id.as_str()
        )?
        .ok_or(StoreError::NotFound)?;
        Ok(effective_retention_days(days, hipaa))
    }
}
