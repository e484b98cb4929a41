//! A fast webhook receiver for bench/webhooks.sh: verifies every delivery's
//! signature, measures the end-to-end latency from the event's commit (the
//! payload's `timestamp`, taken in the committing transaction) to its
//! arrival, and prints one JSON line of figures once `IDLE_SECS` pass
//! without a delivery (after at least one).
//!
//! Endpoint `N` (from 0) posts to `/hook/N` and is verified with the N-th
//! secret, so one receiver serves every endpoint of a fan-out run.
//!
//! Usage: webhook-receiver PORT IDLE_SECS SECRET [SECRET...]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use tollgate_core::webhook_signature::{WebhookSecret, verify};

#[derive(Default)]
struct Stats {
    latencies_us: Vec<i64>,
    bad: u64,
    /// (endpoint, webhook-id) seen: at-least-once may repeat a message, and
    /// a repeat is reported, not counted as a delivery.
    seen: HashSet<(usize, String)>,
    duplicates: u64,
    first: Option<Instant>,
    last: Option<Instant>,
    /// Arrivals per whole second since the first one: shows whether the
    /// rate held steady or came in bursts.
    per_second: Vec<u64>,
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as i64
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: webhook-receiver PORT IDLE_SECS SECRET [SECRET...]");
        std::process::exit(2);
    }
    let port: u16 = args[1].parse().expect("port");
    let idle = Duration::from_secs(args[2].parse().expect("idle seconds"));
    let secrets: Arc<Vec<WebhookSecret>> = Arc::new(
        args[3..]
            .iter()
            .map(|s| WebhookSecret::parse(s).expect("whsec_ secret"))
            .collect(),
    );
    let stats = Arc::new(Mutex::new(Stats::default()));
    let s = stats.clone();
    let app = axum::Router::new().route(
        "/hook/{n}",
        axum::routing::post(
            move |Path(n): Path<usize>, headers: HeaderMap, body: Bytes| {
                let (s, secrets) = (s.clone(), secrets.clone());
                async move {
                    let arrived = now_us();
                    let Some(secret) = secrets.get(n) else {
                        return StatusCode::NOT_FOUND;
                    };
                    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
                    let ts: i64 = h("webhook-timestamp").parse().unwrap_or(0);
                    let ok = verify(
                        secret,
                        h("webhook-id"),
                        ts,
                        &body,
                        h("webhook-signature"),
                        arrived / 1_000_000,
                    )
                    .is_ok();
                    let committed = serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v["timestamp"].as_str().map(str::to_owned))
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                        .map(|t| t.as_microsecond());
                    let mut st = s.lock().unwrap();
                    let t = Instant::now();
                    let first = *st.first.get_or_insert(t);
                    st.last = Some(t);
                    match (ok, committed) {
                        (true, Some(c)) => {
                            if st.seen.insert((n, h("webhook-id").to_owned())) {
                                st.latencies_us.push(arrived - c);
                                let sec = t.duration_since(first).as_secs() as usize;
                                if st.per_second.len() <= sec {
                                    st.per_second.resize(sec + 1, 0);
                                }
                                st.per_second[sec] += 1;
                            } else {
                                st.duplicates += 1;
                            }
                        }
                        _ => st.bad += 1,
                    }
                    if ok {
                        StatusCode::NO_CONTENT
                    } else {
                        StatusCode::BAD_REQUEST
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    tokio::spawn(async move { axum::serve(listener, app).await });
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let st = stats.lock().unwrap();
        if let Some(last) = st.last
            && last.elapsed() >= idle
        {
            let mut l = st.latencies_us.clone();
            l.sort_unstable();
            let pct = |p: f64| {
                l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
                    .map(|us| *us as f64 / 1000.0)
                    .unwrap_or(0.0)
            };
            let span = last
                .duration_since(st.first.unwrap_or(last))
                .as_secs_f64()
                .max(1e-6);
            println!(
                "{}",
                serde_json::json!({
                    "delivered": l.len(),
                    "bad_signatures": st.bad,
                    "duplicates": st.duplicates,
                    "seconds": span,
                    "per_second": l.len() as f64 / span,
                    "latency_ms_p50": pct(0.50),
                    "latency_ms_p99": pct(0.99),
                    "latency_ms_max": pct(1.0),
                    "arrivals_each_second": st.per_second,
                })
            );
            return;
        }
    }
}
