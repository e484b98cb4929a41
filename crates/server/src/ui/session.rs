//! The dashboard's half of the permission middleware: a cookie session
//! instead of a bearer credential, the same table, the same role check,
//! the same rate limits and the same audit record per request.

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tollgate_core::access::authorize;
use tollgate_store::{Session, SessionFailure, SessionStage};

use super::{
    clear_cookie, forbidden_origin, message, same_origin, see_other, session_cookie, with_cookie,
};
use crate::access::{RouteRule, limiter_down, path_ids, too_many};
use crate::app::AppState;

/// Where a session at `stage` belongs.
pub fn stage_home(stage: SessionStage) -> &'static str {
    match stage {
        SessionStage::Full => "/ui",
        SessionStage::SecondFactor => "/auth/second-factor",
        SessionStage::Enroll => "/auth/enroll",
    }
}

/// The live session behind this request's cookie, if any.
pub async fn current(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<Option<Session>, Response> {
    let Some(token) = session_cookie(headers) else {
        return Ok(None);
    };
    match state
        .store
        .authenticate_session(token, state.config.auth.session_policy(), state.now())
        .await
    {
        Ok(Ok(s)) => Ok(Some(s)),
        Ok(Err(SessionFailure::Unknown | SessionFailure::Ended)) => Ok(None),
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            Err(unavailable())
        }
    }
}

pub fn unavailable() -> Response {
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Tollgate is unavailable",
        "The server cannot check your session right now. Try again in a moment.",
    )
}

fn to_sign_in() -> Response {
    with_cookie(see_other("/auth/sign-in"), clear_cookie())
}

pub async fn enforce(
    state: &AppState,
    rule: &'static RouteRule,
    req: Request,
    next: Next,
) -> Response {
    let now = state.now();
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD);
    if writes && !same_origin(state, req.headers()) {
        return forbidden_origin();
    }
    let session = match current(state, req.headers()).await {
        Ok(Some(s)) => s,
        Ok(None) => return to_sign_in(),
        Err(res) => return res,
    };
    if session.stage != SessionStage::Full {
        return see_other(stage_home(session.stage));
    }
    let (actor, must_enroll) = match state.store.session_actor(&session).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            // The membership is gone (removed, or the organization left):
            // the session has nothing left to act for.
            let ctx = tollgate_store::Ctx {
                now,
                request: Default::default(),
            };
            let _ = state
                .store
                .end_session(&session.user_id, &session.id, "membership_ended", &ctx)
                .await;
            return to_sign_in();
        }
        Err(e) => {
            tracing::error!(error = %e, "session actor lookup failed");
            return unavailable();
        }
    };
    if must_enroll {
        return see_other("/auth/enroll");
    }
    let limits = &state.config.rate_limit;
    let verdict = match state
        .limiter
        .admit(&format!("cred:{}", session.id), limits.per_key(), now)
        .await
    {
        Ok(v) => v,
        Err(e) => return limiter_down(e),
    };
    if !verdict.allowed {
        return too_many(verdict);
    }
    let matched = rule.path;
    let started = std::time::Instant::now();
    let (mut parts, body) = req.into_parts();
    let ctx = crate::api::extract::request_ctx(&parts, state);
    let ids = path_ids(matched, parts.uri.path());
    let mut response = match authorize(rule.access, actor.role(), actor.scopes()) {
        Err(_) => message(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Your role in this organization does not allow this page. Ask an owner or admin.",
        ),
        Ok(()) => {
            parts.extensions.insert(actor.clone());
            parts.extensions.insert(session.clone());
            next.run(Request::from_parts(parts, body)).await
        }
    };
    // Periodic rotation: a stolen cookie stops working after the next
    // rotation of the real one.
    let rotate_after = state.config.auth.session_rotate_secs * tollgate_core::UnixMicros::SECOND;
    if now.0 - session.rotated_at.0 >= rotate_after
        && !response
            .headers()
            .contains_key(axum::http::header::SET_COOKIE)
    {
        match state
            .store
            .rotate_session(
                &session.id,
                SessionStage::Full,
                session.org_id.as_ref(),
                now,
            )
            .await
        {
            Ok(token) => {
                let left = (session.expires_at.0 - now.0) / tollgate_core::UnixMicros::SECOND;
                response = with_cookie(response, super::set_cookie(&token.plaintext, left));
            }
            Err(e) => tracing::warn!(error = %e, "session rotation failed"),
        }
    }
    state
        .audit
        .record(tollgate_store::ApiCall {
            actor,
            ctx,
            status: response.status().as_u16(),
            latency_micros: i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX),
            path_ids: ids,
        })
        .await;
    response
}
