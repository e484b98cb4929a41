//! Credentials of outside providers (voice platforms, telephony, the DNC
//! data provider), stored sealed.
//!
//! After creation nothing reads a secret back out through this module's
//! public types: [`ProviderCredential`] carries the kind, label, last four
//! characters, data-policy flags and timestamps only. The one way to the
//! plaintext is [`OrgScope::with_provider_secret`], which opens the sealed
//! fields for the duration of a closure (the outbound provider call) and
//! zeroizes them when it returns.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use tollgate_core::id::{ProviderCredentialId, ProviderCredentialKind};
use tollgate_core::{MemberId, UnixMicros};
use zeroize::Zeroizing;

use crate::audit::{self, Draft};
use crate::db::{exec, fetch_all, fetch_optional};
use crate::scope::{Ctx, OrgScope};
use crate::vault::EncryptedColumn;
use crate::{StoreError, new_id};

/// The sealed secret fields of a credential.
pub(crate) const SECRET_COLUMN: EncryptedColumn = EncryptedColumn {
    table: "provider_credentials",
    id_column: "id",
    column: "secret_sealed",
    system: false,
    legacy_plaintext: None,
};

/// A credential as every API, page, log and export shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderCredential {
    pub id: ProviderCredentialId,
    pub kind: String,
    pub label: String,
    /// The last four characters of the main secret field, or empty when the
    /// secret is too short for four characters to be harmless.
    pub last_four: String,
    /// Data-policy flags as given (validated by the caller): JSON object.
    pub policy: serde_json::Value,
    pub created_by: MemberId,
    pub created_at: UnixMicros,
    pub updated_at: UnixMicros,
}

/// Secret fields by name. Zeroized on drop; never printed, never
/// serialized except into the sealed column.
pub struct SecretFields(BTreeMap<String, Zeroizing<String>>);

impl SecretFields {
    pub fn new(fields: BTreeMap<String, Zeroizing<String>>) -> Self {
        SecretFields(fields)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.as_str())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The sealed form's plaintext: a JSON object, in a buffer sized up
    /// front so that serialization does not leave reallocated copies.
    fn to_json(&self) -> Zeroizing<Vec<u8>> {
        let size = self
            .0
            .iter()
            .map(|(k, v)| 2 * (k.len() + v.len()) + 8)
            .sum::<usize>()
            + 2;
        let mut out = Zeroizing::new(Vec::with_capacity(size));
        let view: BTreeMap<&str, &str> = self
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &view);
        out
    }

    fn from_json(bytes: &[u8]) -> Result<Self, StoreError> {
        let map: BTreeMap<String, String> = serde_json::from_slice(bytes).map_err(|_| {
            StoreError::Corrupt("sealed provider secret is not a JSON object".into())
        })?;
        Ok(SecretFields(
            map.into_iter()
                .map(|(k, v)| (k, Zeroizing::new(v)))
                .collect(),
        ))
    }
}

impl fmt::Debug for SecretFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()?;
        f.write_str(" <secret values>")
    }
}

/// The last four characters of `secret`, shown to recognise it; nothing for
/// a secret under 16 characters, where four would be a quarter of it.
pub fn last_four(secret: &str) -> String {
    let n = secret.chars().count();
    if n < 16 {
        return String::new();
    }
    secret.chars().skip(n - 4).collect()
}

/// A validated new credential.
#[derive(Debug)]
pub struct NewProviderCredential {
    pub kind: String,
    pub label: String,
    pub secret: SecretFields,
    /// The field whose last four characters are shown.
    pub main_field: String,
    pub policy: serde_json::Value,
}

/// A replacement of a credential's secret fields (and optionally its label
/// and policy).
#[derive(Debug)]
pub struct ReplaceProviderCredential {
    pub secret: SecretFields,
    pub main_field: String,
    pub label: Option<String>,
    pub policy: Option<serde_json::Value>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    kind: String,
    label: String,
    last_four: String,
    policy: String,
    created_by: String,
    created_at: i64,
    updated_at: i64,
}

impl Row {
    fn into_credential(self) -> Result<ProviderCredential, StoreError> {
        Ok(ProviderCredential {
            id: ProviderCredentialId::parse(&self.id)?,
            kind: self.kind,
            label: self.label,
            last_four: self.last_four,
            policy: serde_json::from_str(&self.policy)
                .map_err(|_| StoreError::Corrupt("provider credential policy".into()))?,
            created_by: MemberId::parse(&self.created_by)?,
            created_at: UnixMicros(self.created_at),
            updated_at: UnixMicros(self.updated_at),
        })
    }
}

fn audit_details(c: &ProviderCredential) -> serde_json::Value {
    serde_json::json!({
        "kind": c.kind,
        "label": c.label,
        "last_four": c.last_four,
        "policy": c.policy,
    })
}

