//! The embedded node's index of dial attempts, in memory (ADR 0014).
//!
//! On SQLite the `dial_attempts` table keeps no index: every allowed dial
//! inserted into a B-tree keyed by a random number hash, one random page
//! written, synced and checkpointed per dial, about half of everything a
//! dial check wrote. The table stays the truth, append-only in insertion
//! order; this index is derived from it and answers the two questions the
//! gate asks: a number's attempts in a cap window, and a lead's attempts in
//! a campaign.
//!
//! Exactness across processes and connections rests on three rules:
//! - the index records the highest table `rowid` it holds (`covered`);
//!   rows are never deleted, and SQLite gives each new row the highest
//!   rowid plus one, so rows it lacks are exactly those above `covered`;
//! - a dial group, holding SQLite's write lock, first reads the rows above
//!   `covered` ([`catch_up`]): attempts committed by another connection or
//!   process are counted before anything is decided;
//! - a group adds its own attempts before its commit ([`AttemptIndex::add`])
//!   and removes them again if the commit fails, so no reader ever misses
//!   a committed attempt; a crash between the two only over-counts, the
//!   stricter reading, until the process restarts and reads the table.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::StoreError;

/// Attempts older than this (before now) never count for a rolling cap,
/// so the index forgets them: the longest cap window, plus the
/// five minutes a planned instant may lie in the past, plus a day of
/// margin for the clock.
const KEEP_MICROS: i64 = (super::MAX_CAP_WINDOW_HOURS as i64 + 24) * 3_600_000_000;

/// How often forgotten attempts are swept from numbers not dialed since.
const SWEEP_EVERY_MICROS: i64 = 3_600_000_000;

/// One attempt, as stored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttemptRow<'a> {
    pub org: &'a str,
    pub number_hash: &'a [u8],
    pub campaign: &'a str,
    pub lead: Option<&'a str>,
    pub at: i64,
}

#[derive(Default)]
pub(crate) struct AttemptIndex {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Organization and campaign ids, each stored once.
    names: HashMap<Box<str>, u32>,
    /// Per organization and number hash: the attempts' instants (micros)
    /// not yet forgotten, ascending.
    numbers: HashMap<(u32, [u8; 32]), Vec<i64>>,
    /// Per organization and campaign, per lead: every attempt ever (a
    /// campaign's per-lead cap has no window).
    leads: HashMap<(u32, u32), HashMap<Box<str>, u32>>,
    /// The highest `dial_attempts` rowid held.
    covered: i64,
    last_sweep: i64,
    /// Instants held in `numbers`, and lead counts in `leads`: the
    /// index's size, for the operator (it grows with the traffic).
    instants: usize,
    lead_counts: usize,
}

/// What the index holds: the figures behind its memory (ADR 0014).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptsHeld {
    /// Attempts of the last 32 days, each an instant at its number.
    pub attempts: usize,
    /// Numbers with such attempts.
    pub numbers: usize,
    /// Lead and campaign pairs ever counted.
    pub lead_counts: usize,
}

impl Inner {
    fn name(&mut self, s: &str) -> u32 {
        if let Some(&n) = self.names.get(s) {
            return n;
        }
        let n = self.names.len() as u32;
        self.names.insert(s.into(), n);
        n
    }

    fn add(&mut self, row: &AttemptRow<'_>, now: i64) -> Result<(), StoreError> {
        let org = self.name(row.org);
        let hash = number_key(row.number_hash)?;
        if row.at > now - KEEP_MICROS {
            let times = self.numbers.entry((org, hash)).or_default();
            let at = times.partition_point(|&t| t <= row.at);
            times.insert(at, row.at);
            self.instants += 1;
        }
        if let Some(lead) = row.lead {
            let campaign = self.name(row.campaign);
            let counts = self.leads.entry((org, campaign)).or_default();
            match counts.get_mut(lead) {
                Some(n) => *n += 1,
                None => {
                    counts.insert(lead.into(), 1);
                    self.lead_counts += 1;
                }
            }
        }
        Ok(())
    }

    /// Undoes [`Inner::add`] for one row (its values, not its identity:
    /// equal instants of one number are interchangeable).
    fn remove(&mut self, row: &AttemptRow<'_>) {
        let (Some(&org), Ok(hash)) = (self.names.get(row.org), number_key(row.number_hash)) else {
            return;
        };
        if let Some(times) = self.numbers.get_mut(&(org, hash))
            && let Some(i) = times.iter().rposition(|&t| t == row.at)
        {
            times.remove(i);
            self.instants -= 1;
            if times.is_empty() {
                self.numbers.remove(&(org, hash));
            }
        }
        if let (Some(lead), Some(&campaign)) = (row.lead, self.names.get(row.campaign))
            && let Some(n) = self
                .leads
                .get_mut(&(org, campaign))
                .and_then(|m| m.get_mut(lead))
        {
            *n = n.saturating_sub(1);
        }
    }

