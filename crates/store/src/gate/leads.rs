//! Leads: a normalized number, optional location, declared fields, and the
//! consent evidence judged at intake. A lead whose evidence is unusable is
//! stored as ineligible with its reasons, stays visible, and never dials.

use tollgate_core::UnixMicros;
use tollgate_core::id::{CampaignId, LeadId, LeadKind};
use tollgate_gate::{ConsentEvidence, ConsentType, E164, EbrKind, intake_problems};

use super::{micros, ts};
use crate::audit::{self, Draft};
use crate::db::{Tx, exec, fetch_all, fetch_optional, values_list};
use crate::scope::{Ctx, OrgScope};
use crate::{StoreError, new_id};

/// A validated lead to create.
#[derive(Debug, Clone)]
pub struct NewLead {
    pub phone: E164,
    /// Two-letter code, already validated.
    pub state: Option<String>,
    /// Five digits or ZIP+4, already validated.
    pub zip: Option<String>,
    pub name: Option<String>,
    /// Other declared fields (a JSON object).
    pub fields: serde_json::Map<String, serde_json::Value>,
    pub campaign_id: Option<CampaignId>,
    pub consent: ConsentEvidence,
}

#[derive(Debug, Clone)]
pub struct Lead {
    pub id: LeadId,
    pub campaign_id: Option<CampaignId>,
    pub phone: E164,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub name: Option<String>,
    pub fields: serde_json::Value,
    pub consent: ConsentEvidence,
    pub eligible: bool,
    /// Stable codes (`consent_none`, `consent_source_missing`, ...).
    pub ineligible_reasons: Vec<String>,
    pub created_at: UnixMicros,
    /// The DNC check at intake (`checked_at`, `reasons`, `list_versions`),
    /// when it ran.
    pub intake_dnc: Option<serde_json::Value>,
    /// The organization it was read for. Private to the store, so a `Lead`
    /// is only ever one the store read through an organization's handle,
    /// and a dial check uses a lead handed to it only for that
    /// organization (`DialRequest::lead`).
    pub(crate) org: String,
}

/// What one chunk of a CSV import wrote.
/// The totals of a whole import, for its closing record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportTotals {
    pub imported: u64,
    pub ineligible: u64,
    pub rejected: u64,
}

#[derive(Debug, Clone, Default)]
pub struct ImportChunk {
    pub created: u64,
    pub ineligible: u64,
}

#[derive(sqlx::FromRow)]
pub(crate) struct Row {
    id: String,
    campaign_id: Option<String>,
    phone: String,
    state: Option<String>,
    zip: Option<String>,
    name: Option<String>,
    fields: String,
    consent_type: String,
    consent_at: Option<i64>,
    consent_source: Option<String>,
    consent_ip: Option<String>,
    consent_text: Option<String>,
    consent_text_version: Option<String>,
    consent_captured_by: Option<String>,
    ebr_date: Option<i64>,
    ebr_kind: Option<String>,
    eligible: bool,
    ineligible_reasons: String,
    created_at: i64,
    intake_dnc: Option<String>,
}

impl Row {
    pub(crate) fn into_lead(self, org: &str) -> Result<Lead, StoreError> {
        let bad = |w: &str| StoreError::Corrupt(format!("lead {w}"));
        Ok(Lead {
            id: LeadId::parse(&self.id)?,
            campaign_id: self
                .campaign_id
                .as_deref()
                .map(CampaignId::parse)
                .transpose()?,
            phone: tollgate_gate::parse_nanp(&self.phone).map_err(|_| bad("phone"))?,
            state: self.state,
            zip: self.zip,
            name: self.name,
            fields: serde_json::from_str(&self.fields).map_err(|_| bad("fields"))?,
            consent: ConsentEvidence {
                kind: Some(ConsentType::parse(&self.consent_type).ok_or_else(|| bad("consent"))?),
                given_at: self.consent_at.map(ts),
                source: self.consent_source,
                ip: self.consent_ip,
                text: self.consent_text,
                text_version: self.consent_text_version,
                captured_by: self.consent_captured_by,
                ebr_date: self.ebr_date.map(ts),
                ebr_kind: self.ebr_kind.as_deref().and_then(EbrKind::parse),
            },
            eligible: self.eligible,
            ineligible_reasons: serde_json::from_str(&self.ineligible_reasons)
                .map_err(|_| bad("reasons"))?,
            created_at: UnixMicros(self.created_at),
            intake_dnc: self
                .intake_dnc
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|_| bad("intake DNC check"))?,
            org: org.to_owned(),
        })
    }
}

