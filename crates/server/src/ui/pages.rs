//! Dashboard pages. Each handler receives the [`Actor`] and [`Session`]
//! placed by the permission middleware and works only through the
//! org-bound store handle, like the API handlers.

use askama::Template;
use axum::Form;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tollgate_core::{ApiKeyId, MemberId, OrgId, Role, Scope, ScopeSet, SessionId};
use tollgate_store::{Actor, MemberInvite, NewApiKey, OrgPatch, Session, SessionStage, StoreError};
use zeroize::Zeroizing;

use super::auth::send_later;
use super::session::unavailable;
use super::{base_url, message, render, rfc3339_minutes, see_other, set_cookie, with_cookie};
use crate::api::extract::RequestCtx;
use crate::app::AppState;

/// What every dashboard page shows around its content.
pub struct Nav {
    pub org_id: String,
    pub org_name: String,
    /// (id, name) of every organization the person is active in.
    pub orgs: Vec<(String, String)>,
    pub email: String,
    pub role: String,
    pub is_admin: bool,
    pub current: &'static str,
    pub notice: Option<&'static str>,
    /// Banners every page shows while they hold.
    pub gate_paused: bool,
    pub dnc_acknowledged: bool,
    /// Open DNC incidents (issue 8): dialing that needs the source is paused.
    pub dnc_incidents_open: usize,
    /// Webhook endpoints Tollgate disabled (issue 10): 410 or 5 days failing.
    pub webhooks_disabled: i64,
}

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    done: Option<String>,
}

/// Notices are chosen from a fixed list: a query parameter never puts its
/// own text on the page.
fn notice(q: &NoticeQuery) -> Option<&'static str> {
    Some(match q.done.as_deref()? {
        "invited" => "Invitation sent.",
        "role" => "Role changed. It applies from the member's next request.",
        "removed" => {
            "Member removed. Their sessions ended and the API keys and OAuth clients they created are revoked."
        }
        "member-signed-out" => "The member's sessions in this organization have ended.",
        "session-ended" => "Session signed out.",
        "others-ended" => "All other sessions signed out.",
        "totp-removed" => "Two-factor authentication is off.",
        "key-revoked" => "API key revoked.",
        "saved" => "Settings saved.",
        "credential-saved" => "Credential saved. It cannot be shown again.",
        "credential-replaced" => "Secret replaced.",
        "credential-deleted" => "Credential deleted.",
        "switched" => "Organization switched.",
        "gate-paused" => "Dialing is paused for the whole organization.",
        "gate-resumed" => "Dialing is on again.",
        "suppressed" => "The number is suppressed: the next dial check already sees it.",
        "campaign-created" => {
            "Campaign created. It is active: dial checks for it apply its windows and caps."
        }
        "campaign-saved" => "Campaign saved. The next dial check uses it.",
        "campaign-paused" => "Campaign paused: every dial check for it is denied.",
        "campaign-resumed" => "Campaign resumed.",
        // Issue 10: signed webhooks.
        "webhook-test" => "Test event queued: it appears below once attempted.",
        "webhook-replayed" => "Replay queued: the messages are sent again with their ids.",
        "webhook-enabled" => "Endpoint enabled.",
        "webhook-disabled" => "Endpoint disabled: nothing is sent to it until enabled.",
        "webhook-deleted" => "Endpoint deleted.",
        "webhook-payload" => "Payload changed: messages queued from now on use it.",
        _ => return None,
    })
}

async fn nav(
    state: &AppState,
    actor: &Actor,
    session: &Session,
    current: &'static str,
    q: &NoticeQuery,
) -> Result<Nav, Response> {
    let store = &state.store;
    let orgs = store
        .orgs_of_user(&session.user_id)
        .await
        .map_err(|e| fail(&e))?;
    let email = store
        .user_email(&session.user_id)
        .await
        .map_err(|e| fail(&e))?;
    let here = orgs.iter().find(|o| &o.org_id == actor.org_id());
    let gate = store
        .scope(actor)
        .gate_settings()
        .await
        .map_err(|e| fail(&e))?;
    // Issue 10: endpoints the sender disabled stay visible until acted on.
    let webhooks_disabled = store
        .scope(actor)
        .webhook_endpoints_disabled_by_sender()
        .await
        .map_err(|e| fail(&e))?;
    // Issue 8: the DNC incident banner.
    let dnc_incidents_open = store
        .scope(actor)
        .dnc_incidents(0)
        .await
        .map_err(|e| fail(&e))?
        .len();
    Ok(Nav {
        dnc_incidents_open,
        webhooks_disabled,
        org_id: actor.org_id().to_string(),
        org_name: here.map(|o| o.org_name.clone()).unwrap_or_default(),
        orgs: orgs
            .iter()
            .filter(|o| o.active)
            .map(|o| (o.org_id.to_string(), o.org_name.clone()))
            .collect(),
        email,
        role: actor.role().as_str().to_owned(),
        is_admin: actor.role() >= Role::Admin,
        current,
        notice: notice(q),
        gate_paused: gate.paused,
        dnc_acknowledged: gate.dnc_provider_absence_acknowledged_at.is_some(),
    })
}

fn fail(e: &StoreError) -> Response {
    match e {
        StoreError::NotFound => message(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is nothing here, or it belongs to another organization.",
        ),
        StoreError::Refused(r) => message(StatusCode::FORBIDDEN, "Not allowed", &r.to_string()),
        StoreError::Conflict(c) => message(StatusCode::CONFLICT, "Conflict", &c.replace('_', " ")),
        StoreError::Invalid(m) => message(StatusCode::UNPROCESSABLE_ENTITY, "Invalid input", m),
        other => {
            tracing::error!(error = %other, "dashboard store error");
            unavailable()
        }
    }
}

macro_rules! page {
    ($state:expr, $actor:expr, $session:expr, $current:expr, $q:expr) => {
        match nav(&$state, &$actor, &$session, $current, &$q).await {
            Ok(n) => n,
            Err(res) => return res,
        }
    };
}

macro_rules! tryp {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return fail(&e),
        }
    };
}

mod audit_integrity;
mod campaigns;
mod lead_import;
pub use audit_integrity::{audit_checkpoints_file, audit_integrity};
pub use campaigns::{campaign, campaigns, create_campaign, set_campaign_pause, update_campaign};
pub use lead_import::{MAX_UPLOAD_BYTES, lead_import, upload_leads};

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    nav: Nav,
    members: usize,
    api_keys: usize,
    totp: bool,
}

pub async fn home(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let nav = page!(state, actor, session, "home", q);
    let scope = state.store.scope(&actor);
    let members = tryp!(scope.list_members(None, 500).await).len();
    let api_keys = tryp!(scope.list_api_keys(None, 500).await)
        .iter()
        .filter(|k| k.revoked_at.is_none())
        .count();
    let totp = tryp!(state.store.totp_factor(&session.user_id).await).is_some_and(|f| f.confirmed);
    render(
        StatusCode::OK,
        &HomePage {
            nav,
            members,
            api_keys,
            totp,
        },
    )
}

