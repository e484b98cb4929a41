//! Appending to and reading an organization's audit chain.
//!
//! Appends run inside the transaction of the change they describe: if the
//! event cannot be written, the change rolls back with it. The chain head
//! (`audit_heads`) is advanced with `UPDATE … RETURNING`, which takes the
//! head's row lock on PostgreSQL, so concurrent appends of one organization
//! queue instead of forking the chain.

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
    exec!(
        &mut *tx,
        "UPDATE audit_heads SET hash = $2 WHERE org_id = $1",
        org_id,
        hash.to_vec()
    )?;
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

/// Appends several events of one organization, in order: the same chain as
/// appending them one by one, with one update of the chain head and
/// multi-row inserts, for a group of changes committed together.
pub(crate) async fn append_all(
    tx: &mut Tx,
    org_id: &str,
    drafts: Vec<(Draft, &Ctx)>,
) -> Result<(), StoreError> {
    if drafts.is_empty() {
        return Ok(());
    }
    let n = drafts.len() as i64;
    let (last, head) = fetch_optional!(
        &mut *tx,
        (i64, Vec<u8>),
        "UPDATE audit_heads SET seq = seq + $2 WHERE org_id = $1 RETURNING seq, hash",
        org_id,
        n
    )?
    .ok_or_else(|| StoreError::Corrupt(format!("organization {org_id} has no audit chain")))?;
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
        events.push((event, details, prev));
    }
    exec!(
        &mut *tx,
        "UPDATE audit_heads SET hash = $2 WHERE org_id = $1",
        org_id,
        prev.to_vec()
    )?;
    let rows: Vec<NewRow> = events
        .iter()
        .map(|(event, details, hash)| NewRow {
            event: event.view(),
            details,
            hash,
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

/// The state of one chain walk across pages.
struct Walk<'a> {
    verifier: &'a mut ChainVerifier,
    checkpoints: &'a [&'a Checkpoint],
    checkpoint_failures: &'a mut Vec<String>,
    /// Scratch space for the canonical encoding, reused for every event.
    buf: Vec<u8>,
}

enum Page {
    Empty,
    /// Every event verified, through this sequence number.
    Through(i64),
    Broken(ChainBreak),
}

impl Walk<'_> {
    fn event(&mut self, event: &EventView<'_>, hash: &[u8; 32]) -> Result<(), ChainBreak> {
        self.verifier.push_view(event, hash, &mut self.buf)?;
        for c in self.checkpoints.iter().filter(|c| c.seq == event.seq) {
            if c.head() != Some(*hash) {
                self.checkpoint_failures.push(format!(
                    "event {} differs from the checkpoint signed at {}",
                    c.seq,
                    c.created_at.to_rfc3339()
                ));
            }
        }
        Ok(())
    }
}

fn hash_ref(bytes: &[u8]) -> Result<&[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("stored hash is not 32 bytes".into()))
}

/// Verifies a page of `VERIFY_PAGE` rows (of either backend) in order.
macro_rules! walk_rows {
    ($walk:expr, $rows:expr) => {{
        use sqlx::Row;
        let mut page = Page::Empty;
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
            if let Err(b) = $walk.event(&event, hash_ref(row.try_get(3)?)?) {
                page = Page::Broken(b);
                break;
            }
            page = Page::Through(seq);
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
        let (mut verifier, mut after, pruned_through, prune_checkpoint) = match prune {
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
        let checkpoints: Vec<&Checkpoint> =
            checkpoints.into_iter().filter(|c| c.seq > after).collect();
        let mut broken = None;
        let mut walk = Walk {
            verifier: &mut verifier,
            checkpoints: &checkpoints,
            checkpoint_failures: &mut checkpoint_failures,
            buf: Vec::with_capacity(1024),
        };
        loop {
            let mut tx = self.pool.read().await?;
            tx.bind_org(org).await?;
            // Rows are read as borrowed column values and hashed in place:
            // no owned event, no decoded details (see `EventView`).
            let page = match &mut tx {
                Tx::Sqlite(t) => {
                    let rows = sqlx::query(VERIFY_PAGE)
                        .bind(org)
                        .bind(after)
                        .bind(limit_seq)
                        .bind(VERIFY_BATCH)
                        .fetch_all(&mut **t)
                        .await?;
                    walk_rows!(walk, rows)
                }
                Tx::Postgres(t) => {
                    let rows = sqlx::query(VERIFY_PAGE)
                        .bind(org)
                        .bind(after)
                        .bind(limit_seq)
                        .bind(VERIFY_BATCH)
                        .fetch_all(&mut **t)
                        .await?;
                    walk_rows!(walk, rows)
                }
            };
            match page {
                Page::Empty => break,
                Page::Through(seq) => after = seq,
                Page::Broken(b) => {
                    broken = Some(b);
                    break;
                }
            }
        }
        let (verified, head_hash) = verifier.head();
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
            let (last, prev) = fetch_optional!(
                &mut tx,
                (i64, Vec<u8>),
                "UPDATE audit_heads SET seq = seq + $2 WHERE org_id = $1 RETURNING seq, hash",
                org,
                n
            )?
            .ok_or_else(|| StoreError::Corrupt(format!("organization {org} has no audit chain")))?;
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
            exec!(
                &mut tx,
                "UPDATE audit_heads SET hash = $2 WHERE org_id = $1",
                org,
                tail.to_vec()
            )?;
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
const EVENT_COLUMNS: usize = 18;

/// Inserts events (with their hashes) in one statement.
async fn insert_events(tx: &mut Tx, rows: &[NewRow<'_>]) -> Result<(), StoreError> {
    use std::fmt::Write;
    let mut sql = String::from(
        "INSERT INTO audit_events (org_id, seq, id, occurred_at, actor_kind, actor_id, action, target_kind, target_id, \
         outcome, request_id, ip, user_agent, method, route, details, prev_hash, hash) VALUES ",
    );
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
            let rich = serde_json::json!({
                "seq": c.seq,
                "head_hash": c.head_hash,
                "signed_at": c.created_at.to_rfc3339(),
                "key_id": c.key_id,
                "signature": c.signature,
            });
            crate::webhooks::enqueue(
                &mut tx,
                org_id.as_str(),
                "audit.checkpoint",
                crate::webhooks::EventData {
                    thin,
                    rich: Some(rich),
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
