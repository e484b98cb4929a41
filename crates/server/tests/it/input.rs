//! Bad input gets a problem document with a stable code, and changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::TestServer;

#[tokio::test]
async fn malformed_requests_are_refused_with_stable_codes_and_write_nothing() {
    let server = TestServer::start().await;
    let org = server.new_org("Input").await;
    let before = server.audit_count(&org).await;
    let url = |p: &str| format!("{}{p}", server.base);

    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (server.http.patch(url("/v1/org")).bearer_auth(&org.key).header("content-type", "application/json").body("{\"name\":"), StatusCode::BAD_REQUEST, "malformed_json"),
        (server.http.patch(url("/v1/org")).bearer_auth(&org.key).body("{\"name\":\"x\"}"), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        (server.http.patch(url("/v1/org")).bearer_auth(&org.key).json(&json!({"name": "x", "plan": "free"})), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (server.http.patch(url("/v1/org")).bearer_auth(&org.key).json(&json!({"name": 7})), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (server.http.patch(url("/v1/org")).bearer_auth(&org.key).json(&json!({"name": "x".repeat(101)})), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (server.http.patch(url("/v1/org")).bearer_auth(&org.key).json(&json!({"name": "a\u{0007}b"})), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (server.http.patch(url("/v1/org")).bearer_auth(&org.key).json(&json!({"contact_email": "not-an-email"})), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (server.http.patch(url("/v1/org")).bearer_auth(&org.key).json(&json!({"name": "y".repeat(70_000)})), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        (server.http.post(url("/v1/members")).bearer_auth(&org.key).json(&json!({"email": "x@example.com", "role": "superuser"})), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (server.http.post(url("/v1/api-keys")).bearer_auth(&org.key).json(&json!({"name": "k", "scopes": []})), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (server.http.post(url("/v1/api-keys")).bearer_auth(&org.key).json(&json!({"name": "k", "scopes": ["root"]})), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (server.http.post(url("/v1/api-keys")).bearer_auth(&org.key).json(&json!({"name": "k", "scopes": ["dial:check", "dial:check"]})), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (server.http.post(url("/v1/api-keys")).bearer_auth(&org.key).json(&json!({"name": "k", "scopes": ["dial:check"], "expires_at": "2001-01-01T00:00:00Z"})), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (server.http.post(url("/v1/api-keys")).bearer_auth(&org.key).json(&json!({"name": "k", "scopes": ["dial:check"], "expires_at": "tomorrow"})), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (server.http.get(url("/v1/members/mem_nope")).bearer_auth(&org.key), StatusCode::BAD_REQUEST, "malformed_id"),
        (server.http.get(url(&format!("/v1/members/{}", org.key_id))).bearer_auth(&org.key), StatusCode::BAD_REQUEST, "malformed_id"),
        (server.http.get(url("/v1/members/mem_01m82revkbe8jr8an9w0fk965e")).bearer_auth(&org.key), StatusCode::NOT_FOUND, "not_found"),
        (server.http.get(url("/v1/members?limit=0")).bearer_auth(&org.key), StatusCode::BAD_REQUEST, "invalid_query"),
        (server.http.get(url("/v1/members?color=red")).bearer_auth(&org.key), StatusCode::BAD_REQUEST, "invalid_query"),
        (server.http.get(url("/v1/org")), StatusCode::UNAUTHORIZED, "unauthenticated"),
        (server.http.get(url("/v1/org")).header("cookie", format!("session={}", org.key)), StatusCode::UNAUTHORIZED, "unauthenticated"),
        (server.http.get(url("/v1/org")).header("authorization", format!("Basic {}", org.key)), StatusCode::UNAUTHORIZED, "unauthenticated"),
        (server.http.get(url("/v1/org")).bearer_auth("tg_live_garbage"), StatusCode::UNAUTHORIZED, "invalid_api_key"),
        (server.http.get(url("/v1/org")).bearer_auth(org.key.replace(&org.key[30..31], if &org.key[30..31] == "a" { "b" } else { "a" })), StatusCode::UNAUTHORIZED, "invalid_api_key"),
        (server.http.get(url("/v1/nothing-here")).bearer_auth(&org.key), StatusCode::NOT_FOUND, "not_found"),
        (server.http.put(url("/v1/org")).bearer_auth(&org.key), StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
    ];
    for (req, status, code) in cases {
        let res = req.send().await.unwrap();
        let got = res.status();
        let ct = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: serde_json::Value = res.json().await.unwrap_or_default();
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
        assert_eq!(ct.as_deref(), Some("application/problem+json"));
    }
    assert_eq!(
        server.audit_count(&org).await,
        before,
        "a refused request wrote an audit event"
    );
    let (_, o) = server.call(&org.key, Method::GET, "/v1/org", None).await;
    assert_eq!(o["name"].as_str(), Some(org.name.as_str()));
}

#[tokio::test]
async fn a_key_without_the_scope_is_refused() {
    let server = TestServer::start().await;
    let org = server.new_org("Scopes").await;
    let (s, v) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/api-keys",
            Some(json!({"name": "dialer", "scopes": ["dial:check"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let dialer = v["token"].as_str().unwrap().to_owned();
    let (s, v) = server.call(&dialer, Method::GET, "/v1/members", None).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("missing_scope"))
    );
    let (s, v) = server
        .call(&dialer, Method::GET, "/v1/audit-events", None)
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("missing_scope"))
    );
    let (s, _) = server.call(&dialer, Method::GET, "/v1/org", None).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_a_request_id() {
    let server = TestServer::start().await;
    for path in [
        "/healthz",
        "/v1/org",
        "/nowhere",
        "/bootstrap/tg_boot_x",
        "/openapi.json",
    ] {
        let (_, _, h) = server.raw(None, Method::GET, path, None).await;
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert!(h.contains_key("strict-transport-security"), "{path}");
        assert!(
            h.contains_key("referrer-policy") && h.contains_key("permissions-policy"),
            "{path}"
        );
        assert!(
            h["x-request-id"].to_str().unwrap().starts_with("req_"),
            "{path}"
        );
    }
    let res = server
        .http
        .get(format!("{}/healthz", server.base))
        .header("x-request-id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-123");
}