#[derive(Deserialize)]
pub struct SwitchForm {
    org_id: String,
}

pub async fn switch_org(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    RequestCtx(ctx): RequestCtx,
    Form(form): Form<SwitchForm>,
) -> Response {
    let Ok(target) = OrgId::parse(form.org_id.trim()) else {
        return fail(&StoreError::NotFound);
    };
    let orgs = tryp!(state.store.orgs_of_user(&session.user_id).await);
    let Some(org) = orgs.iter().find(|o| o.org_id == target && o.active) else {
        return fail(&StoreError::NotFound);
    };
    let _ = org;
    // A new organization is a privilege change: a fresh cookie.
    let token = tryp!(
        state
            .store
            .rotate_session(&session.id, SessionStage::Full, Some(&target), ctx.now)
            .await
    );
    let left = (session.expires_at.0 - ctx.now.0) / tollgate_core::UnixMicros::SECOND;
    with_cookie(
        see_other("/ui?done=switched"),
        set_cookie(&token.plaintext, left),
    )
}

pub struct MemberRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub status: String,
}

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    nav: Nav,
    members: Vec<MemberRow>,
    roles: Vec<String>,
}

const ROLES: [&str; 4] = ["owner", "admin", "member", "viewer"];

pub async fn members(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let nav = page!(state, actor, session, "members", q);
    let list = tryp!(state.store.scope(&actor).list_members(None, 500).await);
    let members = list
        .into_iter()
        .map(|m| MemberRow {
            id: m.id.to_string(),
            name: m.name,
            email: m.email,
            role: m.role.as_str().to_owned(),
            status: m.status,
        })
        .collect();
    render(
        StatusCode::OK,
        &MembersPage {
            nav,
            members,
            roles: ROLES.iter().map(|r| (*r).to_owned()).collect(),
        },
    )
}

#[derive(Deserialize)]
pub struct InviteForm {
    email: String,
    name: String,
    role: String,
}

pub async fn invite(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RequestCtx(ctx): RequestCtx,
    headers: axum::http::HeaderMap,
    Form(form): Form<InviteForm>,
) -> Response {
    let Ok(email) = tollgate_core::email::normalize(form.email.trim()) else {
        return message(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid email",
            "Enter an email address such as name@example.com.",
        );
    };
    let name = match crate::api::clean_text("name", &form.name, 100) {
        Ok(n) => n,
        Err(_) => {
            return message(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid name",
                "A name of 1 to 100 characters is needed.",
            );
        }
    };
    let Ok(role) = form.role.parse::<Role>() else {
        return message(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid role",
            "Pick a role from the list.",
        );
    };
    let scope = state.store.scope(&actor);
    let member = tryp!(
        scope
            .invite_member(MemberInvite { email, name, role }, &ctx)
            .await
    );
    let link = tryp!(
        state
            .store
            .issue_invitation_link(
                actor.org_id(),
                &member.id,
                ctx.now,
                state.config.auth.link_ttl_secs
            )
            .await
    );
    let org = tryp!(scope.get_org().await);
    let base = base_url(&state, &headers);
    let text = Zeroizing::new(format!(
        "You are invited to {} on Tollgate\n\n\
         You were invited to the organization \"{}\" as {}.\n\
         Open this link to accept and sign in. It works once, for {} minutes:\n\n{base}/auth/link/{}\n\n\
         Or enter this code on the sign-in page: {} {}\n\n\
         If you did not expect this, ignore this email.\n",
        org.name,
        org.name,
        role.as_str(),
        state.config.auth.link_ttl_secs / 60,
        link.token.plaintext.as_str(),
        &link.code[..4],
        &link.code[4..],
    ));
    send_later(
        &state,
        link.email.clone(),
        "Your invitation to Tollgate",
        text,
    );
    see_other("/ui/members?done=invited")
}

fn member_id(raw: &str) -> Option<MemberId> {
    MemberId::parse(raw).ok()
}

#[derive(Deserialize)]
pub struct RoleForm {
    role: String,
}

pub async fn change_role(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RequestCtx(ctx): RequestCtx,
    Path(id): Path<String>,
    Form(form): Form<RoleForm>,
) -> Response {
    let Some(id) = member_id(&id) else {
        return fail(&StoreError::NotFound);
    };
    let Ok(role) = form.role.parse::<Role>() else {
        return message(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid role",
            "Pick a role from the list.",
        );
    };
    tryp!(
        state
            .store
            .scope(&actor)
            .change_member_role(&id, role, &ctx)
            .await
    );
    see_other("/ui/members?done=role")
}

pub async fn remove_member(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RequestCtx(ctx): RequestCtx,
    Path(id): Path<String>,
) -> Response {
    let Some(id) = member_id(&id) else {
        return fail(&StoreError::NotFound);
    };
    tryp!(state.store.scope(&actor).remove_member(&id, &ctx).await);
    see_other("/ui/members?done=removed")
}

pub async fn end_member_sessions(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RequestCtx(ctx): RequestCtx,
    Path(id): Path<String>,
) -> Response {
    let Some(id) = member_id(&id) else {
        return fail(&StoreError::NotFound);
    };
    tryp!(
        state
            .store
            .scope(&actor)
            .end_member_sessions(&id, &ctx)
            .await
    );
    see_other("/ui/members?done=member-signed-out")
}

#[derive(Template)]
#[template(path = "roles.html")]
struct RolesPage {
    nav: Nav,
}

pub async fn roles(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let nav = page!(state, actor, session, "roles", q);
    render(StatusCode::OK, &RolesPage { nav })
}

pub struct SessionRow {
    pub id: String,
    pub device: String,
    pub ip: String,
    pub created: String,
    pub last_seen: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    nav: Nav,
    sessions: Vec<SessionRow>,
}

/// A short, readable device name from a user agent.
fn device(ua: Option<&str>) -> String {
    let Some(ua) = ua else {
        return "Unknown device".into();
    };
    let browser = ["Edg/", "Firefox/", "Chrome/", "Safari/", "curl/", "python"]
        .iter()
        .find(|b| ua.contains(*b))
        .map_or("Browser", |b| match *b {
            "Edg/" => "Edge",
            "Firefox/" => "Firefox",
            "Chrome/" => "Chrome",
            "Safari/" => "Safari",
            "curl/" => "curl",
            _ => "Script",
        });
    let os = ["Windows", "Mac OS X", "Android", "iPhone", "Linux"]
        .iter()
        .find(|o| ua.contains(*o))
        .map_or("", |o| match *o {
            "Mac OS X" => "macOS",
            "iPhone" => "iOS",
            other => other,
        });
    if os.is_empty() {
        browser.into()
    } else {
        format!("{browser} on {os}")
    }
}

pub async fn sessions(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let nav = page!(state, actor, session, "sessions", q);
    let list = tryp!(
        state
            .store
            .sessions_of_user(&session.user_id, state.now())
            .await
    );
    let sessions = list
        .into_iter()
        .map(|s| SessionRow {
            current: s.id == session.id,
            id: s.id.to_string(),
            device: device(s.user_agent.as_deref()),
            ip: s.ip.unwrap_or_default(),
            created: rfc3339_minutes(s.created_at),
            last_seen: rfc3339_minutes(s.last_seen_at),
        })
        .collect();
    render(StatusCode::OK, &SessionsPage { nav, sessions })
}

