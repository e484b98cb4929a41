//! The dial gate: `POST /v1/dial-checks` (allow or deny, with every reason),
//! past decisions, and the organization's gate settings (pause switch,
//! running-without-DNC acknowledgment).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tollgate_core::id::{CampaignKind, DialCheckKind, LeadKind, ProviderCredentialKind};
use tollgate_gate::{DialChannel, parse_nanp};
use tollgate_store::{
    DialCheck, DialJob, DialRequest, GateSettings, GateSettingsPatch, StoreError,
};
use utoipa::ToSchema;

use super::extract::{Authenticated, Body, RequestCtx, path_id};
use super::{clean_text, rfc3339};
use crate::app::AppState;
use crate::error::{ApiError, Problem};

/// How far ahead a planned instant may be.
const MAX_PLANNED_AHEAD_DAYS: i64 = 14;
/// How far behind "now" a planned instant may be (clock skew of the caller).
const MAX_PLANNED_BEHIND_SECS: i64 = 300;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DialCheckInput {
    /// The lead to dial; or give `number`.
    pub lead_id: Option<String>,
    /// A bare number (it has no consent evidence, so it is always denied
    /// `no_consent`, but every other reason is reported too).
    pub number: Option<String>,
    pub campaign_id: String,
    /// `voice` or `text`.
    pub channel: String,
    /// The planned instant (RFC 3339); default now. At most 14 days ahead.
    pub planned_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReasonView {
    /// Stable code: `no_consent`, `suppressed`, `dnc_national`, `dnc_state`,
    /// `dnc_internal`, `dnc_litigator`, `dnc_registry_stale`, `dnc_provider_down`,
    /// `outside_hours`, `restricted_day`, `unknown_timezone`, `frequency_cap`,
    /// `max_attempts`, `channel_mismatch`, `campaign_paused`, `org_paused`,
    /// `internal_error`.
    pub code: String,
    pub detail: String,
    /// The rules row (`FL-HOURS`), when the reason comes from one.
    pub rule_id: Option<String>,
    pub citation: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ListVersionView {
    pub list: String,
    pub version: String,
}

#[derive(Serialize, ToSchema)]
pub struct DialCheckView {
    /// The decision id (`dck_`); absent only if even recording failed.
    pub id: Option<String>,
    pub allowed: bool,
    /// Every reason that applies; empty when allowed.
    pub reasons: Vec<ReasonView>,
    pub at: String,
    pub campaign_id: String,
    pub lead_id: Option<String>,
    /// Masked.
    pub number: Option<String>,
    pub channel: String,
    pub candidate_zones: Vec<String>,
    pub candidate_states: Vec<String>,
    pub rules_version: String,
    pub rules_applied: Vec<String>,
    pub list_versions: Vec<ListVersionView>,
    /// When denied for time only: the first instant the dial would be allowed.
    pub next_allowed: Option<String>,
    pub decided_at: String,
}

impl From<DialCheck> for DialCheckView {
    fn from(c: DialCheck) -> Self {
        DialCheckView {
            id: c.id,
            allowed: c.allowed,
            reasons: c
                .reasons
                .into_iter()
                .map(|r| ReasonView {
                    code: r.code,
                    detail: r.detail,
                    rule_id: r.rule_id,
                    citation: r.citation,
                })
                .collect(),
            at: c.at,
            campaign_id: c.campaign_id,
            lead_id: c.lead_id,
            number: c.number,
            channel: c.channel,
            candidate_zones: c.candidate_zones,
            candidate_states: c.candidate_states,
            rules_version: c.rules_version,
            rules_applied: c.rules_applied,
            list_versions: c
                .list_versions
                .into_iter()
                .map(|l| ListVersionView {
                    list: l.list,
                    version: l.version,
                })
                .collect(),
            next_allowed: c.next_allowed,
            decided_at: c.decided_at,
        }
    }
}

/// Asks the gate. The answer is `allowed` with every reason; an allowed
/// decision records the attempt (for caps) and every decision is audited in
/// the same transaction. Any failure inside the gate answers
/// `allowed: false` with `internal_error`.
#[utoipa::path(post, path = "/v1/dial-checks", tag = "gate", security(("bearer" = [])), request_body = DialCheckInput, responses(
    (status = 200, description = "The decision (allowed or denied)", body = DialCheckView),
    (status = 422, description = "A field is missing or invalid", body = Problem),
    (status = 404, description = "The campaign or lead does not exist in this organization", body = Problem)))]
