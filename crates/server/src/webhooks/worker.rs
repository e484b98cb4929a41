//! The delivery workers: claim due deliveries with a lease, attempt them
//! with bounded concurrency (per endpoint and in total), record every
//! attempt, and stop claiming on shutdown while in-flight attempts finish.
//!
//! A claimed batch is loaded at once (messages, endpoints, secrets: one
//! query each per batch), and finished attempts are recorded in groups by
//! one recorder task (one transaction, and on SQLite one fsync, for all the
//! attempts that finished while the previous group was committing), the
//! way the audit sink records API calls. An attempt counts only once its
//! group is committed; its place in the total bound is freed when it is
//! handed to the recorder (whose queue is bounded too).
//!
//! The lease is what keeps one message from being attempted twice at once:
//! a claim holds its row for [`LEASE`], and an attempt must end (HTTP
//! response read, or given up) within [`ATTEMPT_WINDOW`] of the claim, well
//! inside the lease. A crashed node's rows come back when its leases
//! expire, so nothing is lost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tollgate_core::webhook_policy::parse_retry_after;
use tollgate_core::webhook_signature::signature_header;
use tollgate_core::{OrgId, Role, UnixMicros};
use tollgate_store::{
    AttemptOutcome, AttemptVerdict, ClaimedDelivery, DeliveryJob, FinishedAttempt, OpenedSecrets,
    Store,
};
use zeroize::Zeroizing;

use super::ssrf::{FilteringResolver, Policy};
use crate::app::now;
use crate::config::WebhooksConfig;
use crate::mail::{Email, Mailer};

/// The HTTP timeout of one attempt (connect, send, response).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long an attempt may take from its claim, including waiting for an
/// endpoint slot and loading the delivery.
pub const ATTEMPT_WINDOW: Duration = Duration::from_secs(40);
/// How long a claim holds a delivery: the attempt window plus a margin for
/// clock differences between nodes.
pub const LEASE: Duration = Duration::from_secs(60);
/// Bytes of a response read at most (the rest is never downloaded).
pub const RESPONSE_CAP: usize = 64 * 1024;
/// Characters of the response kept with the attempt.
pub const EXCERPT_CHARS: usize = 1024;
/// Deliveries claimed per query at most.
const CLAIM_BATCH: usize = 200;
/// Attempts recorded per transaction at most.
const RECORD_BATCH: usize = 512;
/// How long an opened signing secret is reused without decrypting it again
/// (which secrets sign is read with every batch; see [`OpenedSecrets`]).
const OPENED_SECRETS_TTL: Duration = Duration::from_secs(5);

/// A finished attempt handed to the recorder, and where its verdict goes.
type Record = (FinishedAttempt, oneshot::Sender<Option<AttemptVerdict>>);

struct Shared {
    store: Store,
    client: reqwest::Client,
    policy: Policy,
    mailer: Arc<Mailer>,
    public_url: String,
    total: Arc<Semaphore>,
    per_endpoint: usize,
    endpoints: Mutex<HashMap<String, Arc<Semaphore>>>,
    poll: Duration,
    recorder: mpsc::Sender<Record>,
    opened: OpenedSecrets,
}

impl Shared {
    fn endpoint_slots(&self, endpoint: &str) -> Arc<Semaphore> {
        let mut map = self.endpoints.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            // Forget idle endpoints so the map stays bounded.
            let full = self.per_endpoint;
            map.retain(|_, s| s.available_permits() < full);
        }
        map.entry(endpoint.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_endpoint)))
            .clone()
    }
}

/// The running workers of this node.
pub struct Workers {
    stop: watch::Sender<bool>,
    done: tokio::task::JoinHandle<()>,
}

impl Workers {
    /// Stops claiming and waits (up to `grace`) for in-flight attempts to
    /// be sent and recorded. An attempt cut off by the grace period is
    /// retried by another node (or after restart) when its lease expires.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(grace, self.done).await.is_err() {
            tracing::warn!(
                "webhook attempts still in flight at shutdown; their leases will expire and they will be retried"
            );
        }
    }
}

/// The HTTP client of the workers: no redirects, no proxy, the filtering
/// resolver, rustls with the Mozilla roots, a fixed user agent.
pub fn client(config: &WebhooksConfig) -> anyhow::Result<reqwest::Client> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(FilteringResolver::shared(config.allow_private_addresses))
        .connect_timeout(Duration::from_secs(10))
        .timeout(ATTEMPT_TIMEOUT)
        // Keep-alive connections are pooled per host, not per endpoint: a
        // tenant's endpoints often share one receiver, so the pool keeps as
        // many as may be in flight to it. Kept to the endpoint's limit, 20
        // endpoints on one host opened (and left in TIME_WAIT) a new TCP
        // connection for most of their deliveries.
        .pool_max_idle_per_host(config.max_in_flight)
        .build()?)
}

