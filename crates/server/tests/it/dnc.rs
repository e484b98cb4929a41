//! Do-not-call data through HTTP (issue 8): an organization's real-time
//! provider, simulated by a real HTTP server on a loopback port that can
//! answer, be slow (timeout) or be down; the auto-pause it causes and the
//! recovery after the healthy period.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestOrg, TestServer, config};

/// How the simulated provider behaves.
#[derive(Clone, Debug)]
pub enum Mode {
    Answer,
    /// Answers after this long (longer than the gate's timeout).
    Slow(Duration),
    /// HTTP 503.
    Down,
}

#[derive(Default)]
pub struct ProviderState {
    pub mode: Option<Mode>,
    pub listed: HashSet<String>,
    /// Numbers the `litigator` check lists.
    pub litigators: HashSet<String>,
    /// The checks of the last request.
    pub last_checks: Vec<String>,
    pub version: String,
    pub calls: usize,
    pub last_bearer: Option<String>,
}

/// The test provider: the documented contract (docs/dnc-provider.md).
pub struct TestProvider {
    pub url: String,
    pub state: Arc<Mutex<ProviderState>>,
}

impl TestProvider {
    pub async fn start(version: &str) -> TestProvider {
        let state = Arc::new(Mutex::new(ProviderState {
            mode: Some(Mode::Answer),
            version: version.to_owned(),
            ..Default::default()
        }));
        let app = axum::Router::new()
            .route("/v1/scrub", axum::routing::post(scrub))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestProvider {
            url: format!("http://{addr}/v1/scrub"),
            state,
        }
    }

    pub fn set(&self, mode: Mode) {
        self.state.lock().unwrap().mode = Some(mode);
    }

    pub fn list(&self, number: &str) {
        self.state.lock().unwrap().listed.insert(number.to_owned());
    }

    pub fn calls(&self) -> usize {
        self.state.lock().unwrap().calls
    }
}

async fn scrub(
    State(state): State<Arc<Mutex<ProviderState>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let (mode, listed, litigators, version) = {
        let mut s = state.lock().unwrap();
        s.calls += 1;
        s.last_bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        s.last_checks = body["checks"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        (
            s.mode.clone(),
            s.listed.clone(),
            s.litigators.clone(),
            s.version.clone(),
        )
    };
    match mode {
        Some(Mode::Down) | None => return AxumStatus::SERVICE_UNAVAILABLE.into_response(),
        Some(Mode::Slow(d)) => tokio::time::sleep(d).await,
        Some(Mode::Answer) => {}
    }
    let checks: Vec<String> = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let results: Vec<Value> = body["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let n = n.as_str().unwrap();
            let mut answers = serde_json::Map::new();
            for c in &checks {
                let status = if (c == "national" && listed.contains(n))
                    || (c == "litigator" && litigators.contains(n))
                {
                    "listed"
                } else {
                    "clear"
                };
                let source = if c == "state" { "state:FL" } else { c.as_str() };
                answers.insert(
                    c.clone(),
                    json!({"status": status, "source": source, "version": version}),
                );
            }
            json!({"number": n, "checks": answers})
        })
        .collect();
    Json(json!({ "results": results })).into_response()
}

