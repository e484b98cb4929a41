//! Leads: create (one or a batch), list, read. Numbers are normalized to
//! E.164 (NANP only); consent evidence is judged at intake and a lead
//! without usable evidence is stored as ineligible, with its reasons.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tollgate_core::id::{CampaignId, LeadKind};
use tollgate_gate::{ConsentEvidence, ConsentType, EbrKind, parse_nanp};
use tollgate_store::{Lead, NewLead, StoreError};
use utoipa::ToSchema;

use super::extract::{Authenticated, Body, QueryParams, RequestCtx, path_id};
use super::members::ListQuery;
use super::{Page, rfc3339};
use crate::app::AppState;
use crate::error::{ApiError, Problem};

/// Most leads in one `POST /v1/leads` batch.
pub const MAX_BATCH: usize = 100;
const MAX_FIELDS: usize = 50;

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// `prior_express_written`, `prior_express`, `established_business_relationship` or `none`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When consent was given (RFC 3339).
    pub timestamp: Option<String>,
    /// URL or form id where it was captured.
    pub source: Option<String>,
    pub ip: Option<String>,
    /// The consent language shown, or `text_version`.
    pub text: Option<String>,
    pub text_version: Option<String>,
    /// Who captured it (system, vendor, agent).
    pub captured_by: Option<String>,
    /// For an established business relationship: its date (RFC 3339 or YYYY-MM-DD).
    pub ebr_date: Option<String>,
    /// `transaction` (18 months) or `inquiry` (3 months; the default).
    pub ebr_kind: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadInput {
    /// Any common spelling of a NANP number; stored as E.164.
    pub phone: String,
    /// Two-letter USPS code.
    pub state: Option<String>,
    /// ZIP or ZIP+4.
    pub zip: Option<String>,
    pub name: Option<String>,
    pub campaign_id: Option<String>,
    /// Other declared fields: strings, numbers or booleans.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    pub consent: Option<ConsentInput>,
}

/// One lead, or `{"leads": [...]}` (at most 100).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum CreateLeads {
    Batch { leads: Vec<LeadInput> },
    One(Box<LeadInput>),
}

#[derive(Serialize, ToSchema)]
pub struct ConsentView {
    #[serde(rename = "type")]
    pub kind: String,
    pub timestamp: Option<String>,
    pub source: Option<String>,
    pub ip: Option<String>,
    pub text: Option<String>,
    pub text_version: Option<String>,
    pub captured_by: Option<String>,
    pub ebr_date: Option<String>,
    pub ebr_kind: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LeadView {
    pub id: String,
    pub campaign_id: Option<String>,
    /// E.164.
    pub phone: String,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub name: Option<String>,
    #[schema(value_type = Object)]
    pub fields: serde_json::Value,
    pub consent: ConsentView,
    /// False when the consent evidence is unusable: the lead never dials.
    pub eligible: bool,
    /// Stable codes saying why it is ineligible.
    pub ineligible_reasons: Vec<String>,
    pub created_at: String,
    /// The DNC check at intake: `checked_at`, `clear`, `reasons` (internal
    /// list and registries, with codes as the gate gives them) and
    /// `list_versions`. Every dial checks again.
    #[schema(value_type = Option<Object>)]
    pub intake_dnc: Option<serde_json::Value>,
}

impl From<Lead> for LeadView {
    fn from(l: Lead) -> Self {
        let c = l.consent;
        LeadView {
            id: l.id.to_string(),
            campaign_id: l.campaign_id.map(|c| c.to_string()),
            phone: l.phone.to_string(),
            state: l.state,
            zip: l.zip,
            name: l.name,
            fields: l.fields,
            consent: ConsentView {
                kind: c.kind.unwrap_or(ConsentType::None).as_str().to_owned(),
                timestamp: c.given_at.map(|t| t.to_string()),
                source: c.source,
                ip: c.ip,
                text: c.text,
                text_version: c.text_version,
                captured_by: c.captured_by,
                ebr_date: c.ebr_date.map(|t| t.to_string()),
                ebr_kind: c.ebr_kind.map(|k| k.as_str().to_owned()),
            },
            eligible: l.eligible,
            ineligible_reasons: l.ineligible_reasons,
            created_at: rfc3339(l.created_at),
            intake_dnc: l.intake_dnc,
        }
    }
}

/// An instant: RFC 3339, or a date (midnight UTC).
pub fn parse_instant(s: &str) -> Option<jiff::Timestamp> {
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t);
    }
    let d: jiff::civil::Date = s.parse().ok()?;
    d.to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

