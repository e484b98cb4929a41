//! Signed webhooks (issue 10): endpoints and their sealed signing secrets,
//! the durable outbox, and the delivery queue the workers share.
//!
//! An event is enqueued with [`enqueue`] inside the caller's transaction,
//! so it exists exactly when the change that caused it commits. Each
//! subscribed endpoint gets a delivery and a row in `webhook_queue`; a
//! worker claims due rows with a lease ([`crate::Store::claim_webhook_deliveries`]),
//! attempts, and records the attempt ([`crate::Store::record_webhook_attempt`]).
//! A crashed worker's lease expires and the row is claimed again: a message
//! is never lost, and while a lease is held nobody else attempts it.

use std::collections::BTreeMap;

use serde::Serialize;
use tollgate_core::UnixMicros;
use tollgate_core::audit::RequestMeta;
use tollgate_core::id::{
    WebhookAttemptKind, WebhookDeliveryKind, WebhookEndpointId, WebhookEndpointKind,
    WebhookMessageId, WebhookMessageKind, WebhookSecretKind,
};
use tollgate_core::webhook_policy::{DISABLE_AFTER_FAILING_SECS, delay_before};
use tollgate_core::webhook_signature::{SECRET_BYTES, WebhookSecret};

use crate::audit::{self, Draft};
use crate::db::{Arg, Sql, Tx, exec, fetch_all, fetch_one, fetch_optional};
use crate::scope::{Ctx, OrgScope};
use crate::vault::{EncryptedColumn, system_actor};
use crate::{StoreError, new_id, random_bytes};

/// The sealed signing secrets (the decoded key bytes).
pub(crate) const SECRET_COLUMN: EncryptedColumn = EncryptedColumn {
    table: "webhook_secrets",
    id_column: "id",
    column: "secret_sealed",
    system: false,
    legacy_plaintext: None,
};

/// Retiring secrets kept at most (the newest); Svix keeps 10, a handful is
/// plenty for a rotation that overlaps the previous one's grace period.
pub const MAX_OLD_SECRETS: usize = 5;

/// An endpoint as every API and page shows it (never its secret).
#[derive(Debug, Clone, Serialize)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub headers: BTreeMap<String, String>,
    /// `thin` (ids and codes only, the default) or `rich` (also redacted
    /// details: see [`EventData`]).
    pub payload: String,
    /// `gone` (the receiver answered 410) or `failing` (5 days without a
    /// success) when the sender disabled it.
    pub disabled_reason: Option<String>,
    pub failing_since: Option<UnixMicros>,
    pub created_at: UnixMicros,
    pub updated_at: UnixMicros,
}

/// A validated new endpoint (the server checks the URL, types, headers).
#[derive(Debug, Clone)]
pub struct NewWebhookEndpoint {
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub headers: BTreeMap<String, String>,
    /// One of [`PAYLOADS`].
    pub payload: String,
}

/// The payload kinds an endpoint may receive.
pub const PAYLOADS: [&str; 2] = ["thin", "rich"];

/// A validated change; `None` keeps the field.
#[derive(Debug, Clone, Default)]
pub struct WebhookEndpointPatch {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub headers: Option<BTreeMap<String, String>>,
    pub payload: Option<String>,
}

/// One recorded HTTP attempt.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookAttempt {
    pub id: String,
    pub delivery_id: String,
    pub message_id: String,
    pub event_type: String,
    pub started_at: UnixMicros,
    pub latency_ms: i64,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub response_excerpt: String,
    /// The delivery's state now: `pending`, `delivered`, `failed`, `cancelled`.
    pub delivery_state: String,
}

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: String,
    url: String,
    description: String,
    enabled: bool,
    headers: String,
    payload: String,
    disabled_reason: Option<String>,
    failing_since: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

async fn endpoint_by_id(tx: &mut Tx, org: &str, id: &str) -> Result<WebhookEndpoint, StoreError> {
    let row = fetch_optional!(
        tx,
        EndpointRow,
        "SELECT id, url, description, enabled, headers, payload, disabled_reason, failing_since, created_at, updated_at \
         FROM webhook_endpoints WHERE org_id = $1 AND id = $2",
        org,
        id
    )?
    .ok_or(StoreError::NotFound)?;
    let types = fetch_all!(
        tx,
        (String,),
        "SELECT event_type FROM webhook_endpoint_events WHERE org_id = $1 AND endpoint_id = $2 ORDER BY event_type",
        org,
        id
    )?;
    Ok(WebhookEndpoint {
        id: WebhookEndpointId::parse(&row.id)?,
        url: row.url,
        description: row.description,
        event_types: types.into_iter().map(|(t,)| t).collect(),
        enabled: row.enabled,
        headers: serde_json::from_str(&row.headers)
            .map_err(|_| StoreError::Corrupt("webhook endpoint headers".into()))?,
        payload: row.payload,
        disabled_reason: row.disabled_reason,
        failing_since: row.failing_since.map(UnixMicros),
        created_at: UnixMicros(row.created_at),
        updated_at: UnixMicros(row.updated_at),
    })
}

fn audit_details(e: &WebhookEndpoint) -> serde_json::Value {
    serde_json::json!({
        "url": e.url,
        "description": e.description,
        "event_types": e.event_types,
        "enabled": e.enabled,
        "payload": e.payload,
        "header_names": e.headers.keys().collect::<Vec<_>>(),
    })
}

async fn set_event_types(
    tx: &mut Tx,
    org: &str,
    id: &str,
    types: &[String],
) -> Result<(), StoreError> {
    exec!(
        &mut *tx,
        "DELETE FROM webhook_endpoint_events WHERE org_id = $1 AND endpoint_id = $2",
        org,
        id
    )?;
    for t in types {
        exec!(
            &mut *tx,
            "INSERT INTO webhook_endpoint_events (org_id, endpoint_id, event_type) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
            org,
            id,
            t.clone()
        )?;
    }
    Ok(())
}

/// Seals and stores a new current secret for the endpoint.
async fn add_secret(
    store: &crate::Store,
    tx: &mut Tx,
    org: &str,
    endpoint: &str,
    now: UnixMicros,
) -> Result<WebhookSecret, StoreError> {
    let secret = WebhookSecret::from_random(*random_bytes::<SECRET_BYTES>()?);
    let id = new_id::<WebhookSecretKind>(now)?;
    let sealed = SECRET_COLUMN
        .seal(store, tx, org, id.as_str(), secret.key_bytes())
        .await?;
    exec!(
        &mut *tx,
        "INSERT INTO webhook_secrets (id, org_id, endpoint_id, secret_sealed, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, NULL)",
        id.as_str(),
        org,
        endpoint,
        sealed,
        now.0
    )?;
    Ok(secret)
}

