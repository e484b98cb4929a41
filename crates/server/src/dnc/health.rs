//! Auto-pause: when a DNC source an organization needs fails, its dials are
//! denied `dnc_provider_down` and an incident is opened (store table, audit
//! event, dashboard banner, webhook once webhooks exist); dialing resumes
//! only after the source has answered successfully for `resume_after` without
//! a failure in between, and then the incident is resolved.
//!
//! "Healthy" is judged from the lookups themselves: while paused, every dial
//! check still asks the source (the answer is not used), and the first
//! success starts the healthy period; any failure restarts it. No separate
//! probe runs, so a source nobody dials stays paused until dials come back,
//! which denies nothing that would have been allowed.
//!
//! Several nodes: the incident row is shared (one open per organization and
//! source); each node keeps its own view and re-reads the row every
//! `recheck` so a pause another node opened reaches it within that time.
//! The first node whose healthy period ends resolves the incident.

use std::collections::HashMap;
use std::sync::Mutex;

use tollgate_core::OrgId;
use tollgate_core::UnixMicros;
use tollgate_store::{Ctx, Store};

/// One organization's view of one source.
#[derive(Debug, Clone, Default)]
struct SourceHealth {
    /// An incident is open (as far as this node knows).
    open: bool,
    /// When this node last read the incident row (`None`: never).
    checked_at: Option<i64>,
    /// Successes without a failure since this instant.
    healthy_since: Option<i64>,
}

pub struct Health {
    resume_after_micros: i64,
    recheck_micros: i64,
    sources: Mutex<HashMap<(String, String), SourceHealth>>,
}

/// What the lookup should do with a source's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Use the answer.
    Serve,
    /// Paused: deny `dnc_provider_down` whatever the answer says.
    Paused,
}

impl Health {
    pub fn new(resume_after_secs: u64, recheck_secs: u64) -> Health {
        let micros = |s: u64| i64::try_from(s).unwrap_or(i64::MAX / 1_000_000) * 1_000_000;
        Health {
            resume_after_micros: micros(resume_after_secs),
            recheck_micros: micros(recheck_secs),
            sources: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, org: &OrgId, source: &str, f: impl FnOnce(&mut SourceHealth) -> T) -> T {
        let mut map = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        f(map.entry((org.to_string(), source.to_owned())).or_default())
    }

    /// Records a failure: opens the incident (once) and pauses.
    pub async fn failure(
        &self,
        store: &Store,
        org: &OrgId,
        source: &str,
        cause: &str,
        now: UnixMicros,
    ) {
        let known_open = self.with(org, source, |h| {
            h.healthy_since = None;
            h.open
        });
        if known_open {
            return;
        }
        let ctx = system_ctx(now);
        match store.open_dnc_incident(org, source, cause, &ctx).await {
            Ok(opened) => {
                self.with(org, source, |h| {
                    h.open = true;
                    h.checked_at = Some(now.0);
                });
                if let Some(incident) = opened {
                    tracing::warn!(org_id = %org, source, cause, incident = %incident.id, "DNC incident opened; dialing that needs this source is paused");
                }
            }
            // Not recorded: the pause still holds on this node (the lookup
            // failed, so the dial is denied anyway), and the next failure
            // tries to record it again.
            Err(e) => {
                tracing::error!(error = %e, org_id = %org, source, "could not record the DNC incident")
            }
        }
    }

    /// Records a success and says whether the answer may be used.
    pub async fn success(
        &self,
        store: &Store,
        org: &OrgId,
        source: &str,
        now: UnixMicros,
    ) -> Verdict {
        let (open, due) = self.with(org, source, |h| {
            let due = h
                .checked_at
                .is_none_or(|t| now.0.saturating_sub(t) >= self.recheck_micros);
            (h.open, due)
        });
        let open = if due {
            match store.open_dnc_incident_of(org, source).await {
                Ok(row) => self.with(org, source, |h| {
                    h.checked_at = Some(now.0);
                    h.open = row.is_some();
                    if !h.open {
                        h.healthy_since = None;
                    }
                    h.open
                }),
                // Cannot tell: keep what this node knew.
                Err(e) => {
                    tracing::error!(error = %e, "could not read DNC incidents");
                    open
                }
            }
        } else {
            open
        };
        if !open {
            return Verdict::Serve;
        }
        let since = self.with(org, source, |h| *h.healthy_since.get_or_insert(now.0));
        if now.0.saturating_sub(since) < self.resume_after_micros {
            return Verdict::Paused;
        }
        match store
            .resolve_dnc_incident(org, source, UnixMicros(since), &system_ctx(now))
            .await
        {
            Ok(resolved) => {
                self.with(org, source, |h| {
                    h.open = false;
                    h.healthy_since = None;
                    h.checked_at = Some(now.0);
                });
                if let Some(incident) = resolved {
                    tracing::info!(org_id = %org, source, incident = %incident.id, "DNC incident resolved; dialing resumes");
                }
                Verdict::Serve
            }
            Err(e) => {
                tracing::error!(error = %e, "could not resolve the DNC incident; staying paused");
                Verdict::Paused
            }
        }
    }
}

fn system_ctx(now: UnixMicros) -> Ctx {
    Ctx {
        now,
        request: Default::default(),
    }
}
