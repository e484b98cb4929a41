//! The audit log's two hot paths on SQLite, through rusqlite instead of
//! sqlx (docs/adr/0008-rusqlite-for-the-audit-hot-paths.md): the group
//! commit of API-call records and reading the chain for verification.
//!
//! sqlx copies every bound argument and every returned value and ships them
//! to its connection thread; at 18 columns an event that cost about 55 µs an
//! append and capped reading at ~150,000 rows a second. rusqlite binds
//! borrowed values and returns borrowed column text, on the calling thread.
//! Both link the same libsqlite3-sys (Cargo's `links` rule allows only one),
//! so this is the same SQLite library and the same database file.
//!
//! The two drivers stay one writer at a time: the writer here opens its
//! transaction with `BEGIN IMMEDIATE`, as `Pool::write` does, so it queues
//! on SQLite's write lock behind sqlx writers and they behind it, and the
//! chain head row of each organization is only read and advanced under that
//! lock. Every other audit event is still written by sqlx inside its own
//! change's transaction.

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{
    Connection, OpenFlags, OptionalExtension, TransactionBehavior, named_params, params,
};
use tokio::sync::oneshot;
use tollgate_core::audit::{Details, EventView};

use crate::audit::Segment;
use crate::sqlite_file::{SqliteFile, Synced};
use crate::{StoreError, mac_array};

/// The connection settings of the sqlx pool (`db::Pool::open`), repeated:
/// `synchronous` and `foreign_keys` are per connection. Writers commit with
/// `NORMAL` (no sync) and the file's syncer syncs the log before any result
/// of the commit is delivered (`sqlite_file`), which makes a delivered
/// commit as durable as `FULL` does.
fn open(path: &Path, read_only: bool) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        if read_only { "FULL" } else { "NORMAL" },
    )?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(
        None,
        "wal_autocheckpoint",
        crate::checkpointer::BACKSTOP_PAGES,
    )?;
    if read_only {
        conn.pragma_update(None, "query_only", "ON")?;
    } else {
        // The audit log's statements and the dial gate's (ADR 0010).
        conn.set_prepared_statement_cache_capacity(32);
    }
    Ok(conn)
}

type Job = Box<dyn FnOnce(&mut Option<Connection>) + Send>;

/// The database file, and the writer thread once the first append starts it.
pub(crate) struct Direct {
    /// The file's write turn and the syncer of its log.
    file: Arc<SqliteFile>,
    writer: Mutex<Option<mpsc::Sender<Job>>>,
    /// `api.call` events handed over and not yet in a transaction.
    calls: Arc<CallQueue>,
    /// Checkpoints the log off the writer thread while this lives.
    checkpointer: crate::checkpointer::Checkpointer,
}

/// `api.call` events waiting for the writer thread, each batch with the
/// caller that waits for its commit. Whichever job runs first on the
/// writer thread takes them all into its transaction: the audit sink's own
/// job, or a dial group's ([`CallQueue::append_queued`]), so a dial check
/// and the `api.call` records of the requests before it share one commit
/// (one fsync) instead of taking turns at two.
#[derive(Default)]
pub(crate) struct CallQueue {
    queued: Mutex<Vec<Queued>>,
    next: std::sync::atomic::AtomicU64,
}

struct Queued {
    id: u64,
    groups: Vec<(String, Vec<ApiCallRow>)>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The callers whose `api.call` events a transaction took; told its outcome
/// by [`Waiters::finish`]. Dropped untold (a panic), they see an error and
/// the audit sink retries.
#[must_use]
pub(crate) struct Waiters(Vec<oneshot::Sender<Result<(), StoreError>>>);

impl Waiters {
    /// Tells every caller whether its events committed.
    pub(crate) fn finish(self, committed: Result<(), &StoreError>) {
        for done in self.0 {
            let _ = done.send(match committed {
                Ok(()) => Ok(()),
                Err(e) => {
                    let told = format!("the api.call records' transaction failed: {e}");
                    // The audit sink tries a transient failure again.
                    Err(if e.is_transient() {
                        StoreError::Unavailable(told)
                    } else {
                        StoreError::Config(told)
                    })
                }
            });
        }
    }
}

impl CallQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Queued>> {
        self.queued.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(
        &self,
        groups: Vec<(String, Vec<ApiCallRow>)>,
    ) -> (u64, oneshot::Receiver<Result<(), StoreError>>) {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (done, committed) = oneshot::channel();
        self.lock().push(Queued { id, groups, done });
        (id, committed)
    }

