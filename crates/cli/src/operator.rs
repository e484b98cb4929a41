//! Who a CLI command acts as inside an organization: the member named with
//! `--member`, or the organization's first owner.

use anyhow::Context;
use tollgate_core::{MemberId, OrgId};
use tollgate_store::{Actor, Store};

/// Parses `--org` (and `--member`) and finds the actor, with a message
/// naming the flag at fault.
pub async fn actor(store: &Store, org: &str, member: Option<&str>) -> anyhow::Result<Actor> {
    let org_id = OrgId::parse(org).map_err(|e| anyhow::anyhow!("--org: {e}"))?;
    match member {
        Some(m) => {
            let m = MemberId::parse(m).map_err(|e| anyhow::anyhow!("--member: {e}"))?;
            store.operator_actor_for_member(&org_id, &m).await
        }
        None => store.operator_actor_for_first_owner(&org_id).await,
    }
    .context("no such organization or member")
}
