//! Point reads of the dial gate's hot path on SQLite, through rusqlite
//! (docs/adr/0010-gate-reads-over-rusqlite.md).
//!
//! Every sqlx statement on SQLite is a round trip to the connection's own
//! thread (a channel send, a futex wake-up, the answer sent back row by
//! row); a dial check made about nine of them, and those hand-offs, not
//! SQLite, were most of its CPU. Here a read is a call on the calling
//! thread: a pooled read-only connection, a cached prepared statement,
//! borrowed columns.
//!
//! Readers never block on writers under WAL, so a point read costs
//! microseconds; short single reads run inline on the async worker, and the
//! dial group's reads (up to a group's worth of lookups) run on the blocking
//! pool in one hand-off. A reader that meets SQLite's rare busy state waits
//! at most [`BUSY`], then fails (and a failed gate read denies).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;

/// The longest a reader waits for SQLite's busy state (WAL recovery after a
/// crash, a checkpoint resetting the log) before failing.
const BUSY: Duration = Duration::from_millis(250);

/// Idle connections kept: one per tokio worker plus the blocking reader is
/// what the gate needs; more only churn file handles.
const IDLE: usize = 8;

/// Pooled read-only rusqlite connections to the store's SQLite file.
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    /// `None` for a database that is not a file.
    pub(crate) fn for_pool(pool: &sqlx::SqlitePool) -> Option<Readers> {
        let path = pool.connect_options().get_filename().to_path_buf();
        (!path.as_os_str().is_empty() && path != Path::new(":memory:")).then(|| Readers {
            path,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Runs `f` on a pooled connection, on the calling thread. Each
    /// statement reads the latest committed state (autocommit); a caller
    /// that needs one snapshot across statements holds the write lock, as
    /// the dial group does.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let taken = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match taken {
            Some(c) => c,
            None => open(&self.path)?,
        };
        let result = f(&conn);
        // A connection is only reused in autocommit state (a statement that
        // failed half-way leaves none open; dropping it would end one).
        if conn.is_autocommit() {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < IDLE {
                idle.push(conn);
            }
        }
        result
    }
}

fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY)?;
    // Read-only by construction: any write through this connection fails.
    conn.pragma_update(None, "query_only", "ON")?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}
