//! The dial check: one transaction loads every fact, decides, records the
//! attempt (when allowed) and the decision, and appends `gate.decision` to
//! the audit chain. Any failure after the request was understood is a
//! denial with `internal_error`, recorded and audited when still possible.
//!
//! Cost: a group of checks shares one transaction, and writes nothing
//! until every check of the group is decided: the group's decisions,
//! attempts and audit events are then inserted together, many rows per
//! statement ([`record_decided`]), before the one commit. Checks of a group
//! decided earlier count toward later ones' caps through [`Pending`],
//! exactly as if they had been written one by one. Each check reads its
//! facts in three statements (the lead; the suppression flags, the
//! suppression list's version and the lead's attempt count; the number's
//! recent attempts; on PostgreSQL the last two are one statement, since
//! there every statement is a round trip in the group's serial path), plus
//! the campaign and gate settings when this node has
//! not cached them ([`crate::gate_cache`]). On PostgreSQL they run in the
//! group's transaction; on SQLite, where every sqlx statement is a hand-off
//! to a connection thread, the whole group's reads run over rusqlite in one
//! hand-off ([`load_direct`], ADR 0010), while the transaction holds the
//! write lock and before it writes, so they read what it would read.
//! There the attempts are counted in memory ([`super::attempts`], ADR
//! 0014): the group first reads the attempts other connections committed,
//! and adds its own before its commit.
//!
//! Concurrency: the transaction takes the organization's lock before it
//! reads attempts, so two dials to one number cannot both slip under a cap;
//! the audit append serializes an organization's writers anyway, so the
//! lock costs no throughput the chain was not already costing.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use tollgate_core::id::{CampaignId, DialCheckId, DialCheckKind, LeadId};
use tollgate_gate::{
    CampaignFacts, Decision, DialChannel, DncFacts, E164, Facts, ListStatus, decide,
};
use tollgate_rules::{AreaCode, LeadLocation, RollingCap, State, WeeklyWindow, Zip3, rules};

use super::attempts::{AttemptIndex, LAST_ATTEMPT, catch_up};
use super::{micros, ts};
use crate::audit::{self, Draft};
use crate::db::{Tx, exec, fetch_one, fetch_optional, placeholders, values_list};
use crate::gate_cache::CampaignGate;
use crate::scope::{Ctx, OrgScope};
use crate::{StoreError, new_id};

/// Attempts older than this never count: the longest cap window allowed.
pub const MAX_CAP_WINDOW_HOURS: u32 = 31 * 24;

#[derive(Debug, Clone)]
pub struct DialRequest {
    /// Exactly one of `lead_id` and `number`.
    pub lead_id: Option<LeadId>,
    /// The lead `lead_id` names, when the caller has already read it (for
    /// the DNC lookup): the check decides on it instead of reading it
    /// again. What the decision reads of a lead (number, place, consent,
    /// eligibility) never changes after intake, and leads are never
    /// deleted, so a lead read before the transaction is the lead the
    /// transaction would read. Ignored unless its id is `lead_id` and it
    /// was read for the checking actor's organization.
    pub lead: Option<Arc<super::Lead>>,
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
    /// `NotConfigured` unless the deployment asks its provider.
    pub litigator: ListStatus,
    pub litigator_version: Option<String>,
}

impl DialRequest {
    /// The lead read beforehand, when it is the one `lead_id` names and
    /// was read for `org`: another organization's lead is never used,
    /// whoever handed it over.
    fn known_lead(&self, org: &str) -> Option<Arc<super::Lead>> {
        match (&self.lead, &self.lead_id) {
            (Some(lead), Some(id)) if lead.id == *id && lead.org == org => Some(lead.clone()),
            _ => None,
        }
    }
}