pub async fn create_dial_check(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Body(input): Body<DialCheckInput>,
) -> Result<Response, ApiError> {
    let campaign_id = path_id::<CampaignKind>(&input.campaign_id)?;
    let channel = DialChannel::parse(&input.channel)
        .ok_or_else(|| ApiError::invalid("`channel` must be voice or text."))?;
    let (lead_id, number) = match (input.lead_id.as_deref(), input.number.as_deref()) {
        (Some(l), None) => (Some(path_id::<LeadKind>(l)?), None),
        (None, Some(n)) => (
            None,
            Some(parse_nanp(n).map_err(|e| {
                ApiError::invalid(format!("`number`: {} ({}).", e.message(), e.code()))
            })?),
        ),
        _ => {
            return Err(ApiError::invalid(
                "Give exactly one of `lead_id` and `number`.",
            ));
        }
    };
    let at = planned_at(input.planned_at.as_deref(), ctx.now)?;
    let not_found = |e: StoreError| match e {
        StoreError::NotFound => ApiError::not_found("campaign or lead"),
        other => other.into(),
    };
    // Read once: the DNC lookup needs its number and place, and the check
    // decides on the same row instead of reading it again in the group.
    let lead = match &lead_id {
        Some(id) => Some(Arc::new(
            state
                .store
                .scope(&actor)
                .get_lead(id)
                .await
                .map_err(not_found)?,
        )),
        None => None,
    };
    let dnc = state
        .dnc
        .answer_for_read(
            &state.store,
            &actor,
            lead.as_deref(),
            number.as_ref(),
            ctx.now,
        )
        .await
        .map_err(not_found)?;
    let req = DialRequest {
        lead_id,
        lead,
        number,
        campaign_id,
        channel,
        at,
        safety_margin_minutes: state.config.gate.safety_margin_minutes,
    };
    let check = state
        .dial
        .check(DialJob {
            actor,
            req,
            dnc,
            ctx,
        })
        .await
        .map_err(not_found)?;
    // The document stored for the decision is the answer (a
    // `DialCheckView`, field for field; a test keeps them the same), so it
    // is sent as stored instead of being serialized a second time.
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        check.json,
    )
        .into_response())
}

/// The instant a dial is planned for: now, or `planned_at` (RFC 3339)
/// between five minutes ago and 14 days ahead.
pub(crate) fn planned_at(
    planned: Option<&str>,
    now: tollgate_core::UnixMicros,
) -> Result<jiff::Timestamp, ApiError> {
    let now = jiff::Timestamp::from_microsecond(now.0).map_err(|_| ApiError::internal())?;
    let Some(s) = planned else {
        return Ok(now);
    };
    let t: jiff::Timestamp = s
        .parse()
        .map_err(|_| ApiError::invalid("`planned_at` must be an RFC 3339 date-time."))?;
    let lo = now - jiff::SignedDuration::from_secs(MAX_PLANNED_BEHIND_SECS);
    let hi = now + jiff::SignedDuration::from_hours(24 * MAX_PLANNED_AHEAD_DAYS);
    if t < lo || t > hi {
        return Err(ApiError::invalid(
            "`planned_at` must be between five minutes ago and 14 days ahead.",
        ));
    }
    Ok(t)
}

/// A past decision, exactly as it was returned: the "why?" data.
#[utoipa::path(get, path = "/v1/dial-checks/{check_id}", tag = "gate", security(("bearer" = [])),
    params(("check_id" = String, Path, description = "A `dck_` id")), responses(
    (status = 200, description = "Success", body = DialCheckView), (status = 404, description = "No such object in this organization", body = Problem)))]
