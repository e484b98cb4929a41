//! Signed webhooks through HTTP: endpoints, secrets shown once, signed
//! deliveries to a real HTTP receiver on loopback, rotation signing with
//! both secrets, events written with the change that caused them, retries,
//! 410 disabling the endpoint, and the lease that guards a claim.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tollgate_core::webhook_signature::{WebhookSecret, verify};

use crate::harness::{TestOrg, TestServer};

#[derive(Clone, Debug)]
struct Received {
    id: String,
    timestamp: i64,
    signature: String,
    custom: Option<String>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Statuses (and `Retry-After` values) the receiver answers, in order.
type Answers = Arc<Mutex<Vec<(u16, Option<&'static str>)>>>;

/// A real HTTP receiver on 127.0.0.1 that records every request and answers
/// with the statuses queued in `answers` (then 200).
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    answers: Answers,
}

impl Receiver {
    async fn start() -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let answers: Answers = Arc::default();
        let (g, a) = (got.clone(), answers.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let (g, a) = (g.clone(), a.clone());
                async move {
                    let h = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    g.lock().unwrap().push(Received {
                        id: h("webhook-id").unwrap_or_default(),
                        timestamp: h("webhook-timestamp")
                            .and_then(|t| t.parse().ok())
                            .unwrap_or(0),
                        signature: h("webhook-signature").unwrap_or_default(),
                        custom: h("x-tenant"),
                        body: body.to_vec(),
                    });
                    let next = {
                        let mut a = a.lock().unwrap();
                        if a.is_empty() {
                            None
                        } else {
                            Some(a.remove(0))
                        }
                    };
                    let (status, retry_after) = next.unwrap_or((200, None));
                    let mut res = axum::response::Response::new(axum::body::Body::from("ok"));
                    *res.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
                    if let Some(r) = retry_after {
                        res.headers_mut().insert("retry-after", r.parse().unwrap());
                    }
                    res
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url: format!("http://{addr}/hook"),
            got,
            answers,
        }
    }

