//! Tollgate's pure domain.
//!
//! Everything here is a function of its inputs: no I/O, no clock, no
//! randomness source. Callers pass the current time and fresh random bytes,
//! so expiry, identifiers and hashes are tested deterministically. The storage
//! layer and the HTTP shell depend on this crate; it depends on nothing of
//! ours.

pub mod access;
pub mod audit;
pub mod base32;
pub mod checkpoint;
pub mod email;
pub mod envelope;
pub mod id;
pub mod rate_limit;
pub mod scrub;
pub mod time;
pub mod token;
pub mod totp;
// Issue 10: signed webhooks.
pub mod webhook_policy;
pub mod webhook_signature;

pub use access::{Access, Denied, Role, Scope, ScopeSet};
pub use id::{ApiKeyId, EventId, IdError, MemberId, OAuthClientId, OrgId, SessionId, UserId};
pub use id::{CallId, ExtractionId, RedactionPolicyId};
pub use time::UnixMicros;
