//! `Idempotency-Key` on every POST under /v1: the first response is kept
//! for 24 hours (per organization and key) and replayed for a retry of the
//! same request; the same key with a different request is a 422, and a
//! duplicate arriving while the first is still running is a 409.

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use tollgate_store::{Actor, IdempotencyClaim};

use crate::app::AppState;
use crate::error::{ApiError, Code};

const HEADER: &str = "idempotency-key";
const TTL_SECS: i64 = 24 * 3600;
/// Responses larger than this are not kept (ours are far smaller).
const MAX_KEPT: usize = 1 << 20;

/// Runs the request, through the idempotency store when it carries a key.
pub async fn run(
    state: &AppState,
    actor: &Actor,
    parts: Parts,
    body: Body,
    next: Next,
) -> Response {
    let Some(raw) = parts.headers.get(HEADER) else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    if parts.method != Method::POST {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let key = match raw.to_str() {
        Ok(k) if (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => k,
        _ => {
            return ApiError::with(
                Code::InvalidIdempotencyKey,
                "Idempotency-Key must be 1 to 255 visible ASCII characters.",
            )
            .into_response();
        }
    };
    // Routes that take call words accept more than the general limit; each
    // route's own extractor still applies its limit to the buffered body.
    let limit = state
        .config
        .server
        .body_limit_bytes
        .max(crate::api::extract::SENSITIVE_BODY_LIMIT);
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => return ApiError::new(Code::PayloadTooLarge).into_response(),
    };
    // The key is the client's: keep only its hash. The fingerprint binds it
    // to this exact request (route, path and body).
    let key_hash = Sha256::digest(key.as_bytes()).to_vec();
    let mut fp = Sha256::new();
    fp.update(parts.method.as_str());
    fp.update([0]);
    fp.update(parts.uri.path());
    fp.update([0]);
    fp.update(&bytes);
    // Keyed, because the body may hold what the route then redacts (a card
    // number alone in a small body): a bare SHA-256 of it in the database
    // could be reversed by trying every card number (PCI DSS 3.5.1 asks for
    // keyed hashes of PANs). After a rotation of the token-hash key a retry
    // of an earlier request no longer matches and gets a 422, never a
    // second execution.
    let digest = tollgate_core::audit::to_hex(&fp.finalize());
    let fingerprint = state.store.hasher().hash(&digest).mac.to_vec();
    let scope = state.store.scope(actor);
    let lease = i64::try_from(state.config.server.request_timeout_secs).unwrap_or(600) + 30;
    let claim = match scope
        .claim_idempotency_key(&key_hash, &fingerprint, state.now(), TTL_SECS, lease)
        .await
    {
        Ok(c) => c,
        Err(e) => return ApiError::from(e).into_response(),
    };
    match claim {
        IdempotencyClaim::Mismatch => ApiError::with(
            Code::IdempotencyKeyReused,
            "This Idempotency-Key was used for a different request; use a new key for a new request.",
        )
        .into_response(),
        IdempotencyClaim::InFlight => ApiError::new(Code::IdempotencyInFlight).into_response(),
        IdempotencyClaim::Replay { status, content_type, body } => {
            let mut res = Response::new(Body::from(body));
            *res.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                res.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            res.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            res
        }
        IdempotencyClaim::Proceed => {
            let res = next.run(Request::from_parts(parts, Body::from(bytes))).await;
            let (res_parts, res_body) = res.into_parts();
            let kept: Bytes = match axum::body::to_bytes(res_body, MAX_KEPT).await {
                Ok(b) => b,
                Err(_) => {
                    let _ = scope.release_idempotency_key(&key_hash).await;
                    return ApiError::internal().into_response();
                }
            };
            let outcome = if res_parts.status.is_server_error() {
                // Our failures roll back; let the retry run again.
                scope.release_idempotency_key(&key_hash).await
            } else {
                let ct = res_parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
                let stored = without_secrets(&kept);
                scope.complete_idempotency_key(&key_hash, res_parts.status.as_u16(), ct, &stored).await
            };
            if let Err(e) = outcome {
                tracing::error!(error = %e, "could not record an idempotent response");
            }
            Response::from_parts(res_parts, Body::from(kept))
        }
    }
}

/// Prefixes of the secrets Tollgate shows once. A kept response never holds
/// one: its replay tells the client what happened, not the secret again.
const SECRET_PREFIXES: &[&str] = &["tg_live_", "tg_boot_", "tg_ocs_", "tg_oat_", "whsec_"];
const REDACTED: &str = "[shown only in the first response]";

fn without_secrets(body: &[u8]) -> Vec<u8> {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) if SECRET_PREFIXES.iter().any(|p| s.starts_with(p)) => {
                *s = REDACTED.to_owned();
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            serde_json::Value::Object(map) => map.values_mut().for_each(walk),
            _ => {}
        }
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut v) => {
            walk(&mut v);
            serde_json::to_vec(&v).unwrap_or_default()
        }
        // Not JSON: keep nothing rather than risk keeping a secret.
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_responses_never_hold_a_token() {
        let body = br#"{"api_key":{"id":"key_1","token_prefix":"tg_live_abc_"},"token":"tg_live_abc_secret","n":[ "tg_boot_x", 1 ]}"#;
        let kept = String::from_utf8(without_secrets(body)).unwrap();
        assert!(
            !kept.contains("secret") && !kept.contains("tg_boot_x"),
            "{kept}"
        );
        assert!(kept.contains(r#""id":"key_1""#));
        assert!(without_secrets(b"not json tg_live_x").is_empty());
        let client = br#"{"client":{"client_id":"ocl_1"},"client_secret":"tg_ocs_abc_secret"}"#;
        let kept = String::from_utf8(without_secrets(client)).unwrap();
        assert!(!kept.contains("tg_ocs_abc_secret"), "{kept}");
    }
}
