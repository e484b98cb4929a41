//! Assembling the server: state, routes, middleware, start-up and shutdown.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tollgate_core::UnixMicros;
use tollgate_store::{KeyCheck, PoolSettings, Store};
use tracing::Instrument;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api;
use crate::config::Config;
use crate::error::{ApiError, Code};
use crate::keys;

/// What every handler shares. Behind one `Arc`: axum clones the state for
/// each middleware layer and extractor of every request, and one reference
/// count is cheaper than cloning each service's handles.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

pub struct Services {
    pub store: Store,
    pub config: Arc<Config>,
    pub metrics: Option<PrometheusHandle>,
    pub openapi: Arc<OnceLock<String>>,
    pub audit: crate::audit_sink::AuditSink,
    pub checkpoint_key: Arc<tollgate_core::checkpoint::CheckpointKey>,
    pub limiter: crate::rate_limit::Limiter,
    pub mailer: Arc<crate::mail::Mailer>,
    /// Group commit of dial checks.
    pub dial: crate::dial_queue::DialQueue,
    /// Do-not-call data: provider, registry index, auto-pause (issue 8).
    pub dnc: crate::dnc::Dnc,
}

impl AppState {
    pub fn now(&self) -> UnixMicros {
        now()
    }
}

/// The request id of this request, echoed in `x-request-id`.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The peer address of this request.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub std::net::IpAddr);

#[derive(OpenApi)]
#[openapi(
    info(title = "Tollgate", description = "Compliance and security gateway for AI voice agents. \
        Bots authenticate with `Authorization: Bearer tg_live_…`. Errors are RFC 9457 problem documents \
        (`application/problem+json`) with a stable `code`."),
    modifiers(&BearerAuth),
    components(schemas(crate::error::Problem))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key, `tg_live_…`"))
                    .build(),
            ),
        );
    }
}

/// Every route, registered once for both routing and the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(api::meta::healthz))
        .routes(routes!(api::meta::readyz))
        .routes(routes!(api::meta::metrics))
        .routes(routes!(api::meta::openapi))
        .routes(routes!(api::meta::security_txt))
        .routes(routes!(api::meta::stylesheet))
        .routes(routes!(api::bootstrap::show))
        .routes(routes!(api::bootstrap::redeem))
        .routes(routes!(api::org::me))
        .routes(routes!(api::org::get_org, api::org::patch_org))
        .routes(routes!(
            api::members::list_members,
            api::members::invite_member
        ))
        .routes(routes!(
            api::members::get_member,
            api::members::change_member,
            api::members::remove_member
        ))
        .routes(routes!(
            api::api_keys::list_api_keys,
            api::api_keys::create_api_key
        ))
        .routes(routes!(
            api::api_keys::get_api_key,
            api::api_keys::revoke_api_key
        ))
        .routes(routes!(api::audit::list_audit_events))
        .routes(routes!(api::audit::export_audit_events))
        .routes(routes!(
            api::oauth_clients::list_oauth_clients,
            api::oauth_clients::create_oauth_client
        ))
        .routes(routes!(
            api::oauth_clients::get_oauth_client,
            api::oauth_clients::revoke_oauth_client
        ))
        .routes(routes!(api::oauth::token))
        .routes(routes!(api::oauth::introspect))
        .routes(routes!(api::oauth::revoke))
        .routes(routes!(api::oauth::metadata))
        // Issue 9: redaction on every write path.
        .routes(routes!(api::redaction::redact))
        .routes(routes!(
            api::redaction::get_campaign_policy,
            api::redaction::put_campaign_policy,
            api::redaction::delete_campaign_policy
        ))
        .routes(routes!(
            api::redaction::get_policy,
            api::redaction::put_policy
        ))
        .routes(routes!(api::calls::list_calls, api::calls::create_call))
        .routes(routes!(api::calls::get_call))
        .routes(routes!(
            api::calls::get_transcript,
            api::calls::submit_transcript
        ))
        .routes(routes!(
            api::calls::list_extractions,
            api::calls::submit_extraction
        ))
        .routes(routes!(
            api::provider_credentials::list_provider_credentials,
            api::provider_credentials::create_provider_credential
        ))
        .routes(routes!(
            api::provider_credentials::get_provider_credential,
            api::provider_credentials::replace_provider_credential,
            api::provider_credentials::delete_provider_credential
        ))
        .routes(routes!(api::leads::list_leads, api::leads::create_leads))
        .routes(routes!(api::leads::get_lead))
        .routes(routes!(
            api::campaigns::list_campaigns,
            api::campaigns::create_campaign
        ))
        .routes(routes!(
            api::campaigns::get_campaign,
            api::campaigns::patch_campaign
        ))
        .routes(routes!(
            api::suppressions::list_suppressions,
            api::suppressions::create_suppression
        ))
        .routes(routes!(api::suppressions::remove_suppression))
        .routes(routes!(api::suppressions::record_opt_out))
        .routes(routes!(api::audit::list_audit_checkpoints))
        .routes(routes!(api::gate::create_dial_check))
        .routes(routes!(api::gate::get_dial_check))
        .routes(routes!(
            api::gate::get_gate_settings,
            api::gate::patch_gate_settings
        ))
        // Issue 10: signed webhooks.
        .routes(routes!(
            api::webhooks::list_webhook_endpoints,
            api::webhooks::create_webhook_endpoint
        ))
        .routes(routes!(
            api::webhooks::get_webhook_endpoint,
            api::webhooks::patch_webhook_endpoint,
            api::webhooks::delete_webhook_endpoint
        ))
        .routes(routes!(api::webhooks::rotate_webhook_secret))
        .routes(routes!(api::webhooks::send_test_event))
        .routes(routes!(api::webhooks::list_webhook_deliveries))
        .routes(routes!(api::webhooks::replay_webhook_messages))
        // Issue 8: do-not-call data.
        .routes(routes!(api::dnc::scrub))
}

