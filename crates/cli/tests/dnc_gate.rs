//! Issue 8, done when: a small synthetic registry (generated here) is
//! imported and activated through the real binary, the real server starts
//! with it, the gate denies a listed number and allows an unlisted one with
//! reasons naming the list and its version, and a simulated provider outage
//! pauses dialing while recovery resumes it.
//!
//! Always on SQLite in its own data directory: the registry versions are
//! deployment-wide, so activating a list in a shared test database would
//! change every other test's answers.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const KEK: &str = "dGVzdC1rZWstdGVzdC1rZWstdGVzdC1rZWstdGVzdC0=";
const TOKEN_HASH: &str = "dGVzdC10b2tlbi1oYXNoLXRlc3QtdG9rZW4taGFzaDE=";
const AUDIT_SIGNING: &str = "dGVzdC1hdWRpdC1zaWduaW5nLWtleS10ZXN0LWtleTE=";

fn vars(dir: &std::path::Path, port: u16, provider: &str) -> Vec<(String, String)> {
    [
        ("TOLLGATE_DATA_DIR", dir.display().to_string()),
        ("TOLLGATE_SERVER_LISTEN", format!("127.0.0.1:{port}")),
        ("TOLLGATE_SECURITY_KEK", KEK.into()),
        ("TOLLGATE_SECURITY_TOKEN_HASH_KEYS", TOKEN_HASH.into()),
        ("TOLLGATE_SECURITY_AUDIT_SIGNING_KEY", AUDIT_SIGNING.into()),
        ("TOLLGATE_LOG_LEVEL", "warn".into()),
        ("TOLLGATE_DNC_PROVIDER_URL", provider.into()),
        ("TOLLGATE_DNC_PROVIDER_TIMEOUT_MS", "300".into()),
        ("TOLLGATE_DNC_BREAKER_OPEN_SECS", "1".into()),
        ("TOLLGATE_DNC_RESUME_AFTER_SECS", "1".into()),
        ("TOLLGATE_DNC_INCIDENT_RECHECK_SECS", "1".into()),
        ("TOLLGATE_DNC_CACHE_DAYS", "0".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn tollgate(dir: &std::path::Path, env: &[(String, String)], args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .env_clear()
        .envs(env.iter().cloned())
        .current_dir(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "tollgate {args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), stdout)
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The simulated provider: up (every number clear) or down (HTTP 503).
async fn provider(up: Arc<Mutex<bool>>) -> String {
    async fn scrub(
        State(up): State<Arc<Mutex<bool>>>,
        Json(body): Json<Value>,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        if !*up.lock().unwrap() {
            return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        let today = jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            .to_string();
        let results: Vec<Value> = body["numbers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                json!({"number": n, "checks": {
                "national": {"status": "clear", "source": "national", "version": today},
                "state": {"status": "clear", "source": "state:FL", "version": today}}})
            })
            .collect();
        Json(json!({ "results": results })).into_response()
    }
    let app = axum::Router::new()
        .route("/scrub", axum::routing::post(scrub))
        .with_state(up);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/scrub", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

fn extract_token(text: &str, prefix: &str) -> Option<String> {
    let start = text.find(prefix)?;
    Some(
        text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect(),
    )
}

struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let s = res.status();
        (s, res.json().await.unwrap_or(Value::Null))
    }

    async fn dial(&self, cmp: &str, lead: &str, at: Option<&str>) -> Value {
        let mut ask = json!({"lead_id": lead, "campaign_id": cmp, "channel": "voice"});
        if let Some(at) = at {
            ask["planned_at"] = json!(at);
        }
        let (s, v) = self.call(Method::POST, "/v1/dial-checks", Some(ask)).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    async fn lead(&self, cmp: &str, phone: &str) -> String {
        let (s, v) = self
            .call(
                Method::POST,
                "/v1/leads",
                Some(json!({"phone": phone, "campaign_id": cmp, "state": "FL",
                    "consent": {"type": "prior_express_written", "timestamp": "2026-01-05T12:00:00Z",
                        "source": "form-9", "text_version": "tcpa-v3", "captured_by": "web form", "ip": "192.0.2.7"}})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }
}

fn codes(v: &Value) -> Vec<String> {
    v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn imported_registry_decides_dials_and_a_provider_outage_pauses_then_resumes() {
    tollgate_server::tls::install_crypto_provider();
    let up = Arc::new(Mutex::new(true));
    let provider_url = provider(up.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = vars(d, port, &provider_url);
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string();

    // A synthetic registry: area code 305, every even line number of one
    // exchange listed; and Florida's own list with one more number.
    let national: String = (0..10_000u32)
        .step_by(2)
        .map(|i| format!("305555{i:04}\n"))
        .collect();
    std::fs::write(d.join("305.txt"), national).unwrap();
    std::fs::write(d.join("fl.txt"), "3055550411\n").unwrap();
    tollgate(d, &env, &["migrate"]);
    let (_, out) = tollgate(
        d,
        &env,
        &[
            "dnc",
            "import",
            "--list",
            "national",
            "--version",
            &today,
            "--out",
            "national.idx",
            "--activate",
            "305.txt",
        ],
    );
    let current: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(current["status"], "current", "{out}");
    assert_eq!(current["numbers"], 5000);
    tollgate(
        d,
        &env,
        &[
            "dnc",
            "import",
            "--list",
            "state:FL",
            "--version",
            &today,
            "--out",
            "fl.idx",
            "--activate",
            "--area-code",
            "305",
            "fl.txt",
        ],
    );
    // The index was copied into the DNC directory; the build output is not used.
    std::fs::remove_file(d.join("national.idx")).unwrap();

    let started = Instant::now();
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .arg("serve")
            .env_clear()
            .envs(env.iter().cloned())
            .current_dir(d)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The first organization, through a bootstrap link.
    let (_, link) = tollgate(d, &env, &["bootstrap"]);
    let token = extract_token(&link, "tg_boot_")
        .or_else(|| {
            link.lines()
                .next()
                .and_then(|l| l.rsplit('/').next())
                .map(str::to_owned)
        })
        .unwrap();
    let page = http
        .post(format!("{base}/bootstrap"))
        .form(&[
            ("token", token.as_str()),
            ("org_name", "Registry Org"),
            ("owner_name", "Owner Person"),
            ("owner_email", "owner@registry.example.com"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let key = extract_token(&page, "tg_live_").expect("the page shows the key");
    let api = Api {
        http: http.clone(),
        base: base.clone(),
        key,
    };

    let (s, cmp) = api
        .call(
            Method::POST,
            "/v1/campaigns",
            Some(json!({"name": "renewals", "purpose": "telemarketing", "channel": "voice", "voice": "ai"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{cmp}");
    let cmp = cmp["id"].as_str().unwrap().to_owned();
    let listed = api.lead(&cmp, "305 555 0400").await;
    let unlisted = api.lead(&cmp, "305 555 0401").await;
    let on_state_list = api.lead(&cmp, "305 555 0411").await;

    // An instant within the calling hours.
    let probe = api.dial(&cmp, &unlisted, None).await;
    let at = if probe["allowed"] == true {
        probe["at"].as_str().unwrap().to_owned()
    } else {
        assert!(
            codes(&probe)
                .iter()
                .all(|c| c == "outside_hours" || c == "restricted_day"),
            "{probe}"
        );
        probe["next_allowed"].as_str().unwrap().to_owned()
    };

    let allowed = api.dial(&cmp, &unlisted, Some(&at)).await;
    assert_eq!(allowed["allowed"], true, "{allowed}");
    assert_eq!(
        allowed["list_versions"],
        json!([
            {"list": "dnc_national", "version": format!("national {today}")},
            {"list": "dnc_state", "version": format!("state:FL {today}")},
            {"list": "suppression", "version": allowed["list_versions"][2]["version"]},
        ])
    );
    let denied = api.dial(&cmp, &listed, Some(&at)).await;
    assert_eq!(codes(&denied), ["dnc_national"], "{denied}");
    let detail = denied["reasons"][0]["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("national {today}")), "{detail}");
    let state = api.dial(&cmp, &on_state_list, Some(&at)).await;
    assert_eq!(codes(&state), ["dnc_state"], "{state}");
    assert!(
        state["reasons"][0]["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("state:FL {today}")),
        "{state}"
    );

    // Bulk scrub from the command line, through the same decision.
    let (_, me) = api.call(Method::GET, "/v1/me", None).await;
    std::fs::write(
        d.join("in.csv"),
        format!("lead_id,phone,note\n{listed},,a\n{unlisted},,b\n,305-555-0402,c\nlead_nope,,d\n"),
    )
    .unwrap();
    let (_, summary) = tollgate(
        d,
        &env,
        &[
            "dnc",
            "scrub",
            "in.csv",
            "--out",
            "out.csv",
            "--org",
            me["org_id"].as_str().unwrap(),
            "--campaign",
            &cmp,
        ],
    );
    let summary: Value = serde_json::from_str(summary.lines().last().unwrap()).unwrap();
    assert_eq!(summary["summary"]["invalid"], 1, "{summary}");
    let out = std::fs::read_to_string(d.join("out.csv")).unwrap();
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(
        rows[0],
        "lead_id,phone,note,verdict,reasons,details,list_versions"
    );
    assert!(
        rows[1].contains(",a,denied,") && rows[1].contains("dnc_national"),
        "{out}"
    );
    assert!(!rows[2].contains("do-not-call registry ("), "{out}");
    assert!(
        rows[2].contains(&format!("dnc_national=national {today}")),
        "{out}"
    );
    // A bare number has no consent evidence; it is on the national list too.
    assert!(
        rows[3].contains("no_consent") && rows[3].contains("dnc_national"),
        "{out}"
    );
    assert!(rows[4].contains(",d,invalid,"), "{out}");

    // The organization switches to its real-time provider; it goes down.
    let (s, cred) = api
        .call(
            Method::POST,
            "/v1/provider-credentials",
            Some(json!({"kind": "dnc_provider", "label": "scrub service",
                "secret": {"api_key": "dnc_done_when_0123456789abcdef"},
                "policy": {"vendor_trains_on_data": false, "retention": "zero"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{cred}");
    let (s, v) = api
        .call(
            Method::PATCH,
            "/v1/gate-settings",
            Some(json!({"dnc_provider_credential_id": cred["id"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    *up.lock().unwrap() = false;
    let paused = api.dial(&cmp, &unlisted, Some(&at)).await;
    assert_provider_down(&paused);

    // Recovery: still paused during the healthy period, then resumed.
    *up.lock().unwrap() = true;
    let still = api.dial(&cmp, &unlisted, Some(&at)).await;
    assert_provider_down(&still);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let resumed = api.dial(&cmp, &unlisted, Some(&at)).await;
    assert_eq!(resumed["allowed"], true, "{resumed}");

    let (s, events) = api
        .call(Method::GET, "/v1/audit-events?limit=500", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let actions: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"dnc.incident_opened"), "{actions:?}");
    assert!(actions.contains(&"dnc.incident_resolved"), "{actions:?}");
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