    /// Takes batch `id` back if no transaction has taken it yet.
    fn withdraw(&self, id: u64) -> bool {
        let mut queued = self.lock();
        let before = queued.len();
        queued.retain(|q| q.id != id);
        queued.len() < before
    }

    fn take(&self) -> Vec<Queued> {
        std::mem::take(&mut *self.lock())
    }

    /// Appends every queued `api.call` event in `conn`'s open write
    /// transaction. `Ok`: the callers, to be told the transaction's outcome
    /// once it is known. `Err`: the events could not all be written; their
    /// callers have been told so (they retry), and the transaction holds
    /// part of them, so the caller must roll it back. (Not in a savepoint:
    /// SQLite copies aside every page a savepoint changes, for a rollback
    /// to it, which the audit log's append measurably paid for.)
    pub(crate) fn append_queued(&self, conn: &Connection) -> Result<Waiters, StoreError> {
        let queued = self.take();
        let written = queued.iter().try_for_each(|q| append_rows(conn, &q.groups));
        let waiters = Waiters(queued.into_iter().map(|q| q.done).collect());
        match written {
            Ok(()) => Ok(waiters),
            Err(e) => {
                waiters.finish(Err(&e));
                Err(e)
            }
        }
    }
}

impl Direct {
    pub(crate) fn for_file(file: Arc<SqliteFile>) -> Direct {
        Direct {
            checkpointer: crate::checkpointer::Checkpointer::start(file.path()),
            file,
            writer: Mutex::new(None),
            calls: Arc::default(),
        }
    }

    /// Stops the writer thread after the jobs already queued; the next
    /// append starts a new one. The checkpoint thread stops for good (the
    /// store is closing): the writers' backstop still bounds the log.
    pub(crate) fn close(&self) {
        self.checkpointer.stop();
        self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// Runs `f` on the writer thread, which owns the one rusqlite write
    /// connection, with this process's write turn at the file: blocking
    /// SQLite calls never run on a tokio worker. The audit log's `api.call`
    /// groups and the dial gate's groups (ADR 0010) both write here.
    /// Returns once what `f` committed is on disk.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (value, synced) = self.write_unsynced(f).await?;
        synced.wait().await?;
        Ok(value)
    }

    /// [`Direct::write`], returning as soon as `f` has run, with what tells
    /// when its commit is on disk: nothing of the value may be reported as
    /// done before [`Synced::wait`] succeeds. The writer thread and the
    /// write turn are free again as soon as this returns.
    pub(crate) async fn write_unsynced<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<(T, Synced), StoreError> {
        let (done, wait) = oneshot::channel();
        let file = self.file.clone();
        // This process's turn at the file first (`SqliteFile::turn`), so
        // the sqlx writers and this one hand the lock over instead of
        // sleeping in SQLite's busy handler. Taken here, with the same
        // timeout as theirs, and held by the job until it ends.
        let turn = file.turn().await?;
        let job: Job = Box::new(move |conn: &mut Option<Connection>| {
            let _turn = turn;
            let result = match conn {
                Some(c) => f(c),
                None => match open(file.path(), false) {
                    Ok(c) => f(conn.insert(c)),
                    Err(e) => Err(e.into()),
                },
            };
            // Asked after `f` returned, so the sync starts after its commit.
            let result = result.and_then(|value| Ok((value, file.sync()?)));
            let _ = done.send(result);
        });
        {
            let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            let sender = writer.get_or_insert_with(spawn_writer);
            if let Err(mpsc::SendError(job)) = sender.send(job) {
                // The thread ended (a job panicked): start another.
                let sender = writer.insert(spawn_writer());
                sender.send(job).map_err(|_| {
                    StoreError::Config("the audit writer thread cannot start".into())
                })?;
            }
        }
        wait.await
            .map_err(|_| StoreError::Config("the audit writer thread stopped".into()))?
    }

    /// Appends prepared `api.call` events, grouped by organization, in one
    /// transaction (group commit).
    ///
    /// The events wait in [`CallQueue`] for the writer thread; a dial group
    /// that runs first takes them into its own transaction. Returns once
    /// they are committed (or failed), by whichever job.
    pub(crate) async fn append_api_calls(
        &self,
        groups: Vec<(String, Vec<ApiCallRow>)>,
    ) -> Result<(), StoreError> {
        let (id, committed) = self.calls.push(groups);
        let calls = self.calls.clone();
        let job = self
            .write(move |conn| {
                if calls.lock().is_empty() {
                    // A dial group took them (or an earlier job did).
                    return Ok(());
                }
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                // On an error the transaction rolls back as it drops.
                let waiters = calls.append_queued(&tx)?;
                let result = tx.commit().map_err(StoreError::from);
                waiters.finish(result.as_ref().map(|_| ()));
                result
            })
            .await;
        // If no transaction took this batch (the job could not start or
        // begin), it is withdrawn and the caller retries it: never twice.
        if let Err(e) = job
            && self.calls.withdraw(id)
        {
            return Err(e);
        }
        committed
            .await
            .map_err(|_| StoreError::Config("the audit writer thread stopped".into()))?
    }

