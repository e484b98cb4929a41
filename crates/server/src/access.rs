//! The permission matrix: one table, one entry per route, enforced by one
//! middleware before any handler runs.
//!
//! A route served but missing here is refused (fail closed), a test checks
//! that the table and the OpenAPI document list the same routes, and
//! docs/permissions.md is generated from this table (a test keeps it current).

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tollgate_core::access::authorize;
use tollgate_core::token::TokenKind;
use tollgate_core::{Access, Role, Scope};

use crate::app::{AppState, ClientIp};
use crate::error::{ApiError, Code};
use crate::rate_limit::Limit;

/// Who a route serves, which decides how a request proves who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// The bot API: bearer credentials, JSON, listed in OpenAPI.
    Api,
    /// The sign-in pages: no session yet (or one still owing a second
    /// factor); each handler checks what its step needs.
    SignIn,
    /// The dashboard: a full cookie session, Origin checked on writes.
    Dashboard,
}

/// One route's requirement.
#[derive(Debug, Clone, Copy)]
pub struct RouteRule {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    /// Unauthenticated but doing real work: limited per client IP.
    pub per_ip_limit: bool,
    pub surface: Surface,
}

const fn public(method: &'static str, path: &'static str) -> RouteRule {
    RouteRule {
        method,
        path,
        access: Access::Public,
        per_ip_limit: false,
        surface: Surface::Api,
    }
}

const fn public_limited(method: &'static str, path: &'static str) -> RouteRule {
    RouteRule {
        method,
        path,
        access: Access::Public,
        per_ip_limit: true,
        surface: Surface::Api,
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
        per_ip_limit: false,
        surface: Surface::Api,
    }
}

/// A sign-in page: public, limited per client IP.
const fn sign_in(method: &'static str, path: &'static str) -> RouteRule {
    RouteRule {
        method,
        path,
        access: Access::Public,
        per_ip_limit: true,
        surface: Surface::SignIn,
    }
}

/// A dashboard page for members of at least `min_role`. People have roles,
/// not scopes.
const fn page(method: &'static str, path: &'static str, min_role: Role) -> RouteRule {
    RouteRule {
        method,
        path,
        access: Access::Org {
            scope: None,
            min_role,
        },
        per_ip_limit: false,
        surface: Surface::Dashboard,
    }
}

use Role::{Admin, Member, Owner, Viewer};
use Scope::{
    AuditRead, CampaignsWrite, DialCheck, LeadsRead, LeadsWrite, OrgAdmin, WebhooksManage,
};

