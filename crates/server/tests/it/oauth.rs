//! OAuth 2.1 client credentials: clients, the token endpoint, tokens as
//! bearers on /v1, introspection, revocation and the metadata document.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tollgate_core::UnixMicros;
use tollgate_store::AuthFailure;

use crate::harness::{TestServer, unique_email};

fn bearer(v: &Value) -> String {
    v["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

async fn form_post(
    server: &TestServer,
    path: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut req = server
        .http
        .post(format!("{}{path}", server.base))
        .form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    )
}

#[tokio::test]
async fn both_client_authentication_methods_issue_a_token_that_works_like_a_key() {
    let server = TestServer::start().await;
    let org = server.new_org("Oauth").await;
    let (id, secret) = server
        .oauth_client(&org, &["dial:check", "leads:read"])
        .await;
    assert!(id.starts_with("ocl_") && secret.starts_with("tg_ocs_"));

    // client_secret_basic
    let (s, v, h) = server.oauth_token(&id, &secret, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 900);
    assert_eq!(v["scope"], "leads:read dial:check");
    assert_eq!(h["cache-control"], "no-store");
    let token = bearer(&v);
    assert!(token.starts_with("tg_oat_"));
    let (s, me) = server.call(&token, Method::GET, "/v1/me", None).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["actor_kind"], "oauth_client");
    assert_eq!(me["actor_id"], id.as_str());
    assert_eq!(me["on_behalf_of"], org.owner_id.as_str());
    assert_eq!(me["org_id"], org.id.as_str());
    // The node now holds the token's row in its cache; the presented secret
    // is still checked against the stored hash on every request.
    let forged = crate::harness::same_lookup_other_secret(
        tollgate_core::token::TokenKind::OAuthAccessToken,
        &token,
    );
    let (s, _) = server.call(&forged, Method::GET, "/v1/me", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = server.call(&token, Method::GET, "/v1/me", None).await;
    assert_eq!(s, StatusCode::OK);

    // client_secret_post
    let (s, v, _) = form_post(
        &server,
        "/oauth/token",
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = server.call(&bearer(&v), Method::GET, "/v1/org", None).await;
    assert_eq!(s, StatusCode::OK);

    // Both methods at once is refused; so is none.
    let (s, v, _) = form_post(
        &server,
        "/oauth/token",
        Some((&id, &secret)),
        &[
            ("grant_type", "client_credentials"),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (s, v, h) = form_post(
        &server,
        "/oauth/token",
        None,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    assert!(h.contains_key("www-authenticate"));

    // Listed, shown without the secret; never stored or audited in plaintext.
    let (s, list) = server
        .call(&org.key, Method::GET, "/v1/oauth-clients", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["data"][0]["client_id"], id.as_str());
    assert!(!list.to_string().contains(&secret));
    let events = server.audit_events(&org).await;
    let actions: Vec<&str> = events.iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"oauth_client.created"));
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "oauth_token.issued")
            .count(),
        2
    );
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains(&secret[10..]) && !all.contains(&token[10..]));
    if let Some(bytes) = server.stored_bytes().await {
        assert!(
            !bytes.contains(&secret[10..]),
            "client secret stored in plaintext"
        );
        assert!(
            !bytes.contains(&token[10..]),
            "access token stored in plaintext"
        );
    }
}