/// What an event tells its receivers. `thin` goes to every subscribed
/// endpoint and holds ids and codes only (no personal data), so a receiver
/// fetches details through the API, where access is checked and audited.
/// `rich`, when the event has more to say, goes instead to endpoints that
/// opted in (`payload = rich`); its free text must come through
/// [`redacted`] and numbers only masked, so even the opt-in never carries
/// what the redaction engine would remove from a stored transcript.
pub(crate) struct EventData<'a> {
    pub thin: serde_json::Value,
    /// Built only when an endpoint that opted in subscribes, so a dial
    /// denial nobody asked details of runs no redaction.
    pub rich: Option<Box<dyn FnOnce() -> serde_json::Value + Send + 'a>>,
}

impl From<serde_json::Value> for EventData<'_> {
    fn from(thin: serde_json::Value) -> Self {
        EventData { thin, rich: None }
    }
}

/// Free text for a rich payload, through the redaction engine with every
/// kind on. Text the engine refuses (too long) is withheld whole: a rich
/// payload never falls back to the unredacted text.
pub(crate) fn redacted(text: &str) -> String {
    match tollgate_redact::redact(text, &tollgate_redact::Policy::standard()) {
        Ok(r) => r.text,
        Err(_) => "[WITHHELD]".to_owned(),
    }
}

/// The body of an event: `{type, timestamp, data}`.
fn body(event_type: &str, data: &serde_json::Value, now: UnixMicros) -> String {
    serde_json::json!({
        "type": event_type,
        "timestamp": now.to_rfc3339(),
        "data": data,
    })
    .to_string()
}

/// Which endpoints an event is queued for: the enabled endpoints of
/// organization `$1` subscribed to event type `$2` (as `e`). A macro so that
/// other statements can be built from it with `concat!`: the dial gate's
/// SQLite path asks whether a denial would be queued anywhere before it
/// writes a group without this module.
macro_rules! subscribers {
    () => {
        "FROM webhook_endpoints e JOIN webhook_endpoint_events t \
           ON t.endpoint_id = e.id AND t.org_id = e.org_id \
         WHERE e.org_id = $1 AND t.event_type = $2 AND e.enabled"
    };
}
pub(crate) use subscribers;

/// Enqueues an event for every enabled endpoint of `org` that subscribes to
/// `event_type`, in the caller's transaction `tx` (already bound to `org`):
/// the event exists if and only if the caller commits.
///
/// `event_type` must come from `tollgate_core::webhook_policy::EVENT_TYPES`;
/// `data` is a thin `serde_json::Value` (ids and codes only, for example
/// `{"incident_id": "..."}` for `dnc.incident.opened`) or an [`EventData`]
/// with a rich variant. Endpoints on thin payloads share one message and
/// endpoints on rich ones another (each with its own `webhook-id`). Returns
/// the thin message's id (else the rich one's), or `None` when no endpoint
/// subscribes (nothing is written then).
pub(crate) async fn enqueue(
    tx: &mut Tx,
    org: &str,
    event_type: &str,
    data: impl Into<EventData<'_>>,
    now: UnixMicros,
) -> Result<Option<WebhookMessageId>, StoreError> {
    let data = data.into();
    let endpoints = fetch_all!(
        &mut *tx,
        (String, String),
        concat!("SELECT e.id, e.payload ", subscribers!(), " ORDER BY e.id"),
        org,
        event_type
    )?;
    let (rich, thin): (Vec<_>, Vec<_>) = endpoints
        .into_iter()
        .partition(|(_, payload)| payload == "rich" && data.rich.is_some());
    let ids = |v: Vec<(String, String)>| v.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    let mut first = None;
    if !thin.is_empty() {
        first = Some(insert_message(tx, org, event_type, &data.thin, &ids(thin), now).await?);
    }
    if let (false, Some(build)) = (rich.is_empty(), data.rich) {
        let id = insert_message(tx, org, event_type, &build(), &ids(rich), now).await?;
        first.get_or_insert(id);
    }
    Ok(first)
}

async fn insert_message(
    tx: &mut Tx,
    org: &str,
    event_type: &str,
    data: &serde_json::Value,
    endpoints: &[String],
    now: UnixMicros,
) -> Result<WebhookMessageId, StoreError> {
    let msg = new_id::<WebhookMessageKind>(now)?;
    exec!(
        &mut *tx,
        "INSERT INTO webhook_messages (id, org_id, event_type, body, created_at) VALUES ($1, $2, $3, $4, $5)",
        msg.as_str(),
        org,
        event_type,
        body(event_type, data, now),
        now.0
    )?;
    add_deliveries(tx, org, endpoints, msg.as_str(), now).await?;
    Ok(msg)
}

