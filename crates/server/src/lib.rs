//! Tollgate's HTTP shell: configuration, keys, the permission table, the
//! routes and their middleware. Handlers are thin: they validate input,
//! call the org-bound storage handle, and shape the answer.

pub mod access;
pub mod api;
pub mod app;
pub mod audit_sink;
pub mod checkpoints;
pub mod config;
pub mod dial_queue;
pub mod dnc;
pub mod error;
pub mod idempotency;
pub mod key_rotation;
pub mod keys;
pub mod lead_import;
pub mod mail;
pub mod rate_limit;
pub mod telemetry;
pub mod tls;
pub mod ui;
// Issue 10: signed webhooks.
pub mod webhooks;

pub use app::{AppState, Opened, Prepared, build, open_store, openapi_document, prepare, serve};
pub use config::Config;
