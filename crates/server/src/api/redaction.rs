//! Redaction for one-off use (`POST /v1/redactions`, nothing stored) and the
//! organization's redaction policy (`GET`/`PUT /v1/redaction-policy`).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use tollgate_redact::{CardStyle, Kind, KindSet, Policy};
use tollgate_store::redacted::{card_style_code, parse_card_style};
use tollgate_store::{RedactedTranscript, RedactionPolicy, RemovedSpan, Speaker};
use utoipa::ToSchema;

use super::extract::{Authenticated, RequestCtx, SensitiveBody};
use super::rfc3339;
use crate::app::AppState;
use crate::error::{ApiError, Code, Problem};

/// A redaction policy. Every field is optional on input; a missing one
/// keeps the organization's value (override) or the standard value (PUT).
#[derive(Deserialize, Serialize, ToSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct PolicyFields {
    /// Kind codes to remove: card, cvv, expiry, ssn, routing_number,
    /// bank_account, date_of_birth, phone, email, address, medicare_id, npi,
    /// medical_record, member_id, claim_number. `card` is always required.
    #[schema(example = json!(["card", "cvv", "expiry", "ssn"]))]
    pub kinds: Option<Vec<String>>,
    /// `tag` (`[CARD]`) or `last_four` (`[CARD ****1111]`).
    #[schema(example = "tag")]
    pub card: Option<String>,
    /// Also remove every run of 3 or more digits in a payment context.
    pub strict_pci: Option<bool>,
    /// Confidence threshold 0-100 (lower removes more); at most the standard value.
    pub min_score: Option<u8>,
}

impl PolicyFields {
    /// Applies these fields over `base`.
    pub fn over(&self, base: &Policy) -> Result<Policy, ApiError> {
        let mut p = *base;
        if let Some(kinds) = &self.kinds {
            let mut set = KindSet::EMPTY;
            for (i, code) in kinds.iter().enumerate() {
                // Strict PCI mode is a switch, not a kind.
                let k = Kind::from_code(code)
                    .filter(|k| *k != Kind::PaymentDigits)
                    .ok_or_else(|| {
                        ApiError::invalid(format!("`kinds[{i}]` is not a known kind code."))
                    })?;
                if set.contains(k) {
                    return Err(ApiError::invalid(format!("`kinds[{i}]` repeats a kind.")));
                }
                set = set.with(k);
            }
            p.kinds = set;
        }
        if let Some(c) = &self.card {
            p.card = parse_card_style(c)
                .ok_or_else(|| ApiError::invalid("`card` must be `tag` or `last_four`."))?;
        }
        if let Some(s) = self.strict_pci {
            p.strict_pci = s;
        }
        if let Some(m) = self.min_score {
            p.min_score = m;
        }
        Ok(p)
    }
}

#[derive(Serialize, ToSchema)]
pub struct PolicyView {
    /// The policy's id (`rdp_`); null while the organization uses the built-in standard policy.
    pub id: Option<String>,
    pub kinds: Vec<String>,
    pub card: String,
    pub strict_pci: bool,
    pub min_score: u8,
    pub updated_at: Option<String>,
}

impl PolicyView {
    fn of(p: &Policy) -> Self {
        PolicyView {
            id: None,
            kinds: p.kinds.iter().map(|k| k.code().to_owned()).collect(),
            card: card_style_code(p.card).to_owned(),
            strict_pci: p.strict_pci,
            min_score: p.min_score,
            updated_at: None,
        }
    }
}

impl From<RedactionPolicy> for PolicyView {
    fn from(r: RedactionPolicy) -> Self {
        PolicyView {
            id: r.id.map(|i| i.to_string()),
            updated_at: r.updated_at.map(rfc3339),
            ..PolicyView::of(&r.policy)
        }
    }
}

/// Whether `p` removes at least everything `floor` removes.
fn at_least_as_strict(p: &Policy, floor: &Policy) -> Result<(), ApiError> {
    let weaker = |what: &str| {
        ApiError::invalid(format!(
            "The policy override may only remove more than the organization's policy: {what}."
        ))
    };
    if let Some(k) = floor.kinds.iter().find(|k| !p.kinds.contains(*k)) {
        return Err(weaker(&format!("`kinds` must keep `{}`", k.code())));
    }
    if floor.strict_pci && !p.strict_pci {
        return Err(weaker("`strict_pci` must stay on"));
    }
    if floor.card == CardStyle::Tag && p.card != CardStyle::Tag {
        return Err(weaker("`card` must stay `tag`"));
    }
    if p.min_score > floor.min_score {
        return Err(weaker(&format!(
            "`min_score` must be at most {}",
            floor.min_score
        )));
    }
    Ok(())
}

/// One turn of a conversation as submitted.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TurnInput {
    /// `agent` or `caller`.
    #[schema(example = "caller")]
    pub speaker: String,
    pub text: String,
}

/// Most turns in one conversation.
pub const MAX_TURNS: usize = 10_000;

