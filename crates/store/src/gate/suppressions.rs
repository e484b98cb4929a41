//! The org-wide suppression list (and the internal do-not-call list, the
//! same table with `list = 'internal_dnc'`). Permanent: an entry is removed
//! only by an owner, with a reason, audited; the row stays, marked removed.
//! Rows hold a keyed hash of the number, never the number, so they survive
//! the erasure of the person's data.

use tollgate_core::UnixMicros;
use tollgate_core::id::{SuppressionId, SuppressionKind};
use tollgate_gate::E164;

use crate::audit::{self, Draft};
use crate::db::{Tx, exec, fetch_all, fetch_optional};
use crate::scope::{Ctx, OrgScope};
use crate::{StoreError, new_id};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuppressionList {
    Suppression,
    InternalDnc,
}

impl SuppressionList {
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionList::Suppression => "suppression",
            SuppressionList::InternalDnc => "internal_dnc",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "suppression" => Some(SuppressionList::Suppression),
            "internal_dnc" => Some(SuppressionList::InternalDnc),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuppressionSource {
    Api,
    Dashboard,
    Csv,
    OptOut,
}

impl SuppressionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            SuppressionSource::Api => "api",
            SuppressionSource::Dashboard => "dashboard",
            SuppressionSource::Csv => "csv",
            SuppressionSource::OptOut => "opt_out",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewSuppression {
    pub number: E164,
    pub list: SuppressionList,
    pub source: SuppressionSource,
    pub reason: Option<String>,
}

/// An entry as shown: never the number.
#[derive(Debug, Clone)]
pub struct Suppression {
    pub id: SuppressionId,
    pub list: String,
    pub source: String,
    pub reason: Option<String>,
    pub created_at: UnixMicros,
    pub created_by: String,
    pub removed_at: Option<UnixMicros>,
    pub removed_by: Option<String>,
    pub removed_reason: Option<String>,
}

type Row = (
    String,
    String,
    String,
    Option<String>,
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
);

fn from_row(r: Row) -> Result<Suppression, StoreError> {
    Ok(Suppression {
        id: SuppressionId::parse(&r.0)?,
        list: r.1,
        source: r.2,
        reason: r.3,
        created_at: UnixMicros(r.4),
        created_by: r.5,
        removed_at: r.6.map(UnixMicros),
        removed_by: r.7,
        removed_reason: r.8,
    })
}

async fn by_id(tx: &mut Tx, org: &str, id: &str) -> Result<Suppression, StoreError> {
    from_row(
        fetch_optional!(
            tx,
            Row,
            "SELECT id, list, source, reason, created_at, created_by, removed_at, removed_by, removed_reason \
             FROM suppressions WHERE org_id = $1 AND id = $2",
            org,
            id
        )?
        .ok_or(StoreError::NotFound)?,
    )
}

/// Adds an entry inside `tx` (which holds the org lock); an active entry for
/// the same number and list is returned as is. Returns (entry, created).
pub(crate) async fn add(
    tx: &mut Tx,
    scope: &OrgScope<'_>,
    input: &NewSuppression,
    ctx: &Ctx,
) -> Result<(Suppression, bool), StoreError> {
    let numbers = scope.store.numbers()?;
    let hash = numbers.hash(&input.number);
    let existing = fetch_optional!(
        &mut *tx,
        (String,),
        "SELECT id FROM suppressions WHERE org_id = $1 AND number_hash = $2 AND list = $3 AND removed_at IS NULL",
        scope.org(),
        hash.clone(),
        input.list.as_str()
    )?;
    if let Some((id,)) = existing {
        return Ok((by_id(tx, scope.org(), &id).await?, false));
    }
    let id = new_id::<SuppressionKind>(ctx.now)?;
    exec!(
        &mut *tx,
        "INSERT INTO suppressions (id, org_id, number_hash, hash_key_id, list, source, reason, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        id.as_str(),
        scope.org(),
        hash,
        numbers.key_id(),
        input.list.as_str(),
        input.source.as_str(),
        input.reason.clone(),
        ctx.now.0,
        scope.actor.member_id().to_string()
    )?;
    super::settings::bump_suppression_version(tx, scope.org(), ctx.now).await?;
    audit::append(
        tx,
        scope.org(),
        Draft {
            actor: scope.actor.audit_ref(),
            action: "suppression.added",
            target: audit::target("suppression", &id),
            details: serde_json::json!({
                "number": input.number.masked(),
                "list": input.list.as_str(),
                "source": input.source.as_str(),
                "reason": input.reason,
            }),
        },
        ctx,
    )
    .await?;
    Ok((by_id(tx, scope.org(), id.as_str()).await?, true))
}

impl OrgScope<'_> {
    /// Adds a number; committed before this returns, so the next dial check
    /// already sees it.
    pub async fn add_suppression(
        &self,
        input: NewSuppression,
        ctx: &Ctx,
    ) -> Result<(Suppression, bool), StoreError> {
        let mut tx = self.write().await?;
        tx.lock_org(self.org()).await?;
        let out = add(&mut tx, self, &input, ctx).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Entries, newest id last; `number` narrows to that number's entries.
    pub async fn list_suppressions(
        &self,
        number: Option<&E164>,
        after: Option<&SuppressionId>,
        limit: u32,
    ) -> Result<Vec<Suppression>, StoreError> {
        let after = after.map(|a| a.to_string()).unwrap_or_default();
        let mut tx = self.read().await?;
        let rows = match number {
            Some(n) => fetch_all!(
                &mut tx,
                Row,
                "SELECT id, list, source, reason, created_at, created_by, removed_at, removed_by, removed_reason \
                 FROM suppressions WHERE org_id = $1 AND number_hash = $2 AND id > $3 ORDER BY id LIMIT $4",
                self.org(),
                self.store.numbers()?.hash(n),
                after,
                i64::from(limit)
            )?,
            None => fetch_all!(
                &mut tx,
                Row,
                "SELECT id, list, source, reason, created_at, created_by, removed_at, removed_by, removed_reason \
                 FROM suppressions WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                self.org(),
                after,
                i64::from(limit)
            )?,
        };
        rows.into_iter().map(from_row).collect()
    }

    pub async fn get_suppression(&self, id: &SuppressionId) -> Result<Suppression, StoreError> {
        let mut tx = self.read().await?;
        by_id(&mut tx, self.org(), id.as_str()).await
    }

    /// Removes an entry (owners only: the route requires the role). The row
    /// stays, marked removed, for the record. Removing twice changes nothing.
    pub async fn remove_suppression(
        &self,
        id: &SuppressionId,
        reason: &str,
        ctx: &Ctx,
    ) -> Result<Suppression, StoreError> {
        let mut tx = self.write().await?;
        tx.lock_org(self.org()).await?;
        let changed = exec!(
            &mut tx,
            "UPDATE suppressions SET removed_at = $3, removed_by = $4, removed_reason = $5 \
             WHERE org_id = $1 AND id = $2 AND removed_at IS NULL",
            self.org(),
            id.as_str(),
            ctx.now.0,
            self.actor.member_id().to_string(),
            reason
        )?;
        let s = by_id(&mut tx, self.org(), id.as_str()).await?;
        if changed == 1 {
            super::settings::bump_suppression_version(&mut tx, self.org(), ctx.now).await?;
            audit::append(
                &mut tx,
                self.org(),
                Draft {
                    actor: self.actor.audit_ref(),
                    action: "suppression.removed",
                    target: audit::target("suppression", id),
                    details: serde_json::json!({ "list": s.list, "reason": reason }),
                },
                ctx,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(s)
    }

    /// Records a detected opt-out: the number joins the suppression list in
    /// the same transaction as the audit event of the detection.
    pub async fn record_opt_out(
        &self,
        number: E164,
        matched: &str,
        ctx: &Ctx,
    ) -> Result<Suppression, StoreError> {
        let mut tx = self.write().await?;
        tx.lock_org(self.org()).await?;
        let (s, _) = add(
            &mut tx,
            self,
            &NewSuppression {
                number: number.clone(),
                list: SuppressionList::Suppression,
                source: SuppressionSource::OptOut,
                reason: Some(format!("opt-out: {matched}")),
            },
            ctx,
        )
        .await?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "opt_out.recorded",
                target: audit::target("suppression", &s.id),
                details: serde_json::json!({ "number": number.masked(), "matched": matched }),
            },
            ctx,
        )
        .await?;
        crate::webhooks::enqueue(
            &mut tx,
            self.org(),
            "lead.suppressed",
            crate::webhooks::EventData {
                thin: serde_json::json!({ "suppression_id": s.id, "source": "opt_out" }),
                rich: Some(Box::new(|| {
                    serde_json::json!({
                        "suppression_id": s.id,
                        "source": "opt_out",
                        "number": number.masked(),
                        "matched": crate::webhooks::redacted(matched),
                    })
                })),
            },
            ctx.now,
        )
        .await?;
        tx.commit().await?;
        Ok(s)
    }
}