pub async fn end_session(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    RequestCtx(ctx): RequestCtx,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = SessionId::parse(&id) else {
        return fail(&StoreError::NotFound);
    };
    // Keyed by the signed-in person: another person's session id is "not found".
    if !tryp!(
        state
            .store
            .end_session(&session.user_id, &id, "revoked_by_user", &ctx)
            .await
    ) {
        return fail(&StoreError::NotFound);
    }
    see_other("/ui/sessions?done=session-ended")
}

pub async fn end_other_sessions(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    RequestCtx(ctx): RequestCtx,
) -> Response {
    tryp!(
        state
            .store
            .end_other_sessions(&session.user_id, Some(&session.id), "revoked_by_user", &ctx)
            .await
    );
    see_other("/ui/sessions?done=others-ended")
}

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    nav: Nav,
    enabled: bool,
    recovery_left: i64,
}

pub async fn security(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let nav = page!(state, actor, session, "security", q);
    let enabled =
        tryp!(state.store.totp_factor(&session.user_id).await).is_some_and(|f| f.confirmed);
    let recovery_left = tryp!(state.store.recovery_codes_left(&session.user_id).await);
    render(
        StatusCode::OK,
        &SecurityPage {
            nav,
            enabled,
            recovery_left,
        },
    )
}

pub async fn remove_totp(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    RequestCtx(ctx): RequestCtx,
) -> Response {
    let orgs = tryp!(state.store.orgs_of_user(&session.user_id).await);
    if orgs
        .iter()
        .any(|o| o.active && o.require_2fa_admins && o.role >= Role::Admin)
    {
        return message(
            StatusCode::CONFLICT,
            "Two-factor authentication is required",
            "An organization you administer requires owners and admins to use two-factor authentication, so it cannot be turned off.",
        );
    }
    let _ = actor;
    tryp!(state.store.remove_totp(&session.user_id, &ctx).await);
    see_other("/ui/security?done=totp-removed")
}

pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub scopes: String,
    pub created: String,
    pub last_used: String,
    pub status: String,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "api_keys.html")]
struct ApiKeysPage {
    nav: Nav,
    keys: Vec<KeyRow>,
    scopes: Vec<(&'static str, &'static str)>,
    created: Option<Zeroizing<String>>,
}

async fn api_keys_page(
    state: &AppState,
    actor: &Actor,
    session: &Session,
    q: &NoticeQuery,
    created: Option<Zeroizing<String>>,
) -> Response {
    let nav = page!(state, actor, session, "api-keys", q);
    let list = tryp!(state.store.scope(actor).list_api_keys(None, 500).await);
    let keys = list
        .into_iter()
        .map(|k| KeyRow {
            active: k.revoked_at.is_none(),
            status: match (&k.revoked_at, &k.revoked_reason) {
                (None, _) => "active".into(),
                (Some(_), Some(r)) => format!("revoked ({})", r.replace('_', " ")),
                (Some(_), None) => "revoked".into(),
            },
            id: k.id.to_string(),
            name: k.name,
            scopes: k.scopes.join(", "),
            created: rfc3339_minutes(k.created_at),
            last_used: k
                .last_used_at
                .map(rfc3339_minutes)
                .unwrap_or_else(|| "never".into()),
        })
        .collect();
    let mut res = render(
        StatusCode::OK,
        &ApiKeysPage {
            nav,
            keys,
            scopes: Scope::ALL
                .iter()
                .map(|s| (s.as_str(), s.description()))
                .collect(),
            created,
        },
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

pub async fn api_keys(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    api_keys_page(&state, &actor, &session, &q, None).await
}

pub async fn create_api_key(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    RequestCtx(ctx): RequestCtx,
    // As pairs: the form repeats `scope=` once per checked box.
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let mut name = String::new();
    let mut scopes = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "name" => name = v,
            "scope" => match v.parse::<Scope>() {
                Ok(s) => scopes.push(s),
                Err(()) => {
                    return message(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "Invalid scope",
                        "Pick scopes from the list.",
                    );
                }
            },
            _ => {}
        }
    }
    let Ok(name) = crate::api::clean_text("name", &name, 100) else {
        return message(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid name",
            "A key needs a name of 1 to 100 characters.",
        );
    };
    if scopes.is_empty() {
        return message(
            StatusCode::UNPROCESSABLE_ENTITY,
            "No scope",
            "Pick at least one scope: a key without scopes can do nothing.",
        );
    }
    let input = NewApiKey {
        name,
        scopes: ScopeSet::from_iter(scopes),
        expires_at: None,
    };
    let (_, token) = tryp!(state.store.scope(&actor).create_api_key(input, &ctx).await);
    api_keys_page(
        &state,
        &actor,
        &session,
        &NoticeQuery::default(),
        Some(token.plaintext),
    )
    .await
}

pub async fn revoke_api_key(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RequestCtx(ctx): RequestCtx,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = ApiKeyId::parse(&id) else {
        return fail(&StoreError::NotFound);
    };
    tryp!(state.store.scope(&actor).revoke_api_key(&id, &ctx).await);
    see_other("/ui/api-keys?done=key-revoked")
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    nav: Nav,
    name: String,
    contact_email: String,
    retention: i32,
    hipaa: bool,
    require_2fa: bool,
    error: Option<String>,
}

