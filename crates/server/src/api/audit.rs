//! Reading the organization's audit log.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use tollgate_store::StoredEvent;
use utoipa::{IntoParams, ToSchema};

use super::extract::{Authenticated, QueryParams};
use super::rfc3339;
use crate::app::AppState;
use crate::error::ApiError;

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
    /// Only events with a smaller `seq`.
    pub before: Option<i64>,
}

/// Audit events of the organization, newest first.
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
        .audit_events(q.before, limit)
        .await?;
    Ok(Json(AuditPageView {
        data: page.data.into_iter().map(Into::into).collect(),
        next_before: page.next_before,
    }))
}