pub const ROUTES: &[RouteRule] = &[
    public("GET", "/healthz"),
    public("GET", "/readyz"),
    public("GET", "/metrics"),
    public("GET", "/openapi.json"),
    public("GET", "/.well-known/security.txt"),
    public("GET", "/assets/tollgate.css"),
    public_limited("GET", "/bootstrap/{token}"),
    public_limited("POST", "/bootstrap"),
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
    org("GET", "/v1/audit-checkpoints", Some(AuditRead), Admin),
    org("GET", "/v1/oauth-clients", Some(OrgAdmin), Admin),
    org("POST", "/v1/oauth-clients", Some(OrgAdmin), Admin),
    org(
        "GET",
        "/v1/oauth-clients/{client_id}",
        Some(OrgAdmin),
        Admin,
    ),
    org(
        "DELETE",
        "/v1/oauth-clients/{client_id}",
        Some(OrgAdmin),
        Admin,
    ),
    // OAuth endpoints authenticate the client themselves (RFC 6749 client
    // authentication, answered in RFC 6749 error shape), so they are public
    // here and limited per client IP.
    public_limited("POST", "/oauth/token"),
    public_limited("POST", "/oauth/introspect"),
    public_limited("POST", "/oauth/revoke"),
    public("GET", "/.well-known/oauth-authorization-server"),
    org("GET", "/v1/provider-credentials", Some(OrgAdmin), Admin),
    org("POST", "/v1/provider-credentials", Some(OrgAdmin), Admin),
    org(
        "GET",
        "/v1/provider-credentials/{credential_id}",
        Some(OrgAdmin),
        Admin,
    ),
    org(
        "PUT",
        "/v1/provider-credentials/{credential_id}",
        Some(OrgAdmin),
        Admin,
    ),
    org(
        "DELETE",
        "/v1/provider-credentials/{credential_id}",
        Some(OrgAdmin),
        Admin,
    ),
    // Issue 9: redaction on every write path.
    org(
        "POST",
        "/v1/redactions",
        Some(Scope::CallsWrite),
        Role::Member,
    ),
    org("GET", "/v1/redaction-policy", Some(OrgAdmin), Admin),
    org(
        "GET",
        "/v1/campaigns/{campaign_id}/redaction-policy",
        Some(OrgAdmin),
        Admin,
    ),
    org(
        "PUT",
        "/v1/campaigns/{campaign_id}/redaction-policy",
        Some(OrgAdmin),
        Admin,
    ),
    org(
        "DELETE",
        "/v1/campaigns/{campaign_id}/redaction-policy",
        Some(OrgAdmin),
        Admin,
    ),
    org("PUT", "/v1/redaction-policy", Some(OrgAdmin), Admin),
    org("GET", "/v1/calls", Some(Scope::CallsRead), Viewer),
    org("POST", "/v1/calls", Some(Scope::CallsWrite), Role::Member),
    org("GET", "/v1/calls/{call_id}", Some(Scope::CallsRead), Viewer),
    org(
        "GET",
        "/v1/calls/{call_id}/transcript",
        Some(Scope::CallsRead),
        Viewer,
    ),
    org(
        "POST",
        "/v1/calls/{call_id}/transcript",
        Some(Scope::CallsWrite),
        Role::Member,
    ),
    org(
        "GET",
        "/v1/calls/{call_id}/extractions",
        Some(Scope::CallsRead),
        Viewer,
    ),
    org(
        "POST",
        "/v1/calls/{call_id}/extractions",
        Some(Scope::CallsWrite),
        Role::Member,
    ),
    // Human sign-in (issue 3).
    sign_in("GET", "/auth/sign-in"),
    sign_in("POST", "/auth/sign-in"),
    sign_in("POST", "/auth/code"),
    sign_in("GET", "/auth/link/{token}"),
    sign_in("POST", "/auth/link"),
    sign_in("GET", "/auth/second-factor"),
    sign_in("POST", "/auth/second-factor"),
    sign_in("GET", "/auth/enroll"),
    sign_in("POST", "/auth/enroll"),
    sign_in("POST", "/auth/sign-out"),
    // The dashboard.
    page("GET", "/ui", Viewer),
    page("POST", "/ui/org-switch", Viewer),
    page("GET", "/ui/members", Viewer),
    page("POST", "/ui/members", Admin),
    page("POST", "/ui/members/{member_id}/role", Admin),
    page("POST", "/ui/members/{member_id}/remove", Admin),
    page("POST", "/ui/members/{member_id}/sessions/revoke", Admin),
    page("GET", "/ui/roles", Viewer),
    page("GET", "/ui/sessions", Viewer),
    page("POST", "/ui/sessions/{session_id}/revoke", Viewer),
    page("POST", "/ui/sessions/revoke-others", Viewer),
    page("GET", "/ui/security", Viewer),
    page("POST", "/ui/security/totp/remove", Viewer),
    page("GET", "/ui/api-keys", Admin),
    page("POST", "/ui/api-keys", Admin),
    page("POST", "/ui/api-keys/{key_id}/revoke", Admin),
    page("GET", "/ui/settings", Admin),
    page("POST", "/ui/settings", Admin),
    page("GET", "/ui/access-review", Admin),
    page("GET", "/ui/access-review.csv", Admin),
    page("GET", "/ui/audit", Admin),
    page("GET", "/ui/audit/integrity", Admin),
    page("GET", "/ui/audit/checkpoints.jsonl", Admin),
    page("GET", "/ui/decisions/{check_id}", Viewer),
    page("GET", "/ui/leads", Viewer),
    page("GET", "/ui/leads/import", Member),
    page("POST", "/ui/leads/import", Member),
    page("GET", "/ui/campaigns", Viewer),
    page("POST", "/ui/campaigns", Member),
    page("GET", "/ui/campaigns/{campaign_id}", Viewer),
    page("POST", "/ui/campaigns/{campaign_id}", Member),
    page("POST", "/ui/campaigns/{campaign_id}/pause", Admin),
    page("GET", "/ui/suppressions", Viewer),
    page("POST", "/ui/suppressions", Member),
    page("POST", "/ui/gate/pause", Admin),
    // Issue 8: do-not-call data.
    page("GET", "/ui/dnc", Member),
    page("GET", "/ui/provider-credentials", Admin),
    page("POST", "/ui/provider-credentials", Admin),
    page(
        "POST",
        "/ui/provider-credentials/{credential_id}/replace",
        Admin,
    ),
    page(
        "POST",
        "/ui/provider-credentials/{credential_id}/delete",
        Admin,
    ),
    // Signed webhooks (issue 10).
    page("GET", "/ui/webhooks", Admin),
    page("POST", "/ui/webhooks", Admin),
    page("GET", "/ui/webhooks/{endpoint_id}", Admin),
    page("POST", "/ui/webhooks/{endpoint_id}/test", Admin),
    page("POST", "/ui/webhooks/{endpoint_id}/rotate", Admin),
    page("POST", "/ui/webhooks/{endpoint_id}/enabled", Admin),
    page("POST", "/ui/webhooks/{endpoint_id}/payload", Admin),
    page("POST", "/ui/webhooks/{endpoint_id}/replay", Admin),
    page("POST", "/ui/webhooks/{endpoint_id}/delete", Admin),
    // The dial gate (issue 7).
    org("GET", "/v1/leads", Some(LeadsRead), Viewer),
    org("POST", "/v1/leads", Some(LeadsWrite), Member),
    org("GET", "/v1/leads/{lead_id}", Some(LeadsRead), Viewer),
    org("GET", "/v1/campaigns", Some(LeadsRead), Viewer),
    org("POST", "/v1/campaigns", Some(CampaignsWrite), Member),
    org(
        "GET",
        "/v1/campaigns/{campaign_id}",
        Some(LeadsRead),
        Viewer,
    ),
    // Pausing through PATCH also needs the admin role (checked in the handler).
    org(
        "PATCH",
        "/v1/campaigns/{campaign_id}",
        Some(CampaignsWrite),
        Member,
    ),
    org("GET", "/v1/suppressions", Some(LeadsRead), Viewer),
    org("POST", "/v1/suppressions", Some(LeadsWrite), Member),
    org(
        "DELETE",
        "/v1/suppressions/{suppression_id}",
        Some(LeadsWrite),
        Owner,
    ),
    org("POST", "/v1/opt-outs", Some(LeadsWrite), Member),
    org("POST", "/v1/dial-checks", Some(DialCheck), Member),
    org("GET", "/v1/dial-checks/{check_id}", Some(DialCheck), Viewer),
    org("GET", "/v1/gate-settings", None, Viewer),
    org("PATCH", "/v1/gate-settings", Some(OrgAdmin), Admin),
    // Signed webhooks (issue 10).
    org("GET", "/v1/webhook-endpoints", Some(WebhooksManage), Admin),
    org("POST", "/v1/webhook-endpoints", Some(WebhooksManage), Admin),
    org(
        "GET",
        "/v1/webhook-endpoints/{endpoint_id}",
        Some(WebhooksManage),
        Admin,
    ),
    org(
        "PATCH",
        "/v1/webhook-endpoints/{endpoint_id}",
        Some(WebhooksManage),
        Admin,
    ),
    org(
        "DELETE",
        "/v1/webhook-endpoints/{endpoint_id}",
        Some(WebhooksManage),
        Admin,
    ),
    org(
        "POST",
        "/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
        Some(WebhooksManage),
        Admin,
    ),
    org(
        "POST",
        "/v1/webhook-endpoints/{endpoint_id}/test",
        Some(WebhooksManage),
        Admin,
    ),
    org(
        "GET",
        "/v1/webhook-endpoints/{endpoint_id}/deliveries",
        Some(WebhooksManage),
        Admin,
    ),
    org(
        "POST",
        "/v1/webhook-endpoints/{endpoint_id}/replay",
        Some(WebhooksManage),
        Admin,
    ),
    // Issue 8: do-not-call data (a scrub judges rows as dial checks would).
    org("POST", "/v1/dnc/scrub", Some(DialCheck), Member),
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
    let limits = &state.config.rate_limit;
    let now = state.now();
    let ip = ClientKey(req.extensions().get::<ClientIp>().map(|c| c.0));
    if rule.surface == Surface::Dashboard {
        return crate::ui::session::enforce(&state, rule, req, next).await;
    }
    // The sign-in forms change state too (links, sessions, factors): the
    // same Origin rule as the dashboard's, here so no handler can miss it.
    if rule.surface == Surface::SignIn
        && !matches!(
            *req.method(),
            axum::http::Method::GET | axum::http::Method::HEAD
        )
        && !crate::ui::same_origin(&state, req.headers())
    {
        return crate::ui::forbidden_origin();
    }
    let Access::Org { .. } = rule.access else {
        if rule.per_ip_limit {
            let v = match state
                .limiter
                .admit(&format!("ip:{ip}:public"), limits.public(), now)
                .await
            {
                Ok(v) => v,
                Err(e) => return limiter_down(e),
            };
            if !v.allowed {
                return too_many(v);
            }
        }
        return next.run(req).await;
    };
    // A client that keeps presenting bad credentials is refused before its
    // credential is looked up in the database. A credential this node has
    // cached costs no lookup: then the budget is only looked at in the same
    // call as the request's limits below (one round trip to Redis, not two).
    let failures = format!("ip:{ip}:auth-failures");
    let token = bearer(&req);
    let from_cache = match token {
        Some(t) => state.store.authenticate_cached_bearer(t, now).await,
        None => None,
    };
    let cached = from_cache.is_some();
    if !cached {
        match state
            .limiter
            .would_admit(&failures, limits.auth_failures(), now)
            .await
        {
            Ok(v) if !v.allowed => return too_many(v),
            Ok(_) => {}
            Err(e) => return limiter_down(e),
        }
    }
    let Some(token) = token else {
        return ApiError::new(Code::Unauthenticated).into_response();
    };
    // An API key or an OAuth access token; either is checked against the
    // database (or this node's cache of it, at most a second old), so a
    // revocation anywhere takes effect within that second.
    let authenticated = match from_cache {
        Some(result) => result,
        None => state.store.authenticate_bearer(token, now).await,
    };
    let actor = match authenticated {
        Ok(actor) => actor,
        Err(e) => {
            if !matches!(e, tollgate_store::AuthFailure::Store(_)) {
                // Counting the failure: a client past its budget is told so
                // (429), as the look before the lookup would have.
                match state
                    .limiter
                    .admit(&failures, limits.auth_failures(), now)
                    .await
                {
                    Ok(v) if !v.allowed => return too_many(v),
                    // Best effort otherwise: the request is refused anyway.
                    _ => {}
                }
            }
            let oauth = token.starts_with(TokenKind::OAuthAccessToken.prefix());
            return match e {
                tollgate_store::AuthFailure::Store(s) => ApiError::from(s),
                _ if oauth => ApiError::new(Code::InvalidAccessToken),
                other => ApiError::from(other),
            }
            .into_response();
        }
    };
    tracing::Span::current().record("org_id", actor.org_id().as_str());
    let started = std::time::Instant::now();
    let (mut parts, body) = req.into_parts();
    let ctx = crate::api::extract::request_ctx(&parts, &state);
    let path_ids = path_ids(matched.as_str(), parts.uri.path());
    let credential = match actor.principal() {
        tollgate_store::Principal::ApiKey { key_id, .. } => key_id.as_str(),
        tollgate_store::Principal::OAuthClient { client_id, .. } => client_id.as_str(),
        tollgate_store::Principal::Operator { on_behalf_of } => on_behalf_of.as_str(),
        tollgate_store::Principal::Session { session_id, .. } => session_id.as_str(),
    };
    // Both limits in one call (one round trip to Redis in scale-out mode),
    // after the failure budget when it was not looked at yet; a refusal
    // ends the chain, so a refused per-key limit leaves the
    // organization's untouched.
    let (per_key, per_org) = (
        format!("cred:{credential}"),
        format!("org:{}", actor.org_id()),
    );
    let chain = [
        Limit {
            key: &failures,
            quota: limits.auth_failures(),
            spend: false,
        },
        Limit {
            key: &per_key,
            quota: limits.per_key(),
            spend: true,
        },
        Limit {
            key: &per_org,
            quota: limits.per_org(),
            spend: true,
        },
    ];
    let chain = if cached { &chain[..] } else { &chain[1..] };
    let mut verdicts = match state.limiter.chain(chain, now).await {
        Ok(v) => v,
        Err(e) => return limiter_down(e),
    };
    if cached {
        match verdicts.first() {
            Some(standing) if !standing.allowed => return too_many(*standing),
            Some(_) => {
                verdicts.remove(0);
            }
            None => return limiter_down(crate::rate_limit::LimiterDown::new("no verdict")),
        }
    }
    // Report whichever limit is closer to refusing (the refused one, if any).
    let verdict = match verdicts[..] {
        [per_key, per_org] if per_org.allowed && per_org.remaining >= per_key.remaining => per_key,
        [_, per_org] => per_org,
        [per_key] => per_key,
        _ => return limiter_down(crate::rate_limit::LimiterDown::new("no verdict")),
    };
    let mut response = if !verdict.allowed {
        too_many(verdict)
    } else {
        match authorize(rule.access, actor.role(), actor.scopes()) {
            Err(denied) => ApiError::from(denied).into_response(),
            Ok(()) => {
                parts.extensions.insert(actor.clone());
                crate::idempotency::run(&state, &actor, parts, body, next).await
            }
        }
    };
    set_rate_headers(response.headers_mut(), &verdict);
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

/// The client address as rate-limit keys spell it.
struct ClientKey(Option<std::net::IpAddr>);

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(ip) => ip.fmt(f),
            None => f.write_str("unknown"),
        }
    }
}

