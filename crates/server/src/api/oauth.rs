//! The OAuth 2.1 authorization server for machine clients: the client
//! credentials grant (RFC 6749 section 4.4), token introspection (RFC 7662),
//! token revocation (RFC 7009) and the metadata document (RFC 8414).
//!
//! These endpoints authenticate the client themselves (`client_secret_basic`
//! or `client_secret_post`) and answer errors in the RFC 6749 section 5.2
//! shape that OAuth client libraries parse, not as problem documents.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use tollgate_core::{Scope, ScopeSet};
use tollgate_store::{Actor, AuthFailure};
use utoipa::ToSchema;

use super::extract::RequestCtx;
use crate::app::AppState;
use crate::error::ApiError;

/// An RFC 6749 section 5.2 error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client`, `invalid_grant`,
    /// `unauthorized_client`, `unsupported_grant_type` or `invalid_scope`.
    pub error: &'static str,
    pub error_description: String,
}

/// An error of these endpoints: the RFC shape, or a server-side problem.
enum Failure {
    OAuth {
        error: &'static str,
        description: String,
    },
    Server(ApiError),
    /// A finished response (rate-limit refusals carry their own headers).
    Raw(Box<Response>),
}

fn oauth(error: &'static str, description: impl Into<String>) -> Failure {
    Failure::OAuth {
        error,
        description: description.into(),
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (error, description) = match self {
            Failure::Server(e) => return e.into_response(),
            Failure::Raw(r) => return *r,
            Failure::OAuth { error, description } => (error, description),
        };
        // RFC 6749 section 5.2: 401 with a challenge when client
        // authentication failed (HTTP requires the challenge with any 401),
        // 400 otherwise.
        let status = if error == "invalid_client" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        let mut res = (
            status,
            Json(OAuthError {
                error,
                error_description: description,
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tollgate\""),
            );
        }
        no_store(res)
    }
}

/// Token responses and errors must never be cached (RFC 6749 section 5.1).
fn no_store(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// Form parameters, each allowed at most once (RFC 6749 section 3.2).
struct Params(Vec<(String, String)>);

impl Params {
    fn from(
        form: Result<axum::Form<Vec<(String, String)>>, FormRejection>,
    ) -> Result<Params, Failure> {
        match form {
            Ok(axum::Form(pairs)) => Ok(Params(pairs)),
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(Failure::Server(
                ApiError::new(crate::error::Code::PayloadTooLarge),
            )),
            Err(_) => Err(oauth(
                "invalid_request",
                "The body must be application/x-www-form-urlencoded parameters.",
            )),
        }
    }

    /// A parameter's value; an empty value counts as omitted (RFC 6749
    /// section 3.1), a repeated one is an error.
    fn get(&self, name: &str) -> Result<Option<&str>, Failure> {
        let mut values = self
            .0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(oauth(
                "invalid_request",
                format!("The `{name}` parameter is repeated."),
            ));
        }
        Ok(first)
    }
}

/// Decodes `application/x-www-form-urlencoded` text, which is how RFC 6749
/// section 2.3.1 encodes the client id and secret inside Basic credentials.
fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Authenticates the calling client by exactly one of `client_secret_basic`
/// and `client_secret_post`.
async fn authenticate_client(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
    ip: Option<&str>,
) -> Result<Actor, Failure> {
    // Failed client authentications share the per-IP budget of failed
    // API-key authentications: past it, no secret is even checked.
    let failures = format!("ip:{}:auth-failures", ip.unwrap_or("unknown"));
    let quota = state.config.rate_limit.auth_failures();
    match state
        .limiter
        .would_admit(&failures, quota, state.now())
        .await
    {
        Ok(v) if !v.allowed => return Err(Failure::Raw(Box::new(crate::access::too_many(v)))),
        Ok(_) => {}
        Err(e) => return Err(Failure::Raw(Box::new(crate::access::limiter_down(e)))),
    }
    let basic = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let text = value.to_str().unwrap_or_default();
            let (scheme, creds) = text.split_once(' ').unwrap_or((text, ""));
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(oauth(
                    "invalid_client",
                    "Authenticate the client with HTTP Basic or client_id and client_secret parameters.",
                ));
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(creds.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            let pair = decoded
                .as_deref()
                .and_then(|d| d.split_once(':'))
                .and_then(|(id, secret)| Some((form_decode(id)?, form_decode(secret)?)));
            match pair {
                Some(p) => Some(p),
                None => return Err(oauth("invalid_client", "Malformed Basic credentials.")),
            }
        }
    };
    let body_id = params.get("client_id")?;
    let body_secret = params.get("client_secret")?;
    let (id, secret) = match (basic, body_id, body_secret) {
        (Some(_), _, Some(_)) => {
            return Err(oauth(
                "invalid_request",
                "Use one client authentication method, not both.",
            ));
        }
        (Some((id, _)), Some(body), None) if body != id => {
            return Err(oauth(
                "invalid_request",
                "`client_id` differs from the authenticated client.",
            ));
        }
        (Some(pair), _, None) => pair,
        (None, Some(id), Some(secret)) => (id.to_owned(), secret.to_owned()),
        (None, _, _) => {
            return Err(oauth(
                "invalid_client",
                "Client authentication is required (client_secret_basic or client_secret_post).",
            ));
        }
    };
    match state
        .store
        .authenticate_oauth_client(&id, &secret, state.now())
        .await
    {
        Ok(actor) => Ok(actor),
        Err(AuthFailure::Store(e)) => Err(Failure::Server(e.into())),
        // One answer for unknown, wrong secret, revoked: nothing to probe.
        Err(_) => {
            let _ = state.limiter.admit(&failures, quota, state.now()).await;
            Err(oauth("invalid_client", "Client authentication failed."))
        }
    }
}

