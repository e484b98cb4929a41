//! The dial check: one transaction loads every fact, decides, records the
//! attempt (when allowed) and the decision, and appends `gate.decision` to
//! the audit chain. Any failure after the request was understood is a
//! denial with `internal_error`, recorded and audited when still possible.
//!
//! Concurrency: the transaction takes the organization's lock before it
//! reads attempts, so two dials to one number cannot both slip under a cap;
//! the audit append serializes an organization's writers anyway, so the
//! lock costs no throughput the chain was not already costing.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use tollgate_core::id::{CampaignId, DialCheckId, DialCheckKind, LeadId};
use tollgate_gate::{
    CampaignFacts, Decision, DialChannel, DncFacts, E164, Facts, ListStatus, decide,
};
use tollgate_rules::{AreaCode, LeadLocation, RollingCap, State, WeeklyWindow, Zip3, rules};

use super::{micros, ts};
use crate::audit::{self, Draft};
use crate::db::{Tx, exec, fetch_all, fetch_one, fetch_optional};
use crate::scope::{Ctx, OrgScope};
use crate::{StoreError, new_id};

/// Attempts older than this never count: the longest cap window allowed.
pub const MAX_CAP_WINDOW_HOURS: u32 = 31 * 24;

#[derive(Debug, Clone)]
pub struct DialRequest {
    /// Exactly one of `lead_id` and `number`.
    pub lead_id: Option<LeadId>,
    pub number: Option<E164>,
    pub campaign_id: CampaignId,
    pub channel: DialChannel,
    /// The planned instant.
    pub at: Timestamp,
    pub safety_margin_minutes: u16,
}

/// The DNC component's answer for the number, obtained before the
/// transaction (it may be a network call). The org's internal list is read
/// inside the transaction.
#[derive(Debug, Clone)]
pub struct DncAnswer {
    pub national: ListStatus,
    pub national_version: Option<String>,
    pub state: ListStatus,
    pub state_version: Option<String>,
}

