//! Roles, enforced server-side on every request through the key's member.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{TestServer, unique_email};

#[tokio::test]
async fn a_viewer_cannot_write_and_a_member_cannot_manage_keys_or_members() {
    let server = TestServer::start().await;
    let org = server.new_org("Roles").await;
    let person = server.invite(&org, &unique_email("person"), "admin").await;
    let key = server.key_for_member(&org, &person).await;

    // As admin: may manage keys and members.
    let (s, _) = server.call(&key, Method::GET, "/v1/api-keys", None).await;
    assert_eq!(s, StatusCode::OK);

    // Demoted to member: the same key loses key and member management at once.
    let (s, _) = server
        .call(
            &org.key,
            Method::PATCH,
            &format!("/v1/members/{person}"),
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    for (method, path, body) in [
        (Method::GET, "/v1/api-keys".to_string(), None),
        (
            Method::POST,
            "/v1/api-keys".to_string(),
            Some(json!({"name": "x", "scopes": ["dial:check"]})),
        ),
        (Method::DELETE, format!("/v1/api-keys/{}", org.key_id), None),
        (
            Method::POST,
            "/v1/members".to_string(),
            Some(json!({"email": unique_email("m"), "role": "viewer"})),
        ),
        (
            Method::PATCH,
            format!("/v1/members/{}", org.owner_id),
            Some(json!({"role": "viewer"})),
        ),
        (
            Method::DELETE,
            format!("/v1/members/{}", org.owner_id),
            None,
        ),
        (
            Method::PATCH,
            "/v1/org".to_string(),
            Some(json!({"name": "Hijacked"})),
        ),
        (Method::GET, "/v1/audit-events".to_string(), None),
    ] {
        let (s, v) = server.call(&key, method.clone(), &path, body).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "member {method} {path}: {v}");
        assert_eq!(v["code"], "insufficient_role");
    }
    let (s, _) = server.call(&key, Method::GET, "/v1/org", None).await;
    assert_eq!(s, StatusCode::OK);

    // Demoted to viewer: reads only.
    let (s, _) = server
        .call(
            &org.key,
            Method::PATCH,
            &format!("/v1/members/{person}"),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = server
        .call(
            &key,
            Method::PATCH,
            "/v1/org",
            Some(json!({"name": "Viewer was here"})),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("insufficient_role"))
    );
    let (s, _) = server.call(&key, Method::GET, "/v1/members", None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, org_now) = server.call(&org.key, Method::GET, "/v1/org", None).await;
    assert_eq!(
        (s, org_now["name"].as_str()),
        (StatusCode::OK, Some(org.name.as_str()))
    );

    // Removed: the key stops working and is shown as revoked.
    let (s, _) = server
        .call(
            &org.key,
            Method::DELETE,
            &format!("/v1/members/{person}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = server.call(&key, Method::GET, "/v1/org", None).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("api_key_revoked"))
    );
    let (_, keys) = server
        .call(&org.key, Method::GET, "/v1/api-keys", None)
        .await;
    let reasons: Vec<_> = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["revoked_reason"].as_str())
        .collect();
    assert_eq!(reasons, vec!["creator_removed"]);
}

#[tokio::test]
async fn admins_cannot_touch_owners_and_the_last_owner_stays() {
    let server = TestServer::start().await;
    let org = server.new_org("Owners").await;
    let admin = server.invite(&org, &unique_email("admin"), "admin").await;
    let admin_key = server.key_for_member(&org, &admin).await;

    let (s, v) = server
        .call(
            &admin_key,
            Method::PATCH,
            &format!("/v1/members/{}", org.owner_id),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("owner_only"))
    );
    let (s, v) = server
        .call(
            &admin_key,
            Method::DELETE,
            &format!("/v1/members/{}", org.owner_id),
            None,
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("owner_only"))
    );
    let (s, v) = server
        .call(
            &admin_key,
            Method::POST,
            "/v1/members",
            Some(json!({"email": unique_email("o"), "role": "owner"})),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("owner_only"))
    );
    let (s, v) = server
        .call(
            &admin_key,
            Method::PATCH,
            &format!("/v1/members/{admin}"),
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("owner_only"))
    );

    // The only owner cannot demote or remove themself.
    let (s, v) = server
        .call(
            &org.key,
            Method::PATCH,
            &format!("/v1/members/{}", org.owner_id),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("last_owner"))
    );
    let (s, v) = server
        .call(
            &org.key,
            Method::DELETE,
            &format!("/v1/members/{}", org.owner_id),
            None,
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("last_owner"))
    );

    // With a second owner, the first may step down.
    let (s, _) = server
        .call(
            &org.key,
            Method::PATCH,
            &format!("/v1/members/{admin}"),
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = server
        .call(
            &org.key,
            Method::PATCH,
            &format!("/v1/members/{}", org.owner_id),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn concurrent_demotions_never_leave_an_org_without_owners() {
    let server = TestServer::start().await;
    let org = server.new_org("Race").await;
    let second = server.invite(&org, &unique_email("second"), "owner").await;
    let second_key = server.key_for_member(&org, &second).await;
    // Each owner demotes the other at the same moment: at most one may win.
    let (path_a, path_b) = (
        format!("/v1/members/{second}"),
        format!("/v1/members/{}", org.owner_id),
    );
    let a = server.call(
        &org.key,
        Method::PATCH,
        &path_a,
        Some(json!({"role": "viewer"})),
    );
    let b = server.call(
        &second_key,
        Method::PATCH,
        &path_b,
        Some(json!({"role": "viewer"})),
    );
    let (ra, rb) = tokio::join!(a, b);
    let oks = [ra.0, rb.0]
        .iter()
        .filter(|s| **s == StatusCode::OK)
        .count();
    assert!(oks <= 1, "both demotions succeeded: {ra:?} {rb:?}");
    let (_, members) = server
        .call(&org.key, Method::GET, "/v1/members", None)
        .await;
    let owners = members["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "owner")
        .count();
    assert_eq!(owners, 1);
}
