//! Rate limits by GCRA (the generic cell rate algorithm), as pure arithmetic.
//!
//! GCRA keeps one number per key, the theoretical arrival time (TAT): when
//! the key's bucket would be empty again if requests arrived at exactly the
//! allowed rate. A request at `now` is allowed when `TAT - now` is within the
//! burst tolerance; allowing it moves the TAT one emission interval later.
//! One integer per key, no timers, and the same arithmetic runs in-process
//! (embedded) and as a Redis script (scale-out), so two nodes enforce one
//! limit exactly as one node does. Equivalent to a token bucket refilled
//! continuously; see docs/adr/0004-rate-limits.md.

use crate::time::UnixMicros;

/// `rate` requests per `period_secs`, with bursts of up to `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub rate: u32,
    pub period_secs: u32,
    pub burst: u32,
}

impl Quota {
    /// Microseconds between requests at the sustained rate.
    pub fn emission_interval(self) -> i64 {
        i64::from(self.period_secs) * UnixMicros::SECOND / i64::from(self.rate.max(1))
    }

    /// How far ahead of `now` the TAT may be and still admit a request.
    pub fn tolerance(self) -> i64 {
        self.emission_interval() * i64::from(self.burst.max(1) - 1)
    }
}

/// The outcome for one request, with what the rate-limit headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// The burst size (`RateLimit-Limit`).
    pub limit: u32,
    /// Requests that would still be admitted right now.
    pub remaining: u32,
    /// Microseconds until the bucket is full again (`RateLimit-Reset`).
    pub reset_after: i64,
    /// When denied: microseconds until a retry would be admitted (`Retry-After`).
    pub retry_after: i64,
}

/// Decides one request for a key whose stored TAT is `tat` (none: a new
/// key) and returns the TAT to store (unchanged when denied).
pub fn check(quota: Quota, tat: Option<i64>, now: UnixMicros) -> (Verdict, i64) {
    let t = quota.emission_interval();
    let tau = quota.tolerance();
    let now = now.0;
    let tat = tat.unwrap_or(now).max(now);
    let new_tat = tat + t;
    let allow_at = new_tat - tau - t;
    if now < allow_at {
        let verdict = Verdict {
            allowed: false,
            limit: quota.burst,
            remaining: 0,
            reset_after: tat - now,
            retry_after: allow_at - now,
        };
        return (verdict, tat);
    }
    let remaining = ((tau - (new_tat - now - t)) / t).max(0);
    let verdict = Verdict {
        allowed: true,
        limit: quota.burst,
        remaining: u32::try_from(remaining)
            .unwrap_or(u32::MAX)
            .min(quota.burst),
        reset_after: new_tat - now,
        retry_after: 0,
    };
    (verdict, new_tat)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const Q: Quota = Quota {
        rate: 10,
        period_secs: 1,
        burst: 5,
    };

    fn run(times: &[i64]) -> Vec<bool> {
        let mut tat = None;
        times
            .iter()
            .map(|&t| {
                let (v, next) = check(Q, tat, UnixMicros(t));
                tat = Some(next);
                v.allowed
            })
            .collect()
    }

    #[test]
    fn a_burst_is_admitted_then_the_sustained_rate() {
        // 20 requests at the same instant: exactly the burst passes.
        let same = run(&[0; 20]);
        assert_eq!(same.iter().filter(|a| **a).count(), 5);
        assert!(same[..5].iter().all(|a| *a));
        // 10/s means one more every 100 ms.
        let mut times = vec![0; 5];
        times.extend([50_000, 100_000, 150_000, 200_000]);
        assert_eq!(
            run(&times),
            [true, true, true, true, true, false, true, false, true]
        );
    }

    #[test]
    fn denials_say_when_to_retry_and_leave_the_state_alone() {
        let mut tat = None;
        for _ in 0..5 {
            tat = Some(check(Q, tat, UnixMicros(0)).1);
        }
        let (v, next) = check(Q, tat, UnixMicros(0));
        assert!(!v.allowed);
        assert_eq!(v.retry_after, 100_000);
        assert_eq!(Some(next), tat);
        let (v, _) = check(Q, tat, UnixMicros(v.retry_after));
        assert!(v.allowed);
    }

    #[test]
    fn remaining_counts_down() {
        let mut tat = None;
        let mut seen = vec![];
        for _ in 0..5 {
            let (v, n) = check(Q, tat, UnixMicros(0));
            tat = Some(n);
            seen.push(v.remaining);
        }
        assert_eq!(seen, [4, 3, 2, 1, 0]);
    }

    proptest! {
        /// Over any window, admitted requests never exceed burst + rate × window.
        #[test]
        fn never_more_than_burst_plus_rate(mut gaps in proptest::collection::vec(0i64..40_000, 1..400)) {
            gaps.sort();
            let mut t = 0;
            let times: Vec<i64> = gaps.iter().map(|g| { t += g; t }).collect();
            let admitted: Vec<i64> = times.iter().zip(run(&times)).filter(|(_, a)| *a).map(|(t, _)| *t).collect();
            for (i, start) in admitted.iter().enumerate() {
                for (j, end) in admitted.iter().enumerate().skip(i) {
                    let window = end - start;
                    let max = 5 + window / Q.emission_interval();
                    prop_assert!((j - i + 1) as i64 <= max, "{} in {} µs", j - i + 1, window);
                }
            }
        }
    }
}