#[tokio::test]
async fn requested_scopes_must_be_a_subset_of_the_clients() {
    let server = TestServer::start().await;
    let org = server.new_org("Scopes").await;
    let (id, secret) = server
        .oauth_client(&org, &["dial:check", "audit:read"])
        .await;

    let (s, v, _) = server.oauth_token(&id, &secret, Some("dial:check")).await;
    assert_eq!(
        (s, v["scope"].as_str()),
        (StatusCode::OK, Some("dial:check"))
    );
    let narrow = bearer(&v);
    let (s, p) = server
        .call(&narrow, Method::GET, "/v1/audit-events", None)
        .await;
    assert_eq!(
        (s, p["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("missing_scope"))
    );

    let (s, v, _) = server.oauth_token(&id, &secret, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = server
        .call(&bearer(&v), Method::GET, "/v1/audit-events", None)
        .await;
    assert_eq!(s, StatusCode::OK);

    for scope in ["org:admin", "nonsense", "dial:check org:admin"] {
        let (s, v, _) = server.oauth_token(&id, &secret, Some(scope)).await;
        assert_eq!(
            (s, v["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_scope")),
            "{scope}: {v}"
        );
        assert!(v["error_description"].is_string());
    }
}

#[tokio::test]
async fn bad_credentials_and_requests_get_rfc_6749_errors() {
    let server = TestServer::start().await;
    let org = server.new_org("Errors").await;
    let (id, secret) = server.oauth_client(&org, &["dial:check"]).await;
    let (_, other_secret) = server.oauth_client(&org, &["dial:check"]).await;

    for (cid, csecret) in [
        (id.as_str(), other_secret.as_str()),
        ("ocl_00000000000000000000000000", secret.as_str()),
        (id.as_str(), "not-a-secret"),
    ] {
        let (s, v, h) = server.oauth_token(cid, csecret, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
        assert_eq!(v["error"], "invalid_client");
        assert_eq!(h["www-authenticate"], "Basic realm=\"tollgate\"");
        assert_eq!(h["cache-control"], "no-store");
    }
    let basic = Some((id.as_str(), secret.as_str()));
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("grant_type", "password")], "unsupported_grant_type"),
        (&[("scope", "dial:check")], "invalid_request"),
        (
            &[
                ("grant_type", "client_credentials"),
                ("grant_type", "client_credentials"),
            ],
            "invalid_request",
        ),
    ];
    for (form, error) in cases {
        let (s, v, _) = form_post(&server, "/oauth/token", basic, form).await;
        assert_eq!(
            (s, v["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(*error)),
            "{form:?}"
        );
    }
    // A JSON body is not a token request.
    let res = server
        .http
        .post(format!("{}/oauth/token", server.base))
        .basic_auth(&id, Some(&secret))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
}

#[tokio::test]
async fn an_expired_token_is_refused_and_inactive() {
    let server = TestServer::start().await;
    let org = server.new_org("Expiry").await;
    let (id, secret) = server.oauth_client(&org, &["dial:check"]).await;
    let (_, v, _) = server.oauth_token(&id, &secret, None).await;
    let token = bearer(&v);
    let store = server.store();
    let now = server.state.now();
    assert!(store.authenticate_bearer(&token, now).await.is_ok());
    let later = UnixMicros(now.0 + 901 * UnixMicros::SECOND);
    assert!(matches!(
        store.authenticate_bearer(&token, later).await,
        Err(AuthFailure::Expired)
    ));
    let client = store
        .authenticate_oauth_client(&id, &secret, now)
        .await
        .unwrap();
    let scope = store.scope(&client);
    assert!(
        scope
            .introspect_oauth_token(&token, now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        scope
            .introspect_oauth_token(&token, later)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn revoking_the_token_or_the_client_stops_access_at_once() {
    let server = TestServer::start().await;
    let org = server.new_org("Revoke").await;
    let (id, secret) = server.oauth_client(&org, &["dial:check"]).await;
    let basic = Some((id.as_str(), secret.as_str()));

    let (_, v, _) = server.oauth_token(&id, &secret, None).await;
    let first = bearer(&v);
    let (_, v, _) = server.oauth_token(&id, &secret, None).await;
    let second = bearer(&v);
    let (s, _) = server.call(&first, Method::GET, "/v1/org", None).await;
    assert_eq!(s, StatusCode::OK);

    let (s, _, h) = form_post(&server, "/oauth/revoke", basic, &[("token", &first)]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["cache-control"], "no-store");
    let (s, p, h) = server.raw(Some(&first), Method::GET, "/v1/org", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{p}");
    assert!(p.contains("invalid_access_token"));
    assert!(
        h["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    // Revoking again, or revoking garbage, is still 200.
    for t in [first.as_str(), "garbage"] {
        let (s, _, _) = form_post(&server, "/oauth/revoke", basic, &[("token", t)]).await;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, _) = server.call(&second, Method::GET, "/v1/org", None).await;
    assert_eq!(s, StatusCode::OK, "revoking one token revoked another");

    let (s, c) = server
        .call(
            &org.key,
            Method::DELETE,
            &format!("/v1/oauth-clients/{id}"),
            None,
        )
        .await;
    assert_eq!(
        (s, c["revoked_reason"].as_str()),
        (StatusCode::OK, Some("revoked"))
    );
    let (s, _) = server.call(&second, Method::GET, "/v1/org", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v, _) = server.oauth_token(&id, &secret, None).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );

    let actions: Vec<String> = server
        .audit_events(&org)
        .await
        .iter()
        .filter_map(|e| e["action"].as_str().map(String::from))
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "oauth_token.revoked")
            .count(),
        1
    );
    assert!(actions.iter().any(|a| a == "oauth_client.revoked"));
}

#[tokio::test]
async fn introspection_answers_for_the_own_org_only() {
    let server = TestServer::start().await;
    let a = server.new_org("Intro").await;
    let b = server.new_org("Other").await;
    let (id, secret) = server.oauth_client(&a, &["dial:check", "leads:read"]).await;
    let (peer_id, peer_secret) = server.oauth_client(&a, &["dial:check"]).await;
    let (b_id, b_secret) = server.oauth_client(&b, &["dial:check"]).await;
    let (_, v, _) = server.oauth_token(&id, &secret, Some("leads:read")).await;
    let token = bearer(&v);

    // Any client of the same org may introspect, by either auth method.
    let (s, v, h) = form_post(
        &server,
        "/oauth/introspect",
        Some((&peer_id, &peer_secret)),
        &[("token", &token), ("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], id.as_str());
    assert_eq!(v["scope"], "leads:read");
    assert_eq!(v["token_type"], "Bearer");
    let (exp, iat) = (v["exp"].as_i64().unwrap(), v["iat"].as_i64().unwrap());
    assert_eq!(exp - iat, 900);
    let (s, v, _) = form_post(
        &server,
        "/oauth/introspect",
        None,
        &[
            ("token", &token),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!((s, &v["active"]), (StatusCode::OK, &json!(true)));

    // Another org's client: inactive, nothing else.
    let (s, v, _) = form_post(
        &server,
        "/oauth/introspect",
        Some((&b_id, &b_secret)),
        &[("token", &token)],
    )
    .await;
    assert_eq!((s, v), (StatusCode::OK, json!({"active": false})));
    // Not a token, or an API key: inactive.
    for t in ["garbage", a.key.as_str()] {
        let (s, v, _) = form_post(
            &server,
            "/oauth/introspect",
            Some((&id, &secret)),
            &[("token", t)],
        )
        .await;
        assert_eq!((s, v), (StatusCode::OK, json!({"active": false})));
    }
    // Without client authentication: invalid_client; without a token: invalid_request.
    let (s, v, _) = form_post(&server, "/oauth/introspect", None, &[("token", &token)]).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (s, v, _) = form_post(&server, "/oauth/introspect", Some((&id, &secret)), &[]).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    // Another org's client cannot revoke it either.
    let (s, _, _) = form_post(
        &server,
        "/oauth/revoke",
        Some((&b_id, &b_secret)),
        &[("token", &token)],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = server.call(&token, Method::GET, "/v1/org", None).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn a_client_is_bound_by_its_members_current_role() {
    let server = TestServer::start().await;
    let org = server.new_org("Bound").await;
    let member = server.invite(&org, &unique_email("ops"), "admin").await;
    let member_key = server.key_for_member(&org, &member).await;
    let (s, v) = server
        .call(
            &member_key,
            Method::POST,
            "/v1/oauth-clients",
            Some(json!({"name": "ops client", "scopes": ["org:admin"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["client"]["created_by"], member.as_str());
    let id = v["client"]["client_id"].as_str().unwrap().to_owned();
    let secret = v["client_secret"].as_str().unwrap().to_owned();
    let (_, t, _) = server.oauth_token(&id, &secret, None).await;
    let token = bearer(&t);
    let (s, _) = server
        .call(&token, Method::GET, "/v1/oauth-clients", None)
        .await;
    assert_eq!(s, StatusCode::OK);

    // Demoted to viewer: the same token may read members but not administer.
    let (s, _) = server
        .call(
            &org.key,
            Method::PATCH,
            &format!("/v1/members/{member}"),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, p) = server
        .call(&token, Method::GET, "/v1/oauth-clients", None)
        .await;
    assert_eq!(
        (s, p["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("insufficient_role"))
    );
    let (s, _) = server.call(&token, Method::GET, "/v1/members", None).await;
    assert_eq!(s, StatusCode::OK);

    // Removed: the client is revoked with the member, and its token stops.
    let (s, _) = server
        .call(
            &org.key,
            Method::DELETE,
            &format!("/v1/members/{member}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = server.call(&token, Method::GET, "/v1/members", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (_, c) = server
        .call(
            &org.key,
            Method::GET,
            &format!("/v1/oauth-clients/{id}"),
            None,
        )
        .await;
    assert_eq!(c["revoked_reason"], "creator_removed");
    let (s, v, _) = server.oauth_token(&id, &secret, None).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
}

#[tokio::test]
async fn the_metadata_document_describes_the_endpoints() {
    let server = TestServer::start().await;
    let res = server
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    let issuer = server.state.config.public_url();
    assert_eq!(v["issuer"], issuer.as_str());
    assert_eq!(v["token_endpoint"], format!("{issuer}/oauth/token"));
    assert_eq!(
        v["introspection_endpoint"],
        format!("{issuer}/oauth/introspect")
    );
    assert_eq!(v["revocation_endpoint"], format!("{issuer}/oauth/revoke"));
    assert_eq!(v["grant_types_supported"], json!(["client_credentials"]));
    assert_eq!(
        v["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    assert!(
        v["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("dial:check"))
    );
}
