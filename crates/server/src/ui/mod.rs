//! The human surface: sign-in pages and the dashboard, rendered on the
//! server with askama (compile-time checked, auto-escaped templates), with
//! no script at all, so the strict Content-Security-Policy stays as it is
//! and every flow works without JavaScript.

pub mod auth;
pub mod pages;
pub mod session;

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::app::AppState;

/// The session cookie. `__Host-` makes the browser insist on Secure, Path=/
/// and no Domain, so no sibling subdomain can set or read it.
pub const COOKIE: &str = "__Host-tollgate";

pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub title: &'a str,
    pub text: &'a str,
    pub link: Option<(&'a str, &'a str)>,
}

pub fn message(status: StatusCode, title: &str, text: &str) -> Response {
    render(
        status,
        &MessagePage {
            title,
            text,
            link: Some(("/auth/sign-in", "Go to sign-in")),
        },
    )
}

/// A redirect after a form POST: 303, so the browser follows with GET.
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

/// `Set-Cookie` for a session token. Max-Age is the absolute lifetime; the
/// server enforces it (and the idle timeout) regardless of the browser.
pub fn set_cookie(token: &str, max_age_secs: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "__Host-tollgate=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0",
    )
}

pub fn with_cookie(mut res: Response, cookie: HeaderValue) -> Response {
    res.headers_mut().append(header::SET_COOKIE, cookie);
    res
}

fn host_of(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|v| v.to_str().ok())
}

fn is_loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    matches!(name, "localhost" | "127.0.0.1" | "[::1]")
}

/// Whether this deployment may set a session cookie for this request:
/// over HTTPS (the configured public URL), or plain HTTP on this machine
/// only, where browsers accept Secure cookies too.
pub fn transport_ok(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.server.public_url.starts_with("https://")
        || host_of(headers).is_some_and(is_loopback_host)
}

/// A state-changing request must come from our own pages. With a configured
/// public URL the Origin must be exactly it; otherwise it must name the host
/// the request was sent to. A missing Origin is refused: every browser we
/// support sends one on a form POST.
pub fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let public = &state.config.server.public_url;
    if !public.is_empty() {
        return origin == public;
    }
    let Some(host) = host_of(headers) else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|o| o == host)
}

/// The link base for emails: the configured public URL, else the host the
/// request came to (only on loopback, where nobody else can spoof it).
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    let public = &state.config.server.public_url;
    if !public.is_empty() {
        return public.clone();
    }
    match host_of(headers) {
        Some(h) if is_loopback_host(h) => format!("http://{h}"),
        _ => state.config.public_url(),
    }
}

pub fn forbidden_origin() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Request refused",
        "This form was not sent from a Tollgate page. Reload the page and try again.",
    )
}

pub fn rfc3339_minutes(t: tollgate_core::UnixMicros) -> String {
    let s = t.to_rfc3339();
    // 2026-12-01T03:04:05.123456Z -> 2026-12-01 03:04 UTC
    if s.len() >= 16 {
        format!("{} {} UTC", &s[..10], &s[11..16])
    } else {
        s
    }
}
