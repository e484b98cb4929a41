//! Appending to and reading an organization's audit chain.
//!
//! Appends run inside the transaction of the change they describe: if the
//! event cannot be written, the change rolls back with it. The chain head
//! (`audit_heads`) is advanced with `UPDATE … RETURNING`, which takes the
//! head's row lock on PostgreSQL, so concurrent appends of one organization
//! queue instead of forking the chain.

use std::sync::Arc;

use serde::Serialize;
use tollgate_core::audit::{
    ActorRef, AuditEvent, ChainBreak, ChainVerifier, Details, EventView, GENESIS, RequestMeta,
    TargetRef, to_hex,
};
use tollgate_core::checkpoint::Checkpoint;
use tollgate_core::id::{EventKind, Id};
use tollgate_core::{OrgId, UnixMicros};

use crate::db::{Tx, exec, fetch_all, fetch_one, fetch_optional};
use crate::scope::{Actor, Ctx, OrgScope};
use crate::{Store, StoreError, mac_array, new_id};

/// What a change says about itself; the chain fields are added on append.
pub(crate) struct Draft {
    pub actor: ActorRef,
    pub action: &'static str,
    pub target: Option<TargetRef>,
    pub details: serde_json::Value,
}

pub(crate) fn target(kind: &str, id: impl ToString) -> Option<TargetRef> {
    Some(TargetRef {
        kind: kind.into(),
        id: id.to_string(),
    })
}

/// Starts an organization's chain. Called once, when the org is created.
pub(crate) async fn start_chain(tx: &mut Tx, org_id: &str) -> Result<(), StoreError> {
    exec!(
        tx,
        "INSERT INTO audit_heads (org_id, seq, hash) VALUES ($1, 0, $2)",
        org_id,
        GENESIS.to_vec()
    )?;
    Ok(())
}

pub(crate) async fn append(
    tx: &mut Tx,
    org_id: &str,
    draft: Draft,
    ctx: &Ctx,
) -> Result<(), StoreError> {
    append_with_outcome(tx, org_id, draft, "success", ctx).await
}

pub(crate) async fn append_with_outcome(
    tx: &mut Tx,
    org_id: &str,
    draft: Draft,
    outcome: &str,
    ctx: &Ctx,
) -> Result<(), StoreError> {
    let (seq, prev) = fetch_optional!(
        &mut *tx,
        (i64, Vec<u8>),
        "UPDATE audit_heads SET seq = seq + 1 WHERE org_id = $1 RETURNING seq, hash",
        org_id
    )?
    .ok_or_else(|| StoreError::Corrupt(format!("organization {org_id} has no audit chain")))?;
    let event = AuditEvent {
        id: new_id::<EventKind>(ctx.now)?.to_string(),
        org_id: org_id.to_owned(),
        seq,
        occurred_at: ctx.now,
        actor: draft.actor,
        action: draft.action.to_owned(),
        target: draft.target,
        outcome: outcome.to_owned(),
        request: ctx.request.clone(),
        details: draft.details,
        prev_hash: mac_array(prev)?,
    };
    let hash = event.hash();
    exec!(&mut *tx, SET_HEAD, org_id, hash.to_vec())?;
    let details = event.details.to_string();
    insert_events(
        tx,
        &[NewRow {
            event: event.view(),
            details: &details,
            hash: &hash,
        }],
    )
    .await?;
    Ok(())
}

/// Advances an organization's chain head by `$2` events and returns the
/// new last sequence number and the hash it had (the previous hash of the
/// first new event). One copy for both drivers: rusqlite binds `$1`, `$2`
/// by name (ADR 0010).
pub(crate) const ADVANCE_HEAD: &str =
    "UPDATE audit_heads SET seq = seq + $2 WHERE org_id = $1 RETURNING seq, hash";

/// Stores the hash of an organization's last event: `$1` org, `$2` hash.
pub(crate) const SET_HEAD: &str = "UPDATE audit_heads SET hash = $2 WHERE org_id = $1";

/// The start of every insert of audit events; [`EVENT_COLUMNS`]
/// placeholders per row follow, in this order.
pub(crate) const INSERT_EVENTS: &str = "INSERT INTO audit_events (org_id, seq, id, occurred_at, actor_kind, actor_id, action, \
     target_kind, target_id, outcome, request_id, ip, user_agent, method, route, details, prev_hash, hash) VALUES ";

/// An event placed in its chain, with the details text to store and its
/// hash.
pub(crate) struct Chained {
    pub event: AuditEvent,
    pub details: String,
    pub hash: [u8; 32],
}

/// Places `drafts` (of one organization, in order) after the head the
/// chain had before [`ADVANCE_HEAD`] moved it to `last`: the same chain as
/// appending them one by one. Both drivers' group appends use it.
pub(crate) fn chain(
    org_id: &str,
    last: i64,
    head: Vec<u8>,
    drafts: Vec<(Draft, &Ctx)>,
) -> Result<Vec<Chained>, StoreError> {
    let n = drafts.len() as i64;
    let mut prev = mac_array(head)?;
    let mut events = Vec::with_capacity(drafts.len());
    for (i, (draft, ctx)) in drafts.into_iter().enumerate() {
        let event = AuditEvent {
            id: new_id::<EventKind>(ctx.now)?.to_string(),
            org_id: org_id.to_owned(),
            seq: last - n + 1 + i as i64,
            occurred_at: ctx.now,
            actor: draft.actor,
            action: draft.action.to_owned(),
            target: draft.target,
            outcome: "success".to_owned(),
            request: ctx.request.clone(),
            details: draft.details,
            prev_hash: prev,
        };
        prev = event.hash();
        let details = event.details.to_string();
        events.push(Chained {
            event,
            details,
            hash: prev,
        });
    }
    Ok(events)
}

