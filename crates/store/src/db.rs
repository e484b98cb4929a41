//! The two backends behind one transaction type.
//!
//! Every statement is written once, in the dialect both SQLite and
//! PostgreSQL accept (`$1` placeholders, `RETURNING`, `ON CONFLICT`), and the
//! [`exec!`], [`fetch_one!`], [`fetch_optional!`] and [`fetch_all!`] macros
//! run it on whichever backend the transaction holds. Where the dialects
//! differ (row locks, the RLS setting) the code matches on [`Tx`] by hand.
//! See docs/adr/0002-one-sql-dialect-for-two-backends.md for why this beats
//! two hand-kept copies of every query.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool};

use crate::StoreError;
use crate::sqlite_file::SqliteFile;

/// A SQLite transaction, with this process's write turn when it writes.
/// Dereferences to the connection, as `sqlx::Transaction` does.
pub(crate) struct SqliteTx {
    // Fields drop in order: the transaction (rolled back if not committed)
    // before the turn is handed on.
    tx: sqlx::Transaction<'static, Sqlite>,
    write: Option<WriteTurn>,
}

/// A write transaction's turn at its file, and the file whose log is synced
/// before its commit is reported ([`Tx::commit`]).
struct WriteTurn {
    turn: tokio::sync::OwnedMutexGuard<()>,
    file: Arc<SqliteFile>,
}

impl std::ops::Deref for SqliteTx {
    type Target = sqlx::SqliteConnection;

    fn deref(&self) -> &sqlx::SqliteConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for SqliteTx {
    fn deref_mut(&mut self) -> &mut sqlx::SqliteConnection {
        &mut self.tx
    }
}

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    pub fn for_url(url: &str) -> Option<Backend> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else {
            None
        }
    }
}

#[derive(Clone)]
pub(crate) enum Pool {
    /// With the file's shared state (`None` for `:memory:`).
    Sqlite(SqlitePool, Option<Arc<SqliteFile>>),
    Postgres(PgPool),
}

/// How to open a pool.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

impl Pool {
    pub(crate) async fn open(url: &str, settings: &PoolSettings) -> Result<Pool, StoreError> {
        match Backend::for_url(url) {
            Some(Backend::Sqlite) => {
                // WAL lets readers proceed while one writer commits. A
                // commit does not wait for the disk (`NORMAL`): `Tx::commit`
                // reports it only once the file's syncer has synced the log
                // after it, so a reported commit survives power loss, as
                // with `FULL`, and the next writer need not wait for the
                // disk meanwhile (ADR 0016).
                let opts = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    // Checkpoints run on a thread of their own (`checkpointer`).
                    .pragma(
                        "wal_autocheckpoint",
                        crate::checkpointer::BACKSTOP_PAGES.to_string(),
                    )
                    .busy_timeout(Duration::from_secs(10));
                let pool = SqlitePoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(settings.acquire_timeout)
                    // sqlx pings a connection before handing it out, by
                    // default: on SQLite a round trip to the connection's
                    // thread per transaction, to check a local file that
                    // cannot have gone away.
                    .test_before_acquire(false)
                    // A connection handed out inside a transaction nobody
                    // owns (see `Pool::write`: sqlx can leave one so) would
                    // hold its locks for as long as the pool keeps it.
                    // Closed instead, SQLite rolls the transaction back.
                    .before_acquire(|conn, _| {
                        Box::pin(async move {
                            use sqlx::TransactionManager;
                            let depth =
                                sqlx::sqlite::SqliteTransactionManager::get_transaction_depth(conn);
                            if depth > 0 {
                                tracing::error!(
                                    depth,
                                    "a pooled SQLite connection was left inside a transaction; closing it"
                                );
                            }
                            Ok(depth == 0)
                        })
                    })
                    .connect_with(opts)
                    .await?;
                let file = SqliteFile::for_path(pool.connect_options().get_filename());
                Ok(Pool::Sqlite(pool, file))
            }
            Some(Backend::Postgres) => {
                let opts = PgConnectOptions::from_str(url)?.application_name("tollgate");
                let pool = PgPoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(settings.acquire_timeout)
                    .connect_with(opts)
                    .await?;
                Ok(Pool::Postgres(pool))
            }
            None => Err(StoreError::Config(
                "database URL must start with sqlite: or postgres://".into(),
            )),
        }
    }

