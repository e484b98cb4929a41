//! Reading the organization's audit log.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use tollgate_core::UnixMicros;
use tollgate_store::{AuditFilter, StoredEvent};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Authenticated, QueryParams};
use super::rfc3339;
use crate::app::AppState;
use crate::error::{ApiError, Code};
use axum::response::{IntoResponse, Response};

#[derive(Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: String,
    /// Position in the organization's hash chain, from 1.
    pub seq: i64,
    pub occurred_at: String,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    #[schema(example = "member.role_changed")]
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub outcome: String,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub method: Option<String>,
    pub route: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// Hex SHA-256 of the previous event of this organization.
    pub prev_hash: String,
    /// Hex SHA-256 of this event's canonical encoding.
    pub hash: String,
}

impl From<StoredEvent> for AuditEventView {
    fn from(s: StoredEvent) -> Self {
        let e = s.event;
        AuditEventView {
            id: e.id,
            seq: e.seq,
            occurred_at: rfc3339(e.occurred_at),
            actor_kind: e.actor.kind,
            actor_id: e.actor.id,
            action: e.action,
            target_kind: e.target.as_ref().map(|t| t.kind.clone()),
            target_id: e.target.map(|t| t.id),
            outcome: e.outcome,
            request_id: e.request.request_id,
            ip: e.request.ip,
            user_agent: e.request.user_agent,
            method: e.request.method,
            route: e.request.route,
            details: e.details,
            prev_hash: tollgate_core::audit::to_hex(&e.prev_hash),
            hash: s.hash,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditPageView {
    pub data: Vec<AuditEventView>,
    /// Pass as `before` for the next (older) page.
    pub next_before: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// 1 to 500, default 100.
    pub limit: Option<u32>,
    /// Only events with a smaller `seq` (the `next_before` of the previous page).
    pub before: Option<i64>,
    /// RFC 3339; only events at or after this instant.
    pub since: Option<String>,
    /// RFC 3339; only events before this instant.
    pub until: Option<String>,
    /// Only events by this actor (`key_…`, `mem_…`, `bootstrap`).
    pub actor_id: Option<String>,
    /// Only this action, e.g. `member.role_changed` or `api.call`.
    pub action: Option<String>,
    /// Only this route template, e.g. `/v1/members/{member_id}`.
    pub route: Option<String>,
    /// `success`, `denied` or `failure`.
    pub outcome: Option<String>,
}

fn instant(field: &str, value: Option<&str>) -> Result<Option<UnixMicros>, ApiError> {
    value
        .map(|v| {
            UnixMicros::parse_rfc3339(v).ok_or_else(|| {
                ApiError::with(
                    Code::InvalidQuery,
                    format!("`{field}` must be an RFC 3339 date-time."),
                )
            })
        })
        .transpose()
}

fn bounded(field: &str, value: &Option<String>) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if v.is_empty() || v.len() > 200 => Err(ApiError::with(
            Code::InvalidQuery,
            format!("`{field}` must be 1 to 200 characters."),
        )),
        other => Ok(other.clone()),
    }
}

impl AuditQuery {
    fn filter(&self) -> Result<AuditFilter, ApiError> {
        if let Some(o) = &self.outcome
            && !["success", "denied", "failure"].contains(&o.as_str())
        {
            return Err(ApiError::with(
                Code::InvalidQuery,
                "`outcome` must be success, denied or failure.",
            ));
        }
        Ok(AuditFilter {
            since: instant("since", self.since.as_deref())?,
            until: instant("until", self.until.as_deref())?,
            actor_id: bounded("actor_id", &self.actor_id)?,
            action: bounded("action", &self.action)?,
            route: bounded("route", &self.route)?,
            outcome: self.outcome.clone(),
            without_api_calls: false,
        })
    }
}

/// Audit events of the organization, newest first, with optional filters.
#[utoipa::path(get, path = "/v1/audit-events", tag = "audit", security(("bearer" = [])), params(AuditQuery), responses(
    (status = 200, description = "Success", body = AuditPageView)))]
pub async fn list_audit_events(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<AuditQuery>,
) -> Result<Json<AuditPageView>, ApiError> {
    let limit = super::page_limit(q.limit)?;
    let page = state
        .store
        .scope(&actor)
        .audit_events(q.before, limit, &q.filter()?)
        .await?;
    Ok(Json(AuditPageView {
        data: page.data.into_iter().map(Into::into).collect(),
        next_before: page.next_before,
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `jsonl` (default) or `csv`.
    pub format: Option<String>,
}

/// The whole audit log, oldest first, streamed as JSON Lines or CSV for SIEM
/// ingestion. Memory use does not grow with the log's length.
#[utoipa::path(get, path = "/v1/audit-events/export", tag = "audit", security(("bearer" = [])), params(ExportQuery), responses(
    (status = 200, description = "The log, streamed", content_type = "application/x-ndjson", body = String)))]
