//! Signed webhooks (issue 10): the delivery workers and the SSRF rules.
//! Storage (outbox, queue, attempts) is in `tollgate_store`, signing and
//! the retry schedule in `tollgate_core`.

pub mod ssrf;
pub mod worker;

pub use worker::{Workers, spawn};