/// Queues one message for many endpoints: a delivery and a queue row each,
/// with one multi-row statement per table (and chunk), not two statements
/// per endpoint. On PostgreSQL each statement is a round trip inside the
/// caller's transaction, so an event with many subscribers (or a gate
/// group commit with many denials) would otherwise hold its transaction
/// open for 2 x endpoints round trips.
async fn add_deliveries(
    tx: &mut Tx,
    org: &str,
    endpoints: &[String],
    message: &str,
    now: UnixMicros,
) -> Result<(), StoreError> {
    if let [endpoint] = endpoints {
        return add_delivery(tx, org, endpoint, message, now).await;
    }
    for chunk in endpoints.chunks(IN_LIST / 5) {
        let ids = chunk
            .iter()
            .map(|_| new_id::<WebhookDeliveryKind>(now).map(|id| id.as_str().to_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut q = Sql::new(tx);
        q.push(
            "INSERT INTO webhook_deliveries (id, org_id, endpoint_id, message_id, state, attempts, next_attempt_at, created_at) VALUES ",
        );
        for (n, (endpoint, id)) in chunk.iter().zip(&ids).enumerate() {
            q.push(if n == 0 { "(" } else { ", (" })
                .list(
                    [
                        Arg::Str(id),
                        Arg::Str(org),
                        Arg::Str(endpoint),
                        Arg::Str(message),
                    ]
                    .into_iter(),
                )
                .push(", 'pending', 0, ")
                .list([Arg::Int(now.0), Arg::Int(now.0)].into_iter())
                .push(")");
        }
        q.exec(tx).await?;
        let mut q = Sql::new(tx);
        q.push("INSERT INTO webhook_queue (delivery_id, org_id, endpoint_id, due_at, lease_until) VALUES ");
        for (n, (endpoint, id)) in chunk.iter().zip(&ids).enumerate() {
            q.push(if n == 0 { "(" } else { ", (" })
                .list(
                    [
                        Arg::Str(id),
                        Arg::Str(org),
                        Arg::Str(endpoint),
                        Arg::Int(now.0),
                    ]
                    .into_iter(),
                )
                .push(", 0)");
        }
        q.exec(tx).await?;
    }
    Ok(())
}

async fn add_delivery(
    tx: &mut Tx,
    org: &str,
    endpoint: &str,
    message: &str,
    now: UnixMicros,
) -> Result<(), StoreError> {
    let delivery = new_id::<WebhookDeliveryKind>(now)?;
    exec!(
        &mut *tx,
        "INSERT INTO webhook_deliveries (id, org_id, endpoint_id, message_id, state, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5)",
        delivery.as_str(),
        org,
        endpoint,
        message,
        now.0
    )?;
    exec!(
        &mut *tx,
        "INSERT INTO webhook_queue (delivery_id, org_id, endpoint_id, due_at, lease_until) VALUES ($1, $2, $3, $4, 0)",
        delivery.as_str(),
        org,
        endpoint,
        now.0
    )?;
    Ok(())
}

impl OrgScope<'_> {
    pub async fn list_webhook_endpoints(
        &self,
        after: Option<&WebhookEndpointId>,
        limit: u32,
    ) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let mut tx = self.read().await?;
        let ids = fetch_all!(
            &mut tx,
            (String,),
            "SELECT id FROM webhook_endpoints WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3",
            self.org(),
            after.map(|a| a.to_string()).unwrap_or_default(),
            i64::from(limit)
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for (id,) in ids {
            out.push(endpoint_by_id(&mut tx, self.org(), &id).await?);
        }
        Ok(out)
    }

    /// How many endpoints the sender disabled (410, or failing for days):
    /// every dashboard page says so until an admin acts.
    pub async fn webhook_endpoints_disabled_by_sender(&self) -> Result<i64, StoreError> {
        let mut tx = self.read().await?;
        let (n,) = fetch_one!(
            &mut tx,
            (i64,),
            "SELECT COUNT(*) FROM webhook_endpoints \
             WHERE org_id = $1 AND NOT enabled AND disabled_reason IS NOT NULL",
            self.org()
        )?;
        Ok(n)
    }

    pub async fn get_webhook_endpoint(
        &self,
        id: &WebhookEndpointId,
    ) -> Result<WebhookEndpoint, StoreError> {
        let mut tx = self.read().await?;
        endpoint_by_id(&mut tx, self.org(), id.as_str()).await
    }

    /// Creates an endpoint with a fresh secret, returned here and never again.
    pub async fn create_webhook_endpoint(
        &self,
        input: NewWebhookEndpoint,
        ctx: &Ctx,
    ) -> Result<(WebhookEndpoint, WebhookSecret), StoreError> {
        let id = new_id::<WebhookEndpointKind>(ctx.now)?;
        let headers = serde_json::to_string(&input.headers)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.write().await?;
        exec!(
            &mut tx,
            "INSERT INTO webhook_endpoints (id, org_id, url, description, enabled, headers, payload, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            id.as_str(),
            self.org(),
            input.url,
            input.description,
            input.enabled,
            headers,
            input.payload,
            ctx.now.0
        )?;
        set_event_types(&mut tx, self.org(), id.as_str(), &input.event_types).await?;
        let secret = add_secret(self.store, &mut tx, self.org(), id.as_str(), ctx.now).await?;
        let created = endpoint_by_id(&mut tx, self.org(), id.as_str()).await?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "webhook_endpoint.created",
                target: audit::target("webhook_endpoint", &id),
                details: audit_details(&created),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok((created, secret))
    }

    pub async fn update_webhook_endpoint(
        &self,
        id: &WebhookEndpointId,
        patch: WebhookEndpointPatch,
        ctx: &Ctx,
    ) -> Result<WebhookEndpoint, StoreError> {
        let mut tx = self.write().await?;
        let before = endpoint_by_id(&mut tx, self.org(), id.as_str()).await?;
        let enabled = patch.enabled.unwrap_or(before.enabled);
        // Re-enabling clears the sender's reason and the failure run.
        let (reason, failing) = if enabled && !before.enabled {
            (None, None)
        } else {
            (
                before.disabled_reason.clone(),
                before.failing_since.map(|t| t.0),
            )
        };
        let headers = serde_json::to_string(patch.headers.as_ref().unwrap_or(&before.headers))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        exec!(
            &mut tx,
            "UPDATE webhook_endpoints SET url = $3, description = $4, enabled = $5, headers = $6, \
             disabled_reason = $7, failing_since = $8, updated_at = $9, payload = $10 \
             WHERE org_id = $1 AND id = $2",
            self.org(),
            id.as_str(),
            patch.url.unwrap_or(before.url.clone()),
            patch.description.unwrap_or(before.description.clone()),
            enabled,
            headers,
            reason,
            failing,
            ctx.now.0,
            patch.payload.unwrap_or(before.payload.clone())
        )?;
        if let Some(types) = &patch.event_types {
            set_event_types(&mut tx, self.org(), id.as_str(), types).await?;
        }
        let after = endpoint_by_id(&mut tx, self.org(), id.as_str()).await?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "webhook_endpoint.updated",
                target: audit::target("webhook_endpoint", id),
                details: serde_json::json!({
                    "before": audit_details(&before),
                    "after": audit_details(&after),
                }),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes an endpoint, its secrets and its pending deliveries. The
    /// messages stay (other endpoints may still deliver them).
    pub async fn delete_webhook_endpoint(
        &self,
        id: &WebhookEndpointId,
        ctx: &Ctx,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let before = endpoint_by_id(&mut tx, self.org(), id.as_str()).await?;
        exec!(
            &mut tx,
            "DELETE FROM webhook_queue WHERE org_id = $1 AND endpoint_id = $2",
            self.org(),
            id.as_str()
        )?;
        exec!(
            &mut tx,
            "DELETE FROM webhook_endpoints WHERE org_id = $1 AND id = $2",
            self.org(),
            id.as_str()
        )?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "webhook_endpoint.deleted",
                target: audit::target("webhook_endpoint", id),
                details: audit_details(&before),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the current secret with a fresh one (returned here and never
    /// again). The previous one keeps signing for `grace_secs`; at most
    /// [`MAX_OLD_SECRETS`] retiring secrets are kept (the oldest go first).
    pub async fn rotate_webhook_secret(
        &self,
        id: &WebhookEndpointId,
        grace_secs: i64,
        ctx: &Ctx,
    ) -> Result<WebhookSecret, StoreError> {
        let mut tx = self.write().await?;
        endpoint_by_id(&mut tx, self.org(), id.as_str()).await?;
        exec!(
            &mut tx,
            "UPDATE webhook_secrets SET expires_at = $3 WHERE org_id = $1 AND endpoint_id = $2 AND expires_at IS NULL",
            self.org(),
            id.as_str(),
            ctx.now.plus_secs(grace_secs).0
        )?;
        // Expired secrets and those beyond the cap go now.
        exec!(
            &mut tx,
            "DELETE FROM webhook_secrets WHERE org_id = $1 AND endpoint_id = $2 AND expires_at IS NOT NULL \
             AND (expires_at <= $3 OR id NOT IN (SELECT id FROM webhook_secrets WHERE org_id = $1 AND endpoint_id = $2 \
             AND expires_at IS NOT NULL ORDER BY expires_at DESC, id DESC LIMIT $4))",
            self.org(),
            id.as_str(),
            ctx.now.0,
            MAX_OLD_SECRETS as i64
        )?;
        let secret = add_secret(self.store, &mut tx, self.org(), id.as_str(), ctx.now).await?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "webhook_endpoint.secret_rotated",
                target: audit::target("webhook_endpoint", id),
                details: serde_json::json!({ "previous_valid_for_secs": grace_secs }),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(secret)
    }

    /// Sends a `webhook.test` event to this endpoint only (enabled or not
    /// subscribed: the test is explicit). Returns the message id.
    pub async fn send_webhook_test(
        &self,
        id: &WebhookEndpointId,
        ctx: &Ctx,
    ) -> Result<WebhookMessageId, StoreError> {
        let mut tx = self.write().await?;
        endpoint_by_id(&mut tx, self.org(), id.as_str()).await?;
        let msg = insert_message(
            &mut tx,
            self.org(),
            "webhook.test",
            &serde_json::json!({ "endpoint_id": id.as_str() }),
            &[id.to_string()],
            ctx.now,
        )
        .await?;
        tx.commit().await?;
        Ok(msg)
    }

    /// Commits `count` `webhook.test` events in one transaction, each
    /// through [`enqueue`] like every other event source (one message per
    /// event, a delivery per enabled endpoint subscribed to `webhook.test`),
    /// the way a gate group commit writes its denials' events. Returns the
    /// deliveries queued.
    ///
    /// For load tests (`bench/webhooks.sh`): the API's test goes to one
    /// endpoint, one event per request, which cannot offer a delivering
    /// node thousands of events a second. Not reachable from HTTP.
    pub async fn enqueue_webhook_test_events(
        &self,
        count: usize,
        ctx: &Ctx,
    ) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        let (subscribed,) = fetch_one!(
            &mut tx,
            (i64,),
            "SELECT COUNT(*) FROM webhook_endpoints e JOIN webhook_endpoint_events t \
               ON t.endpoint_id = e.id AND t.org_id = e.org_id \
             WHERE e.org_id = $1 AND t.event_type = 'webhook.test' AND e.enabled",
            self.org()
        )?;
        for seq in 0..count {
            enqueue(
                &mut tx,
                self.org(),
                "webhook.test",
                serde_json::json!({ "load_test_seq": seq }),
                ctx.now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(subscribed as u64 * count as u64)
    }

    /// Delivers again, to this endpoint, one message (`message`) or every
    /// message it was sent between `from` and `until`: a new delivery each,
    /// with the same message id and body. At most `limit` messages.
    pub async fn replay_webhook_messages(
        &self,
        id: &WebhookEndpointId,
        message: Option<&WebhookMessageId>,
        from: UnixMicros,
        until: UnixMicros,
        limit: u32,
        ctx: &Ctx,
    ) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        endpoint_by_id(&mut tx, self.org(), id.as_str()).await?;
        let messages = match message {
            Some(m) => fetch_all!(
                &mut tx,
                (String,),
                "SELECT DISTINCT message_id FROM webhook_deliveries WHERE org_id = $1 AND endpoint_id = $2 AND message_id = $3",
                self.org(),
                id.as_str(),
                m.as_str()
            )?,
            None => fetch_all!(
                &mut tx,
                (String,),
                "SELECT DISTINCT d.message_id FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id \
                 WHERE d.org_id = $1 AND d.endpoint_id = $2 AND m.created_at >= $3 AND m.created_at < $4 \
                 ORDER BY d.message_id LIMIT $5",
                self.org(),
                id.as_str(),
                from.0,
                until.0,
                i64::from(limit)
            )?,
        };
        if message.is_some() && messages.is_empty() {
            return Err(StoreError::NotFound);
        }
        for (m,) in &messages {
            add_delivery(&mut tx, self.org(), id.as_str(), m, ctx.now).await?;
        }
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "webhook_endpoint.replayed",
                target: audit::target("webhook_endpoint", id),
                details: serde_json::json!({
                    "messages": messages.len(),
                    "message_id": message.map(|m| m.to_string()),
                }),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(messages.len() as u64)
    }

    /// The endpoint's attempts, newest first, before the attempt id `before`.
    pub async fn list_webhook_attempts(
        &self,
        id: &WebhookEndpointId,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<WebhookAttempt>, StoreError> {
        let mut tx = self.read().await?;
        endpoint_by_id(&mut tx, self.org(), id.as_str()).await?;
        #[derive(sqlx::FromRow)]
        struct Row {
            id: String,
            delivery_id: String,
            message_id: String,
            event_type: String,
            started_at: i64,
            latency_ms: i64,
            status: Option<i64>,
            error: Option<String>,
            response_excerpt: String,
            state: String,
        }
        let rows = fetch_all!(
            &mut tx,
            Row,
            "SELECT a.id, a.delivery_id, a.message_id, m.event_type, a.started_at, a.latency_ms, a.status, a.error, \
                    a.response_excerpt, d.state \
             FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id \
             JOIN webhook_messages m ON m.id = a.message_id \
             WHERE a.org_id = $1 AND a.endpoint_id = $2 AND a.id < $3 ORDER BY a.id DESC LIMIT $4",
            self.org(),
            id.as_str(),
            before
                .unwrap_or("wha_zzzzzzzzzzzzzzzzzzzzzzzzzz")
                .to_owned(),
            i64::from(limit)
        )?;
        Ok(rows
            .into_iter()
            .map(|r| WebhookAttempt {
                id: r.id,
                delivery_id: r.delivery_id,
                message_id: r.message_id,
                event_type: r.event_type,
                started_at: UnixMicros(r.started_at),
                latency_ms: r.latency_ms,
                status: r.status,
                error: r.error,
                response_excerpt: r.response_excerpt,
                delivery_state: r.state,
            })
            .collect())
    }
}

// ---------------------------------------------------------------------------
// The delivery side: workers, across organizations.

/// A claimed delivery: the worker holds it until `lease_until`.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub delivery_id: String,
    pub org_id: String,
    pub endpoint_id: String,
    pub lease_until: i64,
}

/// What a worker needs to attempt a claimed delivery.
pub struct DeliveryJob {
    pub message_id: String,
    pub event_type: String,
    /// The exact bytes to send and sign.
    pub body: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    /// The current secret first, then the retiring ones still valid.
    pub secrets: Vec<WebhookSecret>,
    /// Attempts made before this one.
    pub attempts: i64,
}

/// The result of one HTTP attempt, as the worker saw it.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub started_at: UnixMicros,
    pub latency_ms: i64,
    pub status: Option<u16>,
    pub error: Option<String>,
    /// Already capped and free of secrets.
    pub response_excerpt: String,
    pub retry_after: Option<i64>,
    /// Random, for the retry jitter.
    pub jitter: u16,
}

/// What recording an attempt decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptVerdict {
    Delivered,
    /// Will be retried at this time.
    Retry(i64),
    /// The schedule is exhausted.
    Failed,
    /// The endpoint was disabled by this attempt (`gone` or `failing`);
    /// its owners should be told.
    EndpointDisabled(&'static str),
    /// The lease had expired: someone else may hold the delivery now, so
    /// this attempt changed nothing but its own record.
    LeaseLost,
}

impl crate::Store {
    /// Claims up to `limit` due deliveries for `lease_micros`. On
    /// PostgreSQL rows locked by another node's claim are skipped
    /// (`FOR UPDATE SKIP LOCKED`); SQLite has one writer, so the single
    /// conditional UPDATE is the claim.
    pub async fn claim_webhook_deliveries(
        &self,
        now: UnixMicros,
        lease_micros: i64,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let lease_until = now.0 + lease_micros;
        let mut tx = self.pool.write().await?;
        let rows: Vec<(String, String, String)> = match &mut tx {
            Tx::Postgres(t) => {
                sqlx::query_as(
                    "UPDATE webhook_queue SET lease_until = $1 WHERE delivery_id IN ( \
                       SELECT delivery_id FROM webhook_queue WHERE due_at <= $2 AND lease_until <= $2 \
                       ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
                     RETURNING delivery_id, org_id, endpoint_id",
                )
                .bind(lease_until)
                .bind(now.0)
                .bind(i64::from(limit))
                .fetch_all(&mut **t)
                .await?
            }
            Tx::Sqlite(t) => {
                sqlx::query_as(
                    "UPDATE webhook_queue SET lease_until = $1 WHERE delivery_id IN ( \
                       SELECT delivery_id FROM webhook_queue WHERE due_at <= $2 AND lease_until <= $2 \
                       ORDER BY due_at LIMIT $3) \
                     RETURNING delivery_id, org_id, endpoint_id",
                )
                .bind(lease_until)
                .bind(now.0)
                .bind(i64::from(limit))
                .fetch_all(&mut **t)
                .await?
            }
        };
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|(delivery_id, org_id, endpoint_id)| ClaimedDelivery {
                delivery_id,
                org_id,
                endpoint_id,
                lease_until,
            })
            .collect())
    }

    /// Gives a claimed delivery back without an attempt, due at `due_at`
    /// (the endpoint is at its concurrency limit, or shutting down).
    pub async fn release_webhook_delivery(
        &self,
        claim: &ClaimedDelivery,
        due_at: UnixMicros,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.write().await?;
        exec!(
            &mut tx,
            "UPDATE webhook_queue SET lease_until = 0, due_at = $3 WHERE delivery_id = $1 AND lease_until = $2",
            claim.delivery_id.clone(),
            claim.lease_until,
            due_at.0
        )?;
        tx.commit().await?;
        Ok(())
    }

    /// Loads what the attempts of a batch of claims need, in one read
    /// transaction with one query for the deliveries and one for the
    /// endpoints' secrets per organization (and chunk), instead of a
    /// transaction per delivery. Claims whose delivery is no longer
    /// attemptable (endpoint disabled or gone, delivery not pending) are
    /// cancelled and leave the queue; they are not returned.
    ///
    /// Which secrets sign is read every time, so a rotation or an expiry
    /// applies to the next batch; `opened` only saves decrypting a secret
    /// this node opened a moment ago. An error fails the whole batch (the
    /// caller can load the claims one by one to isolate it).
    pub async fn load_webhook_deliveries(
        &self,
        claims: Vec<ClaimedDelivery>,
        now: UnixMicros,
        opened: &OpenedSecrets,
    ) -> Result<Vec<(ClaimedDelivery, DeliveryJob)>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: String,
            message_id: String,
            event_type: String,
            body: String,
            attempts: i64,
            state: String,
            url: String,
            headers: String,
            enabled: bool,
        }
        opened.prune();
        let mut by_org: BTreeMap<String, Vec<ClaimedDelivery>> = BTreeMap::new();
        for c in claims {
            by_org.entry(c.org_id.clone()).or_default().push(c);
        }
        let mut jobs = Vec::new();
        let mut dropped: Vec<ClaimedDelivery> = Vec::new();
        let mut tx = self.pool.read().await?;
        for (org, group) in &by_org {
            tx.bind_org(org).await?;
            for chunk in group.chunks(IN_LIST) {
                let ids: Vec<&str> = chunk.iter().map(|c| c.delivery_id.as_str()).collect();
                let q = deliveries_to_load(&tx, org, &ids);
                let mut rows: std::collections::HashMap<String, Row> = q
                    .fetch_all::<Row>(&mut tx)
                    .await?
                    .into_iter()
                    .filter(|r| r.state == "pending" && r.enabled)
                    .map(|r| (r.id.clone(), r))
                    .collect();
                let mut endpoints: Vec<&str> = chunk
                    .iter()
                    .filter(|c| rows.contains_key(&c.delivery_id))
                    .map(|c| c.endpoint_id.as_str())
                    .collect();
                endpoints.sort_unstable();
                endpoints.dedup();
                let secrets = self
                    .endpoint_secrets(&mut tx, org, &endpoints, now, opened)
                    .await?;
                for claim in chunk {
                    let Some(row) = rows.remove(&claim.delivery_id) else {
                        dropped.push(claim.clone());
                        continue;
                    };
                    let secrets = secrets
                        .get(claim.endpoint_id.as_str())
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| {
                            StoreError::Corrupt("webhook endpoint without a secret".into())
                        })?;
                    jobs.push((
                        claim.clone(),
                        DeliveryJob {
                            message_id: row.message_id,
                            event_type: row.event_type,
                            body: row.body,
                            url: row.url,
                            headers: serde_json::from_str(&row.headers).map_err(|_| {
                                StoreError::Corrupt("webhook endpoint headers".into())
                            })?,
                            secrets: secrets.clone(),
                            attempts: row.attempts,
                        },
                    ));
                }
            }
        }
        tx.commit().await?;
        if !dropped.is_empty() {
            self.cancel_claimed(&dropped, now).await?;
        }
        Ok(jobs)
    }

    /// The signing secrets of `endpoints` valid at `now`, per endpoint: the
    /// current one first, then the retiring ones, newest first.
    async fn endpoint_secrets(
        &self,
        tx: &mut Tx,
        org: &str,
        endpoints: &[&str],
        now: UnixMicros,
        opened: &OpenedSecrets,
    ) -> Result<std::collections::HashMap<String, Vec<WebhookSecret>>, StoreError> {
        let mut out: std::collections::HashMap<String, Vec<WebhookSecret>> =
            std::collections::HashMap::new();
        if endpoints.is_empty() {
            return Ok(out);
        }
        let mut q = Sql::new(tx);
        q.push("SELECT id, endpoint_id, secret_sealed FROM webhook_secrets WHERE org_id = ")
            .bind(Arg::Str(org))
            .push(" AND endpoint_id IN (")
            .list(endpoints.iter().map(|e| Arg::Str(e)))
            .push(") AND (expires_at IS NULL OR expires_at > ")
            .bind(Arg::Int(now.0))
            .push(") ORDER BY endpoint_id, expires_at IS NOT NULL, created_at DESC");
        let sealed = q.fetch_all::<(String, String, Vec<u8>)>(tx).await?;
        for (id, endpoint, s) in sealed {
            let secret = match opened.get(&id) {
                Some(secret) => secret,
                None => {
                    let plain = SECRET_COLUMN.open(self, tx, org, &id, &s).await?;
                    let secret = WebhookSecret::from_key_bytes(&plain)
                        .map_err(|_| StoreError::Corrupt("webhook secret length".into()))?;
                    opened.put(id, secret.clone());
                    secret
                }
            };
            out.entry(endpoint).or_default().push(secret);
        }
        Ok(out)
    }

    /// Cancels claimed deliveries that can no longer be attempted and takes
    /// them out of the queue.
    async fn cancel_claimed(
        &self,
        claims: &[ClaimedDelivery],
        now: UnixMicros,
    ) -> Result<(), StoreError> {
        let mut by_org: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for c in claims {
            by_org
                .entry(c.org_id.as_str())
                .or_default()
                .push(c.delivery_id.as_str());
        }
        let mut tx = self.pool.write().await?;
        for (org, ids) in by_org {
            tx.bind_org(org).await?;
            for chunk in ids.chunks(IN_LIST) {
                cancel_pending(&tx, org, chunk, now).exec(&mut tx).await?;
                let mut q = Sql::new(&tx);
                q.push("DELETE FROM webhook_queue WHERE delivery_id IN (")
                    .list(chunk.iter().map(|id| Arg::Str(id)))
                    .push(")");
                q.exec(&mut tx).await?;
            }
        }
        tx.commit().await
    }

    /// Loads what one attempt needs; `None` when the delivery is no longer
    /// attemptable (endpoint disabled or gone), in which case it is
    /// cancelled and leaves the queue.
    pub async fn load_webhook_delivery(
        &self,
        claim: &ClaimedDelivery,
        now: UnixMicros,
    ) -> Result<Option<DeliveryJob>, StoreError> {
        let opened = OpenedSecrets::new(std::time::Duration::ZERO);
        let jobs = self
            .load_webhook_deliveries(vec![claim.clone()], now, &opened)
            .await?;
        Ok(jobs.into_iter().next().map(|(_, job)| job))
    }

    /// Records one attempt; see [`Self::record_webhook_attempts`].
    pub async fn record_webhook_attempt(
        &self,
        claim: &ClaimedDelivery,
        job: &DeliveryJob,
        outcome: &AttemptOutcome,
        now: UnixMicros,
    ) -> Result<AttemptVerdict, StoreError> {
        let done = [FinishedAttempt {
            claim: claim.clone(),
            message_id: job.message_id.clone(),
            attempts: job.attempts,
            outcome: outcome.clone(),
        }];
        let mut verdicts = self.record_webhook_attempts(&done, now).await?;
        verdicts.pop().ok_or(StoreError::NotFound)
    }

    /// Records finished attempts and moves each delivery on: delivered
    /// (2xx), rescheduled, failed (schedule exhausted), or with its endpoint
    /// disabled (410, or failing for 5 days). One transaction for the whole
    /// group (one commit, one fsync on SQLite, however many attempts), with
    /// multi-row statements for the common case, successes; the verdicts
    /// come back in the order of `done`. A queue row changes only if the
    /// lease is still the attempt's; nothing counts as delivered before the
    /// commit, so a crash before it means another attempt after the lease.
    ///
    /// Within a group the successes are applied first, then the other
    /// outcomes in the order they started; a failure that started before a
    /// success to the same endpoint in the group does not start a failure
    /// run (the endpoint answered since).
    pub async fn record_webhook_attempts(
        &self,
        done: &[FinishedAttempt],
        now: UnixMicros,
    ) -> Result<Vec<AttemptVerdict>, StoreError> {
        let mut verdicts = vec![AttemptVerdict::LeaseLost; done.len()];
        let mut by_org: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, d) in done.iter().enumerate() {
            by_org.entry(d.claim.org_id.as_str()).or_default().push(i);
        }
        let mut tx = self.pool.write().await?;
        for (org, idx) in by_org {
            tx.bind_org(org).await?;
            insert_attempts(&mut tx, org, done, &idx, now).await?;
            let (ok, mut other): (Vec<usize>, Vec<usize>) = idx
                .into_iter()
                .partition(|&i| matches!(done[i].outcome.status, Some(200..=299)));
            // Successes: the queue rows still under their leases go, the
            // rest lost their lease to someone else.
            let mut by_lease: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
            for &i in &ok {
                by_lease
                    .entry(done[i].claim.lease_until)
                    .or_default()
                    .push(i);
            }
            let mut held: Vec<usize> = Vec::with_capacity(ok.len());
            for (lease, group) in by_lease {
                for chunk in group.chunks(IN_LIST) {
                    let mut q = Sql::new(&tx);
                    q.push("DELETE FROM webhook_queue WHERE lease_until = ")
                        .bind(Arg::Int(lease))
                        .push(" AND delivery_id IN (")
                        .list(chunk.iter().map(|&i| Arg::Str(&done[i].claim.delivery_id)))
                        .push(") RETURNING delivery_id");
                    let gone: std::collections::HashSet<String> = q
                        .fetch_all::<(String,)>(&mut tx)
                        .await?
                        .into_iter()
                        .map(|(id,)| id)
                        .collect();
                    held.extend(
                        chunk
                            .iter()
                            .filter(|&&i| gone.contains(&done[i].claim.delivery_id)),
                    );
                }
            }
            // Under its lease nobody else changed the delivery, so its
            // attempt count is the loaded one plus this attempt.
            for chunk in held.chunks(IN_LIST) {
                let ids: Vec<&str> = chunk
                    .iter()
                    .map(|&i| done[i].claim.delivery_id.as_str())
                    .collect();
                mark_delivered(&tx, org, &ids, now).exec(&mut tx).await?;
            }
            let mut answered: BTreeMap<&str, i64> = BTreeMap::new();
            for &i in &held {
                verdicts[i] = AttemptVerdict::Delivered;
                let at = answered
                    .entry(done[i].claim.endpoint_id.as_str())
                    .or_insert(i64::MIN);
                *at = (*at).max(done[i].outcome.started_at.0);
            }
            let endpoints: Vec<&str> = answered.keys().copied().collect();
            for chunk in endpoints.chunks(IN_LIST) {
                let mut q = Sql::new(&tx);
                q.push("UPDATE webhook_endpoints SET failing_since = NULL WHERE org_id = ")
                    .bind(Arg::Str(org))
                    .push(" AND failing_since IS NOT NULL AND id IN (")
                    .list(chunk.iter().map(|e| Arg::Str(e)))
                    .push(")");
                q.exec(&mut tx).await?;
            }
            other.sort_by_key(|&i| done[i].outcome.started_at.0);
            for i in other {
                let d = &done[i];
                let answered_since = answered
                    .get(d.claim.endpoint_id.as_str())
                    .is_some_and(|&at| at > d.outcome.started_at.0);
                verdicts[i] = record_failure(&mut tx, org, d, answered_since, now).await?;
            }
        }
        tx.commit().await?;
        Ok(verdicts)
    }
}

