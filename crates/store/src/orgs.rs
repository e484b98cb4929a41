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
    pub created_at: UnixMicros,
    pub updated_at: UnixMicros,
}

#[derive(sqlx::FromRow)]
pub(crate) struct OrgRow {
    id: String,
    name: String,
    contact_email: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl OrgRow {
    pub(crate) fn into_org(self) -> Result<Org, StoreError> {
        Ok(Org {
            id: OrgId::parse(&self.id)?,
            name: self.name,
            contact_email: self.contact_email,
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
        exec!(
            &mut tx,
            "UPDATE organizations SET name = $2, contact_email = $3, updated_at = $4 WHERE id = $1",
            self.org(),
            name.clone(),
            contact.clone(),
            ctx.now.0
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
                    "before": { "name": before.name, "contact_email": before.contact_email },
                    "after": { "name": after.name, "contact_email": after.contact_email },
                }),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }
}
