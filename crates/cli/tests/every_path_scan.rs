//! The every-path scan (issue 9): the real `tollgate serve` binary, logging
//! at trace level, receives known sensitive values (cards written and
//! spoken, SSNs, routing and account numbers, e-mail addresses, phones)
//! through every write path of calls and redaction, in good requests and
//! bad ones (invalid UTF-8, oversize, malformed ids, refused fields). Then
//! every place the server writes is scanned: the database (every byte of the
//! SQLite file and its WAL, or every row of every table on PostgreSQL), the
//! server's log output, the audit log (API and export, HTTP and CLI) and
//! every HTTP response. None may hold a value.
//!
//! The values are random per run, so nothing else in a shared PostgreSQL
//! database can match them by chance. The write paths are enumerated from
//! the served OpenAPI document: a new POST/PUT/PATCH/DELETE under /v1/calls
//! or /v1/redaction* without a case here fails the test.

use std::collections::BTreeSet;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

const KEK: &str = "dGVzdC1rZWstdGVzdC1rZWstdGVzdC1rZWstdGVzdC0=";
const TOKEN_HASH: &str = "dGVzdC10b2tlbi1oYXNoLXRlc3QtdG9rZW4taGFzaDE=";
const AUDIT_SIGNING: &str = "dGVzdC1hdWRpdC1zaWduaW5nLWtleS10ZXN0LWtleTE=";

/// Route prefixes whose write operations must all be exercised here.
const COVERED_PREFIXES: &[&str] = &["/v1/calls", "/v1/redactions", "/v1/redaction-policy"];

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // Randomly keyed SipHash of a counter: random enough for test values,
    // and no dependency.
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(N.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    h.finish()
}

fn digits(n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + (random_u64() % 10) as u8))
        .collect()
}

fn luhn_complete(prefix: &str) -> String {
    // The check digit that makes prefix + d pass Luhn.
    let sum: u32 = prefix
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    format!("{prefix}{}", (10 - sum % 10) % 10)
}

/// A random Visa number that passes Luhn.
fn card() -> String {
    luhn_complete(&format!("4{}", digits(14)))
}

/// A random SSN in the issued ranges (area not 000, 666 or 9xx).
fn ssn() -> String {
    loop {
        let area = 1 + random_u64() % 899;
        let group = 1 + random_u64() % 99;
        let serial = 1 + random_u64() % 9999;
        if area != 666 {
            return format!("{area:03}-{group:02}-{serial:04}");
        }
    }
}

/// A random ABA routing number (Federal Reserve prefix, 3-7-1 checksum).
fn routing() -> String {
    let prefix = format!("{:02}{}", 1 + random_u64() % 12, digits(6));
    let w = [3, 7, 1, 3, 7, 1, 3, 7];
    let sum: u32 = prefix
        .bytes()
        .zip(w)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    format!("{prefix}{}", (10 - sum % 10) % 10)
}

fn phone() -> String {
    format!(
        "{}{} {}{} {}",
        2 + random_u64() % 8,
        digits(2),
        2 + random_u64() % 8,
        digits(2),
        digits(4)
    )
}

fn spoken(digits: &str) -> String {
    const WORDS: [&str; 10] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    digits
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| WORDS[usize::from(b - b'0')])
        .collect::<Vec<_>>()
        .join(" ")
}

fn grouped(card: &str) -> String {
    card.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(" ")
}

struct Secrets {
    card: String,
    spoken_card: String,
    card_in_extraction: String,
    ssn: String,
    routing: String,
    account: String,
    email: String,
    phone: String,
}

impl Secrets {
    fn new() -> Secrets {
        let mut s = Secrets {
            card: card(),
            spoken_card: card(),
            card_in_extraction: card(),
            ssn: ssn(),
            routing: routing(),
            account: digits(11),
            email: format!("jq{}.caller@example.com", digits(6)),
            phone: phone(),
        };
        // The account number must not start with 0 to read as one number.
        s.account.replace_range(0..1, "7");
        s
    }