/// Inserts one lead, judging its evidence at `ctx.now`.
async fn insert(
    tx: &mut Tx,
    org: &str,
    lead: &NewLead,
    hash: Vec<u8>,
    now: UnixMicros,
) -> Result<(LeadId, bool, Vec<&'static str>), StoreError> {
    let id = new_id::<LeadKind>(now)?;
    let problems: Vec<&'static str> = intake_problems(&lead.consent, ts(now.0))
        .into_iter()
        .map(|p| p.code())
        .collect();
    let eligible = problems.is_empty();
    let c = &lead.consent;
    exec!(
        tx,
        "INSERT INTO leads (id, org_id, campaign_id, phone, phone_hash, state, zip, name, fields, consent_type, consent_at, consent_source, \
         consent_ip, consent_text, consent_text_version, consent_captured_by, ebr_date, ebr_kind, eligible, ineligible_reasons, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
        id.as_str(),
        org,
        lead.campaign_id.as_ref().map(|c| c.to_string()),
        lead.phone.as_str(),
        hash,
        lead.state.clone(),
        lead.zip.clone(),
        lead.name.clone(),
        serde_json::Value::Object(lead.fields.clone()).to_string(),
        c.kind.unwrap_or(ConsentType::None).as_str(),
        c.given_at.map(micros),
        c.source.clone(),
        c.ip.clone(),
        c.text.clone(),
        c.text_version.clone(),
        c.captured_by.clone(),
        c.ebr_date.map(micros),
        c.ebr_kind.map(|k| k.as_str()),
        eligible,
        serde_json::to_string(&problems).unwrap_or_else(|_| "[]".into()),
        now.0
    )?;
    Ok((id, eligible, problems))
}

/// Rows per multi-row INSERT of an import (21 parameters each). SQLite
/// gets anonymous `?` placeholders ([`values_list`]): with numbered `$N`
/// ones sqlx's SQLite driver looks each parameter up by name among all of a
/// statement's, which made 100 rows a statement spend 75% of an import in
/// `sqlite3_bind_parameter_name` and kept statements at 8 rows.
const ROWS_PER_INSERT: usize = 48;

/// Inserts many leads with few statements (statements, not rows, are what
/// a write costs here). Returns how many were ineligible.
async fn insert_many(
    tx: &mut Tx,
    org: &str,
    leads: &[NewLead],
    numbers: &super::NumberHasher,
    now: UnixMicros,
) -> Result<u64, StoreError> {
    let mut ineligible = 0;
    let hashes: Vec<Vec<u8>> = leads.iter().map(|l| numbers.hash(&l.phone)).collect();
    let listed = internal_dnc_among(tx, org, &hashes).await?;
    let (clear_check, listed_check) = import_intake_checks(now);
    for (group, group_hashes) in leads
        .chunks(ROWS_PER_INSERT)
        .zip(hashes.chunks(ROWS_PER_INSERT))
    {
        let sql = format!(
            "INSERT INTO leads (id, org_id, campaign_id, phone, phone_hash, state, zip, name, fields, consent_type, consent_at, \
             consent_source, consent_ip, consent_text, consent_text_version, consent_captured_by, ebr_date, ebr_kind, eligible, \
             ineligible_reasons, created_at, intake_dnc) VALUES {}",
            values_list(tx, group.len(), 22)
        );
        macro_rules! bind_all {
            ($q:expr) => {{
                let mut q = $q;
                for (lead, hash) in group.iter().zip(group_hashes) {
                    let problems: Vec<&'static str> = intake_problems(&lead.consent, ts(now.0))
                        .into_iter()
                        .map(|p| p.code())
                        .collect();
                    let eligible = problems.is_empty();
                    ineligible += u64::from(!eligible);
                    let c = &lead.consent;
                    q = q
                        .bind(new_id::<LeadKind>(now)?.to_string())
                        .bind(org)
                        .bind(lead.campaign_id.as_ref().map(|c| c.as_str()))
                        .bind(lead.phone.as_str())
                        .bind(hash.as_slice())
                        .bind(lead.state.as_deref())
                        .bind(lead.zip.as_deref())
                        .bind(lead.name.as_deref())
                        .bind(serde_json::to_string(&lead.fields).unwrap_or_else(|_| "{}".into()))
                        .bind(c.kind.unwrap_or(ConsentType::None).as_str())
                        .bind(c.given_at.map(micros))
                        .bind(c.source.as_deref())
                        .bind(c.ip.as_deref())
                        .bind(c.text.as_deref())
                        .bind(c.text_version.as_deref())
                        .bind(c.captured_by.as_deref())
                        .bind(c.ebr_date.map(micros))
                        .bind(c.ebr_kind.map(|k| k.as_str()))
                        .bind(eligible)
                        .bind(serde_json::to_string(&problems).unwrap_or_else(|_| "[]".into()))
                        .bind(now.0)
                        .bind(if listed.contains(hash) {
                            listed_check.as_str()
                        } else {
                            clear_check.as_str()
                        });
                }
                q
            }};
        }
        match &mut *tx {
            Tx::Sqlite(t) => {
                bind_all!(sqlx::query(&sql)).execute(&mut **t).await?;
            }
            Tx::Postgres(t) => {
                bind_all!(sqlx::query(&sql)).execute(&mut **t).await?;
            }
        }
    }
    Ok(ineligible)
}

