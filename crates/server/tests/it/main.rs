//! End-to-end tests: a real server on 127.0.0.1:0 per test, on the backend
//! named by TOLLGATE_TEST_BACKEND (`sqlite`, the default, or `postgres`
//! with TOLLGATE_TEST_DATABASE_URL and TOLLGATE_TEST_MIGRATION_URL).
//! Every test makes its own organizations, so tests share one PostgreSQL
//! database and run in parallel.

mod dnc;
mod gate;
mod harness;
mod idempotency;
mod input;
mod isolation;
mod lifecycle;
mod limits;
mod oauth;
mod postgres;
mod provider_credentials;
mod redaction;
mod roles;
mod sign_in;
mod webhooks;