// The statements that reach deliveries by a list of ids. Each finds its
// rows by primary key with the organization as a filter (on SQLite through
// `Sql::org_id_filter`, on PostgreSQL through `Sql::id_in`'s one array),
// so a batch costs its own size, not the organization's history.

/// The deliveries of `ids` with what an attempt needs. Looked up by primary
/// key first, in a materialized CTE: joined directly, PostgreSQL (an
/// organization has few endpoints, and before the first ANALYZE every
/// estimate is small) started from the endpoints and read every delivery
/// each endpoint ever had through its index, filtering the batch's ids:
/// 30 ms for a batch after 20,000 deliveries, over a second later on.
fn deliveries_to_load<'a>(tx: &Tx, org: &'a str, ids: &'a [&'a str]) -> Sql<'a> {
    let mut q = Sql::new(tx);
    q.push(
        "WITH d AS MATERIALIZED (SELECT id, message_id, endpoint_id, attempts, state \
           FROM webhook_deliveries WHERE ",
    )
    .id_in("id", ids)
    .push(" AND ")
    .org_id_filter(org)
    .push(
        ") SELECT d.id, d.message_id, m.event_type, m.body, d.attempts, d.state, e.url, e.headers, e.enabled \
         FROM d JOIN webhook_messages m ON m.id = d.message_id \
         JOIN webhook_endpoints e ON e.id = d.endpoint_id",
    );
    q
}

