//! Sign-in: emailed links and codes, the second factor, enrollment,
//! sign-out.
//!
//! Opening a link (GET) only shows a confirmation page: mail scanners that
//! prefetch links neither burn nor use them. The link request answers the
//! same page, after the same minimum time, whether or not the address has
//! an account, and the email is sent after the answer.

use std::time::Duration;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tollgate_core::totp::{self, TotpSecret};
use tollgate_core::{Role, UnixMicros};
use tollgate_store::{LinkPurpose, LinkState, RedeemFailure, Redeemed, Session, SessionStage};
use zeroize::Zeroizing;

use super::session::{current, stage_home, unavailable};
use super::{
    base_url, clear_cookie, message, render, see_other, set_cookie, transport_ok, with_cookie,
};
use crate::api::extract::RequestCtx;
use crate::app::AppState;
use crate::mail::Email;

/// Every link request takes at least this long, so its timing does not
/// tell whether the address has an account (the store work differs).
const LINK_REQUEST_FLOOR: Duration = Duration::from_millis(400);

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    email: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "check_email.html")]
struct CheckEmailPage<'a> {
    email: &'a str,
    pending: &'a str,
    ttl_minutes: i64,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "confirm_link.html")]
struct ConfirmPage<'a> {
    token: &'a str,
    invitation: bool,
}

#[derive(Template)]
#[template(path = "second_factor.html")]
struct SecondFactorPage<'a> {
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "enroll.html")]
struct EnrollPage<'a> {
    qr_svg: &'a str,
    secret: &'a str,
    uri: &'a str,
    required: bool,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryCodesPage<'a> {
    codes: &'a [Zeroizing<String>],
}

fn hashed(kind: &str, value: &str) -> String {
    let digest = Sha256::digest(format!("{kind}\0{value}").as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a limit; a limit that cannot be checked refuses (fail closed).
async fn within(
    state: &AppState,
    key: &str,
    quota: tollgate_core::rate_limit::Quota,
) -> Result<bool, Response> {
    match state.limiter.admit(key, quota, state.now()).await {
        Ok(v) => Ok(v.allowed),
        Err(e) => Err(crate::access::limiter_down(e)),
    }
}

/// The answer to give when a limit refuses (or cannot be checked: fail
/// closed), or `None` to go on.
async fn refused(
    state: &AppState,
    key: &str,
    quota: tollgate_core::rate_limit::Quota,
) -> Option<Response> {
    match within(state, key, quota).await {
        Ok(true) => None,
        Ok(false) => Some(slow_down()),
        Err(res) => Some(res),
    }
}

fn slow_down() -> Response {
    message(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        "For your security, sign-in is paused for a while. Try again later.",
    )
}

pub async fn sign_in_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Ok(Some(s)) = current(&state, &headers).await {
        return see_other(stage_home(s.stage));
    }
    if !transport_ok(&state, &headers) {
        return insecure();
    }
    render(
        StatusCode::OK,
        &SignInPage {
            email: "",
            error: None,
        },
    )
}

fn insecure() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "HTTPS required",
        "Signing in needs HTTPS (set server.public_url to the https:// address of this server), or a browser on the server's own machine.",
    )
}

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
}