/// The sign-in pages and the dashboard: HTML, not part of the API document,
/// but listed in the same permission table.
pub fn ui_routes() -> Router<AppState> {
    use crate::ui::{auth, pages};
    use axum::routing::{get, post};
    Router::new()
        .route(
            "/auth/sign-in",
            get(auth::sign_in_page).post(auth::request_link),
        )
        .route("/auth/code", post(auth::redeem_code))
        .route("/auth/link/{token}", get(auth::confirm_page))
        .route("/auth/link", post(auth::redeem_link))
        .route(
            "/auth/second-factor",
            get(auth::second_factor_page).post(auth::second_factor),
        )
        .route("/auth/enroll", get(auth::enroll_page).post(auth::enroll))
        .route("/auth/sign-out", post(auth::sign_out))
        .route("/ui", get(pages::home))
        .route("/ui/org-switch", post(pages::switch_org))
        .route("/ui/members", get(pages::members).post(pages::invite))
        .route("/ui/members/{member_id}/role", post(pages::change_role))
        .route("/ui/members/{member_id}/remove", post(pages::remove_member))
        .route(
            "/ui/members/{member_id}/sessions/revoke",
            post(pages::end_member_sessions),
        )
        .route("/ui/roles", get(pages::roles))
        .route("/ui/sessions", get(pages::sessions))
        .route("/ui/sessions/{session_id}/revoke", post(pages::end_session))
        .route(
            "/ui/sessions/revoke-others",
            post(pages::end_other_sessions),
        )
        .route("/ui/security", get(pages::security))
        .route("/ui/security/totp/remove", post(pages::remove_totp))
        .route(
            "/ui/api-keys",
            get(pages::api_keys).post(pages::create_api_key),
        )
        .route("/ui/api-keys/{key_id}/revoke", post(pages::revoke_api_key))
        .route(
            "/ui/settings",
            get(pages::settings).post(pages::save_settings),
        )
        .route("/ui/access-review", get(pages::access_review))
        .route("/ui/access-review.csv", get(pages::access_review_csv))
        .route("/ui/audit", get(pages::audit))
        .route("/ui/audit/integrity", get(pages::audit_integrity))
        .route(
            "/ui/audit/checkpoints.jsonl",
            get(pages::audit_checkpoints_file),
        )
        .route("/ui/decisions/{check_id}", get(pages::decision))
        .route("/ui/leads", get(pages::leads))
        .route(
            "/ui/leads/import",
            get(pages::lead_import).post(pages::upload_leads).layer(
                // The one route that takes files; every other keeps the
                // server-wide body limit.
                DefaultBodyLimit::max(pages::MAX_UPLOAD_BYTES + 64 * 1024),
            ),
        )
        .route(
            "/ui/campaigns",
            get(pages::campaigns).post(pages::create_campaign),
        )
        .route(
            "/ui/campaigns/{campaign_id}",
            get(pages::campaign).post(pages::update_campaign),
        )
        .route(
            "/ui/campaigns/{campaign_id}/pause",
            post(pages::set_campaign_pause),
        )
        .route(
            "/ui/suppressions",
            get(pages::suppressions).post(pages::add_suppression),
        )
        .route("/ui/gate/pause", post(pages::set_gate_pause))
        // Issue 8: do-not-call data.
        .route("/ui/dnc", get(pages::dnc))
        .route(
            "/ui/provider-credentials",
            get(pages::provider_credentials).post(pages::create_provider_credential),
        )
        .route(
            "/ui/provider-credentials/{credential_id}/replace",
            post(pages::replace_provider_credential),
        )
        .route(
            "/ui/provider-credentials/{credential_id}/delete",
            post(pages::delete_provider_credential),
        )
        // Issue 10: signed webhooks.
        .route(
            "/ui/webhooks",
            get(pages::webhooks).post(pages::create_webhook),
        )
        .route("/ui/webhooks/{endpoint_id}", get(pages::webhook))
        .route("/ui/webhooks/{endpoint_id}/test", post(pages::webhook_test))
        .route(
            "/ui/webhooks/{endpoint_id}/rotate",
            post(pages::webhook_rotate),
        )
        .route(
            "/ui/webhooks/{endpoint_id}/enabled",
            post(pages::webhook_enabled),
        )
        .route(
            "/ui/webhooks/{endpoint_id}/payload",
            post(pages::webhook_payload),
        )
        .route(
            "/ui/webhooks/{endpoint_id}/replay",
            post(pages::webhook_replay),
        )
        .route(
            "/ui/webhooks/{endpoint_id}/delete",
            post(pages::webhook_delete),
        )
}

