//! Per-organization gate settings: the pause switch and the acknowledgment
//! of running without a DNC provider. Both are audited changes by admins.

use serde::Serialize;
use tollgate_core::UnixMicros;
use tollgate_core::id::ProviderCredentialId;

use crate::StoreError;
use crate::audit::{self, Draft};
use crate::db::{Tx, exec, fetch_optional};
use crate::scope::{Ctx, OrgScope};

#[derive(Debug, Clone, Serialize, Default)]
pub struct GateSettings {
    pub paused: bool,
    pub paused_reason: Option<String>,
    /// When the org acknowledged running without a DNC provider, and who.
    pub dnc_provider_absence_acknowledged_at: Option<UnixMicros>,
    pub dnc_provider_absence_acknowledged_by: Option<String>,
    pub dnc_provider_absence_statement: Option<String>,
    pub suppression_version: i64,
    /// The organization's real-time DNC provider (one of its `dnc_provider`
    /// credentials); `None`: the deployment's registry index answers.
    pub dnc_provider_credential_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct GateSettingsPatch {
    pub paused: Option<bool>,
    pub paused_reason: Option<Option<String>>,
    /// `Some(Some(statement))` records the acknowledgment, `Some(None)` withdraws it.
    pub dnc_acknowledgment: Option<Option<String>>,
    /// `Some(Some(id))` makes the credential the organization's DNC provider
    /// (it must be one of its `dnc_provider` credentials), `Some(None)`
    /// goes back to the registry index.
    pub dnc_provider: Option<Option<ProviderCredentialId>>,
}

type Row = (
    bool,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
);

const LOAD: &str = "SELECT paused, paused_reason, dnc_ack_at, dnc_ack_by, dnc_ack_statement, suppression_version, \
     dnc_provider_credential_id \
     FROM gate_settings WHERE org_id = $1";

pub(crate) async fn load(tx: &mut Tx, org: &str) -> Result<GateSettings, StoreError> {
    Ok(settings(fetch_optional!(tx, Row, LOAD, org)?))
}

/// [`load`] over rusqlite on SQLite (ADR 0010): the same statement.
fn load_direct(conn: &rusqlite::Connection, org: &str) -> Result<GateSettings, StoreError> {
    use rusqlite::OptionalExtension;
    let row = conn
        .prepare_cached(LOAD)?
        .query_row(rusqlite::named_params! {"$1": org}, |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .optional()?;
    Ok(settings(row))
}

fn settings(row: Option<Row>) -> GateSettings {
    match row {
        None => GateSettings::default(),
        Some((paused, paused_reason, at, by, statement, v, provider)) => GateSettings {
            paused,
            paused_reason,
            dnc_provider_absence_acknowledged_at: at.map(UnixMicros),
            dnc_provider_absence_acknowledged_by: by,
            dnc_provider_absence_statement: statement,
            suppression_version: v,
            dnc_provider_credential_id: provider,
        },
    }
}

/// Makes sure the org's row exists (settings default to "not paused").
pub(crate) async fn ensure(tx: &mut Tx, org: &str, now: UnixMicros) -> Result<(), StoreError> {
    exec!(
        tx,
        "INSERT INTO gate_settings (org_id, updated_at) VALUES ($1, $2) ON CONFLICT (org_id) DO NOTHING",
        org,
        now.0
    )?;
    Ok(())
}

/// Bumps the suppression list version (inside the change's transaction).
pub(crate) async fn bump_suppression_version(
    tx: &mut Tx,
    org: &str,
    now: UnixMicros,
) -> Result<(), StoreError> {
    ensure(tx, org, now).await?;
    exec!(
        tx,
        "UPDATE gate_settings SET suppression_version = suppression_version + 1, updated_at = $2 WHERE org_id = $1",
        org,
        now.0
    )?;
    Ok(())
}

impl OrgScope<'_> {
    pub async fn gate_settings(&self) -> Result<GateSettings, StoreError> {
        // Read before every dial's DNC lookup: on SQLite a point read on
        // this thread (ADR 0010).
        if let Some(readers) = self.store.readers() {
            return readers.with(|c| load_direct(c, self.org()));
        }
        let mut tx = self.read().await?;
        load(&mut tx, self.org()).await
    }

    /// The organization's DNC provider credential (`None`: the registry
    /// index), which every dial's DNC lookup needs first: from this node's
    /// gate cache when it has it, at most its time to live old, like the
    /// pause switch and the acknowledgment the decision reads
    /// ([`crate::gate_cache`]); a change through this node applies at once.
    pub async fn dnc_provider(&self) -> Result<Option<String>, StoreError> {
        let cache = self.store.gate_cache();
        if let Some(provider) = cache.provider(self.org()) {
            return Ok(provider);
        }
        let ticket = cache.ticket();
        let provider = self.gate_settings().await?.dnc_provider_credential_id;
        cache.put_provider(ticket, self.org(), provider.clone());
        Ok(provider)
    }

    pub async fn update_gate_settings(
        &self,
        patch: GateSettingsPatch,
        ctx: &Ctx,
    ) -> Result<GateSettings, StoreError> {
        let mut tx = self.write().await?;
        tx.lock_org(self.org()).await?;
        ensure(&mut tx, self.org(), ctx.now).await?;
        let before = load(&mut tx, self.org()).await?;
        if let Some(p) = patch.paused {
            let reason = patch.paused_reason.clone().flatten();
            exec!(
                &mut tx,
                "UPDATE gate_settings SET paused = $2, paused_reason = $3, updated_at = $4 WHERE org_id = $1",
                self.org(),
                p,
                reason.clone(),
                ctx.now.0
            )?;
            audit::append(
                &mut tx,
                self.org(),
                Draft {
                    actor: self.actor.audit_ref(),
                    action: if p { "gate.paused" } else { "gate.resumed" },
                    target: audit::target("org", self.org()),
                    details: serde_json::json!({ "was_paused": before.paused, "reason": reason }),
                },
                ctx,
            )
            .await?;
        }
        if let Some(ack) = patch.dnc_acknowledgment {
            let member = self.actor.member_id().to_string();
            match &ack {
                Some(statement) => exec!(
                    &mut tx,
                    "UPDATE gate_settings SET dnc_ack_at = $2, dnc_ack_by = $3, dnc_ack_statement = $4, updated_at = $2 WHERE org_id = $1",
                    self.org(),
                    ctx.now.0,
                    member.clone(),
                    statement.clone()
                )?,
                None => exec!(
                    &mut tx,
                    "UPDATE gate_settings SET dnc_ack_at = NULL, dnc_ack_by = NULL, dnc_ack_statement = NULL, updated_at = $2 WHERE org_id = $1",
                    self.org(),
                    ctx.now.0
                )?,
            };
            audit::append(
                &mut tx,
                self.org(),
                Draft {
                    actor: self.actor.audit_ref(),
                    action: if ack.is_some() {
                        "gate.dnc_absence_acknowledged"
                    } else {
                        "gate.dnc_absence_withdrawn"
                    },
                    target: audit::target("org", self.org()),
                    details: serde_json::json!({ "statement": ack }),
                },
                ctx,
            )
            .await?;
        }
        if let Some(provider) = &patch.dnc_provider {
            if let Some(id) = provider {
                // Only the organization's own DNC credentials: another
                // kind (or another org's id) is "not found".
                fetch_optional!(
                    &mut tx,
                    (String,),
                    "SELECT id FROM provider_credentials WHERE org_id = $1 AND id = $2 AND kind = 'dnc_provider'",
                    self.org(),
                    id.as_str()
                )?
                .ok_or(StoreError::NotFound)?;
            }
            exec!(
                &mut tx,
                "UPDATE gate_settings SET dnc_provider_credential_id = $2, updated_at = $3 WHERE org_id = $1",
                self.org(),
                provider.as_ref().map(|i| i.to_string()),
                ctx.now.0
            )?;
            audit::append(
                &mut tx,
                self.org(),
                Draft {
                    actor: self.actor.audit_ref(),
                    action: "gate.dnc_provider_set",
                    target: audit::target("org", self.org()),
                    details: serde_json::json!({
                        "credential_id": provider.as_ref().map(|i| i.to_string()),
                        "was": before.dnc_provider_credential_id,
                    }),
                },
                ctx,
            )
            .await?;
        }
        let after = load(&mut tx, self.org()).await?;
        tx.commit().await?;
        self.store.gate_config_changed();
        Ok(after)
    }
}