pub async fn request_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestCtx(ctx): RequestCtx,
    Form(form): Form<SignInForm>,
) -> Response {
    if !transport_ok(&state, &headers) {
        return insecure();
    }
    let started = tokio::time::Instant::now();
    let Ok(email) = tollgate_core::email::normalize(form.email.trim()) else {
        let shown: String = form.email.chars().take(254).collect();
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SignInPage {
                email: &shown,
                error: Some("Enter an email address such as name@example.com."),
            },
        );
    };
    let auth = &state.config.auth;
    let ip = ctx.request.ip.clone().unwrap_or_default();
    if let Some(refusal) = refused(
        &state,
        &format!("ip:{ip}:sign-in-links"),
        auth.per_ip_links(),
    )
    .await
    {
        return refusal;
    }
    let email_ok = match within(
        &state,
        &format!("email:{}:sign-in-links", hashed("email", &email)),
        auth.per_email(),
    )
    .await
    {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    // The page shows a lookup-shaped value either way; only a real link's
    // lookup matches anything when a code is entered.
    let mut pending = {
        let mut r = [0u8; 10];
        let _ = getrandom::fill(&mut r);
        tollgate_core::base32::encode(&r)
    };
    if email_ok {
        match state
            .store
            .issue_sign_in_link(&email, ctx.now, auth.link_ttl_secs)
            .await
        {
            Ok(Some(link)) => {
                pending = link.token.lookup.clone();
                let base = base_url(&state, &headers);
                let text = Zeroizing::new(format!(
                    "Sign in to Tollgate\n\n\
                     Open this link to sign in. It works once, for {} minutes:\n\n{base}/auth/link/{}\n\n\
                     Or, on another device, enter this code on the sign-in page: {} {}\n\n\
                     If you did not ask to sign in, ignore this email: nobody can sign in without it.\n",
                    auth.link_ttl_secs / 60,
                    link.token.plaintext.as_str(),
                    &link.code[..4],
                    &link.code[4..],
                ));
                send_later(
                    &state,
                    link.email.clone(),
                    "Your Tollgate sign-in link",
                    text,
                );
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "issuing a sign-in link failed");
                return unavailable();
            }
        }
    } else if let Ok(Some(user)) = state.store.user_id_for_email(&email).await {
        let _ = state
            .store
            .audit_auth_failure(
                &user,
                "auth.link_requests_limited",
                serde_json::json!({ "limit": "per_email" }),
                &ctx,
            )
            .await;
    }
    tokio::time::sleep_until(started + LINK_REQUEST_FLOOR).await;
    render(
        StatusCode::OK,
        &CheckEmailPage {
            email: &email,
            pending: &pending,
            ttl_minutes: auth.link_ttl_secs / 60,
            error: None,
        },
    )
}

/// Sends after the answer, so delivery time never shows in the response.
pub fn send_later(state: &AppState, to: String, subject: &str, text: Zeroizing<String>) {
    let mailer = state.mailer.clone();
    let subject = subject.to_owned();
    tokio::spawn(async move {
        if let Err(e) = mailer.send(Email { to, subject, text }).await {
            tracing::error!(error = %format!("{e:#}"), "email not delivered");
        }
    });
}

#[derive(Deserialize)]
pub struct CodeForm {
    pending: String,
    email: String,
    code: String,
}

pub async fn redeem_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestCtx(ctx): RequestCtx,
    Form(form): Form<CodeForm>,
) -> Response {
    let ip = ctx.request.ip.clone().unwrap_or_default();
    if let Some(refusal) = refused(
        &state,
        &format!("ip:{ip}:sign-in-confirm"),
        state.config.auth.per_ip_confirmations(),
    )
    .await
    {
        return refusal;
    }
    let pending: String = form.pending.chars().take(32).collect();
    let email: String = form.email.chars().take(254).collect();
    match state
        .store
        .redeem_sign_in_code(&pending, &form.code, &ctx)
        .await
    {
        Ok(Ok(redeemed)) => finish_sign_in(&state, &headers, &ctx, redeemed).await,
        Ok(Err(failure)) => {
            let error = match failure {
                RedeemFailure::Locked => {
                    "Too many wrong codes: this code no longer works. Ask for a new email."
                }
                RedeemFailure::Expired => "This code has expired. Ask for a new email.",
                RedeemFailure::Used => "This code was already used. Ask for a new email.",
                RedeemFailure::Unknown => "That code is not right. Check the email and try again.",
            };
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &CheckEmailPage {
                    email: &email,
                    pending: &pending,
                    ttl_minutes: state.config.auth.link_ttl_secs / 60,
                    error: Some(error),
                },
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "code sign-in failed");
            unavailable()
        }
    }
}

pub async fn confirm_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state.store.sign_in_link_state(&token, state.now()).await {
        Ok(LinkState::Usable { invitation }) => render(
            StatusCode::OK,
            &ConfirmPage {
                token: &token,
                invitation,
            },
        ),
        Ok(LinkState::Used) => message(
            StatusCode::GONE,
            "This link has been used",
            "Each sign-in link works once. Ask for a new one on the sign-in page.",
        ),
        Ok(LinkState::Expired) => message(
            StatusCode::GONE,
            "This link has expired",
            "Sign-in links work for a short time only. Ask for a new one on the sign-in page.",
        ),
        Ok(LinkState::Unknown) => message(
            StatusCode::NOT_FOUND,
            "Unknown link",
            "This sign-in link is not valid. Ask for a new one on the sign-in page.",
        ),
        Err(e) => {
            tracing::error!(error = %e, "link lookup failed");
            unavailable()
        }
    }
}

