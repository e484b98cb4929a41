//! Calls, their transcripts and their extraction results. Transcripts and
//! extractions enter only as [`RedactedTranscript`] / [`RedactedFields`],
//! whose constructors run the redaction engine; the audit events written
//! here carry counts per kind, never text.

use serde::Serialize;
use tollgate_core::id::{CallKind, ExtractionKind};
use tollgate_core::{CallId, ExtractionId, MemberId, UnixMicros};

use crate::audit::{self, Draft};
use crate::db::{Tx, exec, fetch_all, fetch_optional};
use crate::redacted::{
    RedactedFields, RedactedTranscript, RedactedTurn, RemovedSpan, counts, policy_json,
};
use crate::scope::{Ctx, OrgScope};
use crate::{StoreError, new_id};

#[derive(Debug, Clone, Serialize)]
pub struct Call {
    pub id: CallId,
    pub external_id: String,
    pub direction: String,
    pub campaign_id: Option<String>,
    pub started_at: UnixMicros,
    pub created_by: MemberId,
    pub created_at: UnixMicros,
    pub has_transcript: bool,
}

#[derive(sqlx::FromRow)]
struct CallRow {
    id: String,
    external_id: String,
    direction: String,
    campaign_id: Option<String>,
    started_at: i64,
    created_by_member: String,
    created_at: i64,
    has_transcript: i64,
}

impl CallRow {
    fn into_call(self) -> Result<Call, StoreError> {
        Ok(Call {
            id: CallId::parse(&self.id)?,
            external_id: self.external_id,
            direction: self.direction,
            campaign_id: self.campaign_id,
            started_at: UnixMicros(self.started_at),
            created_by: MemberId::parse(&self.created_by_member)?,
            created_at: UnixMicros(self.created_at),
            has_transcript: self.has_transcript > 0,
        })
    }
}

/// A validated new call. The server checks that no field holds a value the
/// redaction engine would remove before building one.
#[derive(Debug, Clone)]
pub struct NewCall {
    pub external_id: String,
    pub direction: String,
    pub campaign_id: Option<String>,
    pub started_at: UnixMicros,
}

/// A stored, redacted transcript with its map of removals.
#[derive(Debug, Clone, Serialize)]
pub struct Transcript {
    pub call_id: CallId,
    pub turns: Vec<RedactedTurn>,
    pub findings: Vec<RemovedSpan>,
    pub policy: serde_json::Value,
    pub created_at: UnixMicros,
}

/// A stored, redacted extraction result.
#[derive(Debug, Clone, Serialize)]
pub struct Extraction {
    pub id: ExtractionId,
    pub call_id: CallId,
    pub fields: serde_json::Value,
    pub findings: Vec<RemovedSpan>,
    pub policy: serde_json::Value,
    pub created_at: UnixMicros,
}

#[derive(sqlx::FromRow)]
struct TranscriptRow {
    call_id: String,
    body: String,
    findings: String,
    policy: String,
    created_at: i64,
}

#[derive(sqlx::FromRow)]
struct ExtractionRow {
    id: String,
    call_id: String,
    fields: String,
    findings: String,
    policy: String,
    created_at: i64,
}

fn json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt(format!("stored {what}")))
}

fn to_text<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|_| StoreError::Corrupt("unserializable value".into()))
}

/// The stored form of a transcript's turns. Encryption at rest (the vault)
/// goes here and in [`open_transcript`], and nowhere else.
fn seal_transcript(turns: &[RedactedTurn]) -> Result<String, StoreError> {
    to_text(&turns)
}

fn open_transcript(body: &str) -> Result<Vec<RedactedTurn>, StoreError> {
    json("transcript", body)
}

impl TranscriptRow {
    fn into_transcript(self) -> Result<Transcript, StoreError> {
        Ok(Transcript {
            call_id: CallId::parse(&self.call_id)?,
            turns: open_transcript(&self.body)?,
            findings: json("findings", &self.findings)?,
            policy: json("policy", &self.policy)?,
            created_at: UnixMicros(self.created_at),
        })
    }
}

impl ExtractionRow {
    fn into_extraction(self) -> Result<Extraction, StoreError> {
        Ok(Extraction {
            id: ExtractionId::parse(&self.id)?,
            call_id: CallId::parse(&self.call_id)?,
            fields: json("fields", &self.fields)?,
            findings: json("findings", &self.findings)?,
            policy: json("policy", &self.policy)?,
            created_at: UnixMicros(self.created_at),
        })
    }
}

async fn call_by_id(tx: &mut Tx, org: &str, id: &CallId) -> Result<Call, StoreError> {
    fetch_optional!(
        tx,
        CallRow,
        "SELECT c.id, c.external_id, c.direction, c.campaign_id, c.started_at, c.created_by_member, c.created_at, \
         (SELECT COUNT(*) FROM call_transcripts t WHERE t.org_id = c.org_id AND t.call_id = c.id) AS has_transcript \
         FROM calls c WHERE c.org_id = $1 AND c.id = $2",
        org,
        id.as_str()
    )?
    .ok_or(StoreError::NotFound)?
    .into_call()
}

