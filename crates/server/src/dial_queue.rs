//! Group commit for dial checks.
//!
//! A durable decision costs a commit, and on the embedded default a commit
//! is an fsync: one per request would cap the gate near a thousand decisions
//! a second. Requests hand their check to a bounded channel instead; one
//! writer task takes whatever has queued (up to [`BATCH`]) and decides the
//! group in one transaction ([`tollgate_store::Store::commit_dial_checks`]).
//! As soon as that transaction has committed, the task takes the next
//! group; each request of the first is answered with its decision and the
//! JSON stored for it once the commit is on disk (ADR 0013). A lone
//! request waits for no one: the writer never sleeps to fill a batch.

use tokio::sync::{mpsc, oneshot};
use tollgate_store::{DialJob, RecordedCheck, Store, StoreError};

const BATCH: usize = 256;
const QUEUE: usize = 4_096;

type Reply = oneshot::Sender<Result<RecordedCheck, StoreError>>;

#[derive(Clone)]
pub struct DialQueue {
    tx: mpsc::Sender<(DialJob, Reply)>,
}

impl DialQueue {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Store) -> DialQueue {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_loop(store, rx));
        DialQueue { tx }
    }

    /// Decides one check. A stopped writer is an error (the caller denies).
    pub async fn check(&self, job: DialJob) -> Result<RecordedCheck, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((job, reply))
            .await
            .map_err(|_| StoreError::Config("the dial-check writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Config("the dial-check writer dropped a check".into()))?
    }
}

async fn write_loop(store: Store, mut rx: mpsc::Receiver<(DialJob, Reply)>) {
    let mut inbox = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut inbox, BATCH).await > 0 {
        let (jobs, replies): (Vec<DialJob>, Vec<Reply>) = inbox.drain(..).unzip();
        let group = store.commit_dial_checks(jobs).await;
        // The next group is taken as soon as this one has committed; this
        // one is answered once its commit is on disk (ADR 0013).
        tokio::spawn(async move {
            for (reply, result) in replies.into_iter().zip(group.durable().await) {
                // The request may have timed out and gone; its decision stands.
                let _ = reply.send(result);
            }
        });
    }
}