    /// Waits (up to 20 s) until a delivery matching `pred` arrives.
    async fn wait_for(&self, pred: impl Fn(&Received) -> bool) -> Received {
        for _ in 0..400 {
            if let Some(r) = self.got.lock().unwrap().iter().find(|r| pred(r)) {
                return r.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "no matching delivery; got {:?}",
            self.got
                .lock()
                .unwrap()
                .iter()
                .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                .collect::<Vec<_>>()
        );
    }

    fn count(&self, id: &str) -> usize {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.id == id)
            .count()
    }
}

async fn endpoint(server: &TestServer, org: &TestOrg, body: Value) -> (String, String) {
    let (s, e) = server
        .call(&org.key, Method::POST, "/v1/webhook-endpoints", Some(body))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    (
        e["id"].as_str().unwrap().to_owned(),
        e["secret"].as_str().unwrap().to_owned(),
    )
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn verifies(secret: &str, r: &Received) -> bool {
    let s = WebhookSecret::parse(secret).unwrap();
    verify(&s, &r.id, r.timestamp, &r.body, &r.signature, now_secs()).is_ok()
}

#[tokio::test]
async fn deliveries_are_signed_written_with_their_change_and_signed_by_both_secrets_after_rotation()
{
    let server = TestServer::start_delivering().await;
    let org = server.new_org("Hooks").await;
    let rx = Receiver::start().await;
    let (id, secret) = endpoint(
        &server,
        &org,
        json!({"url": rx.url, "description": "CRM", "event_types": ["lead.suppressed", "gate.decision.denied"],
               "headers": {"X-Tenant": "acme"}}),
    )
    .await;
    assert!(id.starts_with("whe_"));
    assert!(secret.starts_with("whsec_") && secret.ends_with('=') && secret.len() == 50);
    // Never shown again.
    let (s, shown) = server
        .call(
            &org.key,
            Method::GET,
            &format!("/v1/webhook-endpoints/{id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(shown.get("secret").is_none() && !shown.to_string().contains(&secret[6..20]));
    assert_eq!(shown["headers"]["x-tenant"], "acme");

    // The test event.
    let (s, sent) = server
        .call(
            &org.key,
            Method::POST,
            &format!("/v1/webhook-endpoints/{id}/test"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{sent}");
    let msg = sent["message_id"].as_str().unwrap().to_owned();
    assert!(msg.starts_with("msg_") && !msg.contains('.'));
    let got = rx.wait_for(|r| r.id == msg).await;
    assert!(verifies(&secret, &got), "{got:?}");
    assert_eq!(got.json()["type"], "webhook.test");
    assert_eq!(got.json()["data"]["endpoint_id"], id.as_str());
    assert_eq!(got.custom.as_deref(), Some("acme"));
    assert_eq!(got.signature.split(' ').count(), 1);
    // A tampered body or another secret does not verify.
    let mut tampered = got.clone();
    tampered.body.push(b' ');
    assert!(!verifies(&secret, &tampered));
    assert!(!verifies(
        &WebhookSecret::from_random([7; 32]).to_text(),
        &got
    ));

    // An opt-out: `lead.suppressed`, thin (no number).
    let (_, lead) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/leads",
            Some(json!({"phone": "212 555 0142"})),
        )
        .await;
    let lead_id = lead["id"].as_str().unwrap().to_owned();
    let (s, out) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/opt-outs",
            Some(json!({"lead_id": lead_id, "text": "STOP"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    let sup = out["suppression"]["id"].as_str().unwrap().to_owned();
    let got = rx.wait_for(|r| r.json()["type"] == "lead.suppressed").await;
    assert!(verifies(&secret, &got));
    assert_eq!(got.json()["data"]["suppression_id"], sup.as_str());
    let text = String::from_utf8_lossy(&got.body).into_owned();
    assert!(
        !text.contains("5550142") && !text.contains("0142"),
        "{text}"
    );

    // A denied dial check: `gate.decision.denied` with ids and reason codes.
    let (s, c) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/campaigns",
            Some(json!({"name": "texts", "purpose": "informational", "channel": "text", "voice": "live"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let (s, check) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/dial-checks",
            Some(json!({"lead_id": lead_id, "campaign_id": c["id"], "channel": "text"})),
        )
        .await;
    assert_eq!((s, &check["allowed"]), (StatusCode::OK, &json!(false)));
    let got = rx
        .wait_for(|r| r.json()["type"] == "gate.decision.denied")
        .await;
    assert!(verifies(&secret, &got));
    assert_eq!(got.json()["data"]["dial_check_id"], check["id"]);
    assert!(
        got.json()["data"]["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("suppressed"))
    );

    // Rotation: the new secret is shown once; both sign for the grace period.
    let (s, rotated) = server
        .call(
            &org.key,
            Method::POST,
            &format!("/v1/webhook-endpoints/{id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    let (_, sent) = server
        .call(
            &org.key,
            Method::POST,
            &format!("/v1/webhook-endpoints/{id}/test"),
            None,
        )
        .await;
    let msg2 = sent["message_id"].as_str().unwrap().to_owned();
    let got = rx.wait_for(|r| r.id == msg2).await;
    assert_eq!(got.signature.split(' ').count(), 2, "{}", got.signature);
    assert!(!got.signature.contains("  "));
    assert!(verifies(&new_secret, &got) && verifies(&secret, &got));

    // Attempts are recorded; a replay sends the same message id again. The
    // receiver sees a delivery before the worker records its attempt, so
    // wait (bounded) for the fourth record.
    let mut page = Value::Null;
    for _ in 0..200 {
        let (s, p) = server
            .call(
                &org.key,
                Method::GET,
                &format!("/v1/webhook-endpoints/{id}/deliveries"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{p}");
        page = p;
        if page["data"].as_array().unwrap().len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let attempts = page["data"].as_array().unwrap();
    assert!(attempts.len() >= 4, "{page}");
    assert!(
        attempts
            .iter()
            .all(|a| a["status"] == 200 && a["delivery_state"] == "delivered")
    );
    let (s, replay) = server
        .call(
            &org.key,
            Method::POST,
            &format!("/v1/webhook-endpoints/{id}/replay"),
            Some(json!({"message_id": msg})),
        )
        .await;
    assert_eq!(
        (s, &replay["messages"]),
        (StatusCode::ACCEPTED, &json!(1)),
        "{replay}"
    );
    for _ in 0..400 {
        if rx.count(&msg) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rx.count(&msg), 2);

    let actions: Vec<String> = server
        .audit_events(&org)
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for a in [
        "webhook_endpoint.created",
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint.replayed",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} missing: {actions:?}");
    }
    assert!(
        !serde_json::to_string(&server.audit_events(&org).await)
            .unwrap()
            .contains(&new_secret[6..20])
    );
}

#[tokio::test]
async fn endpoint_input_is_checked_and_changes_nothing_when_refused() {
    let server = TestServer::start().await;
    let org = server.new_org("HookInput").await;
    for (body, needle) in [
        (
            json!({"url": "http://hooks.example.com/x", "event_types": ["lead.suppressed"]}),
            "https",
        ),
        (
            json!({"url": "https://u:p@hooks.example.com/x", "event_types": ["lead.suppressed"]}),
            "credentials",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "event_types": []}),
            "event_types",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "event_types": ["lead.*"]}),
            "unknown type",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "event_types": ["lead.suppressed"],
                "headers": {"Webhook-Signature": "v1,x"}}),
            "signature",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "event_types": ["lead.suppressed"],
                "headers": {"Authorization": "Bearer x"}}),
            "headers",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "event_types": ["lead.suppressed"],
                "headers": {"X-Ok": "line\nbreak"}}),
            "printable",
        ),
    ] {
        let (s, p) = server
            .call(
                &org.key,
                Method::POST,
                "/v1/webhook-endpoints",
                Some(body.clone()),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {p}");
        assert!(p.to_string().contains(needle), "{body} -> {p}");
    }
    let (_, list) = server
        .call(&org.key, Method::GET, "/v1/webhook-endpoints", None)
        .await;
    assert_eq!(list["data"], json!([]));
}

#[tokio::test]
async fn failures_are_retried_on_schedule_and_410_disables_the_endpoint() {
    let server = TestServer::start_delivering().await;
    let org = server.new_org("HookRetry").await;
    let rx = Receiver::start().await;
    // 503 first (Retry-After 1 s is shorter than the 5 s schedule: the
    // schedule wins), then 200.
    rx.answers.lock().unwrap().push((503, Some("1")));
    let (id, secret) = endpoint(
        &server,
        &org,
        json!({"url": rx.url, "event_types": ["webhook.test"]}),
    )
    .await;
    let (_, sent) = server
        .call(
            &org.key,
            Method::POST,
            &format!("/v1/webhook-endpoints/{id}/test"),
            None,
        )
        .await;
    let msg = sent["message_id"].as_str().unwrap().to_owned();
    let first = rx.wait_for(|r| r.id == msg).await;
    for _ in 0..400 {
        if rx.count(&msg) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all: Vec<Received> = rx
        .got
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.id == msg)
        .cloned()
        .collect();
    assert_eq!(all.len(), 2);
    assert!(all[1].timestamp - first.timestamp >= 4, "retried too soon");
    assert!(verifies(&secret, &all[1]));
    // An attempt is recorded after its response arrives (the recorder
    // commits attempts in groups), so the receiver can see the retry before
    // the deliveries page lists it.
    let mut page = Value::Null;
    let mut statuses: Vec<i64> = Vec::new();
    for _ in 0..200 {
        page = server
            .call(
                &org.key,
                Method::GET,
                &format!("/v1/webhook-endpoints/{id}/deliveries"),
                None,
            )
            .await
            .1;
        statuses = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["status"].as_i64().unwrap())
            .collect();
        if statuses.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(statuses, vec![200, 503], "{page}");

    // 410 Gone: the endpoint is disabled, audited, and shown with a reason.
    rx.answers.lock().unwrap().push((410, None));
    let (_, sent) = server
        .call(
            &org.key,
            Method::POST,
            &format!("/v1/webhook-endpoints/{id}/test"),
            None,
        )
        .await;
    let gone = sent["message_id"].as_str().unwrap().to_owned();
    rx.wait_for(|r| r.id == gone).await;
    let mut shown = Value::Null;
    for _ in 0..200 {
        shown = server
            .call(
                &org.key,
                Method::GET,
                &format!("/v1/webhook-endpoints/{id}"),
                None,
            )
            .await
            .1;
        if shown["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(shown["enabled"], false, "{shown}");
    assert_eq!(shown["disabled_reason"], "gone");
    let events = server.audit_events(&org).await;
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "webhook_endpoint.disabled" && e["actor_kind"] == "system"),
        "{events:?}"
    );
    // Every dashboard page says so until someone acts.
    let mut b = crate::sign_in::Browser::new(&server);
    b.sign_in(&org.owner_email).await;
    let banner = "Tollgate disabled 1 webhook endpoint";
    let (_, home) = b.get("/ui").await;
    assert!(home.contains(banner), "{home}");
    // Enabling again clears the reason.
    let (s, back) = server
        .call(
            &org.key,
            Method::PATCH,
            &format!("/v1/webhook-endpoints/{id}"),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{back}");
    assert_eq!(back["disabled_reason"], Value::Null);
    let (_, home) = b.get("/ui").await;
    assert!(!home.contains(banner));
}

/// The lease: a claimed delivery is not claimed again until its lease
/// expires, and then it is (a crashed worker loses nothing). Only on the
/// embedded backend: on PostgreSQL the queue is shared with every other
/// test's server, and claiming their rows here would delay their deliveries.
#[tokio::test]
async fn a_claim_is_exclusive_until_its_lease_expires() {
    if crate::harness::backend() == "postgres" {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::harness::config(dir.path());
    config.webhooks.workers = false;
    let server = TestServer::start_with(config, dir).await;
    let org = server.new_org("HookLease").await;
    let (id, _) = endpoint(
        &server,
        &org,
        json!({"url": "http://127.0.0.1:9/hook", "event_types": ["webhook.test"]}),
    )
    .await;
    let (s, _) = server
        .call(
            &org.key,
            Method::POST,
            &format!("/v1/webhook-endpoints/{id}/test"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let store = server.store();
    let t = server.state.now();
    let lease = 60_000_000;
    let first = store.claim_webhook_deliveries(t, lease, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].endpoint_id, id);
    // Held: nobody else gets it, even much later within the lease.
    assert!(
        store
            .claim_webhook_deliveries(t.plus_secs(59), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Expired (the holder crashed): claimed again, with a new lease.
    let again = store
        .claim_webhook_deliveries(t.plus_secs(61), lease, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivery_id, first[0].delivery_id);
    // The first holder's late result cannot move the delivery any more.
    let job = store
        .load_webhook_delivery(&first[0], t)
        .await
        .unwrap()
        .expect("attemptable");
    let late = tollgate_store::AttemptOutcome {
        started_at: t,
        latency_ms: 1,
        status: Some(200),
        error: None,
        response_excerpt: String::new(),
        retry_after: None,
        jitter: 0,
    };
    assert_eq!(
        store
            .record_webhook_attempt(&first[0], &job, &late, t.plus_secs(62))
            .await
            .unwrap(),
        tollgate_store::AttemptVerdict::LeaseLost
    );
    assert_eq!(
        store
            .record_webhook_attempt(&again[0], &job, &late, t.plus_secs(62))
            .await
            .unwrap(),
        tollgate_store::AttemptVerdict::Delivered
    );
    assert!(
        store
            .claim_webhook_deliveries(t.plus_secs(999), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The load-test producer's group of events (bench/webhooks.sh) goes
/// through the same enqueue as every event source: each event is one
/// message, fanned out to every enabled endpoint subscribed to
/// `webhook.test` and to no other, and each delivery is signed with its own
/// endpoint's secret.
#[tokio::test]
async fn a_group_of_load_test_events_fans_out_to_every_subscribed_endpoint() {
    let server = TestServer::start_delivering().await;
    let org = server.new_org("HookFanOut").await;
    let receiver = Receiver::start().await;
    let hook = |types: Value, enabled: bool| json!({"url": receiver.url, "event_types": types, "enabled": enabled});
    let (_, secret_a) = endpoint(&server, &org, hook(json!(["webhook.test"]), true)).await;
    let (_, secret_b) = endpoint(&server, &org, hook(json!(["webhook.test"]), true)).await;
    endpoint(&server, &org, hook(json!(["webhook.test"]), false)).await;
    endpoint(&server, &org, hook(json!(["lead.suppressed"]), true)).await;
    let store = server.store();
    let actor = store
        .operator_actor_for_first_owner(&tollgate_core::OrgId::parse(&org.id).unwrap())
        .await
        .unwrap();
    let ctx = tollgate_store::Ctx {
        now: server.state.now(),
        request: Default::default(),
    };
    let queued = store
        .scope(&actor)
        .enqueue_webhook_test_events(3, &ctx)
        .await
        .unwrap();
    assert_eq!(queued, 6, "3 events x the 2 enabled subscribers");
    // 6 signed deliveries arrive: 3 messages, each at both endpoints.
    for _ in 0..400 {
        if receiver.got.lock().unwrap().len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = receiver.got.lock().unwrap().clone();
    assert_eq!(
        got.len(),
        6,
        "nothing to the disabled or unsubscribed endpoints"
    );
    let mut ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    for id in ids {
        let copies: Vec<&Received> = got.iter().filter(|r| r.id == id).collect();
        assert_eq!(copies.len(), 2);
        // One copy per endpoint: each verifies with exactly one of the two
        // secrets, and not both with the same one.
        let by_a = copies.iter().filter(|r| verifies(&secret_a, r)).count();
        let by_b = copies.iter().filter(|r| verifies(&secret_b, r)).count();
        assert_eq!((by_a, by_b), (1, 1), "{id}");
        assert_eq!(copies[0].json()["type"], "webhook.test");
    }
}

/// A lead import (here the dashboard upload; the CLI shares the loop) ends
/// with one signed `import.finished` carrying its counts and no personal
/// data.
#[tokio::test]
async fn an_import_tells_the_organization_when_it_finished() {
    let server = TestServer::start_delivering().await;
    let org = server.new_org("HookImport").await;
    let rx = Receiver::start().await;
    let (_, secret) = endpoint(
        &server,
        &org,
        json!({"url": rx.url, "event_types": ["import.finished"]}),
    )
    .await;
    let (s, c) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/campaigns",
            Some(json!({"name": "Import hook", "purpose": "telemarketing", "channel": "voice", "voice": "ai"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let campaign = c["id"].as_str().unwrap().to_owned();
    let mut b = crate::sign_in::Browser::new(&server);
    b.sign_in(&org.owner_email).await;
    let (s, page) = crate::sign_in::upload(
        &b,
        &campaign,
        b"phone,name,consent_type\n305-555-0100,Ana Lopez,none\n12,Bad,none\n",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let got = rx
        .wait_for(|r| String::from_utf8_lossy(&r.body).contains("import.finished"))
        .await;
    assert!(verifies(&secret, &got));
    let body: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(
        body["data"],
        json!({"campaign_id": campaign, "imported": 1, "ineligible": 1, "rejected": 1})
    );
    let text = String::from_utf8_lossy(&got.body);
    assert!(!text.contains("Ana") && !text.contains("5550100"), "{text}");
}

/// An endpoint opted into rich payloads gets the event's details (a
/// denial's reasons with their citations and versions, the masked number)
/// under its own message id; a thin endpoint of the same organization gets
/// ids and codes only. Signed checkpoints are events too.
#[tokio::test]
async fn rich_payloads_carry_masked_details_and_thin_ones_ids_only() {
    let server = TestServer::start_delivering().await;
    let org = server.new_org("HookRich").await;
    let (thin_rx, rich_rx) = (Receiver::start().await, Receiver::start().await);
    let types = json!([
        "lead.suppressed",
        "gate.decision.denied",
        "audit.checkpoint"
    ]);
    let (_, thin_secret) = endpoint(
        &server,
        &org,
        json!({"url": thin_rx.url, "event_types": types}),
    )
    .await;
    let (rich_id, rich_secret) = endpoint(
        &server,
        &org,
        json!({"url": rich_rx.url, "event_types": types, "payload": "rich"}),
    )
    .await;
    let (_, shown) = server
        .call(
            &org.key,
            Method::GET,
            &format!("/v1/webhook-endpoints/{rich_id}"),
            None,
        )
        .await;
    assert_eq!(shown["payload"], "rich");
    // Anything else is refused and changes nothing.
    let (s, _) = server
        .call(
            &org.key,
            Method::PATCH,
            &format!("/v1/webhook-endpoints/{rich_id}"),
            Some(json!({"payload": "full"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    let (_, lead) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/leads",
            Some(json!({"phone": "212 555 0142"})),
        )
        .await;
    let lead_id = lead["id"].as_str().unwrap().to_owned();
    let (s, out) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/opt-outs",
            Some(json!({"lead_id": lead_id, "text": "please stop calling me"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    let thin = thin_rx
        .wait_for(|r| r.json()["type"] == "lead.suppressed")
        .await;
    let rich = rich_rx
        .wait_for(|r| r.json()["type"] == "lead.suppressed")
        .await;
    assert!(verifies(&thin_secret, &thin) && verifies(&rich_secret, &rich));
    assert_ne!(thin.id, rich.id, "each payload is its own message");
    let sup = out["suppression"]["id"].clone();
    assert_eq!(
        thin.json()["data"],
        json!({"suppression_id": sup, "source": "opt_out"})
    );
    assert_eq!(rich.json()["data"]["suppression_id"], sup);
    assert_eq!(rich.json()["data"]["number"], "+1212***0142");
    assert!(rich.json()["data"]["matched"].as_str().is_some());
    for r in [&thin, &rich] {
        assert!(!String::from_utf8_lossy(&r.body).contains("5550142"));
    }

    let (_, c) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/campaigns",
            Some(json!({"name": "texts", "purpose": "informational", "channel": "text", "voice": "live"})),
        )
        .await;
    let (s, check) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/dial-checks",
            Some(json!({"lead_id": lead_id, "campaign_id": c["id"], "channel": "text"})),
        )
        .await;
    assert_eq!((s, &check["allowed"]), (StatusCode::OK, &json!(false)));
    let thin = thin_rx
        .wait_for(|r| r.json()["type"] == "gate.decision.denied")
        .await;
    let rich = rich_rx
        .wait_for(|r| r.json()["type"] == "gate.decision.denied")
        .await;
    assert!(thin.json()["data"]["reasons"].as_array().unwrap()[0].is_string());
    assert!(thin.json()["data"].get("rules_version").is_none());
    let data = rich.json()["data"].clone();
    assert_eq!(data["dial_check_id"], check["id"]);
    assert_eq!(data["rules_version"], check["rules_version"]);
    let suppressed = data["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "suppressed")
        .expect("the suppression reason, with its detail")
        .clone();
    assert!(!suppressed["detail"].as_str().unwrap().is_empty());
    assert!(!String::from_utf8_lossy(&rich.body).contains("5550142"));

    // A signed chain head reaches both, the rich one with its signature.
    let org_id = tollgate_core::OrgId::parse(&org.id).unwrap();
    let cp = tollgate_server::checkpoints::checkpoint_org(
        server.store(),
        &server.state.checkpoint_key,
        &org_id,
        server.state.now(),
    )
    .await
    .unwrap()
    .expect("a non-empty chain is signed");
    let thin = thin_rx
        .wait_for(|r| r.json()["type"] == "audit.checkpoint")
        .await;
    let rich = rich_rx
        .wait_for(|r| r.json()["type"] == "audit.checkpoint")
        .await;
    assert_eq!(thin.json()["data"]["seq"], json!(cp.seq));
    assert_eq!(thin.json()["data"]["head_hash"], json!(cp.head_hash));
    assert!(thin.json()["data"].get("signature").is_none());
    assert_eq!(rich.json()["data"]["signature"], json!(cp.signature));
}