/// Which of `hashes` are on the organization's internal do-not-call list,
/// in one query.
async fn internal_dnc_among(
    tx: &mut Tx,
    org: &str,
    hashes: &[Vec<u8>],
) -> Result<std::collections::HashSet<Vec<u8>>, StoreError> {
    let mut found = std::collections::HashSet::new();
    // Bounded statements: SQLite's parameter limit, and plans stay cheap.
    for group in hashes.chunks(1_000) {
        let mut q = crate::db::Sql::new(tx);
        q.push("SELECT number_hash FROM suppressions WHERE org_id = ")
            .bind(crate::db::Arg::Str(org))
            .push(" AND list = 'internal_dnc' AND removed_at IS NULL AND number_hash IN (")
            .list(group.iter().map(|h| crate::db::Arg::Blob(h)))
            .push(")");
        let rows: Vec<(Vec<u8>,)> = q.fetch_all(tx).await?;
        found.extend(rows.into_iter().map(|(h,)| h));
    }
    Ok(found)
}

/// The intake DNC record of an imported lead (clear, listed): the file
/// import checks the organization's internal list, judged by the gate's own
/// DNC rules; the registries are checked at every dial (and by
/// `tollgate dnc scrub` in bulk), not per imported line.
fn import_intake_checks(now: UnixMicros) -> (String, String) {
    let record = |listed: bool| {
        let facts = tollgate_gate::DncFacts {
            national: tollgate_gate::ListStatus::NotConfigured,
            national_version: None,
            state: tollgate_gate::ListStatus::NotConfigured,
            state_version: None,
            internal_listed: listed,
            litigator: tollgate_gate::ListStatus::NotConfigured,
            litigator_version: None,
            // Only the internal list is judged here: see above.
            provider_absence_acknowledged: true,
        };
        let reasons: Vec<serde_json::Value> = tollgate_gate::dnc_check(&facts)
            .iter()
            .map(|r| serde_json::json!({"code": r.code.as_str(), "detail": r.detail}))
            .collect();
        serde_json::json!({
            "checked_at": now.to_rfc3339(),
            "clear": reasons.is_empty(),
            "reasons": reasons,
            "list_versions": [],
            "lists_checked": ["internal_dnc"],
        })
        .to_string()
    };
    (record(false), record(true))
}

async fn check_campaigns(tx: &mut Tx, org: &str, leads: &[NewLead]) -> Result<(), StoreError> {
    let mut seen: Vec<&CampaignId> = Vec::new();
    for l in leads {
        if let Some(c) = &l.campaign_id
            && !seen.contains(&c)
        {
            super::campaigns::by_id(tx, org, c.as_str()).await?;
            seen.push(c);
        }
    }
    Ok(())
}

/// One lead; the columns in [`Row`]'s order.
const BY_ID: &str = "SELECT id, campaign_id, phone, state, zip, name, fields, consent_type, consent_at, consent_source, consent_ip, \
     consent_text, consent_text_version, consent_captured_by, ebr_date, ebr_kind, eligible, ineligible_reasons, created_at, intake_dnc \
     FROM leads WHERE org_id = $1 AND id = $2";

pub(crate) async fn by_id(tx: &mut Tx, org: &str, id: &str) -> Result<Lead, StoreError> {
    fetch_optional!(tx, Row, BY_ID, org, id)?
        .ok_or(StoreError::NotFound)?
        .into_lead(org)
}