impl DncAnswer {
    /// No provider configured: both registries missing.
    pub fn not_configured() -> DncAnswer {
        DncAnswer {
            national: ListStatus::NotConfigured,
            national_version: None,
            state: ListStatus::NotConfigured,
            state_version: None,
            litigator: ListStatus::NotConfigured,
            litigator_version: None,
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

/// A decision of the group-commit path with the JSON document stored for
/// it, which is also the API's answer: serialized once.
#[derive(Debug, Clone)]
pub struct RecordedCheck {
    pub check: DialCheck,
    pub json: String,
}

impl RecordedCheck {
    /// For a decision decided outside the group (an `internal_error`
    /// denial): serialized here.
    fn of(check: DialCheck) -> RecordedCheck {
        // Serializing plain strings, booleans and vectors cannot fail.
        let json = serde_json::to_string(&check).unwrap_or_default();
        RecordedCheck { check, json }
    }
}

impl std::ops::Deref for RecordedCheck {
    type Target = DialCheck;

    fn deref(&self) -> &DialCheck {
        &self.check
    }
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
        tx.bind_org(self.org()).await?;
        tx.lock_org(self.org()).await?;
        self.store.catch_up_attempts(ctx.now.0).await?;
        let decided = decide_bound(
            &mut tx,
            self.store,
            self.actor,
            req,
            dnc,
            ctx,
            &Pending::default(),
        )
        .await?;
        record_decided(&mut tx, std::slice::from_ref(&decided)).await?;
        self.store
            .commit_with_attempts(tx, std::slice::from_ref(&decided))
            .await?;
        Ok(decided.rec)
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
            crate::webhooks::enqueue(
                &mut tx,
                self.org(),
                "gate.decision.denied",
                denied_event(&rec),
                ctx.now,
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

/// An allowed check's attempt, counted by frequency caps.
#[derive(Debug, Clone)]
struct Attempt {
    org: String,
    number_hash: Vec<u8>,
    campaign_id: String,
    lead_id: Option<String>,
    at: i64,
}

impl Attempt {
    fn row(&self) -> super::attempts::AttemptRow<'_> {
        super::attempts::AttemptRow {
            org: &self.org,
            number_hash: &self.number_hash,
            campaign: &self.campaign_id,
            lead: self.lead_id.as_deref(),
            at: self.at,
        }
    }
}

/// The latest request instant of a group: the attempts index forgets
/// attempts older than its windows as of then.
fn group_now(jobs: &[DialJob]) -> i64 {
    jobs.iter().map(|j| j.ctx.now.0).max().unwrap_or(0)
}

/// The attempts of a group's decisions, as the index takes them.
fn attempt_rows<'d>(decided: &'d [Decided<'_>]) -> Vec<super::attempts::AttemptRow<'d>> {
    decided
        .iter()
        .filter_map(|d| d.attempt.as_ref())
        .map(Attempt::row)
        .collect()
}

/// Adds a group's attempts, just written in its transaction (rows
/// `covered + 1 ..= last`), to the index before the commit (ADR 0014);
/// returns what to restore with [`AttemptIndex::remove`] if the commit
/// fails.
fn stage_attempts(
    index: &AttemptIndex,
    decided: &[Decided<'_>],
    last: i64,
    now: i64,
) -> Result<i64, StoreError> {
    let rows = attempt_rows(decided);
    let covered = index.covered();
    if last - covered != rows.len() as i64 {
        // Attempts the group did not read were written: never commit
        // decisions made on counts that may have missed some.
        return Err(StoreError::Corrupt(format!(
            "dial attempts {} to {last} do not match the group's {} attempts",
            covered + 1,
            rows.len()
        )));
    }
    index.add(rows, last, now)
}

/// Attempts decided earlier in the same group and not yet written: later
/// checks of the group count them as if they were in the table.
#[derive(Default)]
struct Pending {
    attempts: Vec<Attempt>,
}

/// One decided check, waiting to be written with its group.
struct Decided<'a> {
    id: DialCheckId,
    rec: DialCheck,
    /// `rec` serialized once, for its row and for the answer
    /// ([`decide_bound`] fills it; a scrub stores nothing and leaves it empty).
    json: String,
    attempt: Option<Attempt>,
    org: &'a str,
    actor: &'a crate::Actor,
    ctx: &'a Ctx,
}

/// The facts a dial check reads at decision time, never cached: the
/// number's suppression flags, the suppression list's version and the
/// lead's attempt count.
#[derive(sqlx::FromRow)]
struct FreshRow {
    /// `NULL` without a settings row.
    suppression_version: Option<i64>,
    suppressed: bool,
    internal_dnc: bool,
    lead_attempts: i64,
}

/// The campaign and the organization's gate settings: what a node may
/// cache ([`crate::gate_cache`]), read on a cache miss.
#[derive(sqlx::FromRow)]
struct CampaignGateRow {
    #[sqlx(flatten)]
    campaign: super::campaigns::Row,
    /// `NULL` without a settings row (defaults: not paused, no acknowledgment).
    org_paused: Option<bool>,
    dnc_ack_at: Option<i64>,
}

/// A campaign row made ready for decisions: its windows and caps in the
/// shapes [`decide`] takes, built once per cached entry.
fn campaign_gate(
    org: &str,
    campaign: super::Campaign,
    org_paused: Option<bool>,
    dnc_ack_at: Option<i64>,
) -> Result<CampaignGate, StoreError> {
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
    let caps = campaign
        .spec
        .caps
        .iter()
        .map(|&(max, hours)| RollingCap {
            max_attempts: max,
            window: SignedDuration::from_hours(i64::from(hours)),
        })
        .collect();
    Ok(CampaignGate {
        org: org.to_owned(),
        campaign,
        window,
        caps,
        org_paused: org_paused.unwrap_or(false),
        dnc_acknowledged: dnc_ack_at.is_some(),
    })
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

/// Judges in `tx`, already bound to `actor`'s organization and holding its
/// lock, and serializes the decision; writes nothing (see
/// [`record_decided`]).
async fn decide_bound<'a>(
    tx: &mut Tx,
    store: &crate::Store,
    actor: &'a crate::Actor,
    req: &DialRequest,
    dnc: &DncAnswer,
    ctx: &'a Ctx,
    pending: &Pending,
) -> Result<Decided<'a>, StoreError> {
    let mut d = judge(tx, store, actor, req, dnc, ctx, pending).await?;
    d.json = serde_json::to_string(&d.rec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(d)
}

/// Loads the facts of one dial in `tx` (already bound to `actor`'s
/// organization) and decides: the one path from stored facts to
/// [`decide`], shared by the dial check and the bulk scrub, so they can
/// never disagree. Writes nothing. On SQLite the caller has read the
/// committed attempts into the index ([`crate::Store::catch_up_attempts`])
/// when its transaction began.
async fn judge<'a>(
    tx: &mut Tx,
    store: &crate::Store,
    actor: &'a crate::Actor,
    req: &DialRequest,
    dnc: &DncAnswer,
    ctx: &'a Ctx,
    pending: &Pending,
) -> Result<Decided<'a>, StoreError> {
    let numbers = store.numbers()?;
    let org = actor.org_id.as_str();
    let lead = match (&req.lead_id, req.known_lead(org)) {
        (_, Some(known)) => Some(known),
        (Some(id), None) => Some(Arc::new(
            super::leads::by_id(&mut *tx, org, id.as_str()).await?,
        )),
        (None, None) => None,
    };
    let gate = campaign_gate_for(tx, store, org, &req.campaign_id).await?;
    let window = CapWindow::of(req, &gate);
    let number = dialed(lead.as_deref(), req.number.as_ref())?;
    let hash = numbers.hash(&number);
    let counted = window.per_lead.then_some(lead.as_ref()).flatten();
    let counted = counted.map(|l| l.id.to_string());
    let (fresh, recent) = if let Tx::Postgres(t) = &mut *tx {
        // One round trip instead of two: on PostgreSQL every statement of
        // the group's serial path is one.
        let row = sqlx::query_as::<_, FreshAndRecentRow>(&FRESH_AND_RECENT)
            .bind(org)
            .bind(req.campaign_id.as_str())
            .bind(hash.clone())
            .bind(counted)
            .bind(window.lo)
            .bind(window.hi)
            .bind(i64::from(window.newest))
            .fetch_one(&mut **t)
            .await?;
        (row.fresh, row.recent)
    } else {
        // SQLite: attempts are counted in memory (ADR 0014), caught up by
        // the caller when its transaction began.
        let attempts = store.attempt_index()?;
        let mut fresh = fetch_one!(
            &mut *tx,
            FreshRow,
            FRESH_FLAGS,
            org,
            req.campaign_id.as_str(),
            hash.clone()
        )?;
        if let Some(lead) = &counted {
            fresh.lead_attempts = attempts.lead_attempts(org, req.campaign_id.as_str(), lead);
        }
        let recent = attempts.recent(org, &hash, window.lo, window.hi, window.newest);
        (fresh, recent)
    };
    let loaded = Loaded {
        lead,
        number,
        hash,
        fresh,
        recent,
    };
    assemble(actor, req, dnc, ctx, pending, &gate, loaded)
}

/// The campaign and the settings, from this node's cache when it has them
/// (at most a second old), else read in `tx`.
async fn campaign_gate_for(
    tx: &mut Tx,
    store: &crate::Store,
    org: &str,
    campaign_id: &CampaignId,
) -> Result<Arc<CampaignGate>, StoreError> {
    let cache = store.gate_cache();
    if let Some(gate) = cache.get(org, campaign_id.as_str()) {
        return Ok(gate);
    }
    let ticket = cache.ticket();
    let row = fetch_optional!(
        &mut *tx,
        CampaignGateRow,
        CAMPAIGN_GATE,
        org,
        campaign_id.as_str()
    )?
    .ok_or(StoreError::NotFound)?;
    let gate = Arc::new(campaign_gate(
        org,
        row.campaign.into_campaign()?,
        row.org_paused,
        row.dnc_ack_at,
    )?);
    cache.put(ticket, campaign_id.as_str(), gate.clone());
    Ok(gate)
}

/// [`campaign_gate_for`] over rusqlite, in the dial group's transaction
/// on SQLite: the same cache and statement.
fn campaign_gate_direct(
    conn: &rusqlite::Connection,
    cache: &crate::gate_cache::GateCache,
    org: &str,
    campaign_id: &str,
) -> Result<Arc<CampaignGate>, StoreError> {
    use rusqlite::OptionalExtension;
    if let Some(gate) = cache.get(org, campaign_id) {
        return Ok(gate);
    }
    let ticket = cache.ticket();
    let (row, org_paused, dnc_ack_at) = conn
        .prepare_cached(CAMPAIGN_GATE)?
        .query_row(
            rusqlite::named_params! {"$1": org, "$2": campaign_id},
            |r| {
                Ok((
                    super::campaigns::Row::from_direct(r)?,
                    r.get(11)?,
                    r.get(12)?,
                ))
            },
        )
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let gate = Arc::new(campaign_gate(
        org,
        row.into_campaign()?,
        org_paused,
        dnc_ack_at,
    )?);
    cache.put(ticket, campaign_id, gate.clone());
    Ok(gate)
}

/// The campaign (the columns of `campaigns::Row`, in its field order) with
/// its organization's pause switch and DNC acknowledgment. `$1` org, `$2`
/// campaign.
const CAMPAIGN_GATE: &str = "SELECT c.id, c.name, c.purpose, c.channel, c.voice, c.windows, \
        c.max_attempts_per_lead, c.caps, c.paused, c.created_at, c.updated_at, \
        s.paused AS org_paused, s.dnc_ack_at \
     FROM campaigns c LEFT JOIN gate_settings s ON s.org_id = c.org_id \
     WHERE c.org_id = $1 AND c.id = $2";

/// The suppression list's version and the number's two flags, the first
/// columns of [`FRESH`]. `$1` org, `$3` number hash.
macro_rules! fresh_flags {
    () => {
        "SELECT (SELECT s.suppression_version FROM gate_settings s WHERE s.org_id = $1) \
            AS suppression_version, \
        EXISTS (SELECT 1 FROM suppressions x WHERE x.org_id = $1 AND x.number_hash = $3 \
                AND x.list = 'suppression' AND x.removed_at IS NULL) AS suppressed, \
        EXISTS (SELECT 1 FROM suppressions x WHERE x.org_id = $1 AND x.number_hash = $3 \
                AND x.list = 'internal_dnc' AND x.removed_at IS NULL) AS internal_dnc, "
    };
}

/// The facts read every time, never cached, on PostgreSQL: the suppression
/// list's version, the number's suppression and internal-DNC flags, the
/// lead's attempts in this campaign (found among its number's attempts,
/// through the one index attempts keep there: ADR 0012). `$1` org, `$2` campaign, `$3` number hash,
/// `$4` lead (`NULL` when the campaign has no per-lead cap: then nothing
/// is counted, and a number dialed thousands of times costs nothing more).
const FRESH: &str = concat!(
    fresh_flags!(),
    "CASE WHEN $4 IS NULL THEN 0 ELSE \
        (SELECT COUNT(*) FROM dial_attempts a WHERE a.org_id = $1 AND a.number_hash = $3 \
            AND a.lead_id = $4 AND a.campaign_id = $2) END \
        AS lead_attempts"
);

/// [`FRESH`] on SQLite, where attempts are counted in memory (ADR 0014):
/// `lead_attempts` is filled from the index. `$1` org, `$3` number hash.
const FRESH_FLAGS: &str = concat!(fresh_flags!(), "0 AS lead_attempts");

/// [`FRESH`] and the number's most recent attempts in the cap window,
/// newest first, as an array beside them: one statement, for PostgreSQL.
/// A rolling cap of n attempts only ever looks at the n most recent
/// attempts up to the instant judged, so the read is bounded by the
/// largest cap, not by how often the number was tried. `$1` to `$4` as in
/// [`FRESH`], then `$5` and `$6` the window and `$7` the largest cap.
static FRESH_AND_RECENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{FRESH}, ARRAY(SELECT attempted_at FROM dial_attempts WHERE org_id = $1 \
         AND number_hash = $3 AND attempted_at > $5 AND attempted_at <= $6 \
         ORDER BY attempted_at DESC LIMIT $7) AS recent"
    )
});

