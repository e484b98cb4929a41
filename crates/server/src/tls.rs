//! The process's TLS provider for outgoing HTTPS (webhook deliveries, DNC
//! providers).

/// Makes ring the process's rustls provider. reqwest is built without its
/// own provider (its default would compile aws-lc-rs, a C library, beside
/// the ring that sqlx and lettre already use), so any reqwest client built
/// without a preconfigured TLS config (tests, tools) needs this first.
/// Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
