//! The permission matrix: one table, one entry per route, enforced by one
//! middleware before any handler runs.
//!
//! A route served but missing here is refused (fail closed), a test checks
//! that the table and the OpenAPI document list the same routes, and
//! docs/permissions.md is generated from this table (a test keeps it current).

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tollgate_core::access::authorize;
use tollgate_core::{Access, Role, Scope};

use crate::app::AppState;
use crate::error::{ApiError, Code};

/// One route's requirement.
#[derive(Debug, Clone, Copy)]
pub struct RouteRule {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

const fn public(method: &'static str, path: &'static str) -> RouteRule {
    RouteRule {
        method,
        path,
        access: Access::Public,
    }
}

const fn org(
    method: &'static str,
    path: &'static str,
    scope: Option<Scope>,
    min_role: Role,
) -> RouteRule {
    RouteRule {
        method,
        path,
        access: Access::Org { scope, min_role },
    }
}

use Role::{Admin, Viewer};
use Scope::{AuditRead, OrgAdmin};

pub const ROUTES: &[RouteRule] = &[
    public("GET", "/healthz"),
    public("GET", "/readyz"),
    public("GET", "/metrics"),
    public("GET", "/openapi.json"),
    public("GET", "/.well-known/security.txt"),
    public("GET", "/assets/tollgate.css"),
    public("GET", "/bootstrap/{token}"),
    public("POST", "/bootstrap"),
    org("GET", "/v1/me", None, Viewer),
    org("GET", "/v1/org", None, Viewer),
    org("PATCH", "/v1/org", Some(OrgAdmin), Admin),
    org("GET", "/v1/members", Some(OrgAdmin), Viewer),
    org("POST", "/v1/members", Some(OrgAdmin), Admin),
    org("GET", "/v1/members/{member_id}", Some(OrgAdmin), Viewer),
    org("PATCH", "/v1/members/{member_id}", Some(OrgAdmin), Admin),
    org("DELETE", "/v1/members/{member_id}", Some(OrgAdmin), Admin),
    org("GET", "/v1/api-keys", Some(OrgAdmin), Admin),
    org("POST", "/v1/api-keys", Some(OrgAdmin), Admin),
    org("GET", "/v1/api-keys/{key_id}", Some(OrgAdmin), Admin),
    org("DELETE", "/v1/api-keys/{key_id}", Some(OrgAdmin), Admin),
    org("GET", "/v1/audit-events", Some(AuditRead), Admin),
    org("GET", "/v1/audit-events/export", Some(AuditRead), Admin),
];

pub fn rule_for(method: &str, path: &str) -> Option<&'static RouteRule> {
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

/// Authenticates and authorizes every matched request against [`ROUTES`],
/// placing the [`tollgate_store::Actor`] in the request for the handler.
pub async fn enforce(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let Some(matched) = matched else {
        return next.run(req).await;
    };
    let Some(rule) = rule_for(req.method().as_str(), matched.as_str()) else {
        tracing::error!(
            route = matched.as_str(),
            "route has no entry in the permission table; refusing"
        );
        return ApiError::internal().into_response();
    };
    let Access::Org { .. } = rule.access else {
        return next.run(req).await;
    };
    let Some(token) = bearer(&req) else {
        return ApiError::new(Code::Unauthenticated).into_response();
    };
    let actor = match state.store.authenticate_api_key(token, state.now()).await {
        Ok(actor) => actor,
        Err(e) => return ApiError::from(e).into_response(),
    };
    tracing::Span::current().record("org_id", actor.org_id().as_str());
    let started = std::time::Instant::now();
    let (mut parts, body) = req.into_parts();
    let ctx = crate::api::extract::request_ctx(&parts, &state);
    let path_ids = path_ids(matched.as_str(), parts.uri.path());
    let response = match authorize(rule.access, actor.role(), actor.scopes()) {
        Err(denied) => ApiError::from(denied).into_response(),
        Ok(()) => {
            parts.extensions.insert(actor.clone());
            next.run(Request::from_parts(parts, body)).await
        }
    };
    state
        .audit
        .record(tollgate_store::ApiCall {
            actor,
            ctx,
            status: response.status().as_u16(),
            latency_micros: i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX),
            path_ids,
        })
        .await;
    response
}

/// The identifiers a request names in its path: the segments standing where
/// the route template has a `{placeholder}`.
fn path_ids(template: &str, path: &str) -> Vec<String> {
    template
        .split('/')
        .zip(path.split('/'))
        .filter(|(t, _)| t.starts_with('{'))
        .map(|(_, p)| p.chars().take(64).collect())
        .collect()
}

fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// docs/permissions.md, generated from [`ROUTES`].
pub fn permissions_markdown() -> String {
    let mut out = String::from(
        "# Permission matrix\n\n\
         Generated from `crates/server/src/access.rs` (the only place permissions are decided); \
         a test fails when this file and the table disagree. Regenerate with \
         `UPDATE_DOCS=1 cargo test -p tollgate-server permissions_doc`.\n\n\
         A bot's API key acts on behalf of the member who created it: a request needs the key's **scope** \
         *and* that member's current **role**. Demoting or removing the member narrows or ends the key at once. \
         Another organization's object is always `404 not_found`.\n\n\
         | Method | Route | API-key scope | owner | admin | member | viewer |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for r in ROUTES {
        let (scope, roles) = match r.access {
            Access::Public => (
                "public, no credential".to_string(),
                ["-"; 4].map(String::from),
            ),
            Access::Org { scope, min_role } => (
                scope.map_or("any key of the org".to_string(), |s| format!("`{s}`")),
                [Role::Owner, Role::Admin, Role::Member, Role::Viewer].map(|role| {
                    if role >= min_role {
                        "yes".to_string()
                    } else {
                        "no".to_string()
                    }
                }),
            ),
        };
        out.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} | {} |\n",
            r.method, r.path, scope, roles[0], roles[1], roles[2], roles[3]
        ));
    }
    out.push_str(
        "\nRules no table can express, enforced in the storage transaction:\n\n\
         - Only an owner may grant the owner role, or change or remove an owner (`403 owner_only`).\n\
         - The last owner cannot be demoted or removed (`409 last_owner`).\n\
         - Removing a member revokes every API key they created (`revoked_reason: creator_removed`).\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_doc_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/permissions.md");
        let generated = permissions_markdown();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "docs/permissions.md is stale: run UPDATE_DOCS=1 cargo test -p tollgate-server permissions_doc"
        );
    }

    #[test]
    fn every_write_needs_a_scope_and_more_than_viewer() {
        for r in ROUTES {
            if let Access::Org { scope, min_role } = r.access
                && r.method != "GET"
            {
                assert!(
                    scope.is_some(),
                    "{} {} writes without a scope",
                    r.method,
                    r.path
                );
                assert!(
                    min_role > Role::Viewer,
                    "{} {} lets a viewer write",
                    r.method,
                    r.path
                );
            }
        }
    }

    #[test]
    fn no_route_is_listed_twice() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "{} {} twice",
                    a.method,
                    a.path
                );
            }
        }
    }
}