#[derive(sqlx::FromRow)]
struct FreshAndRecentRow {
    #[sqlx(flatten)]
    fresh: FreshRow,
    /// Newest first.
    recent: Vec<i64>,
}

/// The cap window of a dial: attempts at `lo < t <= hi` count, and only
/// the `newest` most recent of them can matter (the largest cap).
#[derive(Debug, Clone, Copy)]
struct CapWindow {
    lo: i64,
    hi: i64,
    newest: u32,
    /// Whether the campaign caps attempts per lead: only then is the lead's
    /// count read (it scans the number's attempts, so a number dialed
    /// thousands of times without a cap would make every check slower).
    per_lead: bool,
}

impl CapWindow {
    fn of(req: &DialRequest, gate: &CampaignGate) -> CapWindow {
        let since = req
            .at
            .checked_sub(SignedDuration::from_hours(i64::from(MAX_CAP_WINDOW_HOURS)))
            .unwrap_or(Timestamp::MIN);
        let newest = rules()
            .frequency_caps()
            .iter()
            .map(|c| c.cap.max_attempts)
            .chain(gate.campaign.spec.caps.iter().map(|&(max, _)| max))
            .max()
            .unwrap_or(0);
        CapWindow {
            lo: micros(since),
            hi: micros(req.at),
            newest,
            per_lead: gate.campaign.spec.max_attempts_per_lead.is_some(),
        }
    }
}

/// What one dial check reads, owned, so a group's reads can run on another
/// thread ([`load_direct`]).
#[derive(Debug, Clone)]
struct LoadInput {
    org: String,
    lead_id: Option<String>,
    /// The lead, when the request carries it already read.
    lead: Option<Arc<super::Lead>>,
    number: Option<E164>,
    campaign_id: String,
    window: CapWindow,
}

