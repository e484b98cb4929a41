//! Audit log throughput: sustained appends through the group-committing
//! path the server uses for API-call records, then verification of the
//! whole chain. Durability is kept: SQLite runs with WAL and
//! synchronous=FULL, exactly as the server configures it.
//!
//! cargo run --release -p tollgate-bench --bin audit-bench -- [EVENTS] [postgres-owner-url postgres-app-url]
//!
//! Besides the two figures (wall clock, and CPU time of every thread) it
//! prints what bounds them: raw SHA-256 speed, the canonical encoding plus
//! hash of one event in memory, and reading the rows verification reads
//! without hashing (through sqlx in keyset pages, and on SQLite through
//! rusqlite as the verifier now reads them). The one-thread lines are rated
//! per CPU-second of their thread, so load from other work does not move
//! them. Switches (environment): VERIFY_RUNS, VERIFY_ONLY with KEEP_DB,
//! AUDIT_TABLE=keyed; see the "Audit log" section of docs/benchmarks.md.

use std::sync::Arc;
use std::time::Instant;

use tollgate_bench::{cpu_secs, thread_cpu_secs};
use tollgate_core::UnixMicros;
use tollgate_core::token::{HashKey, TokenHasher};
use tollgate_store::{ApiCall, BootstrapInput, Ctx, PoolSettings, Store};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let events: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let dir = tempfile::tempdir().expect("temp dir");
    // KEEP_DB=PATH keeps the SQLite database (for measuring exports of it).
    let db_path = std::env::var("KEEP_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("bench.db"));
    let (owner, app) = match (args.get(2), args.get(3)) {
        (Some(o), Some(a)) => (o.clone(), a.clone()),
        _ => {
            let url = format!("sqlite://{}", db_path.display());
            (url.clone(), url)
        }
    };
    // VERIFY_ONLY=1 with KEEP_DB naming an existing database: only verify
    // its first organization's chain (VERIFY_RUNS times), so a profiler or
    // `perf stat` sees verification alone.
    let verify_only = std::env::var("VERIFY_ONLY").is_ok();
    if !verify_only {
        tollgate_store::migrate(&owner, Some("tollgate_app"))
            .await
            .expect("migrate");
    }
    // AUDIT_TABLE=keyed (SQLite): the table rebuilt WITHOUT ROWID, keyed by
    // (org_id, seq), to compare that layout with the rowid table beside its
    // key index by one binary in the same minutes (docs/benchmarks.md).
    if !verify_only
        && std::env::var("AUDIT_TABLE").as_deref() == Ok("keyed")
        && owner.starts_with("sqlite:")
    {
        keyed_table(&owner).await;
    }
    let hasher = Arc::new(TokenHasher::new(vec![HashKey::new([9; 32])]).expect("a key"));
    let store = Store::open(&app, &PoolSettings::default(), hasher)
        .await
        .expect("open");
    if verify_only {
        let org = store.org_ids().await.expect("orgs").remove(0);
        let (report, secs, cpu) = verify(&store, &org).await;
        println!(
            "verify             {:.0} events/s ({secs:.3} s, CPU {cpu:.2} s, {} events)",
            report.verified as f64 / secs,
            report.verified
        );
        return;
    }
    let now = UnixMicros(1_795_000_000_000_000);
    let token = store.create_bootstrap_token(now, 900).await.expect("token");
    let ctx = Ctx {
        now,
        request: Default::default(),
    };
    let org = store
        .redeem_bootstrap(
            &token.plaintext,
            BootstrapInput {
                org_name: "Bench".into(),
                owner_name: "B".into(),
                owner_email: "b@bench.example.com".into(),
            },
            &ctx,
        )
        .await
        .expect("org");
    let actor = store
        .authenticate_api_key(&org.token.plaintext, now)
        .await
        .expect("actor");
    let request = tollgate_core::audit::RequestMeta {
        request_id: Some("req_0123456789abcdef".into()),
        ip: Some("127.0.0.1".into()),
        user_agent: Some("bench/1.0".into()),
        method: Some("POST".into()),
        route: Some("/v1/dial-checks".into()),
    };
    let call = ApiCall {
        actor,
        ctx: Ctx { now, request },
        status: 200,
        latency_micros: 850,
        path_ids: vec![],
    };
    let batch_size: usize = std::env::var("BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(512);
    let batch: Vec<ApiCall> = (0..batch_size).map(|_| call.clone()).collect();

    let cpu = cpu_secs();
    let started = Instant::now();
    let mut written = 0;
    while written < events {
        let n = batch.len().min(events - written);
        store.append_api_calls(&batch[..n]).await.expect("append");
        written += n;
    }
    let append_secs = started.elapsed().as_secs_f64();
    let append_cpu = cpu_secs() - cpu;

    let (report, verify_secs, verify_cpu) = verify(&store, &org.org.id).await;

    let read_rate = read_only(&app, org.org.id.as_str(), report.verified).await;
    let direct_rate = app
        .strip_prefix("sqlite://")
        .map(|path| direct_read(path, org.org.id.as_str(), report.verified));
    let (sha_mb, event_bytes, hash_rate, stored_rate) = hashing();

    println!("backend            {}", store.backend().as_str());
    println!("org                {}", org.org.id);
    println!("events appended    {written} (batches of {})", batch.len());
    println!(
        "append             {:.0} events/s ({append_secs:.2} s)",
        written as f64 / append_secs
    );
    println!(
        "append CPU         {append_cpu:.2} s, all threads ({:.0} events per CPU-second)",
        written as f64 / append_cpu
    );
    println!(
        "verify             {:.0} events/s ({verify_secs:.3} s, {} events, {} threads{})",
        report.verified as f64 / verify_secs,
        report.verified,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        if verify_runs() > 1 {
            ", median of the runs"
        } else {
            ""
        }
    );
    println!(
        "verify CPU         {verify_cpu:.2} s, all threads ({:.0} events per CPU-second)",
        report.verified as f64 / verify_cpu
    );
    println!("read rows only     {read_rate:.0} rows/s (sqlx, keyset pages, no hashing)");
    if let Some(rate) = direct_rate {
        println!(
            "read rows rusqlite {rate:.0} rows per CPU-second (one thread, the verifier's statement, every column borrowed, no hashing)"
        );
    }
    println!("sha-256            {sha_mb:.0} MB per CPU-second (one thread, 704-byte messages)");
    println!(
        "encode + hash      {hash_rate:.0} events per CPU-second (one thread, in memory, {event_bytes} bytes hashed per event)"
    );
    println!(
        "  as verified      {stored_rate:.0} events per CPU-second (the same, details as stored text: checked to be one JSON value, spliced)"
    );
}

fn verify_runs() -> usize {
    std::env::var("VERIFY_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1usize)
        .max(1)
}

/// Verifies the chain VERIFY_RUNS times (each run printed when more than
/// one): one run of a few tenths of a second on a machine shared with other
/// work is too noisy to compare builds by. The last report, and the median
/// wall and CPU seconds.
async fn verify(
    store: &Store,
    org: &tollgate_core::OrgId,
) -> (tollgate_store::ChainReport, f64, f64) {
    let runs = verify_runs();
    let mut times = Vec::with_capacity(runs);
    let mut report = None;
    for i in 0..runs {
        let cpu = cpu_secs();
        let started = Instant::now();
        let r = store.verify_audit_chain(org).await.expect("verify");
        let (secs, cpu) = (started.elapsed().as_secs_f64(), cpu_secs() - cpu);
        assert!(r.is_intact(), "the chain verifies");
        if runs > 1 {
            println!(
                "verify run {:<2}      {:.0} events/s ({secs:.3} s), CPU {cpu:.2} s ({:.0} events per CPU-second)",
                i + 1,
                r.verified as f64 / secs,
                r.verified as f64 / cpu
            );
        }
        times.push((secs, cpu));
        report = Some(r);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (
        report.expect("at least one run"),
        median(times.iter().map(|t| t.0).collect()),
        median(times.iter().map(|t| t.1).collect()),
    )
}

/// Rebuilds the empty `audit_events` WITHOUT ROWID: the same columns,
/// constraints, unique id and append-only triggers, its key the table's.
async fn keyed_table(url: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_events")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(rows, 0, "only a new database is rebuilt");
    let (sql,): (String,) = sqlx::query_as(
        "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'audit_events'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("schema");
    let keyed = sql
        .strip_suffix(") STRICT")
        .map(|columns| format!("{columns}) STRICT, WITHOUT ROWID"))
        .expect("the rowid table of migration 0001");
    let triggers: Vec<(String,)> = sqlx::query_as(
        "SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'audit_events'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("triggers");
    let mut script = format!("BEGIN; DROP TABLE audit_events; {keyed};");
    for (trigger,) in triggers {
        script.push_str(&trigger);
        script.push(';');
    }
    script.push_str("COMMIT;");
    sqlx::raw_sql(&script)
        .execute(&mut conn)
        .await
        .expect("rebuild WITHOUT ROWID");
}

/// Reads what the SQLite verifier reads through rusqlite, on one thread,
/// touching every column as it does (text checked as UTF-8), no hashing.
fn direct_read(path: &str, org: &str, events: i64) -> f64 {
    let conn = rusqlite::Connection::open(path).expect("open");
    let started = thread_cpu_secs();
    let mut stmt = conn
        .prepare(
            "SELECT seq, occurred_at, prev_hash, hash, id, actor_kind, actor_id, action, \
             target_kind, target_id, outcome, request_id, ip, user_agent, method, route, details \
             FROM audit_events WHERE org_id = ?1 AND seq > 0 AND seq <= ?2 ORDER BY seq",
        )
        .expect("prepare");
    let mut rows = stmt.query(rusqlite::params![org, events]).expect("query");
    let (mut n, mut bytes) = (0i64, 0usize);
    while let Some(row) = rows.next().expect("row") {
        for i in 0..17 {
            bytes += match row.get_ref(i).expect("column") {
                rusqlite::types::ValueRef::Text(t) => std::str::from_utf8(t).expect("utf-8").len(),
                rusqlite::types::ValueRef::Blob(b) => b.len(),
                _ => 8,
            };
        }
        n += 1;
    }
    std::hint::black_box(bytes);
    assert_eq!(n, events, "read every event");
    n as f64 / (thread_cpu_secs() - started)
}

/// Reads the columns verification reads, in its pages of 5,000, and
/// nothing else: the ceiling the database driver puts on verification.
async fn read_only(url: &str, org: &str, events: i64) -> f64 {
    use driver_read::count_rows;
    let started = Instant::now();
    let rows = count_rows(url, org).await;
    assert_eq!(rows, events, "read every event");
    rows as f64 / started.elapsed().as_secs_f64()
}

mod driver_read {
    use sqlx::Connection;

    const PAGE: &str = "SELECT org_id, seq, id, occurred_at, actor_kind, actor_id, action, target_kind, target_id, \
         outcome, request_id, ip, user_agent, method, route, details, prev_hash, hash \
         FROM audit_events WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT 5000";

    /// FRAMED=1: the text columns concatenated, each prefixed by its byte
    /// length, so the driver materializes 5 values per row instead of 18
    /// (an experiment: does per-value overhead bound verification?).
    const FRAMED: &str = "SELECT seq, occurred_at, prev_hash, hash, \
         COALESCE(CAST(octet_length(org_id) AS TEXT) || ':' || org_id, '-') || \
         COALESCE(CAST(octet_length(id) AS TEXT) || ':' || id, '-') || \
         COALESCE(CAST(octet_length(actor_kind) AS TEXT) || ':' || actor_kind, '-') || \
         COALESCE(CAST(octet_length(actor_id) AS TEXT) || ':' || actor_id, '-') || \
         COALESCE(CAST(octet_length(action) AS TEXT) || ':' || action, '-') || \
         COALESCE(CAST(octet_length(target_kind) AS TEXT) || ':' || target_kind, '-') || \
         COALESCE(CAST(octet_length(target_id) AS TEXT) || ':' || target_id, '-') || \
         COALESCE(CAST(octet_length(outcome) AS TEXT) || ':' || outcome, '-') || \
         COALESCE(CAST(octet_length(request_id) AS TEXT) || ':' || request_id, '-') || \
         COALESCE(CAST(octet_length(ip) AS TEXT) || ':' || ip, '-') || \
         COALESCE(CAST(octet_length(user_agent) AS TEXT) || ':' || user_agent, '-') || \
         COALESCE(CAST(octet_length(method) AS TEXT) || ':' || method, '-') || \
         COALESCE(CAST(octet_length(route) AS TEXT) || ':' || route, '-') || \
         COALESCE(CAST(octet_length(details) AS TEXT) || ':' || details, '-') \
         FROM audit_events WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT 5000";

    pub async fn count_rows(url: &str, org: &str) -> i64 {
        use sqlx::Row;
        let mut total = 0i64;
        let mut after = 0i64;
        let framed = std::env::var("FRAMED").is_ok();
        macro_rules! pages {
            ($conn:expr) => {
                loop {
                    let rows = sqlx::query(if framed { FRAMED } else { PAGE })
                        .bind(org)
                        .bind(after)
                        .fetch_all(&mut $conn)
                        .await
                        .expect("page");
                    let Some(last) = rows.last() else { break };
                    after = last.get::<i64, _>(if framed { 0 } else { 1 });
                    total += rows.len() as i64;
                }
            };
        }
        if url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
            pages!(conn);
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::query("SELECT set_config('app.org_id', $1, false)")
                .bind(org)
                .execute(&mut conn)
                .await
                .expect("bind org");
            pages!(conn);
        }
        total
    }
}

/// Raw SHA-256 MB/s, and the canonical encoding plus hash of a typical
/// `api.call` event, per second, on one core: with details as a value (as
/// appended) and as stored text (as verified).
fn hashing() -> (f64, usize, f64, f64) {
    use sha2::{Digest, Sha256};
    use tollgate_core::audit::{ActorRef, AuditEvent, RequestMeta};
    let message = [0x5au8; 704];
    let mut acc = 0u8;
    let sha_mb = per_cpu_second(|| acc ^= Sha256::digest(message)[0]) * 704.0 / 1e6;
    let event = AuditEvent {
        id: "evt_01KB0000000000000000000000".into(),
        org_id: "org_01KB0000000000000000000000".into(),
        seq: 123_456,
        occurred_at: UnixMicros(1_795_000_000_000_000),
        actor: ActorRef {
            kind: "api_key".into(),
            id: Some("key_01KB0000000000000000000000".into()),
        },
        action: "api.call".into(),
        target: None,
        outcome: "success".into(),
        request: RequestMeta {
            request_id: Some("req_0123456789abcdef".into()),
            ip: Some("127.0.0.1".into()),
            user_agent: Some("bench/1.0".into()),
            method: Some("POST".into()),
            route: Some("/v1/dial-checks".into()),
        },
        details: serde_json::json!({"latency_micros": 850, "path_ids": [], "status": 200}),
        prev_hash: [7; 32],
    };
    let view = event.view();
    let mut buf = Vec::new();
    let value_rate = per_cpu_second(|| acc ^= view.hash(&mut buf)[0]);
    let text = event.details.to_string();
    let stored_rate = per_cpu_second(|| {
        let stored = tollgate_core::audit::EventView {
            details: tollgate_core::audit::Details::canonical_text(std::hint::black_box(&text))
                .expect("one JSON value"),
            ..view
        };
        acc ^= stored.hash(&mut buf)[0];
    });
    std::hint::black_box(acc);
    (sha_mb, buf.len(), value_rate, stored_rate)
}

/// Calls `f` for at least one CPU-second of this thread; calls per second.
fn per_cpu_second(mut f: impl FnMut()) -> f64 {
    let started = thread_cpu_secs();
    let mut n = 0u64;
    loop {
        for _ in 0..1000 {
            f();
        }
        n += 1000;
        let spent = thread_cpu_secs() - started;
        if spent >= 1.0 {
            return n as f64 / spent;
        }
    }
}
