//! `tollgate keys rotate-kek` and `rotate-dek` run by the real binary while a
//! server holds the database open: every credential stays usable throughout,
//! a server started with the old KEK alone is refused once the rotation is
//! recorded, and a DEK rotation stopped after two batches resumes, with
//! credentials or with sealed call transcripts and extractions.
//!
//! Each test has a database of its own: a KEK rotation changes the
//! database's recorded KEK and deletes wraps of every organization, which
//! the shared PostgreSQL database of a test run must keep. So the tests run
//! on SQLite in a private directory, and on PostgreSQL only where an admin
//! connection can create a private database (TEST_PG_HOST, TEST_PG_PORT,
//! TEST_PG_ADMIN: set by scripts/test for scripts/test.d/60-key-rotation.sh).

use std::collections::BTreeMap;
use std::process::Command;

use tollgate_core::UnixMicros;
use tollgate_core::id::ProviderCredentialId;
use tollgate_store::{Actor, BootstrapInput, Ctx, NewProviderCredential, SecretFields, Store};
use zeroize::Zeroizing;

const KEK: &str = "dGVzdC1rZWstdGVzdC1rZWstdGVzdC1rZWstdGVzdC0=";
const TOKEN_HASH: &str = "dGVzdC10b2tlbi1oYXNoLXRlc3QtdG9rZW4taGFzaDE=";
const AUDIT_SIGNING: &str = "dGVzdC1hdWRpdC1zaWduaW5nLWtleS10ZXN0LWtleTE=";