/// Appends several events of one organization, in order: the same chain as
/// appending them one by one, with one update of the chain head and
/// multi-row inserts, for a group of changes committed together.
pub(crate) async fn append_all(
    tx: &mut Tx,
    org_id: &str,
    drafts: Vec<(Draft, &Ctx)>,
) -> Result<(), StoreError> {
    let Some(n) = std::num::NonZeroUsize::new(drafts.len()) else {
        return Ok(());
    };
    let (last, head) = fetch_optional!(
        &mut *tx,
        (i64, Vec<u8>),
        ADVANCE_HEAD,
        org_id,
        n.get() as i64
    )?
    .ok_or_else(|| StoreError::Corrupt(format!("organization {org_id} has no audit chain")))?;
    let events = chain(org_id, last, head, drafts)?;
    let tail = events.last().map(|c| c.hash.to_vec()).unwrap_or_default();
    exec!(&mut *tx, SET_HEAD, org_id, tail)?;
    let rows: Vec<NewRow> = events
        .iter()
        .map(|c| NewRow {
            event: c.event.view(),
            details: &c.details,
            hash: &c.hash,
        })
        .collect();
    for chunk in rows.chunks(INSERT_ROWS) {
        insert_events(tx, chunk).await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct EventRow {
    org_id: String,
    seq: i64,
    id: String,
    occurred_at: i64,
    actor_kind: String,
    actor_id: Option<String>,
    action: String,
    target_kind: Option<String>,
    target_id: Option<String>,
    outcome: String,
    request_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    method: Option<String>,
    route: Option<String>,
    details: String,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl EventRow {
    fn into_stored(self) -> Result<StoredEvent, StoreError> {
        let event = AuditEvent {
            id: self.id,
            org_id: self.org_id,
            seq: self.seq,
            occurred_at: UnixMicros(self.occurred_at),
            actor: ActorRef {
                kind: self.actor_kind,
                id: self.actor_id,
            },
            action: self.action,
            target: match (self.target_kind, self.target_id) {
                (Some(kind), Some(id)) => Some(TargetRef { kind, id }),
                _ => None,
            },
            outcome: self.outcome,
            request: RequestMeta {
                request_id: self.request_id,
                ip: self.ip,
                user_agent: self.user_agent,
                method: self.method,
                route: self.route,
            },
            details: serde_json::from_str(&self.details)
                .map_err(|e| StoreError::Corrupt(format!("audit details: {e}")))?,
            prev_hash: mac_array(self.prev_hash)?,
        };
        let hash = mac_array(self.hash)?;
        Ok(StoredEvent {
            event,
            hash: to_hex(&hash),
            raw_hash: hash,
        })
    }
}

/// An event as read back, with the hash stored beside it.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    #[serde(flatten)]
    pub event: AuditEvent,
    pub hash: String,
    #[serde(skip)]
    pub raw_hash: [u8; 32],
}

/// Which events to list; unset fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub since: Option<UnixMicros>,
    pub until: Option<UnixMicros>,
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub route: Option<String>,
    pub outcome: Option<String>,
    /// Leave out `api.call` records (the dashboard's default view: the
    /// changes and security events a person looks for).
    pub without_api_calls: bool,
}

/// A page of events, newest first.
#[derive(Debug, Serialize)]
pub struct AuditPage {
    pub data: Vec<StoredEvent>,
    /// Pass as `before` to read the next (older) page.
    pub next_before: Option<i64>,
}

impl OrgScope<'_> {
    /// Events newest first, `limit` at a time, strictly older than `before`.
    /// Events newest first, `limit` at a time, strictly older than `before`,
    /// matching every filter that is set.
    pub async fn audit_events(
        &self,
        before: Option<i64>,
        limit: u32,
        filter: &AuditFilter,
    ) -> Result<AuditPage, StoreError> {
        let mut tx = self.read().await?;
        let before = before.unwrap_or(i64::MAX);
        // Each optional filter reads `(CAST($n AS T) IS NULL OR column = $n)`:
        // one statement for every combination, valid on both engines.
        let rows = fetch_all!(
            &mut tx,
            EventRow,
            "SELECT * FROM audit_events WHERE org_id = $1 AND seq < $2 \
             AND (CAST($4 AS BIGINT) IS NULL OR occurred_at >= $4) \
             AND (CAST($5 AS BIGINT) IS NULL OR occurred_at < $5) \
             AND (CAST($6 AS TEXT) IS NULL OR actor_id = $6) \
             AND (CAST($7 AS TEXT) IS NULL OR action = $7) \
             AND (CAST($8 AS TEXT) IS NULL OR route = $8) \
             AND (CAST($9 AS TEXT) IS NULL OR outcome = $9) \
             AND (CAST($10 AS BIGINT) IS NULL OR action <> 'api.call') \
             ORDER BY seq DESC LIMIT $3",
            self.org(),
            before,
            i64::from(limit) + 1,
            filter.since.map(|t| t.0),
            filter.until.map(|t| t.0),
            filter.actor_id.clone(),
            filter.action.clone(),
            filter.route.clone(),
            filter.outcome.clone(),
            filter.without_api_calls.then_some(1i64)
        )?;
        let mut data = rows
            .into_iter()
            .map(EventRow::into_stored)
            .collect::<Result<Vec<_>, _>>()?;
        let next_before = if data.len() > limit as usize {
            data.truncate(limit as usize);
            data.last().map(|e| e.event.seq)
        } else {
            None
        };
        Ok(AuditPage { data, next_before })
    }

    /// Events oldest first, strictly after `after`, for exports that stream
    /// the whole log page by page.
    pub async fn audit_events_after(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut tx = self.read().await?;
        let rows = fetch_all!(
            &mut tx,
            EventRow,
            "SELECT * FROM audit_events WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            self.org(),
            after,
            i64::from(limit)
        )?;
        rows.into_iter().map(EventRow::into_stored).collect()
    }

    /// The whole chain in order, for verification.
    pub async fn audit_chain(&self) -> Result<Vec<StoredEvent>, StoreError> {
        let mut tx = self.read().await?;
        let rows = fetch_all!(
            &mut tx,
            EventRow,
            "SELECT * FROM audit_events WHERE org_id = $1 ORDER BY seq",
            self.org()
        )?;
        rows.into_iter().map(EventRow::into_stored).collect()
    }
}

/// The outcome of walking one organization's chain.
#[derive(Debug, Clone)]
pub struct ChainReport {
    pub org_id: OrgId,
    /// Events that verified before the first break (or all of them).
    pub verified: i64,
    pub head_hash: [u8; 32],
    pub broken: Option<ChainBreak>,
    /// The recorded head (count, hash) disagrees with the chain: events were
    /// removed from the end, or the head itself was altered.
    pub head_mismatch: Option<(i64, i64)>,
    /// Signed checkpoints the chain no longer matches: each a sentence.
    pub checkpoint_failures: Vec<String>,
    /// Events 1..=N were pruned under the retention policy; verification
    /// resumed after N, trusting the signed checkpoint stored at N, which the
    /// caller must check (`prune_checkpoint`).
    pub pruned_through: Option<i64>,
    pub prune_checkpoint: Option<Checkpoint>,
}

impl ChainReport {
    pub fn is_intact(&self) -> bool {
        self.broken.is_none() && self.head_mismatch.is_none() && self.checkpoint_failures.is_empty()
    }
}

/// Events are read this many at a time, so verification runs in constant
/// memory however long the chain is.
const VERIFY_BATCH: i64 = 5_000;

/// The rows `walk_rows!` reads. The fourteen text columns come back as one
/// value, each column prefixed by its length in bytes (`-` for NULL):
/// the driver copies and frees every value it returns, and that per-value
/// cost, not hashing, bounds verification (18 values a row read at about
/// 60% of the speed of 5). The framing is written by the database and
/// cannot be ambiguous, and a misread field fails its hash anyway.
const VERIFY_PAGE: &str = "SELECT seq, occurred_at, prev_hash, hash, \
     COALESCE(CAST(octet_length(org_id) AS TEXT) || ':' || org_id, '-') || \
     COALESCE(CAST(octet_length(id) AS TEXT) || ':' || id, '-') || \
     COALESCE(CAST(octet_length(actor_kind) AS TEXT) || ':' || actor_kind, '-') || \
     COALESCE(CAST(octet_length(actor_id) AS TEXT) || ':' || actor_id, '-') || \
     COALESCE(CAST(octet_length(action) AS TEXT) || ':' || action, '-') || \
     COALESCE(CAST(octet_length(target_kind) AS TEXT) || ':' || target_kind, '-') || \
     COALESCE(CAST(octet_length(target_id) AS TEXT) || ':' || target_id, '-') || \
     COALESCE(CAST(octet_length(outcome) AS TEXT) || ':' || outcome, '-') || \
     COALESCE(CAST(octet_length(request_id) AS TEXT) || ':' || request_id, '-') || \
     COALESCE(CAST(octet_length(ip) AS TEXT) || ':' || ip, '-') || \
     COALESCE(CAST(octet_length(user_agent) AS TEXT) || ':' || user_agent, '-') || \
     COALESCE(CAST(octet_length(method) AS TEXT) || ':' || method, '-') || \
     COALESCE(CAST(octet_length(route) AS TEXT) || ':' || route, '-') || \
     COALESCE(CAST(octet_length(details) AS TEXT) || ':' || details, '-') \
     FROM audit_events WHERE org_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4";