/// Starts this node's workers (none when `webhooks.workers` is off).
pub fn spawn(
    store: Store,
    config: &crate::Config,
    mailer: Arc<Mailer>,
) -> anyhow::Result<Option<Workers>> {
    let w = &config.webhooks;
    if !w.workers {
        return Ok(None);
    }
    let (recorder, records) = mpsc::channel(w.max_in_flight.max(1));
    let store_for_recorder = store.clone();
    let shared = Arc::new(Shared {
        store,
        client: client(w)?,
        policy: Policy::from_config(w),
        mailer,
        public_url: config.public_url(),
        total: Arc::new(Semaphore::new(w.max_in_flight)),
        per_endpoint: w.max_in_flight_per_endpoint,
        endpoints: Mutex::new(HashMap::new()),
        poll: Duration::from_millis(w.poll_interval_ms),
        recorder,
        opened: OpenedSecrets::new(OPENED_SECRETS_TTL),
    });
    let (stop, rx) = watch::channel(false);
    // The recorder ends when the last attempt (holding `Shared`) has its
    // verdict and `run` has returned.
    let recording = tokio::spawn(record_loop(store_for_recorder, records));
    let done = tokio::spawn(async move {
        run(shared, rx).await;
        let _ = recording.await;
    });
    Ok(Some(Workers { stop, done }))
}

async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut tasks = JoinSet::new();
    loop {
        if *stop.borrow() {
            break;
        }
        while tasks.try_join_next().is_some() {}
        let free = shared.total.available_permits();
        if free == 0 {
            tokio::select! {
                _ = tasks.join_next() => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let lease = i64::try_from(LEASE.as_micros()).unwrap_or(i64::MAX);
        let claims = match shared
            .store
            .claim_webhook_deliveries(now(), lease, free.min(CLAIM_BATCH) as u32)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "webhooks: cannot claim deliveries");
                Vec::new()
            }
        };
        let claimed = claims.len();
        let mut batch = Vec::with_capacity(claimed);
        let mut permits = Vec::with_capacity(claimed);
        for claim in claims {
            // Only this loop takes total permits, and it asked for at most
            // `free` claims, so a permit is available for each.
            match shared.total.clone().try_acquire_owned() {
                Ok(permit) => {
                    permits.push(permit);
                    batch.push(claim);
                }
                Err(_) => release(&shared, &claim, 0).await,
            }
        }
        if !batch.is_empty() {
            tasks.spawn(run_batch(shared.clone(), batch, permits));
        }
        if claimed == 0 {
            tokio::select! {
                _ = tokio::time::sleep(shared.poll) => {}
                _ = stop.changed() => {}
            }
        }
    }
    // Shutdown: nothing new is claimed; what is in flight finishes.
    while tasks.join_next().await.is_some() {}
}

/// Loads a claimed batch and attempts its deliveries. A task of its own, so
/// the claim loop goes on claiming while a batch loads (on a busy database
/// every round trip counts in the event-to-delivery latency).
async fn run_batch(
    shared: Arc<Shared>,
    claims: Vec<ClaimedDelivery>,
    mut permits: Vec<OwnedSemaphorePermit>,
) {
    let mut attempts = JoinSet::new();
    for (claim, job) in load(&shared, claims).await {
        // One permit per claim, and a claim gives at most one job.
        let Some(permit) = permits.pop() else { break };
        attempts.spawn(attempt(shared.clone(), claim, job, permit));
    }
    drop(permits);
    while attempts.join_next().await.is_some() {}
}

/// Loads a claimed batch in one go; if that fails, one by one, so one bad
/// delivery (or endpoint) waits for its lease without holding up the rest.
async fn load(
    shared: &Shared,
    claims: Vec<ClaimedDelivery>,
) -> Vec<(ClaimedDelivery, DeliveryJob)> {
    if claims.is_empty() {
        return Vec::new();
    }
    let e = match shared
        .store
        .load_webhook_deliveries(claims.clone(), now(), &shared.opened)
        .await
    {
        Ok(jobs) => return jobs,
        Err(e) => e,
    };
    tracing::warn!(error = %e, "webhooks: cannot load a claimed batch; loading its deliveries one by one");
    let mut jobs = Vec::with_capacity(claims.len());
    for claim in claims {
        match shared.store.load_webhook_delivery(&claim, now()).await {
            Ok(Some(job)) => jobs.push((claim, job)),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, delivery_id = %claim.delivery_id, "webhooks: cannot load a delivery; retrying after its lease");
            }
        }
    }
    jobs
}

