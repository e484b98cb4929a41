//! The suppression list and opt-outs. Adding takes effect before the
//! response returns; removal is for owners, with a reason, audited. The API
//! never returns a suppressed number: rows hold only its keyed hash.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tollgate_core::id::{LeadKind, SuppressionKind};
use tollgate_gate::{E164, detect_opt_out, parse_nanp};
use tollgate_store::{NewSuppression, Suppression, SuppressionList, SuppressionSource};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Authenticated, Body, QueryParams, RequestCtx, path_id};
use super::{Page, clean_text, page_limit, rfc3339};
use crate::app::AppState;
use crate::error::{ApiError, Problem};

#[derive(Serialize, ToSchema)]
pub struct SuppressionView {
    pub id: String,
    /// `suppression` or `internal_dnc`.
    pub list: String,
    /// `api`, `dashboard`, `csv` or `opt_out`.
    pub source: String,
    pub reason: Option<String>,
    pub created_at: String,
    /// The member who added it.
    pub created_by: String,
    pub removed_at: Option<String>,
    pub removed_by: Option<String>,
    pub removed_reason: Option<String>,
}

impl From<Suppression> for SuppressionView {
    fn from(s: Suppression) -> Self {
        SuppressionView {
            id: s.id.to_string(),
            list: s.list,
            source: s.source,
            reason: s.reason,
            created_at: rfc3339(s.created_at),
            created_by: s.created_by,
            removed_at: s.removed_at.map(rfc3339),
            removed_by: s.removed_by,
            removed_reason: s.removed_reason,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSuppression {
    pub number: String,
    /// `suppression` (default) or `internal_dnc`.
    pub list: Option<String>,
    /// `api` (default) or `dashboard`.
    pub source: Option<String>,
    pub reason: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveSuppression {
    /// Why the number may be called again (required, audited).
    pub reason: String,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SuppressionQuery {
    pub limit: Option<u32>,
    pub after: Option<String>,
    /// Only this number's entries (any spelling of a NANP number).
    pub number: Option<String>,
}

pub(crate) fn number(field: &str, raw: &str) -> Result<E164, ApiError> {
    parse_nanp(raw)
        .map_err(|e| ApiError::invalid(format!("`{field}`: {} ({}).", e.message(), e.code())))
}

/// Adds a number. Adding a number already on the list returns its entry (200).
#[utoipa::path(post, path = "/v1/suppressions", tag = "suppressions", security(("bearer" = [])), request_body = CreateSuppression, responses(
    (status = 201, description = "Added", body = SuppressionView), (status = 200, description = "Already on the list", body = SuppressionView),
    (status = 422, description = "A field is missing or invalid", body = Problem)))]
pub async fn create_suppression(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Body(input): Body<CreateSuppression>,
) -> Result<(StatusCode, Json<SuppressionView>), ApiError> {
    let list = match input.list.as_deref() {
        None => SuppressionList::Suppression,
        Some(l) => SuppressionList::parse(l)
            .ok_or_else(|| ApiError::invalid("`list` must be suppression or internal_dnc."))?,
    };
    let source = match input.source.as_deref() {
        None | Some("api") => SuppressionSource::Api,
        Some("dashboard") => SuppressionSource::Dashboard,
        Some(_) => return Err(ApiError::invalid("`source` must be api or dashboard.")),
    };
    let reason = input
        .reason
        .as_deref()
        .map(|r| clean_text("reason", r, 500))
        .transpose()?;
    let (s, created) = state
        .store
        .scope(&actor)
        .add_suppression(
            NewSuppression {
                number: number("number", &input.number)?,
                list,
                source,
                reason,
            },
            &ctx,
        )
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(s.into())))
}

/// Entries of the list, removed ones included; `number` finds a number's entries.
#[utoipa::path(get, path = "/v1/suppressions", tag = "suppressions", security(("bearer" = [])), params(SuppressionQuery), responses(
    (status = 200, description = "Success", body = Page<SuppressionView>)))]
