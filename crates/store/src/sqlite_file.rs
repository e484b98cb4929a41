//! What this process shares about one SQLite database file among its
//! writers: the write turn (ADR 0008) and the thread that syncs the
//! write-ahead log (ADR 0013, ADR 0016).
//!
//! Every writer of the file (the sqlx pool's transactions, the rusqlite
//! writer thread of the audit log and the dial gate) commits with
//! `synchronous = NORMAL`: the commit writes its frames to the log and lets
//! go of SQLite's write lock without waiting for the disk. The writer then
//! asks the [`Syncer`] for a sync and reports nothing as done before it
//! succeeded. One `fdatasync` covers every commit written before it
//! started, so under load the syncs group themselves, and the next writer
//! takes the lock while the last one's frames go to the disk.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::StoreError;

/// How long a writer waits for this process's turn at the file before
/// failing as SQLite's busy timeout would.
const WRITE_TURN_TIMEOUT: Duration = Duration::from_secs(10);

/// One per database file per process, shared by every pool and writer
/// thread opened on it ([`SqliteFile::for_path`]).
pub(crate) struct SqliteFile {
    path: PathBuf,
    /// This process's turn at the file's write lock.
    ///
    /// SQLite lets one writer in at a time and makes the others poll: its
    /// busy handler sleeps 1, 2, 5, 10, 15, 20, 25 ms... between tries, so
    /// a writer that arrives while a commit runs typically sleeps 8 ms or
    /// more after the lock is free. Queueing on an in-process lock first
    /// hands the write lock over the moment it is released. Other processes
    /// (the CLI beside a running server) still meet SQLite's own lock and
    /// busy handler.
    turn: Arc<tokio::sync::Mutex<()>>,
    /// The [`Syncer`] thread; it ends when this is dropped. (`Sender` is
    /// `Sync`: every commit asks without a lock.)
    syncer: mpsc::Sender<SyncRequest>,
    /// Set for good once a sync of the log failed. After a failed
    /// `fdatasync` the kernel may have dropped the pages it could not
    /// write and a later sync can succeed without them, so no later sync
    /// proves anything: every writer is refused until the process restarts
    /// and SQLite recovers the file from what is on disk (PostgreSQL
    /// likewise stops on a failed fsync).
    failed: Arc<AtomicBool>,
    /// Syncs that succeeded, for tests.
    #[cfg(test)]
    synced: Arc<AtomicU64>,
}

impl SqliteFile {
    /// The file's shared state, made on first use. `None` for a database
    /// that is not a file (`:memory:`), which has nothing to sync or share.
    pub(crate) fn for_path(path: &Path) -> Option<Arc<SqliteFile>> {
        use std::collections::HashMap;
        use std::sync::{LazyLock, Weak};
        type Files = Mutex<HashMap<PathBuf, Weak<SqliteFile>>>;
        static FILES: LazyLock<Files> = LazyLock::new(Default::default);
        if path.as_os_str().is_empty() || path == Path::new(":memory:") {
            return None;
        }
        let mut files = FILES.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(file) = files.get(path).and_then(Weak::upgrade) {
            return Some(file);
        }
        files.retain(|_, w| w.strong_count() > 0);
        let synced = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicBool::new(false));
        let file = Arc::new(SqliteFile {
            path: path.to_path_buf(),
            turn: Arc::default(),
            syncer: Syncer::start(path, synced.clone(), failed.clone()),
            failed,
            #[cfg(test)]
            synced,
        });
        files.insert(path.to_path_buf(), Arc::downgrade(&file));
        Some(file)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Waits for this process's write turn at the file, failing after
    /// [`WRITE_TURN_TIMEOUT`] as SQLite's own busy timeout would, and at
    /// once when a sync of the log has failed ([`SqliteFile::failed`]).
    pub(crate) async fn turn(&self) -> Result<tokio::sync::OwnedMutexGuard<()>, StoreError> {
        self.refuse_if_failed()?;
        let turn = tokio::time::timeout(WRITE_TURN_TIMEOUT, self.turn.clone().lock_owned())
            .await
            .map_err(|_| StoreError::Db(sqlx::Error::PoolTimedOut))?;
        // A sync may have failed while this writer waited.
        self.refuse_if_failed()?;
        Ok(turn)
    }

    fn refuse_if_failed(&self) -> Result<(), StoreError> {
        if self.failed.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(
                "a sync of the write-ahead log failed; writes resume after a restart".into(),
            ));
        }
        Ok(())
    }

    /// Asks for a sync of the log, to start after every commit this
    /// process has already written: call it after the commit returned.
    pub(crate) fn sync(&self) -> Result<Synced, StoreError> {
        let (asked, on_disk) = oneshot::channel();
        self.syncer
            .send(asked)
            .map_err(|_| StoreError::Config("the WAL sync thread stopped".into()))?;
        Ok(Synced(on_disk))
    }

    #[cfg(test)]
    pub(crate) fn syncs(&self) -> u64 {
        self.synced.load(Ordering::SeqCst)
    }
}

