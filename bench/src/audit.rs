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
//! rusqlite as the verifier now reads them).

use std::sync::Arc;
use std::time::Instant;

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
    tollgate_store::migrate(&owner, Some("tollgate_app"))
        .await
        .expect("migrate");
    let hasher = Arc::new(TokenHasher::new(vec![HashKey::new([9; 32])]).expect("a key"));
    let store = Store::open(&app, &PoolSettings::default(), hasher)
        .await
        .expect("open");
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

    let cpu = cpu_secs();
    let started = Instant::now();
    let report = store.verify_audit_chain(&org.org.id).await.expect("verify");
    let verify_secs = started.elapsed().as_secs_f64();
    let verify_cpu = cpu_secs() - cpu;
    assert!(report.is_intact(), "the chain verifies");

    let read_rate = read_only(&app, org.org.id.as_str(), report.verified).await;
    let direct_rate = app
        .strip_prefix("sqlite://")
        .map(|path| direct_read(path, org.org.id.as_str(), report.verified));
    let (sha_mb, event_bytes, hash_rate) = hashing();

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
        "verify             {:.0} events/s ({verify_secs:.2} s, {} events, {} threads)",
        report.verified as f64 / verify_secs,
        report.verified,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "verify CPU         {verify_cpu:.2} s, all threads ({:.0} events per CPU-second)",
        report.verified as f64 / verify_cpu
    );
    println!("read rows only     {read_rate:.0} rows/s (sqlx, keyset pages, no hashing)");
    if let Some(rate) = direct_rate {
        println!(
            "read rows rusqlite {rate:.0} rows/s (one thread, the verifier's statement, every column borrowed, no hashing)"
        );
    }
    println!("sha-256            {sha_mb:.0} MB/s (one core, 704-byte messages)");
    println!(
        "encode + hash      {hash_rate:.0} events/s (one core, in memory, {event_bytes} bytes hashed per event)"
    );
}

/// User plus system CPU time of the whole process (every thread), from
/// `/proc/self/stat`: on a machine shared with other work, CPU time is
/// steadier than wall-clock time.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the line, in clock ticks (100 a second).
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Reads what the SQLite verifier reads through rusqlite, on one thread,
/// touching every column as it does (text checked as UTF-8), no hashing.
fn direct_read(path: &str, org: &str, events: i64) -> f64 {
    let conn = rusqlite::Connection::open(path).expect("open");
    let started = Instant::now();
    let mut stmt = conn
        .prepare(
            "SELECT seq, occurred_at, prev_hash, hash, org_id, id, actor_kind, actor_id, action, \
             target_kind, target_id, outcome, request_id, ip, user_agent, method, route, details \
             FROM audit_events WHERE org_id = ?1 AND seq > 0 AND seq <= ?2 ORDER BY seq",
        )
        .expect("prepare");
    let mut rows = stmt.query(rusqlite::params![org, events]).expect("query");
    let (mut n, mut bytes) = (0i64, 0usize);
    while let Some(row) = rows.next().expect("row") {
        for i in 0..18 {
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
    n as f64 / started.elapsed().as_secs_f64()
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
/// `api.call` event, per second, on one core.
fn hashing() -> (f64, usize, f64) {
    use sha2::{Digest, Sha256};
    use tollgate_core::audit::{ActorRef, AuditEvent, RequestMeta};
    let message = [0x5au8; 704];
    let started = Instant::now();
    let mut n = 0u64;
    let mut acc = 0u8;
    while started.elapsed().as_secs_f64() < 1.0 {
        for _ in 0..1000 {
            acc ^= Sha256::digest(message)[0];
        }
        n += 1000;
    }
    let sha_mb = (n * 704) as f64 / started.elapsed().as_secs_f64() / 1e6;
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
    let started = Instant::now();
    let mut events = 0u64;
    while started.elapsed().as_secs_f64() < 1.0 {
        for _ in 0..1000 {
            acc ^= view.hash(&mut buf)[0];
        }
        events += 1000;
    }
    std::hint::black_box(acc);
    (
        sha_mb,
        buf.len(),
        events as f64 / started.elapsed().as_secs_f64(),
    )
}