/// Checks and converts submitted turns (the text is not looked at).
pub fn turns_of(turns: &[TurnInput]) -> Result<Vec<(Speaker, &str)>, ApiError> {
    if turns.is_empty() || turns.len() > MAX_TURNS {
        return Err(ApiError::invalid(format!(
            "`turns` must hold 1 to {MAX_TURNS} turns."
        )));
    }
    turns
        .iter()
        .enumerate()
        .map(|(i, t)| {
            Speaker::parse(&t.speaker)
                .map(|s| (s, t.text.as_str()))
                .ok_or_else(|| {
                    ApiError::invalid(format!("`turns[{i}].speaker` must be `agent` or `caller`."))
                })
        })
        .collect()
}

/// A short value a client sends outside the body (a header) and the server
/// keeps, redacted with the standard policy.
pub fn scrub(s: &str) -> String {
    match tollgate_redact::redact(s, &Policy::standard()) {
        Ok(r) => r.text,
        // Unreachable for header-sized input; keep nothing rather than it.
        Err(_) => String::new(),
    }
}

/// Whether the standard policy would remove anything from a short value.
pub fn holds_sensitive(s: &str) -> bool {
    tollgate_redact::redact(s, &Policy::standard()).map_or(true, |r| !r.findings.is_empty())
}

/// Runs the engine on the blocking pool. A full 1 MiB body takes
/// milliseconds of CPU; on the async workers that would hold up every other
/// request they serve.
pub async fn off_runtime<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|_| {
        tracing::error!("redaction task failed");
        ApiError::internal()
    })?
}

/// The engine's refusal as a problem document.
pub fn redact_error(e: tollgate_redact::RedactError) -> ApiError {
    ApiError::with(Code::PayloadTooLarge, format!("{e}."))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactionRequest {
    /// A text to redact. Give `text` or `turns`, not both.
    pub text: Option<String>,
    /// A conversation to redact as a whole (numbers read across turns are found).
    pub turns: Option<Vec<TurnInput>>,
    /// Stricter settings for this request than the organization's policy.
    pub policy: Option<PolicyFields>,
}

#[derive(Serialize, ToSchema)]
pub struct RedactedTurnView {
    pub speaker: String,
    pub text: String,
}

/// One removal: kind and position, never the value.
#[derive(Serialize, ToSchema)]
pub struct FindingView {
    #[schema(example = "card")]
    pub kind: String,
    /// Index of the turn (conversations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn: Option<usize>,
    /// JSON pointer of the value (extractions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Byte offsets of the removed text in the submitted text.
    pub start: usize,
    pub end: usize,
    /// Byte offsets of the replacement tag in the redacted text.
    pub redacted_start: usize,
    pub redacted_end: usize,
}

impl From<&RemovedSpan> for FindingView {
    fn from(s: &RemovedSpan) -> Self {
        FindingView {
            kind: s.kind.clone(),
            turn: s.turn,
            path: s.path.clone(),
            start: s.start,
            end: s.end,
            redacted_start: s.redacted_start,
            redacted_end: s.redacted_end,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RedactionResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turns: Option<Vec<RedactedTurnView>>,
    pub findings: Vec<FindingView>,
    /// The policy applied.
    pub policy: PolicyView,
}

/// Redacts a text or a conversation and returns it with the map of what was
/// removed. Nothing is stored and nothing of the text is logged.
#[utoipa::path(post, path = "/v1/redactions", tag = "redaction", security(("bearer" = [])), request_body = RedactionRequest, responses(
    (status = 200, description = "Success", body = RedactionResult),
    (status = 400, description = "Not UTF-8 or not JSON", body = Problem),
    (status = 413, description = "Body over 1 MiB", body = Problem),
    (status = 422, description = "A field is missing or invalid, or the override is weaker than the organization's policy", body = Problem)))]
pub async fn redact(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    SensitiveBody(input): SensitiveBody<RedactionRequest>,
) -> Result<Json<RedactionResult>, ApiError> {
    let org = state.store.scope(&actor).redaction_policy().await?.policy;
    let policy = match &input.policy {
        None => org,
        Some(o) => {
            let p = o.over(&org)?;
            at_least_as_strict(&p, &org)?;
            p
        }
    };
    let policy_view = PolicyView::of(&policy);
    match (input.text, input.turns) {
        (Some(text), None) => {
            let r =
                off_runtime(move || tollgate_redact::redact(&text, &policy).map_err(redact_error))
                    .await?;
            let findings = r
                .findings
                .iter()
                .map(|f| FindingView {
                    kind: f.kind.code().to_owned(),
                    turn: None,
                    path: None,
                    start: f.input.start,
                    end: f.input.end,
                    redacted_start: f.output.start,
                    redacted_end: f.output.end,
                })
                .collect();
            Ok(Json(RedactionResult {
                text: Some(r.text),
                turns: None,
                findings,
                policy: policy_view,
            }))
        }
        (None, Some(turns)) => {
            let t = off_runtime(move || {
                RedactedTranscript::redact(&turns_of(&turns)?, &policy).map_err(redact_error)
            })
            .await?;
            Ok(Json(RedactionResult {
                text: None,
                turns: Some(
                    t.turns()
                        .iter()
                        .map(|t| RedactedTurnView {
                            speaker: t.speaker.clone(),
                            text: t.text.clone(),
                        })
                        .collect(),
                ),
                findings: t.findings().iter().map(FindingView::from).collect(),
                policy: policy_view,
            }))
        }
        _ => Err(ApiError::invalid("Give either `text` or `turns`.")),
    }
}