#[derive(Deserialize)]
pub struct LinkForm {
    token: String,
}

pub async fn redeem_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestCtx(ctx): RequestCtx,
    Form(form): Form<LinkForm>,
) -> Response {
    if !transport_ok(&state, &headers) {
        return insecure();
    }
    let ip = ctx.request.ip.clone().unwrap_or_default();
    if let Some(refusal) = refused(
        &state,
        &format!("ip:{ip}:sign-in-confirm"),
        state.config.auth.per_ip_confirmations(),
    )
    .await
    {
        return refusal;
    }
    match state.store.redeem_sign_in_link(&form.token, ctx.now).await {
        Ok(Ok(redeemed)) => finish_sign_in(&state, &headers, &ctx, redeemed).await,
        Ok(Err(RedeemFailure::Used)) => message(
            StatusCode::GONE,
            "This link has been used",
            "Each sign-in link works once. Ask for a new one on the sign-in page.",
        ),
        Ok(Err(RedeemFailure::Expired)) => message(
            StatusCode::GONE,
            "This link has expired",
            "Ask for a new one on the sign-in page.",
        ),
        Ok(Err(_)) => message(
            StatusCode::NOT_FOUND,
            "Unknown link",
            "This sign-in link is not valid. Ask for a new one on the sign-in page.",
        ),
        Err(e) => {
            tracing::error!(error = %e, "link sign-in failed");
            unavailable()
        }
    }
}

/// After the email step: a new session (never the old one: rotation on
/// sign-in), at the stage the person's second factor and the
/// organization's policy call for.
async fn finish_sign_in(
    state: &AppState,
    headers: &HeaderMap,
    ctx: &tollgate_store::Ctx,
    redeemed: Redeemed,
) -> Response {
    let store = &state.store;
    if let (LinkPurpose::Invitation, Some(org)) = (redeemed.purpose, &redeemed.org_id)
        && let Err(e) = store.accept_invitation(&redeemed.user_id, org, ctx).await
    {
        tracing::error!(error = %e, "accepting an invitation failed");
        return unavailable();
    }
    let orgs = match store.orgs_of_user(&redeemed.user_id).await {
        Ok(o) => o.into_iter().filter(|o| o.active).collect::<Vec<_>>(),
        Err(e) => {
            tracing::error!(error = %e, "listing organizations failed");
            return unavailable();
        }
    };
    let chosen = redeemed
        .org_id
        .as_ref()
        .and_then(|want| orgs.iter().find(|o| &o.org_id == want))
        .or_else(|| orgs.first());
    let Some(org) = chosen else {
        return message(
            StatusCode::FORBIDDEN,
            "No organization",
            "This account is not an active member of any organization. Ask an admin to invite you again.",
        );
    };
    let factor = match store.totp_factor(&redeemed.user_id).await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "second factor lookup failed");
            return unavailable();
        }
    };
    let stage = if factor.as_ref().is_some_and(|f| f.confirmed) {
        SessionStage::SecondFactor
    } else if org.require_2fa_admins && org.role >= Role::Admin {
        SessionStage::Enroll
    } else {
        SessionStage::Full
    };
    if let Ok(Some(old)) = current(state, headers).await {
        let _ = store
            .end_session(&old.user_id, &old.id, "replaced_by_sign_in", ctx)
            .await;
    }
    let policy = state.config.auth.session_policy();
    match store
        .create_session(&redeemed.user_id, Some(&org.org_id), stage, policy, ctx)
        .await
    {
        Ok(new) => with_cookie(
            see_other(stage_home(stage)),
            set_cookie(&new.token.plaintext, policy.absolute_secs),
        ),
        Err(e) => {
            tracing::error!(error = %e, "creating a session failed");
            unavailable()
        }
    }
}

