//! Records every authenticated API call in the audit log without putting a
//! commit on each request's path.
//!
//! Requests hand their record to a bounded channel; one writer task drains
//! it and appends up to [`BATCH`] events per transaction (group commit),
//! waiting up to [`LINGER`] for a group to fill. On
//! SQLite the store runs that transaction on its audit writer thread through
//! rusqlite (docs/adr/0008-rusqlite-for-the-audit-hot-paths.md), so the
//! commit's fsync never blocks a tokio worker. A
//! full channel makes requests wait rather than drop records. Changes are
//! not recorded here: their events are written inside the change's own
//! transaction. A record still queued when the process is killed (not
//! stopped) is lost; a clean stop flushes first.

use tokio::sync::{mpsc, oneshot};
use tollgate_store::{ApiCall, Store};

/// Up to this many records per transaction: a group only grows this large
/// when requests arrive faster than one commit takes, and then larger
/// groups are what keep up (audit-bench: ~30,000 events/s at 512 against
/// ~56,000 at 4,096 on SQLite, docs/benchmarks.md).
const BATCH: usize = 4_096;
const QUEUE: usize = 16_384;

enum Msg {
    Call(Box<ApiCall>),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<Msg>,
}

impl AuditSink {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Store) -> AuditSink {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_loop(store, rx));
        AuditSink { tx }
    }

    pub async fn record(&self, call: ApiCall) {
        if self.tx.send(Msg::Call(Box::new(call))).await.is_err() {
            tracing::error!("audit writer stopped; an API call record was not written");
        }
    }

    /// Waits until every record handed over before this call is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// How long a group waits for more records before its commit. A record
/// is already off the request's path, so a few milliseconds cost nobody
/// anything, while each commit writes the log's last pages and syncs them
/// whether it carries five records or five hundred: under a stream of
/// reads, groups of a handful made the audit writer the request path's
/// largest cost after the sockets.
const LINGER: std::time::Duration = std::time::Duration::from_millis(3);

async fn write_loop(store: Store, mut rx: mpsc::Receiver<Msg>) {
    let mut inbox = Vec::with_capacity(BATCH);
    let mut batch: Vec<ApiCall> = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut inbox, BATCH).await > 0 {
        let deadline = tokio::time::Instant::now() + LINGER;
        while inbox.len() < BATCH && !inbox.iter().any(|m| matches!(m, Msg::Flush(_))) {
            let more = BATCH - inbox.len();
            match tokio::time::timeout_at(deadline, rx.recv_many(&mut inbox, more)).await {
                Ok(n) if n > 0 => {}
                // Closed, or the group has waited long enough.
                _ => break,
            }
        }
        for msg in inbox.drain(..) {
            match msg {
                Msg::Call(call) => batch.push(*call),
                Msg::Flush(done) => {
                    write(&store, &mut batch).await;
                    let _ = done.send(());
                }
            }
        }
        write(&store, &mut batch).await;
    }
}

async fn write(store: &Store, batch: &mut Vec<ApiCall>) {
    if batch.is_empty() {
        return;
    }
    // One retry covers a momentary lock or connection loss; after that the
    // records are reported, never silently dropped.
    let mut result = store.append_api_calls(batch).await;
    if result.is_err() {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        result = store.append_api_calls(batch).await;
    }
    if let Err(e) = result {
        tracing::error!(error = %e, lost = batch.len(), "could not write API call records to the audit log");
        metrics::counter!("tollgate_audit_records_lost_total").increment(batch.len() as u64);
    }
    batch.clear();
}