    /// All of `rows` or, on an error, none of them.
    fn add_all<'a>(
        &mut self,
        rows: impl IntoIterator<Item = AttemptRow<'a>>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut added = Vec::new();
        for row in rows {
            if let Err(e) = self.add(&row, now) {
                for r in &added {
                    self.remove(r);
                }
                return Err(e);
            }
            added.push(row);
        }
        self.sweep(now);
        Ok(())
    }

    fn sweep(&mut self, now: i64) {
        if now - self.last_sweep < SWEEP_EVERY_MICROS {
            return;
        }
        self.last_sweep = now;
        let cutoff = now - KEEP_MICROS;
        let mut forgotten = 0;
        self.numbers.retain(|_, times| {
            let old = times.partition_point(|&t| t <= cutoff);
            times.drain(..old);
            forgotten += old;
            !times.is_empty()
        });
        self.instants -= forgotten;
    }
}

fn number_key(hash: &[u8]) -> Result<[u8; 32], StoreError> {
    hash.try_into()
        .map_err(|_| StoreError::Corrupt("a dial attempt's number hash is not 32 bytes".into()))
}

impl AttemptIndex {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves at worst an attempt added
        // twice or not removed: an over-count, the stricter reading.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The number's attempts at `lo < t <= hi`, newest first, at most
    /// `newest` of them: what the `RECENT` statement returns from the table.
    pub(crate) fn recent(
        &self,
        org: &str,
        number_hash: &[u8],
        lo: i64,
        hi: i64,
        newest: u32,
    ) -> Vec<i64> {
        let inner = self.lock();
        let (Some(&org), Ok(hash)) = (inner.names.get(org), number_key(number_hash)) else {
            return Vec::new();
        };
        let Some(times) = inner.numbers.get(&(org, hash)) else {
            return Vec::new();
        };
        let start = times.partition_point(|&t| t <= lo);
        let end = times.partition_point(|&t| t <= hi);
        times[start..end.max(start)]
            .iter()
            .rev()
            .take(newest as usize)
            .copied()
            .collect()
    }

    /// Every attempt of `lead` in `campaign`.
    pub(crate) fn lead_attempts(&self, org: &str, campaign: &str, lead: &str) -> i64 {
        let inner = self.lock();
        let (Some(&org), Some(&campaign)) = (inner.names.get(org), inner.names.get(campaign))
        else {
            return 0;
        };
        inner
            .leads
            .get(&(org, campaign))
            .and_then(|m| m.get(lead))
            .map_or(0, |&n| i64::from(n))
    }

    /// What the index holds.
    pub(crate) fn held(&self) -> AttemptsHeld {
        let inner = self.lock();
        AttemptsHeld {
            attempts: inner.instants,
            numbers: inner.numbers.len(),
            lead_counts: inner.lead_counts,
        }
    }

    /// The highest rowid held.
    pub(crate) fn covered(&self) -> i64 {
        self.lock().covered
    }

    /// Adds rows that end at rowid `upto` (committed rows read from the
    /// table, or a group's own before its commit) and returns the rowid
    /// covered before, for [`AttemptIndex::remove`].
    pub(crate) fn add<'a>(
        &self,
        rows: impl IntoIterator<Item = AttemptRow<'a>>,
        upto: i64,
        now: i64,
    ) -> Result<i64, StoreError> {
        let mut inner = self.lock();
        let before = inner.covered;
        inner.add_all(rows, now)?;
        inner.covered = inner.covered.max(upto);
        Ok(before)
    }

    /// Takes back rows added by a group whose commit failed.
    pub(crate) fn remove<'a>(&self, rows: impl IntoIterator<Item = AttemptRow<'a>>, covered: i64) {
        let mut inner = self.lock();
        for row in rows {
            inner.remove(&row);
        }
        inner.covered = covered;
    }
}

/// The highest rowid of `dial_attempts` (0 when empty).
pub(crate) const LAST_ATTEMPT: &str = "SELECT coalesce(max(rowid), 0) FROM dial_attempts";