pub async fn settings(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let nav = page!(state, actor, session, "settings", q);
    let org = tryp!(state.store.scope(&actor).get_org().await);
    render(
        StatusCode::OK,
        &SettingsPage {
            nav,
            name: org.name,
            contact_email: org.contact_email.unwrap_or_default(),
            retention: org.audit_retention_days,
            hipaa: org.hipaa,
            require_2fa: org.require_2fa_admins,
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct SettingsForm {
    name: String,
    #[serde(default)]
    contact_email: String,
    audit_retention_days: String,
    hipaa: Option<String>,
    require_2fa_admins: Option<String>,
}

pub async fn save_settings(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    RequestCtx(ctx): RequestCtx,
    Form(form): Form<SettingsForm>,
) -> Response {
    let Ok(name) = crate::api::clean_text("name", &form.name, 100) else {
        return settings_error(
            &state,
            &actor,
            &session,
            &form,
            "The name must be 1 to 100 characters.",
        )
        .await;
    };
    let contact = match form.contact_email.trim() {
        "" => None,
        e => match tollgate_core::email::normalize(e) {
            Ok(e) => Some(e),
            Err(_) => {
                return settings_error(
                    &state,
                    &actor,
                    &session,
                    &form,
                    "The contact email is not an email address.",
                )
                .await;
            }
        },
    };
    let Ok(days) = form.audit_retention_days.trim().parse::<i32>() else {
        return settings_error(
            &state,
            &actor,
            &session,
            &form,
            "Retention must be a number of days.",
        )
        .await;
    };
    if !(tollgate_store::MIN_RETENTION_DAYS..=36_500).contains(&days) {
        return settings_error(
            &state,
            &actor,
            &session,
            &form,
            "Retention must be between 90 and 36500 days.",
        )
        .await;
    }
    let patch = OrgPatch {
        name: Some(name),
        contact_email: Some(contact),
        audit_retention_days: Some(days),
        hipaa: Some(form.hipaa.is_some()),
        require_2fa_admins: Some(form.require_2fa_admins.is_some()),
    };
    tryp!(state.store.scope(&actor).update_org(patch, &ctx).await);
    see_other("/ui/settings?done=saved")
}

async fn settings_error(
    state: &AppState,
    actor: &Actor,
    session: &Session,
    form: &SettingsForm,
    msg: &str,
) -> Response {
    let nav = page!(state, actor, session, "settings", NoticeQuery::default());
    render(
        StatusCode::UNPROCESSABLE_ENTITY,
        &SettingsPage {
            nav,
            name: form.name.chars().take(100).collect(),
            contact_email: form.contact_email.chars().take(254).collect(),
            retention: form.audit_retention_days.trim().parse().unwrap_or(90),
            hipaa: form.hipaa.is_some(),
            require_2fa: form.require_2fa_admins.is_some(),
            error: Some(msg.into()),
        },
    )
}

pub struct ReviewRow {
    pub name: String,
    pub email: String,
    pub role: String,
    pub status: String,
    pub totp: bool,
    pub last_seen: String,
    pub sessions: i64,
}

#[derive(Template)]
#[template(path = "access_review.html")]
struct AccessReviewPage {
    nav: Nav,
    rows: Vec<ReviewRow>,
}

async fn review_rows(state: &AppState, actor: &Actor) -> Result<Vec<ReviewRow>, StoreError> {
    Ok(state
        .store
        .scope(actor)
        .access_review(state.now())
        .await?
        .into_iter()
        .map(|r| ReviewRow {
            name: r.member.name,
            email: r.member.email,
            role: r.member.role.as_str().to_owned(),
            status: r.member.status,
            totp: r.totp_enabled,
            last_seen: r
                .last_seen_at
                .map(rfc3339_minutes)
                .unwrap_or_else(|| "never".into()),
            sessions: r.live_sessions,
        })
        .collect())
}

pub async fn access_review(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let nav = page!(state, actor, session, "access-review", q);
    let rows = tryp!(review_rows(&state, &actor).await);
    render(StatusCode::OK, &AccessReviewPage { nav, rows })
}

/// RFC 4180 field quoting, with a leading quote against spreadsheet
/// formula injection (a name such as `=HYPERLINK(...)`).
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub async fn access_review_csv(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> Response {
    let rows = tryp!(review_rows(&state, &actor).await);
    let mut out = String::from("name,email,role,status,two_factor,last_active,live_sessions\r\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{}\r\n",
            csv_field(&r.name),
            csv_field(&r.email),
            csv_field(&r.role),
            csv_field(&r.status),
            if r.totp { "on" } else { "off" },
            csv_field(&r.last_seen),
            r.sessions
        ));
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"access-review.csv\"",
            ),
        ],
        out,
    )
        .into_response()
}

pub struct EventRow {
    /// The decision an event is about, for its "why?" link.
    pub why: Option<String>,
    pub when: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub details: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Nav,
    events: Vec<EventRow>,
    all: bool,
    action: String,
    actor: String,
    outcome: String,
}

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    all: Option<String>,
    action: Option<String>,
    actor: Option<String>,
    outcome: Option<String>,
}

/// A search term from the query string: trimmed, bounded, empty is none.
fn term(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| t.chars().take(100).collect())
}

pub async fn audit(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    Query(q): Query<NoticeQuery>,
    Query(view): Query<AuditQuery>,
) -> Response {
    let nav = page!(state, actor, session, "audit", q);
    let action = term(&view.action);
    // Asking for API calls by name shows them even without "all".
    let all = view.all.is_some() || action.as_deref() == Some("api.call");
    let filter = tollgate_store::AuditFilter {
        without_api_calls: !all,
        action: action.clone(),
        actor_id: term(&view.actor),
        outcome: term(&view.outcome),
        ..Default::default()
    };
    let page = tryp!(
        state
            .store
            .scope(&actor)
            .audit_events(None, 100, &filter)
            .await
    );
    let events = page
        .data
        .into_iter()
        .map(|e| {
            let e = e.event;
            EventRow {
                why: e
                    .target
                    .as_ref()
                    .filter(|t| e.action == "gate.decision" && t.kind == "dial_check")
                    .map(|t| t.id.clone()),
                when: rfc3339_minutes(e.occurred_at),
                actor: format!("{} {}", e.actor.kind, e.actor.id.unwrap_or_default()),
                action: e.action,
                target: e
                    .target
                    .map(|t| format!("{} {}", t.kind, t.id))
                    .unwrap_or_default(),
                outcome: e.outcome,
                details: e.details.to_string().chars().take(300).collect(),
            }
        })
        .collect();
    render(
        StatusCode::OK,
        &AuditPage {
            nav,
            events,
            all,
            action: action.unwrap_or_default(),
            actor: term(&view.actor).unwrap_or_default(),
            outcome: term(&view.outcome).unwrap_or_default(),
        },
    )
}

pub struct CredentialRow {
    pub id: String,
    pub kind: String,
    pub label: String,
    pub last_four: String,
    pub policy: String,
    pub updated: String,
    pub fields: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "provider_credentials.html")]
struct CredentialsPage {
    nav: Nav,
    creds: Vec<CredentialRow>,
    kinds: Vec<(&'static str, String)>,
    fields: Vec<&'static str>,
    error: Option<String>,
}

/// Every secret field name any provider kind takes, once each.
fn all_secret_fields() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in crate::api::provider_credentials::KINDS {
        for f in k.required.iter().chain(k.optional) {
            if !out.contains(f) {
                out.push(f);
            }
        }
    }
    out
}

fn policy_summary(p: &serde_json::Value) -> String {
    let trains = if p["vendor_trains_on_data"] == serde_json::Value::Bool(true) {
        "vendor trains on data"
    } else {
        "no training on data"
    };
    let retention = match p["retention"].as_str() {
        Some("limited") => format!("kept {} days", p["retention_days"]),
        Some("zero") => "zero retention".into(),
        _ => "vendor's default retention".into(),
    };
    format!("{trains}; {retention}")
}