pub async fn export_audit_events(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<ExportQuery>,
) -> Result<Response, ApiError> {
    let format = match q.format.as_deref() {
        None | Some("jsonl") => Format::JsonLines,
        Some("csv") => Format::Csv,
        Some(_) => {
            return Err(ApiError::with(
                Code::InvalidQuery,
                "`format` must be jsonl or csv.",
            ));
        }
    };
    let store = state.store.clone();
    let pages = futures_util::stream::unfold(Some((0i64, true)), move |cursor| {
        let store = store.clone();
        let actor = actor.clone();
        async move {
            let (after, first) = cursor?;
            match store
                .scope(&actor)
                .audit_events_after(after, EXPORT_PAGE)
                .await
            {
                Ok(events) if events.is_empty() && !first => None,
                Ok(events) => {
                    let next = events.last().map_or(after, |e| e.event.seq);
                    let mut chunk = String::new();
                    if first && format == Format::Csv {
                        chunk.push_str(CSV_HEADER);
                    }
                    let done = events.len() < EXPORT_PAGE as usize;
                    for e in events {
                        format.write(&AuditEventView::from(e), &mut chunk);
                    }
                    let cursor = if done { None } else { Some((next, false)) };
                    Some((
                        Ok::<_, std::io::Error>(axum::body::Bytes::from(chunk)),
                        cursor,
                    ))
                }
                Err(e) => {
                    // The status is already sent: end the stream with an error
                    // so the client sees an incomplete transfer, never a short
                    // file that looks whole.
                    tracing::error!(error = %e, "audit export failed");
                    Some((Err(std::io::Error::other("audit export failed")), None))
                }
            }
        }
    });
    let content_type = match format {
        Format::JsonLines => "application/x-ndjson",
        Format::Csv => "text/csv; charset=utf-8",
    };
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, content_type),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format.disposition(),
            ),
        ],
        axum::body::Body::from_stream(pages),
    )
        .into_response())
}

const EXPORT_PAGE: u32 = 1_000;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Format {
    JsonLines,
    Csv,
}

pub const CSV_HEADER: &str = "seq,id,occurred_at,actor_kind,actor_id,action,target_kind,target_id,outcome,request_id,ip,user_agent,method,route,details,prev_hash,hash\n";

impl Format {
    fn disposition(self) -> &'static str {
        match self {
            Format::JsonLines => "attachment; filename=\"audit-events.jsonl\"",
            Format::Csv => "attachment; filename=\"audit-events.csv\"",
        }
    }

    pub fn write(self, e: &AuditEventView, out: &mut String) {
        match self {
            Format::JsonLines => {
                out.push_str(&serde_json::to_string(e).unwrap_or_default());
                out.push('\n');
            }
            Format::Csv => {
                let o = |v: &Option<String>| v.clone().unwrap_or_default();
                let cells = [
                    e.seq.to_string(),
                    e.id.clone(),
                    e.occurred_at.clone(),
                    e.actor_kind.clone(),
                    o(&e.actor_id),
                    e.action.clone(),
                    o(&e.target_kind),
                    o(&e.target_id),
                    e.outcome.clone(),
                    o(&e.request_id),
                    o(&e.ip),
                    o(&e.user_agent),
                    o(&e.method),
                    o(&e.route),
                    e.details.to_string(),
                    e.prev_hash.clone(),
                    e.hash.clone(),
                ];
                for (i, c) in cells.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    csv_cell(c, out);
                }
                out.push('\n');
            }
        }
    }
}

/// RFC 4180 quoting, plus a leading `'` on cells a spreadsheet would run as
/// a formula (`=`, `+`, `-`, `@`, tab, CR): user agents and names come from
/// outside, and an exported log is often opened in one.
fn csv_cell(value: &str, out: &mut String) {
    let guard = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    out.push('"');
    if guard {
        out.push('\'');
    }
    for ch in value.chars() {
        if ch == '"' {
            out.push('"');
        }
        out.push(ch);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        let mut out = String::new();
        csv_cell("a \"b\", c", &mut out);
        assert_eq!(out, "\"a \"\"b\"\", c\"");
        out.clear();
        csv_cell("=HYPERLINK(\"http://x\")", &mut out);
        assert!(out.starts_with("\"'="), "{out}");
    }
}

/// One signed checkpoint, field for field as `tollgate audit checkpoint`
/// prints it, so a saved copy feeds `tollgate audit verify --checkpoints`.
#[derive(Serialize, ToSchema)]
pub struct CheckpointView {
    pub version: u8,
    pub org_id: String,
    /// Events in the chain when it was signed.
    pub seq: i64,
    /// Hex SHA-256 of event `seq`.
    pub head_hash: String,
    /// Microseconds since the Unix epoch.
    pub created_at: i64,
    pub key_id: String,
    /// Hex Ed25519 signature.
    pub signature: String,
}

impl From<tollgate_core::checkpoint::Checkpoint> for CheckpointView {
    fn from(c: tollgate_core::checkpoint::Checkpoint) -> Self {
        CheckpointView {
            version: c.version,
            org_id: c.org_id,
            seq: c.seq,
            head_hash: c.head_hash,
            created_at: c.created_at.0,
            key_id: c.key_id,
            signature: c.signature,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CheckpointList {
    /// The server's Ed25519 public key (standard base64): checkpoints verify
    /// with it alone, without trusting this server later.
    pub public_key: String,
    pub key_id: String,
    pub data: Vec<CheckpointView>,
}

/// The organization's signed audit checkpoints, oldest first. Kept outside
/// Tollgate, they make any later truncation or rewrite of the log detectable.
#[utoipa::path(get, path = "/v1/audit-checkpoints", tag = "audit", security(("bearer" = [])), responses(
    (status = 200, description = "Success", body = CheckpointList)))]
pub async fn list_audit_checkpoints(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Json<CheckpointList>, ApiError> {
    use base64::Engine;
    let key = &state.checkpoint_key;
    let data = state.store.scope(&actor).audit_checkpoints().await?;
    Ok(Json(CheckpointList {
        public_key: base64::engine::general_purpose::STANDARD.encode(key.public().as_bytes()),
        key_id: key.id().to_owned(),
        data: data.into_iter().map(CheckpointView::from).collect(),
    }))
}