/// The parameters of a token request (documentation of the form body).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct TokenRequest {
    /// `client_credentials`.
    pub grant_type: String,
    /// Space-separated scopes, a subset of the client's. Omitted: all of them.
    pub scope: Option<String>,
    /// With `client_secret_post`; otherwise use HTTP Basic.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// An opaque bearer token (`tg_oat_…`), accepted on `/v1` like an API key.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: i64,
    /// The granted scopes, space-separated.
    pub scope: String,
}

fn scope_text(scopes: ScopeSet) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The client credentials grant: a short-lived access token for an
/// authenticated client.
#[utoipa::path(post, path = "/oauth/token", tag = "oauth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A token was issued", body = TokenResponse),
        (status = 400, description = "RFC 6749 error: invalid_request, unsupported_grant_type, invalid_scope", body = OAuthError),
        (status = 401, description = "RFC 6749 error: invalid_client", body = OAuthError)))]
pub async fn token(
    State(state): State<AppState>,
    RequestCtx(ctx): RequestCtx,
    headers: HeaderMap,
    form: Result<axum::Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    match issue(&state, ctx, &headers, form).await {
        Ok(r) => no_store(Json(r).into_response()),
        Err(f) => f.into_response(),
    }
}

async fn issue(
    state: &AppState,
    ctx: tollgate_store::Ctx,
    headers: &HeaderMap,
    form: Result<axum::Form<Vec<(String, String)>>, FormRejection>,
) -> Result<TokenResponse, Failure> {
    let params = Params::from(form)?;
    let grant = params
        .get("grant_type")?
        .ok_or_else(|| oauth("invalid_request", "`grant_type` is required."))?
        .to_owned();
    let client = authenticate_client(state, headers, &params, ctx.request.ip.as_deref()).await?;
    if grant != "client_credentials" {
        return Err(oauth(
            "unsupported_grant_type",
            "Only the client_credentials grant is supported.",
        ));
    }
    let allowed = client.scopes().unwrap_or_default();
    let scopes = match params.get("scope")? {
        None => allowed,
        Some(text) => {
            let mut wanted = ScopeSet::default();
            for name in text.split(' ').filter(|s| !s.is_empty()) {
                let scope: Scope = name
                    .parse()
                    .map_err(|()| oauth("invalid_scope", format!("Unknown scope `{name}`.")))?;
                if !allowed.contains(scope) {
                    return Err(oauth(
                        "invalid_scope",
                        format!("The client is not registered for `{name}`."),
                    ));
                }
                wanted.insert(scope);
            }
            if wanted.is_empty() {
                return Err(oauth("invalid_scope", "`scope` names no scope."));
            }
            wanted
        }
    };
    let ttl = state.config.oauth.access_token_ttl_secs;
    let issued = state
        .store
        .scope(&client)
        .issue_oauth_token(scopes, ttl, &ctx)
        .await
        .map_err(|e| Failure::Server(e.into()))?;
    Ok(TokenResponse {
        access_token: issued.token.plaintext.to_string(),
        token_type: "Bearer",
        expires_in: ttl,
        scope: scope_text(issued.scopes),
    })
}

/// The parameters of an introspection or revocation request.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct TokenParam {
    /// The access token.
    pub token: String,
    /// `access_token` (the only kind Tollgate issues); optional.
    pub token_type_hint: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// RFC 7662 introspection answer. Only `active` is present for an inactive
/// token.
#[derive(Serialize, ToSchema)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// Expiry, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// The client the token was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