/// Limits that cannot be checked are a refusal, never a pass.
pub(crate) fn limiter_down(e: crate::rate_limit::LimiterDown) -> Response {
    tracing::error!(error = %e, "rate limits unavailable; refusing");
    ApiError::with(
        Code::Unavailable,
        "Rate limits cannot be checked right now; retry shortly.",
    )
    .into_response()
}

fn secs_ceil(micros: i64) -> i64 {
    (micros.max(0) + 999_999) / 1_000_000
}

/// `RateLimit-Limit`, `-Remaining` and `-Reset` (seconds), as in the IETF
/// RateLimit header fields draft and the common `X-RateLimit-*` practice.
fn set_rate_headers(h: &mut axum::http::HeaderMap, v: &tollgate_core::rate_limit::Verdict) {
    // Static names: a `&str` name is parsed and validated on every insert.
    const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
    const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
    const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
    for (name, value) in [
        (LIMIT, i64::from(v.limit)),
        (REMAINING, i64::from(v.remaining)),
        (RESET, secs_ceil(v.reset_after)),
    ] {
        h.insert(name, axum::http::HeaderValue::from(value));
    }
}

pub(crate) fn too_many(v: tollgate_core::rate_limit::Verdict) -> Response {
    let retry = secs_ceil(v.retry_after).max(1);
    let mut res = ApiError::with(Code::RateLimited, format!("Retry in {retry} s.")).into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, axum::http::HeaderValue::from(retry));
    set_rate_headers(res.headers_mut(), &v);
    res
}

