//! Errors as RFC 9457 problem details, with stable codes, mapped in one place.
//!
//! A client program switches on `code`; a person reads `title` and `detail`.
//! Internal causes go to the log with the request id, never to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tollgate_core::Denied;
use tollgate_store::{AuthFailure, Refusal, StoreError};
use utoipa::ToSchema;

macro_rules! codes {
    ($($variant:ident = ($code:literal, $status:ident, $title:literal);)*) => {
        /// Every stable error code the API returns.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code { $($variant,)* }
        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];
            pub fn as_str(self) -> &'static str { match self { $(Code::$variant => $code,)* } }
            pub fn status(self) -> StatusCode { match self { $(Code::$variant => StatusCode::$status,)* } }
            pub fn title(self) -> &'static str { match self { $(Code::$variant => $title,)* } }
        }
    };
}

codes! {
    MalformedJson = ("malformed_json", BAD_REQUEST, "The request body is not valid JSON.");
    InvalidBody = ("invalid_body", UNPROCESSABLE_ENTITY, "The request body does not match the expected shape.");
    ValidationFailed = ("validation_failed", UNPROCESSABLE_ENTITY, "A field has an invalid value.");
    InvalidQuery = ("invalid_query", BAD_REQUEST, "A query parameter is invalid.");
    MalformedId = ("malformed_id", BAD_REQUEST, "An identifier in the path is malformed.");
    UnsupportedMediaType = ("unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, "The request body must be JSON (Content-Type: application/json).");
    PayloadTooLarge = ("payload_too_large", PAYLOAD_TOO_LARGE, "The request body is too large.");
    Unauthenticated = ("unauthenticated", UNAUTHORIZED, "This endpoint needs a bearer token.");
    InvalidApiKey = ("invalid_api_key", UNAUTHORIZED, "The API key is not valid.");
    ApiKeyRevoked = ("api_key_revoked", UNAUTHORIZED, "The API key has been revoked.");
    ApiKeyExpired = ("api_key_expired", UNAUTHORIZED, "The API key has expired.");
    InvalidAccessToken = ("invalid_access_token", UNAUTHORIZED, "The OAuth access token is not valid, has expired or has been revoked; request a new one.");
    MissingScope = ("missing_scope", FORBIDDEN, "The API key lacks the scope this endpoint needs.");
    InsufficientRole = ("insufficient_role", FORBIDDEN, "Your role does not allow this action.");
    OwnerOnly = ("owner_only", FORBIDDEN, "Only an owner may grant, change or remove the owner role.");
    LastOwner = ("last_owner", CONFLICT, "The last owner cannot be removed or demoted.");
    NotFound = ("not_found", NOT_FOUND, "Not found.");
    MethodNotAllowed = ("method_not_allowed", METHOD_NOT_ALLOWED, "This method is not allowed here.");
    MemberExists = ("member_exists", CONFLICT, "This person is already a member.");
    BootstrapUsed = ("bootstrap_used", GONE, "This bootstrap link has already been used.");
    BootstrapExpired = ("bootstrap_expired", GONE, "This bootstrap link has expired.");
    InvalidIdempotencyKey = ("invalid_idempotency_key", BAD_REQUEST, "The Idempotency-Key header is malformed.");
    IdempotencyKeyReused = ("idempotency_key_reused", UNPROCESSABLE_ENTITY, "This Idempotency-Key belongs to a different request.");
    IdempotencyInFlight = ("idempotency_in_flight", CONFLICT, "A request with this Idempotency-Key is still being processed; retry shortly.");
    RateLimited = ("rate_limited", TOO_MANY_REQUESTS, "Too many requests; retry after the time in Retry-After.");
    Timeout = ("timeout", SERVICE_UNAVAILABLE, "The request took too long and was cancelled; nothing was changed.");
    Unavailable = ("unavailable", SERVICE_UNAVAILABLE, "The service is not ready.");
    Internal = ("internal_error", INTERNAL_SERVER_ERROR, "Something went wrong on our side; nothing was changed.");
    // Issue 9: redaction on every write path.
    InvalidUtf8 = ("invalid_encoding", BAD_REQUEST, "The request body is not valid UTF-8.");
    CallExists = ("call_exists", CONFLICT, "A call with this external id already exists.");
    TranscriptExists = ("transcript_exists", CONFLICT, "This call already has a transcript.");
}

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    pub code: Code,
    pub detail: Option<String>,
}

/// The problem document (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:tollgate:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The stable machine-readable code.
    pub code: String,
}

