//! The ceiling: a bare axum handler on the same runtime, answering a small
//! JSON document with no middleware, authentication or database. Tollgate's
//! authenticated requests are measured against this.
//!
//! bare-axum PORT

/// The server's allocator (crates/cli/src/main.rs), so that the ceiling
/// differs from the server only by what the server does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(9100);
    let app = axum::Router::new().route(
        "/ping",
        axum::routing::get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