/// The identifiers a request names in its path: the segments standing where
/// the route template has a `{placeholder}`. They are stored in the audit
/// log, so a segment that is not shaped like an identifier is not kept, and
/// one that is (letters, digits, `_`) is redacted first: a bot that puts a
/// card number where a call id belongs must not write it into the log.
pub(crate) fn path_ids(template: &str, path: &str) -> Vec<String> {
    template
        .split('/')
        .zip(path.split('/'))
        .filter(|(t, _)| t.starts_with('{'))
        .map(|(_, p)| {
            if p.is_empty()
                || p.len() > 64
                || !p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return "(not an identifier)".to_owned();
            }
            match tollgate_redact::redact(p, &tollgate_redact::Policy::strict_pci()) {
                Ok(r) => r.text,
                Err(_) => "(not an identifier)".to_owned(),
            }
        })
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
         An OAuth access token (`tg_oat_…`) is accepted wherever an API key is, with its granted scopes, \
         and acts on behalf of the member who registered its client in the same way. \
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
         - Removing a member revokes every API key and OAuth client they created (`revoked_reason: creator_removed`).\n\
         - An OAuth client may request only scopes it was registered with (`invalid_scope`), introspect only \
         its organization's tokens and revoke only its own.\n",
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
                && r.surface == Surface::Api
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
