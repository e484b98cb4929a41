//! Credentials of outside providers: create, list, show, replace, delete.
//! Never read: after saving, every answer carries only the kind, label, last
//! four characters, data-policy flags and timestamps.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tollgate_core::id::ProviderCredentialKind;
use tollgate_store::{
    NewProviderCredential, ProviderCredential, ReplaceProviderCredential, SecretFields, StoreError,
};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use super::extract::{Authenticated, Body, QueryParams, RequestCtx, path_id};
use super::members::ListQuery;
use super::{Page, clean_text, rfc3339};
use crate::app::AppState;
use crate::error::{ApiError, Problem};

/// One kind of provider and the secret fields it takes.
pub(crate) struct KindSpec {
    pub kind: &'static str,
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
    /// The field whose last four characters are shown.
    pub main: &'static str,
}

pub(crate) const KINDS: &[KindSpec] = &[
    KindSpec {
        kind: "retell",
        required: &["api_key"],
        optional: &[],
        main: "api_key",
    },
    KindSpec {
        kind: "elevenlabs",
        required: &["api_key"],
        optional: &[],
        main: "api_key",
    },
    KindSpec {
        kind: "vapi",
        required: &["api_key"],
        optional: &[],
        main: "api_key",
    },
    KindSpec {
        kind: "bland",
        required: &["api_key"],
        optional: &[],
        main: "api_key",
    },
    KindSpec {
        kind: "twilio",
        required: &["account_sid", "auth_token"],
        optional: &[],
        main: "auth_token",
    },
    KindSpec {
        kind: "telnyx",
        required: &["api_key"],
        optional: &[],
        main: "api_key",
    },
    KindSpec {
        kind: "dnc_provider",
        required: &["api_key"],
        optional: &["account_id"],
        main: "api_key",
    },
];

/// Longest secret value accepted (a long JWT or PEM fits).
const MAX_SECRET_CHARS: usize = 8192;

/// How long the vendor keeps data sent with this credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Retention {
    /// The vendor keeps nothing after the call.
    Zero,
    /// The vendor keeps data for `retention_days`.
    Limited,
    /// The vendor's default terms apply.
    VendorDefault,
}

/// What the organization has agreed with the vendor about its data.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataPolicy {
    /// Whether the vendor may train models on the data.
    pub vendor_trains_on_data: bool,
    pub retention: Retention,
    /// For `limited`: 1 to 3650. Omitted otherwise.
    pub retention_days: Option<u32>,
}