/// A request for a sync of the log, answered once it is done (or failed).
type SyncRequest = oneshot::Sender<Result<(), String>>;

/// Syncs the write-ahead log on request, on a thread of its own.
struct Syncer {
    wal: PathBuf,
    rx: mpsc::Receiver<SyncRequest>,
    synced: Arc<AtomicU64>,
    failed: Arc<AtomicBool>,
}

impl Syncer {
    fn start(
        db: &Path,
        synced: Arc<AtomicU64>,
        failed: Arc<AtomicBool>,
    ) -> mpsc::Sender<SyncRequest> {
        let (tx, rx) = mpsc::channel();
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        let syncer = Syncer {
            wal: wal.into(),
            rx,
            synced,
            failed,
        };
        std::thread::Builder::new()
            .name("wal-sync".into())
            .spawn(move || syncer.run())
            .expect("spawning the WAL sync thread");
        tx
    }

    /// Ends when the sender is gone (the file's last pool closed).
    fn run(self) {
        while let Ok(first) = self.rx.recv() {
            let mut waiting = vec![first];
            waiting.extend(self.rx.try_iter());
            let synced = self.sync();
            match &synced {
                Ok(()) => {
                    self.synced.fetch_add(1, Ordering::SeqCst);
                }
                Err(e) => tracing::error!(error = %e, "the write-ahead log could not be synced"),
            }
            for w in waiting {
                let _ = w.send(synced.clone());
            }
        }
    }

    fn sync(&self) -> Result<(), String> {
        if self.failed.load(Ordering::SeqCst) {
            return Err("syncing the write-ahead log: an earlier sync failed".into());
        }
        // Opened for each sync: a descriptor kept open would go on naming a
        // log SQLite had deleted and created anew. Any descriptor of the
        // file syncs the file's data. A log that cannot be opened (too many
        // open files) fails this sync alone: nothing was lost yet.
        let wal = std::fs::File::open(&self.wal)
            .map_err(|e| format!("opening the write-ahead log to sync it: {e}"))?;
        wal.sync_data().map_err(|e| {
            self.failed.store(true, Ordering::SeqCst);
            format!("syncing the write-ahead log: {e}")
        })
    }
}

/// A commit on its way to the disk: resolves once the log has been synced
/// after it ([`SqliteFile::sync`]).
#[must_use]
pub(crate) struct Synced(oneshot::Receiver<Result<(), String>>);

impl Synced {
    /// `Err` when the sync failed: what the commit wrote may not survive a
    /// power loss, and it must not be reported as done.
    pub(crate) async fn wait(self) -> Result<(), StoreError> {
        self.0
            .await
            .map_err(|_| StoreError::Config("the WAL sync thread stopped".into()))?
            .map_err(StoreError::Config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A commit is reported done only after a sync that succeeded: a log
    /// that cannot be opened fails that sync alone; a log whose sync
    /// failed refuses every writer from then on, and no later sync passes.
    #[tokio::test]
    async fn a_failed_sync_is_reported_and_stops_the_writers() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let wal = dir.path().join("t.db-wal");
        let file = SqliteFile::for_path(&db).unwrap();
        let missing = file.sync().unwrap().wait().await;
        assert!(
            matches!(&missing, Err(StoreError::Config(m)) if m.contains("opening the write-ahead log")),
            "{missing:?}"
        );
        std::fs::write(&wal, b"frames").unwrap();
        let (a, b) = (file.sync().unwrap(), file.sync().unwrap());
        a.wait().await.unwrap();
        b.wait().await.unwrap();
        drop(file.turn().await.unwrap());

        // fdatasync of a character device fails (EINVAL), as a disk's
        // failed write would.
        std::fs::remove_file(&wal).unwrap();
        std::os::unix::fs::symlink("/dev/null", &wal).unwrap();
        let failed = file.sync().unwrap().wait().await;
        assert!(
            matches!(&failed, Err(StoreError::Config(m)) if m.starts_with("syncing the write-ahead log")),
            "{failed:?}"
        );
        let refused = file.turn().await.map(drop);
        assert!(
            matches!(&refused, Err(StoreError::Unavailable(_))),
            "{refused:?}"
        );
        std::fs::remove_file(&wal).unwrap();
        std::fs::write(&wal, b"frames").unwrap();
        let later = file.sync().unwrap().wait().await;
        assert!(later.is_err(), "a sync after a failed one proved nothing");
    }

    /// Two pools of one file share one turn; the state goes when the last
    /// holder does.
    #[test]
    fn one_file_one_state() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let a = SqliteFile::for_path(&db).unwrap();
        let b = SqliteFile::for_path(&db).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let other = SqliteFile::for_path(&dir.path().join("u.db")).unwrap();
        assert!(!Arc::ptr_eq(&a, &other));
        assert!(SqliteFile::for_path(Path::new(":memory:")).is_none());
        let weak = Arc::downgrade(&a);
        drop((a, b));
        assert!(weak.upgrade().is_none());
    }
}