/// Splits `VERIFY_PAGE`'s framed text back into its fourteen columns.
fn unframe(mut text: &str) -> Option<[Option<&str>; 14]> {
    let mut out = [None; 14];
    for slot in &mut out {
        if let Some(rest) = text.strip_prefix('-') {
            text = rest;
            continue;
        }
        let (len, rest) = text.split_once(':')?;
        if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let len: usize = len.parse().ok()?;
        *slot = Some(rest.get(..len)?);
        text = rest.get(len..)?;
    }
    text.is_empty().then_some(out)
}

/// One range of a chain, verified on its own: every event's hash depends
/// only on its own stored columns (which include the stored previous hash),
/// so ranges can be checked in parallel and joined in order by [`join`],
/// which checks the links between them.
pub(crate) struct Segment {
    /// The first event read: its sequence number and stored previous hash,
    /// which the join checks against the end of the range before.
    first: Option<(i64, [u8; 32])>,
    verifier: ChainVerifier,
    broken: Option<ChainBreak>,
    /// Checkpoints sorted by sequence number, and the next one to compare.
    checkpoints: Arc<[Checkpoint]>,
    next_checkpoint: usize,
    /// (event, sentence): an event that differs from a signed checkpoint.
    checkpoint_failures: Vec<(i64, String)>,
    /// Scratch space for the canonical encoding, reused for every event.
    buf: Vec<u8>,
}

impl Segment {
    fn new(checkpoints: Arc<[Checkpoint]>, after: i64) -> Segment {
        let next_checkpoint = checkpoints.partition_point(|c| c.seq <= after);
        Segment {
            first: None,
            verifier: ChainVerifier::default(),
            broken: None,
            checkpoints,
            next_checkpoint,
            checkpoint_failures: Vec::new(),
            buf: Vec::with_capacity(1024),
        }
    }

    /// Checks the next event of the range; `false` once the range is
    /// broken, when reading should stop.
    pub(crate) fn push(&mut self, event: &EventView<'_>, hash: &[u8; 32]) -> bool {
        if self.first.is_none() {
            // Rows are read with `seq > after >= 0`, so this cannot underflow.
            self.first = Some((event.seq, *event.prev_hash));
            self.verifier = ChainVerifier::after(event.seq - 1, *event.prev_hash);
        }
        if let Err(b) = self.verifier.push_view(event, hash, &mut self.buf) {
            self.broken = Some(b);
            return false;
        }
        while let Some(c) = self.checkpoints.get(self.next_checkpoint) {
            if c.seq > event.seq {
                break;
            }
            if c.seq == event.seq && c.head() != Some(*hash) {
                self.checkpoint_failures.push((
                    c.seq,
                    format!(
                        "event {} differs from the checkpoint signed at {}",
                        c.seq,
                        c.created_at.to_rfc3339()
                    ),
                ));
            }
            self.next_checkpoint += 1;
        }
        true
    }
}

/// What the joined ranges say: the same as one walk in order would.
struct Joined {
    /// Events verified before the first break, and the last one's hash.
    head: (i64, [u8; 32]),
    broken: Option<ChainBreak>,
    checkpoint_failures: Vec<String>,
}

/// Joins verified ranges in chain order, starting after `start` (count and
/// hash of the last event before the first range). A walk in order checks
/// each event's sequence number, then its link, then its hash, and stops at
/// the first failure; a range checked every event but its first one's
/// sequence number and link, which are checked here against the end of the
/// ranges before. So the first break found is the one a single walk names.
/// A range that failed to read only matters if the walk reaches it.
fn join(
    start: (i64, [u8; 32]),
    segments: impl IntoIterator<Item = Result<Segment, StoreError>>,
) -> Result<Joined, StoreError> {
    let (mut verified, mut prev) = start;
    let mut checkpoint_failures = Vec::new();
    let mut broken = None;
    for segment in segments {
        let segment = segment?;
        let Some((first, first_prev)) = segment.first else {
            continue;
        };
        if first != verified + 1 {
            broken = Some(ChainBreak::SequenceGap {
                expected: verified + 1,
                found: first,
            });
            break;
        }
        if first_prev != prev {
            broken = Some(ChainBreak::BrokenLink { seq: first });
            break;
        }
        // Only events that verified were compared with checkpoints.
        checkpoint_failures.extend(segment.checkpoint_failures.into_iter().map(|(_, s)| s));
        (verified, prev) = segment.verifier.head();
        if segment.broken.is_some() {
            broken = segment.broken;
            break;
        }
    }
    Ok(Joined {
        head: (verified, prev),
        broken,
        checkpoint_failures,
    })
}

/// Chains shorter than this are verified as one range: below it, starting
/// threads costs more than it saves.
const PARALLEL_FROM: i64 = 20_000;

/// `parts` ranges of about equal length covering `after < seq <= last`.
fn ranges(after: i64, last: i64, parts: usize) -> Vec<(i64, i64)> {
    let len = last.saturating_sub(after).max(0);
    let parts = (parts.max(1) as i64).min(len.max(1));
    let step = len / parts;
    (0..parts)
        .map(|i| {
            let lo = after + i * step;
            let hi = if i == parts - 1 { last } else { lo + step };
            (lo, hi)
        })
        .collect()
}

fn hash_ref(bytes: &[u8]) -> Result<&[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("stored hash is not 32 bytes".into()))
}

/// Verifies a page of `VERIFY_PAGE` rows (of either backend) in order;
/// evaluates to whether reading should go on, and the last sequence read.
macro_rules! walk_rows {
    ($segment:expr, $rows:expr) => {{
        use sqlx::Row;
        let mut page = (true, None);
        for row in &$rows {
            let seq: i64 = row.try_get(0)?;
            let corrupt = || StoreError::Corrupt(format!("audit event {seq} cannot be read"));
            let [
                org_id,
                id,
                actor_kind,
                actor_id,
                action,
                target_kind,
                target_id,
                outcome,
                request_id,
                ip,
                user_agent,
                method,
                route,
                details,
            ] = unframe(row.try_get(4)?).ok_or_else(corrupt)?;
            let event = EventView {
                org_id: org_id.ok_or_else(corrupt)?,
                seq,
                id: id.ok_or_else(corrupt)?,
                occurred_at: row.try_get(1)?,
                actor_kind: actor_kind.ok_or_else(corrupt)?,
                actor_id,
                action: action.ok_or_else(corrupt)?,
                target: match (target_kind, target_id) {
                    (Some(kind), Some(id)) => Some((kind, id)),
                    _ => None,
                },
                outcome: outcome.ok_or_else(corrupt)?,
                request_id,
                ip,
                user_agent,
                method,
                route,
                details: Details::canonical_text(details.ok_or_else(corrupt)?).ok_or_else(
                    || StoreError::Corrupt(format!("audit details of event {seq} are not JSON")),
                )?,
                prev_hash: hash_ref(row.try_get(2)?)?,
            };
            if !$segment.push(&event, hash_ref(row.try_get(3)?)?) {
                page.0 = false;
                break;
            }
            page.1 = Some(seq);
        }
        page
    }};
}

