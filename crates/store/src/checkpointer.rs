//! The SQLite write-ahead log's checkpoints, on a thread of their own
//! (ADR 0012).
//!
//! SQLite's default copies the WAL back into the database file from inside
//! whichever commit pushes the log past 1,000 pages: that commit's writer
//! pays for the copy and an fsync of the database file while it holds the
//! write lock, so every writer queued behind it waits too. Under the dial
//! gate's load that was about a tenth of the writer thread's time, in
//! stalls of several milliseconds. Here the writers' automatic checkpoint
//! is only a backstop ([`BACKSTOP_PAGES`]); this thread runs a `PASSIVE`
//! checkpoint every [`BUSY_POLL`] while the log grows and every
//! [`IDLE_POLL`] while it does not. A passive checkpoint takes no write
//! lock: writers keep committing to the log while it copies.
//!
//! Small and frequent on purpose: the copy's writes and its fsync share
//! the disk with the writers' log syncs, and a checkpoint every 50 ms (a
//! few megabytes at the gate's peak) made those syncs wait, p99 at peak
//! 20-25 ms against 6.8-10.4 ms at 3 ms (docs/benchmarks.md).
//!
//! Durability does not change: a commit is durable once its WAL frames are
//! synced (`synchronous = FULL`), checkpointed or not, and a crash
//! mid-checkpoint is recovered from the log on the next open.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// The automatic checkpoint every write connection keeps, as a backstop
/// should this thread fall behind or stop: about 80 MB of log.
pub(crate) const BACKSTOP_PAGES: u32 = 20_000;

/// How often the thread checkpoints while the log is growing, and while it
/// is not.
const BUSY_POLL: Duration = Duration::from_millis(3);
const IDLE_POLL: Duration = Duration::from_millis(250);

/// Stops the thread when dropped (or on [`Checkpointer::stop`]).
pub(crate) struct Checkpointer {
    stop: Arc<AtomicBool>,
}

impl Checkpointer {
    /// Starts the thread for the database at `path`.
    pub(crate) fn start(path: &Path) -> Checkpointer {
        let stop = Arc::new(AtomicBool::new(false));
        let (path, flag) = (path.to_owned(), stop.clone());
        let started = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || run(&path, &flag));
        if let Err(e) = started {
            // The writers' own backstop still bounds the log.
            tracing::warn!(error = %e, "cannot start the WAL checkpoint thread");
        }
        Checkpointer { stop }
    }

    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(path: &Path, stop: &AtomicBool) {
    let mut conn: Option<Connection> = None;
    let mut poll = IDLE_POLL;
    let mut last_frames = -1;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(poll);
        if conn.is_none() {
            conn = open(path).ok();
        }
        let Some(c) = &conn else {
            poll = IDLE_POLL;
            continue;
        };
        // (busy, frames in the log, frames copied back), or an error.
        let log = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
        match log {
            Ok(frames) => {
                poll = if frames == last_frames {
                    IDLE_POLL
                } else {
                    BUSY_POLL
                };
                last_frames = frames;
            }
            Err(e) => {
                tracing::debug!(error = %e, "WAL checkpoint failed; retrying");
                conn = None;
                poll = IDLE_POLL;
            }
        }
    }
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // The checkpoint's fsyncs, as every other connection's.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(Duration::from_millis(100))?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commits reach the database file without any writer checkpointing:
    /// the writer's own automatic checkpoint is off here, so only the
    /// thread can have copied the log back.
    #[test]
    fn the_thread_copies_committed_pages_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let writer = Connection::open(&path).unwrap();
        writer.pragma_update(None, "journal_mode", "WAL").unwrap();
        writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        writer
            .execute_batch("CREATE TABLE t (b BLOB NOT NULL)")
            .unwrap();
        let size = || std::fs::metadata(&path).unwrap().len();
        let before = size();
        let _thread = Checkpointer::start(&path);
        for _ in 0..64 {
            writer
                .execute("INSERT INTO t (b) VALUES (zeroblob(32768))", [])
                .unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while size() < before + 2 * 1024 * 1024 {
            assert!(
                std::time::Instant::now() < deadline,
                "the log was not checkpointed: {} bytes",
                size()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
