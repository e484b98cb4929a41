//! Tenant isolation, proven route by route.
//!
//! The route list comes from the served OpenAPI document, not from a list
//! kept by hand: a new route without a case here fails this test. Org A
//! creates objects; org B calls every route with A's identifiers and must
//! get 404 (or, for routes without identifiers, an answer about B only),
//! and no byte of A's data may appear in any answer.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestServer, unique_email};

/// How org B exercises one route against org A's objects.
enum Case {
    /// No credential; the answer must not mention A.
    Public { path: String, expect: StatusCode },
    /// B's own collection or settings; the answer must not mention A.
    Own {
        path: String,
        body: Option<Value>,
        expect: StatusCode,
    },
    /// A's object addressed by id: must be 404.
    Foreign { path: String, body: Option<Value> },
    /// The bootstrap form posted with A's (used) link.
    BootstrapForm,
    /// An OAuth endpoint called by a client with HTTP Basic credentials.
    OAuthForm {
        path: String,
        client: (String, String),
        form: Vec<(&'static str, String)>,
        expect: StatusCode,
    },
}

#[tokio::test]
async fn every_route_denies_another_orgs_data() {
    let server = TestServer::start().await;
    let a = server.new_org("Alpha").await;
    let b = server.new_org("Bravo").await;
    let a_member_email = unique_email("alpha-member");
    let a_member = server.invite(&a, &a_member_email, "member").await;
    let (s, created) = server
        .call(
            &a.key,
            Method::POST,
            "/v1/api-keys",
            Some(json!({"name": "alpha bot", "scopes": ["dial:check"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let a_key_id = created["api_key"]["id"].as_str().unwrap().to_owned();
    let a_bot_token = created["token"].as_str().unwrap().to_owned();
    let (a_client_id, a_client_secret) = server.oauth_client(&a, &["dial:check"]).await;
    let (b_client_id, b_client_secret) = server.oauth_client(&b, &["dial:check"]).await;
    let a_access_token = server
        .oauth_token(&a_client_id, &a_client_secret, None)
        .await
        .1["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = server
        .call(
            &a.key,
            Method::PATCH,
            "/v1/org",
            Some(json!({"contact_email": "compliance@alpha-secret.example.com"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // Issue 9: a call of A's with a transcript, an extraction and a policy.
    let (s, call) = server
        .call(
            &a.key,
            Method::POST,
            "/v1/calls",
            Some(
                json!({"external_id": "alpha-ext-call", "direction": "outbound",
                        "campaign_id": "alpha-campaign", "started_at": "2026-11-30T15:00:00Z"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{call}");
    let a_call = call["id"].as_str().unwrap().to_owned();
    let (s, v) = server
        .call(
            &a.key,
            Method::POST,
            &format!("/v1/calls/{a_call}/transcript"),
            Some(json!({"turns": [{"speaker": "caller", "text": "alphaword transcript"}]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = server
        .call(
            &a.key,
            Method::POST,
            &format!("/v1/calls/{a_call}/extractions"),
            Some(json!({"fields": {"alpha_field": "alphavalue"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = server
        .call(
            &a.key,
            Method::PUT,
            "/v1/redaction-policy",
            Some(json!({"strict_pci": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let a_policy = v["id"].as_str().unwrap().to_owned();

    let a_provider_secret = "sk_alpha_provider_secret_0123456789";
    let (s, created) = server
        .call(
            &a.key,
            Method::POST,
            "/v1/provider-credentials",
            Some(json!({
                "kind": "retell",
                "label": "alpha retell",
                "secret": {"api_key": a_provider_secret},
                "policy": {"vendor_trains_on_data": false, "retention": "zero"},
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let a_credential_id = created["id"].as_str().unwrap().to_owned();

    // Signed webhooks (issue 10): A's endpoint.
    let (s, created) = server
        .call(
            &a.key,
            Method::POST,
            "/v1/webhook-endpoints",
            Some(
                json!({"url": "https://alpha-hooks.example.com/in", "description": "alpha endpoint",
                        "event_types": ["lead.suppressed"]}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let a_endpoint = created["id"].as_str().unwrap().to_owned();

    // The dial gate: A's campaign, lead, suppression and decision.
    let (s, campaign) = server
        .call(
            &a.key,
            Method::POST,
            "/v1/campaigns",
            Some(json!({"name": "alpha-secret campaign", "purpose": "telemarketing", "channel": "voice", "voice": "ai"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{campaign}");
    let a_campaign = campaign["id"].as_str().unwrap().to_owned();
    let (s, v) = server
        .call(
            &a.key,
            Method::PUT,
            &format!("/v1/campaigns/{a_campaign}/redaction-policy"),
            Some(json!({"min_score": 10})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let a_phone = "+18505550142".to_owned();
    let (s, lead) = server
        .call(
            &a.key,
            Method::POST,
            "/v1/leads",
            Some(json!({"phone": "(850) 555-0142", "state": "FL", "name": "alpha-secret lead",
                "campaign_id": a_campaign, "consent": {"type": "prior_express_written",
                "timestamp": "2026-01-01T00:00:00Z", "source": "alpha-secret form", "text_version": "v1",
                "captured_by": "web"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{lead}");
    let a_lead = lead["id"].as_str().unwrap().to_owned();
    let (s, sup) = server
        .call(
            &a.key,
            Method::POST,
            "/v1/suppressions",
            Some(json!({"number": a_phone, "reason": "alpha-secret reason"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sup}");
    let a_suppression = sup["id"].as_str().unwrap().to_owned();
    let (s, check) = server
        .call(
            &a.key,
            Method::POST,
            "/v1/dial-checks",
            Some(json!({"lead_id": a_lead, "campaign_id": a_campaign, "channel": "voice"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{check}");
    let a_check = check["id"].as_str().unwrap().to_owned();

    // Every string that would betray org A if B ever saw it.
    let secrets: Vec<String> = vec![
        a.id.clone(),
        a.name.clone(),
        a.owner_id.clone(),
        a.owner_email.clone(),
        a.key.clone(),
        a.key_id.clone(),
        a.key[..24].to_owned(),
        a_member.clone(),
        a_member_email.clone(),
        a_key_id.clone(),
        a_bot_token.clone(),
        "alpha-secret".into(),
        "alpha bot".into(),
        a_client_id.clone(),
        a_client_secret.clone(),
        a_access_token.clone(),
        a_campaign.clone(),
        a_phone.clone(),
        a_lead.clone(),
        a_suppression.clone(),
        a_check.clone(),
        a_credential_id.clone(),
        a_provider_secret.into(),
        "alpha retell".into(),
        a_call.clone(),
        a_policy.clone(),
        "alpha-ext-call".into(),
        "alpha-campaign".into(),
        "alphaword".into(),
        "alpha_field".into(),
        "alphavalue".into(),
    ];

    let doc: Value = server
        .http
        .get(format!("{}/openapi.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.push((method.to_uppercase(), path.clone()));
        }
    }

    let mut cases: BTreeMap<(String, String), Case> = BTreeMap::new();
    let mut add = |m: &str, p: &str, c: Case| {
        cases.insert((m.to_owned(), p.to_owned()), c);
    };
    let public = |p: &str, expect: StatusCode| Case::Public {
        path: p.to_owned(),
        expect,
    };
    add("GET", "/healthz", public("/healthz", StatusCode::OK));
    add("GET", "/readyz", public("/readyz", StatusCode::OK));
    add("GET", "/metrics", public("/metrics", StatusCode::OK));
    add(
        "GET",
        "/openapi.json",
        public("/openapi.json", StatusCode::OK),
    );
    add(
        "GET",
        "/.well-known/security.txt",
        public("/.well-known/security.txt", StatusCode::OK),
    );
    add(
        "GET",
        "/assets/tollgate.css",
        public("/assets/tollgate.css", StatusCode::OK),
    );
    add(
        "GET",
        "/bootstrap/{token}",
        public(
            &format!("/bootstrap/{}", a.bootstrap_token),
            StatusCode::GONE,
        ),
    );
    add("POST", "/bootstrap", Case::BootstrapForm);
    let own = |p: &str, body: Option<Value>, expect: StatusCode| Case::Own {
        path: p.to_owned(),
        body,
        expect,
    };
    add("GET", "/v1/me", own("/v1/me", None, StatusCode::OK));
    add("GET", "/v1/org", own("/v1/org", None, StatusCode::OK));
    add(
        "PATCH",
        "/v1/org",
        own(
            "/v1/org",
            Some(json!({"name": "Bravo Renamed"})),
            StatusCode::OK,
        ),
    );
    add(
        "GET",
        "/v1/members",
        own("/v1/members", None, StatusCode::OK),
    );
    // Inviting A's member's address into B must not reveal that the person exists elsewhere.
    add(
        "POST",
        "/v1/members",
        own(
            "/v1/members",
            Some(json!({"email": a_member_email, "role": "viewer"})),
            StatusCode::CREATED,
        ),
    );
    add(
        "GET",
        "/v1/api-keys",
        own("/v1/api-keys", None, StatusCode::OK),
    );
    add(
        "POST",
        "/v1/api-keys",
        own(
            "/v1/api-keys",
            Some(json!({"name": "bravo bot", "scopes": ["leads:read"]})),
            StatusCode::CREATED,
        ),
    );
    add(
        "GET",
        "/v1/audit-events",
        own("/v1/audit-events", None, StatusCode::OK),
    );
    add(
        "GET",
        "/v1/audit-events/export",
        own("/v1/audit-events/export", None, StatusCode::OK),
    );
    add(
        "GET",
        "/v1/audit-checkpoints",
        own("/v1/audit-checkpoints", None, StatusCode::OK),
    );
    let foreign = |p: String, body: Option<Value>| Case::Foreign { path: p, body };
    add(
        "GET",
        "/v1/members/{member_id}",
        foreign(format!("/v1/members/{a_member}"), None),
    );
    add(
        "PATCH",
        "/v1/members/{member_id}",
        foreign(
            format!("/v1/members/{a_member}"),
            Some(json!({"role": "admin"})),
        ),
    );
    add(
        "DELETE",
        "/v1/members/{member_id}",
        foreign(format!("/v1/members/{a_member}"), None),
    );
    add(
        "GET",
        "/v1/api-keys/{key_id}",
        foreign(format!("/v1/api-keys/{a_key_id}"), None),
    );
    add(
        "DELETE",
        "/v1/api-keys/{key_id}",
        foreign(format!("/v1/api-keys/{a_key_id}"), None),
    );

    add(
        "GET",
        "/v1/oauth-clients",
        own("/v1/oauth-clients", None, StatusCode::OK),
    );
    add(
        "POST",
        "/v1/oauth-clients",
        own(
            "/v1/oauth-clients",
            Some(json!({"name": "bravo client", "scopes": ["leads:read"]})),
            StatusCode::CREATED,
        ),
    );
    add(
        "GET",
        "/v1/oauth-clients/{client_id}",
        foreign(format!("/v1/oauth-clients/{a_client_id}"), None),
    );
    add(
        "DELETE",
        "/v1/oauth-clients/{client_id}",
        foreign(format!("/v1/oauth-clients/{a_client_id}"), None),
    );
    add(
        "GET",
        "/.well-known/oauth-authorization-server",
        public("/.well-known/oauth-authorization-server", StatusCode::OK),
    );
    // B's secret with A's client id gets no token.
    add(
        "POST",
        "/oauth/token",
        Case::OAuthForm {
            path: "/oauth/token".into(),
            client: (a_client_id.clone(), b_client_secret.clone()),
            form: vec![("grant_type", "client_credentials".into())],
            expect: StatusCode::UNAUTHORIZED,
        },
    );
    // B's client sees A's token as inactive and cannot revoke it.
    add(
        "POST",
        "/oauth/introspect",
        Case::OAuthForm {
            path: "/oauth/introspect".into(),
            client: (b_client_id.clone(), b_client_secret.clone()),
            form: vec![("token", a_access_token.clone())],
            expect: StatusCode::OK,
        },
    );
    add(
        "POST",
        "/oauth/revoke",
        Case::OAuthForm {
            path: "/oauth/revoke".into(),
            client: (b_client_id.clone(), b_client_secret.clone()),
            form: vec![("token", a_access_token.clone())],
            expect: StatusCode::OK,
        },
    );

    // Issue 9: redaction on every write path.
    add(
        "POST",
        "/v1/redactions",
        own(
            "/v1/redactions",
            Some(json!({"text": "card 4111 1111 1111 1111"})),
            StatusCode::OK,
        ),
    );
    // B's policy is its own: the standard one, whatever A chose.
    add(
        "GET",
        "/v1/redaction-policy",
        own("/v1/redaction-policy", None, StatusCode::OK),
    );
    add(
        "PUT",
        "/v1/redaction-policy",
        own(
            "/v1/redaction-policy",
            Some(json!({"card": "last_four"})),
            StatusCode::OK,
        ),
    );
    // A's campaign has a policy of its own; B can neither read, set nor
    // remove it.
    add(
        "GET",
        "/v1/campaigns/{campaign_id}/redaction-policy",
        foreign(format!("/v1/campaigns/{a_campaign}/redaction-policy"), None),
    );
    add(
        "PUT",
        "/v1/campaigns/{campaign_id}/redaction-policy",
        foreign(
            format!("/v1/campaigns/{a_campaign}/redaction-policy"),
            Some(json!({"strict_pci": true})),
        ),
    );
    add(
        "DELETE",
        "/v1/campaigns/{campaign_id}/redaction-policy",
        foreign(format!("/v1/campaigns/{a_campaign}/redaction-policy"), None),
    );
    add("GET", "/v1/calls", own("/v1/calls", None, StatusCode::OK));
    add(
        "POST",
        "/v1/calls",
        own(
            "/v1/calls",
            Some(
                json!({"external_id": "bravo-ext-call", "direction": "inbound",
                        "started_at": "2026-11-30T15:00:00Z"}),
            ),
            StatusCode::CREATED,
        ),
    );
    add(
        "GET",
        "/v1/calls/{call_id}",
        foreign(format!("/v1/calls/{a_call}"), None),
    );
    add(
        "GET",
        "/v1/calls/{call_id}/transcript",
        foreign(format!("/v1/calls/{a_call}/transcript"), None),
    );
    add(
        "POST",
        "/v1/calls/{call_id}/transcript",
        foreign(
            format!("/v1/calls/{a_call}/transcript"),
            Some(json!({"turns": [{"speaker": "agent", "text": "hello"}]})),
        ),
    );
    add(
        "GET",
        "/v1/calls/{call_id}/extractions",
        foreign(format!("/v1/calls/{a_call}/extractions"), None),
    );
    add(
        "POST",
        "/v1/calls/{call_id}/extractions",
        foreign(
            format!("/v1/calls/{a_call}/extractions"),
            Some(json!({"fields": {"x": 1}})),
        ),
    );

    let provider_body = json!({
        "kind": "retell",
        "label": "bravo retell",
        "secret": {"api_key": "sk_bravo_provider_secret_0123456789"},
        "policy": {"vendor_trains_on_data": false, "retention": "zero"},
    });
    add(
        "GET",
        "/v1/provider-credentials",
        own("/v1/provider-credentials", None, StatusCode::OK),
    );
    add(
        "POST",
        "/v1/provider-credentials",
        own(
            "/v1/provider-credentials",
            Some(provider_body),
            StatusCode::CREATED,
        ),
    );
    add(
        "GET",
        "/v1/provider-credentials/{credential_id}",
        foreign(format!("/v1/provider-credentials/{a_credential_id}"), None),
    );
    add(
        "PUT",
        "/v1/provider-credentials/{credential_id}",
        foreign(
            format!("/v1/provider-credentials/{a_credential_id}"),
            Some(json!({"secret": {"api_key": "sk_bravo_overwrite_attempt_0123456789"}})),
        ),
    );
    add(
        "DELETE",
        "/v1/provider-credentials/{credential_id}",
        foreign(format!("/v1/provider-credentials/{a_credential_id}"), None),
    );

    // The dial gate: B's own lists never show A's entries; A's objects are 404.
    add("GET", "/v1/leads", own("/v1/leads", None, StatusCode::OK));
    add(
        "POST",
        "/v1/leads",
        foreign(
            "/v1/leads".into(),
            Some(json!({"phone": "305 555 0100", "campaign_id": a_campaign})),
        ),
    );
    add(
        "GET",
        "/v1/leads/{lead_id}",
        foreign(format!("/v1/leads/{a_lead}"), None),
    );
    add(
        "GET",
        "/v1/campaigns",
        own("/v1/campaigns", None, StatusCode::OK),
    );
    add(
        "POST",
        "/v1/campaigns",
        own(
            "/v1/campaigns",
            Some(
                json!({"name": "bravo", "purpose": "informational", "channel": "text", "voice": "live"}),
            ),
            StatusCode::CREATED,
        ),
    );
    add(
        "GET",
        "/v1/campaigns/{campaign_id}",
        foreign(format!("/v1/campaigns/{a_campaign}"), None),
    );
    add(
        "PATCH",
        "/v1/campaigns/{campaign_id}",
        foreign(
            format!("/v1/campaigns/{a_campaign}"),
            Some(json!({"paused": true})),
        ),
    );
    add(
        "GET",
        "/v1/suppressions",
        own("/v1/suppressions", None, StatusCode::OK),
    );
    // A already suppressed this number; for B it is new (201, not 200).
    add(
        "POST",
        "/v1/suppressions",
        own(
            "/v1/suppressions",
            Some(json!({"number": "850-555-0142"})),
            StatusCode::CREATED,
        ),
    );
    add(
        "DELETE",
        "/v1/suppressions/{suppression_id}",
        foreign(
            format!("/v1/suppressions/{a_suppression}"),
            Some(json!({"reason": "bravo tries"})),
        ),
    );
    add(
        "POST",
        "/v1/opt-outs",
        foreign(
            "/v1/opt-outs".into(),
            Some(json!({"lead_id": a_lead, "text": "stop"})),
        ),
    );
    add(
        "POST",
        "/v1/dial-checks",
        foreign(
            "/v1/dial-checks".into(),
            Some(json!({"lead_id": a_lead, "campaign_id": a_campaign, "channel": "voice"})),
        ),
    );
    add(
        "GET",
        "/v1/dial-checks/{check_id}",
        foreign(format!("/v1/dial-checks/{a_check}"), None),
    );
    add(
        "GET",
        "/v1/gate-settings",
        own("/v1/gate-settings", None, StatusCode::OK),
    );
    // B pausing its own gate must not pause A's (checked below).
    add(
        "PATCH",
        "/v1/gate-settings",
        own(
            "/v1/gate-settings",
            Some(json!({"paused": true, "paused_reason": "bravo pause"})),
            StatusCode::OK,
        ),
    );

    // Signed webhooks (issue 10): B's list never shows A's endpoint; A's
    // endpoint is 404 to every operation of B.
    add(
        "GET",
        "/v1/webhook-endpoints",
        own("/v1/webhook-endpoints", None, StatusCode::OK),
    );
    add(
        "POST",
        "/v1/webhook-endpoints",
        own(
            "/v1/webhook-endpoints",
            Some(
                json!({"url": "https://bravo-hooks.example.com/in", "event_types": ["lead.suppressed"]}),
            ),
            StatusCode::CREATED,
        ),
    );
    for (method, suffix, body) in [
        ("GET", "", None),
        ("PATCH", "", Some(json!({"enabled": false}))),
        ("DELETE", "", None),
        ("POST", "/rotate-secret", None),
        ("POST", "/test", None),
        ("GET", "/deliveries", None),
        (
            "POST",
            "/replay",
            Some(json!({"since": "2020-01-01T00:00:00Z"})),
        ),
    ] {
        add(
            method,
            &format!("/v1/webhook-endpoints/{{endpoint_id}}{suffix}"),
            foreign(format!("/v1/webhook-endpoints/{a_endpoint}{suffix}"), body),
        );
    }
    // Issue 8: a scrub of another organization's campaign (and lead).
    add(
        "POST",
        "/v1/dnc/scrub",
        foreign(
            "/v1/dnc/scrub".into(),
            Some(
                json!({"campaign_id": a_campaign, "channel": "voice", "rows": [{"lead_id": a_lead}]}),
            ),
        ),
    );

    let missing: Vec<_> = routes.iter().filter(|r| !cases.contains_key(*r)).collect();
    assert!(
        missing.is_empty(),
        "routes without an isolation case: {missing:?}"
    );

    let mut covered = 0;
    for route in &routes {
        let (status, text) = match &cases[route] {
            Case::Public { path, expect } => {
                let (s, t, _) = server.raw(None, Method::GET, path, None).await;
                assert_eq!(s, *expect, "{route:?}: {t}");
                (s, t)
            }
            Case::Own { path, body, expect } => {
                let method = Method::from_bytes(route.0.as_bytes()).unwrap();
                let (s, t, _) = server.raw(Some(&b.key), method, path, body.clone()).await;
                assert_eq!(s, *expect, "{route:?}: {t}");
                (s, t)
            }
            Case::Foreign { path, body } => {
                let method = Method::from_bytes(route.0.as_bytes()).unwrap();
                let (s, t, h) = server.raw(Some(&b.key), method, path, body.clone()).await;
                assert_eq!(s, StatusCode::NOT_FOUND, "{route:?} answered {s}: {t}");
                assert_eq!(h["content-type"], "application/problem+json");
                (s, t)
            }
            Case::BootstrapForm => {
                let res = server
                    .http
                    .post(format!("{}/bootstrap", server.base))
                    .form(&[
                        ("token", a.bootstrap_token.as_str()),
                        ("org_name", "x"),
                        ("owner_name", "y"),
                        ("owner_email", "y@example.com"),
                    ])
                    .send()
                    .await
                    .unwrap();
                (res.status(), res.text().await.unwrap())
            }
            Case::OAuthForm {
                path,
                client,
                form,
                expect,
            } => {
                let res = server
                    .http
                    .post(format!("{}{path}", server.base))
                    .basic_auth(&client.0, Some(&client.1))
                    .form(form)
                    .send()
                    .await
                    .unwrap();
                let (s, t) = (res.status(), res.text().await.unwrap());
                assert_eq!(s, *expect, "{route:?}: {t}");
                if path == "/oauth/introspect" {
                    assert_eq!(t, r#"{"active":false}"#, "{route:?}");
                }
                (s, t)
            }
        };
        // B's own log records B's probes, including the ids B typed; those
        // echoes are B's input. Everything else in it is still scanned.
        let text = if route.1.starts_with("/v1/audit-events") {
            without_own_path_ids(&text)
        } else {
            text
        };
        for secret in &secrets {
            // B typed this address itself when inviting; echoing it is fine.
            if route.1 == "/v1/members" && route.0 == "POST" && *secret == a_member_email {
                continue;
            }
            assert!(
                !text.contains(secret.as_str()),
                "{route:?} ({status}) leaked A's `{secret}`: {text}"
            );
        }
        covered += 1;
    }

    // A's objects are untouched by B's attempts.
    let (s, member) = server
        .call(
            &a.key,
            Method::GET,
            &format!("/v1/members/{a_member}"),
            None,
        )
        .await;
    assert_eq!(
        (s, member["role"].as_str()),
        (StatusCode::OK, Some("member"))
    );
    let (s, key) = server
        .call(
            &a.key,
            Method::GET,
            &format!("/v1/api-keys/{a_key_id}"),
            None,
        )
        .await;
    assert_eq!((s, &key["revoked_at"]), (StatusCode::OK, &Value::Null));
    let (s, org) = server.call(&a.key, Method::GET, "/v1/org", None).await;
    assert_eq!(
        (s, org["name"].as_str()),
        (StatusCode::OK, Some(a.name.as_str()))
    );
    let (s, client) = server
        .call(
            &a.key,
            Method::GET,
            &format!("/v1/oauth-clients/{a_client_id}"),
            None,
        )
        .await;
    assert_eq!((s, &client["revoked_at"]), (StatusCode::OK, &Value::Null));
    let (s, credential) = server
        .call(
            &a.key,
            Method::GET,
            &format!("/v1/provider-credentials/{a_credential_id}"),
            None,
        )
        .await;
    assert_eq!(
        (
            s,
            credential["last_four"].as_str(),
            credential["updated_at"] == credential["created_at"]
        ),
        (StatusCode::OK, Some("6789"), true),
        "B's attempts changed A's credential"
    );
    let (s, endpoint) = server
        .call(
            &a.key,
            Method::GET,
            &format!("/v1/webhook-endpoints/{a_endpoint}"),
            None,
        )
        .await;
    assert_eq!(
        (
            s,
            &endpoint["enabled"],
            endpoint["updated_at"] == endpoint["created_at"]
        ),
        (StatusCode::OK, &json!(true), true),
        "B's attempts changed A's webhook endpoint"
    );
    let (s, cp) = server
        .call(
            &a.key,
            Method::GET,
            &format!("/v1/campaigns/{a_campaign}/redaction-policy"),
            None,
        )
        .await;
    assert_eq!(
        (s, &cp["min_score"], &cp["strict_pci"]),
        (StatusCode::OK, &json!(10), &json!(true)),
        "B's attempts changed A's campaign policy"
    );
    let (s, t) = server
        .call(
            &a.key,
            Method::GET,
            &format!("/v1/calls/{a_call}/transcript"),
            None,
        )
        .await;
    assert_eq!(
        (s, t["turns"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );
    let (s, p) = server
        .call(&a.key, Method::GET, "/v1/redaction-policy", None)
        .await;
    assert_eq!(
        (s, &p["strict_pci"], &p["card"]),
        (StatusCode::OK, &json!(true), &json!("tag"))
    );
    let (s, _) = server
        .call(&a_access_token, Method::GET, "/v1/org", None)
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "B's revocation attempt revoked A's token"
    );

    // A's gate objects are untouched: the lead is still there, the
    // suppression active, the campaign and the org not paused.
    let (s, _) = server
        .call(&a.key, Method::GET, &format!("/v1/leads/{a_lead}"), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, sup) = server
        .call(
            &a.key,
            Method::GET,
            &format!("/v1/suppressions?number={}", "8505550142"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(sup["data"].as_array().unwrap().len(), 1, "{sup}");
    assert_eq!(sup["data"][0]["removed_at"], Value::Null);
    let (_, check) = server
        .call(
            &a.key,
            Method::POST,
            "/v1/dial-checks",
            Some(json!({"lead_id": a_lead, "campaign_id": a_campaign, "channel": "voice"})),
        )
        .await;
    let codes: Vec<&str> = check["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"suppressed"), "{check}");
    assert!(
        !codes.contains(&"org_paused"),
        "B's pause reached A: {check}"
    );
    assert!(!codes.contains(&"campaign_paused"), "{check}");

    println!(
        "isolation: covered {covered} of {} routes ({} backend)",
        routes.len(),
        crate::harness::backend()
    );
    assert_eq!(covered, routes.len());
    assert_eq!(
        routes.len(),
        tollgate_server::access::ROUTES
            .iter()
            .filter(|r| r.surface == tollgate_server::access::Surface::Api)
            .count(),
        "OpenAPI and the permission table disagree"
    );
}

#[tokio::test]
async fn openapi_and_permission_table_list_the_same_routes() {
    let doc = serde_json::to_value(tollgate_server::openapi_document()).unwrap();
    assert_eq!(
        doc["openapi"].as_str().map(|v| v.starts_with("3.1")),
        Some(true)
    );
    let mut from_doc = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            from_doc.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    let mut from_table: Vec<String> = tollgate_server::access::ROUTES
        .iter()
        .filter(|r| r.surface == tollgate_server::access::Surface::Api)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    from_doc.sort();
    from_table.sort();
    assert_eq!(from_doc, from_table);
}

fn without_own_path_ids(text: &str) -> String {
    let scrub = |e: &mut Value| {
        if e["action"] == "api.call" {
            e["details"]["path_ids"] = Value::Null;
        }
    };
    // A JSON page, or JSON Lines from the export.
    if let Ok(mut page) = serde_json::from_str::<Value>(text)
        && page["data"].is_array()
    {
        page["data"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .for_each(scrub);
        return page.to_string();
    }
    text.lines()
        .map(|l| {
            let mut e: Value = serde_json::from_str(l).unwrap();
            scrub(&mut e);
            e.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
