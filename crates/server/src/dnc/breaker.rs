//! A circuit breaker for a DNC provider: after repeated failures the gate
//! stops waiting on a provider that is down (every dial would otherwise
//! hang for the whole timeout) and answers at once; after a cool-down it
//! lets one trial call through.
//!
//! - **Closed**: calls go through; `failure_threshold` consecutive failures
//!   open it.
//! - **Open** until `open_for` has passed: no call goes out, the lookup
//!   fails at once (`dnc_provider_down`).
//! - **Half-open**: one trial call goes out (others still fail at once);
//!   its success closes the breaker, its failure opens it again.
//!
//! Pure: the caller passes the time (microseconds since the epoch).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed { failures: u32 },
    Open { until: i64 },
    HalfOpen { trial_in_flight: bool },
}

#[derive(Debug, Clone)]
pub struct Breaker {
    state: State,
    failure_threshold: u32,
    open_for_micros: i64,
}

impl Breaker {
    pub fn new(failure_threshold: u32, open_for_secs: u64) -> Breaker {
        Breaker {
            state: State::Closed { failures: 0 },
            failure_threshold: failure_threshold.max(1),
            open_for_micros: i64::try_from(open_for_secs)
                .unwrap_or(i64::MAX / 1_000_000)
                .saturating_mul(1_000_000),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Whether a call may go out now; a `true` in half-open is the trial.
    pub fn allow(&mut self, now: i64) -> bool {
        match self.state {
            State::Closed { .. } => true,
            State::Open { until } if now >= until => {
                self.state = State::HalfOpen {
                    trial_in_flight: true,
                };
                true
            }
            State::Open { .. } => false,
            State::HalfOpen { trial_in_flight } => {
                if trial_in_flight {
                    false
                } else {
                    self.state = State::HalfOpen {
                        trial_in_flight: true,
                    };
                    true
                }
            }
        }
    }

    pub fn on_success(&mut self) {
        self.state = State::Closed { failures: 0 };
    }

    pub fn on_failure(&mut self, now: i64) {
        self.state = match self.state {
            State::Closed { failures } if failures + 1 < self.failure_threshold => State::Closed {
                failures: failures + 1,
            },
            _ => State::Open {
                until: now.saturating_add(self.open_for_micros),
            },
        };
    }

    /// A name for the dashboard.
    pub fn label(&self) -> &'static str {
        match self.state {
            State::Closed { .. } => "closed",
            State::Open { .. } => "open",
            State::HalfOpen { .. } => "half-open",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000;

    #[test]
    fn opens_after_the_threshold_then_lets_one_trial_through_after_the_cool_down() {
        let mut b = Breaker::new(3, 10);
        for _ in 0..2 {
            assert!(b.allow(0));
            b.on_failure(0);
        }
        assert_eq!(b.state(), State::Closed { failures: 2 });
        assert!(b.allow(0));
        b.on_failure(0);
        assert_eq!(b.state(), State::Open { until: 10 * S });
        assert!(!b.allow(9 * S), "open: no call goes out");
        assert!(b.allow(10 * S), "cool-down over: one trial");
        assert!(!b.allow(10 * S), "only one trial at a time");
        b.on_failure(10 * S);
        assert_eq!(b.state(), State::Open { until: 20 * S });
        assert!(b.allow(20 * S));
        b.on_success();
        assert_eq!(b.state(), State::Closed { failures: 0 });
        assert!(b.allow(20 * S));
    }

    #[test]
    fn a_success_resets_the_count() {
        let mut b = Breaker::new(2, 10);
        b.on_failure(0);
        b.on_success();
        b.on_failure(0);
        assert_eq!(b.state(), State::Closed { failures: 1 });
    }
}
