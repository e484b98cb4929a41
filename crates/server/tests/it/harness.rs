use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tollgate_core::{MemberId, OrgId};
use tollgate_server::{AppState, Config};
use tollgate_store::{Ctx, NewApiKey, Store};

/// Fixed test keys: every test process of a PostgreSQL run shares one
/// database, which records the key fingerprints of its first start.
const KEK: &str = "dGVzdC1rZWstdGVzdC1rZWstdGVzdC1rZWstdGVzdC0=";
const TOKEN_HASH: &str = "dGVzdC10b2tlbi1oYXNoLXRlc3QtdG9rZW4taGFzaDE=";
const AUDIT_SIGNING: &str = "dGVzdC1hdWRpdC1zaWduaW5nLWtleS10ZXN0LWtleTE=";

pub fn backend() -> String {
    std::env::var("TOLLGATE_TEST_BACKEND").unwrap_or_else(|_| "sqlite".into())
}

pub struct TestServer {
    pub base: String,
    pub http: reqwest::Client,
    pub state: AppState,
    pub data_dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// An organization made through the bootstrap link, with its owner's key.
#[derive(Clone)]
pub struct TestOrg {
    pub id: String,
    pub name: String,
    pub owner_id: String,
    pub owner_email: String,
    pub key: String,
    pub key_id: String,
    pub bootstrap_token: String,
}

pub fn config(data_dir: &std::path::Path) -> Config {
    let mut env = vec![
        (
            "TOLLGATE_SERVER_LISTEN".to_string(),
            "127.0.0.1:0".to_string(),
        ),
        ("TOLLGATE_SECURITY_KEK".to_string(), KEK.to_string()),
        (
            "TOLLGATE_SECURITY_TOKEN_HASH_KEYS".to_string(),
            TOKEN_HASH.to_string(),
        ),
        (
            "TOLLGATE_SECURITY_AUDIT_SIGNING_KEY".to_string(),
            AUDIT_SIGNING.to_string(),
        ),
        ("TOLLGATE_LOG_LEVEL".to_string(), "warn".to_string()),
        // Webhook receivers in tests listen on loopback over plain HTTP.
        // Only servers started with `start_delivering` run workers: on
        // PostgreSQL the outbox is shared, and a worker of a test process
        // that ends mid-attempt would hold another test's delivery for a
        // whole lease. The delivering tests run one at a time
        // (.config/nextest.toml).
        ("TOLLGATE_WEBHOOKS_WORKERS".to_string(), "false".to_string()),
        (
            "TOLLGATE_WEBHOOKS_ALLOW_HTTP_HOSTS".to_string(),
            "[\"127.0.0.1\"]".to_string(),
        ),
        (
            "TOLLGATE_WEBHOOKS_ALLOW_PRIVATE_ADDRESSES".to_string(),
            "true".to_string(),
        ),
        (
            "TOLLGATE_WEBHOOKS_POLL_INTERVAL_MS".to_string(),
            "50".to_string(),
        ),
    ];
    if backend() == "postgres" {
        let app = std::env::var("TOLLGATE_TEST_DATABASE_URL")
            .expect("TOLLGATE_TEST_DATABASE_URL for the postgres backend");
        let owner = std::env::var("TOLLGATE_TEST_MIGRATION_URL")
            .expect("TOLLGATE_TEST_MIGRATION_URL for the postgres backend");
        env.push(("TOLLGATE_DATABASE_URL".into(), app));
        env.push(("TOLLGATE_DATABASE_MIGRATION_URL".into(), owner));
    }
    if let Ok(redis) = std::env::var("TOLLGATE_TEST_REDIS_URL") {
        // Scale-out mode: shared limits in Redis, each test server in its
        // own namespace so limits do not leak between tests.
        let mut r = [0u8; 6];
        getrandom::fill(&mut r).unwrap();
        env.push(("TOLLGATE_REDIS_URL".into(), redis));
        env.push((
            "TOLLGATE_REDIS_KEY_PREFIX".into(),
            format!("t{}", tollgate_core::base32::encode(&r)),
        ));
    }
    let mut c = tollgate_server::config::load(None, &env)
        .expect("test configuration")
        .config;
    c.data_dir = data_dir.to_path_buf();
    c
}

impl TestServer {
    pub async fn start() -> TestServer {
        let data_dir = tempfile::tempdir().unwrap();
        Self::start_with(config(data_dir.path()), data_dir).await
    }

