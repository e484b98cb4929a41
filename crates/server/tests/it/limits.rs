//! Rate limits: per key, per organization, failed authentications per IP,
//! and the unauthenticated pages per IP, with the headers clients rely on.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{TestServer, config};

async fn server_with(tune: impl FnOnce(&mut tollgate_server::Config)) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    tune(&mut c);
    TestServer::start_with(c, dir).await
}

#[tokio::test]
async fn a_key_past_its_burst_gets_429_with_retry_after() {
    let server = server_with(|c| {
        c.rate_limit.key_per_minute = 6; // one every 10 s
        c.rate_limit.key_burst = 3;
    })
    .await;
    let org = server.new_org("Limits").await; // new_org itself calls /v1/me once
    let mut seen = vec![];
    for _ in 0..3 {
        let (s, body, h) = server
            .raw(Some(&org.key), Method::GET, "/v1/org", None)
            .await;
        seen.push((
            s,
            h.get("ratelimit-remaining")
                .map(|v| v.to_str().unwrap().to_owned()),
            body,
        ));
    }
    assert_eq!(seen[0].0, StatusCode::OK);
    assert_eq!(seen[0].1.as_deref(), Some("1"));
    assert_eq!(seen[1].1.as_deref(), Some("0"));
    let (status, _, body) = &seen[2];
    assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let (_, _, h) = server
        .raw(Some(&org.key), Method::GET, "/v1/org", None)
        .await;
    let retry: i64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry), "{retry}");
    assert_eq!(h["ratelimit-limit"], "3");
    assert_eq!(h["content-type"], "application/problem+json");
    // The refusal is evidence too.
    // (Read through the store: the exhausted key itself would get 429.)
    server.state.audit.flush().await;
    let org_id = tollgate_core::OrgId::parse(&org.id).unwrap();
    let events = server
        .store()
        .operator_audit_events_after(&org_id, 0, 500)
        .await
        .unwrap();
    assert!(events.iter().any(|e| e.event.action == "api.call"
        && e.event.details["status"] == 429
        && e.event.outcome == "denied"));
}

#[tokio::test]
async fn an_organization_shares_one_budget_across_its_keys() {
    let server = server_with(|c| {
        c.rate_limit.org_per_minute = 6;
        c.rate_limit.org_burst = 4;
    })
    .await;
    let org = server.new_org("Shared").await; // 1 request
    let (s, created) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/api-keys",
            Some(json!({"name": "second", "scopes": ["dial:check"]})),
        )
        .await; // 2
    assert_eq!(s, StatusCode::CREATED);
    let second = created["token"].as_str().unwrap().to_owned();
    assert_eq!(
        server.call(&second, Method::GET, "/v1/me", None).await.0,
        StatusCode::OK
    ); // 3
    assert_eq!(
        server.call(&org.key, Method::GET, "/v1/me", None).await.0,
        StatusCode::OK
    ); // 4
    assert_eq!(
        server.call(&second, Method::GET, "/v1/me", None).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        server.call(&org.key, Method::GET, "/v1/me", None).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another organization is untouched.
    let other = server.new_org("Other").await;
    assert_eq!(
        server.call(&other.key, Method::GET, "/v1/me", None).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn repeated_bad_credentials_lock_out_the_ip_before_any_check() {
    let server = server_with(|c| {
        c.rate_limit.auth_failures_per_ip_per_minute = 2;
        c.rate_limit.auth_failures_per_ip_burst = 3;
    })
    .await;
    let org = server.new_org("Guess").await;
    let last = if org.key.ends_with('x') { 'y' } else { 'x' };
    let wrong = format!("{}{last}", &org.key[..org.key.len() - 1]);
    for _ in 0..3 {
        assert_eq!(
            server.call(&wrong, Method::GET, "/v1/org", None).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (s, v) = server.call(&wrong, Method::GET, "/v1/org", None).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"))
    );
    // Even a valid key from that address waits: guessing is not cheaper with a real key in hand.
    assert_eq!(
        server.call(&org.key, Method::GET, "/v1/org", None).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn the_bootstrap_pages_are_limited_per_ip() {
    let server = server_with(|c| {
        c.rate_limit.public_per_ip_per_minute = 2;
        c.rate_limit.public_per_ip_burst = 3;
    })
    .await;
    let mut statuses = vec![];
    for _ in 0..4 {
        statuses.push(
            server
                .raw(None, Method::GET, "/bootstrap/tg_boot_nothing", None)
                .await
                .0,
        );
    }
    assert_eq!(
        statuses,
        [
            StatusCode::NOT_FOUND,
            StatusCode::NOT_FOUND,
            StatusCode::NOT_FOUND,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    // Health checks are never limited.
    for _ in 0..10 {
        assert_eq!(
            server.raw(None, Method::GET, "/healthz", None).await.0,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn wrong_client_secrets_share_the_ips_failure_budget() {
    let server = server_with(|c| {
        c.rate_limit.auth_failures_per_ip_per_minute = 2;
        c.rate_limit.auth_failures_per_ip_burst = 3;
    })
    .await;
    let org = server.new_org("ClientGuess").await;
    let (id, secret) = server.oauth_client(&org, &["dial:check"]).await;
    let last = if secret.ends_with('x') { 'y' } else { 'x' };
    let wrong = format!("{}{last}", &secret[..secret.len() - 1]);
    for _ in 0..3 {
        let (s, v, _) = server.oauth_token(&id, &wrong, None).await;
        assert_eq!(
            (s, v["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client"))
        );
    }
    // Past the budget, not even the right secret is checked from this address...
    let (s, _, h) = server.oauth_token(&id, &secret, None).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!(h.contains_key("retry-after"));
    // ...and API keys from it wait too: one budget for every kind of credential.
    assert_eq!(
        server.call(&org.key, Method::GET, "/v1/org", None).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}
