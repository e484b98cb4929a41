//! Do-not-call state kept in the database: an organization's DNC incidents
//! (tenant data, org-bound) and the deployment's imported registry versions
//! (deployment-wide: the registries are public data shared by every
//! organization, so that table is not tenant data).
//!
//! Incidents are opened and resolved by the server's DNC component, not by
//! a person, so their audit events name the `system` actor. At most one
//! incident per organization and source is open (a unique partial index):
//! several nodes noticing the same outage open it once.

use std::collections::BTreeMap;

use serde::Serialize;
use tollgate_core::audit::ActorRef;
use tollgate_core::id::{DncIncidentKind, DncListVersionKind};
use tollgate_core::{OrgId, UnixMicros};

use crate::audit::{self, Draft};
use crate::db::{exec, fetch_all, fetch_optional};
use crate::scope::{Ctx, OrgScope};
use crate::{Store, StoreError, new_id};

/// Longest cause text kept (the first failure's description).
const MAX_CAUSE_CHARS: usize = 300;

/// An incident: a DNC source failed for the organization.
#[derive(Debug, Clone, Serialize)]
pub struct DncIncident {
    pub id: String,
    /// `provider:<credential id>` or `list:<list name>`.
    pub source: String,
    pub cause: String,
    pub opened_at: UnixMicros,
    pub resolved_at: Option<UnixMicros>,
}

type IncidentRow = (String, String, String, i64, Option<i64>);

fn incident(r: IncidentRow) -> DncIncident {
    DncIncident {
        id: r.0,
        source: r.1,
        cause: r.2,
        opened_at: UnixMicros(r.3),
        resolved_at: r.4.map(UnixMicros),
    }
}

fn system() -> ActorRef {
    ActorRef {
        kind: "system".into(),
        id: None,
    }
}

impl Store {
    /// Opens an incident for `org` and `source` unless one is open, with
    /// `dnc.incident_opened` in the organization's chain. Returns the
    /// incident when this call opened it, `None` when one was open already.
    pub async fn open_dnc_incident(
        &self,
        org: &OrgId,
        source: &str,
        cause: &str,
        ctx: &Ctx,
    ) -> Result<Option<DncIncident>, StoreError> {
        let cause: String = cause.chars().take(MAX_CAUSE_CHARS).collect();
        let id = new_id::<DncIncidentKind>(ctx.now)?;
        let mut tx = self.pool.write().await?;
        tx.bind_org(org.as_str()).await?;
        let opened = exec!(
            &mut tx,
            "INSERT INTO dnc_incidents (id, org_id, source, cause, opened_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (org_id, source) WHERE resolved_at IS NULL DO NOTHING",
            id.as_str(),
            org.as_str(),
            source,
            cause.clone(),
            ctx.now.0
        )?;
        if opened == 0 {
            return Ok(None);
        }
        audit::append(
            &mut tx,
            org.as_str(),
            Draft {
                actor: system(),
                action: "dnc.incident_opened",
                target: audit::target("dnc_incident", &id),
                details: serde_json::json!({ "source": source, "cause": cause }),
            },
            ctx,
        )
        .await?;
        // The tenant's systems hear of the pause with the same commit.
        crate::webhooks::enqueue(
            &mut tx,
            org.as_str(),
            "dnc.incident.opened",
            crate::webhooks::EventData {
                thin: serde_json::json!({ "incident_id": id.as_str(), "source": source }),
                rich: Some(Box::new(|| {
                    serde_json::json!({
                        "incident_id": id.as_str(),
                        "source": source,
                        "cause": crate::webhooks::redacted(&cause),
                    })
                })),
            },
            ctx.now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(DncIncident {
            id: id.to_string(),
            source: source.to_owned(),
            cause,
            opened_at: ctx.now,
            resolved_at: None,
        }))
    }

    /// Resolves the open incident of `org` and `source`, with
    /// `dnc.incident_resolved`. `None` when none was open (another node
    /// resolved it first).
    pub async fn resolve_dnc_incident(
        &self,
        org: &OrgId,
        source: &str,
        healthy_since: UnixMicros,
        ctx: &Ctx,
    ) -> Result<Option<DncIncident>, StoreError> {
        let mut tx = self.pool.write().await?;
        tx.bind_org(org.as_str()).await?;
        let row = fetch_optional!(
            &mut tx,
            IncidentRow,
            "UPDATE dnc_incidents SET resolved_at = $3 WHERE org_id = $1 AND source = $2 AND resolved_at IS NULL \
             RETURNING id, source, cause, opened_at, resolved_at",
            org.as_str(),
            source,
            ctx.now.0
        )?;
        let Some(row) = row else {
            return Ok(None);
        };
        let inc = incident(row);
        audit::append(
            &mut tx,
            org.as_str(),
            Draft {
                actor: system(),
                action: "dnc.incident_resolved",
                target: audit::target("dnc_incident", &inc.id),
                details: serde_json::json!({
                    "source": source,
                    "opened_at": inc.opened_at.0,
                    "healthy_since": healthy_since.0,
                }),
            },
            ctx,
        )
        .await?;
        crate::webhooks::enqueue(
            &mut tx,
            org.as_str(),
            "dnc.incident.resolved",
            crate::webhooks::EventData {
                thin: serde_json::json!({ "incident_id": inc.id, "source": source }),
                rich: Some(Box::new(|| {
                    serde_json::json!({
                        "incident_id": inc.id,
                        "source": source,
                        "cause": crate::webhooks::redacted(&inc.cause),
                        "opened_at": inc.opened_at.to_rfc3339(),
                        "healthy_since": healthy_since.to_rfc3339(),
                    })
                })),
            },
            ctx.now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(inc))
    }

