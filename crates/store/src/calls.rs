//! Calls, their transcripts and their extraction results. Transcripts and
//! extractions enter only as [`RedactedTranscript`] / [`RedactedFields`],
//! whose constructors run the redaction engine; the audit events written
//! here carry counts per kind, never text. Both are also sealed at rest
//! with the organization's data key ([`TRANSCRIPT_BODY`],
//! [`EXTRACTION_FIELDS`]; ADR 0103): a copy of the database shows which
//! kinds were removed where, never a word that was kept.

use serde::Serialize;
use tollgate_core::id::{CallKind, ExtractionKind};
use tollgate_core::{CallId, ExtractionId, MemberId, UnixMicros};

use crate::audit::{self, Draft};
use crate::db::{Tx, exec, fetch_all, fetch_optional};
use crate::redacted::{
    RedactedFields, RedactedTranscript, RedactedTurn, RemovedSpan, counts, policy_json,
};
use crate::scope::{Ctx, OrgScope};
use crate::vault::EncryptedColumn;
use crate::{Store, StoreError, new_id};

/// A transcript's redacted turns (JSON), sealed. Rows written before
/// migration 0011 hold them in `body` until a DEK rotation seals them.
pub(crate) const TRANSCRIPT_BODY: EncryptedColumn = EncryptedColumn {
    table: "call_transcripts",
    id_column: "call_id",
    column: "body_sealed",
    system: false,
    legacy_plaintext: Some("body"),
};

/// An extraction's redacted fields (JSON), sealed; `fields` holds them for
/// rows written before migration 0011 until a DEK rotation seals them.
pub(crate) const EXTRACTION_FIELDS: EncryptedColumn = EncryptedColumn {
    table: "call_extractions",
    id_column: "id",
    column: "fields_sealed",
    system: false,
    legacy_plaintext: Some("fields"),
};

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
    body: Option<String>,
    body_sealed: Option<Vec<u8>>,
    findings: String,
    policy: String,
    created_at: i64,
}

