//! The deployment's registry lists (the national registry, state lists),
//! loaded from index files (`tollgate-dnc`) in the DNC directory.
//!
//! Which file is each list's current version is recorded in the database
//! (`dnc_list_versions`, written by `tollgate dnc import --activate`), not
//! decided by the files present: in scale-out every node reads the same row
//! and maps the same file from shared storage. A node loads every current
//! list at start and polls the table every `dnc.poll_secs`; a new version is
//! verified (SHA-256 of the file against the recorded one, then the index's
//! own checksum and bounds) off the request path and swapped in atomically
//! (`arc-swap`: lookups read the old or the new set, never wait). If the
//! current file is missing, damaged or not the recorded one, that list
//! answers "unavailable" (deny `dnc_provider_down`, incident) until a good
//! current version is recorded: a node never answers from another version.
//! Until a new version is verified the node keeps answering from the one
//! that was current before (at most one poll interval plus the check).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use arc_swap::ArcSwap;
use jiff::civil::Date;
use sha2::{Digest, Sha256};
use tollgate_core::UnixMicros;
use tollgate_dnc::Index;
use tollgate_gate::{E164, ListStatus};
use tollgate_store::{DncListVersion, NewDncListVersion, Store};

/// One list as this node holds it.
pub enum Slot {
    Ready {
        index: Arc<Index>,
        version: DncListVersion,
    },
    /// The current version could not be used; the cause is for logs and
    /// the dashboard.
    Unavailable {
        version: DncListVersion,
        cause: String,
    },
}

impl Slot {
    pub fn version(&self) -> &DncListVersion {
        match self {
            Slot::Ready { version, .. } | Slot::Unavailable { version, .. } => version,
        }
    }
}

/// The lists this node serves, by list name.
#[derive(Default)]
pub struct Lists {
    pub by_name: BTreeMap<String, Arc<Slot>>,
}

#[derive(Clone)]
pub struct Registry {
    dir: PathBuf,
    lists: Arc<ArcSwap<Lists>>,
}

/// One list's answer for one number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListAnswer {
    pub status: ListStatus,
    /// `national 2026-11-20` (the list and the date of the area code's data).
    pub version: Option<String>,
    /// For `Unavailable`: why.
    pub cause: Option<String>,
}

impl Registry {
    /// Loads every current list (at start: a damaged file makes its list
    /// unavailable, it does not stop the server).
    pub async fn load(dir: PathBuf, store: &Store) -> anyhow::Result<Registry> {
        let r = Registry {
            dir,
            lists: Arc::new(ArcSwap::from_pointee(Lists::default())),
        };
        r.refresh(store).await?;
        Ok(r)
    }

    /// An empty registry (no list imported), for tools that need none.
    pub fn empty(dir: PathBuf) -> Registry {
        Registry {
            dir,
            lists: Arc::new(ArcSwap::from_pointee(Lists::default())),
        }
    }

    pub fn snapshot(&self) -> Arc<Lists> {
        self.lists.load_full()
    }

    /// Reads the current versions and swaps in any that changed.
    pub async fn refresh(&self, store: &Store) -> anyhow::Result<()> {
        let current = store
            .current_dnc_lists()
            .await
            .context("reading the current DNC list versions")?;
        let old = self.lists.load_full();
        let mut next = Lists::default();
        let mut changed = old.by_name.len() != current.len();
        for v in current {
            match old.by_name.get(&v.list) {
                Some(slot) if slot.version().id == v.id => {
                    next.by_name.insert(v.list.clone(), slot.clone());
                }
                _ => {
                    changed = true;
                    let dir = self.dir.clone();
                    let name = v.list.clone();
                    let slot = tokio::task::spawn_blocking(move || open_slot(&dir, v))
                        .await
                        .context("loading a DNC list")?;
                    match &slot {
                        Slot::Ready { version, .. } => tracing::info!(
                            list = %version.list, version = %version.version, numbers = version.numbers,
                            "DNC list version loaded"
                        ),
                        Slot::Unavailable { version, cause } => tracing::error!(
                            list = %version.list, version = %version.version, cause,
                            "the current DNC list version cannot be used; its lookups are denied"
                        ),
                    }
                    next.by_name.insert(name, Arc::new(slot));
                }
            }
        }
        if changed {
            self.lists.store(Arc::new(next));
        }
        Ok(())
    }

    /// Polls the table every `every` until the process ends.
    pub fn spawn_polling(&self, store: Store, every: Duration) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = me.refresh(&store).await {
                    // Keep serving what was verified; the next poll retries.
                    tracing::error!(error = %e, "DNC list poll failed");
                }
            }
        });
    }

    /// `list`'s answer for `number` on `today`, or `None` when the
    /// deployment has no such list.
    pub fn answer(
        lists: &Lists,
        list: &str,
        number: &E164,
        today: Date,
        max_age_days: u32,
    ) -> Option<ListAnswer> {
        let slot = lists.by_name.get(list)?;
        Some(match slot.as_ref() {
            Slot::Unavailable { cause, .. } => ListAnswer {
                status: ListStatus::Unavailable,
                version: None,
                cause: Some(cause.clone()),
            },
            Slot::Ready { index, version } => {
                let Some((npa, ten)) = digits(number) else {
                    return Some(ListAnswer {
                        status: ListStatus::Unavailable,
                        version: None,
                        cause: Some("not a NANP number".into()),
                    });
                };
                let listed = index.contains(ten);
                let npa_version = index.area_code_version(npa);
                match npa_version {
                    _ if listed => ListAnswer {
                        status: ListStatus::Listed,
                        version: Some(match npa_version {
                            Some(d) => format!("{list} {d}"),
                            None => format!("{list} {}", version.version),
                        }),
                        cause: None,
                    },
                    None => ListAnswer {
                        status: ListStatus::Stale,
                        version: Some(format!(
                            "{list} {}: area code {npa} not in this version",
                            version.version
                        )),
                        cause: None,
                    },
                    Some(d) => ListAnswer {
                        status: if super::age_days(d, today) > i64::from(max_age_days) {
                            ListStatus::Stale
                        } else {
                            ListStatus::Clear
                        },
                        version: Some(format!("{list} {d}")),
                        cause: None,
                    },
                }
            }
        })
    }
}

