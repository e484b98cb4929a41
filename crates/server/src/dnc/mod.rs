//! The gate's one interface to do-not-call data.
//!
//! For each dial the gate asks [`Dnc::lookup`] before its database
//! transaction (a provider call must not hold locks). The answer comes from
//! one of two places, chosen per organization (its gate settings):
//!
//! - its **real-time provider** ([`provider`]): one of its `dnc_provider`
//!   credentials, decrypted only for the call, behind a timeout, a circuit
//!   breaker ([`breaker`]) and a cache ([`cache`]);
//! - otherwise the deployment's **registry index** ([`registry`]): the
//!   national list and the state lists imported with `tollgate dnc import`,
//!   with freshness per area code.
//!
//! Every failure of a source an organization needs pauses its dialing
//! ([`health`]): denied `dnc_provider_down`, incident opened, resumed only
//! after the source was healthy for the configured period. The
//! organization's internal list is the `internal_dnc` list of the
//! suppression table, read inside the dial-check transaction.

pub mod breaker;
pub mod cache;
pub mod health;
pub mod provider;
pub mod registry;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::civil::Date;
use tollgate_core::UnixMicros;
use tollgate_core::id::ProviderCredentialId;
use tollgate_gate::{E164, ListStatus};
use tollgate_rules::Candidates;
use tollgate_store::{Actor, DncAnswer, Store};

use crate::config::{Config, DncConfig};
use breaker::Breaker;
use cache::AnswerCache;
use health::{Health, Verdict};
use provider::{Check, CheckAnswer, HttpJsonProvider, Provider, ProviderError};
use registry::{ListAnswer, Registry};

/// The checks the gate asks a provider for: the registries always, the
/// litigator list where the deployment turned it on.
const GATE_CHECKS: [Check; 3] = [Check::National, Check::State, Check::Litigator];

/// The DNC component of a running server (cheap to clone).
#[derive(Clone)]
pub struct Dnc {
    inner: Arc<Inner>,
}

struct Inner {
    config: DncConfig,
    provider: Option<HttpJsonProvider>,
    /// One breaker per provider credential: one organization's bad key
    /// must not stop another's calls.
    breakers: Mutex<HashMap<String, Breaker>>,
    cache: AnswerCache,
    health: Health,
    registry: Registry,
}

impl Dnc {
    /// The DNC component with every current registry list loaded.
    pub async fn start(config: &Config, store: &Store) -> anyhow::Result<Dnc> {
        let registry = Registry::load(config.dnc_dir(), store).await?;
        Dnc::with_registry(&config.dnc, registry)
    }

    pub fn with_registry(config: &DncConfig, registry: Registry) -> anyhow::Result<Dnc> {
        let provider = if config.provider_url.is_empty() {
            None
        } else {
            Some(HttpJsonProvider::new(
                &config.provider_url,
                Duration::from_millis(config.provider_timeout_ms),
            )?)
        };
        Ok(Dnc {
            inner: Arc::new(Inner {
                provider,
                breakers: Mutex::new(HashMap::new()),
                cache: AnswerCache::new(config.cache_days, config.cache_max_entries),
                health: Health::new(config.resume_after_secs, config.incident_recheck_secs),
                registry,
                config: config.clone(),
            }),
        })
    }

    pub fn config(&self) -> &DncConfig {
        &self.inner.config
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The state of the breaker of `credential` (for the dashboard).
    pub fn breaker_label(&self, credential: &str) -> &'static str {
        self.inner
            .breakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(credential)
            .map_or("closed", Breaker::label)
    }

    /// The DNC answer for a dial of a lead or a bare number: the lead's
    /// number and where it may be (area code, state, ZIP) are read first.
    /// `Err(NotFound)` for a lead the organization does not have.
    pub async fn answer_for(
        &self,
        store: &Store,
        actor: &Actor,
        lead_id: Option<&tollgate_core::id::LeadId>,
        number: Option<&E164>,
        now: UnixMicros,
    ) -> Result<DncAnswer, tollgate_store::StoreError> {
        let lead = match lead_id {
            Some(id) => Some(store.scope(actor).get_lead(id).await?),
            None => None,
        };
        self.answer_for_read(store, actor, lead.as_ref(), number, now)
            .await
    }