#[derive(sqlx::FromRow)]
struct ExtractionRow {
    id: String,
    call_id: String,
    fields: Option<String>,
    fields_sealed: Option<Vec<u8>>,
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

/// Seals the JSON of `value` into `column` of the row `record`.
async fn seal_json<T: Serialize>(
    store: &Store,
    tx: &mut Tx,
    column: &EncryptedColumn,
    org: &str,
    record: &str,
    value: &T,
) -> Result<Vec<u8>, StoreError> {
    let plain = serde_json::to_vec(value)
        .map_err(|_| StoreError::Corrupt("unserializable value".into()))?;
    column.seal(store, tx, org, record, &plain).await
}

/// The value of a row of `column`: sealed, or (a row from before the column
/// was encrypted, not yet sealed by a DEK rotation) its legacy plaintext.
async fn open_json<T: serde::de::DeserializeOwned>(
    store: &Store,
    tx: &mut Tx,
    column: &EncryptedColumn,
    org: &str,
    record: &str,
    sealed: Option<&[u8]>,
    legacy: Option<&str>,
) -> Result<T, StoreError> {
    match (sealed, legacy) {
        (Some(sealed), _) => {
            let plain = column.open(store, tx, org, record, sealed).await?;
            serde_json::from_slice(&plain)
                .map_err(|_| StoreError::Corrupt(format!("sealed {}", column.table)))
        }
        (None, Some(text)) => json(column.table, text),
        (None, None) => Err(StoreError::Corrupt(format!(
            "{} {record} holds no value",
            column.table
        ))),
    }
}

impl TranscriptRow {
    async fn into_transcript(
        self,
        store: &Store,
        tx: &mut Tx,
        org: &str,
    ) -> Result<Transcript, StoreError> {
        let turns = open_json(
            store,
            tx,
            &TRANSCRIPT_BODY,
            org,
            &self.call_id,
            self.body_sealed.as_deref(),
            self.body.as_deref(),
        )
        .await?;
        Ok(Transcript {
            call_id: CallId::parse(&self.call_id)?,
            turns,
            findings: json("findings", &self.findings)?,
            policy: json("policy", &self.policy)?,
            created_at: UnixMicros(self.created_at),
        })
    }
}

impl ExtractionRow {
    async fn into_extraction(
        self,
        store: &Store,
        tx: &mut Tx,
        org: &str,
    ) -> Result<Extraction, StoreError> {
        let fields = open_json(
            store,
            tx,
            &EXTRACTION_FIELDS,
            org,
            &self.id,
            self.fields_sealed.as_deref(),
            self.fields.as_deref(),
        )
        .await?;
        Ok(Extraction {
            id: ExtractionId::parse(&self.id)?,
            call_id: CallId::parse(&self.call_id)?,
            fields,
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
        let sealed = seal_json(
            self.store,
            &mut tx,
            &TRANSCRIPT_BODY,
            self.org(),
            call.as_str(),
            &t.turns(),
        )
        .await?;
        let inserted = exec!(
            &mut tx,
            "INSERT INTO call_transcripts (call_id, org_id, body_sealed, findings, policy, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (call_id) DO NOTHING",
            call.as_str(),
            self.org(),
            sealed,
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
        let stored = transcript_row(&mut tx, self.org(), call)
            .await?
            .ok_or(StoreError::Corrupt("transcript vanished".into()))?
            .into_transcript(self.store, &mut tx, self.org())
            .await?;
        tx.commit().await?;
        Ok(stored)
    }

    pub async fn get_transcript(&self, call: &CallId) -> Result<Transcript, StoreError> {
        let mut tx = self.read().await?;
        call_by_id(&mut tx, self.org(), call).await?;
        transcript_row(&mut tx, self.org(), call)
            .await?
            .ok_or(StoreError::NotFound)?
            .into_transcript(self.store, &mut tx, self.org())
            .await
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
        let sealed = seal_json(
            self.store,
            &mut tx,
            &EXTRACTION_FIELDS,
            self.org(),
            id.as_str(),
            f.fields(),
        )
        .await?;
        exec!(
            &mut tx,
            "INSERT INTO call_extractions (id, org_id, call_id, fields_sealed, findings, policy, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            id.as_str(),
            self.org(),
            call.as_str(),
            sealed,
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
            "SELECT id, call_id, fields, fields_sealed, findings, policy, created_at FROM call_extractions WHERE org_id = $1 AND id = $2",
            self.org(),
            id.as_str()
        )?
        .ok_or(StoreError::Corrupt("extraction vanished".into()))?
        .into_extraction(self.store, &mut tx, self.org())
        .await?;
        tx.commit().await?;
        Ok(row)
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
            "SELECT id, call_id, fields, fields_sealed, findings, policy, created_at FROM call_extractions \
             WHERE org_id = $1 AND call_id = $2 AND id > $3 ORDER BY id LIMIT $4",
            self.org(),
            call.as_str(),
            after.map(|a| a.to_string()).unwrap_or_default(),
            i64::from(limit)
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(row.into_extraction(self.store, &mut tx, self.org()).await?);
        }
        Ok(out)
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
        "SELECT call_id, body, body_sealed, findings, policy, created_at FROM call_transcripts WHERE org_id = $1 AND call_id = $2",
        org,
        call.as_str()
    )?)
}

#[cfg(test)]
mod tests {
    use tollgate_core::OrgId;
    use tollgate_core::envelope;
    use tollgate_redact::Policy;

    use super::*;
    use crate::db::fetch_one;
    use crate::redacted::Speaker;
    use crate::scope::test_owner as actor;
    use crate::vault::tests::{ORG_A, ORG_B, kek, store};

    /// Words that survive redaction (none is a sensitive kind), so they
    /// are stored: only encryption keeps them out of the file.
    const WORDS: &[&str] = &["zanzibarquokka", "marmaladeheron", "vermilionotter"];

    static NEXT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);

    fn ctx() -> Ctx {
        // Distinct milliseconds: ids sort in creation order.
        Ctx {
            now: UnixMicros(1_000 * NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)),
            request: Default::default(),
        }
    }

