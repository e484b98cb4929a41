//! The first-start bootstrap pages.
//!
//! GET shows a form and never consumes the link (mail and chat scanners
//! prefetch links); only the POST from the form consumes it. The result
//! page shows the new API key once, with `Cache-Control: no-store`.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use tollgate_core::email;
use tollgate_store::{BootstrapInput, BootstrapState, StoreError};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use super::clean_text;
use super::extract::RequestCtx;
use crate::app::AppState;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Tollgate</title><link rel=\"stylesheet\" href=\"/assets/tollgate.css\"></head>\
         <body><main>{}</main></body></html>\n",
        escape(title),
        body
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

fn message(status: StatusCode, title: &str, text: &str) -> Response {
    page(
        status,
        title,
        &format!(
            "<h1>{}</h1><p class=\"lead\">{}</p>",
            escape(title),
            escape(text)
        ),
    )
}

fn state_message(state: BootstrapState) -> Option<Response> {
    match state {
        BootstrapState::Usable { .. } => None,
        BootstrapState::Used => Some(message(
            StatusCode::GONE,
            "This link has been used",
            "Each bootstrap link creates one organization, once. Ask the operator for a new link (`tollgate bootstrap`).",
        )),
        BootstrapState::Expired => Some(message(
            StatusCode::GONE,
            "This link has expired",
            "Bootstrap links are valid for 15 minutes. Ask the operator for a new link (`tollgate bootstrap`).",
        )),
        BootstrapState::Unknown => Some(message(
            StatusCode::NOT_FOUND,
            "Unknown link",
            "This bootstrap link is not valid.",
        )),
    }
}

fn form(token: &str, error: Option<&str>, values: (&str, &str, &str)) -> String {
    format!(
        "<h1>Set up Tollgate</h1>\
         <p class=\"lead\">Create your organization and its first owner. You will receive an API key with every scope, \
         shown once.</p>{}\
         <form method=\"post\" action=\"/bootstrap\">\
         <input type=\"hidden\" name=\"token\" value=\"{}\">\
         <label for=\"org_name\">Organization name</label>\
         <input type=\"text\" id=\"org_name\" name=\"org_name\" required maxlength=\"100\" value=\"{}\" autofocus>\
         <label for=\"owner_name\">Your name</label>\
         <input type=\"text\" id=\"owner_name\" name=\"owner_name\" required maxlength=\"100\" value=\"{}\">\
         <label for=\"owner_email\">Your email</label>\
         <input type=\"email\" id=\"owner_email\" name=\"owner_email\" required maxlength=\"254\" value=\"{}\">\
         <button type=\"submit\">Create organization</button></form>",
        error
            .map(|e| format!("<p class=\"notice\" role=\"alert\">{}</p>", escape(e)))
            .unwrap_or_default(),
        escape(token),
        escape(values.0),
        escape(values.1),
        escape(values.2),
    )
}

/// The bootstrap form. Checking the link does not use it up.
#[utoipa::path(get, path = "/bootstrap/{token}", tag = "bootstrap",
    params(("token" = String, Path, description = "The one-time bootstrap token printed at first start")),
    responses((status = 200, description = "Success", content_type = "text/html", body = String), (status = 404, description = "No such object in this organization"), (status = 410, description = "The link was used or has expired")))]
pub async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let token = Zeroizing::new(token);
    match state.store.bootstrap_state(&token, state.now()).await {
        Ok(s) => state_message(s).unwrap_or_else(|| {
            page(
                StatusCode::OK,
                "Set up Tollgate",
                &form(&token, None, ("", "", "")),
            )
        }),
        Err(e) => {
            tracing::error!(error = %e, "bootstrap check failed");
            message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "The server could not check this link just now.",
            )
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct BootstrapForm {
    pub token: String,
    pub org_name: String,
    pub owner_name: String,
    pub owner_email: String,
}

/// Uses the bootstrap link: creates the organization, its owner and an
/// all-scope API key, shown once.
#[utoipa::path(post, path = "/bootstrap", tag = "bootstrap",
    request_body(content = BootstrapForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 201, description = "Created", content_type = "text/html", body = String), (status = 404, description = "No such object in this organization"), (status = 410, description = "The link was used or has expired"), (status = 422, description = "A field is missing or invalid")))]
pub async fn redeem(
    State(state): State<AppState>,
    RequestCtx(ctx): RequestCtx,
    axum::Form(f): axum::Form<BootstrapForm>,
) -> Response {
    let token = Zeroizing::new(f.token);
    let values = (
        f.org_name.as_str(),
        f.owner_name.as_str(),
        f.owner_email.as_str(),
    );
    let input = (|| {
        Ok::<_, String>(BootstrapInput {
            org_name: clean_text("organization name", &f.org_name, 100)
                .map_err(|e| e.detail.unwrap_or_default())?,
            owner_name: clean_text("name", &f.owner_name, 100)
                .map_err(|e| e.detail.unwrap_or_default())?,
            owner_email: email::normalize(&f.owner_email).map_err(|e| e.to_string())?,
        })
    })();
    let input = match input {
        Ok(i) => i,
        Err(problem) => {
            return match state.store.bootstrap_state(&token, ctx.now).await {
                Ok(BootstrapState::Usable { .. }) => page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Set up Tollgate",
                    &form(&token, Some(&problem), values),
                ),
                Ok(s) => state_message(s)
                    .unwrap_or_else(|| message(StatusCode::NOT_FOUND, "Unknown link", "")),
                Err(_) => message(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Try again",
                    "The server could not check this link just now.",
                ),
            };
        }
    };
    match state.store.redeem_bootstrap(&token, input, &ctx).await {
        Ok(done) => {
            let base = state.config.public_url();
            let body = format!(
                "<h1>Your organization is ready</h1>\
                 <dl><dt>Organization</dt><dd>{org} (<code>{org_id}</code>)</dd>\
                 <dt>Owner</dt><dd>{owner} &lt;{email}&gt;</dd>\
                 <dt>API key</dt><dd><code>{key_id}</code>, every scope</dd></dl>\
                 <p class=\"notice\" role=\"alert\">Copy this API key now. It is shown once; Tollgate stores only a keyed hash of it.</p>\
                 <pre class=\"secret\" id=\"api-key\">{token}</pre>\
                 <p>Try it:</p><pre>curl -H 'Authorization: Bearer {token}' {base}/v1/org</pre>\
                 <p>People sign in to the dashboard with their email address: \
                 <a class=\"button\" href=\"/auth/sign-in\">Sign in to the dashboard</a></p>",
                org = escape(&done.org.name),
                org_id = escape(done.org.id.as_str()),
                owner = escape(&done.owner.name),
                email = escape(&done.owner.email),
                key_id = escape(done.api_key.id.as_str()),
                token = escape(&done.token.plaintext),
                base = escape(&base),
            );
            tracing::info!(org_id = %done.org.id, "organization created through the bootstrap link");
            page(StatusCode::CREATED, "Organization created", &body)
        }
        Err(StoreError::Conflict("bootstrap_used")) => {
            state_message(BootstrapState::Used).expect("a message")
        }
        Err(StoreError::Conflict("bootstrap_expired")) => {
            state_message(BootstrapState::Expired).expect("a message")
        }
        Err(StoreError::NotFound) => state_message(BootstrapState::Unknown).expect("a message"),
        Err(e) => {
            tracing::error!(error = %e, "bootstrap failed");
            message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Nothing was created. Try again.",
            )
        }
    }
}