    /// [`Dnc::answer_for`] for a lead the caller has already read.
    pub async fn answer_for_read(
        &self,
        store: &Store,
        actor: &Actor,
        lead: Option<&tollgate_store::Lead>,
        number: Option<&E164>,
        now: UnixMicros,
    ) -> Result<DncAnswer, tollgate_store::StoreError> {
        let (subject, place) = match (lead, number) {
            (Some(lead), _) => (
                &lead.phone,
                tollgate_store::lead_location(
                    &lead.phone,
                    lead.state.as_deref(),
                    lead.zip.as_deref(),
                ),
            ),
            (None, Some(n)) => (n, tollgate_store::lead_location(n, None, None)),
            (None, None) => {
                return Err(tollgate_store::StoreError::Invalid(
                    "a lead or a number is required".into(),
                ));
            }
        };
        let candidates = tollgate_rules::rules().candidates(&place);
        Ok(self.lookup(store, actor, subject, &candidates, now).await)
    }

    /// Judges a batch the way the gate judges a dial (the same DNC lookup,
    /// the same facts and decision), without recording attempts.
    #[allow(clippy::too_many_arguments)]
    pub async fn scrub(
        &self,
        store: &Store,
        actor: &Actor,
        campaign: &tollgate_core::id::CampaignId,
        channel: tollgate_gate::DialChannel,
        at: jiff::Timestamp,
        safety_margin_minutes: u16,
        rows: &[(Option<tollgate_core::id::LeadId>, Option<E164>)],
        ctx: &tollgate_store::Ctx,
    ) -> Result<
        Vec<Result<tollgate_store::DialCheck, tollgate_store::StoreError>>,
        tollgate_store::StoreError,
    > {
        let mut prepared = Vec::with_capacity(rows.len());
        let mut missing = Vec::with_capacity(rows.len());
        for (lead, number) in rows {
            match self
                .answer_for(store, actor, lead.as_ref(), number.as_ref(), ctx.now)
                .await
            {
                Ok(dnc) => {
                    missing.push(None);
                    prepared.push(tollgate_store::ScrubRow {
                        lead_id: lead.clone(),
                        number: number.clone(),
                        dnc,
                    });
                }
                Err(e) => missing.push(Some(e)),
            }
        }
        let mut judged = store
            .scope(actor)
            .scrub(campaign, channel, at, safety_margin_minutes, &prepared, ctx)
            .await?
            .into_iter();
        Ok(missing
            .into_iter()
            .map(|m| match m {
                Some(e) => Err(e),
                None => judged
                    .next()
                    .unwrap_or(Err(tollgate_store::StoreError::NotFound)),
            })
            .collect())
    }

