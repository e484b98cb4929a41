//! The steady-load producer of bench/webhooks.sh: commits `webhook.test`
//! events to the outbox at a fixed rate, through the store's own enqueue
//! (`OrgScope::enqueue_webhook_test_events`, the function every event
//! source uses), several events per transaction the way the gate's group
//! commit writes its denials' events. A delivering `tollgate serve` node
//! beside it sends them; the receiver measures commit-to-arrival latency.
//!
//! Every tick the producer commits the events that have fallen due since
//! the previous commit, so the offered rate holds even when a commit is
//! slow (the next group is larger), as a group commit behaves under load.
//! Each event's `timestamp` is taken before its transaction begins, so the
//! receiver's latency includes the commit itself.
//!
//! Usage: webhook-producer DATABASE_URL ORG_ID EVENTS_PER_SEC SECONDS [TICK_MS]
//! Prints one JSON line of figures.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tollgate_bench::cpu_secs;
use tollgate_core::token::{HashKey, TokenHasher};
use tollgate_core::{OrgId, UnixMicros};
use tollgate_store::{Ctx, PoolSettings, Store};

fn now() -> UnixMicros {
    UnixMicros(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros() as i64,
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: webhook-producer DATABASE_URL ORG_ID EVENTS_PER_SEC SECONDS [TICK_MS]");
        std::process::exit(2);
    }
    let url = &args[1];
    let org = OrgId::parse(&args[2]).expect("organization id");
    let rate: f64 = args[3].parse().expect("events per second");
    let seconds: f64 = args[4].parse().expect("seconds");
    let tick = Duration::from_millis(args.get(5).map_or(10, |t| t.parse().expect("tick ms")));
    // No token is checked here: the hasher only satisfies `Store::open`.
    let hasher = Arc::new(TokenHasher::new(vec![HashKey::new([7; 32])]).expect("a key"));
    let settings = PoolSettings {
        max_connections: 2,
        ..PoolSettings::default()
    };
    let store = Store::open(url, &settings, hasher).await.expect("open");
    let actor = store
        .operator_actor_for_first_owner(&org)
        .await
        .expect("an owner of the organization");
    let scope = store.scope(&actor);

    let total = (rate * seconds).round() as u64;
    let cpu = cpu_secs();
    let started = Instant::now();
    let (mut events, mut deliveries, mut commits, mut largest) = (0u64, 0u64, 0u64, 0u64);
    let mut commit_ms: Vec<f64> = Vec::new();
    let mut next = started;
    while events < total {
        next += tick;
        let due = ((started.elapsed().as_secs_f64() * rate) as u64).min(total);
        if due > events {
            let n = due - events;
            let ctx = Ctx {
                now: now(),
                request: Default::default(),
            };
            let t = Instant::now();
            deliveries += scope
                .enqueue_webhook_test_events(n as usize, &ctx)
                .await
                .expect("enqueue");
            commit_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            events = due;
            commits += 1;
            largest = largest.max(n);
        }
        tokio::time::sleep_until(next.into()).await;
    }
    let secs = started.elapsed().as_secs_f64();
    commit_ms.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        commit_ms
            .get(((commit_ms.len() as f64 * p) as usize).min(commit_ms.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
    };
    println!(
        "{}",
        serde_json::json!({
            "events": events,
            "deliveries_queued": deliveries,
            "seconds": secs,
            "events_per_second": events as f64 / secs,
            "deliveries_queued_per_second": deliveries as f64 / secs,
            "commits": commits,
            "events_per_commit_max": largest,
            "commit_ms_p50": pct(0.5),
            "commit_ms_p99": pct(0.99),
            "cpu_seconds": cpu_secs() - cpu,
        })
    );
}