impl DataPolicy {
    pub(crate) fn validate(self) -> Result<serde_json::Value, ApiError> {
        match (self.retention, self.retention_days) {
            (Retention::Limited, Some(1..=3650)) => {}
            (Retention::Limited, _) => {
                return Err(ApiError::invalid(
                    "`policy.retention_days` must be 1 to 3650 when `retention` is `limited`.",
                ));
            }
            (_, Some(_)) => {
                return Err(ApiError::invalid(
                    "`policy.retention_days` is only for `retention` `limited`.",
                ));
            }
            (_, None) => {}
        }
        serde_json::to_value(self).map_err(|_| ApiError::internal())
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProviderCredentialView {
    pub id: String,
    /// `retell`, `elevenlabs`, `vapi`, `bland`, `twilio`, `telnyx` or `dnc_provider`.
    pub kind: String,
    pub label: String,
    /// The last four characters of the main secret, to recognise it; empty
    /// when the secret is shorter than 16 characters.
    #[schema(example = "x7Qa")]
    pub last_four: String,
    #[schema(value_type = DataPolicy)]
    pub policy: serde_json::Value,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<ProviderCredential> for ProviderCredentialView {
    fn from(c: ProviderCredential) -> Self {
        ProviderCredentialView {
            id: c.id.to_string(),
            kind: c.kind,
            label: c.label,
            last_four: c.last_four,
            policy: c.policy,
            created_by: c.created_by.to_string(),
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProviderCredential {
    /// `retell`, `elevenlabs`, `vapi`, `bland`, `twilio` (`account_sid`,
    /// `auth_token`), `telnyx` or `dnc_provider` (`api_key`, optional
    /// `account_id`). The others take `api_key`.
    pub kind: String,
    /// 1 to 100 characters.
    pub label: String,
    /// The secret fields of the kind, as strings. Never shown again.
    #[schema(value_type = Object, example = json!({"api_key": "key_…"}))]
    pub secret: serde_json::Value,
    pub policy: DataPolicy,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceProviderCredentialBody {
    /// Every secret field of the kind: a replacement is whole.
    #[schema(value_type = Object, example = json!({"api_key": "key_…"}))]
    pub secret: serde_json::Value,
    pub label: Option<String>,
    pub policy: Option<DataPolicy>,
}

pub(crate) fn spec(kind: &str) -> Result<&'static KindSpec, ApiError> {
    KINDS.iter().find(|k| k.kind == kind).ok_or_else(|| {
        ApiError::invalid(format!(
            "`kind` must be one of: {}.",
            KINDS.iter().map(|k| k.kind).collect::<Vec<_>>().join(", ")
        ))
    })
}

/// Checks the secret fields of `spec`. Error messages name fields, never
/// values (a value put in the wrong field is still a secret).
pub(crate) fn secret_fields(
    spec: &KindSpec,
    raw: serde_json::Value,
) -> Result<SecretFields, ApiError> {
    let mut out = BTreeMap::new();
    // Not typed in the body: serde's type errors quote the value, and a
    // secret sent as a bare string would come back in the message.
    let serde_json::Value::Object(raw) = raw else {
        return Err(ApiError::invalid(
            "`secret` must be an object of secret fields.",
        ));
    };
    for (name, value) in raw {
        if !spec.required.contains(&name.as_str()) && !spec.optional.contains(&name.as_str()) {
            // The unknown name is not repeated: it could be a pasted secret.
            return Err(ApiError::invalid(format!(
                "`secret`: `{kind}` takes only {}.",
                spec.required
                    .iter()
                    .chain(spec.optional)
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                kind = spec.kind,
            )));
        }
        let serde_json::Value::String(text) = value else {
            return Err(ApiError::invalid(format!(
                "`secret.{name}` must be a string."
            )));
        };
        let text = Zeroizing::new(text);
        let n = text.chars().count();
        if n == 0 || n > MAX_SECRET_CHARS || text.trim().len() != text.len() {
            return Err(ApiError::invalid(format!(
                "`secret.{name}` must be 1 to {MAX_SECRET_CHARS} characters without surrounding spaces."
            )));
        }
        out.insert(name, text);
    }
    if let Some(missing) = spec.required.iter().find(|f| !out.contains_key(**f)) {
        return Err(ApiError::invalid(format!(
            "`secret.{missing}` is required for `{}`.",
            spec.kind
        )));
    }
    Ok(SecretFields::new(out))
}

/// Provider credentials of the organization.
#[utoipa::path(get, path = "/v1/provider-credentials", tag = "provider-credentials", security(("bearer" = [])), params(ListQuery), responses(
    (status = 200, description = "Success", body = Page<ProviderCredentialView>)))]
pub async fn list_provider_credentials(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<Page<ProviderCredentialView>>, ApiError> {
    let limit = q.limit()?;
    let after = q
        .after
        .as_deref()
        .map(path_id::<ProviderCredentialKind>)
        .transpose()?;
    let rows = state
        .store
        .scope(&actor)
        .list_provider_credentials(after.as_ref(), limit + 1)
        .await?;
    let rows = rows.into_iter().map(ProviderCredentialView::from).collect();
    Ok(Json(Page::from_rows(
        rows,
        limit,
        |c: &ProviderCredentialView| c.id.clone(),
    )))
}

/// Stores a credential, sealed. The answer, and every later one, shows only
/// the kind, label, last four characters and policy.
#[utoipa::path(post, path = "/v1/provider-credentials", tag = "provider-credentials", security(("bearer" = [])), request_body = CreateProviderCredential, responses(
    (status = 201, description = "Created", body = ProviderCredentialView), (status = 422, description = "A field is missing or invalid", body = Problem)))]
pub async fn create_provider_credential(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Body(input): Body<CreateProviderCredential>,
) -> Result<(StatusCode, Json<ProviderCredentialView>), ApiError> {
    let spec = spec(&input.kind)?;
    let label = clean_text("label", &input.label, 100)?;
    let policy = input.policy.validate()?;
    let secret = secret_fields(spec, input.secret)?;
    let created = state
        .store
        .scope(&actor)
        .create_provider_credential(
            NewProviderCredential {
                kind: spec.kind.to_owned(),
                label,
                secret,
                main_field: spec.main.to_owned(),
                policy,
            },
            &ctx,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// One credential, without its secret.
#[utoipa::path(get, path = "/v1/provider-credentials/{credential_id}", tag = "provider-credentials", security(("bearer" = [])),
    params(("credential_id" = String, Path, description = "A `pcr_` id")), responses(
    (status = 200, description = "Success", body = ProviderCredentialView), (status = 404, description = "No such object in this organization", body = Problem)))]
pub async fn get_provider_credential(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(credential_id): Path<String>,
) -> Result<Json<ProviderCredentialView>, ApiError> {
    let id = path_id::<ProviderCredentialKind>(&credential_id)?;
    Ok(Json(
        state
            .store
            .scope(&actor)
            .get_provider_credential(&id)
            .await
            .map_err(not_found)?
            .into(),
    ))
}

/// Replaces the secret fields (all of them), and optionally the label and
/// policy. The old secret is overwritten.
#[utoipa::path(put, path = "/v1/provider-credentials/{credential_id}", tag = "provider-credentials", security(("bearer" = [])),
    params(("credential_id" = String, Path, description = "A `pcr_` id")), request_body = ReplaceProviderCredentialBody, responses(
    (status = 200, description = "Success", body = ProviderCredentialView), (status = 404, description = "No such object in this organization", body = Problem),
    (status = 422, description = "A field is missing or invalid", body = Problem)))]