/// The session of a sign-in step page, which must be at `stage` (or, for
/// enrollment, also a full session adding a factor voluntarily).
async fn step_session(
    state: &AppState,
    headers: &HeaderMap,
    allowed: &[SessionStage],
) -> Result<Session, Response> {
    match current(state, headers).await? {
        Some(s) if allowed.contains(&s.stage) => Ok(s),
        Some(s) => Err(see_other(stage_home(s.stage))),
        None => Err(with_cookie(see_other("/auth/sign-in"), clear_cookie())),
    }
}

pub async fn second_factor_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(res) = step_session(&state, &headers, &[SessionStage::SecondFactor]).await {
        return res;
    }
    render(StatusCode::OK, &SecondFactorPage { error: None })
}

#[derive(Deserialize)]
pub struct SecondFactorForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    recovery_code: String,
}

pub async fn second_factor(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestCtx(ctx): RequestCtx,
    Form(form): Form<SecondFactorForm>,
) -> Response {
    let session = match step_session(&state, &headers, &[SessionStage::SecondFactor]).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let user = session.user_id.clone();
    match within(
        &state,
        &format!("user:{user}:second-factor"),
        state.config.auth.per_user_codes(),
    )
    .await
    {
        Ok(true) => {}
        Ok(false) => {
            let _ = state
                .store
                .audit_auth_failure(
                    &user,
                    "auth.second_factor_locked",
                    serde_json::json!({}),
                    &ctx,
                )
                .await;
            return slow_down();
        }
        Err(res) => return res,
    }
    let passed = if !form.recovery_code.trim().is_empty() {
        match state
            .store
            .use_recovery_code(&user, &form.recovery_code, ctx.now)
            .await
        {
            Ok(ok) => ok.then_some("recovery_code"),
            Err(e) => {
                tracing::error!(error = %e, "recovery code check failed");
                return unavailable();
            }
        }
    } else {
        match check_totp(&state, &session, &form.code, ctx.now).await {
            Ok(ok) => ok.then_some("totp"),
            Err(res) => return res,
        }
    };
    let Some(method) = passed else {
        let _ = state
            .store
            .audit_auth_failure(
                &user,
                "auth.second_factor_failed",
                serde_json::json!({}),
                &ctx,
            )
            .await;
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &SecondFactorPage {
                error: Some(
                    "That code is not right, or was already used. Wait for the next code and try again.",
                ),
            },
        );
    };
    tracing::debug!(method, "second factor passed");
    elevate(&state, &session, &ctx, see_other("/ui")).await
}

async fn check_totp(
    state: &AppState,
    session: &Session,
    code: &str,
    now: UnixMicros,
) -> Result<bool, Response> {
    let factor = match state.store.totp_factor(&session.user_id).await {
        Ok(Some(f)) if f.confirmed => f,
        Ok(_) => return Ok(false),
        Err(e) => {
            tracing::error!(error = %e, "second factor lookup failed");
            return Err(unavailable());
        }
    };
    let Some(secret) = TotpSecret::from_bytes(&factor.secret) else {
        return Ok(false);
    };
    let Some(step) = totp::verify(&secret, code, now, factor.last_step) else {
        return Ok(false);
    };
    // The conditional update decides between racing requests with the same code.
    match state.store.accept_totp_step(&session.user_id, step).await {
        Ok(ok) => Ok(ok),
        Err(e) => {
            tracing::error!(error = %e, "recording the TOTP step failed");
            Err(unavailable())
        }
    }
}

async fn elevate(
    state: &AppState,
    session: &Session,
    ctx: &tollgate_store::Ctx,
    then: Response,
) -> Response {
    let Some(org) = &session.org_id else {
        return with_cookie(see_other("/auth/sign-in"), clear_cookie());
    };
    match state.store.elevate_session(session, org, ctx).await {
        Ok(token) => {
            let left = (session.expires_at.0 - ctx.now.0) / UnixMicros::SECOND;
            with_cookie(then, set_cookie(&token.plaintext, left))
        }
        Err(e) => {
            tracing::error!(error = %e, "completing sign-in failed");
            unavailable()
        }
    }
}

fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    // Inline in HTML: drop the XML prolog.
    Some(match svg.find("<svg") {
        Some(i) => svg[i..].to_owned(),
        None => svg,
    })
}

