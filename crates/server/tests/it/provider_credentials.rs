//! Provider credentials over HTTP: owners and admins only, whole-secret
//! replacement, deletion, bad input refused without a change, and every
//! change audited without its secret.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestServer, unique_email};

fn body(kind: &str, secret: Value) -> Value {
    json!({
        "kind": kind,
        "label": format!("{kind} production"),
        "secret": secret,
        "policy": {"vendor_trains_on_data": false, "retention": "limited", "retention_days": 30},
    })
}

#[tokio::test]
async fn lifecycle_roles_and_bad_input() {
    let server = TestServer::start().await;
    let org = server.new_org("Providers").await;
    let path = "/v1/provider-credentials";

    let (s, created) = server
        .call(
            &org.key,
            Method::POST,
            path,
            Some(body(
                "twilio",
                json!({"account_sid": "AC0123456789", "auth_token": "0123456789abcdef0123456789abWXYZ"}),
            )),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("pcr_"));
    assert_eq!(created["kind"], "twilio");
    assert_eq!(created["last_four"], "WXYZ");
    assert_eq!(created["policy"]["retention_days"], 30);
    let fields: Vec<&String> = created.as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        [
            "created_at",
            "created_by",
            "id",
            "kind",
            "label",
            "last_four",
            "policy",
            "updated_at"
        ],
        "no secret field in the answer"
    );

    // Bad input changes nothing.
    let before = server.audit_count(&org).await;
    for (bad, why) in [
        (body("retell", json!({})), "missing field"),
        (body("retell", json!({"api_key": ""})), "empty"),
        (
            body("retell", json!({"api_key": " padded-secret-value "})),
            "padded",
        ),
        (
            body("retell", json!({"api_key": "x".repeat(8193)})),
            "too long",
        ),
        (
            body("retell", json!({"api_key": "k", "extra": "v"})),
            "unknown field",
        ),
        (
            body("twilio", json!({"auth_token": "0123456789abcdef"})),
            "missing sid",
        ),
        (
            body("carrier-pigeon", json!({"api_key": "k"})),
            "unknown kind",
        ),
        (
            json!({"kind": "retell", "label": "", "secret": {"api_key": "k"}, "policy": {"vendor_trains_on_data": false, "retention": "zero"}}),
            "empty label",
        ),
        (
            json!({"kind": "retell", "label": "l", "secret": {"api_key": "k"}, "policy": {"vendor_trains_on_data": false, "retention": "zero", "retention_days": 3}}),
            "days without limited",
        ),
        (
            json!({"kind": "retell", "label": "l", "secret": {"api_key": "k"}}),
            "no policy",
        ),
    ] {
        let (s, v) = server.call(&org.key, Method::POST, path, Some(bad)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{why}: {v}");
    }
    assert_eq!(server.audit_count(&org).await, before);

    // Replacement is whole and keeps the label unless given.
    let one = format!("{path}/{id}");
    let (s, v) = server
        .call(
            &org.key,
            Method::PUT,
            &one,
            Some(json!({"secret": {"auth_token": "only-half"}})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = server
        .call(
            &org.key,
            Method::PUT,
            &one,
            Some(json!({"secret": {"account_sid": "AC0123456789", "auth_token": "short"}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["last_four"], "",
        "four characters of a short secret are not shown"
    );
    assert_eq!(v["label"], "twilio production");

    // Members and viewers may neither list nor change credentials.
    for role in ["member", "viewer"] {
        let person = server.invite(&org, &unique_email(role), role).await;
        let key = server.key_for_member(&org, &person).await;
        for (method, p, b) in [
            (Method::GET, path.to_owned(), None),
            (Method::GET, one.clone(), None),
            (
                Method::POST,
                path.to_owned(),
                Some(body("retell", json!({"api_key": "k"}))),
            ),
            (
                Method::PUT,
                one.clone(),
                Some(json!({"secret": {"account_sid": "a", "auth_token": "b"}})),
            ),
            (Method::DELETE, one.clone(), None),
        ] {
            let (s, v) = server.call(&key, method.clone(), &p, b).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{role} {method} {p}: {v}");
        }
    }
    let admin = server.invite(&org, &unique_email("admin"), "admin").await;
    let admin_key = server.key_for_member(&org, &admin).await;
    let (s, list) = server.call(&admin_key, Method::GET, path, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);

    let (s, _) = server.call(&admin_key, Method::DELETE, &one, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = server.call(&org.key, Method::GET, &one, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, _) = server.call(&org.key, Method::DELETE, &one, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let events = server.audit_events(&org).await;
    let actions: Vec<&str> = events
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("provider_credential."))
        .collect();
    assert_eq!(
        actions,
        [
            "provider_credential.created",
            "provider_credential.replaced",
            "provider_credential.deleted"
        ]
    );
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains("0123456789abcdef0123456789abWXYZ"));
    assert!(text.contains("WXYZ"), "the audit trail shows the last four");
}

/// A DEK rotation started and abandoned (the CLI stopped) is carried to the
/// end by the running server, and every credential stays usable.
#[tokio::test]
async fn the_server_finishes_an_abandoned_dek_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::harness::config(dir.path());
    config.security.dek_rotation_poll_secs = 1;
    let server = TestServer::start_with(config, dir).await;
    let org = server.new_org("Rotating").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (s, v) = server
            .call(
                &org.key,
                Method::POST,
                "/v1/provider-credentials",
                Some(body(
                    "retell",
                    json!({"api_key": format!("sk_rotate_{i}_0123456789abcdef")}),
                )),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    let org_id = tollgate_core::OrgId::parse(&org.id).unwrap();
    let store = server.store();
    let started = store
        .start_dek_rotation(&org_id, server.state.now())
        .await
        .unwrap();
    // The operator's command died after one batch of two.
    let partial = store.run_dek_rotation(&org_id, 2, Some(1)).await.unwrap();
    assert!(!partial.finished);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while store.dek_rotation_running(&org_id).await.unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not finish the rotation"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let events = server.audit_events(&org).await;
    let retired = events
        .iter()
        .find(|e| e["action"] == "vault.dek_retired")
        .expect("the retirement is audited");
    assert_eq!(retired["details"]["active_key_id"], started.new_key_id);
    assert_eq!(retired["details"]["values_resealed"], 5);
    let actor = store
        .authenticate_api_key(&org.key, server.state.now())
        .await
        .unwrap();
    for (i, id) in ids.iter().enumerate() {
        let got = store
            .scope(&actor)
            .with_provider_secret(
                &tollgate_core::id::ProviderCredentialId::parse(id).unwrap(),
                async |_, s: &tollgate_store::SecretFields| s.get("api_key").map(str::to_owned),
            )
            .await
            .unwrap();
        assert_eq!(got, Some(format!("sk_rotate_{i}_0123456789abcdef")));
    }
}
