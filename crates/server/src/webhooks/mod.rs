//! Signed webhooks (issue 10): the delivery workers and the SSRF rules.
//! Storage (outbox, queue, attempts) is in `tollgate_store`, signing and
//! the retry schedule in `tollgate_core`.

pub mod ssrf;
pub mod worker;

pub use worker::{Workers, spawn};

/// Makes ring the process's rustls provider. reqwest is built without its
/// own provider (its default would compile aws-lc-rs, a C library, beside
/// the ring that sqlx already uses), so any reqwest client built without a
/// preconfigured TLS config (tests, tools) needs this first. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
