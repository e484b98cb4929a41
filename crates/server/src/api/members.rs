//! Members of the organization: list, invite, change role, remove.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tollgate_core::id::MemberKind;
use tollgate_core::{Role, email};
use tollgate_store::{Member, MemberInvite};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Authenticated, Body, QueryParams, RequestCtx, path_id};
use super::{Page, clean_text, rfc3339};
use crate::app::AppState;
use crate::error::{ApiError, Problem};

#[derive(Serialize, ToSchema)]
pub struct MemberView {
    /// This organization's id for the person (`mem_`).
    pub id: String,
    pub email: String,
    pub name: String,
    #[schema(example = "admin")]
    pub role: String,
    /// `active`, or `invited` until the person first signs in.
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Member> for MemberView {
    fn from(m: Member) -> Self {
        MemberView {
            id: m.id.to_string(),
            email: m.email,
            name: m.name,
            role: m.role.to_string(),
            status: m.status,
            created_at: rfc3339(m.created_at),
            updated_at: rfc3339(m.updated_at),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1 to 500, default 100.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
}

impl ListQuery {
    pub fn limit(&self) -> Result<u32, ApiError> {
        super::page_limit(self.limit)
    }
}

/// Members of the organization, ordered by user id.
#[utoipa::path(get, path = "/v1/members", tag = "members", security(("bearer" = [])), params(ListQuery), responses(
    (status = 200, description = "Success", body = Page<MemberView>)))]
pub async fn list_members(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    QueryParams(q): QueryParams<ListQuery>,
) -> Result<Json<Page<MemberView>>, ApiError> {
    let limit = q.limit()?;
    let after = q.after.as_deref().map(path_id::<MemberKind>).transpose()?;
    let rows = state
        .store
        .scope(&actor)
        .list_members(after.as_ref(), limit + 1)
        .await?;
    let rows = rows.into_iter().map(MemberView::from).collect();
    Ok(Json(Page::from_rows(rows, limit, |m: &MemberView| {
        m.id.clone()
    })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteMember {
    pub email: String,
    /// Display name; defaults to the part of the address before `@`.
    pub name: Option<String>,
    #[schema(example = "member")]
    pub role: String,
}

fn parse_role(s: &str) -> Result<Role, ApiError> {
    s.parse()
        .map_err(|()| ApiError::invalid("`role` must be one of owner, admin, member, viewer."))
}

/// Invites a person (by email) into the organization with a role.
#[utoipa::path(post, path = "/v1/members", tag = "members", security(("bearer" = [])), request_body = InviteMember, responses(
    (status = 201, description = "Created", body = MemberView), (status = 409, description = "Conflicts with the current state", body = Problem), (status = 422, description = "A field is missing or invalid", body = Problem)))]
pub async fn invite_member(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Body(input): Body<InviteMember>,
) -> Result<(StatusCode, Json<MemberView>), ApiError> {
    let email =
        email::normalize(&input.email).map_err(|e| ApiError::invalid(format!("`email`: {e}.")))?;
    let default_name = email.split('@').next().unwrap_or("member").to_owned();
    let name = clean_text("name", input.name.as_deref().unwrap_or(&default_name), 100)?;
    let role = parse_role(&input.role)?;
    let member = state
        .store
        .scope(&actor)
        .invite_member(MemberInvite { email, name, role }, &ctx)
        .await?;
    Ok((StatusCode::CREATED, Json(member.into())))
}

/// One member.
#[utoipa::path(get, path = "/v1/members/{member_id}", tag = "members", security(("bearer" = [])),
    params(("member_id" = String, Path, description = "A `mem_` id")), responses(
    (status = 200, description = "Success", body = MemberView), (status = 404, description = "No such object in this organization", body = Problem)))]
pub async fn get_member(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(member_id): Path<String>,
) -> Result<Json<MemberView>, ApiError> {
    let id = path_id::<MemberKind>(&member_id)?;
    let member = state
        .store
        .scope(&actor)
        .get_member(&id)
        .await
        .map_err(not_found)?;
    Ok(Json(member.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeMember {
    pub role: String,
}

/// Changes a member's role. Takes effect on the member's (and their keys') next request.
#[utoipa::path(patch, path = "/v1/members/{member_id}", tag = "members", security(("bearer" = [])),
    params(("member_id" = String, Path, description = "A `mem_` id")), request_body = ChangeMember, responses(
    (status = 200, description = "Success", body = MemberView), (status = 403, description = "The key's scope or its member's role does not allow this", body = Problem), (status = 404, description = "No such object in this organization", body = Problem), (status = 409, description = "Conflicts with the current state", body = Problem)))]
pub async fn change_member(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Path(member_id): Path<String>,
    Body(input): Body<ChangeMember>,
) -> Result<Json<MemberView>, ApiError> {
    let id = path_id::<MemberKind>(&member_id)?;
    let role = parse_role(&input.role)?;
    let member = state
        .store
        .scope(&actor)
        .change_member_role(&id, role, &ctx)
        .await
        .map_err(not_found)?;
    Ok(Json(member.into()))
}

/// Removes a member; every API key they created is revoked with them.
#[utoipa::path(delete, path = "/v1/members/{member_id}", tag = "members", security(("bearer" = [])),
    params(("member_id" = String, Path, description = "A `mem_` id")), responses(
    (status = 204, description = "Done; no content"), (status = 403, description = "The key's scope or its member's role does not allow this", body = Problem), (status = 404, description = "No such object in this organization", body = Problem), (status = 409, description = "Conflicts with the current state", body = Problem)))]
pub async fn remove_member(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    RequestCtx(ctx): RequestCtx,
    Path(member_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id::<MemberKind>(&member_id)?;
    state
        .store
        .scope(&actor)
        .remove_member(&id, &ctx)
        .await
        .map_err(not_found)?;
    Ok(StatusCode::NO_CONTENT)
}

fn not_found(e: tollgate_store::StoreError) -> ApiError {
    match e {
        tollgate_store::StoreError::NotFound => ApiError::not_found("member"),
        other => other.into(),
    }
}