    /// The registries' answer for `number`, which may be in any of the
    /// `candidates`' states. Never fails: every problem is a status the
    /// decision denies.
    pub async fn lookup(
        &self,
        store: &Store,
        actor: &Actor,
        number: &E164,
        candidates: &Candidates,
        now: UnixMicros,
    ) -> DncAnswer {
        let provider = match store.scope(actor).dnc_provider().await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "could not read the gate settings for the DNC lookup");
                return self.unavailable();
            }
        };
        match provider {
            Some(id) => self.provider_lookup(store, actor, &id, number, now).await,
            None => {
                self.local_lookup(store, actor.org_id(), number, candidates, now)
                    .await
            }
        }
    }

    /// The answer from the registry index: the national list, and the list
    /// of every candidate state that keeps its own (by the rules data; a
    /// state without facts counts as keeping one: fail closed).
    async fn local_lookup(
        &self,
        store: &Store,
        org: &tollgate_core::OrgId,
        number: &E164,
        candidates: &Candidates,
        now: UnixMicros,
    ) -> DncAnswer {
        let lists = self.inner.registry.snapshot();
        let today = utc_date(now);
        let c = &self.inner.config;
        let absent = || ListAnswer {
            status: ListStatus::NotConfigured,
            version: None,
            cause: None,
        };
        let mut national =
            Registry::answer(&lists, "national", number, today, c.national_max_age_days)
                .unwrap_or_else(absent);
        self.judge(store, org, "national", &mut national, now).await;
        let mut states = Vec::new();
        for state in candidates.states.iter() {
            let keeps_own = tollgate_rules::rules()
                .state_facts(state)
                .is_none_or(|f| f.requires_state_dnc_scrub());
            if !keeps_own {
                continue;
            }
            let name = format!("state:{}", state.code());
            let mut a = Registry::answer(&lists, &name, number, today, c.state_max_age_days)
                .unwrap_or_else(absent);
            self.judge(store, org, &name, &mut a, now).await;
            states.push((name, a));
        }
        let state = registry::fold(&states);
        DncAnswer {
            national: national.status,
            national_version: national.version,
            state: state.status,
            state_version: state.version,
            // The registry index has no litigator list.
            litigator: ListStatus::NotConfigured,
            litigator_version: None,
        }
    }

    /// Feeds a list's answer to the auto-pause: an unusable list opens an
    /// incident; an answer from a list under an open incident is not used
    /// until the list has been healthy for the configured period. Staleness
    /// is not an incident: it is per area code and denied number by number
    /// (`dnc_registry_stale`), with the list's age on the dashboard.
    async fn judge(
        &self,
        store: &Store,
        org: &tollgate_core::OrgId,
        list: &str,
        a: &mut ListAnswer,
        now: UnixMicros,
    ) {
        let source = format!("list:{list}");
        let health = &self.inner.health;
        match a.status {
            ListStatus::NotConfigured => {}
            ListStatus::Unavailable => {
                let cause = a.cause.as_deref().unwrap_or("the list is unavailable");
                health.failure(store, org, &source, cause, now).await;
            }
            _ => {
                if health.success(store, org, &source, now).await == Verdict::Paused {
                    a.status = ListStatus::Unavailable;
                    a.version = None;
                }
            }
        }
    }

    async fn provider_lookup(
        &self,
        store: &Store,
        actor: &Actor,
        credential: &str,
        number: &E164,
        now: UnixMicros,
    ) -> DncAnswer {
        let inner = &self.inner;
        let source = format!("provider:{credential}");
        let org = actor.org_id();
        let checks = self.gate_checks();
        let result = match inner.cache.get(credential, number, checks, now.0) {
            Some(hit) => Ok(hit),
            None => {
                let r = self
                    .call_provider(store, actor, credential, number, now)
                    .await;
                if let Ok(a) = &r {
                    inner.cache.put(
                        credential,
                        number,
                        checks,
                        a,
                        inner.config.national_max_age_days,
                        now.0,
                    );
                }
                r
            }
        };
        match result {
            Err(e) => {
                tracing::warn!(error = %e, org_id = %org, "DNC provider lookup failed; denying");
                inner
                    .health
                    .failure(store, org, &source, &e.to_string(), now)
                    .await;
                self.unavailable()
            }
            Ok(answers) => match inner.health.success(store, org, &source, now).await {
                Verdict::Paused => self.unavailable(),
                Verdict::Serve => self.answer_of(&answers, now),
            },
        }
    }

    async fn call_provider(
        &self,
        store: &Store,
        actor: &Actor,
        credential: &str,
        number: &E164,
        now: UnixMicros,
    ) -> Result<Vec<(Check, CheckAnswer)>, ProviderError> {
        let inner = &self.inner;
        let provider = inner.provider.as_ref().ok_or_else(|| {
            ProviderError::Credential("this deployment has no dnc.provider_url".into())
        })?;
        let id = ProviderCredentialId::parse(credential)
            .map_err(|_| ProviderError::Credential("the credential id is malformed".into()))?;
        let allowed = self.breaker(credential, |b| b.allow(now.0));
        if !allowed {
            return Err(ProviderError::BreakerOpen);
        }
        let numbers = std::slice::from_ref(number);
        let checks = self.gate_checks();
        let result = store
            .scope(actor)
            .with_provider_secret(&id, async |_, secret| {
                provider.check(numbers, checks, secret).await
            })
            .await
            .unwrap_or_else(|e| {
                Err(ProviderError::Credential(match e {
                    tollgate_store::StoreError::NotFound => "the credential was deleted".into(),
                    other => other.to_string(),
                }))
            })
            .and_then(|mut all| {
                all.pop()
                    .ok_or_else(|| ProviderError::Contract("no result".into()))
            });
        self.breaker(credential, |b| match &result {
            Ok(_) => b.on_success(),
            Err(_) => b.on_failure(now.0),
        });
        result
    }

    fn gate_checks(&self) -> &'static [Check] {
        if self.inner.config.provider_litigator_check {
            &GATE_CHECKS
        } else {
            &GATE_CHECKS[..2]
        }
    }

    /// What a failed or paused source answers: every check it would have
    /// asked is unavailable (deny), one it does not ask stays not asked.
    fn unavailable(&self) -> DncAnswer {
        let asked = self.inner.config.provider_litigator_check;
        DncAnswer {
            national: ListStatus::Unavailable,
            national_version: None,
            state: ListStatus::Unavailable,
            state_version: None,
            litigator: if asked {
                ListStatus::Unavailable
            } else {
                ListStatus::NotConfigured
            },
            litigator_version: None,
        }
    }

    fn breaker<T>(&self, credential: &str, f: impl FnOnce(&mut Breaker) -> T) -> T {
        let c = &self.inner.config;
        let mut map = self
            .inner
            .breakers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        f(map
            .entry(credential.to_owned())
            .or_insert_with(|| Breaker::new(c.breaker_failures, c.breaker_open_secs)))
    }

    fn answer_of(&self, answers: &[(Check, CheckAnswer)], now: UnixMicros) -> DncAnswer {
        let today = utc_date(now);
        let c = &self.inner.config;
        let mut out = self.unavailable();
        for (check, a) in answers {
            let max_age = match check {
                Check::National => c.national_max_age_days,
                _ => c.state_max_age_days,
            };
            let status = status_of(a.listed, a.version, today, max_age);
            let version = Some(format!("{} {} (provider)", a.source, a.version));
            match check {
                Check::National => {
                    out.national = status;
                    out.national_version = version;
                }
                Check::State => {
                    out.state = status;
                    out.state_version = version;
                }
                Check::Litigator => {
                    out.litigator = status;
                    out.litigator_version = version;
                }
                Check::Wireless | Check::Reassigned => {}
            }
        }
        out
    }
}

