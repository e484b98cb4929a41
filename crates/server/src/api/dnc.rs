//! Do-not-call data over the API (issue 8): `POST /v1/dnc/scrub`, a batch
//! judged exactly as dial checks would be (the same DNC lookup, facts and
//! decision), without recording attempts.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use tollgate_core::id::{CampaignKind, LeadKind};
use tollgate_gate::{DialChannel, parse_nanp};
use tollgate_store::StoreError;
use utoipa::ToSchema;

use super::extract::{Authenticated, Body, RequestCtx, path_id};
use super::gate::{DialCheckView, planned_at};
use crate::app::AppState;
use crate::error::{ApiError, Problem};

/// Most rows in one scrub request (the CLI streams files of any size).
pub const MAX_SCRUB_ROWS: usize = 1000;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScrubInput {
    pub campaign_id: String,
    /// `voice` or `text`.
    pub channel: String,
    /// The instant judged (RFC 3339); default now. At most 14 days ahead.
    pub planned_at: Option<String>,
    /// 1 to 1000 rows, each a lead or a bare number.
    pub rows: Vec<ScrubRowInput>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScrubRowInput {
    pub lead_id: Option<String>,
    /// A bare number: it has no consent evidence, so its verdict always
    /// includes `no_consent`; its DNC reasons are reported too.
    pub number: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ScrubRowView {
    /// The row's position in the request, from 0.
    pub row: usize,
    /// The verdict and every reason, as a dial check at that instant would
    /// give them (`id` is absent: nothing is recorded).
    pub decision: Option<DialCheckView>,
    /// `lead_not_found` when the row names a lead this organization does not have.
    pub error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ScrubView {
    pub allowed: usize,
    pub denied: usize,
    pub results: Vec<ScrubRowView>,
}

/// Judges a batch of leads or numbers for a campaign through the gate's own
/// decision (nothing is dialled or recorded; one `dnc.scrubbed` audit
/// event records the batch).
#[utoipa::path(post, path = "/v1/dnc/scrub", tag = "gate", security(("bearer" = [])), request_body = ScrubInput, responses(
    (status = 200, description = "Every row's verdict and reasons", body = ScrubView),
    (status = 422, description = "A field is missing or invalid", body = Problem),
    (status = 404, description = "The campaign does not exist in this organization", body = Problem)))]
pub async fn scrub(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Body(input): Body<ScrubInput>,
) -> Result<Json<ScrubView>, ApiError> {
    let campaign_id = path_id::<CampaignKind>(&input.campaign_id)?;
    let channel = DialChannel::parse(&input.channel)
        .ok_or_else(|| ApiError::invalid("`channel` must be voice or text."))?;
    if input.rows.is_empty() || input.rows.len() > MAX_SCRUB_ROWS {
        return Err(ApiError::invalid(format!(
            "`rows` must hold 1 to {MAX_SCRUB_ROWS} rows."
        )));
    }
    let at = planned_at(input.planned_at.as_deref(), ctx.now)?;
    let mut rows = Vec::with_capacity(input.rows.len());
    let mut problems = Vec::new();
    for (i, r) in input.rows.iter().enumerate() {
        match (r.lead_id.as_deref(), r.number.as_deref()) {
            (Some(l), None) => match path_id::<LeadKind>(l) {
                Ok(id) => rows.push((Some(id), None)),
                Err(_) => problems.push(format!("rows[{i}].lead_id is not a lead id")),
            },
            (None, Some(n)) => match parse_nanp(n) {
                Ok(n) => rows.push((None, Some(n))),
                Err(e) => {
                    problems.push(format!("rows[{i}].number: {} ({})", e.message(), e.code()))
                }
            },
            _ => problems.push(format!(
                "rows[{i}]: give exactly one of `lead_id` and `number`"
            )),
        }
    }
    if !problems.is_empty() {
        problems.truncate(20);
        return Err(ApiError::invalid(format!("{}.", problems.join("; "))));
    }
    let results = state
        .dnc
        .scrub(
            &state.store,
            &actor,
            &campaign_id,
            channel,
            at,
            state.config.gate.safety_margin_minutes,
            &rows,
            &ctx,
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("campaign"),
            other => other.into(),
        })?;
    let mut view = ScrubView {
        allowed: 0,
        denied: 0,
        results: Vec::with_capacity(results.len()),
    };
    for (row, r) in results.into_iter().enumerate() {
        view.results.push(match r {
            Ok(c) => {
                if c.allowed {
                    view.allowed += 1;
                } else {
                    view.denied += 1;
                }
                ScrubRowView {
                    row,
                    decision: Some(c.into()),
                    error: None,
                }
            }
            Err(StoreError::NotFound) => ScrubRowView {
                row,
                decision: None,
                error: Some("lead_not_found".into()),
            },
            Err(e) => return Err(e.into()),
        });
    }
    Ok(Json(view))
}
