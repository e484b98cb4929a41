//! API keys of bots: list, create (the token is shown once), revoke.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tollgate_core::id::ApiKeyKind;
use tollgate_core::{Scope, ScopeSet, UnixMicros};
use tollgate_store::{ApiKey, NewApiKey, StoreError};
use utoipa::ToSchema;

use super::extract::{Authenticated, Body, QueryParams, RequestCtx, path_id};
use super::members::ListQuery;
use super::{Page, clean_text, rfc3339};
use crate::app::AppState;
use crate::error::{ApiError, Problem};

/// Longest allowed lifetime of a key with an expiry.
const MAX_LIFETIME_SECS: i64 = 2 * 366 * 86_400;

#[derive(Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    /// The public start of the token, to recognise it; never the secret.
    #[schema(example = "tg_live_0123456789abcdef_")]
    pub token_prefix: String,
    /// The member the key acts for; their role bounds it.
    pub created_by: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// `revoked`, or `creator_removed` when its member was removed.
    pub revoked_reason: Option<String>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> Self {
        ApiKeyView {
            id: k.id.to_string(),
            name: k.name,
            scopes: k.scopes,
            token_prefix: k.token_prefix,
            created_by: k.created_by.to_string(),
            created_at: rfc3339(k.created_at),
            expires_at: k.expires_at.map(rfc3339),
            last_used_at: k.last_used_at.map(rfc3339),
            revoked_at: k.revoked_at.map(rfc3339),
            revoked_reason: k.revoked_reason,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    pub api_key: ApiKeyView,
    /// The secret token. Shown this once; Tollgate keeps only a keyed hash.
    pub token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// 1 to 100 characters.
    pub name: String,
    /// At least one of the documented scopes.
    #[schema(example = json!(["dial:check", "leads:read"]))]
    pub scopes: Vec<String>,
    /// RFC 3339; in the future, at most two years ahead. Omit for no expiry.
    pub expires_at: Option<String>,
}

/// API keys of the organization, revoked ones included.
#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", security(("bearer" = [])), params(ListQuery), responses(
    (status = 200, description = "Success", body = Page<ApiKeyView>)))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<Page<ApiKeyView>>, ApiError> {
    let limit = q.limit()?;
    let after = q.after.as_deref().map(path_id::<ApiKeyKind>).transpose()?;
    let rows = state
        .store
        .scope(&actor)
        .list_api_keys(after.as_ref(), limit + 1)
        .await?;
    let rows = rows.into_iter().map(ApiKeyView::from).collect();
    Ok(Json(Page::from_rows(rows, limit, |k: &ApiKeyView| {
        k.id.clone()
    })))
}

/// Creates a key acting on behalf of the caller's member. The response holds
/// the only copy of the token.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", security(("bearer" = [])), request_body = CreateApiKey, responses(
    (status = 201, description = "Created", body = CreatedApiKey), (status = 422, description = "A field is missing or invalid", body = Problem)))]
pub async fn create_api_key(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Body(input): Body<CreateApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
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
    let expires_at = match input.expires_at.as_deref() {
        None => None,
        Some(text) => {
            let t = UnixMicros::parse_rfc3339(text)
                .ok_or_else(|| ApiError::invalid("`expires_at` must be an RFC 3339 date-time."))?;
            if t <= ctx.now || t > ctx.now.plus_secs(MAX_LIFETIME_SECS) {
                return Err(ApiError::invalid(
                    "`expires_at` must be in the future and at most two years ahead.",
                ));
            }
            Some(t)
        }
    };
    let (key, token) = state
        .store
        .scope(&actor)
        .create_api_key(
            NewApiKey {
                name,
                scopes,
                expires_at,
            },
            &ctx,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            api_key: key.into(),
            token: token.plaintext.to_string(),
        }),
    ))
}

/// One key.
#[utoipa::path(get, path = "/v1/api-keys/{key_id}", tag = "api-keys", security(("bearer" = [])),
    params(("key_id" = String, Path, description = "A `key_` id")), responses(
    (status = 200, description = "Success", body = ApiKeyView), (status = 404, description = "No such object in this organization", body = Problem)))]
pub async fn get_api_key(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(key_id): Path<String>,
) -> Result<Json<ApiKeyView>, ApiError> {
    let id = path_id::<ApiKeyKind>(&key_id)?;
    Ok(Json(
        state
            .store
            .scope(&actor)
            .get_api_key(&id)
            .await
            .map_err(not_found)?
            .into(),
    ))
}

/// Revokes a key at once. Revoking a revoked key succeeds and changes nothing.
#[utoipa::path(delete, path = "/v1/api-keys/{key_id}", tag = "api-keys", security(("bearer" = [])),
    params(("key_id" = String, Path, description = "A `key_` id")), responses(
    (status = 200, description = "Success", body = ApiKeyView), (status = 404, description = "No such object in this organization", body = Problem)))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Path(key_id): Path<String>,
) -> Result<Json<ApiKeyView>, ApiError> {
    let id = path_id::<ApiKeyKind>(&key_id)?;
    Ok(Json(
        state
            .store
            .scope(&actor)
            .revoke_api_key(&id, &ctx)
            .await
            .map_err(not_found)?
            .into(),
    ))
}

fn not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found("API key"),
        other => other.into(),
    }
}