/// [`by_id`] over rusqlite on SQLite (ADR 0010): the same statement.
pub(crate) fn by_id_direct(
    conn: &rusqlite::Connection,
    org: &str,
    id: &str,
) -> Result<Lead, StoreError> {
    use rusqlite::OptionalExtension;
    conn.prepare_cached(BY_ID)?
        .query_row(rusqlite::named_params! {"$1": org, "$2": id}, |r| {
            Ok(Row {
                id: r.get(0)?,
                campaign_id: r.get(1)?,
                phone: r.get(2)?,
                state: r.get(3)?,
                zip: r.get(4)?,
                name: r.get(5)?,
                fields: r.get(6)?,
                consent_type: r.get(7)?,
                consent_at: r.get(8)?,
                consent_source: r.get(9)?,
                consent_ip: r.get(10)?,
                consent_text: r.get(11)?,
                consent_text_version: r.get(12)?,
                consent_captured_by: r.get(13)?,
                ebr_date: r.get(14)?,
                ebr_kind: r.get(15)?,
                eligible: r.get(16)?,
                ineligible_reasons: r.get(17)?,
                created_at: r.get(18)?,
                intake_dnc: r.get(19)?,
            })
        })
        .optional()?
        .ok_or(StoreError::NotFound)?
        .into_lead(org)
}