impl DncAnswer {
    /// No provider configured: both registries missing.
    pub fn not_configured() -> DncAnswer {
        DncAnswer {
            national: ListStatus::NotConfigured,
            national_version: None,
            state: ListStatus::NotConfigured,
            state_version: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReasonRecord {
    pub code: String,
    pub detail: String,
    pub rule_id: Option<String>,
    pub citation: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListVersionRecord {
    pub list: String,
    pub version: String,
}

/// A recorded decision, as the API returns it now and later ("why?").
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DialCheck {
    /// `None` only when even recording the denial failed.
    pub id: Option<String>,
    pub allowed: bool,
    pub reasons: Vec<ReasonRecord>,
    /// The instant judged (RFC 3339).
    pub at: String,
    pub campaign_id: String,
    pub lead_id: Option<String>,
    /// Masked (`+1850***0100`).
    pub number: Option<String>,
    pub channel: String,
    pub candidate_zones: Vec<String>,
    pub candidate_states: Vec<String>,
    pub rules_version: String,
    pub rules_applied: Vec<String>,
    pub list_versions: Vec<ListVersionRecord>,
    pub next_allowed: Option<String>,
    pub decided_at: String,
}

fn record(
    id: Option<&DialCheckId>,
    d: &Decision,
    req: &DialRequest,
    number: Option<&E164>,
    now: i64,
) -> DialCheck {
    DialCheck {
        id: id.map(|i| i.to_string()),
        allowed: d.allowed,
        reasons: d
            .reasons
            .iter()
            .map(|r| ReasonRecord {
                code: r.code.as_str().to_owned(),
                detail: r.detail.to_string(),
                rule_id: r.rule_id.map(str::to_owned),
                citation: r.citation.map(str::to_owned),
            })
            .collect(),
        at: d.at.to_string(),
        campaign_id: req.campaign_id.to_string(),
        lead_id: req.lead_id.as_ref().map(|l| l.to_string()),
        number: number.map(E164::masked),
        channel: req.channel.as_str().to_owned(),
        candidate_zones: d.candidate_zones.iter().map(|s| s.to_string()).collect(),
        candidate_states: d.candidate_states.iter().map(|s| s.to_string()).collect(),
        rules_version: d.rules_version.to_owned(),
        rules_applied: d.rules_applied.iter().map(|s| s.to_string()).collect(),
        list_versions: d
            .list_versions
            .iter()
            .map(|l| ListVersionRecord {
                list: l.list.to_owned(),
                version: l.version.clone(),
            })
            .collect(),
        next_allowed: d.next_allowed.map(|t| t.to_string()),
        decided_at: ts(now).to_string(),
    }
}

fn audit_details(c: &DialCheck) -> serde_json::Value {
    serde_json::json!({
        "decision_id": c.id,
        "allowed": c.allowed,
        "reasons": c.reasons.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(),
        "campaign_id": c.campaign_id,
        "lead_id": c.lead_id,
        "number": c.number,
        "channel": c.channel,
        "at": c.at,
        "rules_version": c.rules_version,
        "list_versions": c.list_versions,
    })
}

impl OrgScope<'_> {
    /// Decides one dial. `Err` only for a request naming a campaign or lead
    /// this organization does not have (`NotFound`); every other failure is
    /// a recorded denial with `internal_error`.
    pub async fn dial_check(
        &self,
        req: &DialRequest,
        dnc: &DncAnswer,
        ctx: &Ctx,
    ) -> Result<DialCheck, StoreError> {
        match self.dial_check_tx(req, dnc, ctx).await {
            Ok(c) => Ok(c),
            Err(StoreError::NotFound) => Err(StoreError::NotFound),
            Err(e) => {
                tracing::error!(error = %e, "dial check failed; denying");
                Ok(self.record_failure(req, ctx).await)
            }
        }
    }

    async fn dial_check_tx(
        &self,
        req: &DialRequest,
        dnc: &DncAnswer,
        ctx: &Ctx,
    ) -> Result<DialCheck, StoreError> {
        let mut tx = self.write().await?;
        let rec = decide_in(&mut tx, self.store, self.actor, req, dnc, ctx).await?;
        tx.commit().await?;
        Ok(rec)
    }

    /// Records (best effort) an `internal_error` denial and returns it.
    async fn record_failure(&self, req: &DialRequest, ctx: &Ctx) -> DialCheck {
        let decision = Decision::internal_error(rules(), req.at);
        let attempt = async {
            let id = new_id::<DialCheckKind>(ctx.now)?;
            let rec = record(Some(&id), &decision, req, req.number.as_ref(), ctx.now.0);
            let mut tx = self.write().await?;
            insert_check(&mut tx, self.org(), &id, &rec, ctx).await?;
            audit::append(
                &mut tx,
                self.org(),
                Draft {
                    actor: self.actor.audit_ref(),
                    action: "gate.decision",
                    target: audit::target("dial_check", &id),
                    details: audit_details(&rec),
                },
                ctx,
            )
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(rec)
        };
        match attempt.await {
            Ok(rec) => rec,
            Err(e) => {
                tracing::error!(error = %e, "could not record the internal_error denial");
                record(None, &decision, req, req.number.as_ref(), ctx.now.0)
            }
        }
    }

    /// A past decision, as it was returned.
    pub async fn get_dial_check(&self, id: &DialCheckId) -> Result<DialCheck, StoreError> {
        let mut tx = self.read().await?;
        let (json,) = fetch_optional!(
            &mut tx,
            (String,),
            "SELECT decision FROM dial_checks WHERE org_id = $1 AND id = $2",
            self.org(),
            id.as_str()
        )?
        .ok_or(StoreError::NotFound)?;
        serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(format!("dial check: {e}")))
    }

    /// The number of a lead (for the DNC lookup before the transaction).
    pub async fn lead_number(&self, id: &LeadId) -> Result<E164, StoreError> {
        let mut tx = self.read().await?;
        Ok(super::leads::by_id(&mut tx, self.org(), id.as_str())
            .await?
            .phone)
    }
}

/// Where a number (and its lead's state and ZIP, when known) may be: the
/// one construction the dial check and the DNC lookup both use.
pub fn lead_location(number: &E164, state: Option<&str>, zip: Option<&str>) -> LeadLocation {
    LeadLocation {
        area_code: AreaCode::from_e164(number.as_str()),
        state: state.and_then(State::parse),
        zip: zip.and_then(Zip3::from_zip),
    }
}

/// Loads the facts, decides, records the decision (and the attempt when
/// allowed) and appends `gate.decision`, inside `tx`, for `actor`'s
/// organization. The caller commits.
async fn decide_in(
    tx: &mut Tx,
    store: &crate::Store,
    actor: &crate::Actor,
    req: &DialRequest,
    dnc: &DncAnswer,
    ctx: &Ctx,
) -> Result<DialCheck, StoreError> {
    let org = actor.org_id.as_str();
    tx.bind_org(org).await?;
    tx.lock_org(org).await?;
    let Judged {
        decision,
        number,
        hash,
        campaign_id,
        lead_id,
    } = judge(tx, store, org, req, dnc).await?;

    let id = new_id::<DialCheckKind>(ctx.now)?;
    let rec = record(Some(&id), &decision, req, Some(&number), ctx.now.0);
    insert_check(&mut *tx, org, &id, &rec, ctx).await?;
    if decision.allowed {
        exec!(
            &mut *tx,
            "INSERT INTO dial_attempts (org_id, number_hash, campaign_id, lead_id, check_id, attempted_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            org,
            hash,
            campaign_id,
            lead_id,
            id.as_str(),
            micros(req.at)
        )?;
    }
    audit::append(
        &mut *tx,
        org,
        Draft {
            actor: actor.audit_ref(),
            action: "gate.decision",
            target: audit::target("dial_check", &id),
            details: audit_details(&rec),
        },
        ctx,
    )
    .await?;
    Ok(rec)
}

/// A decision and what it was about.
struct Judged {
    decision: Decision,
    number: E164,
    hash: Vec<u8>,
    campaign_id: String,
    lead_id: Option<String>,
}

/// Loads the facts of one dial in `tx` (bound to `org`) and decides: the
/// one path from stored facts to [`decide`], shared by the dial check and
/// the bulk scrub, so they can never disagree.
async fn judge(
    tx: &mut Tx,
    store: &crate::Store,
    org: &str,
    req: &DialRequest,
    dnc: &DncAnswer,
) -> Result<Judged, StoreError> {
    let numbers = store.numbers()?;
    let settings = super::settings::load(&mut *tx, org).await?;
    let campaign = super::campaigns::by_id(&mut *tx, org, req.campaign_id.as_str()).await?;
    let lead = match &req.lead_id {
        Some(id) => Some(super::leads::by_id(&mut *tx, org, id.as_str()).await?),
        None => None,
    };
    let number = match (&lead, &req.number) {
        (Some(l), _) => l.phone.clone(),
        (None, Some(n)) => n.clone(),
        (None, None) => {
            return Err(StoreError::Invalid("a lead or a number is required".into()));
        }
    };
    let hash = numbers.hash(&number);
    let lists = fetch_all!(
        &mut *tx,
        (String,),
        "SELECT list FROM suppressions WHERE org_id = $1 AND number_hash = $2 AND removed_at IS NULL",
        org,
        hash.clone()
    )?;
    let since = req
        .at
        .checked_sub(SignedDuration::from_hours(i64::from(MAX_CAP_WINDOW_HOURS)))
        .unwrap_or(Timestamp::MIN);
    // A rolling cap of n attempts only ever looks at the n most recent
    // attempts up to the instant judged, so the read is bounded by the
    // largest cap, not by how often the number was tried.
    let newest = rules()
        .frequency_caps()
        .iter()
        .map(|c| c.cap.max_attempts)
        .chain(campaign.spec.caps.iter().map(|&(max, _)| max))
        .max()
        .unwrap_or(0);
    let mut attempts: Vec<Timestamp> = fetch_all!(
        &mut *tx,
        (i64,),
        "SELECT attempted_at FROM dial_attempts WHERE org_id = $1 AND number_hash = $2 \
         AND attempted_at > $3 AND attempted_at <= $4 ORDER BY attempted_at DESC LIMIT $5",
        org,
        hash.clone(),
        micros(since),
        micros(req.at),
        i64::from(newest)
    )?
    .into_iter()
    .map(|(t,)| ts(t))
    .collect();
    attempts.reverse();
    let lead_attempts = match (&lead, campaign.spec.max_attempts_per_lead) {
            (Some(l), Some(_)) => fetch_one!(
                &mut *tx,
                (i64,),
                "SELECT COUNT(*) FROM dial_attempts WHERE org_id = $1 AND lead_id = $2 AND campaign_id = $3",
                org,
                l.id.as_str(),
                campaign.id.as_str()
            )?
            .0 as u32,
            _ => 0,
        };

    let location = lead_location(
        &number,
        lead.as_ref().and_then(|l| l.state.as_deref()),
        lead.as_ref().and_then(|l| l.zip.as_deref()),
    );
    let window = match &campaign.spec.windows {
        None => None,
        Some(days) => {
            let mut w = WeeklyWindow::CLOSED;
            for (i, d) in days.iter().enumerate() {
                if let Some((s, e)) = d {
                    let day = jiff::civil::Weekday::from_monday_zero_offset(i as i8)
                        .map_err(|_| StoreError::Corrupt("campaign window day".into()))?;
                    w = w
                        .with_day(day, *s, *e)
                        .map_err(|m| StoreError::Corrupt(format!("campaign window: {m}")))?;
                }
            }
            Some(w)
        }
    };
    let caps: Vec<RollingCap> = campaign
        .spec
        .caps
        .iter()
        .map(|&(max, hours)| RollingCap {
            max_attempts: max,
            window: SignedDuration::from_hours(i64::from(hours)),
        })
        .collect();
    let suppression_version = settings.suppression_version.to_string();
    let facts = Facts {
        channel: req.channel,
        org_paused: settings.paused,
        campaign: CampaignFacts {
            paused: campaign.paused,
            purpose: campaign.spec.purpose,
            channel: campaign.spec.channel,
            voice: campaign.spec.voice,
            window: window.as_ref(),
            max_attempts_per_lead: campaign.spec.max_attempts_per_lead,
            caps: &caps,
        },
        consent: lead.as_ref().map(|l| &l.consent),
        lead_ineligible: lead.as_ref().is_some_and(|l| !l.eligible),
        candidates: rules().candidates(&location),
        suppressed: lists.iter().any(|(l,)| l == "suppression"),
        suppression_version: Some(&suppression_version),
        dnc: DncFacts {
            national: dnc.national,
            national_version: dnc.national_version.as_deref(),
            state: dnc.state,
            state_version: dnc.state_version.as_deref(),
            internal_listed: lists.iter().any(|(l,)| l == "internal_dnc"),
            provider_absence_acknowledged: settings.dnc_provider_absence_acknowledged_at.is_some(),
        },
        number_attempts: &attempts,
        lead_attempts,
        safety_margin_minutes: req.safety_margin_minutes,
    };
    let decision = decide(rules(), &facts, req.at);
    Ok(Judged {
        decision,
        number,
        hash,
        campaign_id: campaign.id.to_string(),
        lead_id: lead.as_ref().map(|l| l.id.to_string()),
    })
}

/// One row of a bulk scrub: a lead or a bare number, with its DNC answer
/// (looked up before, like a dial check's).
#[derive(Debug, Clone)]
pub struct ScrubRow {
    pub lead_id: Option<LeadId>,
    pub number: Option<E164>,
    pub dnc: DncAnswer,
}

impl OrgScope<'_> {
    /// Judges each row as a dial check of `campaign` at `at` would, through
    /// the same facts and [`decide`], without recording attempts or
    /// decisions; one `dnc.scrubbed` audit event records the batch. Per
    /// row: `Err(NotFound)` for a lead this organization does not have.
    /// `Err` as a whole for an unknown campaign.
    pub async fn scrub(
        &self,
        campaign_id: &CampaignId,
        channel: DialChannel,
        at: Timestamp,
        safety_margin_minutes: u16,
        rows: &[ScrubRow],
        ctx: &Ctx,
    ) -> Result<Vec<Result<DialCheck, StoreError>>, StoreError> {
        let mut out = Vec::with_capacity(rows.len());
        {
            let mut tx = self.read().await?;
            super::campaigns::by_id(&mut tx, self.org(), campaign_id.as_str()).await?;
            for row in rows {
                let req = DialRequest {
                    lead_id: row.lead_id.clone(),
                    number: row.number.clone(),
                    campaign_id: campaign_id.clone(),
                    channel,
                    at,
                    safety_margin_minutes,
                };
                out.push(
                    judge(&mut tx, self.store, self.org(), &req, &row.dnc)
                        .await
                        .map(|j| record(None, &j.decision, &req, Some(&j.number), ctx.now.0)),
                );
            }
        }
        let allowed = out
            .iter()
            .filter(|r| r.as_ref().is_ok_and(|c| c.allowed))
            .count();
        let mut tx = self.write().await?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "dnc.scrubbed",
                target: audit::target("campaign", campaign_id),
                details: serde_json::json!({
                    "rows": rows.len(),
                    "allowed": allowed,
                    "denied": out.iter().filter(|r| r.as_ref().is_ok_and(|c| !c.allowed)).count(),
                    "not_found": out.len() - out.iter().filter(|r| r.is_ok()).count(),
                    "at": at.to_string(),
                    "channel": channel.as_str(),
                }),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(out)
    }
}

async fn insert_check(
    tx: &mut Tx,
    org: &str,
    id: &DialCheckId,
    rec: &DialCheck,
    ctx: &Ctx,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(rec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    exec!(
        tx,
        "INSERT INTO dial_checks (id, org_id, campaign_id, lead_id, allowed, decision, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        id.as_str(),
        org,
        rec.campaign_id.clone(),
        rec.lead_id.clone(),
        rec.allowed,
        json,
        ctx.now.0
    )?;
    Ok(())
}

/// One dial check of a group commit ([`crate::Store::dial_checks`]).
#[derive(Debug, Clone)]
pub struct DialJob {
    pub actor: crate::Actor,
    pub req: DialRequest,
    pub dnc: DncAnswer,
    pub ctx: Ctx,
}

impl crate::Store {
    /// Decides several dial checks in one write transaction: one commit (one
    /// fsync on SQLite) for the group, which is what bounds a durable gate's
    /// throughput. Each job runs in its own savepoint, so one failure undoes
    /// only itself; jobs run grouped by organization in id order (the same
    /// lock order on every node, so two nodes' groups cannot deadlock), each
    /// organization's in arrival order, so caps count exactly as if the
    /// checks had come one by one.
    ///
    /// Per job: `Err(NotFound)` for a campaign or lead the organization does
    /// not have; every other failure, including a failed commit, becomes a
    /// recorded `internal_error` denial, as in [`OrgScope::dial_check`].
    pub async fn dial_checks(&self, jobs: &[DialJob]) -> Vec<Result<DialCheck, StoreError>> {
        let mut order: Vec<usize> = (0..jobs.len()).collect();
        order.sort_by(|&a, &b| {
            jobs[a]
                .actor
                .org_id
                .as_str()
                .cmp(jobs[b].actor.org_id.as_str())
        });
        let mut out: Vec<Option<Result<DialCheck, StoreError>>> =
            (0..jobs.len()).map(|_| None).collect();
        let group = async {
            let mut tx = self.pool.write().await?;
            for &i in &order {
                let job = &jobs[i];
                exec!(&mut tx, "SAVEPOINT dial_check")?;
                match decide_in(&mut tx, self, &job.actor, &job.req, &job.dnc, &job.ctx).await {
                    Ok(rec) => out[i] = Some(Ok(rec)),
                    Err(e) => {
                        exec!(&mut tx, "ROLLBACK TO SAVEPOINT dial_check")?;
                        out[i] = Some(Err(e));
                    }
                }
                exec!(&mut tx, "RELEASE SAVEPOINT dial_check")?;
            }
            tx.commit().await
        };
        let committed = group.await;
        let mut results = Vec::with_capacity(jobs.len());
        for (job, r) in jobs.iter().zip(out) {
            let scope = self.scope(&job.actor);
            results.push(match (&committed, r) {
                (_, Some(Err(StoreError::NotFound))) => Err(StoreError::NotFound),
                (Ok(()), Some(Ok(rec))) => Ok(rec),
                (Ok(()), Some(Err(e))) => {
                    tracing::error!(error = %e, "dial check failed; denying");
                    Ok(scope.record_failure(&job.req, &job.ctx).await)
                }
                (Err(e), _) => {
                    tracing::error!(error = %e, "dial check group failed; denying");
                    Ok(scope.record_failure(&job.req, &job.ctx).await)
                }
                (Ok(()), None) => Ok(scope.record_failure(&job.req, &job.ctx).await),
            });
        }
        results
    }
}
