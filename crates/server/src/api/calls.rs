//! Calls, their transcripts and extraction results. Every word a bot
//! submits is redacted with the organization's policy in the handler,
//! before the store, a log line or an audit event sees it; the store takes
//! only the redacted types.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tollgate_core::UnixMicros;
use tollgate_core::id::{CallKind, ExtractionKind};
use tollgate_redact::Policy;
use tollgate_store::{
    Call, Extraction, NewCall, RedactedFields, RedactedTranscript, StoreError, Transcript,
};
use utoipa::ToSchema;

use super::extract::{Authenticated, QueryParams, RequestCtx, SensitiveBody, path_id};
use super::members::ListQuery;
use super::redaction::{
    FindingView, RedactedTurnView, TurnInput, off_runtime, redact_error, turns_of,
};
use super::{Page, clean_text, rfc3339};
use crate::app::AppState;
use crate::error::{ApiError, Problem};

#[derive(Serialize, ToSchema)]
pub struct CallView {
    #[schema(example = "call_01jd3k5v7x9z1b3d5f7h9k1m3p")]
    pub id: String,
    /// The telephony provider's id of the call.
    pub external_id: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    pub campaign_id: Option<String>,
    pub started_at: String,
    /// The member whose key recorded the call.
    pub created_by: String,
    pub created_at: String,
    pub has_transcript: bool,
}

impl From<Call> for CallView {
    fn from(c: Call) -> Self {
        CallView {
            id: c.id.to_string(),
            external_id: c.external_id,
            direction: c.direction,
            campaign_id: c.campaign_id,
            started_at: rfc3339(c.started_at),
            created_by: c.created_by.to_string(),
            created_at: rfc3339(c.created_at),
            has_transcript: c.has_transcript,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCall {
    /// The telephony provider's call id, 1 to 128 characters, unique in the organization.
    #[schema(example = "CA1f3e2d")]
    pub external_id: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// Free text for now, 1 to 128 characters; a campaign id once campaigns exist.
    pub campaign_id: Option<String>,
    /// RFC 3339.
    pub started_at: String,
}

/// An identifier field must not carry a value the policy would remove: it
/// is stored as given (it is how the call is found), so it is refused.
fn plain_identifier(field: &str, value: &str, policy: &Policy) -> Result<String, ApiError> {
    let v = clean_text(field, value, 128)?;
    let r = tollgate_redact::redact(&v, policy).map_err(redact_error)?;
    if let Some(f) = r.findings.first() {
        return Err(ApiError::invalid(format!(
            "`{field}` looks like it holds a sensitive value ({}); use the provider's identifier.",
            f.kind.code()
        )));
    }
    Ok(v)
}

/// Records a call, before or after it happens.
#[utoipa::path(post, path = "/v1/calls", tag = "calls", security(("bearer" = [])), request_body = CreateCall, responses(
    (status = 201, description = "Created", body = CallView),
    (status = 409, description = "A call with this external id exists", body = Problem),
    (status = 422, description = "A field is missing or invalid", body = Problem)))]
pub async fn create_call(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    SensitiveBody(input): SensitiveBody<CreateCall>,
) -> Result<(StatusCode, Json<CallView>), ApiError> {
    let scope = state.store.scope(&actor);
    let policy = scope.redaction_policy().await?.policy;
    let external_id = plain_identifier("external_id", &input.external_id, &policy)?;
    let campaign_id = input
        .campaign_id
        .as_deref()
        .map(|c| plain_identifier("campaign_id", c, &policy))
        .transpose()?;
    let direction = match input.direction.as_str() {
        d @ ("inbound" | "outbound") => d.to_owned(),
        _ => {
            return Err(ApiError::invalid(
                "`direction` must be `inbound` or `outbound`.",
            ));
        }
    };
    let started_at = UnixMicros::parse_rfc3339(&input.started_at)
        .ok_or_else(|| ApiError::invalid("`started_at` must be an RFC 3339 date-time."))?;
    let call = scope
        .create_call(
            NewCall {
                external_id,
                direction,
                campaign_id,
                started_at,
            },
            &ctx,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(call.into())))
}