/// The organization's redaction policy: applied to every transcript and
/// extraction before it is stored. The built-in standard policy (every kind,
/// `[KIND]` tags) until one is set.
#[utoipa::path(get, path = "/v1/redaction-policy", tag = "redaction", security(("bearer" = [])), responses(
    (status = 200, description = "Success", body = PolicyView)))]
pub async fn get_policy(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Json<PolicyView>, ApiError> {
    Ok(Json(
        state.store.scope(&actor).redaction_policy().await?.into(),
    ))
}

/// Replaces the organization's redaction policy (fields left out take the
/// standard values). Audited with the policy before and after.
#[utoipa::path(put, path = "/v1/redaction-policy", tag = "redaction", security(("bearer" = [])), request_body = PolicyFields, responses(
    (status = 200, description = "Success", body = PolicyView),
    (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn put_policy(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    SensitiveBody(input): SensitiveBody<PolicyFields>,
) -> Result<Json<PolicyView>, ApiError> {
    let policy = input.over(&Policy::standard())?;
    Ok(Json(
        state
            .store
            .scope(&actor)
            .put_redaction_policy(policy, &ctx)
            .await?
            .into(),
    ))
}

/// The campaign's own redaction policy. What is submitted about a call of
/// the campaign (`campaign_id` of the call) is redacted with the stricter of
/// it and the organization's policy. 404 when the campaign has none.
#[utoipa::path(get, path = "/v1/campaigns/{campaign_id}/redaction-policy", tag = "redaction", security(("bearer" = [])),
    params(("campaign_id" = String, Path, description = "A `cmp_` id")), responses(
    (status = 200, description = "Success", body = PolicyView),
    (status = 404, description = "No such campaign in this organization, or it has no policy of its own", body = Problem)))]
pub async fn get_campaign_policy(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    axum::extract::Path(campaign_id): axum::extract::Path<String>,
) -> Result<Json<PolicyView>, ApiError> {
    let id = super::extract::path_id::<tollgate_core::id::CampaignKind>(&campaign_id)?;
    match state
        .store
        .scope(&actor)
        .campaign_redaction_policy(&id)
        .await?
    {
        Some(p) => Ok(Json(p.into())),
        None => Err(ApiError::new(Code::NotFound)),
    }
}

/// Sets the campaign's own policy (fields left out take the organization's
/// values). It may only remove more than the organization's policy.
#[utoipa::path(put, path = "/v1/campaigns/{campaign_id}/redaction-policy", tag = "redaction", security(("bearer" = [])),
    params(("campaign_id" = String, Path, description = "A `cmp_` id")), request_body = PolicyFields, responses(
    (status = 200, description = "Success", body = PolicyView),
    (status = 404, description = "No such campaign in this organization", body = Problem),
    (status = 422, description = "A field is invalid, or the policy is weaker than the organization's", body = Problem)))]
pub async fn put_campaign_policy(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    axum::extract::Path(campaign_id): axum::extract::Path<String>,
    SensitiveBody(input): SensitiveBody<PolicyFields>,
) -> Result<Json<PolicyView>, ApiError> {
    let id = super::extract::path_id::<tollgate_core::id::CampaignKind>(&campaign_id)?;
    let scope = state.store.scope(&actor);
    let org = scope.redaction_policy().await?.policy;
    let policy = input.over(&org)?;
    at_least_as_strict(&policy, &org)?;
    Ok(Json(
        scope
            .put_campaign_redaction_policy(&id, policy, &ctx)
            .await?
            .into(),
    ))
}

/// Removes the campaign's own policy: its calls use the organization's.
#[utoipa::path(delete, path = "/v1/campaigns/{campaign_id}/redaction-policy", tag = "redaction", security(("bearer" = [])),
    params(("campaign_id" = String, Path, description = "A `cmp_` id")), responses(
    (status = 204, description = "Removed"),
    (status = 404, description = "No such campaign in this organization, or it has no policy of its own", body = Problem)))]
pub async fn delete_campaign_policy(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    axum::extract::Path(campaign_id): axum::extract::Path<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    let id = super::extract::path_id::<tollgate_core::id::CampaignKind>(&campaign_id)?;
    state
        .store
        .scope(&actor)
        .delete_campaign_redaction_policy(&id, &ctx)
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