/// Marks the deliveries of `ids` delivered (their queue rows, under the
/// attempts' leases, are already gone).
fn mark_delivered<'a>(tx: &Tx, org: &'a str, ids: &'a [&'a str], now: UnixMicros) -> Sql<'a> {
    let mut q = Sql::new(tx);
    q.push("UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, next_attempt_at = NULL, finished_at = ")
        .bind(Arg::Int(now.0))
        .push(" WHERE ")
        .id_in("id", ids)
        .push(" AND ")
        .org_id_filter(org);
    q
}

/// Cancels the deliveries of `ids` that are still pending.
fn cancel_pending<'a>(tx: &Tx, org: &'a str, ids: &'a [&'a str], now: UnixMicros) -> Sql<'a> {
    let mut q = Sql::new(tx);
    q.push(
        "UPDATE webhook_deliveries SET state = 'cancelled', next_attempt_at = NULL, finished_at = ",
    )
    .bind(Arg::Int(now.0))
    .push(" WHERE ")
    .id_in("id", ids)
    .push(" AND state = 'pending' AND ")
    .org_id_filter(org);
    q
}

/// A finished HTTP attempt waiting to be recorded.
#[derive(Debug, Clone)]
pub struct FinishedAttempt {
    pub claim: ClaimedDelivery,
    pub message_id: String,
    /// Attempts made before this one (as loaded with the claim).
    pub attempts: i64,
    pub outcome: AttemptOutcome,
}

