//! Secrets hygiene, end to end: one flow creates every kind of secret
//! (tokens Tollgate issues, provider credentials it stores), uses them,
//! provokes errors around them, and then searches the captured logs (at
//! debug level, through the production log writer), the database file and
//! every HTTP response for each plaintext. A token may appear only in the
//! one response that issued it; a provider secret in none.
//!
//! Its own test binary: it installs the process-wide log subscriber.

#[allow(dead_code)]
#[path = "it/harness.rs"]
mod harness;

use std::io;
use std::sync::{Arc, Mutex};

use harness::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tollgate_core::id::ProviderCredentialId;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Every response of the flow, and the secret each issuing one may carry.
#[derive(Default)]
struct Responses(Vec<(String, String, Option<String>)>);

impl Responses {
    async fn call(
        &mut self,
        server: &TestServer,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (s, text, headers) = server.raw(Some(key), method.clone(), path, body).await;
        let all = format!("{headers:?}\n{text}");
        self.0.push((format!("{method} {path} -> {s}"), all, None));
        (s, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn issued(&mut self, what: &str, text: String, secret: &str) {
        self.0
            .push((what.to_owned(), text, Some(secret.to_owned())));
    }
}

/// Every row of every table, as text, seen with the organization bound
/// (row-level security shows the rest nothing): PostgreSQL has no single
/// file to search.
async fn postgres_rows(org: &str) -> String {
    use sqlx::Connection;
    let url = std::env::var("TOLLGATE_TEST_MIGRATION_URL").unwrap();
    let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut tx = c.begin().await.unwrap();
    sqlx::query("SELECT set_config('app.org_id', $1, true)")
        .bind(org)
        .execute(&mut *tx)
        .await
        .unwrap();
    let tables: Vec<(String,)> =
        sqlx::query_as("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    let mut out = String::new();
    for (t,) in tables {
        let (text,): (Option<String>,) = sqlx::query_as(&format!(
            "SELECT string_agg(r::text, E'\\n') FROM \"{t}\" r"
        ))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        out.push_str(&text.unwrap_or_default());
    }
    assert!(out.contains(org), "the dump sees the organization's rows");
    out
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n / 2];
    getrandom::fill(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test]
async fn no_secret_reaches_logs_database_or_responses() {
    let logs = Captured::default();
    let log_config = tollgate_server::config::LogConfig {
        format: tollgate_server::config::LogFormat::Json,
        level: "debug".into(),
    };
    tollgate_server::telemetry::init_with(&log_config, {
        let logs = logs.clone();
        move || logs.clone()
    });

    let server = TestServer::start().await;
    let org = server.new_org("Hygiene").await;
    let mut responses = Responses::default();

    // Tokens Tollgate issues: shown once, in the answer that creates them.
    let (s, text, _) = server
        .raw(
            Some(&org.key),
            Method::POST,
            "/v1/api-keys",
            Some(json!({"name": "bot", "scopes": ["dial:check"]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{text}");
    let bot_token = serde_json::from_str::<Value>(&text).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    responses.issued("api key", text, &bot_token);
    // Issued under an Idempotency-Key: the kept answer must not hold it.
    let res = server
        .http
        .post(format!("{}/v1/oauth-clients", server.base))
        .bearer_auth(&org.key)
        .header("Idempotency-Key", "hygiene-oauth-client-1")
        .json(&json!({"name": "machine client", "scopes": ["dial:check"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let text = res.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let client_id = v["client"]["client_id"].as_str().unwrap().to_owned();
    let client_secret = v["client_secret"].as_str().unwrap().to_owned();
    responses.issued("oauth client", text, &client_secret);
    let (s, token, _) = server.oauth_token(&client_id, &client_secret, None).await;
    assert_eq!(s, StatusCode::OK);
    let access_token = token["access_token"].as_str().unwrap().to_owned();
    responses.issued("oauth token", token.to_string(), &access_token);
    responses
        .call(&server, &access_token, Method::GET, "/v1/org", None)
        .await;
    responses
        .call(&server, &bot_token, Method::GET, "/v1/me", None)
        .await;

    // Provider secrets: never in any answer.
    let retell = format!("key_{}", random_hex(28));
    let retell_new = format!("sk_live_{}", random_hex(32));
    let twilio_sid = format!("AC{}", random_hex(32));
    let twilio_token = random_hex(32);
    let dnc = format!("dnc-{}-{}", random_hex(16), random_hex(16));
    let policy = json!({"vendor_trains_on_data": false, "retention": "zero"});
    let mut ids = Vec::new();
    for (kind, secret) in [
        ("retell", json!({"api_key": retell})),
        (
            "twilio",
            json!({"account_sid": twilio_sid, "auth_token": twilio_token}),
        ),
        (
            "dnc_provider",
            json!({"api_key": dnc, "account_id": "acct-7"}),
        ),
    ] {
        let (s, v) = responses
            .call(
                &server,
                &org.key,
                Method::POST,
                "/v1/provider-credentials",
                Some(json!({"kind": kind, "label": kind, "secret": secret, "policy": policy})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["last_four"].as_str().unwrap().len(), 4, "{v}");
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    // Created under an Idempotency-Key: the request's fingerprint is kept,
    // and a plain hash of a body holding a secret would let a copy of the
    // database test guesses against the secret.
    let idem_secret = format!("sk_live_{}", random_hex(32));
    let idem_body = serde_json::to_vec(&json!({
        "kind": "retell", "label": "idempotent", "policy": policy,
        "secret": {"api_key": idem_secret},
    }))
    .unwrap();
    let res = server
        .http
        .post(format!("{}/v1/provider-credentials", server.base))
        .bearer_auth(&org.key)
        .header("Idempotency-Key", "hygiene-credential-1")
        .header("content-type", "application/json")
        .body(idem_body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let text = res.text().await.unwrap();
    responses.issued("idempotent credential", text, "");
    let unkeyed: Vec<u8> = {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update("POST");
        h.update([0]);
        h.update("/v1/provider-credentials");
        h.update([0]);
        h.update(&idem_body);
        h.finalize().to_vec()
    };

    // Bad input around a secret: a bare string, a wrong field, a wrong type
    // elsewhere in the body. Each is refused without quoting the secret.
    for body in [
        json!({"kind": "retell", "label": "x", "secret": retell, "policy": policy}),
        json!({"kind": "retell", "label": "x", "secret": {"token": retell}, "policy": policy}),
        json!({"kind": "retell", "label": "x", "secret": {retell.clone(): "v"}, "policy": policy}),
        json!({"kind": "nope", "label": "x", "secret": {"api_key": retell}, "policy": policy}),
        json!({"kind": "retell", "label": 5, "secret": {"api_key": retell}, "policy": policy}),
        json!({"kind": "retell", "label": "x", "secret": {"api_key": retell}, "policy": {"retention": "limited", "vendor_trains_on_data": true}}),
    ] {
        let (s, v) = responses
            .call(
                &server,
                &org.key,
                Method::POST,
                "/v1/provider-credentials",
                Some(body),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    }
    let (s, _) = responses
        .call(
            &server,
            &org.key,
            Method::PUT,
            &format!("/v1/provider-credentials/{}", ids[0]),
            Some(json!({"secret": {"api_key": retell_new}, "label": "retell prod"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    responses
        .call(
            &server,
            &org.key,
            Method::GET,
            "/v1/provider-credentials",
            None,
        )
        .await;
    for id in &ids {
        let (s, v) = responses
            .call(
                &server,
                &org.key,
                Method::GET,
                &format!("/v1/provider-credentials/{id}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }

    // An outbound call: the plaintext exists inside the closure only. A
    // careless log line there is caught by the log writer.
    let actor = server
        .store()
        .authenticate_api_key(&org.key, server.state.now())
        .await
        .unwrap();
    let scope = server.store().scope(&actor);
    let used = scope
        .with_provider_secret(
            &ProviderCredentialId::parse(&ids[0]).unwrap(),
            async |_, s: &tollgate_store::SecretFields| {
                let key = s.get("api_key").unwrap();
                tracing::warn!("provider refused: Authorization: Bearer {key}");
                key == retell_new
            },
        )
        .await
        .unwrap();
    assert!(used, "the replaced secret is the one used");
    scope
        .with_provider_secret(
            &ProviderCredentialId::parse(&ids[1]).unwrap(),
            async |_, s: &tollgate_store::SecretFields| {
                tracing::error!(
                    request = %format!("{{\"auth_token\":\"{}\"}}", s.get("auth_token").unwrap()),
                    "twilio call failed"
                );
            },
        )
        .await
        .unwrap();

    server.state.audit.flush().await;
    responses
        .call(
            &server,
            &org.key,
            Method::GET,
            "/v1/audit-events?limit=500",
            None,
        )
        .await;
    responses
        .call(
            &server,
            &org.key,
            Method::GET,
            "/v1/audit-events/export",
            None,
        )
        .await;
    let (s, _) = responses
        .call(
            &server,
            &org.key,
            Method::DELETE,
            &format!("/v1/provider-credentials/{}", ids[2]),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let stored = match server.stored_bytes().await {
        Some(bytes) => Some(bytes),
        None => Some(postgres_rows(&org.id).await),
    };

    let secrets = [
        ("bootstrap token", org.bootstrap_token.clone()),
        ("owner api key", org.key.clone()),
        ("bot api key", bot_token.clone()),
        ("oauth client secret", client_secret.clone()),
        ("oauth access token", access_token.clone()),
        ("retell key", retell.clone()),
        ("retell replacement", retell_new.clone()),
        ("twilio auth token", twilio_token.clone()),
        ("twilio account sid", twilio_sid.clone()),
        ("dnc key", dnc.clone()),
        ("idempotent credential key", idem_secret.clone()),
    ];
    let raw_db: Vec<u8> = ["tollgate.db", "tollgate.db-wal"]
        .iter()
        .flat_map(|f| std::fs::read(server.data_dir.path().join(f)).unwrap_or_default())
        .collect();
    assert!(
        !raw_db.windows(32).any(|w| w == unkeyed.as_slice()),
        "an unkeyed hash of a secret-bearing body is stored"
    );
    let unkeyed_hex: String = unkeyed.iter().map(|b| format!("{b:02x}")).collect();
    assert!(
        !stored.as_ref().is_some_and(|db| db.contains(&unkeyed_hex)),
        "an unkeyed hash of a secret-bearing body is stored (hex)"
    );
    let log_text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        log_text.contains("provider refused") && log_text.contains("twilio call failed"),
        "the log capture works"
    );
    assert!(log_text.contains("[REDACTED]"));
    for (what, secret) in &secrets {
        assert!(!log_text.contains(secret.as_str()), "{what} in the logs");
        if let Some(db) = &stored {
            assert!(!db.contains(secret.as_str()), "{what} in the database");
            let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
            assert!(!db.contains(&hex), "{what} in the database (bytea)");
        }
        for (call, text, issued) in &responses.0 {
            if issued.as_deref() == Some(secret.as_str()) {
                continue;
            }
            assert!(
                !text.contains(secret.as_str()),
                "{what} in the answer to {call}"
            );
        }
    }
    println!(
        "hygiene: {} secrets, {} responses, {} log bytes, {} database bytes ({} backend): no plaintext found",
        secrets.len(),
        responses.0.len(),
        log_text.len(),
        stored.as_ref().map_or(0, String::len),
        harness::backend()
    );
}