async fn credentials_page(
    state: &AppState,
    actor: &Actor,
    session: &Session,
    q: &NoticeQuery,
    error: Option<String>,
) -> Response {
    use crate::api::provider_credentials::{KINDS, spec};
    let nav = page!(state, actor, session, "credentials", q);
    let list = tryp!(
        state
            .store
            .scope(actor)
            .list_provider_credentials(None, 500)
            .await
    );
    let creds = list
        .into_iter()
        .map(|c| CredentialRow {
            id: c.id.to_string(),
            fields: spec(&c.kind)
                .map(|s| s.required.iter().chain(s.optional).copied().collect())
                .unwrap_or_default(),
            kind: c.kind,
            label: c.label,
            last_four: c.last_four,
            policy: policy_summary(&c.policy),
            updated: rfc3339_minutes(c.updated_at),
        })
        .collect();
    let kinds = KINDS
        .iter()
        .map(|k| {
            let fields: Vec<&str> = k.required.iter().chain(k.optional).copied().collect();
            (k.kind, fields.join(", "))
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &CredentialsPage {
            nav,
            creds,
            kinds,
            fields: all_secret_fields(),
            error,
        },
    )
}

pub async fn provider_credentials(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    credentials_page(&state, &actor, &session, &q, None).await
}

/// The secret fields a form carries (`secret_<name>`, non-empty only), as
/// the JSON object the API validation takes. Values stay out of errors.
fn form_secret(pairs: &[(String, String)]) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (k, v) in pairs {
        if let Some(name) = k.strip_prefix("secret_")
            && !v.is_empty()
        {
            map.insert(name.to_owned(), serde_json::Value::String(v.clone()));
        }
    }
    serde_json::Value::Object(map)
}

/// Form values may hold a secret: overwritten before they are freed.
fn wipe(mut pairs: Vec<(String, String)>) {
    use zeroize::Zeroize;
    for (_, v) in &mut pairs {
        v.zeroize();
    }
}

fn form_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

pub async fn create_provider_credential(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    RequestCtx(ctx): RequestCtx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    use crate::api::provider_credentials::{DataPolicy, Retention, secret_fields, spec};
    let result = (|| {
        let spec = spec(form_value(&pairs, "kind").unwrap_or_default())?;
        let label = crate::api::clean_text(
            "label",
            form_value(&pairs, "label").unwrap_or_default(),
            100,
        )?;
        let retention = match form_value(&pairs, "retention") {
            Some("zero") => Retention::Zero,
            Some("limited") => Retention::Limited,
            _ => Retention::VendorDefault,
        };
        let days = form_value(&pairs, "retention_days")
            .filter(|d| !d.is_empty())
            .map(|d| d.parse::<u32>())
            .transpose()
            .map_err(|_| crate::error::ApiError::invalid("Retention days must be a number."))?;
        let policy = DataPolicy {
            vendor_trains_on_data: form_value(&pairs, "vendor_trains_on_data").is_some(),
            retention,
            retention_days: days,
        }
        .validate()?;
        let secret = secret_fields(spec, form_secret(&pairs))?;
        Ok::<_, crate::error::ApiError>(tollgate_store::NewProviderCredential {
            kind: spec.kind.to_owned(),
            label,
            secret,
            main_field: spec.main.to_owned(),
            policy,
        })
    })();
    wipe(pairs);
    let input = match result {
        Ok(i) => i,
        Err(e) => {
            let msg = e.detail.unwrap_or_else(|| "The form is invalid.".into());
            return credentials_page(&state, &actor, &session, &NoticeQuery::default(), Some(msg))
                .await;
        }
    };
    tryp!(
        state
            .store
            .scope(&actor)
            .create_provider_credential(input, &ctx)
            .await
    );
    see_other("/ui/provider-credentials?done=credential-saved")
}

pub async fn replace_provider_credential(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    RequestCtx(ctx): RequestCtx,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    use crate::api::provider_credentials::{secret_fields, spec};
    let Ok(id) = tollgate_core::id::Id::<tollgate_core::id::ProviderCredentialKind>::parse(&id)
    else {
        return fail(&StoreError::NotFound);
    };
    let scope = state.store.scope(&actor);
    let current = tryp!(scope.get_provider_credential(&id).await);
    let secret = match spec(&current.kind)
        .and_then(|s| secret_fields(s, form_secret(&pairs)).map(|f| (s, f)))
    {
        Ok(v) => v,
        Err(e) => {
            wipe(pairs);
            let msg = e.detail.unwrap_or_else(|| "The form is invalid.".into());
            return credentials_page(&state, &actor, &session, &NoticeQuery::default(), Some(msg))
                .await;
        }
    };
    wipe(pairs);
    tryp!(
        scope
            .replace_provider_credential(
                &id,
                tollgate_store::ReplaceProviderCredential {
                    main_field: secret.0.main.to_owned(),
                    secret: secret.1,
                    label: None,
                    policy: None,
                },
                &ctx,
            )
            .await
    );
    see_other("/ui/provider-credentials?done=credential-replaced")
}

pub async fn delete_provider_credential(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RequestCtx(ctx): RequestCtx,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = tollgate_core::id::Id::<tollgate_core::id::ProviderCredentialKind>::parse(&id)
    else {
        return fail(&StoreError::NotFound);
    };
    tryp!(
        state
            .store
            .scope(&actor)
            .delete_provider_credential(&id, &ctx)
            .await
    );
    see_other("/ui/provider-credentials?done=credential-deleted")
}

fn dnc_state(g: &tollgate_store::GateSettings) -> String {
    match (
        &g.dnc_provider_absence_acknowledged_at,
        &g.dnc_provider_absence_acknowledged_by,
    ) {
        (Some(at), by) => format!(
            "none; running without one was acknowledged on {} by {}",
            rfc3339_minutes(*at),
            by.as_deref().unwrap_or("an admin")
        ),
        (None, _) => {
            "none configured and not acknowledged: every dial check is denied (dnc_registry_stale)"
                .into()
        }
    }
}

pub struct ReasonRow {
    pub code: String,
    pub detail: String,
    pub rule: String,
    pub citation: String,
}

pub struct DecisionView {
    pub id: String,
    pub allowed: bool,
    pub reasons: Vec<ReasonRow>,
    pub at: String,
    pub decided_at: String,
    pub campaign_id: String,
    pub campaign: String,
    pub lead_id: String,
    pub number: String,
    pub channel: String,
    pub zones: String,
    pub states: String,
    pub rules_version: String,
    pub rules_applied: String,
    pub lists: String,
    pub next_allowed: String,
    pub dnc: String,
}

#[derive(Template)]
#[template(path = "decision.html")]
struct DecisionPage {
    nav: Nav,
    d: DecisionView,
}