impl Store {
    /// An organization's events oldest first, strictly after `after`, for
    /// the operator's export (the CLI). Not reachable from HTTP.
    pub async fn operator_audit_events_after(
        &self,
        org_id: &OrgId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut tx = self.pool.read().await?;
        tx.bind_org(org_id.as_str()).await?;
        let rows = fetch_all!(
            &mut tx,
            EventRow,
            "SELECT * FROM audit_events WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            org_id.as_str(),
            after,
            i64::from(limit)
        )?;
        rows.into_iter().map(EventRow::into_stored).collect()
    }

    /// Every organization id (operator tasks only; ids carry no tenant data).
    pub async fn org_ids(&self) -> Result<Vec<OrgId>, StoreError> {
        let mut tx = self.pool.read().await?;
        let rows = fetch_all!(
            &mut tx,
            (String,),
            "SELECT org_id FROM org_directory ORDER BY org_id"
        )?;
        rows.into_iter()
            .map(|(id,)| OrgId::parse(&id).map_err(StoreError::from))
            .collect()
    }

    /// Walks an organization's audit chain from its first event and reports
    /// the first break. Operator task (the CLI): not reachable from HTTP.
    pub async fn verify_audit_chain(&self, org_id: &OrgId) -> Result<ChainReport, StoreError> {
        self.verify_audit_chain_against(org_id, &[]).await
    }

    /// As [`Store::verify_audit_chain`], and also checks that the chain still
    /// contains each checkpoint's event with the signed hash (signatures are
    /// the caller's to check). This catches truncation even when the recorded
    /// head was rewritten to match.
    pub async fn verify_audit_chain_against(
        &self,
        org_id: &OrgId,
        checkpoints: &[Checkpoint],
    ) -> Result<ChainReport, StoreError> {
        let parts = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.verify_in_parts(org_id, checkpoints, parts, PARALLEL_FROM)
            .await
    }

    /// Verification with the chain split into `parts` ranges checked at
    /// once (one per core), then joined in order; chains shorter than
    /// `parallel_from` events are one range.
    async fn verify_in_parts(
        &self,
        org_id: &OrgId,
        checkpoints: &[Checkpoint],
        parts: usize,
        parallel_from: i64,
    ) -> Result<ChainReport, StoreError> {
        let org = org_id.as_str();
        // The head is read first and the walk stops there, so events appended
        // while verifying (the server keeps running) are left for next time
        // instead of looking like a mismatch.
        let head = {
            let mut tx = self.pool.read().await?;
            tx.bind_org(org).await?;
            fetch_optional!(
                &mut tx,
                (i64, Vec<u8>),
                "SELECT seq, hash FROM audit_heads WHERE org_id = $1",
                org
            )?
        };
        let checkpoints: Vec<&Checkpoint> =
            checkpoints.iter().filter(|c| c.org_id == org).collect();
        let signed_up_to = checkpoints.iter().map(|c| c.seq).max().unwrap_or(0);
        let limit_seq = head
            .as_ref()
            .map_or(i64::MAX, |(seq, _)| (*seq).max(signed_up_to));
        let mut checkpoint_failures = Vec::new();
        // After a prune, the chain resumes from the last removed event,
        // whose hash a signed checkpoint vouches for.
        let (prune, stored_checkpoints) = {
            let mut tx = self.pool.read().await?;
            tx.bind_org(org).await?;
            let prune = fetch_optional!(
                &mut tx,
                (i64, Vec<u8>),
                "SELECT through_seq, through_hash FROM audit_prunes WHERE org_id = $1 ORDER BY through_seq DESC LIMIT 1",
                org
            )?;
            drop(tx);
            {
                let stored = if prune.is_some() {
                    self.checkpoints(org_id).await?
                } else {
                    Vec::new()
                };
                (prune, stored)
            }
        };
        let (verifier, after, pruned_through, prune_checkpoint) = match prune {
            Some((seq, hash)) => {
                let hash = mac_array(hash)?;
                let cp = stored_checkpoints.into_iter().find(|c| c.seq == seq);
                match &cp {
                    Some(c) if c.head() == Some(hash) => {}
                    Some(_) => checkpoint_failures.push(format!(
                        "the chain was pruned through event {seq}, but the recorded cut does not match the signed checkpoint there"
                    )),
                    None => checkpoint_failures.push(format!(
                        "the chain was pruned through event {seq} without a signed checkpoint there: the start cannot be trusted"
                    )),
                }
                (ChainVerifier::after(seq, hash), seq, Some(seq), cp)
            }
            None => (ChainVerifier::default(), 0, None, None),
        };
        let mut checkpoints: Vec<Checkpoint> = checkpoints
            .into_iter()
            .filter(|c| c.seq > after)
            .cloned()
            .collect();
        checkpoints.sort_by_key(|c| c.seq);
        let checkpoints: Arc<[Checkpoint]> = checkpoints.into();
        // Without a recorded head the end is unknown: one range to the end.
        let parts = match &head {
            Some(_) if limit_seq - after >= parallel_from => parts,
            _ => 1,
        };
        let mut tasks = Vec::new();
        for (lo, hi) in ranges(after, limit_seq, parts) {
            let store = self.clone();
            let org = org.to_owned();
            let checkpoints = checkpoints.clone();
            tasks.push(match &self.audit_direct {
                // Blocking reads on threads of their own, one per range.
                Some(direct) => {
                    let direct = direct.clone();
                    tokio::task::spawn_blocking(move || {
                        let mut segment = Segment::new(checkpoints, lo);
                        direct.verify_range(&org, lo, hi, &mut segment)?;
                        Ok(segment)
                    })
                }
                None => tokio::spawn(async move {
                    let mut segment = Segment::new(checkpoints, lo);
                    store.verify_range_paged(&org, lo, hi, &mut segment).await?;
                    Ok(segment)
                }),
            });
        }
        let mut segments = Vec::with_capacity(tasks.len());
        for task in tasks {
            segments.push(
                task.await
                    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())),
            );
        }
        let start = verifier.head();
        let Joined {
            head: (verified, head_hash),
            broken,
            checkpoint_failures: failures,
        } = join(start, segments)?;
        checkpoint_failures.extend(failures);
        if broken.is_none() {
            for c in checkpoints.iter().filter(|c| c.seq > verified) {
                checkpoint_failures.push(format!(
                    "a checkpoint signed at {} covers {} events but the chain has only {verified}: events were removed from the end",
                    c.created_at.to_rfc3339(),
                    c.seq
                ));
            }
        }
        let head_mismatch = match (&broken, head) {
            (Some(_), _) => None,
            (None, Some((seq, hash))) if seq == verified && hash == head_hash.to_vec() => None,
            (None, Some((seq, _))) => Some((seq, verified)),
            (None, None) => Some((-1, verified)),
        };
        Ok(ChainReport {
            org_id: org_id.clone(),
            verified,
            head_hash,
            broken,
            head_mismatch,
            checkpoint_failures,
            pruned_through,
            prune_checkpoint,
        })
    }
}