/// Token introspection: whether a token is active, for an authenticated
/// client of the same organization. Another organization's token is
/// inactive.
#[utoipa::path(post, path = "/oauth/introspect", tag = "oauth",
    request_body(content = TokenParam, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The token's state", body = Introspection),
        (status = 400, description = "RFC 6749 error: invalid_request", body = OAuthError),
        (status = 401, description = "RFC 6749 error: invalid_client", body = OAuthError)))]
pub async fn introspect(
    State(state): State<AppState>,
    RequestCtx(ctx): RequestCtx,
    headers: HeaderMap,
    form: Result<axum::Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let result = async {
        let params = Params::from(form)?;
        let client =
            authenticate_client(&state, &headers, &params, ctx.request.ip.as_deref()).await?;
        let token = params
            .get("token")?
            .ok_or_else(|| oauth("invalid_request", "`token` is required."))?;
        let info = state
            .store
            .scope(&client)
            .introspect_oauth_token(token, state.now())
            .await
            .map_err(|e| Failure::Server(e.into()))?;
        Ok::<_, Failure>(match info {
            None => Introspection {
                active: false,
                scope: None,
                client_id: None,
                token_type: None,
                exp: None,
                iat: None,
                sub: None,
                iss: None,
            },
            Some(t) => Introspection {
                active: true,
                scope: Some(scope_text(t.scopes)),
                client_id: Some(t.client_id.to_string()),
                token_type: Some("Bearer"),
                exp: Some(t.expires_at.0.div_euclid(1_000_000)),
                iat: Some(t.issued_at.0.div_euclid(1_000_000)),
                sub: Some(t.client_id.to_string()),
                iss: Some(state.config.public_url()),
            },
        })
    }
    .await;
    match result {
        Ok(body) => no_store(Json(body).into_response()),
        Err(f) => f.into_response(),
    }
}

/// Token revocation: the client's own token stops working at once, on
/// every node. Answers 200 whether or not there was such a token.
#[utoipa::path(post, path = "/oauth/revoke", tag = "oauth",
    request_body(content = TokenParam, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or there was nothing to revoke"),
        (status = 400, description = "RFC 6749 error: invalid_request", body = OAuthError),
        (status = 401, description = "RFC 6749 error: invalid_client", body = OAuthError)))]
pub async fn revoke(
    State(state): State<AppState>,
    RequestCtx(ctx): RequestCtx,
    headers: HeaderMap,
    form: Result<axum::Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let result = async {
        let params = Params::from(form)?;
        let client =
            authenticate_client(&state, &headers, &params, ctx.request.ip.as_deref()).await?;
        let token = params
            .get("token")?
            .ok_or_else(|| oauth("invalid_request", "`token` is required."))?;
        state
            .store
            .scope(&client)
            .revoke_oauth_token(token, &ctx)
            .await
            .map_err(|e| Failure::Server(e.into()))?;
        Ok::<_, Failure>(())
    }
    .await;
    match result {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(f) => f.into_response(),
    }
}

/// RFC 8414 authorization server metadata.
#[derive(Serialize, ToSchema)]
pub struct ServerMetadata {
    pub issuer: String,
    pub token_endpoint: String,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    pub grant_types_supported: Vec<&'static str>,
    /// Empty: there is no authorization endpoint (machine clients only).
    pub response_types_supported: Vec<&'static str>,
    pub scopes_supported: Vec<&'static str>,
    pub introspection_endpoint: String,
    pub introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    pub revocation_endpoint: String,
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
}

/// The authorization server metadata document.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "oauth", responses(
    (status = 200, description = "Success", body = ServerMetadata)))]
pub async fn metadata(State(state): State<AppState>) -> Json<ServerMetadata> {
    let issuer = state.config.public_url();
    let auth = vec!["client_secret_basic", "client_secret_post"];
    Json(ServerMetadata {
        token_endpoint: format!("{issuer}/oauth/token"),
        introspection_endpoint: format!("{issuer}/oauth/introspect"),
        revocation_endpoint: format!("{issuer}/oauth/revoke"),
        issuer,
        token_endpoint_auth_methods_supported: auth.clone(),
        grant_types_supported: vec!["client_credentials"],
        response_types_supported: vec![],
        scopes_supported: Scope::ALL.iter().map(|s| s.as_str()).collect(),
        introspection_endpoint_auth_methods_supported: auth.clone(),
        revocation_endpoint_auth_methods_supported: auth,
    })
}

#[cfg(test)]
mod tests {
    use super::form_decode;

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(form_decode("a%3Ab+c").as_deref(), Some("a:b c"));
        assert_eq!(form_decode("tg_ocs_x").as_deref(), Some("tg_ocs_x"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
    }
}