    /// The `api.call` events waiting for the writer thread, for a dial
    /// group to take into its transaction.
    pub(crate) fn calls(&self) -> Arc<CallQueue> {
        self.calls.clone()
    }

    /// Verifies events `lo < seq <= hi` of `org` on a connection of its own,
    /// on the calling (blocking) thread, reading one statement to the end:
    /// rows are stepped one at a time, so memory stays constant.
    pub(crate) fn verify_range(
        &self,
        org: &str,
        lo: i64,
        hi: i64,
        segment: &mut Segment,
    ) -> Result<(), StoreError> {
        let mut conn = open(self.file.path(), true)?;
        // One read transaction: a snapshot for the whole range.
        let tx = conn.transaction()?;
        // `org_id` is not read back: `org_id = ?1` under the column's BINARY
        // collation in a STRICT table selects only rows whose stored org_id
        // is exactly these bytes, so hashing `org` is hashing the stored
        // value, and one column fewer a row is a few percent of the read.
        let mut stmt = tx.prepare(
            "SELECT seq, occurred_at, prev_hash, hash, id, actor_kind, actor_id, action, \
             target_kind, target_id, outcome, request_id, ip, user_agent, method, route, details \
             FROM audit_events WHERE org_id = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq",
        )?;
        let mut rows = stmt.query(params![org, lo, hi])?;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let corrupt = || StoreError::Corrupt(format!("audit event {seq} cannot be read"));
            let text = |i: usize| row.get_ref(i).ok().and_then(|v| v.as_str().ok());
            let opt_text = |i: usize| -> Result<Option<&str>, StoreError> {
                row.get_ref(i)?.as_str_or_null().map_err(|_| corrupt())
            };
            let blob = |i: usize| -> Result<&[u8; 32], StoreError> {
                row.get_ref(i)?
                    .as_blob()
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| StoreError::Corrupt("stored hash is not 32 bytes".into()))
            };
            let details = text(16).ok_or_else(corrupt)?;
            let event = EventView {
                seq,
                occurred_at: row.get(1)?,
                prev_hash: blob(2)?,
                org_id: org,
                id: text(4).ok_or_else(corrupt)?,
                actor_kind: text(5).ok_or_else(corrupt)?,
                actor_id: opt_text(6)?,
                action: text(7).ok_or_else(corrupt)?,
                target: match (opt_text(8)?, opt_text(9)?) {
                    (Some(kind), Some(id)) => Some((kind, id)),
                    _ => None,
                },
                outcome: text(10).ok_or_else(corrupt)?,
                request_id: opt_text(11)?,
                ip: opt_text(12)?,
                user_agent: opt_text(13)?,
                method: opt_text(14)?,
                route: opt_text(15)?,
                details: Details::canonical_text(details).ok_or_else(|| {
                    StoreError::Corrupt(format!("audit details of event {seq} are not JSON"))
                })?,
            };
            if !segment.push(&event, blob(3)?) {
                break;
            }
        }
        Ok(())
    }
}

fn spawn_writer() -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("audit-writer".into())
        .spawn(move || {
            let mut conn = None;
            for job in rx {
                job(&mut conn);
            }
        })
        .expect("spawning the audit writer thread");
    tx
}

/// An `api.call` event prepared before the write lock is taken: everything
/// but its place in the chain (sequence number, previous hash, own hash).
pub(crate) struct ApiCallRow {
    pub id: String,
    pub occurred_at: i64,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub outcome: &'static str,
    pub request: tollgate_core::audit::RequestMeta,
    /// The canonical text of the details (see `audit::ApiCallDetails`).
    pub details: String,
}