    /// A call with a transcript and one extraction, all naming `tag`.
    async fn call_with_words(store: &Store, org: &str, tag: &str) -> (CallId, ExtractionId) {
        let actor = actor(org);
        let scope = store.scope(&actor);
        let call = scope
            .create_call(
                NewCall {
                    external_id: format!("ext-{tag}"),
                    direction: "outbound".into(),
                    campaign_id: None,
                    started_at: UnixMicros(1),
                },
                &ctx(),
            )
            .await
            .unwrap();
        let turns = [
            (Speaker::Agent, format!("hello {} {tag}", WORDS[0])),
            (
                Speaker::Caller,
                format!("my card is 4111 1111 1111 1111, {}", WORDS[1]),
            ),
        ];
        let turns: Vec<(Speaker, &str)> = turns.iter().map(|(s, t)| (*s, t.as_str())).collect();
        let t = RedactedTranscript::redact(&turns, &Policy::standard()).unwrap();
        scope.add_transcript(&call.id, &t, &ctx()).await.unwrap();
        let f = RedactedFields::redact(
            &serde_json::json!({"note": format!("{} {tag}", WORDS[2]), "ssn": "123-45-6789"}),
            &Policy::standard(),
        )
        .unwrap();
        let e = scope.add_extraction(&call.id, &f, &ctx()).await.unwrap();
        (call.id, e.id)
    }

    async fn transcript_text(
        store: &Store,
        org: &str,
        call: &CallId,
    ) -> Result<String, StoreError> {
        let actor = actor(org);
        let t = store.scope(&actor).get_transcript(call).await?;
        Ok(t.turns
            .iter()
            .map(|t| t.text.as_str())
            .collect::<Vec<_>>()
            .join(" | "))
    }

    async fn extraction_note(
        store: &Store,
        org: &str,
        call: &CallId,
    ) -> Result<String, StoreError> {
        let actor = actor(org);
        let e = store.scope(&actor).list_extractions(call, None, 10).await?;
        Ok(e[0].fields["note"].as_str().unwrap().to_owned())
    }

    fn file_bytes(dir: &std::path::Path) -> Vec<u8> {
        let mut bytes = Vec::new();
        for f in ["t.db", "t.db-wal"] {
            bytes.extend(std::fs::read(dir.join(f)).unwrap_or_default());
        }
        bytes
    }

    fn holds(bytes: &[u8], word: &str) -> bool {
        bytes.windows(word.len()).any(|w| w == word.as_bytes())
    }

