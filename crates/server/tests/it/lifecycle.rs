//! The first-start bootstrap, API-key lifecycle, the audit chain and the
//! public metadata endpoints.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tollgate_core::audit::verify_chain;

use crate::harness::{TestServer, extract_token, unique_email};

#[tokio::test]
async fn a_fresh_embedded_server_prints_a_bootstrap_link_that_works_once() {
    if crate::harness::backend() != "sqlite" {
        return; // the shared PostgreSQL database is not fresh
    }
    let dir = tempfile::tempdir().unwrap();
    let config = crate::harness::config(dir.path());
    let prepared = tollgate_server::prepare(config).await.unwrap();
    let link = prepared
        .bootstrap_link
        .clone()
        .expect("first start prints a link");
    let addr = prepared.listener.local_addr().unwrap();
    let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(tollgate_server::serve(prepared, async move {
        let _ = rx.await;
    }));
    let token = link.rsplit('/').next().unwrap().to_owned();
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    // Opening the link (as a mail scanner would) does not use it.
    for _ in 0..3 {
        let page = http
            .get(format!("{base}/bootstrap/{token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.unwrap().contains("<form method=\"post\""));
    }
    // Two simultaneous submissions: exactly one creates an organization.
    let submit = |name: &'static str| {
        http.post(format!("{base}/bootstrap"))
            .form(&[
                ("token", token.as_str()),
                ("org_name", name),
                ("owner_name", "Ann"),
                ("owner_email", "ann@example.com"),
            ])
            .send()
    };
    let (r1, r2) = tokio::join!(submit("First"), submit("Second"));
    let statuses = [r1.unwrap().status(), r2.unwrap().status()];
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses.contains(&StatusCode::GONE), "{statuses:?}");
    let page = http
        .get(format!("{base}/bootstrap/{token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::GONE);
    assert!(dir.path().join("tollgate.db").exists());
}

#[tokio::test]
async fn an_expired_or_invalid_bootstrap_link_is_refused() {
    let server = TestServer::start().await;
    let t = server
        .store()
        .create_bootstrap_token(
            tollgate_core::UnixMicros(server.state.now().0 - 3_600_000_000),
            900,
        )
        .await
        .unwrap();
    let (s, body, _) = server
        .raw(
            None,
            Method::GET,
            &format!("/bootstrap/{}", t.plaintext.as_str()),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::GONE);
    assert!(body.contains("expired"));
    let last = if t.plaintext.ends_with('x') { 'y' } else { 'x' };
    let forged = format!("{}{last}", &t.plaintext[..t.plaintext.len() - 1]);
    let (s, _, _) = server
        .raw(None, Method::GET, &format!("/bootstrap/{forged}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn api_keys_are_shown_once_stored_hashed_and_revocable() {
    let server = TestServer::start().await;
    let org = server.new_org("Keys").await;
    let (s, created) = server
        .call(&org.key, Method::POST, "/v1/api-keys", Some(json!({"name": "dialer", "scopes": ["dial:check", "leads:read"], "expires_at": "2099-01-01T00:00:00Z"})))
        .await;
    // Two years at most.
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{created}");
    let in_a_year =
        tollgate_core::UnixMicros(server.state.now().0 + 365 * 86_400 * 1_000_000).to_rfc3339();
    let (s, created) = server
        .call(&org.key, Method::POST, "/v1/api-keys", Some(json!({"name": "dialer", "scopes": ["dial:check", "leads:read"], "expires_at": in_a_year})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["api_key"]["id"].as_str().unwrap().to_owned();
    assert!(
        token.starts_with("tg_live_")
            && token.starts_with(created["api_key"]["token_prefix"].as_str().unwrap())
    );

    let (s, me) = server.call(&token, Method::GET, "/v1/me", None).await;
    assert_eq!(
        (s, me["scopes"].clone()),
        (StatusCode::OK, json!(["leads:read", "dial:check"]))
    );

    // Never again: not in the list, not in the single view.
    let (_, list) = server
        .call(&org.key, Method::GET, "/v1/api-keys", None)
        .await;
    let (_, one) = server
        .call(&org.key, Method::GET, &format!("/v1/api-keys/{id}"), None)
        .await;
    let secret_part = &token[25..];
    assert!(!list.to_string().contains(secret_part) && !one.to_string().contains(secret_part));
    assert!(
        one["last_used_at"].is_string(),
        "last use is recorded: {one}"
    );

    // Not in the database either (the embedded file is scanned byte by byte).
    if let Some(haystack) = server.stored_bytes().await {
        assert!(
            !haystack.contains(secret_part),
            "a token secret is stored in plaintext"
        );
        assert!(
            !haystack.contains(&org.key[25..]),
            "the bootstrap key is stored in plaintext"
        );
        return;
    }

    let (s, revoked) = server
        .call(
            &org.key,
            Method::DELETE,
            &format!("/v1/api-keys/{id}"),
            None,
        )
        .await;
    assert_eq!(
        (s, revoked["revoked_reason"].as_str()),
        (StatusCode::OK, Some("revoked"))
    );
    let (s, v) = server.call(&token, Method::GET, "/v1/me", None).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("api_key_revoked"))
    );
    // Idempotent.
    let (s, _) = server
        .call(
            &org.key,
            Method::DELETE,
            &format!("/v1/api-keys/{id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn revocation_applies_at_once_on_the_embedded_backend_too() {
    let server = TestServer::start().await;
    let org = server.new_org("Revoke").await;
    let (_, created) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/api-keys",
            Some(json!({"name": "b", "scopes": ["dial:check"]})),
        )
        .await;
    let token = created["token"].as_str().unwrap();
    let id = created["api_key"]["id"].as_str().unwrap();
    assert_eq!(
        server.call(token, Method::GET, "/v1/me", None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        server
            .call(
                &org.key,
                Method::DELETE,
                &format!("/v1/api-keys/{id}"),
                None
            )
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        server.call(token, Method::GET, "/v1/me", None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn changes_are_audited_in_a_verifiable_chain() {
    let server = TestServer::start().await;
    let org = server.new_org("Audit").await;
    let person = server.invite(&org, &unique_email("p"), "member").await;
    server
        .call(
            &org.key,
            Method::PATCH,
            &format!("/v1/members/{person}"),
            Some(json!({"role": "admin"})),
        )
        .await;
    server
        .call(
            &org.key,
            Method::PATCH,
            "/v1/org",
            Some(json!({"name": "Audit Renamed"})),
        )
        .await;
    let (_, created) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/api-keys",
            Some(json!({"name": "b", "scopes": ["dial:check"]})),
        )
        .await;
    let key_id = created["api_key"]["id"].as_str().unwrap();
    server
        .call(
            &org.key,
            Method::DELETE,
            &format!("/v1/api-keys/{key_id}"),
            None,
        )
        .await;
    server
        .call(
            &org.key,
            Method::DELETE,
            &format!("/v1/members/{person}"),
            None,
        )
        .await;

    let events = server.audit_events(&org).await;
    let changes: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["action"] != "api.call")
        .collect();
    let actions: Vec<&str> = changes
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "org.created",
            "member.added",
            "api_key.created",
            "member.invited",
            "member.role_changed",
            "org.updated",
            "api_key.created",
            "api_key.revoked",
            "member.removed"
        ]
    );
    let role_change = changes
        .iter()
        .find(|e| e["action"] == "member.role_changed")
        .unwrap();
    assert_eq!(
        role_change["details"],
        json!({"before": {"role": "member"}, "after": {"role": "admin"}})
    );
    assert_eq!(role_change["route"], "/v1/members/{member_id}");
    assert_eq!(role_change["actor_kind"], "api_key");
    assert!(
        role_change["request_id"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
    // No token or secret in the log.
    assert!(
        !serde_json::to_string(&events).unwrap().contains("tg_live_"),
        "a token reached the audit log"
    );

    let chain = server.audit_chain(&org).await;
    let total = chain.len() as i64;
    let (count, _) =
        verify_chain(chain.into_iter().map(|e| (e.event, e.raw_hash))).expect("the chain verifies");
    assert_eq!(count, total);
    assert!(count > 9, "API calls are chained too");
}

#[tokio::test]
async fn metadata_endpoints_answer_without_credentials() {
    let server = TestServer::start().await;
    let (s, body, _) = server
        .raw(None, Method::GET, "/.well-known/security.txt", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        body.contains("Contact: mailto:") && body.contains("Expires: "),
        "{body}"
    );
    let (s, body, _) = server.raw(None, Method::GET, "/readyz", None).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body, _) = server.raw(None, Method::GET, "/metrics", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("tollgate_http_requests_total"), "{body}");
    // The embedded node's attempts index reports its size (ADR 0014).
    if server.store().dial_attempts_held().is_some() {
        assert!(body.contains("tollgate_gate_attempts_in_memory"), "{body}");
    }
    let (s, body, _) = server.raw(None, Method::GET, "/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        extract_token(&body, "tg_live_").is_none_or(|t| t.len() < 30),
        "no real token in the API description"
    );
}

#[tokio::test]
async fn a_key_expires_at_its_expiry_instant() {
    let server = TestServer::start().await;
    let org = server.new_org("Expiry").await;
    let in_an_hour = tollgate_core::UnixMicros(server.state.now().0 + 3_600_000_000);
    let (s, created) = server
        .call(&org.key, Method::POST, "/v1/api-keys", Some(json!({"name": "short", "scopes": ["dial:check"], "expires_at": in_an_hour.to_rfc3339()})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().unwrap();
    // Time is a parameter of authentication: check either side of the instant.
    let just_before = tollgate_core::UnixMicros(in_an_hour.0 - 1);
    assert!(
        server
            .store()
            .authenticate_api_key(token, just_before)
            .await
            .is_ok()
    );
    let err = server
        .store()
        .authenticate_api_key(token, in_an_hour)
        .await
        .unwrap_err();
    assert!(matches!(err, tollgate_store::AuthFailure::Expired), "{err}");
}

#[tokio::test]
async fn the_audit_log_filters_and_exports_as_json_lines_and_csv() {
    let server = TestServer::start().await;
    let org = server.new_org("Export").await;
    for i in 0..3 {
        server
            .invite(&org, &unique_email(&format!("x{i}")), "viewer")
            .await;
    }
    server
        .call(
            &org.key,
            Method::GET,
            "/v1/members/mem_01m82revkbe8jr8an9w0fk965e",
            None,
        )
        .await; // a denied probe
    let all = server.audit_events(&org).await;

    let (s, invited) = server
        .call(
            &org.key,
            Method::GET,
            "/v1/audit-events?action=member.invited",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(invited["data"].as_array().unwrap().len(), 3);
    let (_, denied) = server
        .call(
            &org.key,
            Method::GET,
            "/v1/audit-events?outcome=denied&route=/v1/members/%7Bmember_id%7D",
            None,
        )
        .await;
    assert_eq!(denied["data"].as_array().unwrap().len(), 1, "{denied}");
    let (_, future) = server
        .call(
            &org.key,
            Method::GET,
            "/v1/audit-events?since=2999-01-01T00:00:00Z",
            None,
        )
        .await;
    assert_eq!(future["data"].as_array().unwrap().len(), 0);
    let (s, v) = server
        .call(
            &org.key,
            Method::GET,
            "/v1/audit-events?outcome=maybe",
            None,
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_query"))
    );

    let (s, body, h) = server
        .raw(Some(&org.key), Method::GET, "/v1/audit-events/export", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["content-type"], "application/x-ndjson");
    let lines: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Everything up to the listing above, oldest first, in chain order.
    assert!(lines.len() >= all.len());
    for (i, e) in lines.iter().enumerate() {
        assert_eq!(e["seq"], i as u64 + 1);
        if i > 0 {
            assert_eq!(e["prev_hash"], lines[i - 1]["hash"]);
        }
    }
    let (s, csv, h) = server
        .raw(
            Some(&org.key),
            Method::GET,
            "/v1/audit-events/export?format=csv",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(h["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(csv.starts_with("seq,id,occurred_at,"));
    assert!(
        csv.lines().count() > lines.len(),
        "header plus at least every exported event"
    );
}

/// A node caches credential rows for at most `CREDENTIAL_CACHE_TTL`
/// (docs/deploy.md, "Revocation window"): the node that revokes refuses at
/// once, another node sharing the database refuses within the window.
#[tokio::test]
async fn a_revocation_reaches_another_node_within_the_credential_cache_window() {
    let server = TestServer::start().await;
    let org = server.new_org("Window").await;
    let (s, created) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/api-keys",
            Some(json!({"name": "window", "scopes": ["leads:read"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["api_key"]["id"].as_str().unwrap().to_owned();
    // Another node: its own pool and its own credential cache.
    let other = server
        .store()
        .with_role(&server.state.config.database_url())
        .await
        .unwrap()
        .with_credential_cache(tollgate_store::CREDENTIAL_CACHE_TTL);
    let now = || server.state.now();
    other.authenticate_api_key(&token, now()).await.unwrap();
    // A well-formed token with the same lookup id and another secret is
    // refused: the cached row's hash is checked on every request.
    let forged =
        crate::harness::same_lookup_other_secret(tollgate_core::token::TokenKind::ApiKey, &token);
    assert!(matches!(
        other.authenticate_api_key(&forged, now()).await,
        Err(tollgate_store::AuthFailure::Unknown)
    ));

    let (s, _) = server
        .call(
            &org.key,
            Method::DELETE,
            &format!("/v1/api-keys/{id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let revoked_at = std::time::Instant::now();
    let (s, v) = server.call(&token, Method::GET, "/v1/me", None).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("api_key_revoked")),
        "the revoking node refuses at once"
    );
    loop {
        match other.authenticate_api_key(&token, now()).await {
            Err(tollgate_store::AuthFailure::Revoked) => break,
            Ok(_) => {
                // (A little slack for a loaded machine between the cache's
                // check and this one.)
                assert!(
                    revoked_at.elapsed()
                        < tollgate_store::CREDENTIAL_CACHE_TTL
                            + std::time::Duration::from_millis(250),
                    "still accepted after the window"
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
}