/// Items of one `IN (...)` list or multi-row statement at most: well
/// inside both backends' limits on bound parameters.
const IN_LIST: usize = 500;

/// One multi-row INSERT of the attempt records of `idx` (all of `org`).
async fn insert_attempts(
    tx: &mut Tx,
    org: &str,
    done: &[FinishedAttempt],
    idx: &[usize],
    now: UnixMicros,
) -> Result<(), StoreError> {
    for chunk in idx.chunks(IN_LIST) {
        let ids = chunk
            .iter()
            .map(|_| new_id::<WebhookAttemptKind>(now).map(|id| id.as_str().to_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut q = Sql::new(tx);
        q.push(
            "INSERT INTO webhook_attempts (id, org_id, delivery_id, endpoint_id, message_id, started_at, \
             latency_ms, status, error, response_excerpt) VALUES ",
        );
        for (n, (&i, id)) in chunk.iter().zip(&ids).enumerate() {
            let d = &done[i];
            q.push(if n == 0 { "(" } else { ", (" })
                .list(
                    [
                        Arg::Str(id),
                        Arg::Str(org),
                        Arg::Str(&d.claim.delivery_id),
                        Arg::Str(&d.claim.endpoint_id),
                        Arg::Str(&d.message_id),
                        Arg::Int(d.outcome.started_at.0),
                        Arg::Int(d.outcome.latency_ms),
                        Arg::OptInt(d.outcome.status.map(i64::from)),
                        Arg::OptStr(d.outcome.error.as_deref()),
                        Arg::Str(&d.outcome.response_excerpt),
                    ]
                    .into_iter(),
                )
                .push(")");
        }
        q.exec(tx).await?;
    }
    Ok(())
}

/// Moves a delivery on after an attempt that did not succeed (its attempt
/// record is already written): rescheduled, failed, or its endpoint
/// disabled. `answered_since`: the endpoint answered a later attempt in the
/// same group, so this failure starts no failure run.
async fn record_failure(
    tx: &mut Tx,
    org: &str,
    d: &FinishedAttempt,
    answered_since: bool,
    now: UnixMicros,
) -> Result<AttemptVerdict, StoreError> {
    let (claim, outcome) = (&d.claim, &d.outcome);
    let attempts = d.attempts + 1;
    let verdict = if outcome.status == Some(410) {
        AttemptVerdict::EndpointDisabled("gone")
    } else {
        match delay_before(
            u32::try_from(attempts).unwrap_or(u32::MAX),
            outcome.jitter,
            outcome.retry_after,
        ) {
            Some(d) => AttemptVerdict::Retry(now.plus_secs(d).0),
            None => AttemptVerdict::Failed,
        }
    };
    // The queue row moves only under our lease.
    let held = match &verdict {
        AttemptVerdict::Retry(at) => exec!(
            &mut *tx,
            "UPDATE webhook_queue SET due_at = $3, lease_until = 0 WHERE delivery_id = $1 AND lease_until = $2",
            claim.delivery_id.clone(),
            claim.lease_until,
            *at
        )?,
        _ => exec!(
            &mut *tx,
            "DELETE FROM webhook_queue WHERE delivery_id = $1 AND lease_until = $2",
            claim.delivery_id.clone(),
            claim.lease_until
        )?,
    };
    if held == 0 {
        return Ok(AttemptVerdict::LeaseLost);
    }
    let (state, next, finished) = match &verdict {
        AttemptVerdict::Retry(at) => ("pending", Some(*at), None),
        _ => ("failed", None, Some(now.0)),
    };
    exec!(
        &mut *tx,
        "UPDATE webhook_deliveries SET state = $3, attempts = $4, next_attempt_at = $5, finished_at = $6 \
         WHERE org_id = $1 AND id = $2",
        org,
        claim.delivery_id.clone(),
        state,
        attempts,
        next,
        finished
    )?;
    let mut verdict = verdict;
    if !answered_since {
        exec!(
            &mut *tx,
            "UPDATE webhook_endpoints SET failing_since = $3 WHERE org_id = $1 AND id = $2 AND failing_since IS NULL",
            org,
            claim.endpoint_id.clone(),
            outcome.started_at.0
        )?;
        if verdict != AttemptVerdict::EndpointDisabled("gone") {
            let (since,) = fetch_optional!(
                &mut *tx,
                (Option<i64>,),
                "SELECT failing_since FROM webhook_endpoints WHERE org_id = $1 AND id = $2",
                org,
                claim.endpoint_id.clone()
            )?
            .unwrap_or((None,));
            if since.is_some_and(|s| now.0 - s >= DISABLE_AFTER_FAILING_SECS * UnixMicros::SECOND) {
                verdict = AttemptVerdict::EndpointDisabled("failing");
            }
        }
    }
    if let AttemptVerdict::EndpointDisabled(reason) = verdict {
        disable_endpoint(tx, org, &claim.endpoint_id, reason, now).await?;
    }
    Ok(verdict)
}

/// Disables an endpoint on the sender's decision, cancels what it still
/// had pending, and audits it.
async fn disable_endpoint(
    tx: &mut Tx,
    org: &str,
    endpoint: &str,
    reason: &'static str,
    now: UnixMicros,
) -> Result<(), StoreError> {
    exec!(
        &mut *tx,
        "UPDATE webhook_endpoints SET enabled = false, disabled_reason = $3, updated_at = $4 \
         WHERE org_id = $1 AND id = $2",
        org,
        endpoint,
        reason,
        now.0
    )?;
    exec!(
        &mut *tx,
        "UPDATE webhook_deliveries SET state = 'cancelled', next_attempt_at = NULL, finished_at = $3 \
         WHERE org_id = $1 AND endpoint_id = $2 AND state = 'pending'",
        org,
        endpoint,
        now.0
    )?;
    exec!(
        &mut *tx,
        "DELETE FROM webhook_queue WHERE org_id = $1 AND endpoint_id = $2",
        org,
        endpoint
    )?;
    audit::append(
        &mut *tx,
        org,
        Draft {
            actor: system_actor(),
            action: "webhook_endpoint.disabled",
            target: audit::target("webhook_endpoint", endpoint),
            details: serde_json::json!({ "reason": reason }),
        },
        &Ctx {
            now,
            request: RequestMeta::default(),
        },
    )
    .await?;
    Ok(())
}

/// Opened (decrypted) signing secrets a node keeps for a few seconds, by
/// secret id, so the deliveries of a busy endpoint do not decrypt its
/// secrets batch after batch.
///
/// Only the decryption is saved: which secrets sign is read from the
/// database with every batch ([`crate::Store::load_webhook_deliveries`]),
/// so a rotation, an expiry or a deleted endpoint applies to the next batch
/// on every node, not after the cache's time to live. A secret's value never
/// changes under its id (a key rotation re-seals the same bytes). The keys
/// are zeroized when dropped and never printed ([`WebhookSecret`]); the
/// time to live bounds how long an unused one stays in memory. Shared by
/// the batches a node loads at once; the lock is never held across a query.
pub struct OpenedSecrets {
    ttl: std::time::Duration,
    entries:
        std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, WebhookSecret)>>,
}

impl OpenedSecrets {
    /// Secrets kept at most; past it the cache starts over (the secrets
    /// are simply opened again).
    const CAPACITY: usize = 4_096;

    pub fn new(ttl: std::time::Duration) -> OpenedSecrets {
        OpenedSecrets {
            ttl,
            entries: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    fn entries(
        &self,
    ) -> std::sync::MutexGuard<
        '_,
        std::collections::HashMap<String, (std::time::Instant, WebhookSecret)>,
    > {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, id: &str) -> Option<WebhookSecret> {
        self.entries()
            .get(id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, s)| s.clone())
    }

    fn put(&self, id: String, secret: WebhookSecret) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries();
        if entries.len() >= Self::CAPACITY {
            entries.clear();
        }
        entries.insert(id, (std::time::Instant::now(), secret));
    }

    /// Drops (and so zeroizes) what has outlived the time to live.
    fn prune(&self) {
        let ttl = self.ttl;
        self.entries().retain(|_, (at, _)| at.elapsed() < ttl);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::tests::{ORG_A, store};

    /// A batch's statements find deliveries by primary key, never by
    /// scanning the organization's index: SQLite, without statistics,
    /// chose `webhook_deliveries_endpoint (org_id=?)` for lists longer than
    /// about ten ids, and delivery fell to a few hundred a second once the
    /// history held 50,000 deliveries (bench/webhooks.sh, steady load).
    #[tokio::test]
    async fn batch_statements_find_deliveries_by_primary_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), &[7]).await;
        let ids: Vec<String> = (0..IN_LIST).map(|n| format!("whd_{n:026}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut tx = store.pool.write().await.unwrap();
        for (name, q) in [
            ("load", deliveries_to_load(&tx, ORG_A, &ids)),
            ("delivered", mark_delivered(&tx, ORG_A, &ids, UnixMicros(1))),
            ("cancel", cancel_pending(&tx, ORG_A, &ids, UnixMicros(1))),
        ] {
            let plan = q.sqlite_plan(&mut tx).await.unwrap();
            let on_deliveries: Vec<&String> = plan
                .iter()
                .filter(|step| step.contains("webhook_deliveries"))
                .collect();
            assert!(
                !on_deliveries.is_empty()
                    && on_deliveries.iter().all(|step| {
                        step.contains("sqlite_autoindex_webhook_deliveries_1 (id=?)")
                    }),
                "{name}: {plan:?}"
            );
        }
    }

    #[test]
    fn rich_payload_text_goes_through_the_redaction_engine() {
        let out = redacted("provider said: card 4111 1111 1111 1111, ssn 123-45-6789");
        assert!(!out.contains("4111 1111 1111 1111"), "{out}");
        assert!(!out.contains("123-45-6789"), "{out}");
        assert!(out.starts_with("provider said: card "), "{out}");
        // Text the engine refuses is withheld whole, never passed through.
        let huge = "4111 1111 1111 1111 ".repeat(1 << 20);
        assert_eq!(redacted(&huge), "[WITHHELD]");
    }
}