/// The OpenAPI document as served at /openapi.json.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut doc = routes().split_for_parts().1;
    document_common_errors(&mut doc);
    doc
}

/// Adds the answers every authenticated operation can give (401, 403, and
/// 400 for a malformed path id) in one place, so no handler can forget them.
fn document_common_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let problem = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build()
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            &mut item.get,
            &mut item.post,
            &mut item.patch,
            &mut item.put,
            &mut item.delete,
        ];
        for op in ops.into_iter().flatten() {
            if op.security.as_ref().is_none_or(|s| s.is_empty()) {
                continue;
            }
            let r = &mut op.responses.responses;
            r.entry("401".into())
                .or_insert_with(|| problem("Missing, invalid, revoked or expired API key").into());
            r.entry("403".into()).or_insert_with(|| {
                problem("The key's scope or its member's role does not allow this").into()
            });
            if path.contains('{') {
                r.entry("400".into())
                    .or_insert_with(|| problem("Malformed identifier in the path").into());
            }
        }
    }
}

/// The complete application with its middleware.
pub fn build(state: AppState) -> Router {
    let (router, mut doc) = routes().split_for_parts();
    document_common_errors(&mut doc);
    let _ = state.openapi.set(doc.to_pretty_json().unwrap_or_default());
    let timeout = Duration::from_secs(state.config.server.request_timeout_secs);
    let hsts = HeaderValue::from_str(&format!(
        "max-age={}; includeSubDomains",
        state.config.server.hsts_max_age_secs
    ))
    .ok();
    // `Router::layer` wraps every route in its own boxed service per
    // layer, so the edge is one composed layer: one level per route
    // instead of one per concern (each level boxed and moved the request's
    // future: about 4% of a GET's CPU with five of them).
    let edge = tower::ServiceBuilder::new()
        .layer(middleware::from_fn_with_state(
            Arc::new(Edge { timeout, hsts }),
            request_context,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            ApiError::internal().into_response()
        }))
        .layer(DefaultBodyLimit::max(state.config.server.body_limit_bytes));
    router
        .merge(ui_routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::access::enforce,
        ))
        .fallback(|| async { ApiError::new(Code::NotFound) })
        .method_not_allowed_fallback(|| async { ApiError::new(Code::MethodNotAllowed) })
        .layer(edge)
        .with_state(state)
}