fn or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The "why?" view of one decision of the dial gate: every reason with its
/// rule and citation, what was considered, the versions that decided.
pub async fn decision(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    Query(q): Query<NoticeQuery>,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = tollgate_core::id::Id::<tollgate_core::id::DialCheckKind>::parse(&id) else {
        return fail(&StoreError::NotFound);
    };
    let nav = page!(state, actor, session, "audit", q);
    let scope = state.store.scope(&actor);
    let d = tryp!(scope.get_dial_check(&id).await);
    let campaign = match tollgate_core::id::CampaignId::parse(&d.campaign_id) {
        Ok(cid) => match scope.get_campaign(&cid).await {
            Ok(c) => format!(
                "{} ({}, {}, {} voice){}",
                c.spec.name,
                c.spec.purpose.as_str(),
                c.spec.channel.as_str(),
                c.spec.voice.as_str(),
                if c.paused { ", paused now" } else { "" }
            ),
            Err(_) => "not found (removed, or an unknown id was given)".into(),
        },
        Err(_) => "not a campaign id".into(),
    };
    let gate = tryp!(scope.gate_settings().await);
    let view = DecisionView {
        id: d.id.clone().unwrap_or_default(),
        allowed: d.allowed,
        reasons: d
            .reasons
            .iter()
            .map(|r| ReasonRow {
                code: r.code.clone(),
                detail: r.detail.clone(),
                rule: r.rule_id.clone().unwrap_or_default(),
                citation: r.citation.clone().unwrap_or_default(),
            })
            .collect(),
        at: d.at.clone(),
        decided_at: d.decided_at.clone(),
        campaign_id: d.campaign_id.clone(),
        campaign,
        lead_id: d.lead_id.clone().unwrap_or_default(),
        number: d.number.clone().unwrap_or_default(),
        channel: d.channel.clone(),
        zones: or_none(&d.candidate_zones),
        states: or_none(&d.candidate_states),
        rules_version: d.rules_version.clone(),
        rules_applied: or_none(&d.rules_applied),
        lists: if d.list_versions.is_empty() {
            "none".into()
        } else {
            d.list_versions
                .iter()
                .map(|l| format!("{} {}", l.list, l.version))
                .collect::<Vec<_>>()
                .join(", ")
        },
        next_allowed: d.next_allowed.clone().unwrap_or_default(),
        dnc: dnc_state(&gate),
    };
    render(StatusCode::OK, &DecisionPage { nav, d: view })
}

pub struct LeadRow {
    pub id: String,
    pub name: String,
    pub phone: String,
    pub place: String,
    pub consent: String,
    pub eligible: bool,
    pub reasons: String,
}

#[derive(Template)]
#[template(path = "leads.html")]
struct LeadsPage {
    nav: Nav,
    leads: Vec<LeadRow>,
}