    /// Every rendering that would betray a value if found anywhere.
    fn needles(&self) -> Vec<String> {
        let mut n = Vec::new();
        for c in [&self.card, &self.spoken_card, &self.card_in_extraction] {
            n.push(c.clone());
            n.push(grouped(c));
            n.push(spoken(c));
        }
        n.push(self.ssn.clone());
        n.push(self.ssn.replace('-', ""));
        n.push(self.ssn.replace('-', " "));
        n.push(self.routing.clone());
        n.push(self.account.clone());
        n.push(self.email.clone());
        n.push(self.email.split('@').next().unwrap().to_owned());
        n.push(self.phone.clone());
        n.push(self.phone.replace(' ', ""));
        n
    }
}

struct Server {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl Server {
    fn vars(
        dir: &std::path::Path,
        pg: &Option<(String, String)>,
        port: u16,
    ) -> Vec<(String, String)> {
        let mut v = vec![
            ("TOLLGATE_DATA_DIR".to_string(), dir.display().to_string()),
            (
                "TOLLGATE_SERVER_LISTEN".to_string(),
                format!("127.0.0.1:{port}"),
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
            // Everything every crate logs, down to trace.
            ("TOLLGATE_LOG_LEVEL".to_string(), "trace".to_string()),
        ];
        if let Some((app, owner)) = pg {
            v.push(("TOLLGATE_DATABASE_URL".into(), app.clone()));
            v.push(("TOLLGATE_DATABASE_MIGRATION_URL".into(), owner.clone()));
        }
        v
    }

    fn start() -> Server {
        let pg = (std::env::var("TOLLGATE_TEST_BACKEND").as_deref() == Ok("postgres")).then(|| {
            (
                std::env::var("TOLLGATE_TEST_DATABASE_URL").unwrap(),
                std::env::var("TOLLGATE_TEST_MIGRATION_URL").unwrap(),
            )
        });
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .arg("serve")
            .env_clear()
            .envs(Self::vars(dir.path(), &pg, port))
            .current_dir(dir.path())
            .stdout(std::fs::File::create(dir.path().join("stdout.log")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
            pg,
        }
    }

    fn logs(&self) -> String {
        let mut s = String::new();
        for f in ["stdout.log", "stderr.log"] {
            let mut bytes = Vec::new();
            if let Ok(mut file) = std::fs::File::open(self.dir.path().join(f)) {
                file.read_to_end(&mut bytes).unwrap();
            }
            s.push_str(&String::from_utf8_lossy(&bytes));
        }
        s
    }

    /// Stops the server the way an operator does (SIGTERM), so buffered
    /// records are written before the files are scanned again.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..200 {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Every byte the server keeps on disk in its data directory (the SQLite
    /// database, its WAL and shared memory, anything else), except the log
    /// files this test captures, which are scanned on their own.
    fn data_dir_bytes(&self) -> String {
        let mut out = String::new();
        let mut stack = vec![self.dir.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if !p.ends_with("stdout.log") && !p.ends_with("stderr.log") {
                    out.push_str(&String::from_utf8_lossy(
                        &std::fs::read(&p).unwrap_or_default(),
                    ));
                }
            }
        }
        out
    }

    /// Every row of every table on PostgreSQL, as text, read as the owner
    /// bound to the test's organization (row-level security is forced on
    /// the owner too): all of this organization's rows and every row of the
    /// tables that are not per organization.
    async fn pg_rows(&self, org_id: &str) -> Option<String> {
        use sqlx::{Connection, Row};
        let (_, owner) = self.pg.as_ref()?;
        let mut conn = sqlx::PgConnection::connect(owner).await.unwrap();
        let tables: Vec<String> = sqlx::query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
        assert!(tables.iter().any(|t| t == "call_transcripts"), "{tables:?}");
        sqlx::query("SELECT set_config('app.org_id', $1, false)")
            .bind(org_id)
            .execute(&mut conn)
            .await
            .unwrap();
        let mut out = String::new();
        for t in tables {
            let rows = sqlx::query(&format!("SELECT CAST(x AS text) FROM \"{t}\" x"))
                .fetch_all(&mut conn)
                .await
                .unwrap();
            for r in rows {
                out.push_str(&r.get::<String, _>(0));
                out.push('\n');
            }
        }
        Some(out)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every answer the server gave, to be scanned.
#[derive(Default)]
struct Transcript {
    answers: Vec<String>,
}

struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    async fn send(
        &self,
        log: &mut Transcript,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let mut text = format!("{status}\n");
        for (k, v) in res.headers() {
            text.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
        }
        let body = res.text().await.unwrap();
        text.push_str(&body);
        log.answers.push(text);
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    async fn json(
        &self,
        log: &mut Transcript,
        method: Method,
        path: &str,
        body: Value,
    ) -> (u16, Value) {
        self.send(log, method, path, Some(body.to_string().into_bytes()), &[])
            .await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_sensitive_value_reaches_any_storage_log_audit_or_answer() {
    let s = Secrets::new();
    let mut server = Server::start();
    tollgate_server::tls::install_crypto_provider();
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if http
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The first start prints a bootstrap link; on a shared PostgreSQL that
    // already has organizations, mint one with the CLI.
    let mut link = None;
    for _ in 0..50 {
        let out = server.logs();
        if let Some(i) = out.find("/bootstrap/tg_boot_") {
            link = Some(
                out[i + "/bootstrap/".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect::<String>(),
            );
            break;
        }
        if server.pg.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = match link {
        Some(t) => t,
        None => {
            let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
                .arg("bootstrap")
                .env_clear()
                .envs(Server::vars(server.dir.path(), &server.pg, 1))
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let i = text.find("/bootstrap/tg_boot_").expect("a bootstrap link");
            text[i + "/bootstrap/".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        }
    };
    let res = http
        .post(format!("{}/bootstrap", server.base))
        .form(&[
            ("token", token.as_str()),
            ("org_name", "Scan Lending"),
            ("owner_name", "Sam Scan"),
            ("owner_email", &format!("sam{}@scan.example.com", digits(8))),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let html = res.text().await.unwrap();
    let i = html.find("tg_live_").expect("the page shows the key");
    let key: String = html[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let c = Client {
        http: http.clone(),
        base: server.base.clone(),
        key,
    };
    let (_, me) = c
        .send(&mut Transcript::default(), Method::GET, "/v1/me", None, &[])
        .await;
    let org_id = me["org_id"].as_str().unwrap().to_owned();

    let mut log = Transcript::default();
    let mut covered: BTreeSet<(String, String)> = BTreeSet::new();
    let mut cover = |m: &str, p: &str| {
        covered.insert((m.to_owned(), p.to_owned()));
    };

    let conversation = json!([
        {"speaker": "agent", "text": "Thanks. What card would you like to use?"},
        {"speaker": "caller", "text": format!("It's {}, expiry 04/29.", grouped(&s.card))},
        {"speaker": "agent", "text": "And could you read me the number of the other card?"},
        {"speaker": "caller", "text": spoken(&s.spoken_card)},
        {"speaker": "agent", "text": "What is your social security number?"},
        {"speaker": "caller", "text": format!("sure, {}", s.ssn)},
        {"speaker": "agent", "text": "For the refund, your bank's routing number and account number?"},
        {"speaker": "caller", "text": format!("routing number {} and account number {}", s.routing, s.account)},
        {"speaker": "agent", "text": "And the best e-mail and phone number to reach you?"},
        {"speaker": "caller", "text": format!("{} or call {}", s.email, s.phone)},
    ]);
    let all_text = |sep: &str| {
        conversation
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["text"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join(sep)
    };

    // ---- POST /v1/redactions: text, turns, a stricter override.
    let (st, v) = c
        .json(
            &mut log,
            Method::POST,
            "/v1/redactions",
            json!({"text": all_text(" ")}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = c
        .json(
            &mut log,
            Method::POST,
            "/v1/redactions",
            json!({"turns": conversation, "policy": {"strict_pci": true}}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    cover("POST", "/v1/redactions");

    // ---- PUT /v1/redaction-policy: a value where a kind code belongs.
    let (st, _) = c
        .json(
            &mut log,
            Method::PUT,
            "/v1/redaction-policy",
            json!({"kinds": ["card", s.card.clone()]}),
        )
        .await;
    assert_eq!(st, 422);
    let (st, v) = c
        .json(
            &mut log,
            Method::PUT,
            "/v1/redaction-policy",
            json!({"strict_pci": true}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    cover("PUT", "/v1/redaction-policy");

    // ---- POST /v1/calls: a value where an identifier belongs is refused.
    for (field, value) in [
        ("external_id", s.card.clone()),
        ("campaign_id", s.ssn.clone()),
    ] {
        let mut body = json!({"external_id": "CAscan1", "direction": "outbound", "started_at": "2026-11-30T15:00:00Z"});
        body[field] = json!(value);
        let (st, v) = c.json(&mut log, Method::POST, "/v1/calls", body).await;
        assert_eq!(st, 422, "{field}: {v}");
    }
    let (st, call) = c
        .json(
            &mut log,
            Method::POST,
            "/v1/calls",
            json!({"external_id": "CAscan1", "direction": "outbound", "campaign_id": "spring", "started_at": "2026-11-30T15:00:00Z"}),
        )
        .await;
    assert_eq!(st, 201, "{call}");
    let call = call["id"].as_str().unwrap().to_owned();
    cover("POST", "/v1/calls");

    // ---- POST /v1/calls/{id}/transcript: bad bodies first, then the real one.
    let tpath = format!("/v1/calls/{call}/transcript");
    let mut bad = json!({"turns": conversation}).to_string().into_bytes();
    bad.extend([0xff, 0xfe, b' ']);
    let (st, _) = c
        .send(&mut log, Method::POST, &tpath, Some(bad.clone()), &[])
        .await;
    assert_eq!(st, 400);
    let mut huge = json!({"turns": conversation}).to_string();
    huge.insert_str(
        huge.len() - 2,
        &format!(
            ",{{\"speaker\":\"caller\",\"text\":\"{}\"}}",
            "x".repeat(1 << 20)
        ),
    );
    let (st, _) = c
        .send(&mut log, Method::POST, &tpath, Some(huge.into_bytes()), &[])
        .await;
    assert_eq!(st, 413);
    let (st, _) = c
        .json(
            &mut log,
            Method::POST,
            &tpath,
            json!({"turns": [{"speaker": s.card.clone(), "text": s.ssn.clone()}]}),
        )
        .await;
    assert_eq!(st, 422);
    let (st, _) = c
        .json(
            &mut log,
            Method::POST,
            &tpath,
            json!({"turns": conversation, "extra": s.email.clone()}),
        )
        .await;
    assert_eq!(st, 422);
    // A value where the call id belongs, in the path and in a query.
    let (st, _) = c
        .json(
            &mut log,
            Method::POST,
            &format!("/v1/calls/{}/transcript", s.card),
            json!({"turns": conversation}),
        )
        .await;
    assert_eq!(st, 400);
    let (st, _) = c
        .send(
            &mut log,
            Method::GET,
            &format!("/v1/calls?after={}", s.card),
            None,
            &[],
        )
        .await;
    assert_eq!(st, 400);
    // With an Idempotency-Key, so the kept response is scanned too.
    let (st, v) = c
        .send(
            &mut log,
            Method::POST,
            &tpath,
            Some(json!({"turns": conversation}).to_string().into_bytes()),
            &[("idempotency-key", "scan-transcript-1")],
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let (st, v) = c
        .send(
            &mut log,
            Method::POST,
            &tpath,
            Some(json!({"turns": conversation}).to_string().into_bytes()),
            &[("idempotency-key", "scan-transcript-1")],
        )
        .await;
    assert_eq!(st, 201, "the replay: {v}");
    let (st, _) = c
        .json(
            &mut log,
            Method::POST,
            &tpath,
            json!({"turns": conversation}),
        )
        .await;
    assert_eq!(st, 409);
    cover("POST", "/v1/calls/{call_id}/transcript");

    // ---- POST /v1/calls/{id}/extractions.
    let epath = format!("/v1/calls/{call}/extractions");
    let fields = json!({
        "card_number": s.card_in_extraction.parse::<u64>().unwrap(),
        "card_spoken": spoken(&s.spoken_card),
        "ssn": s.ssn.replace('-', ""),
        "bank": {"routing_number": s.routing.clone(), "account_number": s.account.clone()},
        "contact": [s.email.clone(), format!("phone {}", s.phone)],
        "summary": format!("caller gave card {} and ssn {}", grouped(&s.card), s.ssn),
    });
    let mut bad = json!({"fields": fields}).to_string().into_bytes();
    bad.extend([0xc3, 0x28]);
    let (st, _) = c.send(&mut log, Method::POST, &epath, Some(bad), &[]).await;
    assert_eq!(st, 400);
    let (st, _) = c
        .json(
            &mut log,
            Method::POST,
            &epath,
            json!({"fields": {grouped(&s.card): true}}),
        )
        .await;
    assert_eq!(st, 422);
    let (st, _) = c
        .json(
            &mut log,
            Method::POST,
            &epath,
            json!({"fields": [s.ssn.clone()]}),
        )
        .await;
    assert_eq!(st, 422);
    let mut deep = json!(s.ssn.clone());
    for _ in 0..12 {
        deep = json!({"ssn": deep});
    }
    let (st, _) = c
        .json(&mut log, Method::POST, &epath, json!({"fields": deep}))
        .await;
    assert_eq!(st, 422);
    let (st, v) = c
        .json(&mut log, Method::POST, &epath, json!({"fields": fields}))
        .await;
    assert_eq!(st, 201, "{v}");
    cover("POST", "/v1/calls/{call_id}/extractions");

    // ---- Values where the general extractors would quote them back: an
    // unknown query parameter, a wrong type in a JSON body elsewhere.
    let (st, _) = c
        .send(
            &mut log,
            Method::GET,
            &format!("/v1/calls?{}=1", s.card),
            None,
            &[],
        )
        .await;
    assert_eq!(st, 400);
    let (st, _) = c
        .json(
            &mut log,
            Method::POST,
            "/v1/api-keys",
            json!({"name": "bot", "scopes": ["calls:write"], "expires_at": 4, grouped(&s.card): 1}),
        )
        .await;
    assert_eq!(st, 422);
    let (st, _) = c
        .json(
            &mut log,
            Method::PATCH,
            "/v1/org",
            json!({"audit_retention_days": grouped(&s.card)}),
        )
        .await;
    assert_eq!(st, 422);

    // ---- Headers the server keeps (audit events, logs) carry values too.
    let (st, _) = c
        .send(
            &mut log,
            Method::POST,
            "/v1/redactions",
            Some(json!({"text": "hello"}).to_string().into_bytes()),
            &[
                (
                    "user-agent",
                    &format!("dialer/1.0 (card {})", grouped(&s.card)),
                ),
                ("x-request-id", &s.card_in_extraction),
            ],
        )
        .await;
    assert_eq!(st, 200);

    // ---- Reads: what was stored is what is served.
    for p in [
        "/v1/calls".to_owned(),
        format!("/v1/calls/{call}"),
        tpath.clone(),
        epath.clone(),
        "/v1/redaction-policy".to_owned(),
        // Prometheus labels are another place requests leave a trace.
        "/metrics".to_owned(),
    ] {
        let (st, _) = c.send(&mut log, Method::GET, &p, None, &[]).await;
        assert_eq!(st, 200, "{p}");
    }
    let (_, t) = c.send(&mut log, Method::GET, &tpath, None, &[]).await;
    let kinds: BTreeSet<&str> = t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    for k in [
        "card",
        "ssn",
        "routing_number",
        "bank_account",
        "email",
        "phone",
    ] {
        assert!(kinds.contains(k), "no {k} finding: {kinds:?}");
    }

    // ---- Every write path under the covered prefixes has a case above.
    let doc: Value = http
        .get(format!("{}/openapi.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut writes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !COVERED_PREFIXES.iter().any(|p| path.starts_with(p)) {
            continue;
        }
        for m in item.as_object().unwrap().keys() {
            if ["post", "put", "patch", "delete"].contains(&m.as_str()) {
                writes.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    let missing: Vec<_> = writes.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "write paths without a scan case: {missing:?}"
    );
    assert!(writes.len() >= 5, "{writes:?}");

    // ---- The audit log, through the API and both exports.
    let mut audit = String::new();
    let mut before = None::<i64>;
    loop {
        let path = match before {
            Some(b) => format!("/v1/audit-events?limit=500&before={b}"),
            None => "/v1/audit-events?limit=500".to_owned(),
        };
        let (st, page) = c.send(&mut log, Method::GET, &path, None, &[]).await;
        assert_eq!(st, 200, "{page}");
        audit.push_str(&page.to_string());
        match page["next_before"].as_i64() {
            Some(n) => before = Some(n),
            None => break,
        }
    }
    for format in ["jsonl", "csv"] {
        let (st, _) = c
            .send(
                &mut log,
                Method::GET,
                &format!("/v1/audit-events/export?format={format}"),
                None,
                &[],
            )
            .await;
        assert_eq!(st, 200);
    }
    assert!(
        audit.contains("call.transcript_added"),
        "the audit log lacks the transcript"
    );
    assert!(audit.contains("call.extraction_added"));
    assert!(audit.contains("redaction_policy.updated"));
    // The malformed id in the path was recorded, but not its value.
    assert!(
        audit.contains("(not an identifier)") || audit.contains("[CARD]"),
        "the malformed path id is not in the audit log"
    );

    // ---- Scan, while running and after a clean stop.
    let needles = s.needles();
    // Each place is checked to hold what it should (the call's external id,
    // a word of the transcript), so a scan of the wrong file or an empty
    // table cannot pass by finding nothing.
    let scan = |place: &str, haystack: &str| {
        assert!(haystack.len() > 100, "{place}: nothing to scan");
        for n in &needles {
            assert!(
                !haystack.contains(n.as_str()),
                "{place} holds a sensitive value `{n}`"
            );
        }
    };
    for (i, a) in log.answers.iter().enumerate() {
        scan(&format!("HTTP answer #{i}"), a);
    }
    scan("the audit log (API)", &audit);
    assert!(audit.contains("CAscan1"));
    let logs_running = server.logs();
    assert!(logs_running.contains("/v1/calls/{call_id}/transcript"));
    assert!(
        logs_running.contains("TRACE") || logs_running.contains("DEBUG"),
        "not logging at trace level"
    );
    scan("the server's log", &logs_running);
    // The kept transcript words are sealed at rest (ADR 0103): the clear
    // parts of a call (its external id, the findings map) show the scan
    // reads the call tables, and the words must not be there.
    if server.pg.is_none() {
        let files = server.data_dir_bytes();
        assert!(
            files.contains("CAscan1") && files.contains("redacted_start"),
            "the database was not scanned"
        );
        assert!(
            !files.contains("For the refund"),
            "a transcript in the clear"
        );
        scan("the SQLite files (running)", &files);
    }
    if let Some(rows) = server.pg_rows(&org_id).await {
        assert!(
            rows.contains("CAscan1") && rows.contains("redacted_start"),
            "the tables were not scanned"
        );
        assert!(
            !rows.contains("For the refund"),
            "a transcript in the clear"
        );
        scan("a PostgreSQL table", &rows);
    }
    server.stop();
    scan("the server's log", &server.logs());
    if server.pg.is_none() {
        let files = server.data_dir_bytes();
        assert!(files.contains("call_transcripts"), "scanned no database");
        scan("the SQLite files (stopped)", &files);
    }
    // The operator's export, from the CLI.
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["audit", "export", "--org", &org_id])
        .env_clear()
        .envs(Server::vars(server.dir.path(), &server.pg, 1))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let export = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(export.contains("call.transcript_added"));
    scan("the audit export (CLI)", &export);
    println!(
        "every-path scan: {} answers, {} write paths, {} needles, backend {}",
        log.answers.len(),
        writes.len(),
        needles.len(),
        if server.pg.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    );
}