impl ApiCallRow {
    fn view<'a>(
        &'a self,
        org: &'a str,
        seq: i64,
        prev: &'a [u8; 32],
    ) -> Result<EventView<'a>, StoreError> {
        Ok(EventView {
            id: &self.id,
            org_id: org,
            seq,
            occurred_at: self.occurred_at,
            actor_kind: &self.actor_kind,
            actor_id: self.actor_id.as_deref(),
            action: "api.call",
            target: None,
            outcome: self.outcome,
            request_id: self.request.request_id.as_deref(),
            ip: self.request.ip.as_deref(),
            user_agent: self.request.user_agent.as_deref(),
            method: self.request.method.as_deref(),
            route: self.request.route.as_deref(),
            details: Details::canonical_text(&self.details)
                .ok_or_else(|| StoreError::Corrupt("api call details are not JSON".into()))?,
            prev_hash: prev,
        })
    }
}

/// Advances `org`'s chain head by `n` events ([`crate::audit::ADVANCE_HEAD`])
/// under the write lock: the new last sequence number and the previous
/// hash of the first new event.
pub(crate) fn advance_head(
    conn: &Connection,
    org: &str,
    n: i64,
) -> Result<(i64, Vec<u8>), StoreError> {
    conn.prepare_cached(crate::audit::ADVANCE_HEAD)?
        .query_row(named_params! {"$1": org, "$2": n}, |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?
        .ok_or_else(|| StoreError::Corrupt(format!("organization {org} has no audit chain")))
}

/// Stores the hash of `org`'s last event ([`crate::audit::SET_HEAD`]).
pub(crate) fn set_head(conn: &Connection, org: &str, hash: &[u8; 32]) -> Result<(), StoreError> {
    conn.prepare_cached(crate::audit::SET_HEAD)?
        .execute(named_params! {"$1": org, "$2": &hash[..]})?;
    Ok(())
}

/// The one-row insert of an event ([`crate::audit::INSERT_EVENTS`]),
/// prepared once for a run of [`insert_event`] calls.
fn event_insert(conn: &Connection) -> Result<rusqlite::CachedStatement<'_>, StoreError> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let row = crate::db::placeholders(false, 1, crate::audit::EVENT_COLUMNS);
        format!("{}{row}", crate::audit::INSERT_EVENTS)
    });
    Ok(conn.prepare_cached(&SQL)?)
}

/// Inserts one event with its stored details text and hash.
fn insert_event(
    insert: &mut rusqlite::Statement<'_>,
    e: &EventView<'_>,
    details: &str,
    hash: &[u8; 32],
) -> Result<(), StoreError> {
    insert.execute(params![
        e.org_id,
        e.seq,
        e.id,
        e.occurred_at,
        e.actor_kind,
        e.actor_id,
        e.action,
        e.target.map(|(kind, _)| kind),
        e.target.map(|(_, id)| id),
        e.outcome,
        e.request_id,
        e.ip,
        e.user_agent,
        e.method,
        e.route,
        details,
        &e.prev_hash[..],
        &hash[..],
    ])?;
    Ok(())
}

/// [`crate::audit::append_all`] over rusqlite, in `conn`'s open write
/// transaction: the same chain ([`crate::audit::chain`]) and statements.
pub(crate) fn append_all(
    conn: &Connection,
    org: &str,
    drafts: Vec<(crate::audit::Draft, &crate::scope::Ctx)>,
) -> Result<(), StoreError> {
    if drafts.is_empty() {
        return Ok(());
    }
    let (last, head) = advance_head(conn, org, drafts.len() as i64)?;
    let events = crate::audit::chain(org, last, head, drafts)?;
    let mut insert = event_insert(conn)?;
    for c in &events {
        insert_event(&mut insert, &c.event.view(), &c.details, &c.hash)?;
    }
    if let Some(tail) = events.last() {
        set_head(conn, org, &tail.hash)?;
    }
    Ok(())
}

/// The group commit's rows: per organization, the head is advanced once
/// for the whole group under the write lock, each event is hashed onto the
/// previous one and inserted by one prepared statement, and the new head
/// hash is stored, in the caller's transaction.
fn append_rows(conn: &Connection, groups: &[(String, Vec<ApiCallRow>)]) -> Result<(), StoreError> {
    let mut buf = Vec::with_capacity(1024);
    let mut insert = event_insert(conn)?;
    for (org, group) in groups {
        let n = group.len() as i64;
        let (last, head) = advance_head(conn, org, n)?;
        let mut prev = mac_array(head)?;
        let first = last - n + 1;
        for (i, call) in group.iter().enumerate() {
            let e = call.view(org, first + i as i64, &prev)?;
            let hash = e.hash(&mut buf);
            insert_event(&mut insert, &e, &call.details, &hash)?;
            prev = hash;
        }
        set_head(conn, org, &prev)?;
    }
    Ok(())
}