pub fn codes(check: &Value) -> Vec<String> {
    check["reasons"]
        .as_array()
        .unwrap_or_else(|| panic!("no reasons: {check}"))
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

pub fn today() -> String {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string()
}

/// A campaign, and a function making consented Florida leads in it.
pub async fn campaign(server: &TestServer, org: &TestOrg) -> String {
    let (s, c) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/campaigns",
            Some(
                json!({"name": "renewals", "purpose": "telemarketing", "channel": "voice", "voice": "ai"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c["id"].as_str().unwrap().to_owned()
}

pub async fn lead(server: &TestServer, org: &TestOrg, cmp: &str, phone: &str) -> String {
    let (s, lead) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/leads",
            Some(json!({"phone": phone, "campaign_id": cmp, "state": "FL",
                "consent": {"type": "prior_express_written", "timestamp": "2026-01-05T12:00:00Z",
                    "source": "form-9", "text_version": "tcpa-v3", "captured_by": "web form", "ip": "192.0.2.7"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{lead}");
    lead["id"].as_str().unwrap().to_owned()
}

/// Asks the gate for `lead` at `at` (RFC 3339, or now when `None`).
pub async fn dial(
    server: &TestServer,
    org: &TestOrg,
    cmp: &str,
    lead: &str,
    at: Option<&str>,
) -> Value {
    let mut ask = json!({"lead_id": lead, "campaign_id": cmp, "channel": "voice"});
    if let Some(at) = at {
        ask["planned_at"] = json!(at);
    }
    let (s, c) = server
        .call(&org.key, Method::POST, "/v1/dial-checks", Some(ask))
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    c
}

/// An instant within Florida's calling hours (now, or the next one the
/// gate names for a dial denied for time only).
pub async fn calling_hour(server: &TestServer, org: &TestOrg, cmp: &str, lead: &str) -> String {
    let probe = dial(server, org, cmp, lead, None).await;
    if probe["allowed"] == true {
        return probe["at"].as_str().unwrap().to_owned();
    }
    assert!(
        codes(&probe)
            .iter()
            .all(|c| c == "outside_hours" || c == "restricted_day"),
        "{probe}"
    );
    probe["next_allowed"].as_str().unwrap().to_owned()
}

async fn use_provider(server: &TestServer, org: &TestOrg) -> String {
    let (s, cred) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/provider-credentials",
            Some(json!({"kind": "dnc_provider", "label": "scrub service",
                "secret": {"api_key": "dnc_test_key_0123456789abcdef"},
                "policy": {"vendor_trains_on_data": false, "retention": "zero"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{cred}");
    let id = cred["id"].as_str().unwrap().to_owned();
    let (s, v) = server
        .call(
            &org.key,
            Method::PATCH,
            "/v1/gate-settings",
            Some(json!({"dnc_provider_credential_id": id})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["dnc_provider_credential_id"], json!(id));
    id
}

async fn start(provider: &TestProvider, cache_days: u32) -> TestServer {
    start_asking(provider, cache_days, false).await
}

async fn start_asking(provider: &TestProvider, cache_days: u32, litigator: bool) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.dnc.provider_litigator_check = litigator;
    c.dnc.provider_url = provider.url.clone();
    c.dnc.provider_timeout_ms = 300;
    c.dnc.breaker_failures = 2;
    c.dnc.breaker_open_secs = 1;
    c.dnc.cache_days = cache_days;
    c.dnc.resume_after_secs = 1;
    c.dnc.incident_recheck_secs = 1;
    TestServer::start_with(c, dir).await
}

#[tokio::test]
async fn a_provider_answers_an_outage_pauses_dialing_and_recovery_resumes_it() {
    let provider = TestProvider::start(&today()).await;
    provider.list("+13055550301");
    let server = start(&provider, 0).await;
    let org = server.new_org("DncProvider").await;
    let cmp = campaign(&server, &org).await;
    let clear = lead(&server, &org, &cmp, "305 555 0300").await;
    let listed = lead(&server, &org, &cmp, "305 555 0301").await;

    // Without a provider or registry (and no acknowledgment): denied.
    let before = dial(&server, &org, &cmp, &clear, None).await;
    assert!(
        codes(&before).contains(&"dnc_registry_stale".to_owned()),
        "{before}"
    );
    assert_eq!(provider.calls(), 0);

    let _credential = use_provider(&server, &org).await;
    let at = calling_hour(&server, &org, &cmp, &clear).await;
    let ok = dial(&server, &org, &cmp, &clear, Some(&at)).await;
    assert_eq!(ok["allowed"], true, "{ok}");
    let versions = serde_json::to_string(&ok["list_versions"]).unwrap();
    assert!(
        versions.contains(&format!("national {} (provider)", today())),
        "{versions}"
    );
    // The credential went to the provider, decrypted for the call.
    assert_eq!(
        provider.state.lock().unwrap().last_bearer.as_deref(),
        Some("dnc_test_key_0123456789abcdef")
    );

    let denied = dial(&server, &org, &cmp, &listed, Some(&at)).await;
    assert_eq!(denied["allowed"], false);
    assert_eq!(codes(&denied), ["dnc_national"], "{denied}");
    let detail = denied["reasons"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("national {}", today())),
        "{detail}"
    );

    // Outage: denied dnc_provider_down, an incident opened once.
    provider.set(Mode::Down);
    for _ in 0..3 {
        let d = dial(&server, &org, &cmp, &clear, Some(&at)).await;
        assert_provider_down(&d);
    }
    // Slowness past the timeout is an outage too.
    provider.set(Mode::Slow(Duration::from_secs(2)));
    tokio::time::sleep(Duration::from_millis(1100)).await; // breaker half-open
    let slow = dial(&server, &org, &cmp, &clear, Some(&at)).await;
    assert_provider_down(&slow);
    let events = server.audit_events(&org).await;
    let opened: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "dnc.incident_opened")
        .collect();
    assert_eq!(opened.len(), 1, "one incident for one outage");
    assert!(
        !serde_json::to_string(&events)
            .unwrap()
            .contains("dnc_test_key"),
        "the secret in the audit log"
    );

    // Every dashboard page shows the banner; the DNC page names the incident.
    let mut browser = crate::sign_in::Browser::new(&server);
    browser.sign_in(&org.owner_email).await;
    let (s, page) = browser.get("/ui/members").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("Do-not-call data is unavailable"), "{page}");
    let (s, page) = browser.get("/ui/dnc").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.contains("open: dialing that needs it is paused"),
        "{page}"
    );
    assert!(page.contains("the provider answered HTTP 503"), "{page}");
    assert!(page.contains("Circuit breaker: open"), "{page}");

    // Recovery: the provider answers again, but dialing stays paused until
    // it has been healthy for the configured period (1 s here).
    provider.set(Mode::Answer);
    tokio::time::sleep(Duration::from_millis(1100)).await; // breaker half-open
    let still = dial(&server, &org, &cmp, &clear, Some(&at)).await;
    assert_provider_down(&still);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let resumed = dial(&server, &org, &cmp, &clear, Some(&at)).await;
    assert_eq!(resumed["allowed"], true, "{resumed}");
    let events = server.audit_events(&org).await;
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "dnc.incident_resolved"),
        "no dnc.incident_resolved"
    );
    let (_, page) = browser.get("/ui/members").await;
    assert!(!page.contains("Do-not-call data is unavailable"), "{page}");
}

#[tokio::test]
async fn answers_are_cached_but_failures_never_are() {
    let provider = TestProvider::start(&today()).await;
    let server = start(&provider, 30).await;
    let org = server.new_org("DncCache").await;
    let cmp = campaign(&server, &org).await;
    let a = lead(&server, &org, &cmp, "305 555 0310").await;
    let b = lead(&server, &org, &cmp, "305 555 0311").await;
    use_provider(&server, &org).await;
    let at = calling_hour(&server, &org, &cmp, &a).await;

    // A failure first: not cached, so the next lookup asks again.
    provider.set(Mode::Down);
    let d = dial(&server, &org, &cmp, &b, Some(&at)).await;
    assert_provider_down(&d);
    let after_failure = provider.calls();
    provider.set(Mode::Answer);
    // The first success starts the healthy period, the next one after it ends.
    let paused = dial(&server, &org, &cmp, &b, Some(&at)).await;
    assert_provider_down(&paused);
    assert!(provider.calls() > after_failure);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let first = dial(&server, &org, &cmp, &a, Some(&at)).await;
    assert_eq!(first["allowed"], true, "{first}");
    let calls = provider.calls();
    let second = dial(&server, &org, &cmp, &a, Some(&at)).await;
    assert_eq!(provider.calls(), calls, "the second lookup was not cached");
    assert_eq!(second["list_versions"], first["list_versions"]);
}

#[tokio::test]
async fn only_the_orgs_own_dnc_credentials_can_be_its_provider() {
    let provider = TestProvider::start(&today()).await;
    let server = start(&provider, 0).await;
    let org = server.new_org("DncSetting").await;
    let other = server.new_org("DncOther").await;
    let theirs = use_provider(&server, &other).await;
    let (s, p) = server
        .call(
            &org.key,
            Method::PATCH,
            "/v1/gate-settings",
            Some(json!({"dnc_provider_credential_id": theirs})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let (s, twilio) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/provider-credentials",
            Some(json!({"kind": "telnyx", "label": "calls",
                "secret": {"api_key": "KEY0123456789abcdef0123"},
                "policy": {"vendor_trains_on_data": false, "retention": "zero"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{twilio}");
    let (s, p) = server
        .call(
            &org.key,
            Method::PATCH,
            "/v1/gate-settings",
            Some(json!({"dnc_provider_credential_id": twilio["id"]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let mine = use_provider(&server, &org).await;
    let (s, v) = server
        .call(
            &org.key,
            Method::PATCH,
            "/v1/gate-settings",
            Some(json!({"dnc_provider_credential_id": null})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["dnc_provider_credential_id"], Value::Null);
    let events = server.audit_events(&org).await;
    let set: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "gate.dnc_provider_set")
        .collect();
    assert_eq!(set.len(), 2);
    assert_eq!(set[0]["details"]["credential_id"], json!(mine));
}

/// Denied only because the DNC source is down (once per list it serves:
/// national and state).
fn assert_provider_down(check: &Value) {
    let c = codes(check);
    assert!(
        !c.is_empty() && c.iter().all(|c| c == "dnc_provider_down"),
        "{check}"
    );
}

#[tokio::test]
async fn a_bulk_scrub_judges_rows_as_the_gate_does_and_records_no_attempt() {
    let provider = TestProvider::start(&today()).await;
    provider.list("+13055550321");
    let server = start(&provider, 0).await;
    let org = server.new_org("DncScrub").await;
    let cmp = campaign(&server, &org).await;
    let clear = lead(&server, &org, &cmp, "305 555 0320").await;
    let listed = lead(&server, &org, &cmp, "305 555 0321").await;
    use_provider(&server, &org).await;
    let at = calling_hour(&server, &org, &cmp, &clear).await;
    let other = server.new_org("DncScrubOther").await;
    let ocmp = campaign(&server, &other).await;
    let theirs = lead(&server, &other, &ocmp, "305 555 0322").await;

    let scrub = |rows: Value| json!({"campaign_id": cmp, "channel": "voice", "planned_at": at, "rows": rows});
    let (s, v) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/dnc/scrub",
            Some(scrub(json!([
                {"lead_id": clear}, {"lead_id": listed}, {"number": "305-555-0321"}, {"lead_id": theirs}
            ]))),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let r = &v["results"];
    assert_eq!(r[0]["decision"]["allowed"], true, "{v}");
    assert_eq!(codes(&r[1]["decision"]), ["dnc_national"], "{v}");
    let bare = codes(&r[2]["decision"]);
    assert!(
        bare.contains(&"no_consent".to_owned()) && bare.contains(&"dnc_national".to_owned()),
        "{v}"
    );
    // Another organization's lead is not found, never judged.
    assert_eq!(r[3]["error"], "lead_not_found", "{v}");
    assert_eq!(
        (v["allowed"].clone(), v["denied"].clone()),
        (json!(1), json!(2))
    );

    // The same answer the gate gives, and the scrub recorded no attempt: the
    // dial check after it is still allowed and then counts as usual.
    let gate = dial(&server, &org, &cmp, &clear, Some(&at)).await;
    assert_eq!(gate["allowed"], true, "{gate}");
    assert_eq!(gate["list_versions"], r[0]["decision"]["list_versions"]);
    let events = server.audit_events(&org).await;
    let scrubbed: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "dnc.scrubbed")
        .collect();
    assert_eq!(scrubbed.len(), 1);
    assert_eq!(scrubbed[0]["details"]["rows"], 3);

    // Bad input changes nothing and says what is wrong.
    for (rows, why) in [
        (json!([]), "1 to 1000"),
        (json!([{"number": "12"}]), "rows[0].number"),
        (
            json!([{"lead_id": clear, "number": "305-555-0320"}]),
            "exactly one",
        ),
        (
            Value::Array(vec![json!({"lead_id": clear}); 1001]),
            "1 to 1000",
        ),
    ] {
        let (s, p) = server
            .call(&org.key, Method::POST, "/v1/dnc/scrub", Some(scrub(rows)))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert!(p["detail"].as_str().unwrap().contains(why), "{p}");
    }
}

#[tokio::test]
async fn leads_are_checked_at_intake_and_show_why() {
    let provider = TestProvider::start(&today()).await;
    provider.list("+13055550331");
    let server = start(&provider, 0).await;
    let org = server.new_org("DncIntake").await;
    let cmp = campaign(&server, &org).await;
    // Without any DNC data: the intake check says so.
    let bare = lead(&server, &org, &cmp, "305 555 0330").await;
    let (_, v) = server
        .call(&org.key, Method::GET, &format!("/v1/leads/{bare}"), None)
        .await;
    assert_eq!(v["intake_dnc"]["clear"], false, "{v}");
    assert_eq!(v["intake_dnc"]["reasons"][0]["code"], "dnc_registry_stale");

    use_provider(&server, &org).await;
    // On the internal list before the lead arrives.
    let (s, sup) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/suppressions",
            Some(json!({"number": "305-555-0332", "list": "internal_dnc", "reason": "asked by phone"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sup}");
    let clear = lead(&server, &org, &cmp, "305 555 0330").await;
    let listed = lead(&server, &org, &cmp, "305 555 0331").await;
    let internal = lead(&server, &org, &cmp, "305 555 0332").await;
    let get = |id: String| {
        let server = &server;
        let key = org.key.clone();
        async move {
            server
                .call(&key, Method::GET, &format!("/v1/leads/{id}"), None)
                .await
                .1
        }
    };
    let c = get(clear).await;
    assert_eq!(c["intake_dnc"]["clear"], true, "{c}");
    assert!(
        serde_json::to_string(&c["intake_dnc"]["list_versions"])
            .unwrap()
            .contains(&format!("national {} (provider)", today())),
        "{c}"
    );
    let l = get(listed).await;
    assert_eq!(l["intake_dnc"]["reasons"][0]["code"], "dnc_national", "{l}");
    let i = get(internal).await;
    assert_eq!(i["intake_dnc"]["reasons"][0]["code"], "dnc_internal", "{i}");
}

/// A file import checks each line against the internal list at intake
/// (registries are checked at every dial), in one query per chunk.
#[tokio::test]
async fn imported_leads_are_checked_against_the_internal_list_at_intake() {
    let server = TestServer::start().await;
    let org = server.new_org("DncImportIntake").await;
    let cmp = campaign(&server, &org).await;
    let (s, sup) = server
        .call(
            &org.key,
            Method::POST,
            "/v1/suppressions",
            Some(json!({"number": "305-555-0342", "list": "internal_dnc", "reason": "asked by email"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sup}");
    let mut b = crate::sign_in::Browser::new(&server);
    b.sign_in(&org.owner_email).await;
    let (s, page) = crate::sign_in::upload(
        &b,
        &cmp,
        b"phone,name,consent_type\n305-555-0341,Ana,none\n305-555-0342,Ben,none\n",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let (_, all) = server
        .call(&org.key, Method::GET, "/v1/leads?limit=10", None)
        .await;
    let by_phone = |p: &str| {
        all["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["phone"] == p)
            .unwrap_or_else(|| panic!("{p} not imported: {all}"))
            .clone()
    };
    let clear = by_phone("+13055550341");
    assert_eq!(clear["intake_dnc"]["clear"], true, "{clear}");
    assert_eq!(
        clear["intake_dnc"]["lists_checked"],
        json!(["internal_dnc"])
    );
    let listed = by_phone("+13055550342");
    assert_eq!(listed["intake_dnc"]["clear"], false, "{listed}");
    assert_eq!(
        listed["intake_dnc"]["reasons"][0]["code"], "dnc_internal",
        "{listed}"
    );
}

/// The litigator check is asked only where the deployment turned it on;
/// then a listed number is denied `dnc_litigator`, naming the list and its
/// version, and the intake check shows it too.
#[tokio::test]
async fn the_litigator_check_denies_listed_numbers_only_when_turned_on() {
    let provider = TestProvider::start(&today()).await;
    provider
        .state
        .lock()
        .unwrap()
        .litigators
        .insert("+13055550302".into());
    for on in [false, true] {
        let server = start_asking(&provider, 0, on).await;
        let org = server.new_org("DncLitigator").await;
        let cmp = campaign(&server, &org).await;
        let _ = use_provider(&server, &org).await;
        let clear = lead(&server, &org, &cmp, "305 555 0300").await;
        let litigator = lead(&server, &org, &cmp, "305 555 0302").await;
        let at = calling_hour(&server, &org, &cmp, &clear).await;
        assert_eq!(
            provider.state.lock().unwrap().last_checks,
            if on {
                vec!["national", "state", "litigator"]
            } else {
                vec!["national", "state"]
            }
        );
        let c = dial(&server, &org, &cmp, &clear, Some(&at)).await;
        assert_eq!(c["allowed"], true, "{c}");
        let c = dial(&server, &org, &cmp, &litigator, Some(&at)).await;
        if on {
            assert_eq!(codes(&c), vec!["dnc_litigator"], "{c}");
            let detail = c["reasons"][0]["detail"].as_str().unwrap();
            assert!(
                detail.contains(&format!("litigator {} (provider)", today())),
                "{detail}"
            );
            assert!(
                c["list_versions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|v| v["list"] == "dnc_litigator"),
                "{c}"
            );
            let (_, l) = server
                .call(
                    &org.key,
                    Method::GET,
                    &format!("/v1/leads/{litigator}"),
                    None,
                )
                .await;
            assert_eq!(l["intake_dnc"]["clear"], false, "{l}");
        } else {
            assert_eq!(c["allowed"], true, "{c}");
        }
    }
}
