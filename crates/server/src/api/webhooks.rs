//! Webhook endpoints (issue 10): create (the secret is shown once), list,
//! show, change, delete, rotate the secret, send a test event, list
//! delivery attempts, replay. See docs/webhooks.md.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tollgate_core::UnixMicros;
use tollgate_core::id::{WebhookEndpointId, WebhookEndpointKind, WebhookMessageKind};
use tollgate_core::webhook_policy::{EVENT_TYPES, is_event_type, refuse_custom_header};
use tollgate_store::{
    NewWebhookEndpoint, StoreError, WebhookAttempt, WebhookEndpoint, WebhookEndpointPatch,
};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Authenticated, Body, QueryParams, RequestCtx, path_id};
use super::members::ListQuery;
use super::{Page, rfc3339};
use crate::app::AppState;
use crate::error::{ApiError, Problem};
use crate::webhooks::ssrf::Policy;

/// Custom headers per endpoint at most.
pub const MAX_HEADERS: usize = 20;
/// Characters of a custom header value at most.
pub const MAX_HEADER_VALUE: usize = 1000;
/// Characters of a description at most.
pub const MAX_DESCRIPTION: usize = 500;
/// Messages one replay request may resend at most.
pub const MAX_REPLAY: u32 = 10_000;

#[derive(Serialize, ToSchema)]
pub struct WebhookEndpointView {
    #[schema(example = "whe_01jd…")]
    pub id: String,
    pub url: String,
    pub description: String,
    /// From the catalogue in docs/webhooks.md.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Sent with every delivery.
    pub headers: BTreeMap<String, String>,
    pub payload: Payload,
    /// `gone` (the receiver answered 410) or `failing` (5 days without a
    /// success) when Tollgate disabled the endpoint; null otherwise.
    pub disabled_reason: Option<String>,
    /// Start of the current run of failed attempts, if any.
    pub failing_since: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<WebhookEndpoint> for WebhookEndpointView {
    fn from(e: WebhookEndpoint) -> Self {
        WebhookEndpointView {
            id: e.id.to_string(),
            url: e.url,
            description: e.description,
            event_types: e.event_types,
            enabled: e.enabled,
            headers: e.headers,
            // The store holds only the two values its CHECK allows.
            payload: if e.payload == "rich" {
                Payload::Rich
            } else {
                Payload::Thin
            },
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since.map(rfc3339),
            created_at: rfc3339(e.created_at),
            updated_at: rfc3339(e.updated_at),
        }
    }
}

/// What the endpoint's deliveries carry. `thin` (the default): ids and
/// codes only, no personal data; the receiver fetches details through the
/// API. `rich`: also the details of the event (a denial's reasons and
/// versions, the masked number, an opt-out's matched words, an incident's
/// cause), every free text through the redaction engine first.
#[derive(Serialize, Deserialize, ToSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Payload {
    Thin,
    Rich,
}

impl Payload {
    fn as_str(self) -> &'static str {
        match self {
            Payload::Thin => "thin",
            Payload::Rich => "rich",
        }
    }
}