    #[tokio::test]
    async fn transcripts_and_extractions_are_sealed_at_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), &[7]).await;
        let (call, _) = call_with_words(&store, ORG_A, "alpha").await;
        let text = transcript_text(&store, ORG_A, &call).await.unwrap();
        assert!(text.contains(WORDS[0]) && text.contains(WORDS[1]), "{text}");
        assert!(
            !text.contains("4111 1111"),
            "redacted before sealing: {text}"
        );
        let note = extraction_note(&store, ORG_A, &call).await.unwrap();
        assert_eq!(note, format!("{} alpha", WORDS[2]));
        // None of the kept words is in the file (the tag is: it is also
        // the call's external id, which is not sealed).
        let bytes = file_bytes(dir.path());
        assert!(bytes.len() > 4096, "the database was read");
        assert!(holds(&bytes, "ext-alpha"), "the scan sees clear text");
        for word in WORDS {
            assert!(!holds(&bytes, word), "`{word}` is in the database file");
        }
        // The clear columns are empty; the findings map stays readable.
        let mut tx = store.pool.read().await.unwrap();
        let (body, sealed, findings): (Option<String>, Vec<u8>, String) = fetch_one!(
            &mut tx,
            (Option<String>, Vec<u8>, String),
            "SELECT body, body_sealed, findings FROM call_transcripts WHERE call_id = $1",
            call.as_str()
        )
        .unwrap();
        assert!(body.is_none());
        assert!(envelope::key_id_of(&sealed).is_ok());
        assert!(findings.contains("card"), "{findings}");
    }

    #[tokio::test]
    async fn sealed_values_moved_to_another_call_or_org_do_not_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), &[7]).await;
        let (one, e1) = call_with_words(&store, ORG_A, "one").await;
        let (two, e2) = call_with_words(&store, ORG_A, "two").await;
        let (bee, eb) = call_with_words(&store, ORG_B, "bee").await;
        // SQLite has no row-level security: the copy an attacker with write
        // access to the file could make.
        let mut tx = store.pool.write().await.unwrap();
        for (from, to) in [(one.as_str(), two.as_str()), (one.as_str(), bee.as_str())] {
            exec!(
                &mut tx,
                "UPDATE call_transcripts SET body_sealed = (SELECT body_sealed FROM call_transcripts WHERE call_id = $1) WHERE call_id = $2",
                from,
                to
            )
            .unwrap();
        }
        for (from, to) in [(e1.as_str(), e2.as_str()), (e1.as_str(), eb.as_str())] {
            exec!(
                &mut tx,
                "UPDATE call_extractions SET fields_sealed = (SELECT fields_sealed FROM call_extractions WHERE id = $1) WHERE id = $2",
                from,
                to
            )
            .unwrap();
        }
        tx.commit().await.unwrap();
        // Another call of the same org: same key, other record id.
        assert!(matches!(
            transcript_text(&store, ORG_A, &two).await,
            Err(StoreError::Sealed(envelope::SealError::Rejected))
        ));
        assert!(matches!(
            extraction_note(&store, ORG_A, &two).await,
            Err(StoreError::Sealed(envelope::SealError::Rejected))
        ));
        // Another org: its key is not this org's.
        assert!(matches!(
            transcript_text(&store, ORG_B, &bee).await,
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            extraction_note(&store, ORG_B, &bee).await,
            Err(StoreError::Corrupt(_))
        ));
        // The originals still open.
        assert!(
            transcript_text(&store, ORG_A, &one)
                .await
                .unwrap()
                .contains("one")
        );
        assert_eq!(
            extraction_note(&store, ORG_A, &one).await.unwrap(),
            format!("{} one", WORDS[2])
        );
    }

    /// Key ids named by the org's sealed call values, and the count of rows
    /// still holding clear text.
    async fn call_keys(store: &Store, org: &str) -> (Vec<String>, i64) {
        let mut tx = store.pool.read().await.unwrap();
        let mut keys = Vec::new();
        for sql in [
            "SELECT body_sealed FROM call_transcripts WHERE org_id = $1 AND body_sealed IS NOT NULL",
            "SELECT fields_sealed FROM call_extractions WHERE org_id = $1 AND fields_sealed IS NOT NULL",
        ] {
            let rows: Vec<(Vec<u8>,)> = match &mut tx {
                Tx::Sqlite(t) => sqlx::query_as(sql)
                    .bind(org)
                    .fetch_all(&mut **t)
                    .await
                    .unwrap(),
                Tx::Postgres(_) => unreachable!("SQLite test"),
            };
            keys.extend(
                rows.iter()
                    .map(|(s,)| envelope::key_id_of(s).unwrap().to_string()),
            );
        }
        let (clear,): (i64,) = fetch_one!(
            &mut tx,
            (i64,),
            "SELECT (SELECT COUNT(*) FROM call_transcripts WHERE org_id = $1 AND body IS NOT NULL) \
             + (SELECT COUNT(*) FROM call_extractions WHERE org_id = $1 AND fields IS NOT NULL)",
            org
        )
        .unwrap();
        keys.sort();
        keys.dedup();
        (keys, clear)
    }

    #[tokio::test]
    async fn dek_rotation_reseals_calls_seals_legacy_rows_and_resumes_after_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), &[7]).await;
        let mut calls = Vec::new();
        for i in 0..6 {
            calls.push(
                call_with_words(&store, ORG_A, &format!("tag{i:02}"))
                    .await
                    .0,
            );
        }
        // A row written before migration 0011: its value in the clear.
        let legacy = calls[5].clone();
        let turns = serde_json::json!([{"speaker": "agent", "text": "legacy words"}]);
        let mut tx = store.pool.write().await.unwrap();
        exec!(
            &mut tx,
            "UPDATE call_transcripts SET body = $1, body_sealed = NULL WHERE call_id = $2",
            turns.to_string(),
            legacy.as_str()
        )
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            transcript_text(&store, ORG_A, &legacy).await.unwrap(),
            "legacy words"
        );
        let (before, clear) = call_keys(&store, ORG_A).await;
        assert_eq!((before.len(), clear), (1, 1));
        let b = call_with_words(&store, ORG_B, "bee").await.0;
        let b_keys = call_keys(&store, ORG_B).await;

        let org = OrgId::parse(ORG_A).unwrap();
        let started = store.start_dek_rotation(&org, UnixMicros(5)).await.unwrap();
        // Batches of 4: provider credentials (none), then 4 of 6 transcripts;
        // then the process dies.
        let partial = store.run_dek_rotation(&org, 4, Some(2)).await.unwrap();
        assert!(!partial.finished);
        assert_eq!(partial.column, "call_transcripts.body_sealed");
        assert_eq!(partial.resealed, 4);
        store.close().await;

        let store = crate::vault::tests::store(dir.path(), &[7]).await;
        let store = Store {
            vault: Some(std::sync::Arc::new(crate::Vault::new(kek(7), vec![]))),
            ..store
        };
        // Meanwhile every value opens, under either key.
        for (i, c) in calls.iter().enumerate().take(5) {
            assert!(
                transcript_text(&store, ORG_A, c)
                    .await
                    .unwrap()
                    .contains(&format!("tag{i:02}"))
            );
        }
        let resumed = store.start_dek_rotation(&org, UnixMicros(6)).await.unwrap();
        assert_eq!(resumed.new_key_id, started.new_key_id);
        assert_eq!(resumed.after_record, calls[3].to_string());
        let done = store.run_dek_rotation(&org, 4, None).await.unwrap();
        assert!(done.finished);
        // 6 transcripts (one of them sealed for the first time), 6 extractions.
        assert_eq!(done.resealed, 12);
        assert_eq!(done.retired, before);
        assert_eq!(
            call_keys(&store, ORG_A).await,
            (vec![started.new_key_id.clone()], 0)
        );
        for (i, c) in calls.iter().enumerate().take(5) {
            assert!(
                transcript_text(&store, ORG_A, c)
                    .await
                    .unwrap()
                    .contains(&format!("tag{i:02}"))
            );
            assert_eq!(
                extraction_note(&store, ORG_A, c).await.unwrap(),
                format!("{} tag{i:02}", WORDS[2])
            );
        }
        assert_eq!(
            transcript_text(&store, ORG_A, &legacy).await.unwrap(),
            "legacy words"
        );
        // The other organization is untouched.
        assert_eq!(call_keys(&store, ORG_B).await, b_keys);
        assert!(
            transcript_text(&store, ORG_B, &b)
                .await
                .unwrap()
                .contains("bee")
        );
    }

    /// A database that ran 0010 and stored calls, then upgraded: the rows
    /// survive 0011 in the clear, read as before, and the next DEK rotation
    /// seals them (transcript, extraction and kept idempotent response);
    /// after the documented VACUUM the file holds none of their words.
    #[tokio::test]
    async fn rows_from_before_0011_are_read_then_sealed_by_the_next_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        {
            let old = tempfile::tempdir().unwrap();
            let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
            for entry in std::fs::read_dir(&all).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_str().unwrap().to_owned();
                if name.as_str() < "0011" {
                    std::fs::copy(&path, old.path().join(&name)).unwrap();
                }
            }
            let opts = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&url)
                .unwrap()
                .create_if_missing(true)
                .foreign_keys(true);
            let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
            sqlx::migrate::Migrator::new(old.path())
                .await
                .unwrap()
                .run(&pool)
                .await
                .unwrap();
            let call = CallId::generate(1, [3; 10]);
            let extraction = ExtractionId::generate(1, [4; 10]);
            for (sql, args) in [
                (
                    "INSERT INTO organizations (id, name, created_at, updated_at) VALUES ($1, $1, 0, 0)",
                    vec![ORG_A.to_owned()],
                ),
                (
                    "INSERT INTO calls (id, org_id, external_id, direction, started_at, created_by_member, created_at) \
                     VALUES ($1, $2, 'ext-old', 'outbound', 0, $3, 0)",
                    vec![
                        call.to_string(),
                        ORG_A.to_owned(),
                        tollgate_core::MemberId::generate(1, [2; 10]).to_string(),
                    ],
                ),
                (
                    "INSERT INTO call_transcripts (call_id, org_id, body, findings, policy, created_at) \
                     VALUES ($1, $2, '[{\"speaker\":\"agent\",\"text\":\"obsidianpelican\"}]', '[]', '{}', 0)",
                    vec![call.to_string(), ORG_A.to_owned()],
                ),
                (
                    "INSERT INTO call_extractions (id, org_id, call_id, fields, findings, policy, created_at) \
                     VALUES ($1, $2, $3, '{\"note\":\"saffronwalrus\"}', '[]', '{}', 0)",
                    vec![extraction.to_string(), ORG_A.to_owned(), call.to_string()],
                ),
                (
                    "INSERT INTO idempotency_keys (org_id, key_hash, fingerprint, state, status, content_type, body, created_at, expires_at, locked_until) \
                     VALUES ($1, X'0102', X'00', 'done', 201, 'application/json', CAST('{\"text\":\"cobaltlemur\"}' AS BLOB), 0, 99, 0)",
                    vec![ORG_A.to_owned()],
                ),
            ] {
                let mut q = sqlx::query(sql);
                for a in args {
                    q = q.bind(a);
                }
                q.execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
        let store = store(dir.path(), &[7]).await;
        let call = CallId::generate(1, [3; 10]);
        assert!(
            transcript_text(&store, ORG_A, &call)
                .await
                .unwrap()
                .contains("obsidianpelican")
        );
        assert_eq!(
            extraction_note(&store, ORG_A, &call).await.unwrap(),
            "saffronwalrus"
        );
        assert_eq!(call_keys(&store, ORG_A).await, (vec![], 2));
        assert!(
            holds(&file_bytes(dir.path()), "obsidianpelican"),
            "in the clear until sealed"
        );

        let org = OrgId::parse(ORG_A).unwrap();
        store.start_dek_rotation(&org, UnixMicros(5)).await.unwrap();
        let done = store.run_dek_rotation(&org, 10, None).await.unwrap();
        assert!(done.finished);
        assert_eq!(done.resealed, 3, "transcript, extraction, kept response");
        assert_eq!(
            call_keys(&store, ORG_A).await,
            (vec![done.new_key_id.clone()], 0)
        );
        assert!(
            transcript_text(&store, ORG_A, &call)
                .await
                .unwrap()
                .contains("obsidianpelican")
        );
        assert_eq!(
            extraction_note(&store, ORG_A, &call).await.unwrap(),
            "saffronwalrus"
        );
        let actor = actor(ORG_A);
        let replay = store
            .scope(&actor)
            .claim_idempotency_key(&[1, 2], &[0], UnixMicros(2), 3600, 60)
            .await
            .unwrap();
        assert!(
            matches!(&replay, crate::IdempotencyClaim::Replay { body, .. } if body.as_slice() == br#"{"text":"cobaltlemur"}"#),
            "{replay:?}"
        );
        // The upgrade procedure's last step (docs/crypto.md).
        let crate::db::Pool::Sqlite(pool, _) = &store.pool else {
            unreachable!("SQLite test")
        };
        sqlx::query("VACUUM").execute(pool).await.unwrap();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(pool)
            .await
            .unwrap();
        let bytes = file_bytes(dir.path());
        assert!(holds(&bytes, "ext-old"), "the scan sees clear text");
        for word in ["obsidianpelican", "saffronwalrus", "cobaltlemur"] {
            assert!(!holds(&bytes, word), "`{word}` is in the database file");
        }
    }
}