impl ApiError {
    pub fn new(code: Code) -> Self {
        ApiError { code, detail: None }
    }
    pub fn with(code: Code, detail: impl Into<String>) -> Self {
        ApiError {
            code,
            detail: Some(detail.into()),
        }
    }
    pub fn not_found(what: &str) -> Self {
        ApiError::with(Code::NotFound, format!("No such {what}."))
    }
    pub fn invalid(detail: impl Into<String>) -> Self {
        ApiError::with(Code::ValidationFailed, detail)
    }
    pub fn internal() -> Self {
        ApiError::new(Code::Internal)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        // Details often quote the input (serde: `invalid type: string
        // "4111…"`, `unknown field `…``), and problem documents land in
        // client logs: one that quotes a sensitive value is withheld whole.
        let detail = self.detail.map(|d| {
            if crate::api::redaction::holds_sensitive(&d) {
                WITHHELD_DETAIL.to_owned()
            } else {
                d
            }
        });
        let body = Problem {
            type_uri: format!("urn:tollgate:problem:{}", self.code.as_str()),
            title: self.code.title().to_owned(),
            status: status.as_u16(),
            detail,
            code: self.code.as_str().to_owned(),
        };
        let mut res = (status, axum::Json(body)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if matches!(
            self.code,
            Code::Unauthenticated | Code::InvalidApiKey | Code::ApiKeyRevoked | Code::ApiKeyExpired
        ) {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tollgate\""),
            );
        }
        if self.code == Code::InvalidAccessToken {
            // RFC 6750 section 3.1: tells an OAuth client to fetch a new token.
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tollgate\", error=\"invalid_token\""),
            );
        }
        res
    }
}

/// The detail of a problem document whose own detail quoted a sensitive value.
pub const WITHHELD_DETAIL: &str =
    "The detail of this error quoted part of the request that looks sensitive, so it is withheld.";

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::new(Code::NotFound),
            StoreError::Conflict("member_exists") => ApiError::new(Code::MemberExists),
            StoreError::Conflict("bootstrap_used") => ApiError::new(Code::BootstrapUsed),
            StoreError::Conflict("bootstrap_expired") => ApiError::new(Code::BootstrapExpired),
            StoreError::Conflict("call_exists") => ApiError::new(Code::CallExists),
            StoreError::Conflict("transcript_exists") => ApiError::new(Code::TranscriptExists),
            StoreError::Refused(Refusal::LastOwner) => ApiError::new(Code::LastOwner),
            StoreError::Refused(Refusal::OwnerOnly) => ApiError::new(Code::OwnerOnly),
            StoreError::Invalid(detail) => ApiError::invalid(detail),
            StoreError::Db(sqlx::Error::PoolTimedOut) => {
                tracing::error!(error = %e, "database pool exhausted");
                ApiError::new(Code::Unavailable)
            }
            StoreError::Unavailable(_) => {
                tracing::error!(error = %e, "database unavailable");
                ApiError::new(Code::Unavailable)
            }
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::internal()
            }
        }
    }
}

impl From<AuthFailure> for ApiError {
    fn from(e: AuthFailure) -> Self {
        match e {
            AuthFailure::Malformed | AuthFailure::Unknown => ApiError::new(Code::InvalidApiKey),
            AuthFailure::Revoked => ApiError::new(Code::ApiKeyRevoked),
            AuthFailure::Expired => ApiError::new(Code::ApiKeyExpired),
            AuthFailure::Store(s) => s.into(),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(d: Denied) -> Self {
        match d {
            Denied::MissingScope(s) => ApiError::with(
                Code::MissingScope,
                format!("This endpoint needs the `{s}` scope."),
            ),
            Denied::InsufficientRole { required, actual } => ApiError::with(
                Code::InsufficientRole,
                format!(
                    "This action needs the {required} role or higher; the key acts for a member whose role is {actual}."
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_errors() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "duplicate {}", c.as_str());
            assert!(
                c.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
            assert!(c.status().is_client_error() || c.status().is_server_error());
        }
    }

    #[tokio::test]
    async fn a_detail_quoting_a_sensitive_value_is_withheld() {
        let res = ApiError::with(
            Code::InvalidBody,
            "invalid type: string \"4111 1111 1111 1111\", expected u32",
        )
        .into_response();
        let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["detail"], WITHHELD_DETAIL);
        assert_eq!(v["code"], "invalid_body");
        let res = ApiError::invalid("`audit_retention_days` must be between 90 and 36500.")
            .into_response();
        let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("between 90 and 36500"));
    }

    #[tokio::test]
    async fn problem_documents_have_the_right_media_type() {
        let res = ApiError::not_found("member").into_response();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body = axum::body::to_bytes(res.into_body(), 4096).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["code"], "not_found");
        assert_eq!(v["status"], 404);
        assert_eq!(v["type"], "urn:tollgate:problem:not_found");
    }
}