impl OrgScope<'_> {
    pub async fn list_provider_credentials(
        &self,
        after: Option<&ProviderCredentialId>,
        limit: u32,
    ) -> Result<Vec<ProviderCredential>, StoreError> {
        let mut tx = self.read().await?;
        let rows = fetch_all!(
            &mut tx,
            Row,
            "SELECT id, kind, label, last_four, policy, created_by, created_at, updated_at \
             FROM provider_credentials WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3",
            self.org(),
            after.map(|a| a.to_string()).unwrap_or_default(),
            i64::from(limit)
        )?;
        rows.into_iter().map(Row::into_credential).collect()
    }

    pub async fn get_provider_credential(
        &self,
        id: &ProviderCredentialId,
    ) -> Result<ProviderCredential, StoreError> {
        let mut tx = self.read().await?;
        by_id(&mut tx, self.org(), id).await
    }

    pub async fn create_provider_credential(
        &self,
        input: NewProviderCredential,
        ctx: &Ctx,
    ) -> Result<ProviderCredential, StoreError> {
        let id = new_id::<ProviderCredentialKind>(ctx.now)?;
        let main = input.secret.get(&input.main_field).ok_or_else(|| {
            StoreError::Invalid(format!("`secret.{}` is required", input.main_field))
        })?;
        let shown = last_four(main);
        let mut tx = self.write().await?;
        let sealed = SECRET_COLUMN
            .seal(
                self.store,
                &mut tx,
                self.org(),
                id.as_str(),
                &input.secret.to_json(),
            )
            .await?;
        exec!(
            &mut tx,
            "INSERT INTO provider_credentials (id, org_id, kind, label, secret_sealed, last_four, policy, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
            id.as_str(),
            self.org(),
            input.kind.clone(),
            input.label.clone(),
            sealed,
            shown,
            input.policy.to_string(),
            self.actor.member_id().as_str(),
            ctx.now.0
        )?;
        let created = by_id(&mut tx, self.org(), &id).await?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "provider_credential.created",
                target: audit::target("provider_credential", &id),
                details: audit_details(&created),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Replaces the secret fields (all of them: a partial secret would mix
    /// an old and a new credential).
    pub async fn replace_provider_credential(
        &self,
        id: &ProviderCredentialId,
        input: ReplaceProviderCredential,
        ctx: &Ctx,
    ) -> Result<ProviderCredential, StoreError> {
        let main = input.secret.get(&input.main_field).ok_or_else(|| {
            StoreError::Invalid(format!("`secret.{}` is required", input.main_field))
        })?;
        let shown = last_four(main);
        let mut tx = self.write().await?;
        let before = by_id(&mut tx, self.org(), id).await?;
        let sealed = SECRET_COLUMN
            .seal(
                self.store,
                &mut tx,
                self.org(),
                id.as_str(),
                &input.secret.to_json(),
            )
            .await?;
        exec!(
            &mut tx,
            "UPDATE provider_credentials SET secret_sealed = $3, last_four = $4, label = $5, policy = $6, updated_at = $7 \
             WHERE org_id = $1 AND id = $2",
            self.org(),
            id.as_str(),
            sealed,
            shown,
            input.label.unwrap_or(before.label.clone()),
            input.policy.unwrap_or(before.policy.clone()).to_string(),
            ctx.now.0
        )?;
        let after = by_id(&mut tx, self.org(), id).await?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "provider_credential.replaced",
                target: audit::target("provider_credential", id),
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

    pub async fn delete_provider_credential(
        &self,
        id: &ProviderCredentialId,
        ctx: &Ctx,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let before = by_id(&mut tx, self.org(), id).await?;
        exec!(
            &mut tx,
            "DELETE FROM provider_credentials WHERE org_id = $1 AND id = $2",
            self.org(),
            id.as_str()
        )?;
        audit::append(
            &mut tx,
            self.org(),
            Draft {
                actor: self.actor.audit_ref(),
                action: "provider_credential.deleted",
                target: audit::target("provider_credential", id),
                details: audit_details(&before),
            },
            ctx,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Runs `call` with the credential's secret fields in the clear, for an
    /// outbound request to the provider. The plaintext exists only for the
    /// duration of `call` and is zeroized when it returns; no database
    /// transaction is held meanwhile. Whatever `call` returns must not be
    /// the secret itself.
    pub async fn with_provider_secret<T>(
        &self,
        id: &ProviderCredentialId,
        call: impl AsyncFnOnce(&ProviderCredential, &SecretFields) -> T,
    ) -> Result<T, StoreError> {
        let (credential, secret) = {
            let mut tx = self.read().await?;
            let (sealed,) = fetch_optional!(
                &mut tx,
                (Vec<u8>,),
                "SELECT secret_sealed FROM provider_credentials WHERE org_id = $1 AND id = $2",
                self.org(),
                id.as_str()
            )?
            .ok_or(StoreError::NotFound)?;
            let credential = by_id(&mut tx, self.org(), id).await?;
            let plain = SECRET_COLUMN
                .open(self.store, &mut tx, self.org(), id.as_str(), &sealed)
                .await?;
            (credential, SecretFields::from_json(&plain)?)
        };
        Ok(call(&credential, &secret).await)
    }
}

async fn by_id(
    tx: &mut crate::db::Tx,
    org: &str,
    id: &ProviderCredentialId,
) -> Result<ProviderCredential, StoreError> {
    fetch_optional!(
        tx,
        Row,
        "SELECT id, kind, label, last_four, policy, created_by, created_at, updated_at \
         FROM provider_credentials WHERE org_id = $1 AND id = $2",
        org,
        id.as_str()
    )?
    .ok_or(StoreError::NotFound)?
    .into_credential()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_four_only_of_long_secrets() {
        assert_eq!(last_four("sk_live_0123456789abcdef"), "cdef");
        assert_eq!(last_four("short-secret"), "");
        assert_eq!(last_four("ééééééééééééééééxyz1"), "xyz1");
    }

    #[test]
    fn secret_fields_never_print_their_values() {
        let s = SecretFields::new(BTreeMap::from([(
            "api_key".to_owned(),
            Zeroizing::new("sk_live_hidden".to_owned()),
        )]));
        let shown = format!("{s:?}");
        assert!(
            shown.contains("api_key") && !shown.contains("hidden"),
            "{shown}"
        );
        let back = SecretFields::from_json(&s.to_json()).unwrap();
        assert_eq!(back.get("api_key"), Some("sk_live_hidden"));
    }
}
