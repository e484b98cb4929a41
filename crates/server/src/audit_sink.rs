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
//!
//! A group that cannot be written for a reason that may pass (a lock held
//! elsewhere, a lost connection, a full disk: `StoreError::is_transient`)
//! is tried again until it is written, and meanwhile the node reports
//! itself not ready: requests queue behind it and then time out, rather
//! than go on unrecorded. Any other failure (a refusal that would repeat)
//! gets one more try; then the group is given up, reported and counted.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tollgate_store::{ApiCall, Store, StoreError};

/// Up to this many records per transaction: a group only grows this large
/// when requests arrive faster than one commit takes, and then larger
/// groups are what keep up (audit-bench: ~30,000 events/s at 512 against
/// ~56,000 at 4,096 on SQLite, docs/benchmarks.md).
const BATCH: usize = 4_096;
const QUEUE: usize = 16_384;

enum Msg<T> {
    Call(Box<T>),
    Flush(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<Msg<ApiCall>>,
    failing: Arc<AtomicBool>,
}

impl AuditSink {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Store) -> AuditSink {
        let (tx, rx) = mpsc::channel(QUEUE);
        let failing = Arc::new(AtomicBool::new(false));
        tokio::spawn(write_loop(store, rx, failing.clone()));
        AuditSink { tx, failing }
    }

    /// Whether the last group of records could not be written and is being
    /// tried again (`/readyz` reports the node not ready meanwhile).
    pub fn failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
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

/// Where the writer task puts its groups: the store, or a test's stand-in.
trait Append<T>: Send + 'static {
    fn append<'a>(
        &'a self,
        records: &'a [T],
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a;
}

impl Append<ApiCall> for Store {
    fn append<'a>(
        &'a self,
        records: &'a [ApiCall],
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a {
        self.append_api_calls(records)
    }
}

/// The wait before a failed group's next try: doubled after each failure
/// up to the last value.
const RETRY_AFTER: Duration = Duration::from_millis(200);
const RETRY_AT_MOST: Duration = Duration::from_secs(5);

async fn write_loop<T: Send, A: Append<T>>(
    sink: A,
    mut rx: mpsc::Receiver<Msg<T>>,
    failing: Arc<AtomicBool>,
) {
    let mut inbox = Vec::with_capacity(BATCH);
    let mut batch: Vec<T> = Vec::with_capacity(BATCH);
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
                    write(&sink, &mut batch, &failing).await;
                    let _ = done.send(());
                }
            }
        }
        write(&sink, &mut batch, &failing).await;
    }
}

async fn write<T, A: Append<T>>(sink: &A, batch: &mut Vec<T>, failing: &AtomicBool) {
    if batch.is_empty() {
        return;
    }
    let mut wait = RETRY_AFTER;
    let mut tries = 0;
    loop {
        let Err(e) = sink.append(batch).await else {
            break;
        };
        tries += 1;
        metrics::counter!("tollgate_audit_write_failures_total").increment(1);
        // A failure that is not transient gets one more try, then the
        // group is given up, loudly: the same answer is expected, and
        // waiting on it would stop every API call for good.
        if !e.is_transient() && tries > 1 {
            tracing::error!(error = %e, lost = batch.len(), "could not write API call records to the audit log; given up");
            metrics::counter!("tollgate_audit_records_lost_total").increment(batch.len() as u64);
            break;
        }
        if e.is_transient() && !failing.swap(true, Ordering::Relaxed) {
            tracing::error!(error = %e, waiting = batch.len(), "cannot write API call records to the audit log; trying again until it can");
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(RETRY_AT_MOST);
    }
    if failing.swap(false, Ordering::Relaxed) {
        tracing::warn!("the audit log is no longer failing");
    }
    batch.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Fails its first `fail` appends with `error`, then keeps what it is given.
    struct Flaky {
        fail: Mutex<usize>,
        error: fn() -> StoreError,
        kept: Arc<Mutex<Vec<u32>>>,
        tries: Arc<Mutex<usize>>,
    }

    impl Append<u32> for Flaky {
        async fn append(&self, records: &[u32]) -> Result<(), StoreError> {
            *self.tries.lock().unwrap() += 1;
            let mut fail = self.fail.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                return Err((self.error)());
            }
            self.kept.lock().unwrap().extend_from_slice(records);
            Ok(())
        }
    }

    type Started = (
        mpsc::Sender<Msg<u32>>,
        Arc<AtomicBool>,
        Arc<Mutex<Vec<u32>>>,
        Arc<Mutex<usize>>,
    );

    fn start(fail: usize, error: fn() -> StoreError) -> Started {
        let (tx, rx) = mpsc::channel(16);
        let failing = Arc::new(AtomicBool::new(false));
        let kept = Arc::new(Mutex::new(Vec::new()));
        let tries = Arc::new(Mutex::new(0));
        let sink = Flaky {
            fail: Mutex::new(fail),
            error,
            kept: kept.clone(),
            tries: tries.clone(),
        };
        tokio::spawn(write_loop(sink, rx, failing.clone()));
        (tx, failing, kept, tries)
    }

    async fn flush(tx: &mpsc::Sender<Msg<u32>>) {
        let (done, wait) = oneshot::channel();
        tx.send(Msg::Flush(done)).await.unwrap();
        wait.await.unwrap();
    }

    /// A lock held elsewhere for a long while (the post-POST stall of the
    /// seventh session lost 4,096 records every 20 s): the group waits and
    /// is written once the store takes it, and the node says it is not
    /// ready meanwhile.
    #[tokio::test(start_paused = true)]
    async fn records_wait_out_a_store_that_fails_for_a_while() {
        let busy = || StoreError::Db(sqlx::Error::PoolTimedOut);
        let (tx, failing, kept, tries) = start(12, busy);
        for n in 0..3 {
            tx.send(Msg::Call(Box::new(n))).await.unwrap();
        }
        // Time stands still until every task waits: the group's linger,
        // then its first tries.
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(failing.load(Ordering::Relaxed));
        assert!(kept.lock().unwrap().is_empty());
        tx.send(Msg::Call(Box::new(3))).await.unwrap();
        flush(&tx).await;
        assert_eq!(*kept.lock().unwrap(), [0, 1, 2, 3]);
        assert_eq!(*tries.lock().unwrap(), 14, "12 failures, then both groups");
        assert!(!failing.load(Ordering::Relaxed));
    }

    /// A group refused in a way that would repeat is given up after a
    /// second try, so that one bad record cannot stop every API call for
    /// good.
    #[tokio::test(start_paused = true)]
    async fn a_group_refused_for_good_is_given_up() {
        let refused = || StoreError::Config("a trigger refused it".into());
        let (tx, failing, kept, tries) = start(2, refused);
        tx.send(Msg::Call(Box::new(7))).await.unwrap();
        flush(&tx).await;
        assert_eq!(*tries.lock().unwrap(), 2);
        assert!(kept.lock().unwrap().is_empty());
        assert!(!failing.load(Ordering::Relaxed));
        tx.send(Msg::Call(Box::new(8))).await.unwrap();
        flush(&tx).await;
        assert_eq!(*kept.lock().unwrap(), [8]);
    }
}