/// What the outermost layer adds to every request and response.
struct Edge {
    /// How long a handler may run ([`deadline`]).
    timeout: Duration,
    /// The `Strict-Transport-Security` value, built once.
    hsts: Option<HeaderValue>,
}

async fn deadline(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        // Dropping the handler's future drops its open transaction, which rolls back.
        Err(_) => ApiError::new(Code::Timeout).into_response(),
    }
}

/// Headers every response carries unless its handler set its own.
fn security_headers(h: &mut axum::http::HeaderMap, hsts: Option<&HeaderValue>) {
    // Room for all of them at once: growing the map insert by insert
    // rehashed it twice per response.
    h.reserve(11);
    // Constants: `from_static` checks every byte of its value, and at run
    // time that was most of this function's cost (the policy alone is
    // over 200 bytes).
    const FIXED: [(HeaderName, HeaderValue); 8] = [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; \
                 connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        // same-origin, not no-referrer: with no-referrer browsers send
        // `Origin: null` on form posts, and the dashboard checks Origin.
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
        (
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static(
                "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
            ),
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    for (name, value) in FIXED {
        // One lookup, not a look and then an insert.
        h.entry(name).or_insert(value);
    }
    if let Some(v) = hsts {
        h.insert(header::STRICT_TRANSPORT_SECURITY, v.clone());
    }
}

fn acceptable_request_id(v: &str) -> bool {
    (1..=64).contains(&v.len())
        && v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c))
}

/// Gives every request an id, a log span and one summary log line, a
/// deadline and the security headers, and counts it. Logs name the route
/// template, never the raw path or query, which can carry tokens.
async fn request_context(State(edge): State<Arc<Edge>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable_request_id(v) && !crate::api::redaction::holds_sensitive(v))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let r = tollgate_store::id_random().unwrap_or_default();
            format!("req_{}", tollgate_core::base32::encode(&r))
        });
    if let Some(ConnectInfo(addr)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        req.extensions_mut().insert(ClientIp(addr.ip()));
    }
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = tracing::field::Empty, org_id = tracing::field::Empty);
    let mut res = deadline(edge.timeout, req, next)
        .instrument(span.clone())
        .await;
    security_headers(res.headers_mut(), edge.hsts.as_ref());
    let route = route
        .or_else(|| {
            res.extensions()
                .get::<MatchedPath>()
                .map(|m| m.as_str().to_owned())
        })
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    span.record("route", route.as_str());
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        )
    });
    let (count, duration) = request_metrics(&method, &route, status);
    count.increment(1);
    duration.record(elapsed.as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

/// The request counter and duration histogram of a method, route template
/// and status. Registering a labelled metric allocates and hashes its
/// labels; every request did that (about 2% of a GET's CPU), so each
/// handle is registered once and kept. Routes are templates and statuses
/// few, so the map stays small.
fn request_metrics(
    method: &axum::http::Method,
    route: &str,
    status: u16,
) -> (metrics::Counter, metrics::Histogram) {
    type Handles = Vec<(
        axum::http::Method,
        u16,
        metrics::Counter,
        metrics::Histogram,
    )>;
    static KNOWN: OnceLock<std::sync::RwLock<std::collections::HashMap<String, Handles>>> =
        OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    let find = |handles: &Handles| {
        handles
            .iter()
            .find(|(m, s, ..)| m == method && *s == status)
            .map(|(.., c, h)| (c.clone(), h.clone()))
    };
    if let Some(found) = known
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(route)
        .and_then(find)
    {
        return found;
    }
    let counter = metrics::counter!("tollgate_http_requests_total", "method" => method.to_string(), "route" => route.to_owned(), "status" => status.to_string());
    let histogram = metrics::histogram!("tollgate_http_request_duration_seconds", "method" => method.to_string(), "route" => route.to_owned());
    known
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .entry(route.to_owned())
        .or_default()
        .push((method.clone(), status, counter.clone(), histogram.clone()));
    (counter, histogram)
}

fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder unavailable");
                None
            }
        })
        .clone()
}