/// A new endpoint and its signing secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedWebhookEndpoint {
    #[serde(flatten)]
    pub endpoint: WebhookEndpointView,
    /// `whsec_` + base64 of 32 random bytes. Store it now: it is never
    /// shown again.
    #[schema(example = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD…")]
    pub secret: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpoint {
    /// `https://` (plain `http://` only for hosts the operator allowed).
    /// Must not resolve to a private, loopback or link-local address.
    pub url: String,
    /// 0 to 500 characters.
    #[serde(default)]
    pub description: String,
    /// At least one type from the catalogue.
    pub event_types: Vec<String>,
    /// Default true.
    pub enabled: Option<bool>,
    /// Up to 20 headers sent with every delivery. Refused: `webhook-*`,
    /// `svix-*`, hop-by-hop and transport headers, `authorization`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Default `thin`.
    pub payload: Option<Payload>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchWebhookEndpoint {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// Enabling again clears `disabled_reason`.
    pub enabled: Option<bool>,
    /// Replaces all custom headers.
    pub headers: Option<BTreeMap<String, String>>,
    pub payload: Option<Payload>,
}

#[derive(Serialize, ToSchema)]
pub struct RotatedSecret {
    /// The new current secret, shown this once.
    pub secret: String,
    /// Until when the previous secret still signs (alongside this one).
    pub previous_valid_until: String,
}

#[derive(Serialize, ToSchema)]
pub struct TestEventSent {
    /// The `webhook-id` of the test message.
    pub message_id: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// One message to send again; or give `since` (and `until`).
    pub message_id: Option<String>,
    /// RFC 3339: resend the messages created from this instant...
    pub since: Option<String>,
    /// ...until this one (default now). At most 10,000 messages.
    pub until: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReplayStarted {
    /// Messages queued for delivery again (same `webhook-id`, same body).
    pub messages: u64,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookAttemptView {
    pub id: String,
    pub message_id: String,
    pub event_type: String,
    pub started_at: String,
    pub latency_ms: i64,
    /// The HTTP status, or null when no response came (see `error`).
    pub status: Option<i64>,
    pub error: Option<String>,
    /// At most 1,024 characters of the response, secrets scrubbed.
    pub response_excerpt: String,
    /// The delivery's state now: `pending`, `delivered`, `failed` or `cancelled`.
    pub delivery_state: String,
}

impl From<WebhookAttempt> for WebhookAttemptView {
    fn from(a: WebhookAttempt) -> Self {
        WebhookAttemptView {
            id: a.id,
            message_id: a.message_id,
            event_type: a.event_type,
            started_at: rfc3339(a.started_at),
            latency_ms: a.latency_ms,
            status: a.status,
            error: a.error,
            response_excerpt: a.response_excerpt,
            delivery_state: a.delivery_state,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AttemptsQuery {
    /// 1 to 500, default 100.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page (newest first).
    pub after: Option<String>,
}

pub(crate) fn check_description(d: &str) -> Result<String, ApiError> {
    let d = d.trim();
    if d.chars().count() > MAX_DESCRIPTION || d.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "`description` may be at most {MAX_DESCRIPTION} characters, without control characters."
        )));
    }
    Ok(d.to_owned())
}

pub(crate) fn check_event_types(types: &[String]) -> Result<Vec<String>, ApiError> {
    if types.is_empty() {
        return Err(ApiError::invalid(
            "`event_types` must name at least one event type.",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for t in types {
        if !is_event_type(t) {
            return Err(ApiError::invalid(format!(
                "`event_types`: unknown type; the types are: {}.",
                EVENT_TYPES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    Ok(out)
}

pub(crate) fn check_headers(
    headers: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ApiError> {
    if headers.len() > MAX_HEADERS {
        return Err(ApiError::invalid(format!(
            "`headers` may hold at most {MAX_HEADERS} headers."
        )));
    }
    let mut out = BTreeMap::new();
    for (name, value) in headers {
        if let Some(why) = refuse_custom_header(&name) {
            return Err(ApiError::invalid(format!("`headers`: {why}.")));
        }
        if value.chars().count() > MAX_HEADER_VALUE
            || !value
                .bytes()
                .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
        {
            return Err(ApiError::invalid(format!(
                "`headers.{}`: a value is at most {MAX_HEADER_VALUE} printable ASCII characters.",
                name.to_ascii_lowercase()
            )));
        }
        out.insert(name.to_ascii_lowercase(), value);
    }
    Ok(out)
}

pub(crate) async fn check_url(state: &AppState, url: &str) -> Result<String, ApiError> {
    let policy = Policy::from_config(&state.config.webhooks);
    let parsed = policy.check_url(url.trim()).map_err(ApiError::invalid)?;
    policy
        .check_resolved(&parsed)
        .await
        .map_err(ApiError::invalid)?;
    Ok(parsed.to_string())
}

fn parse_time(field: &str, value: &str) -> Result<UnixMicros, ApiError> {
    let t: jiff::Timestamp = value
        .parse()
        .map_err(|_| ApiError::invalid(format!("`{field}` must be an RFC 3339 timestamp.")))?;
    Ok(UnixMicros(t.as_microsecond()))
}

/// The organization's webhook endpoints.
#[utoipa::path(get, path = "/v1/webhook-endpoints", tag = "webhooks", security(("bearer" = [])), params(ListQuery), responses(
    (status = 200, description = "Success", body = Page<WebhookEndpointView>)))]
pub async fn list_webhook_endpoints(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<Page<WebhookEndpointView>>, ApiError> {
    let limit = q.limit()?;
    let after = q
        .after
        .as_deref()
        .map(path_id::<WebhookEndpointKind>)
        .transpose()?;
    let rows = state
        .store
        .scope(&actor)
        .list_webhook_endpoints(after.as_ref(), limit + 1)
        .await?;
    let rows = rows.into_iter().map(WebhookEndpointView::from).collect();
    Ok(Json(Page::from_rows(
        rows,
        limit,
        |e: &WebhookEndpointView| e.id.clone(),
    )))
}

/// Creates an endpoint. The answer carries its signing secret, once.
#[utoipa::path(post, path = "/v1/webhook-endpoints", tag = "webhooks", security(("bearer" = [])), request_body = CreateWebhookEndpoint, responses(
    (status = 201, description = "Created", body = CreatedWebhookEndpoint), (status = 422, description = "A field is missing or invalid", body = Problem)))]
pub async fn create_webhook_endpoint(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Body(input): Body<CreateWebhookEndpoint>,
) -> Result<(StatusCode, Json<CreatedWebhookEndpoint>), ApiError> {
    let new = NewWebhookEndpoint {
        url: check_url(&state, &input.url).await?,
        description: check_description(&input.description)?,
        event_types: check_event_types(&input.event_types)?,
        enabled: input.enabled.unwrap_or(true),
        headers: check_headers(input.headers)?,
        payload: input.payload.unwrap_or(Payload::Thin).as_str().to_owned(),
    };
    let (endpoint, secret) = state
        .store
        .scope(&actor)
        .create_webhook_endpoint(new, &ctx)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhookEndpoint {
            endpoint: endpoint.into(),
            secret: secret.to_text().as_str().to_owned(),
        }),
    ))
}

/// One endpoint (never its secret).
#[utoipa::path(get, path = "/v1/webhook-endpoints/{endpoint_id}", tag = "webhooks", security(("bearer" = [])),
    params(("endpoint_id" = String, Path, description = "A `whe_` id")), responses(
    (status = 200, description = "Success", body = WebhookEndpointView), (status = 404, description = "No such object in this organization", body = Problem)))]
pub async fn get_webhook_endpoint(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(endpoint_id): Path<String>,
) -> Result<Json<WebhookEndpointView>, ApiError> {
    let id = path_id::<WebhookEndpointKind>(&endpoint_id)?;
    Ok(Json(
        state
            .store
            .scope(&actor)
            .get_webhook_endpoint(&id)
            .await
            .map_err(not_found)?
            .into(),
    ))
}

/// Changes an endpoint; absent fields stay.
#[utoipa::path(patch, path = "/v1/webhook-endpoints/{endpoint_id}", tag = "webhooks", security(("bearer" = [])),
    params(("endpoint_id" = String, Path, description = "A `whe_` id")), request_body = PatchWebhookEndpoint, responses(
    (status = 200, description = "Success", body = WebhookEndpointView), (status = 404, description = "No such object in this organization", body = Problem),
    (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn patch_webhook_endpoint(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Path(endpoint_id): Path<String>,
    Body(input): Body<PatchWebhookEndpoint>,
) -> Result<Json<WebhookEndpointView>, ApiError> {
    let id = path_id::<WebhookEndpointKind>(&endpoint_id)?;
    let scope = state.store.scope(&actor);
    scope.get_webhook_endpoint(&id).await.map_err(not_found)?;
    let patch = WebhookEndpointPatch {
        url: match &input.url {
            Some(u) => Some(check_url(&state, u).await?),
            None => None,
        },
        description: input
            .description
            .as_deref()
            .map(check_description)
            .transpose()?,
        event_types: input
            .event_types
            .as_deref()
            .map(check_event_types)
            .transpose()?,
        enabled: input.enabled,
        headers: input.headers.map(check_headers).transpose()?,
        payload: input.payload.map(|p| p.as_str().to_owned()),
    };
    Ok(Json(
        scope
            .update_webhook_endpoint(&id, patch, &ctx)
            .await
            .map_err(not_found)?
            .into(),
    ))
}

/// Deletes an endpoint, its secrets and its pending deliveries.
#[utoipa::path(delete, path = "/v1/webhook-endpoints/{endpoint_id}", tag = "webhooks", security(("bearer" = [])),
    params(("endpoint_id" = String, Path, description = "A `whe_` id")), responses(
    (status = 204, description = "Deleted"), (status = 404, description = "No such object in this organization", body = Problem)))]
pub async fn delete_webhook_endpoint(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Path(endpoint_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id::<WebhookEndpointKind>(&endpoint_id)?;
    state
        .store
        .scope(&actor)
        .delete_webhook_endpoint(&id, &ctx)
        .await
        .map_err(not_found)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the signing secret. The previous one keeps signing alongside
/// the new one for the configured grace period (default 24 hours).
#[utoipa::path(post, path = "/v1/webhook-endpoints/{endpoint_id}/rotate-secret", tag = "webhooks", security(("bearer" = [])),
    params(("endpoint_id" = String, Path, description = "A `whe_` id")), responses(
    (status = 200, description = "Success", body = RotatedSecret), (status = 404, description = "No such object in this organization", body = Problem)))]
pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Path(endpoint_id): Path<String>,
) -> Result<Json<RotatedSecret>, ApiError> {
    let id = path_id::<WebhookEndpointKind>(&endpoint_id)?;
    let grace = state.config.webhooks.rotation_grace_secs;
    let secret = state
        .store
        .scope(&actor)
        .rotate_webhook_secret(&id, grace, &ctx)
        .await
        .map_err(not_found)?;
    Ok(Json(RotatedSecret {
        secret: secret.to_text().as_str().to_owned(),
        previous_valid_until: rfc3339(ctx.now.plus_secs(grace)),
    }))
}

