//! Idempotency keys on POST /v1: replay, mismatch, concurrency, scoping.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestServer, unique_email};

async fn post(
    server: &TestServer,
    key: &str,
    idem: &str,
    path: &str,
    body: Value,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let res = server
        .http
        .post(format!("{}{path}", server.base))
        .bearer_auth(key)
        .header("idempotency-key", idem)
        .json(&body)
        .send()
        .await
        .unwrap();
    let (s, h) = (res.status(), res.headers().clone());
    (s, res.json().await.unwrap_or(Value::Null), h)
}

#[tokio::test]
async fn a_retried_post_runs_once_and_replays_without_the_secret() {
    let server = TestServer::start().await;
    let org = server.new_org("Idem").await;
    let body = json!({"name": "retried bot", "scopes": ["dial:check"]});
    let (s1, first, h1) = post(
        &server,
        &org.key,
        "create-bot-1",
        "/v1/api-keys",
        body.clone(),
    )
    .await;
    assert_eq!(s1, StatusCode::CREATED);
    assert!(first["token"].as_str().unwrap().starts_with("tg_live_"));
    assert!(h1.get("idempotent-replayed").is_none());
    let (s2, second, h2) = post(
        &server,
        &org.key,
        "create-bot-1",
        "/v1/api-keys",
        body.clone(),
    )
    .await;
    assert_eq!(s2, StatusCode::CREATED);
    assert_eq!(h2["idempotent-replayed"], "true");
    assert_eq!(
        second["api_key"]["id"], first["api_key"]["id"],
        "the same key, not a second one"
    );
    assert_ne!(
        second["token"], first["token"],
        "the secret is shown only once"
    );
    let (_, keys) = server
        .call(&org.key, Method::GET, "/v1/api-keys", None)
        .await;
    let named: Vec<_> = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["name"] == "retried bot")
        .collect();
    assert_eq!(named.len(), 1);
    // And the token never reached the database through the kept response.
    if let Some(stored) = server.stored_bytes().await {
        assert!(!stored.contains(&first["token"].as_str().unwrap()[25..]));
    }
}

#[tokio::test]
async fn the_same_key_with_another_request_is_refused() {
    let server = TestServer::start().await;
    let org = server.new_org("Reuse").await;
    let (s, _, _) = post(
        &server,
        &org.key,
        "k-1",
        "/v1/members",
        json!({"email": unique_email("a"), "role": "viewer"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v, _) = post(
        &server,
        &org.key,
        "k-1",
        "/v1/members",
        json!({"email": unique_email("b"), "role": "viewer"}),
    )
    .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("idempotency_key_reused")
        )
    );
    let (s, v, _) = post(
        &server,
        &org.key,
        "bad key with spaces",
        "/v1/members",
        json!({}),
    )
    .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_idempotency_key"))
    );
    // Keys are per organization: another org may use the same string.
    let other = server.new_org("Other").await;
    let (s, _, h) = post(
        &server,
        &other.key,
        "k-1",
        "/v1/members",
        json!({"email": unique_email("c"), "role": "viewer"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(h.get("idempotent-replayed").is_none());
}

#[tokio::test]
async fn concurrent_duplicates_run_once() {
    let server = TestServer::start().await;
    let org = server.new_org("Race").await;
    let email = unique_email("racer");
    let body = json!({"email": email, "role": "viewer"});
    let attempts = (0..6).map(|_| post(&server, &org.key, "race-1", "/v1/members", body.clone()));
    let results = futures_util::future::join_all(attempts).await;
    let statuses: Vec<StatusCode> = results.iter().map(|r| r.0).collect();
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    let fresh = results
        .iter()
        .filter(|r| r.0 == StatusCode::CREATED && r.2.get("idempotent-replayed").is_none())
        .count();
    assert_eq!(fresh, 1, "exactly one request ran: {statuses:?}");
    for r in results.iter().filter(|r| r.0 == StatusCode::CONFLICT) {
        assert_eq!(r.1["code"], "idempotency_in_flight");
    }
    let invited = server
        .audit_events(&org)
        .await
        .iter()
        .filter(|e| e["action"] == "member.invited")
        .count();
    assert_eq!(invited, 1);
}
