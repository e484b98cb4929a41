//! Redaction on the write paths (issue 9): the one-off API, the policy, calls,
//! transcripts and extractions, and what happens to bad input.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestOrg, TestServer};

const CARD: &str = "4111 1111 1111 1111";

async fn send_bytes(
    server: &TestServer,
    org: &TestOrg,
    path: &str,
    body: Vec<u8>,
) -> (StatusCode, String, reqwest::header::HeaderMap) {
    let res = server
        .http
        .post(format!("{}{path}", server.base))
        .bearer_auth(&org.key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    (status, res.text().await.unwrap(), headers)
}

async fn new_call(server: &TestServer, org: &TestOrg, ext: &str) -> String {
    let (s, v) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/calls",
            Some(json!({"external_id": ext, "direction": "outbound", "started_at": "2026-11-30T15:00:00Z"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn one_off_redaction_returns_text_and_a_map_without_values() {
    let server = TestServer::start().await;
    let org = server.new_org("Redact").await;
    let before = server.audit_count(&org).await;
    let (s, v) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/redactions",
            Some(json!({"text": format!("my card is {CARD} thanks")})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["text"], "my card is [CARD] thanks");
    assert_eq!(
        v["findings"],
        json!([{"kind": "card", "start": 11, "end": 30, "redacted_start": 11, "redacted_end": 17}])
    );
    assert!(!v.to_string().contains("4111"));

    // A conversation: the card read over two caller turns, the agent's
    // question as context.
    let (s, v) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/redactions",
            Some(json!({"turns": [
                {"speaker": "agent", "text": "What is your social security number?"},
                {"speaker": "caller", "text": "it's 123 45 6789"},
            ]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["turns"][1]["text"], "it's [SSN]");
    assert_eq!(v["findings"][0]["turn"], 1);

    // Overrides may only remove more.
    let (s, v) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/redactions",
            Some(json!({"text": format!("card {CARD}"), "policy": {"card": "last_four"}})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/redactions",
            Some(json!({"text": "card payment, the code on the back is 123 and zip 90210", "policy": {"strict_pci": true}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(!v["text"].as_str().unwrap().contains("123"), "{v}");
    let (s, _) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/redactions",
            Some(json!({"text": "a", "turns": []})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // The answer to a body that does not fit never quotes it.
    let (s, t, _) = send_bytes(
        &server,
        &org,
        "/v1/redactions",
        format!(r#"{{"text": 5, "turns": "{CARD}"}}"#).into_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{t}");
    assert!(!t.contains("4111"), "{t}");
    // Nothing of a one-off redaction is stored.
    let stored = server.stored_bytes().await;
    if let Some(db) = stored {
        assert!(!db.contains("4111 1111"));
    }
    assert_eq!(
        server.audit_count(&org).await,
        before,
        "no change was audited"
    );
}

#[tokio::test]
async fn invalid_utf8_and_oversize_bodies_are_refused_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let org = server.new_org("BadInput").await;
    let call = new_call(&server, &org, "bad-input-call").await;
    let before = server.audit_count(&org).await;
    let mut invalid =
        format!(r#"{{"turns": [{{"speaker": "caller", "text": "card {CARD} "#).into_bytes();
    invalid.extend([0xff, 0xfe]);
    invalid.extend(br#""}]}"#);
    let huge = {
        let mut t = format!(r#"{{"turns": [{{"speaker": "caller", "text": "card {CARD} "#);
        t.push_str(&"a".repeat(2 * 1024 * 1024));
        t.push_str(r#""}]}"#);
        t.into_bytes()
    };
    for path in [
        "/v1/redactions".to_owned(),
        format!("/v1/calls/{call}/transcript"),
        format!("/v1/calls/{call}/extractions"),
    ] {
        let (s, t, h) = send_bytes(&server, &org, &path, invalid.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {t}");
        assert_eq!(h["content-type"], "application/problem+json");
        assert!(t.contains("\"code\":\"invalid_encoding\""), "{t}");
        assert!(!t.contains("4111"), "{t}");
        let (s, t, h) = send_bytes(&server, &org, &path, huge.clone()).await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {t}");
        assert_eq!(h["content-type"], "application/problem+json");
    }
    // A JSON document nested past any sane depth: refused, bounded.
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let (s, t, _) = send_bytes(
        &server,
        &org,
        &format!("/v1/calls/{call}/extractions"),
        deep.into_bytes(),
    )
    .await;
    assert!(
        [
            StatusCode::BAD_REQUEST,
            StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::UNPROCESSABLE_ENTITY
        ]
        .contains(&s),
        "{s} {t}"
    );
    let (s, _) = server
        .call(
            &org.key,
            Method::GET,
            &format!("/v1/calls/{call}/transcript"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, v) = server
        .call(
            &org.key,
            Method::GET,
            &format!("/v1/calls/{call}/extractions"),
            None,
        )
        .await;
    assert_eq!(v["data"], json!([]));
    assert_eq!(server.audit_count(&org).await, before);
    if let Some(db) = server.stored_bytes().await {
        assert!(!db.contains("4111 1111"));
    }
}

#[tokio::test]
async fn the_org_policy_is_kept_audited_and_applied_to_calls() {
    let server = TestServer::start().await;
    let org = server.new_org("Policy").await;
    let (s, v) = server
        .call(&org.key, Method::GET, "/v1/redaction-policy", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (&v["id"], &v["card"], &v["strict_pci"]),
        (&Value::Null, &json!("tag"), &json!(false))
    );
    assert_eq!(v["kinds"].as_array().unwrap().len(), 15);
    // Card numbers cannot be left in.
    let (s, v) = server
        .call(
            &org.key,
            Method::PUT,
            "/v1/redaction-policy",
            Some(json!({"kinds": ["ssn"]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = server
        .call(
            &org.key,
            Method::PUT,
            "/v1/redaction-policy",
            Some(json!({"kinds": ["card", "cvv", "expiry", "ssn"], "card": "last_four"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["id"].as_str().unwrap().starts_with("rdp_"));
    let events = server.audit_events(&org).await;
    let e = events
        .iter()
        .find(|e| e["action"] == "redaction_policy.updated")
        .expect("audited");
    assert_eq!(e["details"]["before"]["card"], "tag");
    assert_eq!(e["details"]["after"]["card"], "last_four");
    assert_eq!(
        e["details"]["after"]["kinds"],
        json!(["card", "cvv", "expiry", "ssn"])
    );

    // A member may submit but not change the policy.
    let member = server
        .invite(&org, &crate::harness::unique_email("m"), "member")
        .await;
    let member_key = server.key_for_member(&org, &member).await;
    let (s, _) = server
        .call(
            &member_key,
            Method::PUT,
            "/v1/redaction-policy",
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let call = new_call(&server, &org, "policy-call").await;
    let (s, v) = server
        .call(
            &member_key,
            Method::POST,
            &format!("/v1/calls/{call}/transcript"),
            Some(json!({"turns": [
                {"speaker": "agent", "text": "Card number please, and your email?"},
                {"speaker": "caller", "text": format!("{CARD}, jane@example.com")},
            ]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // Last four kept, e-mail left in: this org's policy.
    assert_eq!(v["turns"][1]["text"], "[CARD ****1111], jane@example.com");
    assert_eq!(v["policy"]["card"], "last_four");
    let (s, again) = server
        .call(
            &org.key,
            Method::GET,
            &format!("/v1/calls/{call}/transcript"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["turns"], v["turns"]);
    assert_eq!(again["findings"][0]["kind"], "card");
    let (s, v) = server
        .call(
            &member_key,
            Method::POST,
            &format!("/v1/calls/{call}/transcript"),
            Some(json!({"turns": [{"speaker": "agent", "text": "again"}]})),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("transcript_exists"))
    );
}

#[tokio::test]
async fn calls_and_extractions() {
    let server = TestServer::start().await;
    let org = server.new_org("Calls").await;
    let call = new_call(&server, &org, "CA0001").await;
    let (s, v) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/calls",
            Some(json!({"external_id": "CA0001", "direction": "inbound", "started_at": "2026-11-30T15:00:00Z"})),
        )
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::CONFLICT, Some("call_exists"))
    );
    // An identifier holding a card is refused, not stored.
    let (s, v) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/calls",
            Some(json!({"external_id": "4111111111111111", "direction": "inbound", "started_at": "2026-11-30T15:00:00Z"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(!v.to_string().contains("4111"));
    let (s, v) = server.call(&org.key, Method::GET, "/v1/calls", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    let (s, v) = server
        .call(&org.key, Method::GET, &format!("/v1/calls/{call}"), None)
        .await;
    assert_eq!((s, &v["has_transcript"]), (StatusCode::OK, &json!(false)));

    let (s, v) = server
        .call(
            &org.key,
            Method::POST,
            &format!("/v1/calls/{call}/extractions"),
            Some(json!({"fields": {
                "ssn": "123456789",
                "card_number": 4111111111111111u64,
                "amount": 129,
                "notes": ["call back at 415 555 0134"],
                "verified": true,
            }})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["fields"]["ssn"], "[SSN]");
    assert_eq!(v["fields"]["card_number"], "[CARD]");
    assert_eq!(v["fields"]["amount"], 129);
    assert_eq!(v["fields"]["notes"][0], "call back at [PHONE]");
    assert_eq!(v["fields"]["verified"], true);
    let paths: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(paths, ["/card_number", "/notes/0", "/ssn"]);
    let (s, list) = server
        .call(
            &org.key,
            Method::GET,
            &format!("/v1/calls/{call}/extractions"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["data"][0]["fields"], v["fields"]);
    // A field name that is a value is refused.
    let (s, v) = server
        .call(
            &org.key,
            Method::POST,
            &format!("/v1/calls/{call}/extractions"),
            Some(json!({"fields": {CARD: true}})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(!v.to_string().contains("4111"));
    let events = server.audit_events(&org).await;
    let e = events
        .iter()
        .find(|e| e["action"] == "call.extraction_added")
        .unwrap();
    assert_eq!(
        e["details"]["removed"],
        json!({"card": 1, "phone": 1, "ssn": 1})
    );
}

#[tokio::test]
async fn a_long_transcript_is_accepted_with_an_idempotency_key_and_replayed() {
    let server = TestServer::start().await;
    let org = server.new_org("Long").await;
    let call = new_call(&server, &org, "long-call").await;
    // About 300 KiB: over the general 64 KiB body limit, under the 1 MiB
    // limit of routes that take call words.
    let turns: Vec<Value> = (0..3000)
        .map(|i| {
            json!({"speaker": if i % 2 == 0 { "agent" } else { "caller" },
                   "text": format!("turn {i}: we talked about the weather and the payment plan for a while")})
        })
        .collect();
    let body = json!({ "turns": turns }).to_string();
    assert!(body.len() > 200_000);
    let send = || {
        server
            .http
            .post(format!("{}/v1/calls/{call}/transcript", server.base))
            .bearer_auth(&org.key)
            .header("idempotency-key", "long-transcript")
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = send().await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert!(again == first, "the replay differs from the first answer");
    // The general limit still holds elsewhere, with or without a key.
    let res = server
        .http
        .post(format!("{}/v1/api-keys", server.base))
        .bearer_auth(&org.key)
        .header("idempotency-key", "big-key-request")
        .json(&json!({"name": "x".repeat(100_000), "scopes": ["dial:check"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn concurrent_submissions_get_one_success_and_conflicts_never_a_500() {
    let server = TestServer::start().await;
    let org = server.new_org("Race").await;
    let create = |ext: &'static str| {
        server.call(
            &org.key,
            Method::POST,
            "/v1/calls",
            Some(json!({"external_id": ext, "direction": "inbound", "started_at": "2026-11-30T15:00:00Z"})),
        )
    };
    let results = futures_util::future::join_all((0..8).map(|_| create("race-call"))).await;
    let mut statuses: Vec<u16> = results.iter().map(|(s, _)| s.as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [201, 409, 409, 409, 409, 409, 409, 409],
        "{results:?}"
    );
    let call = results
        .iter()
        .find(|(s, _)| *s == StatusCode::CREATED)
        .unwrap()
        .1["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/calls/{call}/transcript");
    let submit = |i: usize| {
        server.call(
            &org.key,
            Method::POST,
            &path,
            Some(json!({"turns": [{"speaker": "caller", "text": format!("attempt {i}")}]})),
        )
    };
    let results = futures_util::future::join_all((0..8).map(submit)).await;
    let mut statuses: Vec<u16> = results.iter().map(|(s, _)| s.as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [201, 409, 409, 409, 409, 409, 409, 409],
        "{results:?}"
    );
    let events = server.audit_events(&org).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e["action"] == "call.transcript_added")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_policy_may_lower_the_threshold_but_not_raise_it_and_unknown_kinds_are_refused() {
    let server = TestServer::start().await;
    let org = server.new_org("Threshold").await;
    let put = |body: Value| server.call(&org.key, Method::PUT, "/v1/redaction-policy", Some(body));
    let (s, standard) = server
        .call(&org.key, Method::GET, "/v1/redaction-policy", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let max = standard["min_score"].as_u64().unwrap();
    let (s, v) = put(json!({"min_score": max + 1})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = put(json!({"kinds": ["card", "payment_digits"]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = put(json!({"kinds": ["card", "card"]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = put(json!({"card": "first_six"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // Nothing refused was kept or audited.
    assert!(
        !server
            .audit_events(&org)
            .await
            .iter()
            .any(|e| e["action"] == "redaction_policy.updated")
    );
    let (s, v) = put(json!({"min_score": 10})).await;
    assert_eq!((s, &v["min_score"]), (StatusCode::OK, &json!(10)));
    // The override on a one-off request may not go back above the org's.
    let (s, v) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/redactions",
            Some(json!({"text": "x", "policy": {"min_score": 11}})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/redactions",
            Some(json!({"text": "x", "policy": {"min_score": 5, "strict_pci": true}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (&v["policy"]["min_score"], &v["policy"]["strict_pci"]),
        (&json!(5), &json!(true))
    );
}

#[tokio::test]
async fn adversarial_bodies_at_the_limit_are_answered_in_bounded_time() {
    let server = TestServer::start().await;
    let org = server.new_org("Adversarial").await;
    let call = new_call(&server, &org, "adversarial-call").await;
    // Just under 1 MiB of one line of card-shaped digit groups and spoken
    // digits, and an extraction of 2,000 short values.
    let unit = "4111 1111 1111 1111 four one one one double five ";
    let text = unit.repeat((1 << 20) / unit.len() - 10);
    let fields: serde_json::Map<String, Value> = (0..1999)
        .map(|i| (format!("card_number_{i}"), json!("4111 1111 1111 1111")))
        .collect();
    let started = std::time::Instant::now();
    let (s, v) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/redactions",
            Some(json!({ "text": text })),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(!v["text"].as_str().unwrap().contains("4111"));
    let (s, _) = server
        .call(
            &org.key,
            Method::POST,
            &format!("/v1/calls/{call}/transcript"),
            Some(json!({"turns": [{"speaker": "caller", "text": text}]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = server
        .call(
            &org.key,
            Method::POST,
            &format!("/v1/calls/{call}/extractions"),
            Some(json!({ "fields": fields })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(!v["fields"].to_string().contains("4111"));
    let took = started.elapsed();
    // Debug build, shared machine: linear work takes well under a second
    // each; the bound catches super-linear behaviour, not noise.
    assert!(took.as_secs() < 60, "took {took:?}");
    println!("adversarial bodies at the limit: {took:?} for three requests (debug build)");
}

/// A campaign's own policy applies to the calls of that campaign, together
/// with the organization's: it can only remove more, never less.
#[tokio::test]
async fn a_campaigns_policy_applies_to_its_calls_and_only_tightens() {
    let server = TestServer::start().await;
    let org = server.new_org("CampaignPolicy").await;
    let (s, _) = server
        .call(
            &org.key,
            Method::PUT,
            "/v1/redaction-policy",
            Some(json!({"kinds": ["card", "cvv", "expiry", "ssn"], "card": "last_four"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, campaign) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/campaigns",
            Some(json!({"name": "PCI line", "purpose": "informational", "channel": "voice", "voice": "ai"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{campaign}");
    let cmp = campaign["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/campaigns/{cmp}/redaction-policy");
    let (s, _) = server.call(&org.key, Method::GET, &path, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "no policy of its own yet");
    // Tags instead of the last four, and e-mails too: stricter, accepted.
    let (s, p) = server
        .call(
            &org.key,
            Method::PUT,
            &path,
            Some(json!({"kinds": ["card", "cvv", "expiry", "ssn", "email"], "card": "tag"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    // Dropping a kind the organization removes: refused, nothing changed.
    let (s, e) = server
        .call(
            &org.key,
            Method::PUT,
            &path,
            Some(json!({"kinds": ["card"]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");

    let turns = json!({"turns": [
        {"speaker": "agent", "text": "Card number please, and your email?"},
        {"speaker": "caller", "text": format!("{CARD}, jane@example.com")},
    ]});
    let (s, v) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/calls",
            Some(
                json!({"external_id": "in-campaign", "direction": "outbound", "campaign_id": cmp,
                        "started_at": "2026-11-30T15:00:00Z"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let in_campaign = v["id"].as_str().unwrap().to_owned();
    let (s, v) = server
        .call(
            &org.key,
            Method::POST,
            &format!("/v1/calls/{in_campaign}/transcript"),
            Some(turns.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["turns"][1]["text"], "[CARD], [EMAIL]");
    let other = new_call(&server, &org, "no-campaign").await;
    let (_, v) = server
        .call(
            &org.key,
            Method::POST,
            &format!("/v1/calls/{other}/transcript"),
            Some(turns),
        )
        .await;
    assert_eq!(v["turns"][1]["text"], "[CARD ****1111], jane@example.com");

    // Removing it returns the campaign to the organization's policy.
    let (s, _) = server.call(&org.key, Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = server.call(&org.key, Method::GET, &path, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, events) = server
        .call(
            &org.key,
            Method::GET,
            "/v1/audit-events?action=redaction_policy.campaign_updated",
            None,
        )
        .await;
    assert_eq!(events["data"].as_array().unwrap().len(), 1);
}
