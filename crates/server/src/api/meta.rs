//! Health, readiness, metrics, the API description and security.txt.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::{ApiError, Code};

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "meta", responses((status = 200, description = "Success", body = Health)))]
pub async fn healthz() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    pub status: &'static str,
    pub backend: &'static str,
    pub database: &'static str,
    pub migrations: &'static str,
    /// Where rate limits are kept (`memory` or `redis`) and whether it answers.
    pub rate_limits: String,
    /// `ok`, or `failing` while the records of API calls cannot be written
    /// (they are kept and tried again; requests queue behind them).
    pub audit_log: &'static str,
}

/// Readiness: the database answers, its schema is the one this binary
/// expects, the rate limits' store answers and the audit log takes records.
#[utoipa::path(get, path = "/readyz", tag = "meta", responses(
    (status = 200, description = "Success", body = Readiness),
    (status = 503, body = Readiness, description = "Database or rate-limit store unreachable, migrations not current, or the audit log failing")))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let database = state.store.ping().await.is_ok();
    let migrations = database && matches!(state.store.migrations_current().await, Ok(true));
    let limits_ok = state.limiter.ping().await;
    let audit_ok = !state.audit.failing();
    let ready = migrations && limits_ok && audit_ok;
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        backend: state.store.backend().as_str(),
        database: if database { "ok" } else { "unreachable" },
        migrations: if migrations {
            "current"
        } else if database {
            "pending"
        } else {
            "unknown"
        },
        rate_limits: format!(
            "{} {}",
            state.limiter.backend(),
            if limits_ok { "ok" } else { "unreachable" }
        ),
        audit_log: if audit_ok { "ok" } else { "failing" },
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// Prometheus metrics (text exposition format). No tenant data.
#[utoipa::path(get, path = "/metrics", tag = "meta", responses((status = 200, description = "Success", content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    match (&state.metrics, state.config.server.metrics) {
        (Some(handle), true) => {
            // The embedded node's attempts index grows with the traffic
            // (ADR 0014): its size, read when scraped.
            if let Some(held) = state.store.dial_attempts_held() {
                metrics::gauge!("tollgate_gate_attempts_in_memory").set(held.attempts as f64);
                metrics::gauge!("tollgate_gate_numbers_in_memory").set(held.numbers as f64);
                metrics::gauge!("tollgate_gate_lead_counts_in_memory").set(held.lead_counts as f64);
            }
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                )],
                handle.render(),
            )
                .into_response()
        }
        _ => ApiError::new(Code::NotFound).into_response(),
    }
}

/// This API's OpenAPI 3.1 description, generated from the code.
#[utoipa::path(get, path = "/openapi.json", tag = "meta", responses((status = 200, description = "Success", content_type = "application/json", body = Object)))]
pub async fn openapi(State(state): State<AppState>) -> Response {
    match state.openapi.get() {
        Some(doc) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            doc.clone(),
        )
            .into_response(),
        None => ApiError::new(Code::Unavailable).into_response(),
    }
}

/// How to report a vulnerability (RFC 9116).
#[utoipa::path(get, path = "/.well-known/security.txt", tag = "meta", responses((status = 200, description = "Success", content_type = "text/plain", body = String)))]
pub async fn security_txt(State(state): State<AppState>) -> Response {
    // RFC 9116 requires Expires; a year ahead of now keeps it always valid.
    let expires = state.now().plus_secs(365 * 86_400).to_rfc3339();
    let canonical = format!("{}/.well-known/security.txt", state.config.public_url());
    let body = format!(
        "Contact: {}\nExpires: {}\nCanonical: {}\nPreferred-Languages: en\n",
        state.config.security.security_contact, expires, canonical
    );
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

const CSS: &str = include_str!("../../assets/tollgate.css");

/// The stylesheet of server-rendered pages (kept out of the HTML so the
/// Content-Security-Policy needs no inline allowance).
#[utoipa::path(get, path = "/assets/tollgate.css", tag = "meta", responses((status = 200, description = "Success", content_type = "text/css", body = String)))]
pub async fn stylesheet() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        CSS,
    )
        .into_response()
}