pub async fn get_dial_check(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(check_id): Path<String>,
) -> Result<Json<DialCheckView>, ApiError> {
    let id = path_id::<DialCheckKind>(&check_id)?;
    Ok(Json(
        state.store.scope(&actor).get_dial_check(&id).await?.into(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct GateSettingsView {
    /// Every dial of the organization is denied (`org_paused`).
    pub paused: bool,
    pub paused_reason: Option<String>,
    /// When the organization acknowledged running without a DNC provider.
    pub dnc_provider_absence_acknowledged_at: Option<String>,
    pub dnc_provider_absence_acknowledged_by: Option<String>,
    pub dnc_provider_absence_statement: Option<String>,
    pub suppression_version: i64,
    /// The safety margin (minutes before a window closes) of this deployment.
    pub safety_margin_minutes: u16,
    /// The organization's real-time DNC provider credential (`pcr_`); null:
    /// the deployment's registry index answers.
    pub dnc_provider_credential_id: Option<String>,
}

fn settings_view(s: GateSettings, margin: u16) -> GateSettingsView {
    GateSettingsView {
        paused: s.paused,
        paused_reason: s.paused_reason,
        dnc_provider_absence_acknowledged_at: s.dnc_provider_absence_acknowledged_at.map(rfc3339),
        dnc_provider_absence_acknowledged_by: s.dnc_provider_absence_acknowledged_by,
        dnc_provider_absence_statement: s.dnc_provider_absence_statement,
        suppression_version: s.suppression_version,
        safety_margin_minutes: margin,
        dnc_provider_credential_id: s.dnc_provider_credential_id,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchGateSettings {
    /// Pause (deny every dial) or resume.
    pub paused: Option<bool>,
    pub paused_reason: Option<String>,
    /// True records that the organization runs without a DNC provider (with
    /// `dnc_statement`); false withdraws it. Audited.
    pub dnc_provider_absence_acknowledged: Option<bool>,
    pub dnc_statement: Option<String>,
    /// One of the organization's `dnc_provider` credentials: its gate then
    /// asks that provider in real time; `null` goes back to the registry
    /// index. Audited.
    #[serde(default, deserialize_with = "super::campaigns::present")]
    #[schema(value_type = Option<String>)]
    pub dnc_provider_credential_id: Option<Option<String>>,
}

/// The organization's gate settings.
#[utoipa::path(get, path = "/v1/gate-settings", tag = "gate", security(("bearer" = [])), responses(
    (status = 200, description = "Success", body = GateSettingsView)))]
pub async fn get_gate_settings(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Json<GateSettingsView>, ApiError> {
    let s = state.store.scope(&actor).gate_settings().await?;
    Ok(Json(settings_view(
        s,
        state.config.gate.safety_margin_minutes,
    )))
}

/// Pauses or resumes every dial of the organization, or records or
/// withdraws the acknowledgment of running without a DNC provider.
#[utoipa::path(patch, path = "/v1/gate-settings", tag = "gate", security(("bearer" = [])), request_body = PatchGateSettings, responses(
    (status = 200, description = "Success", body = GateSettingsView), (status = 422, description = "A field is missing or invalid", body = Problem)))]
pub async fn patch_gate_settings(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Body(input): Body<PatchGateSettings>,
) -> Result<Json<GateSettingsView>, ApiError> {
    let paused_reason = input
        .paused_reason
        .as_deref()
        .map(|r| clean_text("paused_reason", r, 500))
        .transpose()?;
    if paused_reason.is_some() && input.paused.is_none() {
        return Err(ApiError::invalid("`paused_reason` goes with `paused`."));
    }
    let dnc_acknowledgment = match (input.dnc_provider_absence_acknowledged, input.dnc_statement) {
        (None, None) => None,
        (Some(true), Some(s)) => Some(Some(clean_text("dnc_statement", &s, 1000)?)),
        (Some(true), None) => {
            return Err(ApiError::invalid(
                "Acknowledging running without a DNC provider needs a `dnc_statement`.",
            ));
        }
        (Some(false), None) => Some(None),
        _ => {
            return Err(ApiError::invalid(
                "`dnc_statement` goes with `dnc_provider_absence_acknowledged: true`.",
            ));
        }
    };
    let dnc_provider = input
        .dnc_provider_credential_id
        .map(|id| {
            id.as_deref()
                .map(path_id::<ProviderCredentialKind>)
                .transpose()
        })
        .transpose()?;
    let s = state
        .store
        .scope(&actor)
        .update_gate_settings(
            GateSettingsPatch {
                paused: input.paused,
                paused_reason: input.paused.map(|_| paused_reason),
                dnc_acknowledgment,
                dnc_provider,
            },
            &ctx,
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::invalid(
                "`dnc_provider_credential_id` must name one of this organization's `dnc_provider` credentials.",
            ),
            other => other.into(),
        })?;
    Ok(Json(settings_view(
        s,
        state.config.gate.safety_margin_minutes,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_store::{ListVersionRecord, ReasonRecord};

    /// `POST /v1/dial-checks` answers with the stored record's JSON: it must
    /// be exactly what the documented view would serialize to.
    #[test]
    fn the_stored_record_serializes_as_the_view() {
        let check = DialCheck {
            id: Some("dck_x".into()),
            allowed: false,
            reasons: vec![ReasonRecord {
                code: "outside_hours".into(),
                detail: "d".into(),
                rule_id: Some("FL-HOURS".into()),
                citation: None,
            }],
            at: "2026-12-01T15:00:00Z".into(),
            campaign_id: "cmp_x".into(),
            lead_id: None,
            number: Some("+1850***0100".into()),
            channel: "voice".into(),
            candidate_zones: vec!["America/Chicago".into()],
            candidate_states: vec!["FL".into()],
            rules_version: "r1".into(),
            rules_applied: vec!["FED-HOURS".into()],
            list_versions: vec![ListVersionRecord {
                list: "suppression".into(),
                version: "3".into(),
            }],
            next_allowed: Some("2026-12-01T16:00:00Z".into()),
            decided_at: "2026-12-01T14:00:00Z".into(),
        };
        let stored = serde_json::to_string(&check).unwrap();
        let view = serde_json::to_string(&DialCheckView::from(check)).unwrap();
        assert_eq!(stored, view);
    }
}
