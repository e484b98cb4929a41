//! Campaigns: create, list, read, change (pausing needs an admin).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tollgate_core::Role;
use tollgate_core::id::CampaignKind;
use tollgate_gate::{DialChannel, Purpose, VoiceType};
use tollgate_store::{Campaign, CampaignPatch, CampaignSpec, DayWindows, WEEKDAYS as DAYS, hhmm};
use utoipa::ToSchema;

use super::extract::{Authenticated, Body, QueryParams, RequestCtx, path_id};
use super::members::ListQuery;
use super::{Page, clean_text, rfc3339};
use crate::app::AppState;
use crate::error::{ApiError, Code, Problem};

const MAX_CAPS: usize = 5;

/// Calling windows by weekday in the lead's local time: `{"mon": ["09:00", "17:00"], ...}`.
/// A day left out has no calls.
pub type WindowsInput = std::collections::BTreeMap<String, [String; 2]>;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapInput {
    pub max_attempts: u32,
    pub window_hours: u32,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCampaign {
    pub name: String,
    /// `telemarketing` or `informational`.
    pub purpose: String,
    /// `voice` or `text`.
    pub channel: String,
    /// `ai` or `live` (texts: `live`).
    pub voice: String,
    #[schema(value_type = Option<Object>)]
    pub windows: Option<WindowsInput>,
    pub max_attempts_per_lead: Option<u32>,
    #[serde(default)]
    pub caps: Vec<CapInput>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchCampaign {
    pub name: Option<String>,
    /// `null` removes the campaign's own windows.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub windows: Option<Option<WindowsInput>>,
    #[serde(default, deserialize_with = "present")]
    pub max_attempts_per_lead: Option<Option<u32>>,
    pub caps: Option<Vec<CapInput>>,
    /// Pause or resume (owners and admins).
    pub paused: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct CampaignView {
    pub id: String,
    pub name: String,
    pub purpose: String,
    pub channel: String,
    pub voice: String,
    #[schema(value_type = Option<Object>)]
    pub windows: Option<WindowsInput>,
    pub max_attempts_per_lead: Option<u32>,
    pub caps: Vec<CapInput>,
    pub paused: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Campaign> for CampaignView {
    fn from(c: Campaign) -> Self {
        CampaignView {
            id: c.id.to_string(),
            name: c.spec.name,
            purpose: c.spec.purpose.as_str().into(),
            channel: c.spec.channel.as_str().into(),
            voice: c.spec.voice.as_str().into(),
            windows: c.spec.windows.map(|w| {
                w.iter()
                    .enumerate()
                    .filter_map(|(i, d)| d.map(|(s, e)| (DAYS[i].to_owned(), [hhmm(s), hhmm(e)])))
                    .collect()
            }),
            max_attempts_per_lead: c.spec.max_attempts_per_lead,
            caps: c
                .spec
                .caps
                .into_iter()
                .map(|(max_attempts, window_hours)| CapInput {
                    max_attempts,
                    window_hours,
                })
                .collect(),
            paused: c.paused,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

fn parse_minute(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
}

pub(crate) fn windows(input: &WindowsInput) -> Result<DayWindows, ApiError> {
    let mut out: DayWindows = [None; 7];
    for (day, [s, e]) in input {
        let i = DAYS.iter().position(|d| d == day).ok_or_else(|| {
            ApiError::invalid(format!("`windows`: `{day}` is not one of mon..sun."))
        })?;
        match (parse_minute(s), parse_minute(e)) {
            (Some(s), Some(e)) if s < e => out[i] = Some((s, e)),
            _ => {
                return Err(ApiError::invalid(format!(
                    "`windows.{day}` must be [\"HH:MM\", \"HH:MM\"] with start before end."
                )));
            }
        }
    }
    Ok(out)
}

pub(crate) fn caps(input: &[CapInput]) -> Result<Vec<(u32, u32)>, ApiError> {
    if input.len() > MAX_CAPS {
        return Err(ApiError::invalid(format!(
            "`caps` may hold at most {MAX_CAPS} caps."
        )));
    }
    input
        .iter()
        .map(|c| {
            if c.max_attempts == 0
                || c.max_attempts > 1000
                || c.window_hours == 0
                || c.window_hours > tollgate_store::MAX_CAP_WINDOW_HOURS
            {
                Err(ApiError::invalid(format!(
                    "`caps`: max_attempts is 1-1000 and window_hours 1-{}.",
                    tollgate_store::MAX_CAP_WINDOW_HOURS
                )))
            } else {
                Ok((c.max_attempts, c.window_hours))
            }
        })
        .collect()
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
pub(crate) fn present<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

pub(crate) fn max_attempts(n: Option<u32>) -> Result<Option<u32>, ApiError> {
    match n {
        Some(0) | Some(1001..) => Err(ApiError::invalid("`max_attempts_per_lead` is 1 to 1000.")),
        other => Ok(other),
    }
}

/// Creates a campaign (not paused).
#[utoipa::path(post, path = "/v1/campaigns", tag = "campaigns", security(("bearer" = [])), request_body = CreateCampaign, responses(
    (status = 201, description = "Created", body = CampaignView), (status = 422, description = "A field is missing or invalid", body = Problem)))]
pub async fn create_campaign(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Body(input): Body<CreateCampaign>,
) -> Result<(StatusCode, Json<CampaignView>), ApiError> {
    let spec = CampaignSpec {
        name: clean_text("name", &input.name, 200)?,
        purpose: Purpose::parse(&input.purpose).ok_or_else(|| {
            ApiError::invalid("`purpose` must be telemarketing or informational.")
        })?,
        channel: DialChannel::parse(&input.channel)
            .ok_or_else(|| ApiError::invalid("`channel` must be voice or text."))?,
        voice: VoiceType::parse(&input.voice)
            .ok_or_else(|| ApiError::invalid("`voice` must be ai or live."))?,
        windows: input.windows.as_ref().map(windows).transpose()?,
        max_attempts_per_lead: max_attempts(input.max_attempts_per_lead)?,
        caps: caps(&input.caps)?,
    };
    let c = state
        .store
        .scope(&actor)
        .create_campaign(spec, &ctx)
        .await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

/// Campaigns of the organization.
#[utoipa::path(get, path = "/v1/campaigns", tag = "campaigns", security(("bearer" = [])), params(ListQuery), responses(
    (status = 200, description = "Success", body = Page<CampaignView>)))]
pub async fn list_campaigns(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<Page<CampaignView>>, ApiError> {
    let limit = q.limit()?;
    let after = q
        .after
        .as_deref()
        .map(path_id::<CampaignKind>)
        .transpose()?;
    let rows = state
        .store
        .scope(&actor)
        .list_campaigns(after.as_ref(), limit + 1)
        .await?;
    let rows = rows.into_iter().map(CampaignView::from).collect();
    Ok(Json(Page::from_rows(rows, limit, |c: &CampaignView| {
        c.id.clone()
    })))
}

/// One campaign.
#[utoipa::path(get, path = "/v1/campaigns/{campaign_id}", tag = "campaigns", security(("bearer" = [])),
    params(("campaign_id" = String, Path, description = "A `cmp_` id")), responses(
    (status = 200, description = "Success", body = CampaignView), (status = 404, description = "No such object in this organization", body = Problem)))]
pub async fn get_campaign(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(campaign_id): Path<String>,
) -> Result<Json<CampaignView>, ApiError> {
    let id = path_id::<CampaignKind>(&campaign_id)?;
    Ok(Json(
        state.store.scope(&actor).get_campaign(&id).await?.into(),
    ))
}

/// Changes a campaign. `paused` denies every dial of the campaign at once
/// (owners and admins only; audited).
#[utoipa::path(patch, path = "/v1/campaigns/{campaign_id}", tag = "campaigns", security(("bearer" = [])),
    params(("campaign_id" = String, Path, description = "A `cmp_` id")), request_body = PatchCampaign, responses(
    (status = 200, description = "Success", body = CampaignView), (status = 404, description = "No such object in this organization", body = Problem)))]
pub async fn patch_campaign(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Path(campaign_id): Path<String>,
    Body(input): Body<PatchCampaign>,
) -> Result<Json<CampaignView>, ApiError> {
    let id = path_id::<CampaignKind>(&campaign_id)?;
    if input.paused.is_some() && actor.role() < Role::Admin {
        return Err(ApiError::with(
            Code::InsufficientRole,
            "Pausing or resuming a campaign needs the admin role or higher.",
        ));
    }
    let patch = CampaignPatch {
        name: input
            .name
            .as_deref()
            .map(|n| clean_text("name", n, 200))
            .transpose()?,
        windows: match &input.windows {
            None => None,
            Some(None) => Some(None),
            Some(Some(w)) => Some(Some(windows(w)?)),
        },
        max_attempts_per_lead: input.max_attempts_per_lead.map(max_attempts).transpose()?,
        caps: input.caps.as_deref().map(caps).transpose()?,
        paused: input.paused,
    };
    Ok(Json(
        state
            .store
            .scope(&actor)
            .update_campaign(&id, patch, &ctx)
            .await?
            .into(),
    ))
}