impl Store {
    /// Verifies events `lo < seq <= hi` through sqlx, keyset pages of
    /// `VERIFY_BATCH` rows (PostgreSQL, or SQLite without a file).
    async fn verify_range_paged(
        &self,
        org: &str,
        mut lo: i64,
        hi: i64,
        segment: &mut Segment,
    ) -> Result<(), StoreError> {
        loop {
            let mut tx = self.pool.read().await?;
            tx.bind_org(org).await?;
            // Rows are read as borrowed column values and hashed in place:
            // no owned event, no decoded details (see `EventView`).
            let (go_on, last) = match &mut tx {
                Tx::Sqlite(t) => {
                    let rows = sqlx::query(VERIFY_PAGE)
                        .bind(org)
                        .bind(lo)
                        .bind(hi)
                        .bind(VERIFY_BATCH)
                        .fetch_all(&mut **t)
                        .await?;
                    walk_rows!(segment, rows)
                }
                Tx::Postgres(t) => {
                    let rows = sqlx::query(VERIFY_PAGE)
                        .bind(org)
                        .bind(lo)
                        .bind(hi)
                        .bind(VERIFY_BATCH)
                        .fetch_all(&mut **t)
                        .await?;
                    walk_rows!(segment, rows)
                }
            };
            match last {
                Some(seq) if go_on => lo = seq,
                _ => return Ok(()),
            }
        }
    }
}

/// One authenticated API request, for the audit log.
#[derive(Debug, Clone)]
pub struct ApiCall {
    pub actor: Actor,
    pub ctx: Ctx,
    pub status: u16,
    pub latency_micros: i64,
    /// Identifiers named in the path, e.g. the `mem_` of `/v1/members/{member_id}`.
    pub path_ids: Vec<String>,
}

impl ApiCall {
    /// `success` below 400; `denied` for 401, 403 and 404 (a 404 is also how
    /// a probe for another tenant's object is answered); `failure` otherwise.
    pub fn outcome(&self) -> &'static str {
        match self.status {
            0..=399 => "success",
            401 | 403 | 404 | 429 => "denied",
            _ => "failure",
        }
    }
}

impl Store {
    /// Appends a batch of API-call events in one transaction (group commit),
    /// each to its own organization's chain. Per organization the head is
    /// advanced once for the whole group and events are inserted many rows
    /// per statement: statements, not hashing, are what a commit costs.
    pub async fn append_api_calls(&self, calls: &[ApiCall]) -> Result<(), StoreError> {
        if let Some(direct) = &self.audit_direct {
            return direct.append_api_calls(api_call_rows(calls)?).await;
        }
        let mut groups: Vec<(&str, Vec<&ApiCall>)> = Vec::new();
        for call in calls {
            let org = call.actor.org_id().as_str();
            match groups.iter_mut().find(|(o, _)| *o == org) {
                Some((_, g)) => g.push(call),
                None => groups.push((org, vec![call])),
            }
        }
        let mut tx = self.pool.write().await?;
        for (org, group) in groups {
            tx.bind_org(org).await?;
            let n = group.len() as i64;
            let (last, prev) = fetch_optional!(&mut tx, (i64, Vec<u8>), ADVANCE_HEAD, org, n)?
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("organization {org} has no audit chain"))
                })?;
            let head = mac_array(prev)?;
            let first = last - n + 1;
            // One system call for every identifier's randomness, not one each.
            let mut random = vec![0u8; 10 * group.len()];
            getrandom::fill(&mut random).map_err(|_| StoreError::Random)?;
            let fields = group
                .iter()
                .zip(random.chunks_exact(10))
                .map(|(call, r)| {
                    let r: [u8; 10] = r.try_into().expect("chunks of 10");
                    let details = serde_json::to_string(&ApiCallDetails {
                        latency_micros: call.latency_micros,
                        path_ids: &call.path_ids,
                        status: call.status,
                    })?;
                    Ok(ApiCallFields {
                        id: Id::<EventKind>::generate(call.ctx.now.millis(), r).to_string(),
                        actor: call.actor.audit_ref(),
                        details,
                    })
                })
                .collect::<Result<Vec<_>, serde_json::Error>>()
                .map_err(|e| StoreError::Corrupt(format!("api call details: {e}")))?;
            let mut hashes: Vec<[u8; 32]> = Vec::with_capacity(group.len());
            let mut buf = Vec::with_capacity(1024);
            for i in 0..group.len() {
                let prev = if i == 0 { head } else { hashes[i - 1] };
                let hash = api_call_row(org, first + i as i64, group[i], &fields[i], &prev)?
                    .event
                    .hash(&mut buf);
                hashes.push(hash);
            }
            let tail = *hashes.last().unwrap_or(&head);
            exec!(&mut tx, SET_HEAD, org, tail.to_vec())?;
            let rows = (0..group.len())
                .map(|i| {
                    let prev = if i == 0 { &head } else { &hashes[i - 1] };
                    Ok(NewRow {
                        hash: &hashes[i],
                        ..api_call_row(org, first + i as i64, group[i], &fields[i], prev)?
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            for chunk in rows.chunks(INSERT_ROWS) {
                insert_events(&mut tx, chunk).await?;
            }
        }
        tx.commit().await
    }
}

/// The calls as owned rows grouped by organization, in order, with ids
/// and details made before the write lock is taken (the rusqlite writer
/// runs on a thread of its own and cannot borrow them).
fn api_call_rows(
    calls: &[ApiCall],
) -> Result<Vec<(String, Vec<crate::audit_sqlite::ApiCallRow>)>, StoreError> {
    // One system call for every identifier's randomness, not one each.
    let mut random = vec![0u8; 10 * calls.len()];
    getrandom::fill(&mut random).map_err(|_| StoreError::Random)?;
    let mut groups: Vec<(String, Vec<crate::audit_sqlite::ApiCallRow>)> = Vec::new();
    for (call, r) in calls.iter().zip(random.chunks_exact(10)) {
        let r: [u8; 10] = r.try_into().expect("chunks of 10");
        let details = serde_json::to_string(&ApiCallDetails {
            latency_micros: call.latency_micros,
            path_ids: &call.path_ids,
            status: call.status,
        })
        .map_err(|e| StoreError::Corrupt(format!("api call details: {e}")))?;
        let actor = call.actor.audit_ref();
        let row = crate::audit_sqlite::ApiCallRow {
            id: Id::<EventKind>::generate(call.ctx.now.millis(), r).to_string(),
            occurred_at: call.ctx.now.0,
            actor_kind: actor.kind,
            actor_id: actor.id,
            outcome: call.outcome(),
            request: call.ctx.request.clone(),
            details,
        };
        let org = call.actor.org_id().as_str();
        match groups.iter_mut().find(|(o, _)| o == org) {
            Some((_, g)) => g.push(row),
            None => groups.push((org.to_owned(), vec![row])),
        }
    }
    Ok(groups)
}

/// The `details` of an `api.call` event. Fields are declared in key order,
/// so serde_json writes exactly the canonical (key-sorted) text.
#[derive(Serialize)]
struct ApiCallDetails<'a> {
    latency_micros: i64,
    path_ids: &'a [String],
    status: u16,
}

/// What an `api.call` event owns; the rest is borrowed from the call.
struct ApiCallFields {
    id: String,
    actor: ActorRef,
    details: String,
}