impl LoadInput {
    fn new(org: &str, req: &DialRequest, gate: &CampaignGate) -> LoadInput {
        LoadInput {
            org: org.to_owned(),
            lead_id: req.lead_id.as_ref().map(|l| l.to_string()),
            lead: req.known_lead(org),
            number: req.number.clone(),
            campaign_id: req.campaign_id.to_string(),
            window: CapWindow::of(req, gate),
        }
    }
}

/// The number dialed: the lead's, or the bare number asked about.
fn dialed(lead: Option<&super::Lead>, number: Option<&E164>) -> Result<E164, StoreError> {
    match (lead, number) {
        (Some(l), _) => Ok(l.phone.clone()),
        (None, Some(n)) => Ok(n.clone()),
        (None, None) => Err(StoreError::Invalid("a lead or a number is required".into())),
    }
}

/// The stored facts of one dial check.
struct Loaded {
    lead: Option<Arc<super::Lead>>,
    number: E164,
    hash: Vec<u8>,
    fresh: FreshRow,
    /// Attempts at the number in the cap window, newest first.
    recent: Vec<i64>,
}

/// [`judge`]'s reads over rusqlite on SQLite (ADR 0010): the same
/// statements. The dial group calls it while its transaction holds SQLite's
/// write lock and has written nothing yet, so these reads see exactly what
/// the transaction would.
fn load_direct(
    conn: &rusqlite::Connection,
    numbers: &crate::gate::NumberHasher,
    attempts: &AttemptIndex,
    input: &LoadInput,
) -> Result<Loaded, StoreError> {
    let lead = match (&input.lead_id, &input.lead) {
        (_, Some(known)) => Some(known.clone()),
        (Some(id), None) => Some(Arc::new(super::leads::by_id_direct(conn, &input.org, id)?)),
        (None, None) => None,
    };
    let number = dialed(lead.as_deref(), input.number.as_ref())?;
    let hash = numbers.hash(&number);
    let counted = input
        .window
        .per_lead
        .then_some(lead.as_ref())
        .flatten()
        .map(|l| l.id.to_string());
    let mut fresh = conn.prepare_cached(FRESH_FLAGS)?.query_row(
        rusqlite::named_params! {"$1": input.org, "$3": hash},
        |r| {
            Ok(FreshRow {
                suppression_version: r.get(0)?,
                suppressed: r.get(1)?,
                internal_dnc: r.get(2)?,
                lead_attempts: r.get(3)?,
            })
        },
    )?;
    if let Some(lead) = counted {
        fresh.lead_attempts = attempts.lead_attempts(&input.org, &input.campaign_id, &lead);
    }
    let w = &input.window;
    let recent = attempts.recent(&input.org, &hash, w.lo, w.hi, w.newest);
    Ok(Loaded {
        lead,
        number,
        hash,
        fresh,
        recent,
    })
}

