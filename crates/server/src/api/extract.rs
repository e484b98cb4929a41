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
        .map(|s| s.chars().take(256).collect());
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
