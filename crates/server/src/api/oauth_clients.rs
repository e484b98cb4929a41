//! OAuth clients of machine integrations: list, register (the secret is
//! shown once), revoke. The token endpoints live in [`super::oauth`].

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tollgate_core::id::OAuthClientKind;
use tollgate_core::{Scope, ScopeSet};
use tollgate_store::{NewOAuthClient, OAuthClient, StoreError};
use utoipa::ToSchema;

use super::extract::{Authenticated, Body, QueryParams, RequestCtx, path_id};
use super::members::ListQuery;
use super::{Page, clean_text, rfc3339};
use crate::app::AppState;
use crate::error::{ApiError, Problem};

#[derive(Serialize, ToSchema)]
pub struct OAuthClientView {
    /// The `client_id` to present at `/oauth/token`.
    pub client_id: String,
    pub name: String,
    /// The scopes the client may request.
    pub scopes: Vec<String>,
    /// The public start of the secret, to recognise it; never the secret.
    #[schema(example = "tg_ocs_0123456789abcdef_")]
    pub secret_prefix: String,
    /// The member the client acts for; their role bounds it.
    pub created_by: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    /// `revoked`, or `creator_removed` when its member was removed.
    pub revoked_reason: Option<String>,
}

impl From<OAuthClient> for OAuthClientView {
    fn from(c: OAuthClient) -> Self {
        OAuthClientView {
            client_id: c.id.to_string(),
            name: c.name,
            scopes: c.scopes,
            secret_prefix: c.secret_prefix,
            created_by: c.created_by.to_string(),
            created_at: rfc3339(c.created_at),
            revoked_at: c.revoked_at.map(rfc3339),
            revoked_reason: c.revoked_reason,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedOAuthClient {
    pub client: OAuthClientView,
    /// The client secret. Shown this once; Tollgate keeps only a keyed hash.
    pub client_secret: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOAuthClient {
    /// 1 to 100 characters.
    pub name: String,
    /// At least one of the API-key scopes.
    #[schema(example = json!(["dial:check", "leads:read"]))]
    pub scopes: Vec<String>,
}

/// OAuth clients of the organization, revoked ones included.
#[utoipa::path(get, path = "/v1/oauth-clients", tag = "oauth-clients", security(("bearer" = [])), params(ListQuery), responses(
    (status = 200, description = "Success", body = Page<OAuthClientView>)))]
pub async fn list_oauth_clients(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<Page<OAuthClientView>>, ApiError> {
    let limit = q.limit()?;
    let after = q
        .after
        .as_deref()
        .map(path_id::<OAuthClientKind>)
        .transpose()?;
    let rows = state
        .store
        .scope(&actor)
        .list_oauth_clients(after.as_ref(), limit + 1)
        .await?;
    let rows = rows.into_iter().map(OAuthClientView::from).collect();
    Ok(Json(Page::from_rows(rows, limit, |c: &OAuthClientView| {
        c.client_id.clone()
    })))
}

/// Registers a client for the client credentials grant, acting on behalf of
/// the caller's member. The response holds the only copy of the secret.
#[utoipa::path(post, path = "/v1/oauth-clients", tag = "oauth-clients", security(("bearer" = [])), request_body = CreateOAuthClient, responses(
    (status = 201, description = "Created", body = CreatedOAuthClient), (status = 422, description = "A field is missing or invalid", body = Problem)))]
pub async fn create_oauth_client(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Body(input): Body<CreateOAuthClient>,
) -> Result<(StatusCode, Json<CreatedOAuthClient>), ApiError> {
    let name = clean_text("name", &input.name, 100)?;
    if input.scopes.is_empty() || input.scopes.len() > Scope::ALL.len() {
        return Err(ApiError::invalid(
            "`scopes` must list at least one scope, each once.",
        ));
    }
    let mut scopes = ScopeSet::default();
    for s in &input.scopes {
        let scope: Scope = s
            .parse()
            .map_err(|()| ApiError::invalid(format!("`scopes`: unknown scope `{s}`.")))?;
        if scopes.contains(scope) {
            return Err(ApiError::invalid(format!(
                "`scopes`: `{s}` is listed twice."
            )));
        }
        scopes.insert(scope);
    }
    let (client, secret) = state
        .store
        .scope(&actor)
        .create_oauth_client(NewOAuthClient { name, scopes }, &ctx)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedOAuthClient {
            client: client.into(),
            client_secret: secret.plaintext.to_string(),
        }),
    ))
}

/// One client.
#[utoipa::path(get, path = "/v1/oauth-clients/{client_id}", tag = "oauth-clients", security(("bearer" = [])),
    params(("client_id" = String, Path, description = "An `ocl_` id")), responses(
    (status = 200, description = "Success", body = OAuthClientView), (status = 404, description = "No such object in this organization", body = Problem)))]
pub async fn get_oauth_client(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(client_id): Path<String>,
) -> Result<Json<OAuthClientView>, ApiError> {
    let id = path_id::<OAuthClientKind>(&client_id)?;
    Ok(Json(
        state
            .store
            .scope(&actor)
            .get_oauth_client(&id)
            .await
            .map_err(not_found)?
            .into(),
    ))
}

/// Revokes a client at once: it can no longer obtain tokens, and every
/// token it holds stops working on the next request, on every node.
/// Revoking a revoked client succeeds and changes nothing.
#[utoipa::path(delete, path = "/v1/oauth-clients/{client_id}", tag = "oauth-clients", security(("bearer" = [])),
    params(("client_id" = String, Path, description = "An `ocl_` id")), responses(
    (status = 200, description = "Success", body = OAuthClientView), (status = 404, description = "No such object in this organization", body = Problem)))]
pub async fn revoke_oauth_client(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Path(client_id): Path<String>,
) -> Result<Json<OAuthClientView>, ApiError> {
    let id = path_id::<OAuthClientKind>(&client_id)?;
    Ok(Json(
        state
            .store
            .scope(&actor)
            .revoke_oauth_client(&id, &ctx)
            .await
            .map_err(not_found)?
            .into(),
    ))
}

fn not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found("OAuth client"),
        other => other.into(),
    }
}
