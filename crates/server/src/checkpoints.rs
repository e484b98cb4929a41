//! Signing audit chain heads, on a timer in `serve` and on demand from the CLI.
//!
//! A chain is verified before its head is signed: a signature over a
//! tampered chain would launder the tampering.

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use tollgate_core::checkpoint::{Checkpoint, CheckpointKey};
use tollgate_core::{OrgId, UnixMicros};
use tollgate_store::Store;

/// Verifies `org`'s chain and signs its head, unless the head is already
/// signed or the chain is empty. A broken chain is an error, never signed.
pub async fn checkpoint_org(
    store: &Store,
    key: &CheckpointKey,
    org: &OrgId,
    now: UnixMicros,
) -> anyhow::Result<Option<Checkpoint>> {
    let existing = store.checkpoints(org).await?;
    let report = store.verify_audit_chain_against(org, &existing).await?;
    if !report.is_intact() {
        bail!(
            "the audit chain of {org} is broken; it was not signed (run `tollgate audit verify --org {org}`)"
        );
    }
    if report.verified == 0 || existing.last().map(|c| c.seq) == Some(report.verified) {
        return Ok(None);
    }
    let cp = Checkpoint::sign(key, org.as_str(), report.verified, &report.head_hash, now);
    store.record_checkpoint(org, &cp).await?;
    Ok(Some(cp))
}

/// Signs every organization's head every `interval`, until the process ends.
pub fn spawn_periodic(store: Store, key: Arc<CheckpointKey>, interval: Duration) {
    if interval.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.tick().await; // the first tick is immediate; start one interval in
        loop {
            tick.tick().await;
            let orgs = match store.org_ids().await {
                Ok(o) => o,
                Err(e) => {
                    tracing::error!(error = %e, "audit checkpoints: cannot list organizations");
                    continue;
                }
            };
            for org in orgs {
                match checkpoint_org(&store, &key, &org, crate::app::now()).await {
                    Ok(Some(cp)) => {
                        tracing::info!(org_id = %org, seq = cp.seq, "audit chain head signed")
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!(org_id = %org, error = %e, "audit checkpoint refused");
                        metrics::counter!("tollgate_audit_chain_broken_total").increment(1);
                    }
                }
            }
        }
    });
}

/// What a prune did.
#[derive(Debug, Clone)]
pub struct Pruned {
    pub through: i64,
    pub removed: u64,
    pub retention_days: i32,
}

/// Applies `org`'s retention: verifies the chain, signs a checkpoint at the
/// last event old enough to go, then removes events up to it with `owner`
/// (a store opened with the owner role). Nothing is removed from a broken
/// chain: the broken part is the evidence.
pub async fn prune_org(
    store: &Store,
    owner: &Store,
    key: &CheckpointKey,
    org: &OrgId,
    now: UnixMicros,
) -> anyhow::Result<Option<Pruned>> {
    let existing = store.checkpoints(org).await?;
    let report = store.verify_audit_chain_against(org, &existing).await?;
    let forged = report
        .prune_checkpoint
        .as_ref()
        .is_some_and(|c| !c.verify(&key.public()));
    if !report.is_intact() || forged {
        bail!(
            "the audit chain of {org} is broken; nothing was pruned (run `tollgate audit verify --org {org}`)"
        );
    }
    let days = store.audit_retention(org).await?;
    let cutoff = UnixMicros(now.0 - i64::from(days) * 86_400 * UnixMicros::SECOND);
    let Some(through) = store.prunable_through(org, cutoff).await? else {
        return Ok(None);
    };
    if report.pruned_through.is_some_and(|p| through <= p) {
        return Ok(None);
    }
    let hash = store.audit_event_hash(org, through).await?;
    store
        .record_checkpoint(
            org,
            &Checkpoint::sign(key, org.as_str(), through, &hash, now),
        )
        .await?;
    let ctx = tollgate_store::Ctx {
        now,
        request: Default::default(),
    };
    let removed = owner.prune_audit_through(org, through, days, &ctx).await?;
    Ok(Some(Pruned {
        through,
        removed,
        retention_days: days,
    }))
}