/// An `api.call` event's row, borrowing from the call and its fields.
fn api_call_row<'a>(
    org: &'a str,
    seq: i64,
    call: &'a ApiCall,
    f: &'a ApiCallFields,
    prev: &'a [u8; 32],
) -> Result<NewRow<'a>, StoreError> {
    Ok(NewRow {
        event: EventView {
            id: &f.id,
            org_id: org,
            seq,
            occurred_at: call.ctx.now.0,
            actor_kind: &f.actor.kind,
            actor_id: f.actor.id.as_deref(),
            action: "api.call",
            target: None,
            outcome: call.outcome(),
            request_id: call.ctx.request.request_id.as_deref(),
            ip: call.ctx.request.ip.as_deref(),
            user_agent: call.ctx.request.user_agent.as_deref(),
            method: call.ctx.request.method.as_deref(),
            route: call.ctx.request.route.as_deref(),
            details: Details::canonical_text(&f.details)
                .ok_or_else(|| StoreError::Corrupt("api call details are not JSON".into()))?,
            prev_hash: prev,
        },
        details: &f.details,
        hash: &GENESIS,
    })
}

/// An event to insert: its fields, the details text to store (the
/// canonical encoding of the value) and its hash.
struct NewRow<'a> {
    event: EventView<'a>,
    details: &'a str,
    hash: &'a [u8; 32],
}

/// Rows per multi-row INSERT: 18 parameters each stays far below SQLite's
/// and PostgreSQL's parameter limits.
const INSERT_ROWS: usize = 64;
pub(crate) const EVENT_COLUMNS: usize = 18;