    /// A server whose webhook workers deliver (see `config`).
    pub async fn start_delivering() -> TestServer {
        let data_dir = tempfile::tempdir().unwrap();
        let mut c = config(data_dir.path());
        c.webhooks.workers = true;
        Self::start_with(c, data_dir).await
    }

    pub async fn start_with(config: Config, data_dir: tempfile::TempDir) -> TestServer {
        let prepared = tollgate_server::prepare(config)
            .await
            .expect("server prepares");
        let addr = prepared.listener.local_addr().unwrap();
        let state = prepared.state.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(tollgate_server::serve(prepared, async move {
            let _ = rx.await;
        }));
        TestServer {
            base: format!("http://{addr}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            state,
            data_dir,
            _shutdown: tx,
        }
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    pub async fn bootstrap_token(&self) -> String {
        let t = self
            .store()
            .create_bootstrap_token(self.state.now(), 900)
            .await
            .unwrap();
        t.plaintext.to_string()
    }

    /// Creates an organization the way a new user does: through the link.
    pub async fn new_org(&self, label: &str) -> TestOrg {
        let token = self.bootstrap_token().await;
        let suffix = &token[8..16];
        let name = format!("{label} Org {suffix}");
        let email = format!("owner-{suffix}@{}.example.com", label.to_lowercase());
        let res = self
            .http
            .post(format!("{}/bootstrap", self.base))
            .form(&[
                ("token", token.as_str()),
                ("org_name", &name),
                ("owner_name", "Owner Person"),
                ("owner_email", &email),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let html = res.text().await.unwrap();
        let key = extract_token(&html, "tg_live_").expect("the page shows the key");
        let me = self.call(&key, Method::GET, "/v1/me", None).await;
        assert_eq!(me.0, StatusCode::OK, "{}", me.1);
        TestOrg {
            id: me.1["org_id"].as_str().unwrap().to_owned(),
            name,
            owner_id: me.1["on_behalf_of"].as_str().unwrap().to_owned(),
            owner_email: email,
            key_id: me.1["actor_id"].as_str().unwrap().to_owned(),
            key,
            bootstrap_token: token,
        }
    }

    /// Sends a request with a bearer key; returns status and JSON (or Null).
    pub async fn call(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, text, _) = self.raw(Some(key), method, path, body).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn raw(
        &self,
        key: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, String, reqwest::header::HeaderMap) {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        (status, res.text().await.unwrap(), headers)
    }

    /// A key acting for `user_id`, issued the way an operator does (CLI).
    pub async fn key_for_member(&self, org: &TestOrg, user_id: &str) -> String {
        let actor = self
            .store()
            .operator_actor_for_member(
                &OrgId::parse(&org.id).unwrap(),
                &MemberId::parse(user_id).unwrap(),
            )
            .await
            .unwrap();
        let ctx = Ctx {
            now: self.state.now(),
            request: Default::default(),
        };
        let (_, token) = self
            .store()
            .scope(&actor)
            .create_api_key(
                NewApiKey {
                    name: "member key".into(),
                    scopes: tollgate_core::ScopeSet::all(),
                    expires_at: None,
                },
                &ctx,
            )
            .await
            .unwrap();
        token.plaintext.to_string()
    }

    /// Registers an OAuth client through the API with `org`'s owner key;
    /// returns its id and secret.
    pub async fn oauth_client(&self, org: &TestOrg, scopes: &[&str]) -> (String, String) {
        let (s, v) = self
            .call(
                &org.key,
                Method::POST,
                "/v1/oauth-clients",
                Some(json!({"name": "machine client", "scopes": scopes})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        (
            v["client"]["client_id"].as_str().unwrap().to_owned(),
            v["client_secret"].as_str().unwrap().to_owned(),
        )
    }

    /// A client credentials token request with `client_secret_basic`.
    pub async fn oauth_token(
        &self,
        client_id: &str,
        secret: &str,
        scope: Option<&str>,
    ) -> (StatusCode, Value, reqwest::header::HeaderMap) {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        let res = self
            .http
            .post(format!("{}/oauth/token", self.base))
            .basic_auth(client_id, Some(secret))
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            headers,
        )
    }

    /// Invites a member with `role` and returns their user id.
    pub async fn invite(&self, org: &TestOrg, email: &str, role: &str) -> String {
        let (s, v) = self
            .call(
                &org.key,
                Method::POST,
                "/v1/members",
                Some(json!({"email": email, "role": role})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    /// Every byte of the embedded database (main file and write-ahead log),
    /// to prove a secret is not stored; `None` on PostgreSQL.
    pub async fn stored_bytes(&self) -> Option<String> {
        if backend() != "sqlite" {
            return None;
        }
        self.state.audit.flush().await;
        let mut bytes = Vec::new();
        for f in ["tollgate.db", "tollgate.db-wal"] {
            bytes.extend(std::fs::read(self.data_dir.path().join(f)).unwrap_or_default());
        }
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Audit events describing changes (not the records of API calls).
    pub async fn audit_count(&self, org: &TestOrg) -> usize {
        self.audit_events(org)
            .await
            .iter()
            .filter(|e| e["action"] != "api.call")
            .count()
    }

    /// Every audit event of the org, oldest first, after flushing the
    /// API-call records still queued.
    pub async fn audit_events(&self, org: &TestOrg) -> Vec<Value> {
        self.state.audit.flush().await;
        let (s, v) = self
            .call(&org.key, Method::GET, "/v1/audit-events?limit=500", None)
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let mut events = v["data"].as_array().unwrap().clone();
        events.reverse();
        events
    }

    /// The organization's whole audit chain as stored (with each event's
    /// stored hash), read through the store as the organization's API key.
    pub async fn audit_chain(&self, org: &TestOrg) -> Vec<tollgate_store::StoredEvent> {
        self.state.audit.flush().await;
        let actor = self
            .store()
            .authenticate_api_key(&org.key, self.state.now())
            .await
            .unwrap();
        self.store().scope(&actor).audit_chain().await.unwrap()
    }
}

pub fn extract_token(text: &str, prefix: &str) -> Option<String> {
    let start = text.find(prefix)?;
    Some(
        text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect(),
    )
}

/// A well-formed token of `kind` with `token`'s lookup id and another
/// secret: found by its lookup, refused by its hash.
pub fn same_lookup_other_secret(kind: tollgate_core::token::TokenKind, token: &str) -> String {
    let lookup = tollgate_core::token::parse(kind, token)
        .unwrap()
        .bytes()
        .map(|c| u128::from(tollgate_core::base32::digit(c).unwrap()))
        .fold(0u128, |acc, d| (acc << 5) | d);
    let lookup: [u8; 10] = lookup.to_be_bytes()[6..].try_into().unwrap();
    let forged = tollgate_core::token::mint(kind, lookup, &[9; 32])
        .plaintext
        .as_str()
        .to_owned();
    let prefix = kind.prefix().len() + 16;
    assert_eq!(forged[..prefix], token[..prefix], "same lookup id");
    assert_ne!(forged, token);
    forged
}

pub fn unique_email(label: &str) -> String {
    let mut r = [0u8; 6];
    getrandom::fill(&mut r).unwrap();
    format!("{label}-{}@example.com", tollgate_core::base32::encode(&r))
}

#[allow(dead_code)]
pub type Shared<T> = Arc<T>;