    /// The audit log's rusqlite access to the same SQLite file (ADR 0008).
    pub(crate) fn audit_direct(&self) -> Option<std::sync::Arc<crate::audit_sqlite::Direct>> {
        match self {
            Pool::Sqlite(_, file) => file
                .clone()
                .map(|f| Arc::new(crate::audit_sqlite::Direct::for_file(f))),
            Pool::Postgres(_) => None,
        }
    }

    /// The dial gate's rusqlite readers of the same SQLite file (ADR 0010).
    pub(crate) fn readers(&self) -> Option<std::sync::Arc<crate::sqlite_read::Readers>> {
        match self {
            Pool::Sqlite(p, _) => crate::sqlite_read::Readers::for_pool(p).map(Arc::new),
            Pool::Postgres(_) => None,
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            Pool::Sqlite(..) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// A transaction that will write. SQLite takes its write lock up front
    /// (`BEGIN IMMEDIATE`) so two writers queue on the busy timeout instead
    /// of one failing when it upgrades a read lock.
    pub(crate) async fn write(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Pool::Sqlite(p, file) => {
                let write = match file {
                    Some(file) => Some(WriteTurn {
                        turn: file.turn().await?,
                        file: file.clone(),
                    }),
                    None => None,
                };
                // On a task of its own, so that it always runs to its end.
                // sqlx (0.8) checks a custom BEGIN after SQLite has run it,
                // at an await of its own; a caller dropped there (a client
                // that hung up) never gets the `Transaction` whose drop rolls
                // back, and the connection goes back to the pool inside the
                // transaction, holding the write lock with nothing to end
                // it: every writer of the file stalled, the audit log's
                // first. A finished begin nobody awaits any more is a
                // `Transaction` dropped, which rolls back.
                let p = p.clone();
                let begin = tokio::spawn(async move {
                    Ok::<_, sqlx::Error>(SqliteTx {
                        tx: p.begin_with("BEGIN IMMEDIATE").await?,
                        write,
                    })
                });
                Tx::Sqlite(begin.await.map_err(|e| {
                    StoreError::Config(format!("beginning a write transaction: {e}"))
                })??)
            }
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    pub(crate) async fn read(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Pool::Sqlite(p, _) => Tx::Sqlite(SqliteTx {
                tx: p.begin().await?,
                write: None,
            }),
            Pool::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Waits until every commit made so far on this pool is on disk, for
    /// writes that did not go through [`Tx::commit`] (the migrations).
    pub(crate) async fn sync(&self) -> Result<(), StoreError> {
        match self {
            Pool::Sqlite(_, Some(file)) => file.sync()?.wait().await,
            Pool::Sqlite(_, None) | Pool::Postgres(_) => Ok(()),
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Pool::Sqlite(p, _) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

/// An open transaction on either backend. Dropped without [`Tx::commit`],
/// it rolls back.
pub(crate) enum Tx {
    Sqlite(SqliteTx),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(SqliteTx { tx, write }) => {
                tx.commit().await?;
                if let Some(WriteTurn { turn, file }) = write {
                    // The next writer goes on while this commit's frames
                    // go to the disk; nothing is reported before they are.
                    drop(turn);
                    file.sync()?.wait().await?;
                }
            }
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    /// Binds the transaction to one organization. On PostgreSQL this sets
    /// the row-level-security variable for this transaction only; SQLite has
    /// no RLS and relies on the `org_id = $1` every statement carries.
    pub(crate) async fn bind_org(&mut self, org_id: &str) -> Result<(), StoreError> {
        if let Tx::Postgres(t) = self {
            sqlx::query("SELECT set_config('app.org_id', $1, true)")
                .bind(org_id)
                .execute(&mut **t)
                .await?;
        }
        Ok(())
    }

    /// Serializes writers of one organization until commit, for invariants
    /// that count rows (the last owner). SQLite's IMMEDIATE transaction
    /// already excludes every other writer. `NO KEY UPDATE`, not `UPDATE`:
    /// inserts that reference the organization (audit events) take a
    /// KEY SHARE lock on its row for the foreign key, and a full `FOR UPDATE`
    /// would deadlock them against this transaction's own audit append.
    pub(crate) async fn lock_org(&mut self, org_id: &str) -> Result<(), StoreError> {
        if let Tx::Postgres(t) = self {
            sqlx::query("SELECT 1 FROM organizations WHERE id = $1 FOR NO KEY UPDATE")
                .bind(org_id)
                .execute(&mut **t)
                .await?;
        }
        Ok(())
    }
}

/// The `VALUES` list of a multi-row INSERT: `rows` tuples of `cols`
/// placeholders. SQLite gets anonymous `?` placeholders: sqlx asks SQLite
/// for each parameter's name, which SQLite finds by a linear scan, so
/// numbered names make a many-row statement quadratic.
pub(crate) fn values_list(tx: &Tx, rows: usize, cols: usize) -> String {
    placeholders(matches!(tx, Tx::Postgres(_)), rows, cols)
}

/// `rows` tuples of `cols` placeholders, numbered (`$1`, PostgreSQL) or
/// anonymous (`?`, SQLite through sqlx or rusqlite).
pub(crate) fn placeholders(numbered: bool, rows: usize, cols: usize) -> String {
    use std::fmt::Write;
    let mut sql = String::with_capacity(rows * cols * 4);
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            sql.push_str(if c == 0 { "" } else { ", " });
            if numbered {
                let _ = write!(sql, "${}", r * cols + c + 1);
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

/// Runs a statement on either backend; evaluates to rows affected.
macro_rules! exec {
    ($tx:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $tx {
            $crate::db::Tx::Sqlite(t) => sqlx::query($sql)$(.bind($arg))*.execute(&mut **t).await.map(|r| r.rows_affected()),
            $crate::db::Tx::Postgres(t) => sqlx::query($sql)$(.bind($arg))*.execute(&mut **t).await.map(|r| r.rows_affected()),
        }
    };
}

/// Fetches exactly one row as `$row` (a `#[derive(sqlx::FromRow)]` type or a tuple).
macro_rules! fetch_one {
    ($tx:expr, $row:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $tx {
            $crate::db::Tx::Sqlite(t) => sqlx::query_as::<_, $row>($sql)$(.bind($arg))*.fetch_one(&mut **t).await,
            $crate::db::Tx::Postgres(t) => sqlx::query_as::<_, $row>($sql)$(.bind($arg))*.fetch_one(&mut **t).await,
        }
    };
}

macro_rules! fetch_optional {
    ($tx:expr, $row:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $tx {
            $crate::db::Tx::Sqlite(t) => sqlx::query_as::<_, $row>($sql)$(.bind($arg))*.fetch_optional(&mut **t).await,
            $crate::db::Tx::Postgres(t) => sqlx::query_as::<_, $row>($sql)$(.bind($arg))*.fetch_optional(&mut **t).await,
        }
    };
}

macro_rules! fetch_all {
    ($tx:expr, $row:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $tx {
            $crate::db::Tx::Sqlite(t) => sqlx::query_as::<_, $row>($sql)$(.bind($arg))*.fetch_all(&mut **t).await,
            $crate::db::Tx::Postgres(t) => sqlx::query_as::<_, $row>($sql)$(.bind($arg))*.fetch_all(&mut **t).await,
        }
    };
}

pub(crate) use {exec, fetch_all, fetch_one, fetch_optional};

/// A value bound to a statement built at run time.
#[derive(Clone, Copy)]
pub(crate) enum Arg<'a> {
    Str(&'a str),
    Blob(&'a [u8]),
    Int(i64),
    OptInt(Option<i64>),
    OptStr(Option<&'a str>),
    /// A `text[]`, on PostgreSQL only (built by [`Sql::id_in`]).
    StrArray(&'a [&'a str]),
}

/// A statement whose length depends on its data (`IN` lists, multi-row
/// `VALUES`), with its parameters. SQLite gets anonymous `?` placeholders
/// (see [`values_list`] for why), PostgreSQL numbered ones.
pub(crate) struct Sql<'a> {
    text: String,
    args: Vec<Arg<'a>>,
    numbered: bool,
}

macro_rules! bind_args {
    ($q:expr, $args:expr, $array:ident) => {{
        let mut q = $q;
        for a in $args {
            q = match *a {
                Arg::Str(v) => q.bind(v),
                Arg::Blob(v) => q.bind(v),
                Arg::Int(v) => q.bind(v),
                Arg::OptInt(v) => q.bind(v),
                Arg::OptStr(v) => q.bind(v),
                Arg::StrArray(v) => $array!(q, v),
            };
        }
        q
    }};
}

macro_rules! pg_array {
    ($q:expr, $v:expr) => {
        $q.bind($v)
    };
}

/// SQLite has no arrays, and [`Sql::id_in`] never binds one for it (a
/// statement's placeholders are chosen for its backend when it is built).
macro_rules! no_array {
    ($q:expr, $v:expr) => {{
        let _ = $v;
        unreachable!("an array bound to a SQLite statement")
    }};
}

impl<'a> Sql<'a> {
    pub(crate) fn new(tx: &Tx) -> Sql<'a> {
        Sql {
            text: String::with_capacity(256),
            args: Vec::new(),
            numbered: matches!(tx, Tx::Postgres(_)),
        }
    }

    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    pub(crate) fn bind(&mut self, arg: Arg<'a>) -> &mut Self {
        self.args.push(arg);
        if self.numbered {
            use std::fmt::Write;
            let _ = write!(self.text, "${}", self.args.len());
        } else {
            self.text.push('?');
        }
        self
    }

    /// `org_id = <org>` as a filter on rows found by another condition,
    /// never as the index to search. Without statistics SQLite assumes an
    /// equality on an index matches about ten rows, so for a list of more
    /// than ten ids (`... AND id IN (...)`) it would search the `org_id`
    /// index instead of the primary key and read the organization's whole
    /// history for every batch. Its unary `+` keeps a term out of index
    /// selection (the documented way). PostgreSQL gets the plain condition
    /// (row-level security adds the same one anyway); there [`Sql::id_in`]
    /// is what keeps a list of ids on the primary key.
    pub(crate) fn org_id_filter(&mut self, org: &'a str) -> &mut Self {
        self.push(if self.numbered {
            "org_id = "
        } else {
            "+org_id = "
        });
        self.bind(Arg::Str(org))
    }

    /// The plan SQLite chooses for this statement, one line per step (for
    /// tests that pin a plan; empty on PostgreSQL).
    #[cfg(test)]
    pub(crate) async fn sqlite_plan(&self, tx: &mut Tx) -> Result<Vec<String>, StoreError> {
        let Tx::Sqlite(t) = tx else {
            return Ok(Vec::new());
        };
        let text = format!("EXPLAIN QUERY PLAN {}", self.text);
        let rows: Vec<(i64, i64, i64, String)> =
            bind_args!(sqlx::query_as(&text), &self.args, no_array)
                .fetch_all(&mut **t)
                .await?;
        Ok(rows.into_iter().map(|r| r.3).collect())
    }

    /// `column` is one of `ids`: `column = ANY($n)` with one `text[]` on
    /// PostgreSQL, `column IN (?, ?, ...)` on SQLite. On PostgreSQL the
    /// statement's text (and so its prepared plan) no longer depends on
    /// how many ids there are, and its generic plan expects a few rows
    /// from the primary key: with 200 numbered parameters, and no
    /// statistics yet, it expected 200 and chose the organization's index
    /// that row-level security's condition offers, reading the whole
    /// history of the organization for every batch.
    pub(crate) fn id_in(&mut self, column: &str, ids: &'a [&'a str]) -> &mut Self {
        self.push(column);
        if self.numbered {
            self.push(" = ANY(").bind(Arg::StrArray(ids)).push(")")
        } else {
            self.push(" IN (")
                .list(ids.iter().map(|id| Arg::Str(id)))
                .push(")")
        }
    }

    /// Comma-separated placeholders for `args`.
    pub(crate) fn list(&mut self, args: impl Iterator<Item = Arg<'a>>) -> &mut Self {
        for (n, a) in args.enumerate() {
            if n > 0 {
                self.text.push_str(", ");
            }
            self.bind(a);
        }
        self
    }

    pub(crate) async fn exec(&self, tx: &mut Tx) -> Result<u64, StoreError> {
        Ok(match tx {
            Tx::Sqlite(t) => bind_args!(sqlx::query(&self.text), &self.args, no_array)
                .execute(&mut **t)
                .await?
                .rows_affected(),
            Tx::Postgres(t) => bind_args!(sqlx::query(&self.text), &self.args, pg_array)
                .execute(&mut **t)
                .await?
                .rows_affected(),
        })
    }

    pub(crate) async fn fetch_all<R>(&self, tx: &mut Tx) -> Result<Vec<R>, StoreError>
    where
        R: Send
            + Unpin
            + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    {
        Ok(match tx {
            Tx::Sqlite(t) => {
                bind_args!(sqlx::query_as::<_, R>(&self.text), &self.args, no_array)
                    .fetch_all(&mut **t)
                    .await?
            }
            Tx::Postgres(t) => {
                bind_args!(sqlx::query_as::<_, R>(&self.text), &self.args, pg_array)
                    .fetch_all(&mut **t)
                    .await?
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    async fn pool_of_two(path: &std::path::Path) -> Pool {
        let url = format!("sqlite://{}", path.display());
        let settings = PoolSettings {
            max_connections: 2,
            acquire_timeout: Duration::from_secs(2),
        };
        let pool = Pool::open(&url, &settings).await.unwrap();
        let mut tx = pool.write().await.unwrap();
        exec!(&mut tx, "CREATE TABLE IF NOT EXISTS t (n INTEGER NOT NULL)").unwrap();
        tx.commit().await.unwrap();
        pool
    }

    /// Polls `begin` `polls` times, giving the connection's worker thread
    /// time to answer in between, then drops it (and whatever it returned).
    async fn drop_after<T>(begin: impl Future<Output = T>, polls: usize) {
        let mut cx = Context::from_waker(Waker::noop());
        let mut begin = std::pin::pin!(begin);
        for _ in 0..polls {
            if let Poll::Ready(out) = begin.as_mut().poll(&mut cx) {
                drop(out);
                return;
            }
            tokio::time::sleep(Duration::from_micros(300)).await;
        }
    }

    /// Whether another process could take the write lock within a second
    /// (SQLite's busy handler waits out a rollback still on its way).
    async fn lock_is_free(path: &std::path::Path) -> rusqlite::Result<()> {
        let p = path.to_owned();
        tokio::task::spawn_blocking(move || {
            let c = rusqlite::Connection::open(p)?;
            c.busy_timeout(Duration::from_secs(1))?;
            c.execute_batch("BEGIN IMMEDIATE; ROLLBACK")
        })
        .await
        .unwrap()
    }

    /// A request whose client hangs up while its write transaction begins
    /// drops `Pool::write` at whatever await it had reached. None of those
    /// points may leave SQLite's write lock held: a pooled connection left
    /// inside `BEGIN IMMEDIATE` stalls every writer of the process, the
    /// audit log's first.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_dropped_while_it_begins_leaves_no_lock_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let pool = pool_of_two(&path).await;
        // Rounds stop at each point of the begin, many times over: how far
        // a poll gets depends on the worker thread's timing.
        for polls in (1..=8).cycle().take(160) {
            drop_after(pool.write(), polls).await;
            let free = lock_is_free(&path).await;
            assert!(
                free.is_ok(),
                "dropped after {polls} polls, the write lock stayed held: {free:?}"
            );
            // This pool's writers still work, on either connection.
            for _ in 0..2 {
                let mut tx = tokio::time::timeout(Duration::from_secs(5), pool.write())
                    .await
                    .expect("a writer waited for a lock nobody releases")
                    .unwrap_or_else(|e| panic!("dropped after {polls} polls: {e}"));
                exec!(&mut tx, "INSERT INTO t (n) VALUES ($1)", polls as i64).unwrap();
                tx.commit().await.unwrap();
            }
        }
    }

    /// The pool's backstop: sqlx's own `begin_with` dropped at its second
    /// await leaves a connection inside `BEGIN IMMEDIATE` (the defect
    /// `Pool::write` steps around); the next time the pool would hand that
    /// connection out, it closes it instead, which ends the transaction.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_pool_closes_a_connection_left_inside_a_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.db");
        let pool = pool_of_two(&path).await;
        let Pool::Sqlite(p, _) = &pool else {
            unreachable!()
        };
        let mut leaked = false;
        for polls in (1..=8).cycle().take(160) {
            drop_after(p.begin_with("BEGIN IMMEDIATE"), polls).await;
            if lock_is_free(&path).await.is_err() {
                leaked = true;
                break;
            }
        }
        assert!(
            leaked,
            "sqlx no longer leaves a cancelled begin open; the workaround in Pool::write can go"
        );
        // Both connections handed out at once: one of them was the leaked one.
        let (a, b) = (pool.read().await.unwrap(), pool.read().await.unwrap());
        drop((a, b));
        lock_is_free(&path).await.unwrap();
    }

    /// A write's commit does not sync the log itself (`NORMAL`, so the
    /// next writer need not wait for the disk) and is reported only after
    /// the file's syncer has synced it (ADR 0016). A read syncs nothing.
    #[tokio::test]
    async fn a_write_is_reported_once_the_log_is_synced_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let pool = pool_of_two(&path).await;
        let Pool::Sqlite(_, Some(file)) = &pool else {
            unreachable!()
        };
        for n in 0..3_i64 {
            let before = file.syncs();
            let mut tx = pool.write().await.unwrap();
            let (mode,) = fetch_one!(&mut tx, (i64,), "PRAGMA synchronous").unwrap();
            assert_eq!(mode, 1, "the connection would sync inside its commit");
            exec!(&mut tx, "INSERT INTO t (n) VALUES ($1)", n).unwrap();
            tx.commit().await.unwrap();
            assert!(file.syncs() > before, "commit {n} was reported unsynced");
        }
        let before = file.syncs();
        let mut tx = pool.read().await.unwrap();
        let (count,) = fetch_one!(&mut tx, (i64,), "SELECT count(*) FROM t").unwrap();
        assert_eq!(count, 3);
        tx.commit().await.unwrap();
        assert_eq!(file.syncs(), before);
    }

    /// What the audit sink tries again until it passes, and what it gives
    /// up on: a lock held elsewhere is transient, a broken constraint is not.
    #[tokio::test]
    async fn a_busy_database_is_transient_and_a_broken_constraint_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let pool = pool_of_two(&path).await;
        let holder = rusqlite::Connection::open(&path).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        let other = rusqlite::Connection::open(&path).unwrap();
        other.busy_timeout(Duration::ZERO).unwrap();
        let busy = StoreError::from(other.execute_batch("BEGIN IMMEDIATE").unwrap_err());
        assert!(busy.is_transient(), "{busy:?}");
        holder.execute_batch("ROLLBACK").unwrap();

        let mut tx = pool.write().await.unwrap();
        let broken =
            StoreError::from(exec!(&mut tx, "INSERT INTO t (n) VALUES (NULL)").unwrap_err());
        assert!(!broken.is_transient(), "{broken:?}");
        assert!(StoreError::Db(sqlx::Error::PoolTimedOut).is_transient());
        assert!(!StoreError::Config("a bug".into()).is_transient());
    }
}