/// Inserts events (with their hashes) in one statement.
async fn insert_events(tx: &mut Tx, rows: &[NewRow<'_>]) -> Result<(), StoreError> {
    use std::fmt::Write;
    let mut sql = String::from(INSERT_EVENTS);
    // SQLite gets anonymous `?` placeholders: sqlx asks SQLite for each
    // parameter's name, which SQLite finds by a linear scan, so numbered
    // names make a many-row statement quadratic (36% of append time, by perf).
    let numbered = matches!(tx, Tx::Postgres(_));
    for r in 0..rows.len() {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..EVENT_COLUMNS {
            sql.push_str(if c == 0 { "" } else { ", " });
            if numbered {
                let _ = write!(sql, "${}", r * EVENT_COLUMNS + c + 1);
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    // The same binds for either backend.
    macro_rules! bind_rows {
        ($q:expr) => {{
            let mut q = $q;
            for NewRow {
                event: e,
                details,
                hash,
            } in rows
            {
                q = q
                    .bind(e.org_id)
                    .bind(e.seq)
                    .bind(e.id)
                    .bind(e.occurred_at)
                    .bind(e.actor_kind)
                    .bind(e.actor_id)
                    .bind(e.action)
                    .bind(e.target.map(|(kind, _)| kind))
                    .bind(e.target.map(|(_, id)| id))
                    .bind(e.outcome)
                    .bind(e.request_id)
                    .bind(e.ip)
                    .bind(e.user_agent)
                    .bind(e.method)
                    .bind(e.route)
                    .bind(*details)
                    .bind(e.prev_hash.as_slice())
                    .bind(hash.as_slice());
            }
            q
        }};
    }
    match tx {
        Tx::Sqlite(t) => {
            bind_rows!(sqlx::query(&sql)).execute(&mut **t).await?;
        }
        Tx::Postgres(t) => {
            bind_rows!(sqlx::query(&sql)).execute(&mut **t).await?;
        }
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct CheckpointRow {
    org_id: String,
    seq: i64,
    head_hash: String,
    created_at: i64,
    key_id: String,
    signature: String,
}

impl Store {
    /// Stores a signed checkpoint; signing the same event twice is a no-op.
    /// Operator and server task only: not reachable from HTTP.
    pub async fn record_checkpoint(
        &self,
        org_id: &OrgId,
        c: &Checkpoint,
    ) -> Result<(), StoreError> {
        if c.org_id != org_id.as_str() {
            return Err(StoreError::Invalid(
                "checkpoint of another organization".into(),
            ));
        }
        let mut tx = self.pool.write().await?;
        tx.bind_org(org_id.as_str()).await?;
        let added = exec!(
            &mut tx,
            "INSERT INTO audit_checkpoints (org_id, seq, head_hash, created_at, key_id, signature) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org_id, seq) DO NOTHING",
            org_id.as_str(),
            c.seq,
            c.head_hash.clone(),
            c.created_at.0,
            c.key_id.clone(),
            c.signature.clone()
        )?;
        if added > 0 {
            // Receivers can keep their own copy of each signed head: with it,
            // a later truncation of the log is evident outside Tollgate too.
            let thin = serde_json::json!({
                "seq": c.seq,
                "head_hash": c.head_hash,
                "signed_at": c.created_at.to_rfc3339(),
            });
            let rich = || {
                serde_json::json!({
                    "seq": c.seq,
                    "head_hash": c.head_hash,
                    "signed_at": c.created_at.to_rfc3339(),
                    "key_id": c.key_id,
                    "signature": c.signature,
                })
            };
            crate::webhooks::enqueue(
                &mut tx,
                org_id.as_str(),
                "audit.checkpoint",
                crate::webhooks::EventData {
                    thin,
                    rich: Some(Box::new(rich)),
                },
                c.created_at,
            )
            .await?;
        }
        tx.commit().await
    }

    /// An organization's stored checkpoints, oldest first (operator tools;
    /// tenants read theirs through [`OrgScope::audit_checkpoints`]).
    pub async fn checkpoints(&self, org_id: &OrgId) -> Result<Vec<Checkpoint>, StoreError> {
        let mut tx = self.pool.read().await?;
        tx.bind_org(org_id.as_str()).await?;
        let rows = fetch_all!(
            &mut tx,
            CheckpointRow,
            "SELECT org_id, seq, head_hash, created_at, key_id, signature FROM audit_checkpoints WHERE org_id = $1 ORDER BY seq",
            org_id.as_str()
        )?;
        Ok(rows
            .into_iter()
            .map(|r| Checkpoint {
                version: 1,
                org_id: r.org_id,
                seq: r.seq,
                head_hash: r.head_hash,
                created_at: UnixMicros(r.created_at),
                key_id: r.key_id,
                signature: r.signature,
            })
            .collect())
    }
}

impl OrgScope<'_> {
    /// The organization's own signed checkpoints, oldest first, for export
    /// to where the database's owner cannot change them.
    pub async fn audit_checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        self.store.checkpoints(&self.actor.org_id).await
    }
}

impl Store {
    /// The last event of `org` older than `cutoff` such that every event
    /// before it is older too: how far retention allows pruning.
    pub async fn prunable_through(
        &self,
        org_id: &OrgId,
        cutoff: UnixMicros,
    ) -> Result<Option<i64>, StoreError> {
        let org = org_id.as_str();
        let mut tx = self.pool.read().await?;
        tx.bind_org(org).await?;
        let (first_young,) = fetch_one!(
            &mut tx,
            (Option<i64>,),
            "SELECT MIN(seq) FROM audit_events WHERE org_id = $1 AND occurred_at >= $2",
            org,
            cutoff.0
        )?;
        let (last,) = fetch_one!(
            &mut tx,
            (Option<i64>,),
            "SELECT MAX(seq) FROM audit_events WHERE org_id = $1",
            org
        )?;
        let (first,) = fetch_one!(
            &mut tx,
            (Option<i64>,),
            "SELECT MIN(seq) FROM audit_events WHERE org_id = $1",
            org
        )?;
        let through = match (first_young, last) {
            (Some(young), _) => young - 1,
            (None, Some(last)) => last,
            (None, None) => return Ok(None),
        };
        Ok(if first.is_some_and(|f| through >= f) {
            Some(through)
        } else {
            None
        })
    }

    /// The hash stored with event `seq`.
    pub async fn audit_event_hash(&self, org_id: &OrgId, seq: i64) -> Result<[u8; 32], StoreError> {
        let mut tx = self.pool.read().await?;
        tx.bind_org(org_id.as_str()).await?;
        let (hash,) = fetch_optional!(
            &mut tx,
            (Vec<u8>,),
            "SELECT hash FROM audit_events WHERE org_id = $1 AND seq = $2",
            org_id.as_str(),
            seq
        )?
        .ok_or(StoreError::NotFound)?;
        mac_array(hash)
    }

    /// Removes events 1..=`through` of `org` (retention) and records the cut,
    /// in one transaction with an `audit.pruned` event. Must run on a store
    /// opened with the owner role: the application role has no DELETE on
    /// the audit log at all. The caller signs a checkpoint at `through`
    /// first, so verification can resume from it.
    pub async fn prune_audit_through(
        &self,
        org_id: &OrgId,
        through: i64,
        retention_days: i32,
        ctx: &Ctx,
    ) -> Result<u64, StoreError> {
        let org = org_id.as_str();
        let hash = self.audit_event_hash(org_id, through).await?;
        let mut tx = self.pool.write().await?;
        tx.bind_org(org).await?;
        match &mut tx {
            Tx::Postgres(t) => {
                sqlx::query("SELECT set_config('tollgate.pruning', 'on', true)")
                    .execute(&mut **t)
                    .await?;
            }
            // SQLite has no roles; the trigger is lifted inside this
            // transaction only and restored before it commits.
            Tx::Sqlite(t) => {
                sqlx::query("DROP TRIGGER audit_events_no_delete")
                    .execute(&mut **t)
                    .await?;
            }
        }
        let removed = exec!(
            &mut tx,
            "DELETE FROM audit_events WHERE org_id = $1 AND seq <= $2",
            org,
            through
        )?;
        if let Tx::Sqlite(t) = &mut tx {
            sqlx::query(
                "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events \
                 BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
            )
            .execute(&mut **t)
            .await?;
        }
        exec!(
            &mut tx,
            "INSERT INTO audit_prunes (org_id, through_seq, through_hash, pruned_at, removed) VALUES ($1, $2, $3, $4, $5)",
            org,
            through,
            hash.to_vec(),
            ctx.now.0,
            i64::try_from(removed).unwrap_or(i64::MAX)
        )?;
        append(
            &mut tx,
            org,
            Draft {
                actor: ActorRef {
                    kind: "operator".into(),
                    id: None,
                },
                action: "audit.pruned",
                target: None,
                details: serde_json::json!({
                    "through_seq": through,
                    "through_hash": to_hex(&hash),
                    "removed": removed,
                    "retention_days": retention_days,
                }),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BootstrapInput, PoolSettings};
    use tollgate_core::token::{HashKey, TokenHasher};

    const NOW: UnixMicros = UnixMicros(1_795_000_000_000_000);

    async fn sqlite_store(dir: &std::path::Path) -> Store {
        let url = format!("sqlite://{}", dir.join("audit.db").display());
        crate::migrate(&url, None).await.unwrap();
        let hasher = std::sync::Arc::new(TokenHasher::new(vec![HashKey::new([3; 32])]).unwrap());
        Store::open(&url, &PoolSettings::default(), hasher)
            .await
            .unwrap()
    }

    /// A new organization and an API call by its first key.
    async fn org_and_call(store: &Store, label: &str) -> (OrgId, ApiCall) {
        let token = store.create_bootstrap_token(NOW, 900).await.unwrap();
        let ctx = Ctx {
            now: NOW,
            request: Default::default(),
        };
        let done = store
            .redeem_bootstrap(
                &token.plaintext,
                BootstrapInput {
                    org_name: label.into(),
                    owner_name: "Owner".into(),
                    owner_email: format!("o@{label}.example.com"),
                },
                &ctx,
            )
            .await
            .unwrap();
        let actor = store
            .authenticate_api_key(&done.token.plaintext, NOW)
            .await
            .unwrap();
        let call = ApiCall {
            actor,
            ctx: Ctx {
                now: NOW,
                request: RequestMeta {
                    request_id: Some("req_1".into()),
                    ip: Some("127.0.0.1".into()),
                    user_agent: Some("test".into()),
                    method: Some("GET".into()),
                    route: Some("/v1/members/{member_id}".into()),
                },
            },
            status: 200,
            latency_micros: 5,
            path_ids: vec!["mem_1".into()],
        };
        (done.org.id, call)
    }

    /// One event written by sqlx inside its own transaction, as a change's.
    async fn append_by_sqlx(store: &Store, org: &OrgId, i: usize) {
        let mut tx = store.pool.write().await.unwrap();
        append(
            &mut tx,
            org.as_str(),
            Draft {
                actor: ActorRef {
                    kind: "system".into(),
                    id: None,
                },
                action: "test.changed",
                target: target("thing", i),
                details: serde_json::json!({ "i": i }),
            },
            &Ctx {
                now: NOW,
                request: Default::default(),
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }

    /// Every event of the chain in order, through sqlx, walked one by one:
    /// the reference the parallel verifier must agree with.
    async fn walk_in_order(store: &Store, org: &OrgId) -> (Option<ChainBreak>, (i64, [u8; 32])) {
        let mut v = ChainVerifier::default();
        let mut after = 0;
        loop {
            let page = store
                .operator_audit_events_after(org, after, 1000)
                .await
                .unwrap();
            let Some(last) = page.last() else {
                return (None, v.head());
            };
            after = last.event.seq;
            for e in &page {
                if let Err(b) = v.push(&e.event, &e.raw_hash) {
                    return (Some(b), v.head());
                }
            }
        }
    }

    async fn tamper(dir: &std::path::Path, org: &OrgId, statements: &[String]) {
        use sqlx::Connection;
        let url = format!("sqlite://{}", dir.join("audit.db").display());
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        for s in [
            "DROP TRIGGER IF EXISTS audit_events_no_update",
            "DROP TRIGGER IF EXISTS audit_events_no_delete",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(statements.iter().map(|s| s.replace("{org}", org.as_str())))
        {
            sqlx::raw_sql(&s).execute(&mut c).await.unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn both_writers_interleave_on_one_org_and_the_chain_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path()).await;
        assert!(
            store.audit_direct.is_some(),
            "SQLite appends go through rusqlite"
        );
        let (org, call) = org_and_call(&store, "both").await;
        let before = store.verify_audit_chain(&org).await.unwrap().verified;
        let batch: Vec<ApiCall> = (0..50).map(|_| call.clone()).collect();
        let direct = {
            let store = store.clone();
            tokio::spawn(async move {
                for _ in 0..30 {
                    store.append_api_calls(&batch).await.unwrap();
                }
            })
        };
        let by_sqlx = {
            let store = store.clone();
            let org = org.clone();
            tokio::spawn(async move {
                for i in 0..60 {
                    append_by_sqlx(&store, &org, i).await;
                }
            })
        };
        direct.await.unwrap();
        by_sqlx.await.unwrap();
        let report = store.verify_audit_chain(&org).await.unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.verified, before + 30 * 50 + 60);
        // And alternating one after the other, whatever the timing above
        // did: each writer picks up the head the other one left.
        let batch_of_3 = vec![call.clone(); 3];
        for i in 0..5 {
            append_by_sqlx(&store, &org, 100 + i).await;
            store.append_api_calls(&batch_of_3).await.unwrap();
        }
        let report = store.verify_audit_chain(&org).await.unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.verified, before + 30 * 50 + 60 + 5 * 4);
        let events = store
            .operator_audit_events_after(&org, report.verified - 8, 100)
            .await
            .unwrap();
        let actions: Vec<&str> = events.iter().map(|e| e.event.action.as_str()).collect();
        let three_calls_after_a_change = ["test.changed", "api.call", "api.call", "api.call"];
        assert_eq!(actions, [three_calls_after_a_change; 2].concat());
        store.close().await;
    }

    /// Split into ranges, the chain names the same first break, the same
    /// count of verified events and the same checkpoint failures as one
    /// walk in order, wherever the tampering falls relative to the joins.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parallel_ranges_name_the_first_break_of_one_walk() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path()).await;
        let seq_hash = |seq: i64| {
            format!("(SELECT hash FROM audit_events WHERE org_id = '{{org}}' AND seq = {seq})")
        };
        // Chains of 203 events split in 7 ranges of 29 (the bootstrap
        // writes a few events first): joins after 29, 58, 87, ...
        let cases: Vec<(&str, Vec<String>)> = vec![
            ("intact", vec![]),
            ("edit first of a range", vec!["UPDATE audit_events SET details = '{\"x\":1}' WHERE org_id = '{org}' AND seq = 59".into()]),
            ("edit last of a range", vec!["UPDATE audit_events SET ip = '10.0.0.1' WHERE org_id = '{org}' AND seq = 58".into()]),
            ("relink at a join", vec![format!("UPDATE audit_events SET prev_hash = {} WHERE org_id = '{{org}}' AND seq = 88", seq_hash(86))]),
            ("delete first of a range", vec!["DELETE FROM audit_events WHERE org_id = '{org}' AND seq = 30".into()]),
            ("delete a whole range", vec!["DELETE FROM audit_events WHERE org_id = '{org}' AND seq > 58 AND seq <= 87".into()]),
            ("delete the first event", vec!["DELETE FROM audit_events WHERE org_id = '{org}' AND seq = 1".into()]),
            ("swap across a join", vec![
                "UPDATE audit_events SET seq = -1 WHERE org_id = '{org}' AND seq = 116".into(),
                "UPDATE audit_events SET seq = 116 WHERE org_id = '{org}' AND seq = 117".into(),
                "UPDATE audit_events SET seq = 117 WHERE org_id = '{org}' AND seq = -1".into(),
            ]),
            ("two breaks, the later range's first", vec![
                "UPDATE audit_events SET outcome = 'failure' WHERE org_id = '{org}' AND seq = 150".into(),
                "DELETE FROM audit_events WHERE org_id = '{org}' AND seq = 40".into(),
            ]),
            ("truncated tail", vec!["DELETE FROM audit_events WHERE org_id = '{org}' AND seq > 190".into()]),
        ];
        for (label, statements) in cases {
            let (org, call) = org_and_call(&store, &label.replace([' ', ','], "-")).await;
            let head = store.verify_audit_chain(&org).await.unwrap().verified;
            let batch: Vec<ApiCall> = (0..(203 - head)).map(|_| call.clone()).collect();
            store.append_api_calls(&batch).await.unwrap();
            // Checkpoints: one true, one false, in different ranges.
            let true_hash = to_hex(&store.audit_event_hash(&org, 70).await.unwrap());
            let checkpoint = |seq: i64, head_hash: String| Checkpoint {
                version: 1,
                org_id: org.to_string(),
                seq,
                head_hash,
                created_at: NOW,
                key_id: "k".into(),
                signature: String::new(),
            };
            let checkpoints = [
                checkpoint(120, to_hex(&[1; 32])),
                checkpoint(70, true_hash),
                checkpoint(25, to_hex(&[2; 32])),
            ];
            tamper(dir.path(), &org, &statements).await;
            let (expected_break, (expected_count, expected_hash)) =
                walk_in_order(&store, &org).await;
            let one = store
                .verify_in_parts(&org, &checkpoints, 1, 0)
                .await
                .unwrap();
            assert_eq!(one.broken, expected_break, "{label}");
            assert_eq!(
                (one.verified, one.head_hash),
                (expected_count, expected_hash),
                "{label}"
            );
            let whole = matches!(label, "intact" | "truncated tail");
            assert_eq!(whole, expected_break.is_none(), "{label}");
            assert_eq!(
                label == "truncated tail",
                one.head_mismatch == Some((203, 190)),
                "{label}"
            );
            for parts in [2, 3, 7, 16, 500] {
                let many = store
                    .verify_in_parts(&org, &checkpoints, parts, 0)
                    .await
                    .unwrap();
                assert_eq!(many.broken, one.broken, "{label}, {parts} parts");
                assert_eq!(many.verified, one.verified, "{label}, {parts} parts");
                assert_eq!(many.head_hash, one.head_hash, "{label}, {parts} parts");
                assert_eq!(
                    many.head_mismatch, one.head_mismatch,
                    "{label}, {parts} parts"
                );
                assert_eq!(
                    many.checkpoint_failures, one.checkpoint_failures,
                    "{label}, {parts} parts"
                );
            }
        }
        store.close().await;
    }

    #[test]
    fn ranges_cover_the_chain_once() {
        for (after, last, parts) in [
            (0, 203, 7),
            (5, 6, 4),
            (0, 0, 2),
            (10, 100_000, 2),
            (0, 3, 16),
        ] {
            let r = ranges(after, last, parts);
            assert_eq!(r.first().unwrap().0, after);
            assert_eq!(r.last().unwrap().1, last);
            assert!(r.windows(2).all(|w| w[0].1 == w[1].0 && w[0].0 <= w[0].1));
            assert!(r.len() <= parts);
        }
    }

    /// `api.call` details are written straight from a struct; the text must
    /// be what the key-sorted `serde_json::Value` they replace would give,
    /// or events would hash differently from before.
    #[test]
    fn framed_columns_split_back_exactly() {
        let text = "5:org_a-3:a:b0:2:\u{e9}-";
        let mut expected = [None; 14];
        expected[0] = Some("org_a");
        expected[2] = Some("a:b");
        expected[3] = Some("");
        expected[4] = Some("\u{e9}");
        let whole = format!("{text}{}", "-".repeat(8));
        assert_eq!(unframe(&whole), Some(expected));
        // Too short, too long, a bad length, a length inside a character.
        assert!(unframe(text).is_none());
        assert!(unframe(&format!("{whole}x")).is_none());
        assert!(unframe(&format!("{whole}-")).is_none());
        assert!(unframe(&format!("+1:a{}", "-".repeat(13))).is_none());
        assert!(unframe(&format!("1:\u{e9}{}", "-".repeat(13))).is_none());
    }

    #[test]
    fn api_call_details_text_is_the_canonical_value_text() {
        for (status, latency_micros, path_ids) in [
            (200u16, 850i64, vec![]),
            (
                404,
                -1,
                vec!["mem_01".to_owned(), "a\"b\\c\u{1}é".to_owned()],
            ),
            (u16::MAX, i64::MIN, vec![String::new()]),
        ] {
            let text = serde_json::to_string(&ApiCallDetails {
                latency_micros,
                path_ids: &path_ids,
                status,
            })
            .unwrap();
            let value = serde_json::json!({
                "status": status,
                "latency_micros": latency_micros,
                "path_ids": path_ids,
            });
            assert_eq!(text, value.to_string());
        }
    }
}
