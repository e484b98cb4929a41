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
