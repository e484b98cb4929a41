//! The audit log's integrity page: retention, the signed checkpoints and
//! the key that verifies them, and a download of the checkpoints in the
//! form `tollgate audit verify --checkpoints FILE` reads. An officer keeps
//! that file outside Tollgate; later, a log that was cut short or rewritten
//! no longer matches it.

use askama::Template;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use tollgate_store::{Actor, Session};

use super::{Nav, NoticeQuery, fail, nav};
use crate::api::audit::CheckpointView;
use crate::app::AppState;
use crate::ui::{render, rfc3339_minutes};

pub struct CheckpointRow {
    pub seq: i64,
    pub signed: String,
    pub head_hash: String,
    pub key_id: String,
}

#[derive(Template)]
#[template(path = "audit_integrity.html")]
struct IntegrityPage {
    nav: Nav,
    retention_days: i32,
    hipaa: bool,
    public_key: String,
    key_id: String,
    checkpoints: Vec<CheckpointRow>,
}

pub async fn audit_integrity(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let nav = page!(state, actor, session, "audit", q);
    let scope = state.store.scope(&actor);
    let (org, list) = match (scope.get_org().await, scope.audit_checkpoints().await) {
        (Ok(o), Ok(l)) => (o, l),
        (Err(e), _) | (_, Err(e)) => return fail(&e),
    };
    let key = &state.checkpoint_key;
    render(
        StatusCode::OK,
        &IntegrityPage {
            nav,
            retention_days: org.audit_retention_days,
            hipaa: org.hipaa,
            public_key: base64::engine::general_purpose::STANDARD.encode(key.public().as_bytes()),
            key_id: key.id().to_owned(),
            // Newest first: the latest signed head is what an officer checks.
            checkpoints: list
                .into_iter()
                .rev()
                .map(|c| CheckpointRow {
                    seq: c.seq,
                    signed: rfc3339_minutes(c.created_at),
                    head_hash: c.head_hash,
                    key_id: c.key_id,
                })
                .collect(),
        },
    )
}

/// Every checkpoint as JSON Lines, oldest first, as a download.
pub async fn audit_checkpoints_file(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> Response {
    let list = tryp!(state.store.scope(&actor).audit_checkpoints().await);
    let mut body = String::new();
    for c in list {
        // Serializing a struct of strings and integers cannot fail.
        body.push_str(&serde_json::to_string(&CheckpointView::from(c)).unwrap_or_default());
        body.push('\n');
    }
    let name = format!(
        "attachment; filename=\"tollgate-checkpoints-{}.jsonl\"",
        actor.org_id()
    );
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}
