//! Extractors that turn every malformed request into a problem document.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use tollgate_core::audit::RequestMeta;
use tollgate_core::id::{Id, IdKind};
use tollgate_store::{Actor, Ctx};

use crate::app::{AppState, ClientIp, RequestId};
use crate::error::{ApiError, Code};

/// A JSON body; unknown fields are refused by the target type.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(r) => Err(json_rejection(r)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(Code::PayloadTooLarge);
    }
    match r {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(Code::UnsupportedMediaType),
        JsonRejection::JsonSyntaxError(e) => ApiError::with(Code::MalformedJson, e.body_text()),
        JsonRejection::JsonDataError(e) => ApiError::with(Code::InvalidBody, e.body_text()),
        other => ApiError::with(Code::MalformedJson, other.body_text()),
    }
}

/// Query parameters; unknown ones are refused by the target type.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(QueryParams(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(ApiError::with(Code::InvalidQuery, e.body_text()))
            }
            Err(e) => Err(ApiError::with(Code::InvalidQuery, e.body_text())),
        }
    }
}

/// Parses a path identifier of kind `K`; anything else is `malformed_id`.
pub fn path_id<K: IdKind>(raw: &str) -> Result<Id<K>, ApiError> {
    Id::<K>::parse(raw).map_err(|e| ApiError::with(Code::MalformedId, format!("{e}.")))
}

/// The authenticated actor placed by the access middleware. A handler that
/// asks for one on a public route fails closed.
pub struct Authenticated(pub Actor);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Actor>()
            .cloned()
            .map(Authenticated)
            .ok_or_else(|| {
                tracing::error!("handler needs an actor but the route is not authenticated");
                ApiError::internal()
            })
    }
}

/// When and why a change happens: the audit context of this request.
pub struct RequestCtx(pub Ctx);

impl FromRequestParts<AppState> for RequestCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(RequestCtx(request_ctx(parts, state)))
    }
}

/// The audit context of a request: now, its id, peer, agent, method, route.
pub fn request_ctx(parts: &Parts, state: &AppState) -> Ctx {
    let user_agent = parts
        .headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(user_agent);
    Ctx {
        now: state.now(),
        request: RequestMeta {
            request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
            ip: parts.extensions.get::<ClientIp>().map(|c| c.0.to_string()),
            user_agent,
            method: Some(parts.method.to_string()),
            route: parts
                .extensions
                .get::<MatchedPath>()
                .map(|m| m.as_str().to_owned()),
        },
    }
}

/// A client's `User-Agent` as audit events keep it: cut to 256 characters
/// and redacted like everything else a client sends. A client sends the
/// same one on every request, and redacting it costs thousands of
/// instructions, so each worker thread remembers the last one it redacted.
fn user_agent(raw: &str) -> String {
    thread_local! {
        static LAST: std::cell::RefCell<(String, String)> = const {
            std::cell::RefCell::new((String::new(), String::new()))
        };
    }
    LAST.with_borrow_mut(|(seen, redacted)| {
        if seen != raw {
            let cut: String = raw.chars().take(256).collect();
            *redacted = super::redaction::scrub(&cut);
            raw.clone_into(seen);
        }
        redacted.clone()
    })
}

/// Largest body accepted where call words are submitted (transcripts,
/// extractions, one-off redactions). Above the general API limit because a
/// long call's transcript is tens of kilobytes; far below the engine's
/// 16 MiB, so one request's redaction stays in the tens of milliseconds.
pub const SENSITIVE_BODY_LIMIT: usize = 1024 * 1024;

/// A JSON body that may hold sensitive values (call transcripts, extraction
/// results, text to redact). Unlike [`Body`], no error message ever quotes
/// the input: serde's messages can echo a value ("invalid type: string
/// \"4111…\""), and problem documents end up in client logs. Invalid UTF-8
/// gets its own code, and the size limit is [`SENSITIVE_BODY_LIMIT`].
pub struct SensitiveBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for SensitiveBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim();
                v.eq_ignore_ascii_case("application/json")
                    || (v.starts_with("application/") && v.ends_with("+json"))
            });
        if !json {
            return Err(ApiError::new(Code::UnsupportedMediaType));
        }
        let bytes = axum::body::to_bytes(req.into_body(), SENSITIVE_BODY_LIMIT)
            .await
            .map_err(|_| {
                ApiError::with(
                    Code::PayloadTooLarge,
                    format!("At most {SENSITIVE_BODY_LIMIT} bytes."),
                )
            })?;
        parse_sensitive(&bytes).map(SensitiveBody)
    }
}

/// Parses a sensitive body; see [`SensitiveBody`].
pub fn parse_sensitive<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(ApiError::with(
            Code::InvalidUtf8,
            format!(
                "The body is not valid UTF-8 (first invalid byte at offset {}); nothing was stored.",
                e.valid_up_to()
            ),
        ));
    }
    if json_values(bytes) > SENSITIVE_MAX_VALUES {
        return Err(ApiError::with(
            Code::PayloadTooLarge,
            format!("The body holds more than {SENSITIVE_MAX_VALUES} JSON values."),
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let at = format!("line {} column {}", e.line(), e.column());
        match e.classify() {
            serde_json::error::Category::Data => ApiError::with(
                Code::InvalidBody,
                format!(
                    "The body does not match the documented shape (near {at}); see /openapi.json."
                ),
            ),
            _ => ApiError::with(Code::MalformedJson, format!("Not valid JSON (near {at}).")),
        }
    })
}

/// Most JSON values in a sensitive body. A parsed value costs tens of bytes,
/// so `[0,0,0,…]` in 1 MiB would take ~16 MiB once parsed; this keeps it to
/// a few MiB. 10,000 turns of a transcript are about 40,000 values.
pub const SENSITIVE_MAX_VALUES: usize = 100_000;

/// An upper bound of the number of values in a JSON text, counted without
/// parsing it: separators and openings outside strings, plus one.
fn json_values(bytes: &[u8]) -> usize {
    let (mut n, mut in_string, mut escaped) = (1usize, false, false);
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else {
            match b {
                b'"' => in_string = true,
                b',' | b'[' | b'{' | b':' => n += 1,
                _ => {}
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_bounds_the_count_and_ignores_strings() {
        assert_eq!(json_values(br#"1"#), 1);
        assert!(json_values(br#"[1,2,3]"#) >= 3);
        assert!(json_values(br#"{"a":[1,{"b":2}]}"#) >= 4);
        assert_eq!(json_values(br#""a,b:[{\",]""#), 1);
        let many = format!("[{}0]", "0,".repeat(SENSITIVE_MAX_VALUES));
        assert!(matches!(
            parse_sensitive::<serde_json::Value>(many.as_bytes()),
            Err(ApiError {
                code: Code::PayloadTooLarge,
                ..
            })
        ));
    }

    /// The remembered user agent is only ever the one just asked for,
    /// redacted, whatever came before it.
    #[test]
    fn user_agents_are_redacted_and_remembered_only_for_themselves() {
        let sensitive = "bot/1.0 (contact jane.doe@example.com, +1 415 555 0134)";
        for _ in 0..2 {
            let kept = user_agent(sensitive);
            assert!(kept.starts_with("bot/1.0"), "{kept}");
            assert!(
                !kept.contains("jane.doe") && !kept.contains("555"),
                "{kept}"
            );
        }
        assert_eq!(user_agent("curl/8.5.0"), "curl/8.5.0");
        assert_eq!(user_agent(sensitive), user_agent(sensitive));
        assert_eq!(user_agent(&"a".repeat(300)).len(), 256);
    }
}