/// A listed number is listed whatever the data's age (denying on old data
/// is safe); a clear answer counts only while the data is fresh.
fn status_of(listed: bool, version: Date, today: Date, max_age_days: u32) -> ListStatus {
    if listed {
        ListStatus::Listed
    } else if age_days(version, today) > i64::from(max_age_days) {
        ListStatus::Stale
    } else {
        ListStatus::Clear
    }
}

/// Whole days from `version` to `today` (UTC dates; negative for a date in
/// the future, which a provider's clock skew can produce).
pub fn age_days(version: Date, today: Date) -> i64 {
    today
        .since(version)
        .map(|s| i64::from(s.get_days()))
        .unwrap_or(i64::MAX)
}

pub fn utc_date(now: UnixMicros) -> Date {
    jiff::Timestamp::from_microsecond(now.0)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn clear_counts_only_while_fresh_and_listed_always_counts() {
        let today = date(2026, 12, 1);
        assert_eq!(
            status_of(false, date(2026, 10, 31), today, 31),
            ListStatus::Clear
        );
        assert_eq!(
            status_of(false, date(2026, 10, 30), today, 31),
            ListStatus::Stale
        );
        assert_eq!(
            status_of(true, date(2025, 1, 1), today, 31),
            ListStatus::Listed
        );
    }
}