/// The wall clock, the one place it is read; the core takes time as a value.
pub fn now() -> UnixMicros {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    UnixMicros(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// A server ready to accept connections.
pub struct Prepared {
    pub state: AppState,
    pub listener: tokio::net::TcpListener,
    /// Printed at first start: creates the first organization.
    pub bootstrap_link: Option<String>,
    pub created_key_files: Vec<std::path::PathBuf>,
}

/// Opens the database (migrating when configured), loads or creates the
/// keys, checks privileges and key fingerprints, and binds the listener.
/// Every failure here stops the start with a message naming the fix.
pub async fn prepare(config: Config) -> anyhow::Result<Prepared> {
    crate::tls::install_crypto_provider();
    let Opened {
        store,
        checkpoint_key,
        created_key_files: keys,
    } = open_store(&config, true).await?;
    let bootstrap_link = if store.bootstrapped().await? {
        None
    } else {
        Some(mint_bootstrap_link(&store, &config).await?)
    };
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let limiter = if config.redis.url.is_empty() {
        crate::rate_limit::Limiter::default()
    } else {
        crate::rate_limit::Limiter::redis(&config.redis.url, &config.redis.key_prefix)
            .await
            .context("connecting to Redis (redis.url); a node does not start with limits it cannot share")?
    };
    let audit = crate::audit_sink::AuditSink::start(store.clone());
    let mailer = Arc::new(crate::mail::Mailer::from_config(&config)?);
    tracing::info!(mail = %mailer.describe(), "outgoing email");
    // On SQLite the gate counts attempts in memory (ADR 0014): read them
    // now rather than in the first dial check.
    let took = store
        .load_dial_attempts()
        .await
        .context("reading the dial attempts")?;
    tracing::info!(ms = took.as_millis() as u64, "dial attempts read");
    let dial = crate::dial_queue::DialQueue::start(store.clone());
    let dnc = crate::dnc::Dnc::start(&config, &store)
        .await
        .context("starting the DNC component ([dnc])")?;
    let state = AppState(Arc::new(Services {
        dnc,
        mailer,
        dial,
        store,
        config: Arc::new(config),
        metrics: metrics_handle(),
        openapi: Arc::new(OnceLock::new()),
        audit,
        checkpoint_key,
        limiter,
    }));
    Ok(Prepared {
        state,
        listener,
        bootstrap_link,
        created_key_files: keys,
    })
}

/// An opened, checked store and the keys that live beside it.
pub struct Opened {
    pub store: Store,
    pub checkpoint_key: Arc<tollgate_core::checkpoint::CheckpointKey>,
    /// Key files this start created (first start of an embedded deployment).
    pub created_key_files: Vec<std::path::PathBuf>,
}

/// Opens the store with every start-up check; `migrate` runs pending
/// migrations where the configuration allows.
pub async fn open_store(config: &Config, migrate: bool) -> anyhow::Result<Opened> {
    if config.backend() == tollgate_store::Backend::Sqlite {
        create_private_dir(&config.data_dir)?;
    }
    let url = config.database_url();
    if migrate && config.database.migrate_on_start && config.migration_url().is_some() {
        let owner = config.migration_url().expect("checked above");
        tollgate_store::migrate(&owner, Some(&config.database.app_role))
            .await
            .context("running database migrations")?;
    }
    let recorded = tollgate_store::recorded_key_purposes(&url)
        .await
        .context("reading the database")?;
    let keys = keys::load_for(config, &recorded)?;
    let settings = PoolSettings {
        max_connections: config.database.max_connections,
        ..Default::default()
    };
    let created = keys.created.clone();
    let mut previous_keks: Vec<Arc<dyn tollgate_core::envelope::KeyEncryptionKey>> = Vec::new();
    if let Some(previous) = &keys.previous_kek {
        previous_keks.push(Arc::new(previous.envelope()));
    }
    let vault = tollgate_store::Vault::new(Arc::new(keys.kek.envelope()), previous_keks);
    let store = Store::open(&url, &settings, Arc::new(keys.token_hasher))
        .await
        .context("opening the database")?
        .with_vault(vault);
    store.check_least_privilege().await?;
    if !store.migrations_current().await? {
        bail!(
            "the database schema is not current: run `tollgate migrate` (with database.migration_url) first"
        );
    }
    let t = now();
    for (purpose, ids) in [
        (
            keys::KEK,
            std::iter::once(&keys.kek)
                .chain(&keys.previous_kek)
                .map(|k| k.id().to_owned())
                .collect(),
        ),
        (
            keys::TOKEN_HASH,
            store.hasher().key_ids().map(str::to_owned).collect(),
        ),
        (
            keys::AUDIT_SIGNING,
            vec![keys.checkpoint_key.id().to_owned()],
        ),
    ] {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        if let KeyCheck::Mismatch { recorded } = store.check_key(purpose, &ids, t).await? {
            bail!(
                "the configured {purpose} key (id {}) is not the one this database was initialized with (id {recorded}); \
                 restore the right key, or list the old key after the new one to rotate",
                ids[0]
            );
        }
    }
    // Suppressions are matched by a keyed hash of the number and must match
    // forever, so their key cannot come from the KEK (which rotates): it is
    // a random secret created once and kept sealed in the database.
    let number_key = store
        .system_secret("number_hash", now())
        .await
        .context("loading the number-hash key")?;
    let store = store.with_number_hasher(tollgate_store::NumberHasher::derive(&number_key));
    Ok(Opened {
        store,
        checkpoint_key: Arc::new(keys.checkpoint_key),
        created_key_files: created,
    })
}

/// A fresh one-time link that creates an organization.
pub async fn mint_bootstrap_link(store: &Store, config: &Config) -> anyhow::Result<String> {
    let token = store
        .create_bootstrap_token(now(), config.bootstrap.link_ttl_secs)
        .await?;
    Ok(format!(
        "{}/bootstrap/{}",
        config.public_url(),
        token.plaintext.as_str()
    ))
}

fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish
/// within the configured grace period.
pub async fn serve(
    prepared: Prepared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let grace = Duration::from_secs(prepared.state.config.server.shutdown_grace_secs);
    let store = prepared.state.store.clone();
    let audit = prepared.state.audit.clone();
    crate::checkpoints::spawn_periodic(
        store.clone(),
        prepared.state.checkpoint_key.clone(),
        Duration::from_secs(prepared.state.config.audit.checkpoint_interval_secs),
    );
    crate::key_rotation::spawn_periodic(
        store.clone(),
        Duration::from_secs(prepared.state.config.security.dek_rotation_poll_secs),
    );
    let workers = crate::webhooks::spawn(
        store.clone(),
        &prepared.state.config,
        prepared.state.mailer.clone(),
    )?;
    // Issue 8: newly imported registry versions are swapped in while serving.
    prepared.state.dnc.registry().spawn_polling(
        store.clone(),
        Duration::from_secs(prepared.state.config.dnc.poll_secs),
    );
    let app = build(prepared.state);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(
        prepared.listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        let _ = tx.send(());
    });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        res = &mut server => res?,
        _ = async { let _ = rx.await; tokio::time::sleep(grace).await } => {
            tracing::warn!("shutdown grace period over; closing remaining connections");
        }
    }
    // Webhook workers stop claiming; attempts in flight finish and are recorded.
    if let Some(w) = workers {
        w.shutdown(grace).await;
    }
    // Every request answered so far has its record written before we exit,
    // unless the database cannot take them within another grace period (the
    // sink tries a transient failure again for as long as it lasts).
    if tokio::time::timeout(grace, audit.flush()).await.is_err() {
        tracing::error!(
            "the audit log did not take the last API call records within the grace period; stopping without them"
        );
    }
    store.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    // Paused time: the sleep and the deadline advance deterministically, so
    // this proves the behaviour without depending on the machine's speed.
    #[tokio::test(start_paused = true)]
    async fn a_request_past_its_deadline_gets_a_problem_and_its_work_is_dropped() {
        let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = finished.clone();
        let app = Router::new()
            .route(
                "/slow",
                axum::routing::get(move || async move {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    flag.store(true, std::sync::atomic::Ordering::SeqCst);
                    "done"
                }),
            )
            .layer(middleware::from_fn(|req, next| {
                deadline(Duration::from_secs(30), req, next)
            }));
        let res = app
            .oneshot(
                Request::get("/slow")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("\"code\":\"timeout\""));
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert!(
            !finished.load(std::sync::atomic::Ordering::SeqCst),
            "the handler kept running"
        );
    }
}