/// Sends a `webhook.test` event to this endpoint.
#[utoipa::path(post, path = "/v1/webhook-endpoints/{endpoint_id}/test", tag = "webhooks", security(("bearer" = [])),
    params(("endpoint_id" = String, Path, description = "A `whe_` id")), responses(
    (status = 202, description = "Queued", body = TestEventSent), (status = 404, description = "No such object in this organization", body = Problem)))]
pub async fn send_test_event(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Path(endpoint_id): Path<String>,
) -> Result<(StatusCode, Json<TestEventSent>), ApiError> {
    let id = path_id::<WebhookEndpointKind>(&endpoint_id)?;
    let msg = state
        .store
        .scope(&actor)
        .send_webhook_test(&id, &ctx)
        .await
        .map_err(not_found)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(TestEventSent {
            message_id: msg.to_string(),
        }),
    ))
}

/// Delivery attempts to this endpoint, newest first.
#[utoipa::path(get, path = "/v1/webhook-endpoints/{endpoint_id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("endpoint_id" = String, Path, description = "A `whe_` id"), AttemptsQuery), responses(
    (status = 200, description = "Success", body = Page<WebhookAttemptView>), (status = 404, description = "No such object in this organization", body = Problem)))]
pub async fn list_webhook_deliveries(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(endpoint_id): Path<String>,
    QueryParams(q): QueryParams<AttemptsQuery>,
) -> Result<Json<Page<WebhookAttemptView>>, ApiError> {
    let id = path_id::<WebhookEndpointKind>(&endpoint_id)?;
    let limit = super::page_limit(q.limit)?;
    let before = q
        .after
        .as_deref()
        .map(path_id::<tollgate_core::id::WebhookAttemptKind>)
        .transpose()?;
    let rows = state
        .store
        .scope(&actor)
        .list_webhook_attempts(&id, before.as_ref().map(|b| b.as_str()), limit + 1)
        .await
        .map_err(not_found)?;
    let rows = rows.into_iter().map(WebhookAttemptView::from).collect();
    Ok(Json(Page::from_rows(
        rows,
        limit,
        |a: &WebhookAttemptView| a.id.clone(),
    )))
}