impl OrgScope<'_> {
    pub async fn create_call(&self, input: NewCall, ctx: &Ctx) -> Result<Call, StoreError> {
        let mut tx = self.write().await?;
        let id = new_id::<CallKind>(ctx.now)?;
        // ON CONFLICT rather than a prior SELECT: two concurrent requests
        // with one external id get one call and one 409, not a 500.
        let inserted = exec!(
            &mut tx,
            "INSERT INTO calls (id, org_id, external_id, direction, campaign_id, started_at, created_by_member, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (org_id, external_id) DO NOTHING",
            id.as_str(),
            self.org(),
            input.external_id.clone(),
            input.direction.clone(),
            input.campaign_id.clone(),
            input.started_at.0,
            self.actor.member_id().as_str(),
            ctx.now.0
        )?;
        if inserted == 0 {
            return Err(StoreError::Conflict("call_exists"));
        }
        let call = call_by_id(&mut tx, self.org(), &id).await?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "call.created",
                target: audit::target("call", &id),
                details: serde_json::json!({
                    "external_id": call.external_id,
                    "direction": call.direction,
                    "campaign_id": call.campaign_id,
                    "started_at": call.started_at,
                }),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(call)
    }

    pub async fn list_calls(
        &self,
        after: Option<&CallId>,
        limit: u32,
    ) -> Result<Vec<Call>, StoreError> {
        let mut tx = self.read().await?;
        let rows = fetch_all!(
            &mut tx,
            CallRow,
            "SELECT c.id, c.external_id, c.direction, c.campaign_id, c.started_at, c.created_by_member, c.created_at, \
             (SELECT COUNT(*) FROM call_transcripts t WHERE t.org_id = c.org_id AND t.call_id = c.id) AS has_transcript \
             FROM calls c WHERE c.org_id = $1 AND c.id > $2 ORDER BY c.id LIMIT $3",
            self.org(),
            after.map(|a| a.to_string()).unwrap_or_default(),
            i64::from(limit)
        )?;
        rows.into_iter().map(CallRow::into_call).collect()
    }

    pub async fn get_call(&self, id: &CallId) -> Result<Call, StoreError> {
        let mut tx = self.read().await?;
        call_by_id(&mut tx, self.org(), id).await
    }

    /// Stores a call's transcript, once.
    pub async fn add_transcript(
        &self,
        call: &CallId,
        t: &RedactedTranscript,
        ctx: &Ctx,
    ) -> Result<Transcript, StoreError> {
        let mut tx = self.write().await?;
        call_by_id(&mut tx, self.org(), call).await?;
        let policy = policy_json(t.policy());
        let inserted = exec!(
            &mut tx,
            "INSERT INTO call_transcripts (call_id, org_id, body, findings, policy, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (call_id) DO NOTHING",
            call.as_str(),
            self.org(),
            seal_transcript(t.turns())?,
            to_text(&t.findings())?,
            policy.to_string(),
            ctx.now.0
        )?;
        if inserted == 0 {
            return Err(StoreError::Conflict("transcript_exists"));
        }
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "call.transcript_added",
                target: audit::target("call", call),
                details: serde_json::json!({
                    "turns": t.turns().len(),
                    "removed": counts(t.findings()),
                    "policy": policy,
                }),
            },
            ctx,
        )
        .await?;
        let stored = transcript_row(&mut tx, self.org(), call).await?;
        tx.commit().await?;
        stored
            .ok_or(StoreError::Corrupt("transcript vanished".into()))?
            .into_transcript()
    }

    pub async fn get_transcript(&self, call: &CallId) -> Result<Transcript, StoreError> {
        let mut tx = self.read().await?;
        call_by_id(&mut tx, self.org(), call).await?;
        transcript_row(&mut tx, self.org(), call)
            .await?
            .ok_or(StoreError::NotFound)?
            .into_transcript()
    }

    pub async fn add_extraction(
        &self,
        call: &CallId,
        f: &RedactedFields,
        ctx: &Ctx,
    ) -> Result<Extraction, StoreError> {
        let mut tx = self.write().await?;
        call_by_id(&mut tx, self.org(), call).await?;
        let id = new_id::<ExtractionKind>(ctx.now)?;
        let policy = policy_json(f.policy());
        exec!(
            &mut tx,
            "INSERT INTO call_extractions (id, org_id, call_id, fields, findings, policy, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            id.as_str(),
            self.org(),
            call.as_str(),
            f.fields().to_string(),
            to_text(&f.findings())?,
            policy.to_string(),
            ctx.now.0
        )?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "call.extraction_added",
                target: audit::target("call", call),
                details: serde_json::json!({
                    "extraction_id": id,
                    "removed": counts(f.findings()),
                    "policy": policy,
                }),
            },
            ctx,
        )
        .await?;
        let row = fetch_optional!(
            &mut tx,
            ExtractionRow,
            "SELECT id, call_id, fields, findings, policy, created_at FROM call_extractions WHERE org_id = $1 AND id = $2",
            self.org(),
            id.as_str()
        )?
        .ok_or(StoreError::Corrupt("extraction vanished".into()))?;
        tx.commit().await?;
        row.into_extraction()
    }

    pub async fn list_extractions(
        &self,
        call: &CallId,
        after: Option<&ExtractionId>,
        limit: u32,
    ) -> Result<Vec<Extraction>, StoreError> {
        let mut tx = self.read().await?;
        call_by_id(&mut tx, self.org(), call).await?;
        let rows = fetch_all!(
            &mut tx,
            ExtractionRow,
            "SELECT id, call_id, fields, findings, policy, created_at FROM call_extractions \
             WHERE org_id = $1 AND call_id = $2 AND id > $3 ORDER BY id LIMIT $4",
            self.org(),
            call.as_str(),
            after.map(|a| a.to_string()).unwrap_or_default(),
            i64::from(limit)
        )?;
        rows.into_iter()
            .map(ExtractionRow::into_extraction)
            .collect()
    }
}

async fn transcript_row(
    tx: &mut Tx,
    org: &str,
    call: &CallId,
) -> Result<Option<TranscriptRow>, StoreError> {
    Ok(fetch_optional!(
        tx,
        TranscriptRow,
        "SELECT call_id, body, findings, policy, created_at FROM call_transcripts WHERE org_id = $1 AND call_id = $2",
        org,
        call.as_str()
    )?)
}