/// The database settings of one test: SQLite in `dir` (none), or a fresh
/// PostgreSQL database.
async fn database() -> Vec<(String, String)> {
    use sqlx::Connection;
    let (Ok(host), Ok(port), Ok(admin)) = (
        std::env::var("TEST_PG_HOST"),
        std::env::var("TEST_PG_PORT"),
        std::env::var("TEST_PG_ADMIN"),
    ) else {
        return Vec::new();
    };
    let mut r = [0u8; 5];
    getrandom::fill(&mut r).unwrap();
    let db = format!(
        "tollgate_keys_{}",
        r.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let mut c = sqlx::PgConnection::connect(&format!("postgres://{admin}@{host}:{port}/postgres"))
        .await
        .unwrap();
    sqlx::raw_sql(&format!("CREATE DATABASE {db} OWNER tollgate_owner"))
        .execute(&mut c)
        .await
        .unwrap();
    let mut c = sqlx::PgConnection::connect(&format!("postgres://{admin}@{host}:{port}/{db}"))
        .await
        .unwrap();
    sqlx::raw_sql("ALTER SCHEMA public OWNER TO tollgate_owner")
        .execute(&mut c)
        .await
        .unwrap();
    vec![
        (
            "TOLLGATE_DATABASE_URL".into(),
            format!("postgres://tollgate_app@{host}:{port}/{db}"),
        ),
        (
            "TOLLGATE_DATABASE_MIGRATION_URL".into(),
            format!("postgres://tollgate_owner@{host}:{port}/{db}"),
        ),
    ]
}

fn vars(
    dir: &std::path::Path,
    db: &[(String, String)],
    kek: &[(&str, String)],
) -> Vec<(String, String)> {
    let mut v = db.to_vec();
    v.extend([
        ("TOLLGATE_DATA_DIR".to_string(), dir.display().to_string()),
        (
            "TOLLGATE_SECURITY_TOKEN_HASH_KEYS".to_string(),
            TOKEN_HASH.to_string(),
        ),
        (
            "TOLLGATE_SECURITY_AUDIT_SIGNING_KEY".to_string(),
            AUDIT_SIGNING.to_string(),
        ),
        ("TOLLGATE_LOG_LEVEL".to_string(), "error".to_string()),
    ]);
    v.extend(kek.iter().map(|(k, val)| (k.to_string(), val.clone())));
    v
}

fn old_kek() -> Vec<(&'static str, String)> {
    vec![("TOLLGATE_SECURITY_KEK", KEK.to_string())]
}

fn run(vars: &[(String, String)], args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .env_clear()
        .envs(vars.iter().cloned())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

async fn open(vars: &[(String, String)]) -> anyhow::Result<Store> {
    let config = tollgate_server::config::load(None, vars)?.config;
    Ok(tollgate_server::open_store(&config, true).await?.store)
}

async fn new_org(store: &Store, label: &str) -> Actor {
    let now = tollgate_server::app::now();
    let token = store.create_bootstrap_token(now, 900).await.unwrap();
    let ctx = Ctx {
        now,
        request: Default::default(),
    };
    let done = store
        .redeem_bootstrap(
            &token.plaintext,
            BootstrapInput {
                org_name: label.into(),
                owner_name: "Owner".into(),
                owner_email: format!("o@{label}.example.com"),
            },
            &ctx,
        )
        .await
        .unwrap();
    store
        .authenticate_api_key(&done.token.plaintext, now)
        .await
        .unwrap()
}

fn secret_of(label: &str, i: usize) -> String {
    format!("sk_live_{label}_{i:04}_0123456789abcdef")
}

async fn create(store: &Store, actor: &Actor, label: &str, n: usize) -> Vec<ProviderCredentialId> {
    let mut ids = Vec::new();
    for i in 0..n {
        let ctx = Ctx {
            now: UnixMicros(tollgate_server::app::now().0 + i as i64 * 1_000),
            request: Default::default(),
        };
        let c = store
            .scope(actor)
            .create_provider_credential(
                NewProviderCredential {
                    kind: "retell".into(),
                    label: format!("{label} {i}"),
                    secret: SecretFields::new(BTreeMap::from([(
                        "api_key".to_owned(),
                        Zeroizing::new(secret_of(label, i)),
                    )])),
                    main_field: "api_key".into(),
                    policy: serde_json::json!({"vendor_trains_on_data": false, "retention": "zero"}),
                },
                &ctx,
            )
            .await
            .unwrap();
        ids.push(c.id);
    }
    ids
}

/// Every credential opens, as an outbound provider call would open it.
async fn assert_usable(store: &Store, actor: &Actor, label: &str, ids: &[ProviderCredentialId]) {
    for (i, id) in ids.iter().enumerate() {
        let got = store
            .scope(actor)
            .with_provider_secret(id, async |_, s: &SecretFields| {
                s.get("api_key").map(str::to_owned)
            })
            .await
            .unwrap_or_else(|e| panic!("{label} {i}: {e}"));
        assert_eq!(got.as_deref(), Some(secret_of(label, i).as_str()));
    }
}

#[tokio::test]
async fn kek_rotation_with_the_server_running_keeps_every_credential_usable() {
    let dir = tempfile::tempdir().unwrap();
    let db = database().await;
    let old = vars(dir.path(), &db, &old_kek());
    // The running server's store, holding the old KEK only.
    let server = open(&old).await.unwrap();
    let alpha = new_org(&server, "alpha").await;
    let alpha_ids = create(&server, &alpha, "alpha", 12).await;
    let bravo = new_org(&server, "bravo").await;
    let bravo_ids = create(&server, &bravo, "bravo", 3).await;

    // Step 1, online.
    let new_file = dir.path().join("kek.new");
    let (ok, out) = run(
        &old,
        &[
            "keys",
            "rotate-kek",
            "--new-kek-file",
            new_file.to_str().unwrap(),
        ],
    );
    assert!(ok, "{out}");
    // Two organizations' keys and the system key (which seals the
    // number-hash secret every server creates at start).
    assert!(
        out.contains("3 data key(s) wrapped under the new KEK"),
        "{out}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&new_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The running server keeps working, and keeps sealing.
    assert_usable(&server, &alpha, "alpha", &alpha_ids).await;
    let charlie = new_org(&server, "charlie").await;
    let charlie_ids = create(&server, &charlie, "charlie", 2).await;

    // A node restarted with the old KEK alone is refused, clearly.
    let refused = open(&old)
        .await
        .err()
        .expect("the old KEK alone is refused");
    assert!(
        format!("{refused:#}").contains("not the one this database was initialized with"),
        "{refused:#}"
    );

    // Step 2: nodes with the new KEK and the old one as previous.
    let switched = vars(
        dir.path(),
        &db,
        &[
            ("TOLLGATE_SECURITY_KEK_FILE", new_file.display().to_string()),
            ("TOLLGATE_SECURITY_PREVIOUS_KEK", KEK.to_string()),
        ],
    );
    let node = open(&switched).await.unwrap();
    assert_usable(&node, &alpha, "alpha", &alpha_ids).await;
    assert_usable(&node, &bravo, "bravo", &bravo_ids).await;
    // Charlie's key was made by the old node after step 1: only the
    // previous KEK unwraps it until step 3.
    assert_usable(&node, &charlie, "charlie", &charlie_ids).await;

    // Before step 3, the status names the key the new KEK does not wrap.
    let (ok, out) = run(&switched, &["keys", "status"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("1 live data key(s) have no wrap under the configured KEK"),
        "{out}"
    );
    // Three organizations' keys and the system key.
    assert!(out.contains("4 data key(s)"), "{out}");

    // Step 3.
    let (ok, out) = run(&switched, &["keys", "rotate-kek", "--finish"]);
    assert!(ok, "{out}");
    assert!(out.contains("1 data key(s) newly wrapped"), "{out}");
    assert!(out.contains("4 wrap(s) under other KEKs deleted"), "{out}");

    let (ok, out) = run(&switched, &["keys", "status"]);
    assert!(ok, "{out}");

    // A node with the new KEK alone opens everything.
    let only_new = vars(
        dir.path(),
        &db,
        &[("TOLLGATE_SECURITY_KEK_FILE", new_file.display().to_string())],
    );
    let fresh = open(&only_new).await.unwrap();
    assert_usable(&fresh, &alpha, "alpha", &alpha_ids).await;
    assert_usable(&fresh, &bravo, "bravo", &bravo_ids).await;
    assert_usable(&fresh, &charlie, "charlie", &charlie_ids).await;
    // The old KEK opens nothing any more: its wraps are gone.
    let refused = open(&old).await.err().expect("the old KEK is refused");
    assert!(format!("{refused:#}").contains("kek"), "{refused:#}");

    // Each rotation step is an audit event of each organization.
    let page = fresh
        .scope(&alpha)
        .audit_events(None, 500, &tollgate_store::AuditFilter::default())
        .await
        .unwrap();
    let actions: Vec<&str> = page.data.iter().map(|e| e.event.action.as_str()).collect();
    assert!(actions.contains(&"vault.kek_rotated"), "{actions:?}");
    assert!(actions.contains(&"vault.kek_retired"), "{actions:?}");
    for s in [server, node, fresh] {
        s.close().await;
    }
    println!("kek rotation: ok on {}", backend(&db));
}

#[tokio::test]
async fn dek_rotation_stopped_halfway_resumes_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = database().await;
    let env = vars(dir.path(), &db, &old_kek());
    let server = open(&env).await.unwrap();
    let alpha = new_org(&server, "alpha").await;
    let ids = create(&server, &alpha, "alpha", 30).await;
    let org = alpha.org_id().to_string();

    let (ok, out) = run(
        &env,
        &[
            "keys",
            "rotate-dek",
            "--org",
            &org,
            "--batch-size",
            "7",
            "--max-batches",
            "2",
        ],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("(14 re-encrypted); run again to resume"),
        "{out}"
    );
    // Midway, the server opens old and re-encrypted values alike, and seals
    // new ones with the new key.
    assert_usable(&server, &alpha, "alpha", &ids).await;
    let late = create(&server, &alpha, "late", 1).await;

    let (ok, out) = run(
        &env,
        &["keys", "rotate-dek", "--org", &org, "--batch-size", "7"],
    );
    assert!(ok, "{out}");
    assert!(out.contains("after `"), "{out}");
    assert!(
        out.contains("(14 done before)"),
        "resumed at the cursor: {out}"
    );
    assert!(
        out.contains("done, 30 value(s) re-encrypted; retired key(s): "),
        "{out}"
    );
    assert_usable(&server, &alpha, "alpha", &ids).await;
    assert_usable(&server, &alpha, "late", &late).await;

    let (ok, out) = run(&env, &["keys", "rotate-dek", "--org", "org_nonsense"]);
    assert!(!ok, "{out}");
    server.close().await;
    println!("dek rotation: ok on {}", backend(&db));
}

/// Calls with a transcript and an extraction each, naming `label` and `i`.
async fn create_calls(
    store: &Store,
    actor: &Actor,
    label: &str,
    n: usize,
) -> Vec<tollgate_core::CallId> {
    use tollgate_store::{NewCall, RedactedFields, RedactedTranscript, Speaker};
    let policy = tollgate_redact::Policy::standard();
    let mut ids = Vec::new();
    for i in 0..n {
        let ctx = Ctx {
            now: UnixMicros(tollgate_server::app::now().0 + i as i64 * 1_000),
            request: Default::default(),
        };
        let scope = store.scope(actor);
        let call = scope
            .create_call(
                NewCall {
                    external_id: format!("{label}-{i}"),
                    direction: "outbound".into(),
                    campaign_id: None,
                    started_at: ctx.now,
                },
                &ctx,
            )
            .await
            .unwrap();
        let words = format!("transcript {label} {i:04}");
        let t = RedactedTranscript::redact(&[(Speaker::Caller, words.as_str())], &policy).unwrap();
        scope.add_transcript(&call.id, &t, &ctx).await.unwrap();
        let f = RedactedFields::redact(
            &serde_json::json!({"outcome": format!("extraction {label} {i:04}")}),
            &policy,
        )
        .unwrap();
        scope.add_extraction(&call.id, &f, &ctx).await.unwrap();
        ids.push(call.id);
    }
    ids
}

/// Every transcript and extraction opens and says what was stored.
async fn assert_calls_readable(
    store: &Store,
    actor: &Actor,
    label: &str,
    ids: &[tollgate_core::CallId],
) {
    for (i, id) in ids.iter().enumerate() {
        let scope = store.scope(actor);
        let t = scope
            .get_transcript(id)
            .await
            .unwrap_or_else(|e| panic!("{label} {i}: {e}"));
        assert_eq!(t.turns[0].text, format!("transcript {label} {i:04}"));
        let e = scope
            .list_extractions(id, None, 10)
            .await
            .unwrap_or_else(|e| panic!("{label} {i}: {e}"));
        assert_eq!(
            e[0].fields["outcome"],
            serde_json::json!(format!("extraction {label} {i:04}"))
        );
    }
}

#[tokio::test]
async fn dek_rotation_with_calls_keeps_every_transcript_readable_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let db = database().await;
    let env = vars(dir.path(), &db, &old_kek());
    let server = open(&env).await.unwrap();
    let alpha = new_org(&server, "alpha").await;
    let calls = create_calls(&server, &alpha, "alpha", 10).await;
    let org = alpha.org_id().to_string();

    // Batches of 7: the first walks the (empty) credentials, the second
    // seven transcripts; then the command stops, as a crash would.
    let (ok, out) = run(
        &env,
        &[
            "keys",
            "rotate-dek",
            "--org",
            &org,
            "--batch-size",
            "7",
            "--max-batches",
            "2",
        ],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("(7 re-encrypted); run again to resume"),
        "{out}"
    );
    assert_calls_readable(&server, &alpha, "alpha", &calls).await;
    let late = create_calls(&server, &alpha, "late", 1).await;

    let (ok, out) = run(
        &env,
        &["keys", "rotate-dek", "--org", &org, "--batch-size", "7"],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("(7 done before)"),
        "resumed at the cursor: {out}"
    );
    // 10 transcripts and 10 extractions; the late call was sealed under
    // the new key already.
    assert!(
        out.contains("done, 20 value(s) re-encrypted; retired key(s): "),
        "{out}"
    );
    assert_calls_readable(&server, &alpha, "alpha", &calls).await;
    assert_calls_readable(&server, &alpha, "late", &late).await;
    server.close().await;
    println!("dek rotation with calls: ok on {}", backend(&db));
}

fn backend(db: &[(String, String)]) -> &'static str {
    if db.is_empty() { "sqlite" } else { "postgres" }
}