/// Sends again one message, or every message of a time range, to this
/// endpoint (same `webhook-id` and body, fresh timestamp and signature).
#[utoipa::path(post, path = "/v1/webhook-endpoints/{endpoint_id}/replay", tag = "webhooks", security(("bearer" = [])),
    params(("endpoint_id" = String, Path, description = "A `whe_` id")), request_body = ReplayRequest, responses(
    (status = 202, description = "Queued", body = ReplayStarted), (status = 404, description = "No such object in this organization", body = Problem),
    (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn replay_webhook_messages(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Path(endpoint_id): Path<String>,
    Body(input): Body<ReplayRequest>,
) -> Result<(StatusCode, Json<ReplayStarted>), ApiError> {
    let id = path_id::<WebhookEndpointKind>(&endpoint_id)?;
    let (message, from, until) = match (&input.message_id, &input.since) {
        (Some(m), None) if input.until.is_none() => (
            Some(path_id::<WebhookMessageKind>(m)?),
            UnixMicros(0),
            UnixMicros(0),
        ),
        (None, Some(since)) => {
            let from = parse_time("since", since)?;
            let until = match &input.until {
                Some(u) => parse_time("until", u)?,
                None => ctx.now.plus_secs(1),
            };
            if until <= from {
                return Err(ApiError::invalid("`until` must be after `since`."));
            }
            (None, from, until)
        }
        _ => {
            return Err(ApiError::invalid(
                "Give either `message_id`, or `since` (and optionally `until`).",
            ));
        }
    };
    let messages = state
        .store
        .scope(&actor)
        .replay_webhook_messages(&id, message.as_ref(), from, until, MAX_REPLAY, &ctx)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("webhook endpoint or message"),
            other => other.into(),
        })?;
    Ok((StatusCode::ACCEPTED, Json(ReplayStarted { messages })))
}

fn not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found("webhook endpoint"),
        other => other.into(),
    }
}

/// An endpoint id from a path (for the dashboard).
pub(crate) fn endpoint_id(raw: &str) -> Result<WebhookEndpointId, ApiError> {
    path_id::<WebhookEndpointKind>(raw)
}