/// From loaded facts to a decision: counts the group's own earlier
/// attempts ([`Pending`]), builds [`Facts`] and calls [`decide`].
fn assemble<'a>(
    actor: &'a crate::Actor,
    req: &DialRequest,
    dnc: &DncAnswer,
    ctx: &'a Ctx,
    pending: &Pending,
    gate: &CampaignGate,
    loaded: Loaded,
) -> Result<Decided<'a>, StoreError> {
    let org = actor.org_id.as_str();
    let Loaded {
        lead,
        number,
        hash,
        fresh,
        mut recent,
    } = loaded;
    let lead_id = lead.as_ref().map(|l| l.id.to_string());
    let campaign = &gate.campaign;
    let CapWindow { lo, hi, newest, .. } = CapWindow::of(req, gate);
    // The group's own earlier attempts, not yet written.
    recent.extend(
        pending
            .attempts
            .iter()
            .filter(|a| a.org == org && a.number_hash == hash && a.at > lo && a.at <= hi)
            .map(|a| a.at),
    );
    recent.sort_unstable_by(|a, b| b.cmp(a));
    recent.truncate(newest as usize);
    let attempts: Vec<Timestamp> = recent.into_iter().rev().map(ts).collect();
    let lead_attempts = match (&lead_id, campaign.spec.max_attempts_per_lead) {
        (Some(l), Some(_)) => {
            let earlier = pending
                .attempts
                .iter()
                .filter(|a| {
                    a.org == org
                        && a.lead_id.as_deref() == Some(l.as_str())
                        && a.campaign_id == campaign.id.as_str()
                })
                .count() as i64;
            (fresh.lead_attempts + earlier) as u32
        }
        _ => 0,
    };

    let location = lead_location(
        &number,
        lead.as_ref().and_then(|l| l.state.as_deref()),
        lead.as_ref().and_then(|l| l.zip.as_deref()),
    );
    let suppression_version = fresh.suppression_version.unwrap_or(0).to_string();
    let facts = Facts {
        channel: req.channel,
        org_paused: gate.org_paused,
        campaign: CampaignFacts {
            paused: campaign.paused,
            purpose: campaign.spec.purpose,
            channel: campaign.spec.channel,
            voice: campaign.spec.voice,
            window: gate.window.as_ref(),
            max_attempts_per_lead: campaign.spec.max_attempts_per_lead,
            caps: &gate.caps,
        },
        consent: lead.as_ref().map(|l| &l.consent),
        lead_ineligible: lead.as_ref().is_some_and(|l| !l.eligible),
        candidates: rules().candidates(&location),
        suppressed: fresh.suppressed,
        suppression_version: Some(&suppression_version),
        dnc: DncFacts {
            national: dnc.national,
            national_version: dnc.national_version.as_deref(),
            state: dnc.state,
            state_version: dnc.state_version.as_deref(),
            internal_listed: fresh.internal_dnc,
            litigator: dnc.litigator,
            litigator_version: dnc.litigator_version.as_deref(),
            provider_absence_acknowledged: gate.dnc_acknowledged,
        },
        number_attempts: &attempts,
        lead_attempts,
        safety_margin_minutes: req.safety_margin_minutes,
    };
    let decision = decide(rules(), &facts, req.at);

    let id = new_id::<DialCheckKind>(ctx.now)?;
    let rec = record(Some(&id), &decision, req, Some(&number), ctx.now.0);
    let attempt = decision.allowed.then(|| Attempt {
        org: org.to_owned(),
        number_hash: hash,
        campaign_id: campaign.id.to_string(),
        lead_id,
        at: micros(req.at),
    });
    Ok(Decided {
        id,
        rec,
        json: String::new(),
        attempt,
        org,
        actor,
        ctx,
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
            // Once for the batch: nothing is recorded, so the rows need no
            // more than the attempts committed when it starts.
            self.store.catch_up_attempts(ctx.now.0).await?;
            for row in rows {
                let req = DialRequest {
                    lead_id: row.lead_id.clone(),
                    lead: None,
                    number: row.number.clone(),
                    campaign_id: campaign_id.clone(),
                    channel,
                    at,
                    safety_margin_minutes,
                };
                out.push(
                    judge(
                        &mut tx,
                        self.store,
                        self.actor,
                        &req,
                        &row.dnc,
                        ctx,
                        &Pending::default(),
                    )
                    .await
                    .map(|d| DialCheck { id: None, ..d.rec }),
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

/// Rows per multi-row INSERT of decisions and attempts: far below both
/// engines' parameter limits, and small enough that SQLite's parameter
/// lookup stays cheap.
const INSERT_ROWS: usize = 64;

/// Writes a group's decisions, their attempts and their `gate.decision`
/// events (each organization's in the group's order), many rows per
/// statement, in the group's transaction. Statements that must commit with
/// the decisions (an outbox row per denial, say) belong here too.
async fn record_decided(tx: &mut Tx, decided: &[Decided<'_>]) -> Result<(), StoreError> {
    // Organization by organization (row-level security on PostgreSQL checks
    // every row against the bound one), each in the group's order.
    let mut orgs: Vec<&str> = decided.iter().map(|d| d.org).collect();
    orgs.sort_unstable();
    orgs.dedup();
    for org in orgs {
        let mine: Vec<&Decided> = decided.iter().filter(|d| d.org == org).collect();
        tx.bind_org(org).await?;
        insert_checks(tx, &mine).await?;
        insert_attempts(tx, &mine).await?;
        audit::append_all(tx, org, decision_drafts(&mine)).await?;
        for d in mine.iter().filter(|d| !d.rec.allowed) {
            crate::webhooks::enqueue(
                tx,
                org,
                "gate.decision.denied",
                denied_event(&d.rec),
                d.ctx.now,
            )
            .await?;
        }
    }
    Ok(())
}

/// The `gate.decision` events of one organization's decisions, in order.
fn decision_drafts<'d>(mine: &[&'d Decided<'_>]) -> Vec<(Draft, &'d Ctx)> {
    mine.iter()
        .map(|d| {
            (
                Draft {
                    actor: d.actor.audit_ref(),
                    action: "gate.decision",
                    target: audit::target("dial_check", &d.id),
                    details: audit_details(&d.rec),
                },
                d.ctx,
            )
        })
        .collect()
}

/// The start of an insert of decisions; seven placeholders per row follow:
/// id, org, campaign, lead, allowed, the decision's JSON, created at.
const INSERT_CHECKS: &str = "INSERT INTO dial_checks (id, org_id, campaign_id, lead_id, allowed, decision, created_at) VALUES ";

/// The start of an insert of attempts; six placeholders per row follow:
/// org, number hash, campaign, lead, check, attempted at.
const INSERT_ATTEMPTS: &str = "INSERT INTO dial_attempts (org_id, number_hash, campaign_id, lead_id, check_id, attempted_at) VALUES ";

/// Whether an organization has an enabled webhook endpoint subscribed to
/// `gate.decision.denied`: the endpoints `webhooks::enqueue` would queue a
/// denial's message for. `$1` org, `$2` the event type. Only the SQLite
/// direct path asks ([`group_direct`]): when it is true for an organization
/// with a denial in the group, the group runs again through sqlx, where the
/// webhook store writes the messages.
const DENIAL_SUBSCRIBERS: &str = concat!(
    "SELECT EXISTS (SELECT 1 ",
    crate::webhooks::subscribers!(),
    ")"
);

async fn insert_checks(tx: &mut Tx, decided: &[&Decided<'_>]) -> Result<(), StoreError> {
    for chunk in decided.chunks(INSERT_ROWS) {
        let sql = format!("{INSERT_CHECKS}{}", values_list(tx, chunk.len(), 7));
        macro_rules! bind_checks {
            ($q:expr) => {{
                let mut q = $q;
                for d in chunk {
                    q = q
                        .bind(d.id.as_str())
                        .bind(d.org)
                        .bind(d.rec.campaign_id.as_str())
                        .bind(d.rec.lead_id.as_deref())
                        .bind(d.rec.allowed)
                        .bind(d.json.as_str())
                        .bind(d.ctx.now.0);
                }
                q
            }};
        }
        match &mut *tx {
            Tx::Sqlite(t) => bind_checks!(sqlx::query(&sql))
                .execute(&mut **t)
                .await
                .map(|_| ())?,
            Tx::Postgres(t) => bind_checks!(sqlx::query(&sql))
                .execute(&mut **t)
                .await
                .map(|_| ())?,
        };
    }
    Ok(())
}

async fn insert_attempts(tx: &mut Tx, decided: &[&Decided<'_>]) -> Result<(), StoreError> {
    let rows: Vec<(&Decided, &Attempt)> = decided
        .iter()
        .filter_map(|d| d.attempt.as_ref().map(|a| (*d, a)))
        .collect();
    for chunk in rows.chunks(INSERT_ROWS) {
        let sql = format!("{INSERT_ATTEMPTS}{}", values_list(tx, chunk.len(), 6));
        macro_rules! bind_attempts {
            ($q:expr) => {{
                let mut q = $q;
                for (d, a) in chunk {
                    q = q
                        .bind(a.org.as_str())
                        .bind(a.number_hash.as_slice())
                        .bind(a.campaign_id.as_str())
                        .bind(a.lead_id.as_deref())
                        .bind(d.id.as_str())
                        .bind(a.at);
                }
                q
            }};
        }
        match &mut *tx {
            Tx::Sqlite(t) => bind_attempts!(sqlx::query(&sql))
                .execute(&mut **t)
                .await
                .map(|_| ())?,
            Tx::Postgres(t) => bind_attempts!(sqlx::query(&sql))
                .execute(&mut **t)
                .await
                .map(|_| ())?,
        };
    }
    Ok(())
}

/// [`record_decided`] over rusqlite, in the dial group's transaction on
/// SQLite (ADR 0010): the same rows and the same chain, one prepared
/// statement per table executed row by row (no hand-off per statement, so
/// multi-row statements would save nothing). The caller has checked that
/// no denial of the group has a webhook subscriber ([`DENIAL_SUBSCRIBERS`]),
/// so `webhooks::enqueue` would write nothing for them.
fn record_direct(conn: &rusqlite::Connection, decided: &[Decided<'_>]) -> Result<(), StoreError> {
    use std::sync::LazyLock;
    static CHECK: LazyLock<String> =
        LazyLock::new(|| format!("{INSERT_CHECKS}{}", placeholders(false, 1, 7)));
    static ATTEMPT: LazyLock<String> =
        LazyLock::new(|| format!("{INSERT_ATTEMPTS}{}", placeholders(false, 1, 6)));
    let mut orgs: Vec<&str> = decided.iter().map(|d| d.org).collect();
    orgs.sort_unstable();
    orgs.dedup();
    for org in orgs {
        let mine: Vec<&Decided> = decided.iter().filter(|d| d.org == org).collect();
        let mut check = conn.prepare_cached(&CHECK)?;
        for d in &mine {
            check.execute(rusqlite::params![
                d.id.as_str(),
                d.org,
                d.rec.campaign_id,
                d.rec.lead_id,
                d.rec.allowed,
                d.json,
                d.ctx.now.0,
            ])?;
        }
        let mut attempt = conn.prepare_cached(&ATTEMPT)?;
        for d in &mine {
            if let Some(a) = &d.attempt {
                attempt.execute(rusqlite::params![
                    a.org,
                    a.number_hash,
                    a.campaign_id,
                    a.lead_id,
                    d.id.as_str(),
                    a.at,
                ])?;
            }
        }
        crate::audit_sqlite::append_all(conn, org, decision_drafts(&mine))?;
    }
    Ok(())
}

/// A dial group on SQLite, whole, on the rusqlite write connection
/// (ADR 0010): one `BEGIN IMMEDIATE` transaction reads every job's facts,
/// decides the jobs in the group's order, writes the decisions, attempts
/// and `gate.decision` events and commits, in one hand-off to the writer
/// thread, with the `api.call` records queued meanwhile
/// ([`crate::audit_sqlite::CallQueue`]). Per job as in
/// [`crate::Store::dial_checks`]: a job whose reads
/// fail is an `Err` of its own; an error after that fails the group, and
/// the transaction rolls back (nothing of the group is written).
///
/// `Ok(None)`: a denial's organization has a webhook subscriber, or the
/// queued `api.call` records could not be written; the transaction rolled
/// back and the group must run through sqlx.
fn group_direct(
    conn: &mut rusqlite::Connection,
    jobs: &[DialJob],
    order: &[usize],
    numbers: &crate::gate::NumberHasher,
    cache: &crate::gate_cache::GateCache,
    calls: &crate::audit_sqlite::CallQueue,
    attempts: &AttemptIndex,
) -> Result<Option<GroupResults>, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let now = group_now(jobs);
    catch_up(&tx, attempts, now, true)?;
    let mut out: GroupResults = (0..jobs.len()).map(|_| None).collect();
    let mut decided: Vec<(usize, Decided)> = Vec::with_capacity(order.len());
    let mut pending = Pending::default();
    for &i in order {
        let job = &jobs[i];
        let org = job.actor.org_id.as_str();
        let d =
            campaign_gate_direct(&tx, cache, org, job.req.campaign_id.as_str()).and_then(|gate| {
                let input = LoadInput::new(org, &job.req, &gate);
                let facts = load_direct(&tx, numbers, attempts, &input)?;
                decide_loaded(job, &pending, &gate, facts)
            });
        settle(i, d, &mut pending, &mut decided, &mut out);
    }
    // Some failures end SQLite's transaction by themselves (an I/O error,
    // a full disk); the writes below must never run outside it.
    if tx.is_autocommit() {
        return Err(StoreError::Config(
            "the dial group's transaction ended before its writes".into(),
        ));
    }
    let mut denied: Vec<&str> = decided
        .iter()
        .filter(|(_, d)| !d.rec.allowed)
        .map(|(_, d)| d.org)
        .collect();
    denied.sort_unstable();
    denied.dedup();
    for org in denied {
        let subscribed = tx.prepare_cached(DENIAL_SUBSCRIBERS).and_then(|mut q| {
            q.query_row(
                rusqlite::named_params! {"$1": org, "$2": "gate.decision.denied"},
                |r| r.get(0),
            )
        });
        // Unknown (an error) counts as subscribed: the sqlx path decides.
        if !matches!(subscribed, Ok(false)) {
            return Ok(None);
        }
    }
    let (index, decided): (Vec<usize>, Vec<Decided>) = decided.into_iter().unzip();
    // The `api.call` records waiting for the writer share this commit. If
    // they cannot be written (their callers retry), the transaction rolls
    // back and the group runs through sqlx, without them.
    let Ok(waiters) = calls.append_queued(&tx) else {
        return Ok(None);
    };
    let written = record_direct(&tx, &decided).and_then(|()| {
        // The attempts join the index before the commit (ADR 0014).
        let last = tx
            .prepare_cached(LAST_ATTEMPT)?
            .query_row([], |r| r.get(0))?;
        let before = stage_attempts(attempts, &decided, last, now)?;
        tx.commit().map_err(|e| {
            attempts.remove(attempt_rows(&decided), before);
            StoreError::from(e)
        })
    });
    waiters.finish(written.as_ref().map(|_| ()));
    written?;
    for (i, d) in index.into_iter().zip(decided) {
        out[i] = Some(Ok(RecordedCheck {
            check: d.rec,
            json: d.json,
        }));
    }
    Ok(Some(out))
}

/// Decides job `job` of a group from its loaded facts, after the group's
/// `pending` attempts, with its JSON document.
fn decide_loaded<'a>(
    job: &'a DialJob,
    pending: &Pending,
    gate: &CampaignGate,
    facts: Loaded,
) -> Result<Decided<'a>, StoreError> {
    let mut d = assemble(
        &job.actor, &job.req, &job.dnc, &job.ctx, pending, gate, facts,
    )?;
    d.json = serde_json::to_string(&d.rec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(d)
}

/// Adds job `i`'s outcome to its group: a decision, whose attempt the
/// later jobs count, or its own failure.
fn settle<'a>(
    i: usize,
    d: Result<Decided<'a>, StoreError>,
    pending: &mut Pending,
    decided: &mut Vec<(usize, Decided<'a>)>,
    out: &mut GroupResults,
) {
    match d {
        Ok(d) => {
            pending.attempts.extend(d.attempt.clone());
            decided.push((i, d));
        }
        Err(e) => out[i] = Some(Err(e)),
    }
}

/// Per job of a group, in the jobs' order: its decision, its own failure,
/// or `None` when the group failed before deciding it.
type GroupResults = Vec<Option<Result<RecordedCheck, StoreError>>>;

/// The thin `gate.decision.denied` payload: ids and reason codes, never the
/// number (not even masked).
fn denied_event(c: &DialCheck) -> crate::webhooks::EventData<'_> {
    let thin = serde_json::json!({
        "dial_check_id": c.id,
        "campaign_id": c.campaign_id,
        "lead_id": c.lead_id,
        "reasons": c.reasons.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(),
    });
    // The "why" a receiver would otherwise fetch: reasons with their
    // details and citations, the masked number, the versions that decided.
    let rich = move || {
        serde_json::json!({
            "dial_check_id": c.id,
            "campaign_id": c.campaign_id,
            "lead_id": c.lead_id,
            "number": c.number,
            "channel": c.channel,
            "at": c.at,
            "decided_at": c.decided_at,
            "reasons": c.reasons.iter().map(|r| serde_json::json!({
                "code": r.code,
                "detail": crate::webhooks::redacted(&r.detail),
                "rule_id": r.rule_id,
                "citation": r.citation,
            })).collect::<Vec<_>>(),
            "candidate_states": c.candidate_states,
            "candidate_zones": c.candidate_zones,
            "rules_version": c.rules_version,
            "list_versions": c.list_versions,
            "next_allowed": c.next_allowed,
        })
    };
    crate::webhooks::EventData {
        thin,
        rich: Some(Box::new(rich)),
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
    let sql = format!("{INSERT_CHECKS}{}", values_list(tx, 1, 7));
    exec!(
        tx,
        &sql,
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
    /// throughput. Each job's facts are read and decided first (a failure
    /// there concerns only that job), then the group's decisions, attempts
    /// and audit events are written together; jobs run grouped by
    /// organization in id order (the same
    /// lock order on every node, so two nodes' groups cannot deadlock), each
    /// organization's in arrival order, so caps count exactly as if the
    /// checks had come one by one.
    ///
    /// Per job: `Err(NotFound)` for a campaign or lead the organization does
    /// not have; every other failure, including a failed commit, becomes a
    /// recorded `internal_error` denial, as in [`OrgScope::dial_check`].
    pub async fn dial_checks(&self, jobs: Vec<DialJob>) -> Vec<Result<RecordedCheck, StoreError>> {
        self.commit_dial_checks(jobs).await.durable().await
    }

    /// [`crate::Store::dial_checks`] up to the group's commit: returns as
    /// soon as the transaction has committed, on SQLite before its log has
    /// reached the disk, so the next group can run while this one's log is
    /// synced (ADR 0013). Its answers are [`CommittedGroup::durable`].
    pub async fn commit_dial_checks(&self, jobs: Vec<DialJob>) -> CommittedGroup {
        let mut order: Vec<usize> = (0..jobs.len()).collect();
        order.sort_by(|&a, &b| {
            jobs[a]
                .actor
                .org_id
                .as_str()
                .cmp(jobs[b].actor.org_id.as_str())
        });
        let jobs: Arc<[DialJob]> = jobs.into();
        let mut out: GroupResults = (0..jobs.len()).map(|_| None).collect();
        let mut synced = None;
        let committed = async {
            // SQLite: the whole group on the rusqlite write connection,
            // unless a denial must queue a webhook message.
            if let Some(direct) = &self.audit_direct {
                let numbers = self
                    .numbers
                    .clone()
                    .ok_or_else(|| StoreError::Config("no number-hash key configured".into()))?;
                let (group, order, cache) = (jobs.clone(), order.clone(), self.gate.clone());
                let calls = direct.calls();
                let attempts = self.attempt_index()?;
                let (done, on_disk) = direct
                    .write_unsynced(move |conn| {
                        group_direct(conn, &group, &order, &numbers, &cache, &calls, &attempts)
                    })
                    .await?;
                if let Some(results) = done {
                    out = results;
                    synced = Some(on_disk);
                    return Ok(());
                }
                // Rolled back: nothing of it to wait for.
                drop(on_disk);
            }
            self.group_sqlx(&jobs, &order, &mut out).await
        }
        .await;
        CommittedGroup {
            store: self.clone(),
            jobs,
            out,
            committed,
            synced,
        }
    }
}

/// A dial group whose transaction has ended ([`crate::Store::commit_dial_checks`]).
#[must_use]
pub struct CommittedGroup {
    store: crate::Store,
    jobs: Arc<[DialJob]>,
    out: GroupResults,
    committed: Result<(), StoreError>,
    /// On SQLite's direct path: the commit's way to the disk.
    synced: Option<crate::sqlite_file::Synced>,
}

impl CommittedGroup {
    /// Per job, in the jobs' order, once the group's commit is on disk:
    /// `Err(NotFound)` for a campaign or lead the organization does not
    /// have; every other failure, a failed commit or sync included, is a
    /// recorded `internal_error` denial.
    pub async fn durable(self) -> Vec<Result<RecordedCheck, StoreError>> {
        let CommittedGroup {
            store,
            jobs,
            out,
            mut committed,
            synced,
        } = self;
        if let (Ok(()), Some(synced)) = (&committed, synced) {
            committed = synced.wait().await;
        }
        let mut results = Vec::with_capacity(jobs.len());
        for (job, r) in jobs.iter().zip(out) {
            let scope = store.scope(&job.actor);
            results.push(match (&committed, r) {
                (_, Some(Err(StoreError::NotFound))) => Err(StoreError::NotFound),
                (Ok(()), Some(Ok(rec))) => Ok(rec),
                (Ok(()), Some(Err(e))) => {
                    tracing::error!(error = %e, "dial check failed; denying");
                    Ok(RecordedCheck::of(
                        scope.record_failure(&job.req, &job.ctx).await,
                    ))
                }
                (Err(e), _) => {
                    tracing::error!(error = %e, "dial check group failed; denying");
                    Ok(RecordedCheck::of(
                        scope.record_failure(&job.req, &job.ctx).await,
                    ))
                }
                (Ok(()), None) => Ok(RecordedCheck::of(
                    scope.record_failure(&job.req, &job.ctx).await,
                )),
            });
        }
        results
    }
}

impl crate::Store {
    /// SQLite's attempts index (ADR 0014).
    fn attempt_index(&self) -> Result<Arc<AttemptIndex>, StoreError> {
        self.attempts
            .clone()
            .ok_or_else(|| StoreError::Config("no dial-attempt index on this store".into()))
    }

    /// On SQLite, reads every committed attempt into the attempts index
    /// ([`judge`] counts from it); nothing on PostgreSQL.
    async fn catch_up_attempts(&self, now: i64) -> Result<(), StoreError> {
        let Some(attempts) = self.attempts.clone() else {
            return Ok(());
        };
        let readers = self
            .readers
            .clone()
            .ok_or_else(|| StoreError::Config("no SQLite readers on this store".into()))?;
        tokio::task::spawn_blocking(move || readers.with(|c| catch_up(c, &attempts, now, false)))
            .await
            .map_err(|_| StoreError::Config("the dial-attempt read stopped".into()))?
    }

    /// Reads the dial attempts into memory on SQLite (ADR 0014), so the
    /// first dial check does not wait for it; nothing on PostgreSQL.
    /// Returns how long it took.
    pub async fn load_dial_attempts(&self) -> Result<std::time::Duration, StoreError> {
        let started = std::time::Instant::now();
        self.catch_up_attempts(jiff::Timestamp::now().as_microsecond())
            .await?;
        Ok(started.elapsed())
    }

    /// What SQLite's attempts index holds; `None` on PostgreSQL.
    pub fn dial_attempts_held(&self) -> Option<super::AttemptsHeld> {
        self.attempts.as_ref().map(|a| a.held())
    }

    /// Commits a transaction that wrote `decided`'s attempts: on SQLite,
    /// they join the index first and leave it again if the commit fails.
    async fn commit_with_attempts(
        &self,
        mut tx: Tx,
        decided: &[Decided<'_>],
    ) -> Result<(), StoreError> {
        let staged = match (&self.attempts, &tx) {
            (Some(index), Tx::Sqlite(_)) => {
                let (last,) = fetch_one!(&mut tx, (i64,), LAST_ATTEMPT)?;
                let now = decided.iter().map(|d| d.ctx.now.0).max().unwrap_or(0);
                Some((index, stage_attempts(index, decided, last, now)?))
            }
            _ => None,
        };
        let committed = tx.commit().await;
        if let (Err(_), Some((index, before))) = (&committed, staged) {
            index.remove(attempt_rows(decided), before);
        }
        committed
    }

    /// A dial group through sqlx: PostgreSQL's path, and SQLite's when a
    /// denial must queue a webhook message in the group's transaction
    /// (the webhook store writes through sqlx). On SQLite the reads still
    /// run over rusqlite ([`crate::Store::decide_direct`]).
    async fn group_sqlx<'a>(
        &self,
        jobs: &'a [DialJob],
        order: &[usize],
        out: &mut GroupResults,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.write().await?;
        // No savepoint per check on PostgreSQL: a check's reads are point
        // SELECTs, and what makes one of them fail there (a lost
        // connection, a timeout) fails every later statement of the
        // transaction too. Such a failure poisons the transaction, the
        // group's writes then fail, and every check of the group is denied
        // (`internal_error`), as for a failed commit. What concerns one
        // check alone (an unknown lead or campaign, a row that does not
        // decode) is found on this side and leaves the transaction usable.
        // A savepoint and its release were two of the seven round trips
        // each check made in the group's serial path.
        let mut decided: Vec<(usize, Decided<'a>)> = Vec::with_capacity(jobs.len());
        if let (Some(readers), Tx::Sqlite(_)) = (&self.readers, &tx) {
            self.decide_direct(&mut tx, readers, jobs, order, &mut decided, out)
                .await?;
        } else {
            let mut pending = Pending::default();
            let mut bound: Option<&str> = None;
            for &i in order {
                let job = &jobs[i];
                // Jobs come grouped by organization: each organization is
                // bound and locked once (on PostgreSQL each is a round trip).
                let org = job.actor.org_id.as_str();
                if bound != Some(org) {
                    tx.bind_org(org).await?;
                    tx.lock_org(org).await?;
                    bound = Some(org);
                }
                let d = decide_bound(
                    &mut tx, self, &job.actor, &job.req, &job.dnc, &job.ctx, &pending,
                )
                .await;
                match d {
                    Ok(d) => {
                        pending.attempts.extend(d.attempt.clone());
                        decided.push((i, d));
                    }
                    Err(e) => out[i] = Some(Err(e)),
                }
            }
        }
        let (index, decided): (Vec<usize>, Vec<Decided>) = decided.into_iter().unzip();
        record_decided(&mut tx, &decided).await?;
        self.commit_with_attempts(tx, &decided).await?;
        for (i, d) in index.into_iter().zip(decided) {
            out[i] = Some(Ok(RecordedCheck {
                check: d.rec,
                json: d.json,
            }));
        }
        Ok(())
    }

    /// The SQLite half of [`crate::Store::group_sqlx`] (ADR 0010): each
    /// job's campaign (cached, or read in `tx`), then every job's reads in
    /// one hand-off to the blocking pool over rusqlite, then the decisions
    /// in the group's order. `tx` holds SQLite's write lock and has written
    /// nothing, so the reads see what it would see; a failure of one job's
    /// reads concerns that job only, as in the statement-by-statement path.
    async fn decide_direct<'a>(
        &self,
        tx: &mut Tx,
        readers: &Arc<crate::sqlite_read::Readers>,
        jobs: &'a [DialJob],
        order: &[usize],
        decided: &mut Vec<(usize, Decided<'a>)>,
        out: &mut GroupResults,
    ) -> Result<(), StoreError> {
        let mut gates = Vec::with_capacity(order.len());
        let mut inputs = Vec::with_capacity(order.len());
        for &i in order {
            let job = &jobs[i];
            let org = job.actor.org_id.as_str();
            let gate = campaign_gate_for(tx, self, org, &job.req.campaign_id).await;
            if let Ok(g) = &gate {
                inputs.push(LoadInput::new(org, &job.req, g));
            }
            gates.push(gate);
        }
        let numbers = self
            .numbers
            .clone()
            .ok_or_else(|| StoreError::Config("no number-hash key configured".into()))?;
        let readers = readers.clone();
        let attempts = self.attempt_index()?;
        let now = group_now(jobs);
        let loaded = tokio::task::spawn_blocking(move || {
            readers.with(|c| {
                // `tx` holds the write lock: every attempt is visible.
                catch_up(c, &attempts, now, true)?;
                Ok(inputs
                    .iter()
                    .map(|input| load_direct(c, &numbers, &attempts, input))
                    .collect::<Vec<_>>())
            })
        })
        .await
        .map_err(|_| StoreError::Config("the dial-check reads stopped".into()))??;
        let mut loaded = loaded.into_iter();
        let mut pending = Pending::default();
        for (&i, gate) in order.iter().zip(gates) {
            let job = &jobs[i];
            let d = gate.and_then(|gate| {
                let facts = loaded.next().ok_or_else(|| {
                    StoreError::Config("a dial check's reads are missing".into())
                })??;
                decide_loaded(job, &pending, &gate, facts)
            });
            settle(i, d, &mut pending, decided, out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On SQLite nothing reads the attempts table by number any more
    /// (ADR 0014): the statements a dial check runs there never touch it,
    /// and the table keeps no index to maintain.
    #[tokio::test]
    async fn sqlite_dial_checks_never_search_the_attempts_table() {
        let dir = tempfile::tempdir().unwrap();
        let _store = crate::vault::tests::store(dir.path(), &[7]).await;
        let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
        let mut q = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {FRESH_FLAGS}"))
            .unwrap();
        let nulls = vec![rusqlite::types::Null; q.parameter_count()];
        let plan: Vec<String> = q
            .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            plan.iter().all(|s| !s.contains("dial_attempts")),
            "{plan:?}"
        );
        let indexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'dial_attempts'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 0);
    }
}