fn opt_text(
    errors: &mut Vec<String>,
    field: &str,
    v: Option<String>,
    max: usize,
) -> Option<String> {
    let v = v?.trim().to_owned();
    if v.is_empty() {
        return None;
    }
    if v.chars().count() > max {
        errors.push(format!("`{field}` may be at most {max} characters"));
        return None;
    }
    if v.chars().any(|c| c.is_control() && c != '\n') {
        errors.push(format!("`{field}` must not contain control characters"));
        return None;
    }
    Some(v)
}

/// Validates one lead: every problem, as messages. Shared by the API and
/// the CSV import. Consent problems do not refuse the lead (it is stored
/// ineligible); only malformed input does.
pub fn validate_lead(input: LeadInput) -> Result<NewLead, Vec<String>> {
    let mut errors = Vec::new();
    let phone = match parse_nanp(&input.phone) {
        Ok(p) => Some(p),
        Err(e) => {
            errors.push(format!("`phone`: {} ({})", e.message(), e.code()));
            None
        }
    };
    let state = match opt_text(&mut errors, "state", input.state, 2) {
        None => None,
        Some(s) => match tollgate_rules::State::parse(&s) {
            Some(st) => Some(st.code().to_owned()),
            None => {
                errors.push(format!(
                    "`state`: `{s}` is not a US state or territory code"
                ));
                None
            }
        },
    };
    let zip = match opt_text(&mut errors, "zip", input.zip, 10) {
        None => None,
        Some(z) => match tollgate_rules::Zip3::from_zip(&z) {
            Some(z3) if tollgate_rules::rules().zip3(z3).is_some() => Some(z),
            _ => {
                errors.push(format!("`zip`: `{z}` is not a known US ZIP code"));
                None
            }
        },
    };
    let name = opt_text(&mut errors, "name", input.name, 200);
    let campaign_id = match input.campaign_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(c) => match CampaignId::parse(c) {
            Ok(id) => Some(id),
            Err(e) => {
                errors.push(format!("`campaign_id`: {e}"));
                None
            }
        },
    };
    if input.fields.len() > MAX_FIELDS {
        errors.push(format!("`fields` may hold at most {MAX_FIELDS} entries"));
    }
    for (k, v) in &input.fields {
        let ok_value = match v {
            serde_json::Value::String(s) => s.chars().count() <= 1000,
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) | serde_json::Value::Null => {
                true
            }
            _ => false,
        };
        if k.is_empty() || k.chars().count() > 64 || k.chars().any(char::is_control) || !ok_value {
            errors.push(format!(
                "`fields.{}`: keys are 1-64 characters; values strings (up to 1000 characters), numbers or booleans",
                k.chars().take(64).collect::<String>()
            ));
        }
    }
    let consent = consent_evidence(&mut errors, input.consent.unwrap_or_default());
    match (errors.is_empty(), phone) {
        (true, Some(phone)) => Ok(NewLead {
            phone,
            state,
            zip,
            name,
            fields: input.fields,
            campaign_id,
            consent,
        }),
        _ => Err(errors),
    }
}

fn consent_evidence(errors: &mut Vec<String>, c: ConsentInput) -> ConsentEvidence {
    let kind = if c.kind.trim().is_empty() {
        Some(ConsentType::None)
    } else {
        match ConsentType::parse(c.kind.trim()) {
            Some(k) => Some(k),
            None => {
                errors.push(format!(
                    "`consent.type`: `{}` is not prior_express_written, prior_express, established_business_relationship or none",
                    c.kind.chars().take(60).collect::<String>()
                ));
                None
            }
        }
    };
    let mut instant = |field: &str, v: Option<String>| -> Option<jiff::Timestamp> {
        let v = v?;
        if v.trim().is_empty() {
            return None;
        }
        let t = parse_instant(&v);
        if t.is_none() {
            errors.push(format!(
                "`consent.{field}` must be an RFC 3339 date-time or a date"
            ));
        }
        t
    };
    let given_at = instant("timestamp", c.timestamp);
    let ebr_date = instant("ebr_date", c.ebr_date);
    let ip = match opt_text(errors, "consent.ip", c.ip, 45) {
        Some(ip) if ip.parse::<std::net::IpAddr>().is_err() => {
            errors.push("`consent.ip` must be an IPv4 or IPv6 address".into());
            None
        }
        other => other,
    };
    let ebr_kind = match c.ebr_kind.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(k) => match EbrKind::parse(k) {
            Some(k) => Some(k),
            None => {
                errors.push("`consent.ebr_kind` must be transaction or inquiry".into());
                None
            }
        },
    };
    ConsentEvidence {
        kind,
        given_at,
        source: opt_text(errors, "consent.source", c.source, 2048),
        ip,
        text: opt_text(errors, "consent.text", c.text, 10_000),
        text_version: opt_text(errors, "consent.text_version", c.text_version, 100),
        captured_by: opt_text(errors, "consent.captured_by", c.captured_by, 200),
        ebr_date,
        ebr_kind,
    }
}