async fn enroll_page_for(
    state: &AppState,
    session: &Session,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let store = &state.store;
    let existing = match store.totp_factor(&session.user_id).await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "second factor lookup failed");
            return unavailable();
        }
    };
    if existing.as_ref().is_some_and(|f| f.confirmed) {
        return see_other("/ui/security");
    }
    // Reloading shows the same key until it is confirmed.
    let secret = match existing.and_then(|f| TotpSecret::from_bytes(&f.secret)) {
        Some(s) => s,
        None => {
            let mut bytes = [0u8; totp::SECRET_BYTES];
            if getrandom::fill(&mut bytes).is_err() {
                return unavailable();
            }
            let s = TotpSecret::new(bytes);
            if let Err(e) = store
                .begin_totp_enrollment(&session.user_id, s.as_bytes(), state.now())
                .await
            {
                tracing::error!(error = %e, "starting enrollment failed");
                return unavailable();
            }
            s
        }
    };
    let email = store.user_email(&session.user_id).await.unwrap_or_default();
    let uri = secret.otpauth_uri("Tollgate", &email);
    let Some(svg) = qr_svg(&uri) else {
        return unavailable();
    };
    let base32 = secret.to_base32();
    render(
        status,
        &EnrollPage {
            qr_svg: &svg,
            secret: &base32,
            uri: &uri,
            required: session.stage == SessionStage::Enroll,
            error,
        },
    )
}

pub async fn enroll_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match step_session(
        &state,
        &headers,
        &[SessionStage::Enroll, SessionStage::Full],
    )
    .await
    {
        Ok(s) => enroll_page_for(&state, &s, None, StatusCode::OK).await,
        Err(res) => res,
    }
}

#[derive(Deserialize)]
pub struct EnrollForm {
    code: String,
}

pub async fn enroll(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestCtx(ctx): RequestCtx,
    Form(form): Form<EnrollForm>,
) -> Response {
    let session = match step_session(
        &state,
        &headers,
        &[SessionStage::Enroll, SessionStage::Full],
    )
    .await
    {
        Ok(s) => s,
        Err(res) => return res,
    };
    let user = session.user_id.clone();
    if let Some(refusal) = refused(
        &state,
        &format!("user:{user}:second-factor"),
        state.config.auth.per_user_codes(),
    )
    .await
    {
        return refusal;
    }
    let factor = match state.store.totp_factor(&user).await {
        Ok(Some(f)) if !f.confirmed => f,
        Ok(_) => return see_other("/auth/enroll"),
        Err(e) => {
            tracing::error!(error = %e, "second factor lookup failed");
            return unavailable();
        }
    };
    let step = TotpSecret::from_bytes(&factor.secret)
        .and_then(|s| totp::verify(&s, &form.code, ctx.now, factor.last_step));
    let Some(step) = step else {
        return enroll_page_for(
            &state,
            &session,
            Some(
                "That code is not right. Check the time on your phone and enter the current code.",
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let codes = match state.store.confirm_totp(&user, step, &ctx).await {
        Ok(Some(c)) => c,
        Ok(None) => return see_other("/auth/enroll"),
        Err(e) => {
            tracing::error!(error = %e, "confirming enrollment failed");
            return unavailable();
        }
    };
    let page = render(StatusCode::OK, &RecoveryCodesPage { codes: &codes });
    if session.stage == SessionStage::Enroll {
        elevate(&state, &session, &ctx, page).await
    } else {
        // A privilege change: a fresh cookie for the stronger session.
        match state
            .store
            .rotate_session(
                &session.id,
                SessionStage::Full,
                session.org_id.as_ref(),
                ctx.now,
            )
            .await
        {
            Ok(token) => {
                let left = (session.expires_at.0 - ctx.now.0) / UnixMicros::SECOND;
                with_cookie(page, set_cookie(&token.plaintext, left))
            }
            Err(e) => {
                tracing::error!(error = %e, "session rotation failed");
                unavailable()
            }
        }
    }
}

pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    RequestCtx(ctx): RequestCtx,
) -> Response {
    if let Ok(Some(s)) = current(&state, &headers).await
        && let Err(e) = state
            .store
            .end_session(&s.user_id, &s.id, "signed_out", &ctx)
            .await
    {
        tracing::error!(error = %e, "ending a session failed");
        return unavailable();
    }
    with_cookie(see_other("/auth/sign-in"), clear_cookie())
}