pub async fn leads(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let nav = page!(state, actor, session, "leads", q);
    let list = tryp!(state.store.scope(&actor).list_leads(None, 200).await);
    let leads = list
        .into_iter()
        .map(|l| LeadRow {
            id: l.id.to_string(),
            name: l.name.unwrap_or_default(),
            phone: l.phone.as_str().to_owned(),
            place: [l.state.unwrap_or_default(), l.zip.unwrap_or_default()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
            consent: l
                .consent
                .kind
                .map_or_else(|| "none".to_owned(), |k| k.as_str().replace('_', " ")),
            eligible: l.eligible,
            reasons: l.ineligible_reasons.join(", ").replace('_', " "),
        })
        .collect();
    render(StatusCode::OK, &LeadsPage { nav, leads })
}

#[derive(Deserialize)]
pub struct PauseForm {
    paused: String,
    #[serde(default)]
    reason: String,
}

/// The organization-wide pause switch (owners and admins; audited by the store).
pub async fn set_gate_pause(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RequestCtx(ctx): RequestCtx,
    Form(form): Form<PauseForm>,
) -> Response {
    let pause = form.paused == "on";
    let reason = if pause {
        match crate::api::clean_text("reason", &form.reason, 200) {
            Ok(r) => Some(r),
            Err(_) => {
                return message(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "A reason is needed",
                    "Say why dialing is paused (1 to 200 characters): it goes into the audit log.",
                );
            }
        }
    } else {
        None
    };
    let patch = tollgate_store::GateSettingsPatch {
        paused: Some(pause),
        paused_reason: Some(reason),
        ..Default::default()
    };
    tryp!(
        state
            .store
            .scope(&actor)
            .update_gate_settings(patch, &ctx)
            .await
    );
    see_other(if pause {
        "/ui/campaigns?done=gate-paused"
    } else {
        "/ui/campaigns?done=gate-resumed"
    })
}

pub struct SuppressionRow {
    pub id: String,
    pub list: String,
    pub source: String,
    pub reason: String,
    pub added: String,
    pub state: String,
}

#[derive(Template)]
#[template(path = "suppressions.html")]
struct SuppressionsPage {
    nav: Nav,
    entries: Vec<SuppressionRow>,
    query: String,
    can_add: bool,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct SuppressionQuery {
    number: Option<String>,
}

async fn suppressions_page(
    state: &AppState,
    actor: &Actor,
    session: &Session,
    q: &NoticeQuery,
    query: &str,
    error: Option<String>,
) -> Response {
    let nav = page!(state, actor, session, "suppressions", q);
    let query: String = query.trim().chars().take(32).collect();
    let (number, error) = match (query.is_empty(), error) {
        (_, Some(e)) => (None, Some(e)),
        (true, None) => (None, None),
        (false, None) => match crate::api::suppressions::number("number", &query) {
            Ok(n) => (Some(n), None),
            Err(e) => (None, e.detail),
        },
    };
    let list = if !query.is_empty() && number.is_none() {
        Vec::new()
    } else {
        tryp!(
            state
                .store
                .scope(actor)
                .list_suppressions(number.as_ref(), None, 500)
                .await
        )
    };
    let entries = list
        .into_iter()
        .rev()
        .map(|e| SuppressionRow {
            id: e.id.to_string(),
            list: e.list.replace('_', " "),
            source: e.source.replace('_', " "),
            reason: e.reason.unwrap_or_default(),
            added: rfc3339_minutes(e.created_at),
            state: match e.removed_at {
                Some(at) => format!(
                    "removed {} ({})",
                    rfc3339_minutes(at),
                    e.removed_reason.unwrap_or_default()
                ),
                None => "active".into(),
            },
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &SuppressionsPage {
            nav,
            entries,
            query,
            can_add: actor.role() >= Role::Member,
            error,
        },
    )
}

pub async fn suppressions(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    Query(q): Query<NoticeQuery>,
    Query(find): Query<SuppressionQuery>,
) -> Response {
    let query = find.number.unwrap_or_default();
    suppressions_page(&state, &actor, &session, &q, &query, None).await
}

#[derive(Deserialize)]
pub struct SuppressForm {
    number: String,
    list: String,
    #[serde(default)]
    reason: String,
}

/// Adds a number from the dashboard (members and up), committed before the
/// answer so the next dial check already sees it.
pub async fn add_suppression(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    RequestCtx(ctx): RequestCtx,
    Form(form): Form<SuppressForm>,
) -> Response {
    use tollgate_store::{NewSuppression, SuppressionList, SuppressionSource};
    let number = match crate::api::suppressions::number("number", &form.number) {
        Ok(n) => n,
        Err(e) => {
            let msg = e.detail.unwrap_or_else(|| "Not a valid number.".into());
            return suppressions_page(
                &state,
                &actor,
                &session,
                &NoticeQuery::default(),
                "",
                Some(msg),
            )
            .await;
        }
    };
    let Some(list) = SuppressionList::parse(&form.list) else {
        return message(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid list",
            "Pick a list from the menu.",
        );
    };
    let reason = match form.reason.trim() {
        "" => None,
        r => match crate::api::clean_text("reason", r, 500) {
            Ok(r) => Some(r),
            Err(_) => {
                return message(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid reason",
                    "The reason may be at most 500 characters, without control characters.",
                );
            }
        },
    };
    tryp!(
        state
            .store
            .scope(&actor)
            .add_suppression(
                NewSuppression {
                    number,
                    list,
                    source: SuppressionSource::Dashboard,
                    reason,
                },
                &ctx,
            )
            .await
    );
    see_other("/ui/suppressions?done=suppressed")
}

// ---------------------------------------------------------------------------
// Issue 10: signed webhooks. The endpoint list with a create form (the secret
// is shown once, on the page that answers the form), one endpoint's
// attempts, a test-event button, replay, rotation, enable/disable, delete.

pub struct WebhookRow {
    pub id: String,
    pub url: String,
    pub description: String,
    pub event_types: String,
    pub enabled: bool,
    pub disabled_reason: String,
    pub rich: bool,
}

impl From<tollgate_store::WebhookEndpoint> for WebhookRow {
    fn from(e: tollgate_store::WebhookEndpoint) -> Self {
        WebhookRow {
            id: e.id.to_string(),
            url: e.url,
            description: e.description,
            event_types: e.event_types.join(", "),
            enabled: e.enabled,
            disabled_reason: match e.disabled_reason.as_deref() {
                Some("gone") => "disabled by Tollgate: the receiver answered 410 Gone".into(),
                Some("failing") => "disabled by Tollgate: every delivery failed for 5 days".into(),
                _ => String::new(),
            },
            rich: e.payload == "rich",
        }
    }
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    nav: Nav,
    endpoints: Vec<WebhookRow>,
    event_types: Vec<(&'static str, &'static str)>,
    /// A secret just created or rotated, shown this once.
    secret: Option<(String, String)>,
    error: Option<String>,
}

async fn webhooks_page(
    state: &AppState,
    actor: &Actor,
    session: &Session,
    q: &NoticeQuery,
    secret: Option<(String, String)>,
    error: Option<String>,
) -> Response {
    let nav = page!(state, actor, session, "webhooks", q);
    let list = tryp!(
        state
            .store
            .scope(actor)
            .list_webhook_endpoints(None, 500)
            .await
    );
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &WebhooksPage {
            nav,
            endpoints: list.into_iter().map(WebhookRow::from).collect(),
            event_types: tollgate_core::webhook_policy::EVENT_TYPES.to_vec(),
            secret,
            error,
        },
    )
}

pub async fn webhooks(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    webhooks_page(&state, &actor, &session, &q, None, None).await
}

pub async fn create_webhook(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    RequestCtx(ctx): RequestCtx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    use crate::api::webhooks::{check_description, check_event_types, check_url};
    let types: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "event_type")
        .map(|(_, v)| v.clone())
        .collect();
    let input = async {
        Ok::<_, crate::error::ApiError>(tollgate_store::NewWebhookEndpoint {
            url: check_url(&state, form_value(&pairs, "url").unwrap_or_default()).await?,
            description: check_description(form_value(&pairs, "description").unwrap_or_default())?,
            event_types: check_event_types(&types)?,
            enabled: true,
            headers: Default::default(),
            payload: if form_value(&pairs, "payload") == Some("rich") {
                "rich".into()
            } else {
                "thin".into()
            },
        })
    }
    .await;
    let input = match input {
        Ok(i) => i,
        Err(e) => {
            let msg = e.detail.unwrap_or_else(|| "The form is invalid.".into());
            return webhooks_page(
                &state,
                &actor,
                &session,
                &NoticeQuery::default(),
                None,
                Some(msg),
            )
            .await;
        }
    };
    let (endpoint, secret) = tryp!(
        state
            .store
            .scope(&actor)
            .create_webhook_endpoint(input, &ctx)
            .await
    );
    let shown = (
        endpoint.id.to_string(),
        secret.to_text().as_str().to_owned(),
    );
    webhooks_page(
        &state,
        &actor,
        &session,
        &NoticeQuery::default(),
        Some(shown),
        None,
    )
    .await
}

pub struct AttemptRow {
    pub when: String,
    pub message_id: String,
    pub event_type: String,
    pub outcome: String,
    pub latency_ms: i64,
    pub excerpt: String,
    pub state: String,
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct WebhookPage {
    nav: Nav,
    endpoint: WebhookRow,
    attempts: Vec<AttemptRow>,
    secret: Option<String>,
}

async fn webhook_page(
    state: &AppState,
    actor: &Actor,
    session: &Session,
    raw_id: &str,
    q: &NoticeQuery,
    secret: Option<String>,
) -> Response {
    let nav = page!(state, actor, session, "webhooks", q);
    let Ok(id) = crate::api::webhooks::endpoint_id(raw_id) else {
        return fail(&StoreError::NotFound);
    };
    let scope = state.store.scope(actor);
    let endpoint = tryp!(scope.get_webhook_endpoint(&id).await);
    let attempts = tryp!(scope.list_webhook_attempts(&id, None, 100).await);
    render(
        StatusCode::OK,
        &WebhookPage {
            nav,
            endpoint: endpoint.into(),
            attempts: attempts
                .into_iter()
                .map(|a| AttemptRow {
                    when: rfc3339_minutes(a.started_at),
                    message_id: a.message_id,
                    event_type: a.event_type,
                    outcome: match (a.status, a.error) {
                        (Some(s), _) => format!("HTTP {s}"),
                        (None, Some(e)) => e,
                        (None, None) => "no response".into(),
                    },
                    latency_ms: a.latency_ms,
                    excerpt: a.response_excerpt.chars().take(200).collect(),
                    state: a.delivery_state,
                })
                .collect(),
            secret,
        },
    )
}

pub async fn webhook(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    webhook_page(&state, &actor, &session, &id, &q, None).await
}

fn webhook_id(raw: &str) -> Option<tollgate_core::id::WebhookEndpointId> {
    crate::api::webhooks::endpoint_id(raw).ok()
}

pub async fn webhook_test(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RequestCtx(ctx): RequestCtx,
    Path(raw): Path<String>,
) -> Response {
    let Some(id) = webhook_id(&raw) else {
        return fail(&StoreError::NotFound);
    };
    tryp!(state.store.scope(&actor).send_webhook_test(&id, &ctx).await);
    see_other(&format!("/ui/webhooks/{id}?done=webhook-test"))
}

pub async fn webhook_rotate(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    RequestCtx(ctx): RequestCtx,
    Path(raw): Path<String>,
) -> Response {
    let Some(id) = webhook_id(&raw) else {
        return fail(&StoreError::NotFound);
    };
    let grace = state.config.webhooks.rotation_grace_secs;
    let secret = tryp!(
        state
            .store
            .scope(&actor)
            .rotate_webhook_secret(&id, grace, &ctx)
            .await
    );
    let shown = secret.to_text().as_str().to_owned();
    webhook_page(
        &state,
        &actor,
        &session,
        &raw,
        &NoticeQuery::default(),
        Some(shown),
    )
    .await
}

#[derive(Deserialize)]
pub struct WebhookEnabledForm {
    enabled: String,
}

pub async fn webhook_enabled(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RequestCtx(ctx): RequestCtx,
    Path(raw): Path<String>,
    Form(form): Form<WebhookEnabledForm>,
) -> Response {
    let Some(id) = webhook_id(&raw) else {
        return fail(&StoreError::NotFound);
    };
    let on = form.enabled == "on";
    let patch = tollgate_store::WebhookEndpointPatch {
        enabled: Some(on),
        ..Default::default()
    };
    tryp!(
        state
            .store
            .scope(&actor)
            .update_webhook_endpoint(&id, patch, &ctx)
            .await
    );
    see_other(&format!(
        "/ui/webhooks/{id}?done={}",
        if on {
            "webhook-enabled"
        } else {
            "webhook-disabled"
        }
    ))
}

#[derive(Deserialize)]
pub struct WebhookPayloadForm {
    payload: String,
}

pub async fn webhook_payload(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RequestCtx(ctx): RequestCtx,
    Path(raw): Path<String>,
    Form(form): Form<WebhookPayloadForm>,
) -> Response {
    let Some(id) = webhook_id(&raw) else {
        return fail(&StoreError::NotFound);
    };
    if !tollgate_store::WEBHOOK_PAYLOADS.contains(&form.payload.as_str()) {
        return message(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid input",
            "The payload is thin or rich.",
        );
    }
    let patch = tollgate_store::WebhookEndpointPatch {
        payload: Some(form.payload),
        ..Default::default()
    };
    tryp!(
        state
            .store
            .scope(&actor)
            .update_webhook_endpoint(&id, patch, &ctx)
            .await
    );
    see_other(&format!("/ui/webhooks/{id}?done=webhook-payload"))
}

pub async fn webhook_delete(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RequestCtx(ctx): RequestCtx,
    Path(raw): Path<String>,
) -> Response {
    let Some(id) = webhook_id(&raw) else {
        return fail(&StoreError::NotFound);
    };
    tryp!(
        state
            .store
            .scope(&actor)
            .delete_webhook_endpoint(&id, &ctx)
            .await
    );
    see_other("/ui/webhooks?done=webhook-deleted")
}

#[derive(Deserialize)]
pub struct WebhookReplayForm {
    #[serde(default)]
    message_id: String,
    #[serde(default)]
    hours: String,
}

/// Replays one message (by id) or the last N hours of messages.
pub async fn webhook_replay(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    RequestCtx(ctx): RequestCtx,
    Path(raw): Path<String>,
    Form(form): Form<WebhookReplayForm>,
) -> Response {
    use tollgate_core::id::WebhookMessageId;
    let Some(id) = webhook_id(&raw) else {
        return fail(&StoreError::NotFound);
    };
    let message = form.message_id.trim();
    let (msg, from) = if !message.is_empty() {
        match WebhookMessageId::parse(message) {
            Ok(m) => (Some(m), tollgate_core::UnixMicros(0)),
            Err(_) => {
                return message_page_invalid("The message id is not a `msg_` id.");
            }
        }
    } else {
        match form.hours.trim().parse::<i64>() {
            Ok(h @ 1..=720) => (None, ctx.now.plus_secs(-h * 3600)),
            _ => return message_page_invalid("Give a message id, or 1 to 720 hours."),
        }
    };
    tryp!(
        state
            .store
            .scope(&actor)
            .replay_webhook_messages(
                &id,
                msg.as_ref(),
                from,
                ctx.now.plus_secs(1),
                crate::api::webhooks::MAX_REPLAY,
                &ctx
            )
            .await
    );
    see_other(&format!("/ui/webhooks/{id}?done=webhook-replayed"))
}

fn message_page_invalid(text: &str) -> Response {
    message(StatusCode::UNPROCESSABLE_ENTITY, "Invalid input", text)
}

// Issue 8: the do-not-call data page.

#[derive(Template)]
#[template(path = "dnc.html")]
struct DncPage {
    nav: Nav,
    lists: Vec<DncListRow>,
    provider: String,
    breaker: &'static str,
    incidents: Vec<DncIncidentRow>,
    max_age: u32,
    warn_age: u32,
}

struct DncListRow {
    list: String,
    version: String,
    numbers: u64,
    area_codes: usize,
    /// Days since the newest area code's data.
    age_days: i64,
    /// Area codes whose data is past the list's limit.
    stale_area_codes: usize,
    /// `fresh`, `warning`, `stale` or `unavailable: <cause>`.
    status: String,
    imported: String,
}

struct DncIncidentRow {
    id: String,
    source: String,
    cause: String,
    opened: String,
    resolved: String,
}

/// Each registry list's version and age (warning from `dnc.warn_age_days`,
/// stale past the limit), the organization's provider and its breaker, and
/// the incidents that pause its dialing.
pub async fn dnc(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(session): Extension<Session>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    use crate::dnc::registry::Slot;
    let nav = page!(state, actor, session, "dnc", q);
    let cfg = state.dnc.config();
    let today = crate::dnc::utc_date(state.now());
    let lists = state.dnc.registry().snapshot();
    let rows = lists
        .by_name
        .values()
        .map(|slot| {
            let v = slot.version();
            let max = if v.list == "national" {
                cfg.national_max_age_days
            } else {
                cfg.state_max_age_days
            };
            let age = |d: &str| {
                d.parse::<jiff::civil::Date>()
                    .map(|d| crate::dnc::age_days(d, today))
                    .unwrap_or(i64::MAX)
            };
            let age_days = age(&v.version);
            let stale_area_codes = v
                .area_codes
                .values()
                .filter(|d| age(d) > i64::from(max))
                .count();
            let status = match slot.as_ref() {
                Slot::Unavailable { cause, .. } => format!("unavailable: {cause}"),
                Slot::Ready { .. } if age_days > i64::from(max) => "stale".into(),
                Slot::Ready { .. } if age_days >= i64::from(cfg.warn_age_days) => "warning".into(),
                Slot::Ready { .. } => "fresh".into(),
            };
            DncListRow {
                list: v.list.clone(),
                version: v.version.clone(),
                numbers: v.numbers,
                area_codes: v.area_codes.len(),
                age_days,
                stale_area_codes,
                status,
                imported: rfc3339_minutes(v.imported_at),
            }
        })
        .collect();
    let settings = tryp!(state.store.scope(&actor).gate_settings().await);
    let (provider, breaker) = match &settings.dnc_provider_credential_id {
        Some(id) => (
            format!("real-time provider, credential {id}"),
            state.dnc.breaker_label(id),
        ),
        None => ("the deployment's registry index".to_owned(), "not used"),
    };
    let incidents = tryp!(state.store.scope(&actor).dnc_incidents(20).await)
        .into_iter()
        .map(|i| DncIncidentRow {
            id: i.id,
            source: i.source,
            cause: i.cause,
            opened: rfc3339_minutes(i.opened_at),
            resolved: i
                .resolved_at
                .map(rfc3339_minutes)
                .unwrap_or_else(|| "open: dialing that needs it is paused".into()),
        })
        .collect();
    render(
        StatusCode::OK,
        &DncPage {
            nav,
            lists: rows,
            provider,
            breaker,
            incidents,
            max_age: cfg.national_max_age_days,
            warn_age: cfg.warn_age_days,
        },
    )
}