/// Records finished attempts in groups: whatever finished while the
/// previous group was committing goes into the next transaction. A group
/// that fails is recorded attempt by attempt, so one bad record (say, of a
/// delivery whose endpoint was just deleted) does not send the others back
/// to wait for their leases.
async fn record_loop(store: Store, mut rx: mpsc::Receiver<Record>) {
    let mut inbox: Vec<Record> = Vec::with_capacity(RECORD_BATCH);
    while rx.recv_many(&mut inbox, RECORD_BATCH).await > 0 {
        let (done, replies): (Vec<FinishedAttempt>, Vec<_>) = inbox.drain(..).unzip();
        match store.record_webhook_attempts(&done, now()).await {
            Ok(verdicts) => {
                for (reply, v) in replies.into_iter().zip(verdicts) {
                    let _ = reply.send(Some(v));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, attempts = done.len(), "webhooks: cannot record a group of attempts; recording them one by one");
                for (d, reply) in done.into_iter().zip(replies) {
                    let v = match store
                        .record_webhook_attempts(std::slice::from_ref(&d), now())
                        .await
                    {
                        Ok(mut v) => v.pop(),
                        Err(e) => {
                            tracing::error!(error = %e, delivery_id = %d.claim.delivery_id, "webhooks: cannot record an attempt; the delivery will be retried");
                            None
                        }
                    };
                    let _ = reply.send(v);
                }
            }
        }
    }
}

async fn release(shared: &Shared, claim: &ClaimedDelivery, after_ms: i64) {
    let due = UnixMicros(now().0 + after_ms * 1000);
    if let Err(e) = shared.store.release_webhook_delivery(claim, due).await {
        tracing::warn!(error = %e, "webhooks: could not release a claim; its lease will expire");
    }
}

async fn attempt(
    shared: Arc<Shared>,
    claim: ClaimedDelivery,
    job: DeliveryJob,
    total: OwnedSemaphorePermit,
) {
    let claimed = Instant::now();
    let slots = shared.endpoint_slots(&claim.endpoint_id);
    // Wait for one of the endpoint's slots, but never so long that the
    // attempt could outlive the lease.
    let wait = ATTEMPT_WINDOW.saturating_sub(ATTEMPT_TIMEOUT + Duration::from_secs(5));
    let slot = match tokio::time::timeout(wait, slots.acquire_owned()).await {
        Ok(Ok(p)) => p,
        _ => return release(&shared, &claim, 0).await,
    };
    if claimed.elapsed() + ATTEMPT_TIMEOUT > ATTEMPT_WINDOW {
        return release(&shared, &claim, 0).await;
    }
    let outcome = send(&shared, &job).await;
    // The endpoint's slot bounds requests to it; recording is not one.
    drop(slot);
    let (reply, verdict) = oneshot::channel();
    let finished = FinishedAttempt {
        claim: claim.clone(),
        message_id: job.message_id,
        attempts: job.attempts,
        outcome,
    };
    if shared.recorder.send((finished, reply)).await.is_err() {
        tracing::error!(delivery_id = %claim.delivery_id, "webhooks: the recorder stopped; the delivery will be retried");
        return;
    }
    // Handed to the recorder: the slot is free for the next claim while
    // the group commits. Held until the group committed, every attempt's
    // commit wait counted against the bound, so at 5,000 deliveries/s the
    // 256 slots were spent waiting for fsyncs, not sending. Attempts
    // finished but not yet recorded stay bounded all the same: the
    // recorder's channel holds `max_in_flight` and its group
    // `RECORD_BATCH`, and `send` waits while the channel is full.
    drop(total);
    // No verdict: not recorded (logged by the recorder); the delivery is
    // retried after its lease.
    let Ok(Some(verdict)) = verdict.await else {
        return;
    };
    metrics::counter!("tollgate_webhook_attempts_total", "outcome" => match &verdict {
        AttemptVerdict::Delivered => "delivered",
        AttemptVerdict::Retry(_) => "retry",
        AttemptVerdict::Failed => "failed",
        AttemptVerdict::EndpointDisabled(_) => "endpoint_disabled",
        AttemptVerdict::LeaseLost => "lease_lost",
    })
    .increment(1);
    if let AttemptVerdict::EndpointDisabled(reason) = verdict {
        tracing::warn!(org_id = %claim.org_id, endpoint_id = %claim.endpoint_id, reason, "webhook endpoint disabled");
        if let Err(e) = tell_owners(&shared, &claim, reason).await {
            tracing::error!(error = %e, "webhooks: could not email the owners about a disabled endpoint");
        }
    }
}

