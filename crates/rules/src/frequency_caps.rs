//! Frequency caps: would one more attempt to a number exceed a rolling limit?
//!
//! States cap attempts per number per rolling window (Florida, Oklahoma and
//! Maryland: three per 24 hours "on the same subject matter"). Tollgate
//! counts **attempts**, not connects, and counts every attempt to the number
//! across the organisation whatever its subject or channel: we cannot know
//! two campaigns' subjects differ, so the stricter reading.
//!
//! [`RollingCap`] is the reusable primitive (the gate also uses it for the
//! campaign's own caps); [`Rules::check_frequency_caps`] applies the state
//! rows from `rules/frequency_caps.csv` for the lead's candidate states.

use jiff::{SignedDuration, Timestamp};

use crate::csv::{DataError, Table};
use crate::holidays::parse_date;
use crate::location::{State, StateSet};
use crate::{Channel, Confidence, Rules, parse_channels};

/// At most `max_attempts` in any rolling `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollingCap {
    pub max_attempts: u32,
    pub window: SignedDuration,
}

impl RollingCap {
    /// If an attempt at `at` would exceed the cap given earlier attempts,
    /// returns the first instant at which it would not; else `None`.
    ///
    /// Attempts count when they fall in `(at - window, at]`; attempts after
    /// `at` (clock skew, replays) are ignored here.
    pub fn blocked_until(
        &self,
        at: Timestamp,
        previous_attempts: &[Timestamp],
    ) -> Option<Timestamp> {
        let since = at.checked_sub(self.window).unwrap_or(Timestamp::MIN);
        let in_window = |t: &&Timestamp| **t > since && **t <= at;
        let count = previous_attempts.iter().filter(in_window).count() as u64;
        if count < u64::from(self.max_attempts) {
            return None;
        }
        if self.max_attempts == 0 {
            return Some(Timestamp::MAX); // a cap of zero never opens
        }
        // The attempt is allowed again once all but (max - 1) of the
        // in-window attempts have aged out: the k-th oldest plus the window.
        let k = (count - u64::from(self.max_attempts)) as usize;
        let mut times: Vec<Timestamp> = previous_attempts
            .iter()
            .filter(in_window)
            .copied()
            .collect();
        times.sort_unstable();
        Some(times[k].checked_add(self.window).unwrap_or(Timestamp::MAX))
    }
}

/// One row of `rules/frequency_caps.csv`.
#[derive(Debug, Clone)]
pub struct CapRule {
    pub id: String,
    pub jurisdiction: State,
    channels: u8,
    pub cap: RollingCap,
    pub effective_from: Option<jiff::civil::Date>,
    pub confidence: Confidence,
    pub citation: String,
    pub note: String,
}

impl CapRule {
    pub fn applies_to(&self, channel: Channel) -> bool {
        self.channels & (1 << channel as u8) != 0
    }

    /// In force at `at`. A date is taken to start at the earliest midnight
    /// anywhere in the US and its territories (UTC+14 would be earlier
    /// still, but none of ours is east of UTC+10): stricter than any one zone.
    fn in_force(&self, at: Timestamp) -> bool {
        let Some(from) = self.effective_from else {
            return true;
        };
        let shifted = at
            .checked_add(SignedDuration::from_hours(10))
            .unwrap_or(Timestamp::MAX);
        shifted.to_zoned(jiff::tz::TimeZone::UTC).date() >= from
    }
}

/// The result of a frequency-cap check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CapCheck {
    /// Indices into [`Rules::frequency_caps`] of every cap the attempt would exceed.
    pub exceeded: Vec<usize>,
    /// The first instant at which no state cap would be exceeded (given the
    /// same earlier attempts), when some is exceeded now.
    pub retry_at: Option<Timestamp>,
}

impl CapCheck {
    pub fn is_exceeded(&self) -> bool {
        !self.exceeded.is_empty()
    }