pub async fn replace_provider_credential(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Path(credential_id): Path<String>,
    Body(input): Body<ReplaceProviderCredentialBody>,
) -> Result<Json<ProviderCredentialView>, ApiError> {
    let id = path_id::<ProviderCredentialKind>(&credential_id)?;
    let scope = state.store.scope(&actor);
    let current = scope
        .get_provider_credential(&id)
        .await
        .map_err(not_found)?;
    let spec = spec(&current.kind)?;
    let label = input
        .label
        .as_deref()
        .map(|l| clean_text("label", l, 100))
        .transpose()?;
    let policy = input.policy.map(DataPolicy::validate).transpose()?;
    let secret = secret_fields(spec, input.secret)?;
    Ok(Json(
        scope
            .replace_provider_credential(
                &id,
                ReplaceProviderCredential {
                    secret,
                    main_field: spec.main.to_owned(),
                    label,
                    policy,
                },
                &ctx,
            )
            .await
            .map_err(not_found)?
            .into(),
    ))
}

/// Deletes a credential and its sealed secret.
#[utoipa::path(delete, path = "/v1/provider-credentials/{credential_id}", tag = "provider-credentials", security(("bearer" = [])),
    params(("credential_id" = String, Path, description = "A `pcr_` id")), responses(
    (status = 204, description = "Deleted"), (status = 404, description = "No such object in this organization", body = Problem)))]
pub async fn delete_provider_credential(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Path(credential_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id::<ProviderCredentialKind>(&credential_id)?;
    state
        .store
        .scope(&actor)
        .delete_provider_credential(&id, &ctx)
        .await
        .map_err(not_found)?;
    Ok(StatusCode::NO_CONTENT)
}

fn not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found("provider credential"),
        other => other.into(),
    }
}