pub async fn list_suppressions(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<SuppressionQuery>,
) -> Result<Json<Page<SuppressionView>>, ApiError> {
    let limit = page_limit(q.limit)?;
    let after = q
        .after
        .as_deref()
        .map(path_id::<SuppressionKind>)
        .transpose()?;
    let n = q
        .number
        .as_deref()
        .map(|n| number("number", n))
        .transpose()?;
    let rows = state
        .store
        .scope(&actor)
        .list_suppressions(n.as_ref(), after.as_ref(), limit + 1)
        .await?;
    let rows = rows.into_iter().map(SuppressionView::from).collect();
    Ok(Json(Page::from_rows(rows, limit, |s: &SuppressionView| {
        s.id.clone()
    })))
}

/// Removes an entry (owners only), with a reason. The entry stays, marked removed.
#[utoipa::path(delete, path = "/v1/suppressions/{suppression_id}", tag = "suppressions", security(("bearer" = [])),
    params(("suppression_id" = String, Path, description = "A `sup_` id")), request_body = RemoveSuppression, responses(
    (status = 200, description = "Removed", body = SuppressionView), (status = 404, description = "No such object in this organization", body = Problem)))]
pub async fn remove_suppression(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Path(suppression_id): Path<String>,
    Body(input): Body<RemoveSuppression>,
) -> Result<Json<SuppressionView>, ApiError> {
    let id = path_id::<SuppressionKind>(&suppression_id)?;
    let reason = clean_text("reason", &input.reason, 500)?;
    Ok(Json(
        state
            .store
            .scope(&actor)
            .remove_suppression(&id, &reason, &ctx)
            .await?
            .into(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptOutInput {
    /// The number that spoke or texted; or give `lead_id`.
    pub number: Option<String>,
    pub lead_id: Option<String>,
    /// What the person said or texted (not stored).
    pub text: String,
}

#[derive(Serialize, ToSchema)]
pub struct OptOutView {
    /// True when the text is an opt-out; the number is then suppressed.
    pub opted_out: bool,
    /// The keyword or phrase recognised, e.g. `stop` or `do not call`.
    pub matched: Option<String>,
    pub suppression: Option<SuppressionView>,
}

/// Checks an utterance or text for an opt-out ("stop", "do not call me",
/// "unsubscribe", ... and common misspellings) and, when it is one, adds the
/// number to the suppression list before answering.
#[utoipa::path(post, path = "/v1/opt-outs", tag = "suppressions", security(("bearer" = [])), request_body = OptOutInput, responses(
    (status = 200, description = "Checked (and suppressed when an opt-out)", body = OptOutView),
    (status = 422, description = "A field is missing or invalid", body = Problem),
    (status = 404, description = "The lead does not exist in this organization", body = Problem)))]
pub async fn record_opt_out(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Body(input): Body<OptOutInput>,
) -> Result<Json<OptOutView>, ApiError> {
    if input.text.chars().count() > 10_000 {
        return Err(ApiError::invalid("`text` may be at most 10000 characters."));
    }
    let scope = state.store.scope(&actor);
    let n =
        match (input.number.as_deref(), input.lead_id.as_deref()) {
            (Some(n), None) => number("number", n)?,
            (None, Some(l)) => scope
                .lead_number(&path_id::<LeadKind>(l)?)
                .await
                .map_err(|e| match e {
                    tollgate_store::StoreError::NotFound => ApiError::not_found("lead"),
                    other => other.into(),
                })?,
            _ => {
                return Err(ApiError::invalid(
                    "Give exactly one of `number` and `lead_id`.",
                ));
            }
        };
    let Some(m) = detect_opt_out(&input.text) else {
        return Ok(Json(OptOutView {
            opted_out: false,
            matched: None,
            suppression: None,
        }));
    };
    let s = scope.record_opt_out(n, m.matched, &ctx).await?;
    Ok(Json(OptOutView {
        opted_out: true,
        matched: Some(m.matched.to_owned()),
        suppression: Some(s.into()),
    }))
}