/// One signed HTTP attempt. Never fails: every problem is an outcome.
async fn send(shared: &Shared, job: &DeliveryJob) -> AttemptOutcome {
    let started_at = now();
    let t0 = Instant::now();
    let mut jitter = [0u8; 2];
    let _ = getrandom::fill(&mut jitter);
    let mut out = AttemptOutcome {
        started_at,
        latency_ms: 0,
        status: None,
        error: None,
        response_excerpt: String::new(),
        retry_after: None,
        jitter: u16::from_le_bytes(jitter),
    };
    // The policy may have changed since the endpoint was saved, and an IP
    // literal never reaches the filtering resolver.
    if let Err(why) = shared.policy.check_url(&job.url) {
        out.error = Some(why);
        return out;
    }
    let timestamp = started_at.0.div_euclid(UnixMicros::SECOND);
    let signature = signature_header(
        &job.secrets,
        &job.message_id,
        timestamp,
        job.body.as_bytes(),
    );
    let mut req = shared
        .client
        .post(&job.url)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, "Tollgate-Webhooks/1")
        .header("webhook-id", &job.message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature);
    for (name, value) in &job.headers {
        req = req.header(name, value);
    }
    let exchange = async {
        let mut resp = req.body(job.body.clone()).send().await?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let mut body = Vec::new();
        while body.len() < RESPONSE_CAP {
            match resp.chunk().await? {
                Some(c) => body.extend_from_slice(&c[..c.len().min(RESPONSE_CAP - body.len())]),
                None => break,
            }
        }
        Ok::<_, reqwest::Error>((status, retry_after, body))
    };
    match tokio::time::timeout(ATTEMPT_TIMEOUT, exchange).await {
        Ok(Ok((status, retry_after, body))) => {
            out.status = Some(status);
            out.retry_after = retry_after;
            out.response_excerpt = excerpt(&body);
        }
        Ok(Err(e)) => out.error = Some(describe(&e)),
        Err(_) => out.error = Some("timeout".to_owned()),
    }
    out.latency_ms = i64::try_from(t0.elapsed().as_millis()).unwrap_or(i64::MAX);
    out
}

/// A response excerpt as stored: capped, control characters removed,
/// secret shapes scrubbed (a receiver may echo a token back).
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let scrubbed = tollgate_core::scrub::scrub(&text);
    scrubbed
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .take(EXCERPT_CHARS)
        .collect()
}

/// An error without its URL (whose query could hold a token), with the
/// causes that say what happened (refused address, TLS, connect).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_redirect() {
        "redirect"
    } else {
        "request"
    };
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    tollgate_core::scrub::scrub(&text)
        .chars()
        .take(EXCERPT_CHARS)
        .collect()
}

/// Emails the organization's owners that an endpoint was disabled (the
/// dashboard shows it too, on the endpoint).
async fn tell_owners(shared: &Shared, claim: &ClaimedDelivery, reason: &str) -> anyhow::Result<()> {
    let org = OrgId::parse(&claim.org_id)?;
    let actor = shared.store.operator_actor_for_first_owner(&org).await?;
    let members = shared.store.scope(&actor).list_members(None, 500).await?;
    let why = match reason {
        "gone" => "the receiver answered 410 Gone",
        _ => "every delivery failed for 5 days",
    };
    for m in members
        .iter()
        .filter(|m| m.role == Role::Owner && m.status == "active")
    {
        shared
            .mailer
            .send(Email {
                to: m.email.clone(),
                subject: "Tollgate: a webhook endpoint was disabled".to_owned(),
                text: Zeroizing::new(format!(
                    "The webhook endpoint {} was disabled because {why}. Nothing more is sent to it.\n\n\
                     Check the receiver, then enable the endpoint again (and replay what it missed) at\n{}/ui/webhooks\n",
                    claim.endpoint_id, shared.public_url
                )),
            })
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_always_ends_inside_its_lease() {
        assert!(ATTEMPT_TIMEOUT < ATTEMPT_WINDOW);
        assert!(ATTEMPT_WINDOW + Duration::from_secs(15) <= LEASE);
    }

    #[test]
    fn excerpts_are_capped_and_scrubbed() {
        let long = "x".repeat(10_000);
        assert_eq!(excerpt(long.as_bytes()).chars().count(), EXCERPT_CHARS);
        let e = excerpt(b"ok whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD\x07");
        assert!(!e.contains("C2FVsBQ") && !e.contains('\x07'), "{e}");
    }
}
