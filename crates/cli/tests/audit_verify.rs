//! `tollgate audit verify` names every kind of tampering. The test plays an
//! attacker with direct database access: it disables the append-only
//! triggers and edits, deletes, reorders, inserts and truncates events, each
//! in its own organization, then runs the real binary.

use std::process::Command;

use tollgate_core::{MemberId, Role};
use tollgate_store::{BootstrapInput, Ctx, MemberInvite, Store};

const KEK: &str = "dGVzdC1rZWstdGVzdC1rZWstdGVzdC1rZWstdGVzdC0=";
const TOKEN_HASH: &str = "dGVzdC10b2tlbi1oYXNoLXRlc3QtdG9rZW4taGFzaDE=";
const AUDIT_SIGNING: &str = "dGVzdC1hdWRpdC1zaWduaW5nLWtleS10ZXN0LWtleTE=";

struct Env {
    dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl Env {
    fn new() -> Env {
        let pg = (std::env::var("TOLLGATE_TEST_BACKEND").as_deref() == Ok("postgres")).then(|| {
            (
                std::env::var("TOLLGATE_TEST_DATABASE_URL").unwrap(),
                std::env::var("TOLLGATE_TEST_MIGRATION_URL").unwrap(),
            )
        });
        Env {
            dir: tempfile::tempdir().unwrap(),
            pg,
        }
    }

    fn vars(&self) -> Vec<(String, String)> {
        let mut v = vec![
            (
                "TOLLGATE_DATA_DIR".to_string(),
                self.dir.path().display().to_string(),
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
            ("TOLLGATE_LOG_LEVEL".to_string(), "error".to_string()),
        ];
        if let Some((app, owner)) = &self.pg {
            v.push(("TOLLGATE_DATABASE_URL".into(), app.clone()));
            v.push(("TOLLGATE_DATABASE_MIGRATION_URL".into(), owner.clone()));
        }
        v
    }

    fn verify(&self, org: &str) -> (bool, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["audit", "verify", "--org", org])
            .env_clear()
            .envs(self.vars())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }
}

/// Runs SQL as someone with direct access, bypassing the append-only guards.
async fn tamper(env: &Env, org: &str, statements: &[&str]) {
    use sqlx::Connection;
    match &env.pg {
        None => {
            let url = format!("sqlite://{}", env.dir.path().join("tollgate.db").display());
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            for s in [
                "DROP TRIGGER IF EXISTS audit_events_no_update",
                "DROP TRIGGER IF EXISTS audit_events_no_delete",
                "DROP TRIGGER IF EXISTS audit_checkpoints_no_delete",
            ]
            .iter()
            .chain(statements)
            {
                sqlx::raw_sql(&s.replace("{org}", org))
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
        }
        Some((_, owner)) => {
            let mut c = sqlx::PgConnection::connect(owner).await.unwrap();
            let mut tx = c.begin().await.unwrap();
            for t in ["audit_events", "audit_checkpoints"] {
                sqlx::raw_sql(&format!("ALTER TABLE {t} DISABLE TRIGGER USER"))
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
            sqlx::query("SELECT set_config('app.org_id', $1, true)")
                .bind(org)
                .execute(&mut *tx)
                .await
                .unwrap();
            for s in statements {
                sqlx::raw_sql(&s.replace("{org}", org))
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
            for t in ["audit_events", "audit_checkpoints"] {
                sqlx::raw_sql(&format!("ALTER TABLE {t} ENABLE TRIGGER USER"))
                    .execute(&mut *tx)
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
        }
    }
}

/// An organization with 6 audit events.
async fn org_with_events(store: &Store, label: &str) -> String {
    org_with_events_at(
        store,
        label,
        tollgate_core::UnixMicros(1_795_000_000_000_000),
    )
    .await
}

/// An organization with 6 audit events, all written at `now`.
async fn org_with_events_at(store: &Store, label: &str, now: tollgate_core::UnixMicros) -> String {
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
    let actor = store
        .authenticate_api_key(&done.token.plaintext, now)
        .await
        .unwrap();
    let scope = store.scope(&actor);
    for i in 0..3 {
        let invite = MemberInvite {
            email: format!("m{i}@{label}.example.com"),
            name: format!("M{i}"),
            role: Role::Viewer,
        };
        let m = scope.invite_member(invite, &ctx).await.unwrap();
        let _: &MemberId = &m.id;
    }
    done.org.id.to_string()
}

#[tokio::test]
async fn verify_names_each_kind_of_tampering() {
    let env = Env::new();
    let config = tollgate_server::config::load(None, &env.vars())
        .unwrap()
        .config;
    let store = tollgate_server::open_store(&config, true)
        .await
        .unwrap()
        .store;
    let mut orgs = Vec::new();
    for label in [
        "intact",
        "edited",
        "deleted",
        "reordered",
        "inserted",
        "truncated",
    ] {
        orgs.push(org_with_events(&store, label).await);
    }
    store.close().await;

    let export = |format: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["audit", "export", "--org", &orgs[0], "--format", format])
            .env_clear()
            .envs(env.vars())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let jsonl = export("jsonl");
    let seqs: Vec<i64> = jsonl
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, (1..=6).collect::<Vec<_>>());
    let csv = export("csv");
    assert!(
        csv.starts_with("seq,id,occurred_at,") && csv.lines().count() == 7,
        "{csv}"
    );

    let (ok, out) = env.verify(&orgs[0]);
    assert!(ok && out.contains("ok, 6 events"), "{out}");

    tamper(&env, &orgs[1], &["UPDATE audit_events SET details = '{\"role\":\"owner\"}' WHERE org_id = '{org}' AND seq = 4"]).await;
    tamper(
        &env,
        &orgs[2],
        &["DELETE FROM audit_events WHERE org_id = '{org}' AND seq = 3"],
    )
    .await;
    tamper(
        &env,
        &orgs[3],
        &[
            "UPDATE audit_events SET seq = -1 WHERE org_id = '{org}' AND seq = 2",
            "UPDATE audit_events SET seq = 2 WHERE org_id = '{org}' AND seq = 3",
            "UPDATE audit_events SET seq = 3 WHERE org_id = '{org}' AND seq = -1",
        ],
    )
    .await;
    // A forged event slipped in at position 3, later events renumbered.
    tamper(
        &env,
        &orgs[4],
        &[
            "UPDATE audit_events SET seq = seq + 100 WHERE org_id = '{org}' AND seq >= 3",
            "UPDATE audit_events SET seq = seq - 99 WHERE org_id = '{org}' AND seq >= 103",
            "INSERT INTO audit_events (org_id, seq, id, occurred_at, actor_kind, action, outcome, details, prev_hash, hash) \
             SELECT org_id, 3, 'evt_forged_' || org_id, occurred_at, 'system', 'member.removed', 'success', '{}', hash, hash \
             FROM audit_events WHERE org_id = '{org}' AND seq = 2",
        ],
    )
    .await;
    tamper(
        &env,
        &orgs[5],
        &["DELETE FROM audit_events WHERE org_id = '{org}' AND seq = 6"],
    )
    .await;

    let expectations = [
        (&orgs[1], "event 4 does not match its hash: it was edited"),
        (&orgs[2], "expected event 3 but found 4"),
        (&orgs[3], "event 2 does not follow the event before it"),
        (&orgs[4], "event 3 does not match its hash"),
        (
            &orgs[5],
            "the chain ends at event 5 but its recorded head is event 6",
        ),
    ];
    for (org, expected) in expectations {
        let (ok, out) = env.verify(org);
        assert!(!ok, "tampering with {org} went unnoticed: {out}");
        assert!(
            out.contains(expected),
            "for {org} expected `{expected}` in: {out}"
        );
    }
    // Without --org, every chain is walked and the broken ones are counted.
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["audit", "verify"])
        .env_clear()
        .envs(env.vars())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    for org in &orgs[1..] {
        assert!(text.contains(&format!("{org}: BROKEN")), "{text}");
    }
}

fn run(env: &Env, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .env_clear()
        .envs(env.vars())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn signed_checkpoints_expose_a_truncation_that_rewrote_the_head() {
    let env = Env::new();
    let config = tollgate_server::config::load(None, &env.vars())
        .unwrap()
        .config;
    let store = tollgate_server::open_store(&config, true)
        .await
        .unwrap()
        .store;
    let org = org_with_events(&store, "checkpointed").await;
    store.close().await;

    let (ok, checkpoints, err) = run(&env, &["audit", "checkpoint", "--org", &org]);
    assert!(ok, "{err}");
    let cp: serde_json::Value = serde_json::from_str(checkpoints.trim()).unwrap();
    assert_eq!(cp["seq"], 6);
    let file = env.dir.path().join("checkpoints.jsonl");
    std::fs::write(&file, &checkpoints).unwrap();
    let file = file.to_str().unwrap();
    let (ok, out, _) = run(
        &env,
        &["audit", "verify", "--org", &org, "--checkpoints", file],
    );
    assert!(ok && out.contains("1 checkpoint(s) matched"), "{out}");
    let (ok, key, _) = run(&env, &["audit", "public-key"]);
    assert!(ok && key.trim().len() == 44, "{key}");

    // The attacker removes the last two events, rewrites the head to match
    // event 4, and deletes the stored checkpoints.
    tamper(
        &env,
        &org,
        &[
            "DELETE FROM audit_events WHERE org_id = '{org}' AND seq > 4",
            "UPDATE audit_heads SET seq = 4, hash = (SELECT hash FROM audit_events WHERE org_id = '{org}' AND seq = 4) WHERE org_id = '{org}'",
            "DELETE FROM audit_checkpoints WHERE org_id = '{org}'",
        ],
    )
    .await;
    // What the database alone says is consistent...
    let (ok, out, _) = run(&env, &["audit", "verify", "--org", &org]);
    assert!(ok && out.contains("ok, 4 events"), "{out}");
    // ...but the exported checkpoint still proves six events existed.
    let (ok, out, _) = run(
        &env,
        &["audit", "verify", "--org", &org, "--checkpoints", file],
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains("covers 6 events but the chain has only 4"),
        "{out}"
    );

    // A checkpoint edited to fit the truncated chain no longer verifies.
    let mut forged: tollgate_core::checkpoint::Checkpoint =
        serde_json::from_str(checkpoints.trim()).unwrap();
    forged.seq = 4;
    let forged_file = env.dir.path().join("forged.jsonl");
    std::fs::write(&forged_file, serde_json::to_string(&forged).unwrap()).unwrap();
    let (ok, out, _) = run(
        &env,
        &[
            "audit",
            "verify",
            "--org",
            &org,
            "--checkpoints",
            forged_file.to_str().unwrap(),
        ],
    );
    assert!(!ok && out.contains("no valid signature"), "{out}");
}

fn real_now() -> tollgate_core::UnixMicros {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    tollgate_core::UnixMicros(d.as_micros() as i64)
}

#[tokio::test]
async fn retention_prunes_old_segments_and_the_rest_still_verifies() {
    let env = Env::new();
    let config = tollgate_server::config::load(None, &env.vars())
        .unwrap()
        .config;
    let store = tollgate_server::open_store(&config, true)
        .await
        .unwrap()
        .store;
    let now = real_now();
    let long_ago = tollgate_core::UnixMicros(now.0 - 400 * 86_400 * 1_000_000);
    let org = org_with_events_at(&store, "retained", long_ago).await;
    let hipaa = org_with_events_at(&store, "hipaa", long_ago).await;
    // Two recent events in the first org, and the second org marked HIPAA.
    for (org_id, label) in [(&org, "retained"), (&hipaa, "hipaa")] {
        // Act as an operator for the owner the bootstrap added.
        let member = tollgate_core::OrgId::parse(org_id).unwrap();
        let owner_member = store
            .operator_audit_events_after(&member, 0, 10)
            .await
            .unwrap()
            .iter()
            .find(|e| e.event.action == "member.added")
            .and_then(|e| e.event.target.as_ref())
            .map(|t| MemberId::parse(&t.id).unwrap())
            .unwrap();
        let actor = store
            .operator_actor_for_member(&member, &owner_member)
            .await
            .unwrap();
        let ctx = Ctx {
            now,
            request: Default::default(),
        };
        let scope = store.scope(&actor);
        if label == "hipaa" {
            let patch = tollgate_store::OrgPatch {
                hipaa: Some(true),
                ..Default::default()
            };
            scope.update_org(patch, &ctx).await.unwrap();
        } else {
            for i in 0..2 {
                let invite = MemberInvite {
                    email: format!("new{i}@{label}.example.com"),
                    name: "New".into(),
                    role: Role::Viewer,
                };
                scope.invite_member(invite, &ctx).await.unwrap();
            }
        }
    }
    store.close().await;

    let (ok, out, err) = run(&env, &["audit", "prune", "--org", &org]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("pruned events 1..6 (6 removed; retention 90 days)"),
        "{out}"
    );
    let (ok, out, err) = run(&env, &["audit", "verify", "--org", &org]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("ok, events 7..9 (1..6 pruned under retention)"),
        "{out}"
    );
    // The prune is itself an event of the chain.
    let (_, exported, _) = run(&env, &["audit", "export", "--org", &org]);
    assert!(
        exported.contains(r#""action":"audit.pruned""#),
        "{exported}"
    );
    assert!(!exported.contains(r#""seq":6,"#));
    // Nothing more is old enough; a HIPAA organization keeps 7 years.
    let (ok, out, _) = run(&env, &["audit", "prune", "--org", &org]);
    assert!(
        ok && out.contains("nothing older than its retention"),
        "{out}"
    );
    let (ok, out, _) = run(&env, &["audit", "prune", "--org", &hipaa]);
    assert!(
        ok && out.contains("nothing older than its retention"),
        "{out}"
    );
}