/// Reads the rows above what `index` holds into it.
///
/// `locked`: SQLite's write lock is held (a dial group's transaction,
/// before it writes), so every committed attempt is visible and none can be
/// committed meanwhile; a table holding fewer rows than the index then
/// means its rowids were renumbered (`VACUUM`), and it is read again. A
/// caller without the lock (a scrub) adds what it reads, which is only ever
/// committed rows; fewer rows than held is then a group's own attempts,
/// added before its commit, and nothing is read.
pub(crate) fn catch_up(
    conn: &rusqlite::Connection,
    index: &AttemptIndex,
    now: i64,
    locked: bool,
) -> Result<(), StoreError> {
    let max: i64 = conn
        .prepare_cached(LAST_ATTEMPT)?
        .query_row([], |r| r.get(0))?;
    // Held for the whole read: rows are added as they are read (no copy of
    // them, which at start-up would be millions), and no one else can add
    // the same rows meanwhile.
    let mut inner = index.lock();
    if max < inner.covered && locked {
        // Rows are never deleted, so only a rebuild of the table gets here.
        tracing::warn!("dial attempts were renumbered; reading them again");
        *inner = Inner::default();
    }
    if max <= inner.covered {
        return Ok(());
    }
    let read = read_rows(conn, &mut inner, max, now);
    if read.is_err() {
        // Some rows may be in and `covered` was not moved: start over next
        // time rather than count them twice.
        *inner = Inner::default();
    }
    read
}

fn text(v: rusqlite::types::ValueRef<'_>) -> Result<&str, StoreError> {
    v.as_str()
        .map_err(|e| StoreError::Corrupt(format!("dial attempt: {e}")))
}

