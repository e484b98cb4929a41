//! Audit log throughput: sustained appends through the group-committing
//! path the server uses for API-call records, then verification of the
//! whole chain. Durability is kept: SQLite runs with WAL and
//! synchronous=FULL, exactly as the server configures it.
//!
//! cargo run --release -p tollgate-bench --bin audit-bench -- [EVENTS] [postgres-owner-url postgres-app-url]

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

    let started = Instant::now();
    let mut written = 0;
    while written < events {
        let n = batch.len().min(events - written);
        store.append_api_calls(&batch[..n]).await.expect("append");
        written += n;
    }
    let append_secs = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let report = store.verify_audit_chain(&org.org.id).await.expect("verify");
    let verify_secs = started.elapsed().as_secs_f64();
    assert!(report.is_intact(), "the chain verifies");

    println!("backend            {}", store.backend().as_str());
    println!("org                {}", org.org.id);
    println!("events appended    {written} (batches of {})", batch.len());
    println!(
        "append             {:.0} events/s ({append_secs:.2} s)",
        written as f64 / append_secs
    );
    println!(
        "verify             {:.0} events/s ({verify_secs:.2} s, {} events)",
        report.verified as f64 / verify_secs,
        report.verified
    );
}