/// Creates one lead or a batch (all or nothing). Leads without usable
/// consent evidence are created as ineligible, with their reasons.
#[utoipa::path(post, path = "/v1/leads", tag = "leads", security(("bearer" = [])), request_body = CreateLeads, responses(
    (status = 201, description = "Created: the lead, or `{\"data\": [...]}` for a batch", body = LeadView),
    (status = 422, description = "A field is missing or invalid (every problem, by index)", body = Problem),
    (status = 404, description = "The campaign does not exist in this organization", body = Problem)))]
pub async fn create_leads(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Body(input): Body<CreateLeads>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let (inputs, batch) = match input {
        CreateLeads::Batch { leads } => (leads, true),
        CreateLeads::One(l) => (vec![*l], false),
    };
    if inputs.is_empty() || inputs.len() > MAX_BATCH {
        return Err(ApiError::invalid(format!(
            "`leads` must hold 1 to {MAX_BATCH} leads."
        )));
    }
    let mut leads = Vec::with_capacity(inputs.len());
    let mut problems = Vec::new();
    for (i, l) in inputs.into_iter().enumerate() {
        match validate_lead(l) {
            Ok(l) => leads.push(l),
            Err(errs) => problems.extend(
                errs.into_iter()
                    .map(|e| if batch { format!("leads[{i}]: {e}") } else { e }),
            ),
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid(problems.join("; ")));
    }
    let created = state
        .store
        .scope(&actor)
        .create_leads(&leads, &ctx)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("campaign"),
            other => other.into(),
        })?;
    // Intake DNC check (issue 8): the same lookup as a dial check, judged
    // by the gate's own DNC rules and kept with the lead.
    let mut checked = Vec::with_capacity(created.len());
    for lead in created {
        let dnc = state
            .dnc
            .answer_for(&state.store, &actor, Some(&lead.id), None, ctx.now)
            .await?;
        checked.push(
            state
                .store
                .scope(&actor)
                .record_intake_dnc(&lead.id, &dnc, &ctx)
                .await?,
        );
    }
    let views: Vec<LeadView> = checked.into_iter().map(LeadView::from).collect();
    let body = if batch {
        serde_json::json!({ "data": views })
    } else {
        serde_json::to_value(&views[0]).map_err(|_| ApiError::internal())?
    };
    Ok((StatusCode::CREATED, Json(body)))
}

/// Leads of the organization, oldest first.
#[utoipa::path(get, path = "/v1/leads", tag = "leads", security(("bearer" = [])), params(ListQuery), responses(
    (status = 200, description = "Success", body = Page<LeadView>)))]
pub async fn list_leads(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<Page<LeadView>>, ApiError> {
    let limit = q.limit()?;
    let after = q.after.as_deref().map(path_id::<LeadKind>).transpose()?;
    let rows = state
        .store
        .scope(&actor)
        .list_leads(after.as_ref(), limit + 1)
        .await?;
    let rows = rows.into_iter().map(LeadView::from).collect();
    Ok(Json(Page::from_rows(rows, limit, |l: &LeadView| {
        l.id.clone()
    })))
}

/// One lead, with its consent evidence and eligibility.
#[utoipa::path(get, path = "/v1/leads/{lead_id}", tag = "leads", security(("bearer" = [])),
    params(("lead_id" = String, Path, description = "A `lead_` id")), responses(
    (status = 200, description = "Success", body = LeadView), (status = 404, description = "No such object in this organization", body = Problem)))]
pub async fn get_lead(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(lead_id): Path<String>,
) -> Result<Json<LeadView>, ApiError> {
    let id = path_id::<LeadKind>(&lead_id)?;
    Ok(Json(state.store.scope(&actor).get_lead(&id).await?.into()))
}