    /// The stable reason code for the gate.
    pub const CODE: &'static str = "frequency_cap";
}

impl Rules {
    /// Checks the state caps of every candidate state for one more attempt at
    /// `at`, given the number's earlier attempts (all channels, org-wide).
    /// Allocates only when a cap is exceeded.
    pub fn check_frequency_caps(
        &self,
        states: StateSet,
        channel: Channel,
        at: Timestamp,
        previous_attempts: &[Timestamp],
    ) -> CapCheck {
        let mut check = CapCheck::default();
        for (i, rule) in self.caps.iter().enumerate() {
            if !states.contains(rule.jurisdiction)
                || !rule.applies_to(channel)
                || !rule.in_force(at)
            {
                continue;
            }
            if let Some(until) = rule.cap.blocked_until(at, previous_attempts) {
                check.exceeded.push(i);
                check.retry_at = Some(check.retry_at.map_or(until, |r: Timestamp| r.max(until)));
            }
        }
        check
    }
}

pub(crate) fn load(text: &str) -> Result<Vec<CapRule>, DataError> {
    let table = Table::parse("frequency_caps.csv", text)?;
    let col = |n| table.column(n);
    let (id, jur, ch, max, hours, from, conf, cit, note) = (
        col("id")?,
        col("jurisdiction")?,
        col("channels")?,
        col("max_attempts")?,
        col("window_hours")?,
        col("effective_from")?,
        col("confidence")?,
        col("citation")?,
        col("note")?,
    );
    let mut caps = Vec::new();
    for r in &table.records {
        let err = |m: String| table.error(r, m);
        let max_attempts: u32 = r
            .get(max)
            .parse()
            .map_err(|_| err("max_attempts is not a number".into()))?;
        let window_hours: i64 = r
            .get(hours)
            .parse()
            .map_err(|_| err("window_hours is not a number".into()))?;
        if max_attempts == 0 || window_hours <= 0 {
            return Err(err(
                "a cap needs max_attempts >= 1 and a positive window".into()
            ));
        }
        caps.push(CapRule {
            id: r.get(id).to_string(),
            jurisdiction: State::parse(r.get(jur))
                .ok_or_else(|| err(format!("unknown state `{}`", r.get(jur))))?,
            channels: parse_channels(r.get(ch)).map_err(err)?,
            cap: RollingCap {
                max_attempts,
                window: SignedDuration::from_hours(window_hours),
            },
            effective_from: parse_date(r.get(from)).map_err(err)?,
            confidence: Confidence::parse(r.get(conf)).map_err(err)?,
            citation: r.get(cit).to_string(),
            note: r.get(note).to_string(),
        });
    }
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn third_attempt_allowed_fourth_blocked_until_the_first_ages_out() {
        let cap = RollingCap {
            max_attempts: 3,
            window: SignedDuration::from_hours(24),
        };
        let earlier = [ts("2026-03-02T14:00:00Z"), ts("2026-03-02T16:00:00Z")];
        assert_eq!(
            cap.blocked_until(ts("2026-03-02T18:00:00Z"), &earlier),
            None
        );
        let three = [earlier[0], earlier[1], ts("2026-03-02T18:00:00Z")];
        assert_eq!(
            cap.blocked_until(ts("2026-03-02T20:00:00Z"), &three),
            Some(ts("2026-03-03T14:00:00Z"))
        );
        // Exactly 24 h after the first attempt it has aged out.
        assert_eq!(cap.blocked_until(ts("2026-03-03T14:00:00Z"), &three), None);
    }

    #[test]
    fn future_attempts_do_not_count() {
        let cap = RollingCap {
            max_attempts: 1,
            window: SignedDuration::from_hours(8),
        };
        assert_eq!(
            cap.blocked_until(ts("2026-03-02T10:00:00Z"), &[ts("2026-03-02T11:00:00Z")]),
            None
        );
    }
}