impl OrgScope<'_> {
    /// Creates leads in one transaction (all or none), one audit event each.
    /// An unknown campaign fails the whole batch (`NotFound`).
    pub async fn create_leads(
        &self,
        leads: &[NewLead],
        ctx: &Ctx,
    ) -> Result<Vec<Lead>, StoreError> {
        let numbers = self.store.numbers()?;
        let mut tx = self.write().await?;
        check_campaigns(&mut tx, self.org(), leads).await?;
        let mut out = Vec::with_capacity(leads.len());
        for lead in leads {
            let (id, eligible, problems) = insert(
                &mut tx,
                self.org(),
                lead,
                numbers.hash(&lead.phone),
                ctx.now,
            )
            .await?;
            audit::append(
                &mut tx,
                self.org(),
                Draft {
                    actor: self.actor.audit_ref(),
                    action: "lead.created",
                    target: audit::target("lead", &id),
                    details: serde_json::json!({
                        "number": lead.phone.masked(),
                        "campaign_id": lead.campaign_id,
                        "consent_type": lead.consent.kind.unwrap_or(ConsentType::None).as_str(),
                        "eligible": eligible,
                        "ineligible_reasons": problems,
                    }),
                },
                ctx,
            )
            .await?;
            out.push(by_id(&mut tx, self.org(), id.as_str()).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Records the lead's DNC check at intake: the internal list (read here)
    /// and the registries' answer `dnc` (looked up before), judged by the
    /// gate's own DNC rules ([`tollgate_gate::dnc_check`]). Shown with the
    /// lead; every dial checks again.
    pub async fn record_intake_dnc(
        &self,
        id: &LeadId,
        dnc: &super::DncAnswer,
        ctx: &Ctx,
    ) -> Result<Lead, StoreError> {
        let numbers = self.store.numbers()?;
        let mut tx = self.write().await?;
        let lead = by_id(&mut tx, self.org(), id.as_str()).await?;
        let internal = fetch_optional!(
            &mut tx,
            (String,),
            "SELECT list FROM suppressions WHERE org_id = $1 AND number_hash = $2 AND list = 'internal_dnc' \
             AND removed_at IS NULL LIMIT 1",
            self.org(),
            numbers.hash(&lead.phone)
        )?
        .is_some();
        let settings = super::settings::load(&mut tx, self.org()).await?;
        let facts = tollgate_gate::DncFacts {
            national: dnc.national,
            national_version: dnc.national_version.as_deref(),
            state: dnc.state,
            state_version: dnc.state_version.as_deref(),
            internal_listed: internal,
            litigator: dnc.litigator,
            litigator_version: dnc.litigator_version.as_deref(),
            provider_absence_acknowledged: settings.dnc_provider_absence_acknowledged_at.is_some(),
        };
        let reasons: Vec<serde_json::Value> = tollgate_gate::dnc_check(&facts)
            .iter()
            .map(|r| serde_json::json!({"code": r.code.as_str(), "detail": r.detail}))
            .collect();
        let versions: Vec<serde_json::Value> = [
            ("dnc_national", facts.national_version),
            ("dnc_state", facts.state_version),
            ("dnc_litigator", facts.litigator_version),
        ]
        .into_iter()
        .filter_map(|(l, v)| v.map(|v| serde_json::json!({"list": l, "version": v})))
        .collect();
        let check = serde_json::json!({
            "checked_at": ctx.now.to_rfc3339(),
            "clear": reasons.is_empty(),
            "reasons": reasons,
            "list_versions": versions,
        });
        exec!(
            &mut tx,
            "UPDATE leads SET intake_dnc = $3 WHERE org_id = $1 AND id = $2",
            self.org(),
            id.as_str(),
            check.to_string()
        )?;
        let lead = by_id(&mut tx, self.org(), id.as_str()).await?;
        tx.commit().await?;
        Ok(lead)
    }

    /// Imports one chunk of a file in one transaction, with one audit event
    /// for the chunk (a million per-lead events would drown the log).
    pub async fn import_leads(
        &self,
        leads: &[NewLead],
        source: &str,
        first_line: u64,
        ctx: &Ctx,
    ) -> Result<ImportChunk, StoreError> {
        let numbers = self.store.numbers()?;
        let mut tx = self.write().await?;
        check_campaigns(&mut tx, self.org(), leads).await?;
        let chunk = ImportChunk {
            created: leads.len() as u64,
            ineligible: insert_many(&mut tx, self.org(), leads, numbers, ctx.now).await?,
        };
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "leads.imported",
                target: None,
                details: serde_json::json!({
                    "source": source,
                    "first_line": first_line,
                    "created": chunk.created,
                    "ineligible": chunk.ineligible,
                    "campaign_id": leads.first().and_then(|l| l.campaign_id.clone()),
                }),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(chunk)
    }

    /// Records that an import ended (`leads.import_finished`, with its
    /// totals) and tells the organization's systems (`import.finished`
    /// webhook, counts and the campaign id only) in the same transaction.
    pub async fn finish_lead_import(
        &self,
        campaign_id: &str,
        source: &str,
        totals: ImportTotals,
        ctx: &Ctx,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "leads.import_finished",
                target: audit::target("campaign", campaign_id),
                details: serde_json::json!({
                    "source": source,
                    "imported": totals.imported,
                    "ineligible": totals.ineligible,
                    "rejected": totals.rejected,
                }),
            },
            ctx,
        )
        .await?;
        crate::webhooks::enqueue(
            &mut tx,
            self.org(),
            "import.finished",
            crate::webhooks::EventData {
                thin: serde_json::json!({
                    "campaign_id": campaign_id,
                    "imported": totals.imported,
                    "ineligible": totals.ineligible,
                    "rejected": totals.rejected,
                }),
                rich: Some(Box::new(|| {
                    serde_json::json!({
                        "campaign_id": campaign_id,
                        // The file name the operator gave: free text.
                        "source": crate::webhooks::redacted(source),
                        "imported": totals.imported,
                        "ineligible": totals.ineligible,
                        "rejected": totals.rejected,
                    })
                })),
            },
            ctx.now,
        )
        .await?;
        tx.commit().await
    }

    pub async fn get_lead(&self, id: &LeadId) -> Result<Lead, StoreError> {
        // A dial check reads its lead first (for the DNC lookup): on SQLite
        // a point read on this thread, not three statements on sqlx's.
        if let Some(readers) = self.store.readers() {
            return readers.with(|c| by_id_direct(c, self.org(), id.as_str()));
        }
        let mut tx = self.read().await?;
        by_id(&mut tx, self.org(), id.as_str()).await
    }

    pub async fn list_leads(
        &self,
        after: Option<&LeadId>,
        limit: u32,
    ) -> Result<Vec<Lead>, StoreError> {
        let mut tx = self.read().await?;
        let rows = fetch_all!(
            &mut tx,
            Row,
            "SELECT id, campaign_id, phone, state, zip, name, fields, consent_type, consent_at, consent_source, consent_ip, \
             consent_text, consent_text_version, consent_captured_by, ebr_date, ebr_kind, eligible, ineligible_reasons, created_at, intake_dnc \
             FROM leads WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3",
            self.org(),
            after.map(|a| a.to_string()).unwrap_or_default(),
            i64::from(limit)
        )?;
        rows.into_iter().map(|r| r.into_lead(self.org())).collect()
    }
}
