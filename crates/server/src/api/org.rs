//! The organization of the caller, and who the caller is.

use serde::{Deserialize, Serialize};
use tollgate_core::email;
use tollgate_store::{Org, OrgPatch, Principal};
use utoipa::ToSchema;

use super::extract::{Authenticated, Body, RequestCtx};
use super::{clean_text, rfc3339};
use crate::app::AppState;
use crate::error::ApiError;
use axum::Json;
use axum::extract::State;

#[derive(Serialize, ToSchema)]
pub struct OrgView {
    #[schema(example = "org_01jd3k5v7x9z1b3d5f7h9k1m3p")]
    pub id: String,
    pub name: String,
    /// Where compliance incidents are announced.
    pub contact_email: Option<String>,
    /// Days audit events are kept before they may be pruned (at least 90;
    /// at least 2557, 7 years, when `hipaa` is set).
    pub audit_retention_days: i32,
    /// A HIPAA covered entity or business associate: 7-year audit retention.
    pub hipaa: bool,
    /// Owners and admins must use a second factor (TOTP) to sign in.
    pub require_2fa_admins: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Org> for OrgView {
    fn from(o: Org) -> Self {
        OrgView {
            id: o.id.to_string(),
            name: o.name,
            contact_email: o.contact_email,
            audit_retention_days: o.audit_retention_days,
            hipaa: o.hipaa,
            require_2fa_admins: o.require_2fa_admins,
            created_at: rfc3339(o.created_at),
            updated_at: rfc3339(o.updated_at),
        }
    }
}

/// The caller's organization.
#[utoipa::path(get, path = "/v1/org", tag = "org", security(("bearer" = [])), responses(
    (status = 200, description = "Success", body = OrgView), (status = 401, description = "Missing, invalid, revoked or expired API key", body = crate::error::Problem)))]
pub async fn get_org(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Json<OrgView>, ApiError> {
    Ok(Json(state.store.scope(&actor).get_org().await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchOrg {
    /// 1 to 100 characters.
    pub name: Option<String>,
    /// An email address, or "" to clear it.
    pub contact_email: Option<String>,
    /// 90 to 36500. Raised to 2557 (7 years) while `hipaa` is set.
    pub audit_retention_days: Option<i32>,
    pub hipaa: Option<bool>,
    pub require_2fa_admins: Option<bool>,
}

/// Changes the organization's settings. Audited with before and after values.
#[utoipa::path(patch, path = "/v1/org", tag = "org", security(("bearer" = [])), request_body = PatchOrg, responses(
    (status = 200, description = "Success", body = OrgView), (status = 422, description = "A field is missing or invalid", body = crate::error::Problem)))]
pub async fn patch_org(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Body(input): Body<PatchOrg>,
) -> Result<Json<OrgView>, ApiError> {
    if let Some(d) = input.audit_retention_days
        && !(tollgate_store::MIN_RETENTION_DAYS..=36_500).contains(&d)
    {
        return Err(ApiError::invalid(
            "`audit_retention_days` must be between 90 and 36500.",
        ));
    }
    let patch = OrgPatch {
        audit_retention_days: input.audit_retention_days,
        hipaa: input.hipaa,
        require_2fa_admins: input.require_2fa_admins,
        name: input
            .name
            .as_deref()
            .map(|n| clean_text("name", n, 100))
            .transpose()?,
        contact_email: match input.contact_email.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(e) => {
                Some(Some(email::normalize(e).map_err(|e| {
                    ApiError::invalid(format!("`contact_email`: {e}."))
                })?))
            }
        },
    };
    Ok(Json(
        state
            .store
            .scope(&actor)
            .update_org(patch, &ctx)
            .await?
            .into(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub org_id: String,
    /// `api_key` or `oauth_client`.
    pub actor_kind: String,
    pub actor_id: String,
    /// The member (`mem_`) the key acts for.
    pub on_behalf_of: String,
    /// That member's current role, which bounds the key.
    pub role: String,
    pub scopes: Vec<String>,
}

/// Who the caller is: its organization, credential, role and scopes.
#[utoipa::path(get, path = "/v1/me", tag = "org", security(("bearer" = [])), responses((status = 200, description = "Success", body = Me)))]
pub async fn me(Authenticated(actor): Authenticated) -> Json<Me> {
    let (kind, id, on_behalf_of) = match actor.principal() {
        Principal::ApiKey {
            key_id,
            on_behalf_of,
        } => ("api_key", key_id.to_string(), on_behalf_of),
        Principal::OAuthClient {
            client_id,
            on_behalf_of,
        } => ("oauth_client", client_id.to_string(), on_behalf_of),
        Principal::Operator { on_behalf_of } => {
            ("operator", on_behalf_of.to_string(), on_behalf_of)
        }
        Principal::Session {
            session_id,
            on_behalf_of,
        } => ("session", session_id.to_string(), on_behalf_of),
    };
    Json(Me {
        org_id: actor.org_id().to_string(),
        actor_kind: kind.into(),
        actor_id: id,
        on_behalf_of: on_behalf_of.to_string(),
        role: actor.role().to_string(),
        scopes: actor
            .scopes()
            .map(|s| s.iter().map(|x| x.as_str().to_owned()).collect())
            .unwrap_or_default(),
    })
}