    /// The open incident of `org` and `source`, if any (a node learning the
    /// state another node recorded).
    pub async fn open_dnc_incident_of(
        &self,
        org: &OrgId,
        source: &str,
    ) -> Result<Option<DncIncident>, StoreError> {
        let mut tx = self.pool.read().await?;
        tx.bind_org(org.as_str()).await?;
        Ok(fetch_optional!(
            &mut tx,
            IncidentRow,
            "SELECT id, source, cause, opened_at, resolved_at FROM dnc_incidents \
             WHERE org_id = $1 AND source = $2 AND resolved_at IS NULL",
            org.as_str(),
            source
        )?
        .map(incident))
    }
}

impl OrgScope<'_> {
    /// The organization's incidents, newest first: the open ones, then up to
    /// `limit` resolved ones.
    pub async fn dnc_incidents(&self, limit: u32) -> Result<Vec<DncIncident>, StoreError> {
        let mut tx = self.read().await?;
        let mut out: Vec<DncIncident> = fetch_all!(
            &mut tx,
            IncidentRow,
            "SELECT id, source, cause, opened_at, resolved_at FROM dnc_incidents \
             WHERE org_id = $1 AND resolved_at IS NULL ORDER BY opened_at DESC",
            self.org()
        )?
        .into_iter()
        .map(incident)
        .collect();
        out.extend(
            fetch_all!(
                &mut tx,
                IncidentRow,
                "SELECT id, source, cause, opened_at, resolved_at FROM dnc_incidents \
                 WHERE org_id = $1 AND resolved_at IS NOT NULL ORDER BY opened_at DESC LIMIT $2",
                self.org(),
                i64::from(limit)
            )?
            .into_iter()
            .map(incident),
        );
        Ok(out)
    }
}

/// One imported version of a registry list.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DncListVersion {
    pub id: String,
    /// `national`, `state:XX` or a custom name.
    pub list: String,
    /// The newest area code's date (YYYY-MM-DD).
    pub version: String,
    /// Area code -> the date of that area code's data (YYYY-MM-DD).
    pub area_codes: BTreeMap<u16, String>,
    /// The index file's name inside the DNC directory.
    pub file_name: String,
    /// SHA-256 of the index file (lowercase hex).
    pub sha256: String,
    pub numbers: u64,
    pub imported_at: UnixMicros,
    pub current: bool,
}

/// A version to record as the list's current one.
#[derive(Debug, Clone)]
pub struct NewDncListVersion {
    pub list: String,
    pub version: String,
    pub area_codes: BTreeMap<u16, String>,
    pub file_name: String,
    pub sha256: String,
    pub numbers: u64,
}

type ListRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    bool,
);

fn list_version(r: ListRow) -> Result<DncListVersion, StoreError> {
    let area_codes: BTreeMap<u16, String> = serde_json::from_str(&r.3)
        .map_err(|e| StoreError::Corrupt(format!("dnc list area codes: {e}")))?;
    Ok(DncListVersion {
        id: r.0,
        list: r.1,
        version: r.2,
        area_codes,
        file_name: r.4,
        sha256: r.5,
        numbers: u64::try_from(r.6).unwrap_or(0),
        imported_at: UnixMicros(r.7),
        current: r.8,
    })
}

impl Store {
    /// Records an imported version and makes it the list's current one (the
    /// previous current version stays as history), in one transaction: every
    /// node polling sees either the old or the new current row, never none.
    pub async fn record_dnc_list_version(
        &self,
        v: &NewDncListVersion,
        now: UnixMicros,
    ) -> Result<DncListVersion, StoreError> {
        let id = new_id::<DncListVersionKind>(now)?;
        let area_codes =
            serde_json::to_string(&v.area_codes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.pool.write().await?;
        exec!(
            &mut tx,
            "UPDATE dnc_list_versions SET current = $2 WHERE list = $1 AND current = $3",
            v.list.clone(),
            false,
            true
        )?;
        exec!(
            &mut tx,
            "INSERT INTO dnc_list_versions (id, list, version, area_codes, file_name, sha256, numbers, imported_at, current) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            id.as_str(),
            v.list.clone(),
            v.version.clone(),
            area_codes,
            v.file_name.clone(),
            v.sha256.clone(),
            i64::try_from(v.numbers).unwrap_or(i64::MAX),
            now.0,
            true
        )?;
        tx.commit().await?;
        Ok(DncListVersion {
            id: id.to_string(),
            list: v.list.clone(),
            version: v.version.clone(),
            area_codes: v.area_codes.clone(),
            file_name: v.file_name.clone(),
            sha256: v.sha256.clone(),
            numbers: v.numbers,
            imported_at: now,
            current: true,
        })
    }

    /// Every list's current version, by list name.
    pub async fn current_dnc_lists(&self) -> Result<Vec<DncListVersion>, StoreError> {
        let mut tx = self.pool.read().await?;
        fetch_all!(
            &mut tx,
            ListRow,
            "SELECT id, list, version, area_codes, file_name, sha256, numbers, imported_at, current \
             FROM dnc_list_versions WHERE current = $1 ORDER BY list",
            true
        )?
        .into_iter()
        .map(list_version)
        .collect()
    }
}