fn read_rows(
    conn: &rusqlite::Connection,
    inner: &mut Inner,
    max: i64,
    now: i64,
) -> Result<(), StoreError> {
    let mut q = conn.prepare_cached(
        "SELECT org_id, number_hash, campaign_id, lead_id, attempted_at FROM dial_attempts \
         WHERE rowid > ?1 AND rowid <= ?2",
    )?;
    let mut rows = q.query(rusqlite::params![inner.covered, max])?;
    while let Some(r) = rows.next()? {
        let lead = r.get_ref(3)?;
        let row = AttemptRow {
            org: text(r.get_ref(0)?)?,
            number_hash: r
                .get_ref(1)?
                .as_blob()
                .map_err(|e| StoreError::Corrupt(format!("dial attempt: {e}")))?,
            campaign: text(r.get_ref(2)?)?,
            lead: match lead {
                rusqlite::types::ValueRef::Null => None,
                v => Some(text(v)?),
            },
            at: r.get(4)?,
        };
        inner.add(&row, now)?;
    }
    inner.covered = max;
    inner.sweep(now);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    fn row<'a>(hash: &'a [u8], lead: Option<&'a str>, at: i64) -> AttemptRow<'a> {
        AttemptRow {
            org: "org_a",
            number_hash: hash,
            campaign: "cmp_a",
            lead,
            at,
        }
    }

    #[test]
    fn a_window_is_open_below_closed_above_and_newest_first() {
        let ix = AttemptIndex::default();
        let h = [1u8; 32];
        let now = 1_000 * HOUR;
        ix.add([10, 30, 20, 40].map(|t| row(&h, None, now + t)), 4, now)
            .unwrap();
        assert_eq!(
            ix.recent("org_a", &h, now + 10, now + 30, 10),
            vec![now + 30, now + 20]
        );
        assert_eq!(
            ix.recent("org_a", &h, now, now + 40, 2),
            vec![now + 40, now + 30]
        );
        assert!(ix.recent("org_a", &h, now + 40, now + 50, 10).is_empty());
        assert!(ix.recent("org_b", &h, now, now + 50, 10).is_empty());
        assert!(ix.recent("org_a", &[2u8; 32], now, now + 50, 10).is_empty());
        assert_eq!(ix.covered(), 4);
    }

    #[test]
    fn lead_counts_have_no_window_and_a_failed_commit_takes_its_rows_back() {
        let ix = AttemptIndex::default();
        let h = [1u8; 32];
        let now = 1_000 * HOUR;
        let old = now - 400 * 24 * HOUR;
        ix.add(
            [row(&h, Some("lead_1"), old), row(&h, Some("lead_1"), now)],
            2,
            now,
        )
        .unwrap();
        assert_eq!(ix.lead_attempts("org_a", "cmp_a", "lead_1"), 2);
        assert_eq!(ix.lead_attempts("org_a", "cmp_b", "lead_1"), 0);
        // The year-old attempt counts for the lead, never for a window.
        assert_eq!(ix.recent("org_a", &h, i64::MIN, now, 10), vec![now]);
        let staged = [row(&h, Some("lead_1"), now + 5)];
        let before = ix.add(staged, 3, now).unwrap();
        assert_eq!(ix.lead_attempts("org_a", "cmp_a", "lead_1"), 3);
        assert_eq!(ix.held().attempts, 2);
        ix.remove(staged, before);
        assert_eq!(ix.lead_attempts("org_a", "cmp_a", "lead_1"), 2);
        assert_eq!(
            ix.held(),
            AttemptsHeld {
                attempts: 1,
                numbers: 1,
                lead_counts: 1
            }
        );
        assert_eq!(ix.recent("org_a", &h, i64::MIN, now + 10, 10), vec![now]);
        assert_eq!(ix.covered(), 2);
    }

    #[test]
    fn forgotten_attempts_are_outside_every_window() {
        let ix = AttemptIndex::default();
        let (h, g) = ([1u8; 32], [2u8; 32]);
        let now = 10_000 * HOUR;
        let window = i64::from(crate::MAX_CAP_WINDOW_HOURS) * HOUR;
        ix.add(
            [row(&h, None, now - window - 10 * HOUR), row(&g, None, now)],
            2,
            now,
        )
        .unwrap();
        // Later (a sweep is due) the old one is gone: it lies outside the
        // longest window of any instant a check may judge from then on.
        ix.add([row(&g, None, now + HOUR)], 3, now + 20 * HOUR)
            .unwrap();
        assert!(!ix.lock().numbers.contains_key(&(0, h)));
        assert_eq!(ix.recent("org_a", &g, i64::MIN, i64::MAX, 10).len(), 2);
        assert_eq!(
            ix.held(),
            AttemptsHeld {
                attempts: 2,
                numbers: 1,
                lead_counts: 0
            }
        );
    }

    #[test]
    fn a_malformed_hash_adds_nothing() {
        let ix = AttemptIndex::default();
        let now = 1_000 * HOUR;
        let good = [1u8; 32];
        let err = ix.add(
            [row(&good, Some("l"), now), row(&[1, 2], Some("l"), now)],
            2,
            now,
        );
        assert!(err.is_err());
        assert_eq!(ix.lead_attempts("org_a", "cmp_a", "l"), 0);
        assert!(ix.recent("org_a", &good, i64::MIN, i64::MAX, 10).is_empty());
        assert_eq!(ix.covered(), 0);
    }

    #[test]
    fn catch_up_reads_only_the_rows_above_what_is_held() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE dial_attempts (org_id TEXT, number_hash BLOB, campaign_id TEXT, \
             lead_id TEXT, check_id TEXT, attempted_at INTEGER)",
        )
        .unwrap();
        let insert = |at: i64| {
            conn.execute(
                "INSERT INTO dial_attempts VALUES ('org_a', ?1, 'cmp_a', 'lead_1', 'dck', ?2)",
                rusqlite::params![vec![1u8; 32], at],
            )
            .unwrap();
        };
        let ix = AttemptIndex::default();
        let now = 1_000 * HOUR;
        insert(now);
        insert(now + 1);
        catch_up(&conn, &ix, now, true).unwrap();
        assert_eq!(ix.lead_attempts("org_a", "cmp_a", "lead_1"), 2);
        catch_up(&conn, &ix, now, true).unwrap();
        assert_eq!(ix.lead_attempts("org_a", "cmp_a", "lead_1"), 2);
        insert(now + 2);
        catch_up(&conn, &ix, now, true).unwrap();
        assert_eq!(ix.lead_attempts("org_a", "cmp_a", "lead_1"), 3);
        assert_eq!(ix.covered(), 3);
        // Without the write lock, fewer rows than held are a group's own,
        // not yet committed: nothing to read.
        ix.add([row(&[1u8; 32], Some("lead_1"), now + 3)], 4, now)
            .unwrap();
        catch_up(&conn, &ix, now, false).unwrap();
        assert_eq!(ix.lead_attempts("org_a", "cmp_a", "lead_1"), 4);
        ix.remove([row(&[1u8; 32], Some("lead_1"), now + 3)], 3);
        // Many rows at once (as at start-up), none lost or read twice.
        for i in 0..10_000 {
            insert(now + 10 + i);
        }
        catch_up(&conn, &ix, now, true).unwrap();
        assert_eq!(ix.lead_attempts("org_a", "cmp_a", "lead_1"), 3 + 10_000);
        conn.execute("DELETE FROM dial_attempts WHERE rowid > 3", [])
            .unwrap();
        // Renumbered (fewer rows than held): read again from the start.
        conn.execute("DELETE FROM dial_attempts WHERE rowid = 3", [])
            .unwrap();
        catch_up(&conn, &ix, now, true).unwrap();
        assert_eq!(ix.lead_attempts("org_a", "cmp_a", "lead_1"), 2);
        // A row that cannot be read fails the read and leaves nothing half
        // counted: the next read starts over.
        conn.execute(
            "INSERT INTO dial_attempts VALUES ('org_a', x'0102', 'cmp_a', 'lead_1', 'dck', 1)",
            [],
        )
        .unwrap();
        assert!(catch_up(&conn, &ix, now, true).is_err());
        assert_eq!(ix.covered(), 0);
        conn.execute("DELETE FROM dial_attempts WHERE number_hash = x'0102'", [])
            .unwrap();
        catch_up(&conn, &ix, now, true).unwrap();
        assert_eq!(ix.lead_attempts("org_a", "cmp_a", "lead_1"), 2);
    }
}
