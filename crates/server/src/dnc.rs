//! The gate's one interface to do-not-call data.
//!
//! The DNC component (national and state registries through a provider) is
//! a later issue. Until it lands, this is the only place the gate asks, and
//! it answers "no registry configured" for both, which the decision denies
//! as `dnc_registry_stale` unless the organization recorded an audited
//! acknowledgment that it runs without a provider. The organization's
//! internal list is the `internal_dnc` list of the suppression table, read
//! inside the dial-check transaction.

use tollgate_gate::E164;
use tollgate_store::DncAnswer;

/// The registries' answer for `number` (a network call once a provider exists,
/// made before the database transaction so no lock is held across it).
pub async fn lookup(_number: Option<&E164>) -> DncAnswer {
    DncAnswer::not_configured()
}