/// Calls of the organization, oldest first.
#[utoipa::path(get, path = "/v1/calls", tag = "calls", security(("bearer" = [])), params(ListQuery), responses(
    (status = 200, description = "Success", body = Page<CallView>)))]
pub async fn list_calls(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<Page<CallView>>, ApiError> {
    let limit = q.limit()?;
    let after = q.after.as_deref().map(path_id::<CallKind>).transpose()?;
    let rows = state
        .store
        .scope(&actor)
        .list_calls(after.as_ref(), limit + 1)
        .await?;
    let rows = rows.into_iter().map(CallView::from).collect();
    Ok(Json(Page::from_rows(rows, limit, |c: &CallView| {
        c.id.clone()
    })))
}

/// One call.
#[utoipa::path(get, path = "/v1/calls/{call_id}", tag = "calls", security(("bearer" = [])),
    params(("call_id" = String, Path, description = "A `call_` id")), responses(
    (status = 200, description = "Success", body = CallView), (status = 404, description = "No such object in this organization", body = Problem)))]
pub async fn get_call(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(call_id): Path<String>,
) -> Result<Json<CallView>, ApiError> {
    let id = path_id::<CallKind>(&call_id)?;
    Ok(Json(
        state
            .store
            .scope(&actor)
            .get_call(&id)
            .await
            .map_err(not_found)?
            .into(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitTranscript {
    /// The conversation, in order. At most 10,000 turns; the body at most 1 MiB.
    pub turns: Vec<TurnInput>,
}

#[derive(Serialize, ToSchema)]
pub struct TranscriptView {
    pub call_id: String,
    /// The redacted turns.
    pub turns: Vec<RedactedTurnView>,
    /// What was removed: kind and positions, never values.
    pub findings: Vec<FindingView>,
    /// The policy applied.
    #[schema(value_type = Object)]
    pub policy: serde_json::Value,
    pub created_at: String,
}

impl From<Transcript> for TranscriptView {
    fn from(t: Transcript) -> Self {
        TranscriptView {
            call_id: t.call_id.to_string(),
            turns: t
                .turns
                .into_iter()
                .map(|t| RedactedTurnView {
                    speaker: t.speaker,
                    text: t.text,
                })
                .collect(),
            findings: t.findings.iter().map(FindingView::from).collect(),
            policy: t.policy,
            created_at: rfc3339(t.created_at),
        }
    }
}

/// Submits a call's transcript, once. It is redacted with the organization's
/// policy before anything is stored, logged or audited; the answer is what
/// was stored.
#[utoipa::path(post, path = "/v1/calls/{call_id}/transcript", tag = "calls", security(("bearer" = [])),
    params(("call_id" = String, Path, description = "A `call_` id")), request_body = SubmitTranscript, responses(
    (status = 201, description = "Stored, redacted", body = TranscriptView),
    (status = 400, description = "Not UTF-8 or not JSON", body = Problem),
    (status = 404, description = "No such object in this organization", body = Problem),
    (status = 409, description = "The call already has a transcript", body = Problem),
    (status = 413, description = "Body over 1 MiB", body = Problem),
    (status = 422, description = "A field is missing or invalid", body = Problem)))]
pub async fn submit_transcript(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Path(call_id): Path<String>,
    SensitiveBody(input): SensitiveBody<SubmitTranscript>,
) -> Result<(StatusCode, Json<TranscriptView>), ApiError> {
    let id = path_id::<CallKind>(&call_id)?;
    let scope = state.store.scope(&actor);
    let policy = scope
        .redaction_policy_for_call(&id)
        .await
        .map_err(not_found)?
        .policy;
    let turns = input.turns;
    let redacted = off_runtime(move || {
        RedactedTranscript::redact(&turns_of(&turns)?, &policy).map_err(redact_error)
    })
    .await?;
    let stored = scope
        .add_transcript(&id, &redacted, &ctx)
        .await
        .map_err(not_found)?;
    Ok((StatusCode::CREATED, Json(stored.into())))
}

/// A call's redacted transcript and the map of what was removed.
#[utoipa::path(get, path = "/v1/calls/{call_id}/transcript", tag = "calls", security(("bearer" = [])),
    params(("call_id" = String, Path, description = "A `call_` id")), responses(
    (status = 200, description = "Success", body = TranscriptView),
    (status = 404, description = "No such call in this organization, or no transcript yet", body = Problem)))]