/// `+1NPANXXXXXX` as (NPA, the ten digits as a number).
fn digits(number: &E164) -> Option<(u16, u64)> {
    let d = number.as_str().strip_prefix("+1")?;
    if d.len() != 10 || !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((d[..3].parse().ok()?, d.parse().ok()?))
}

fn open_slot(dir: &Path, version: DncListVersion) -> Slot {
    match verify_and_open(dir, &version) {
        Ok(index) => Slot::Ready {
            index: Arc::new(index),
            version,
        },
        Err(e) => Slot::Unavailable {
            version,
            cause: format!("{e:#}"),
        },
    }
}

fn verify_and_open(dir: &Path, v: &DncListVersion) -> anyhow::Result<Index> {
    anyhow::ensure!(
        !v.file_name.contains('/') && !v.file_name.contains('\\') && !v.file_name.starts_with('.'),
        "the recorded file name is not a plain file name"
    );
    let path = dir.join(&v.file_name);
    // One pass over the file: the index is built from exactly the bytes
    // hashed, so checking the hash after the load (and before the index is
    // used) proves the loaded index is the recorded version. Reading the
    // 165 MB national file twice (hash, then load) doubled the start-up.
    let mut h = Sha256::new();
    let index = Index::open_inspecting(&path, |chunk| h.update(chunk));
    let sha = hex(&h.finalize());
    if let Err(e @ tollgate_dnc::IndexError::Io { .. }) = &index {
        anyhow::bail!("reading {}: {e}", path.display());
    }
    // A file that is not the recorded one is named as such even when it
    // is also not a valid index (a replaced or foreign file).
    anyhow::ensure!(
        sha == v.sha256,
        "{} is not the recorded version (SHA-256 differs)",
        path.display()
    );
    let index = index.with_context(|| format!("opening {}", path.display()))?;
    anyhow::ensure!(
        index.list() == v.list,
        "{} holds the list {}, not {}",
        path.display(),
        index.list(),
        v.list
    );
    Ok(index)
}

pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Copies the index file `source` into the DNC directory under a name of
/// its own (list, version, hash: never overwriting another version) and
/// records it as its list's current version. The copy is written to a
/// temporary file, flushed and renamed, so a node never maps half a file.
pub async fn activate(
    dir: &Path,
    store: &Store,
    source: &Path,
    now: UnixMicros,
) -> anyhow::Result<DncListVersion> {
    let dir = dir.to_path_buf();
    let source = source.to_path_buf();
    let new = tokio::task::spawn_blocking(move || copy_in(&dir, &source)).await??;
    Ok(store.record_dnc_list_version(&new, now).await?)
}

fn copy_in(dir: &Path, source: &Path) -> anyhow::Result<NewDncListVersion> {
    let index =
        Index::open(source).with_context(|| format!("opening the index {}", source.display()))?;
    let area_codes: BTreeMap<u16, String> = index
        .area_codes()
        .map(|(npa, d)| (npa, d.to_string()))
        .collect();
    let newest = index
        .area_codes()
        .map(|(_, d)| d)
        .max()
        .context("the index has no area code")?;
    let list = index.list().to_owned();
    let numbers = index.len();
    drop(index);
    let sha = sha256_file(source)?;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the DNC directory {}", dir.display()))?;
    let safe: String = list
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let file_name = format!("{safe}-{newest}-{}.tgdnc", &sha[..16]);
    let target = dir.join(&file_name);
    if !target.exists() {
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        let mut src = std::fs::File::open(source)?;
        std::io::copy(&mut src, tmp.as_file_mut())?;
        tmp.as_file_mut().flush()?;
        tmp.as_file().sync_all()?;
        tmp.persist(&target)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    // What was copied is what is recorded.
    let copied = sha256_file(&target)?;
    anyhow::ensure!(
        copied == sha,
        "{} differs from {} after the copy",
        target.display(),
        source.display()
    );
    Ok(NewDncListVersion {
        list,
        version: newest.to_string(),
        area_codes,
        file_name,
        sha256: sha,
        numbers,
    })
}

/// Statuses of several lists folded into one (a number may be in several
/// states): listed anywhere wins, then unavailable, stale, not configured.
pub fn fold(answers: &[(String, ListAnswer)]) -> ListAnswer {
    let rank = |s: ListStatus| match s {
        ListStatus::Listed => 4,
        ListStatus::Unavailable => 3,
        ListStatus::Stale => 2,
        ListStatus::NotConfigured => 1,
        ListStatus::Clear => 0,
    };
    let worst = answers
        .iter()
        .map(|(_, a)| a.status)
        .max_by_key(|s| rank(*s))
        .unwrap_or(ListStatus::Clear);
    let versions: Vec<&str> = answers
        .iter()
        .filter(|(_, a)| a.status == worst || worst == ListStatus::Clear)
        .filter_map(|(_, a)| a.version.as_deref())
        .collect();
    let causes: Vec<String> = answers
        .iter()
        .filter_map(|(l, a)| a.cause.as_ref().map(|c| format!("{l}: {c}")))
        .collect();
    ListAnswer {
        status: worst,
        version: (!versions.is_empty()).then(|| versions.join(", ")),
        cause: (!causes.is_empty()).then(|| causes.join("; ")),
    }
}
