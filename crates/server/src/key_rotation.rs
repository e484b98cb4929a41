//! Carrying on DEK rotations in the background.
//!
//! `tollgate keys rotate-dek` starts a rotation and works through it, but the
//! command may stop (a crash, `--max-batches`, a closed terminal). Every node
//! therefore looks for unfinished rotations on a timer and runs them to the
//! end; the store serializes batches of one rotation, so nodes and the CLI
//! can work at once without doing a batch twice.

use std::time::Duration;

use tollgate_store::Store;

/// Values re-encrypted per transaction.
const BATCH: u32 = 500;

/// Runs unfinished rotations every `interval` (zero: never).
pub fn spawn_periodic(store: Store, interval: Duration) {
    if interval.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        // The first tick is immediate; start one interval in, so a fleet
        // restarting at once does not walk every organization at once.
        tick.tick().await;
        loop {
            tick.tick().await;
            let pending = match store.pending_dek_rotations().await {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "DEK rotation: cannot list unfinished rotations");
                    continue;
                }
            };
            for org in pending {
                match store.run_dek_rotation(&org, BATCH, None).await {
                    Ok(s) if s.finished => tracing::info!(
                        org_id = %org,
                        resealed = s.resealed,
                        retired = ?s.retired,
                        "DEK rotation finished"
                    ),
                    Ok(_) | Err(tollgate_store::StoreError::NotFound) => {}
                    Err(e) => {
                        tracing::error!(org_id = %org, error = %e, "DEK rotation stopped; will retry")
                    }
                }
            }
        }
    });
}