pub async fn get_transcript(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(call_id): Path<String>,
) -> Result<Json<TranscriptView>, ApiError> {
    let id = path_id::<CallKind>(&call_id)?;
    Ok(Json(
        state
            .store
            .scope(&actor)
            .get_transcript(&id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => ApiError::not_found("call, or no transcript yet"),
                other => other.into(),
            })?
            .into(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitExtraction {
    /// The bot's extraction: a JSON object, nested at most 8 levels, at most
    /// 2,000 values. Every string, and every number the engine recognises
    /// (cards, SSNs...), is redacted, with the field name as context.
    #[schema(value_type = Object, example = json!({"ssn": "123-45-6789", "callback_window": "after 5pm"}))]
    pub fields: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct ExtractionView {
    pub id: String,
    pub call_id: String,
    #[schema(value_type = Object)]
    pub fields: serde_json::Value,
    pub findings: Vec<FindingView>,
    #[schema(value_type = Object)]
    pub policy: serde_json::Value,
    pub created_at: String,
}

impl From<Extraction> for ExtractionView {
    fn from(e: Extraction) -> Self {
        ExtractionView {
            id: e.id.to_string(),
            call_id: e.call_id.to_string(),
            fields: e.fields,
            findings: e.findings.iter().map(FindingView::from).collect(),
            policy: e.policy,
            created_at: rfc3339(e.created_at),
        }
    }
}

/// Submits an extraction result of a call; redacted before storage.
#[utoipa::path(post, path = "/v1/calls/{call_id}/extractions", tag = "calls", security(("bearer" = [])),
    params(("call_id" = String, Path, description = "A `call_` id")), request_body = SubmitExtraction, responses(
    (status = 201, description = "Stored, redacted", body = ExtractionView),
    (status = 400, description = "Not UTF-8 or not JSON", body = Problem),
    (status = 404, description = "No such object in this organization", body = Problem),
    (status = 413, description = "Body over 1 MiB", body = Problem),
    (status = 422, description = "Not an object, too deep or too large, or a field name holds a value", body = Problem)))]
pub async fn submit_extraction(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Path(call_id): Path<String>,
    SensitiveBody(input): SensitiveBody<SubmitExtraction>,
) -> Result<(StatusCode, Json<ExtractionView>), ApiError> {
    let id = path_id::<CallKind>(&call_id)?;
    let scope = state.store.scope(&actor);
    let policy = scope
        .redaction_policy_for_call(&id)
        .await
        .map_err(not_found)?
        .policy;
    let fields = input.fields;
    let redacted = off_runtime(move || {
        RedactedFields::redact(&fields, &policy).map_err(|e| match e {
            tollgate_store::FieldsError::Redact(r) => redact_error(r),
            other => ApiError::invalid(format!("`fields`: {other}.")),
        })
    })
    .await?;
    let stored = scope
        .add_extraction(&id, &redacted, &ctx)
        .await
        .map_err(not_found)?;
    Ok((StatusCode::CREATED, Json(stored.into())))
}

/// A call's extraction results, oldest first.
#[utoipa::path(get, path = "/v1/calls/{call_id}/extractions", tag = "calls", security(("bearer" = [])),
    params(("call_id" = String, Path, description = "A `call_` id"), ListQuery), responses(
    (status = 200, description = "Success", body = Page<ExtractionView>),
    (status = 404, description = "No such object in this organization", body = Problem)))]
pub async fn list_extractions(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(call_id): Path<String>,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<Page<ExtractionView>>, ApiError> {
    let id = path_id::<CallKind>(&call_id)?;
    let limit = q.limit()?;
    let after = q
        .after
        .as_deref()
        .map(path_id::<ExtractionKind>)
        .transpose()?;
    let rows = state
        .store
        .scope(&actor)
        .list_extractions(&id, after.as_ref(), limit + 1)
        .await
        .map_err(not_found)?;
    let rows = rows.into_iter().map(ExtractionView::from).collect();
    Ok(Json(Page::from_rows(rows, limit, |e: &ExtractionView| {
        e.id.clone()
    })))
}

fn not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found("call"),
        other => other.into(),
    }
}
