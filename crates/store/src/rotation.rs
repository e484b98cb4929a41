//! Key rotation, online.
//!
//! KEK rotation re-wraps data keys and never touches sealed data: every DEK
//! gains a wrap under the new KEK beside its old one, so running nodes that
//! hold either KEK keep working; the old wraps are deleted in a second step,
//! once no node holds the old KEK (docs/crypto.md has the procedure).
//!
//! DEK rotation makes a new active key (new values are sealed with it at
//! once, on every node: the active key is looked up per seal), then
//! re-encrypts the organization's existing values in batches. Each batch
//! commits its rows and the cursor in one transaction, so a crash resumes
//! where it stopped. The old key is retired (its wraps deleted) only after a
//! final pass finds no value of any encrypted column still naming it.
//! The same walk seals rows that still hold a value in the clear from before
//! their column was encrypted ([`EncryptedColumn::legacy_plaintext`]), so a
//! finished rotation also leaves no such row behind.

use std::sync::Arc;

use tollgate_core::envelope::{self, KeyEncryptionKey, KeyId, KeyScope, WrapContext};
use tollgate_core::{OrgId, UnixMicros};

use crate::audit::{self, Draft};
use crate::db::{Tx, exec, fetch_all, fetch_optional};
use crate::scope::Ctx;
use crate::vault::{ENCRYPTED_COLUMNS, EncryptedColumn, Vault};
use crate::{Store, StoreError, random_bytes};

fn operator() -> tollgate_core::audit::ActorRef {
    tollgate_core::audit::ActorRef {
        kind: "operator".into(),
        id: None,
    }
}

fn ctx(now: UnixMicros) -> Ctx {
    Ctx {
        now,
        request: Default::default(),
    }
}

/// What a KEK rotation step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KekRotationReport {
    /// Data keys that gained a wrap under the new KEK.
    pub wrapped: u64,
    /// Data keys that already had one (a step run again).
    pub already: u64,
    /// Wraps under other KEKs deleted (with `retire_others`).
    pub retired_wraps: u64,
}

/// Where a DEK rotation stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DekRotationStatus {
    pub org_id: OrgId,
    pub new_key_id: String,
    pub column: String,
    pub after_record: String,
    pub resealed: i64,
    pub finished: bool,
    /// Keys retired when the rotation finished.
    pub retired: Vec<String>,
}

impl Store {
    /// Adds a wrap under `new` to every data key of every organization and
    /// of the system scope, unwrapping with the KEKs this store's vault
    /// holds. With `retire_others`, then deletes every wrap by another KEK,
    /// refusing if any key would be left without a wrap under `new`. Each
    /// organization's step is one transaction with its audit event.
    pub async fn rotate_kek(
        &self,
        new: Arc<dyn KeyEncryptionKey>,
        retire_others: bool,
        now: UnixMicros,
    ) -> Result<KekRotationReport, StoreError> {
        let vault = self.vault()?;
        let mut report = KekRotationReport::default();
        let mut scopes: Vec<Option<OrgId>> = vec![None];
        scopes.extend(self.org_ids().await?.into_iter().map(Some));
        for org in &scopes {
            let mut tx = self.pool.write().await?;
            let org_text = org.as_ref().map(|o| o.as_str().to_owned());
            if let Some(o) = &org_text {
                tx.bind_org(o).await?;
            }
            let scope = match &org_text {
                Some(o) => KeyScope::Org(o),
                None => KeyScope::System,
            };
            let step = rewrap_scope(&mut tx, vault, &*new, scope, retire_others, now).await?;
            if let Some(o) = &org_text
                && (step.wrapped > 0 || step.retired_wraps > 0)
            {
                audit::append(
                    &mut tx,
                    o,
                    Draft {
                        actor: operator(),
                        action: if retire_others {
                            "vault.kek_retired"
                        } else {
                            "vault.kek_rotated"
                        },
                        target: audit::target("kek", new.id()),
                        details: serde_json::json!({
                            "new_kek_id": new.id(),
                            "previous_kek_ids": vault.kek_ids(),
                            "keys_wrapped": step.wrapped,
                            "wraps_deleted": step.retired_wraps,
                        }),
                    },
                    &ctx(now),
                )
                .await?;
            }
            tx.commit().await?;
            report.wrapped += step.wrapped;
            report.already += step.already;
            report.retired_wraps += step.retired_wraps;
        }
        Ok(report)
    }

    /// Every data key of the system scope and of each organization, with
    /// the KEKs that wrap it: what `tollgate keys status` shows, to check
    /// that every live key has a wrap under the current KEK before the
    /// old wraps are deleted.
    pub async fn data_keys(&self) -> Result<Vec<crate::DataKeyInfo>, StoreError> {
        let mut scopes: Vec<Option<OrgId>> = vec![None];
        scopes.extend(self.org_ids().await?.into_iter().map(Some));
        let mut out = Vec::new();
        for org in scopes {
            let mut tx = self.pool.read().await?;
            if let Some(o) = &org {
                tx.bind_org(o.as_str()).await?;
            }
            let scope = org.as_ref().map(|o| o.as_str()).unwrap_or("");
            let keys = fetch_all!(
                &mut tx,
                (String, String, i64, Option<i64>),
                "SELECT id, status, created_at, retired_at FROM data_keys \
                 WHERE coalesce(org_id, '') = $1 ORDER BY created_at, id",
                scope
            )?;
            for (id, status, created_at, retired_at) in keys {
                let keks = fetch_all!(
                    &mut tx,
                    (String,),
                    "SELECT kek_id FROM data_key_wraps WHERE key_id = $1 ORDER BY kek_id",
                    id.clone()
                )?;
                out.push(crate::DataKeyInfo {
                    id,
                    org_id: org.clone(),
                    status,
                    created_at: UnixMicros(created_at),
                    retired_at: retired_at.map(UnixMicros),
                    kek_ids: keks.into_iter().map(|(k,)| k).collect(),
                });
            }
        }
        Ok(out)
    }

    /// The ids of the KEKs this store holds, current first.
    pub fn kek_ids(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .vault()?
            .kek_ids()
            .into_iter()
            .map(str::to_owned)
            .collect())
    }

    /// The last step of a KEK rotation, run with the new KEK configured as
    /// the current one (and the old one as previous): wraps any data key
    /// still lacking a wrap under it, then deletes every other wrap.
    pub async fn finish_kek_rotation(
        &self,
        now: UnixMicros,
    ) -> Result<KekRotationReport, StoreError> {
        let current = self.vault()?.current();
        self.rotate_kek(current, true, now).await
    }

    /// Starts a DEK rotation for `org` (a new active key; the old one
    /// retiring), or returns the unfinished one to resume.
    pub async fn start_dek_rotation(
        &self,
        org: &OrgId,
        now: UnixMicros,
    ) -> Result<DekRotationStatus, StoreError> {
        let vault = self.vault()?;
        let mut tx = self.pool.write().await?;
        tx.bind_org(org.as_str()).await?;
        if let Some(status) = running(&mut tx, org).await? {
            return Ok(status);
        }
        let old = fetch_optional!(
            &mut tx,
            (String,),
            "SELECT id FROM data_keys WHERE org_id = $1 AND status = 'active'",
            org.as_str()
        )?;
        exec!(
            &mut tx,
            "UPDATE data_keys SET status = 'retiring' WHERE org_id = $1 AND status = 'active'",
            org.as_str()
        )?;
        let new =
            crate::vault::create_key(vault, &mut tx, KeyScope::Org(org.as_str()), now).await?;
        let first = org_columns().next().map(column_name).unwrap_or_default();
        exec!(
            &mut tx,
            "INSERT INTO dek_rotations (new_key_id, org_id, column_name, after_record, resealed, started_at) \
             VALUES ($1, $2, $3, '', 0, $4)",
            new.to_string(),
            org.as_str(),
            first,
            now.0
        )?;
        audit::append(
            &mut tx,
            org.as_str(),
            Draft {
                actor: operator(),
                action: "vault.dek_rotated",
                target: audit::target("data_key", new),
                details: serde_json::json!({
                    "new_key_id": new.to_string(),
                    "old_key_id": old.map(|(o,)| o),
                }),
            },
            &ctx(now),
        )
        .await?;
        let status = running(&mut tx, org)
            .await?
            .ok_or_else(|| StoreError::Corrupt("the rotation just started is gone".into()))?;
        tx.commit().await?;
        Ok(status)
    }

    /// The organization's unfinished DEK rotation, if any.
    pub async fn dek_rotation_running(
        &self,
        org: &OrgId,
    ) -> Result<Option<DekRotationStatus>, StoreError> {
        let mut tx = self.pool.read().await?;
        tx.bind_org(org.as_str()).await?;
        running(&mut tx, org).await
    }

    /// Organizations with an unfinished DEK rotation, for the server's
    /// background worker (one indexed read per organization).
    pub async fn pending_dek_rotations(&self) -> Result<Vec<OrgId>, StoreError> {
        let mut out = Vec::new();
        for org in self.org_ids().await? {
            if self.dek_rotation_running(&org).await?.is_some() {
                out.push(org);
            }
        }
        Ok(out)
    }

    /// Runs the organization's unfinished DEK rotation, `batch` rows per
    /// transaction, for at most `max_batches` batches (`None`: to the end).
    /// Returns where it stands; call again to resume. `NotFound` when no
    /// rotation is running (another worker may have just finished it).
    pub async fn run_dek_rotation(
        &self,
        org: &OrgId,
        batch: u32,
        max_batches: Option<u32>,
    ) -> Result<DekRotationStatus, StoreError> {
        let batch = batch.clamp(1, 10_000);
        let mut done = 0u32;
        loop {
            if max_batches.is_some_and(|m| done >= m) {
                let mut tx = self.pool.read().await?;
                tx.bind_org(org.as_str()).await?;
                return running(&mut tx, org).await?.ok_or(StoreError::NotFound);
            }
            let status = self.rotation_batch(org, batch).await?;
            done += 1;
            if status.finished {
                return Ok(status);
            }
        }
    }

    /// One batch of re-encryption, in one transaction with its cursor.
    async fn rotation_batch(
        &self,
        org: &OrgId,
        batch: u32,
    ) -> Result<DekRotationStatus, StoreError> {
        let vault = self.vault()?;
        let now = crate::vault::wall_clock();
        let mut tx = self.pool.write().await?;
        tx.bind_org(org.as_str()).await?;
        // Several workers (the CLI, every server node) may run the same
        // rotation: one batch at a time, each reading the cursor the last
        // one committed. SQLite's write transaction already excludes others.
        if let Tx::Postgres(t) = &mut tx {
            sqlx::query(
                "SELECT 1 FROM dek_rotations WHERE org_id = $1 AND finished_at IS NULL FOR UPDATE",
            )
            .bind(org.as_str())
            .execute(&mut **t)
            .await?;
        }
        // None: another worker finished it meanwhile.
        let mut status = running(&mut tx, org).await?.ok_or(StoreError::NotFound)?;
        let new_key = KeyId::parse_hex(&status.new_key_id)
            .ok_or_else(|| StoreError::Corrupt("rotation key id".into()))?;
        let columns: Vec<&EncryptedColumn> = org_columns().collect();
        let position = columns.iter().position(|c| column_name(c) == status.column);
        match position {
            Some(i) => {
                let column = columns[i];
                let rows = select_batch(&mut tx, column, org.as_str(), &status.after_record, batch)
                    .await?;
                let mut resealed = 0i64;
                for (record, sealed, legacy) in &rows {
                    let aad = column.aad(org.as_str(), record);
                    match (sealed, legacy) {
                        (Some(sealed), _) => {
                            if envelope::key_id_of(sealed).ok() == Some(new_key) {
                                continue;
                            }
                            let plain = self.open_sealed(&mut tx, aad, sealed).await?;
                            let fresh = self.seal(&mut tx, aad, &plain).await?;
                            resealed += compare_and_set(
                                &mut tx,
                                column,
                                org.as_str(),
                                record,
                                sealed,
                                &fresh,
                            )
                            .await? as i64;
                        }
                        (None, Some(text)) => {
                            let fresh = self.seal(&mut tx, aad, text).await?;
                            resealed += seal_legacy(&mut tx, column, org.as_str(), record, &fresh)
                                .await? as i64;
                        }
                        // Nothing stored yet (an idempotency claim in
                        // flight; the calls tables' CHECK forbids it): no
                        // key is named, so nothing holds the rotation back.
                        (None, None) => {}
                    }
                }
                status.resealed += resealed;
                if rows.len() == batch as usize {
                    status.after_record = rows.last().map(|r| r.0.clone()).unwrap_or_default();
                } else {
                    status.column = columns
                        .get(i + 1)
                        .map(|c| column_name(c))
                        .unwrap_or_default();
                    status.after_record = String::new();
                }
                save(&mut tx, org, &status).await?;
            }
            None => {
                // Every column walked: retire the old keys if nothing
                // references them, else walk again (a seal that began
                // before the rotation may have committed behind the cursor).
                let mut left = 0i64;
                for column in &columns {
                    left += count_other_keys(&mut tx, column, org.as_str(), &new_key).await?;
                }
                if left > 0 {
                    status.column = columns.first().map(|c| column_name(c)).unwrap_or_default();
                    status.after_record = String::new();
                    save(&mut tx, org, &status).await?;
                } else {
                    status.retired = retire(&mut tx, vault, org, now).await?;
                    exec!(
                        &mut tx,
                        "UPDATE dek_rotations SET finished_at = $2 WHERE org_id = $1 AND new_key_id = $3",
                        org.as_str(),
                        now.0,
                        status.new_key_id.clone()
                    )?;
                    status.finished = true;
                    audit::append(
                        &mut tx,
                        org.as_str(),
                        Draft {
                            actor: operator(),
                            action: "vault.dek_retired",
                            target: audit::target("data_key", &status.new_key_id),
                            details: serde_json::json!({
                                "active_key_id": status.new_key_id,
                                "retired_key_ids": status.retired,
                                "values_resealed": status.resealed,
                            }),
                        },
                        &ctx(now),
                    )
                    .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(status)
    }
}

fn org_columns() -> impl Iterator<Item = &'static EncryptedColumn> {
    ENCRYPTED_COLUMNS.iter().copied().filter(|c| !c.system)
}

fn column_name(c: &EncryptedColumn) -> String {
    format!("{}.{}", c.table, c.column)
}

async fn running(tx: &mut Tx, org: &OrgId) -> Result<Option<DekRotationStatus>, StoreError> {
    let row = fetch_optional!(
        &mut *tx,
        (String, String, String, i64),
        "SELECT new_key_id, column_name, after_record, resealed FROM dek_rotations \
         WHERE org_id = $1 AND finished_at IS NULL",
        org.as_str()
    )?;
    Ok(row.map(
        |(new_key_id, column, after_record, resealed)| DekRotationStatus {
            org_id: org.clone(),
            new_key_id,
            column,
            after_record,
            resealed,
            finished: false,
            retired: Vec::new(),
        },
    ))
}

async fn save(tx: &mut Tx, org: &OrgId, s: &DekRotationStatus) -> Result<(), StoreError> {
    exec!(
        &mut *tx,
        "UPDATE dek_rotations SET column_name = $3, after_record = $4, resealed = $5 \
         WHERE org_id = $1 AND new_key_id = $2 AND finished_at IS NULL",
        org.as_str(),
        s.new_key_id.clone(),
        s.column.clone(),
        s.after_record.clone(),
        s.resealed
    )?;
    Ok(())
}

/// Marks the organization's retiring keys retired and deletes their wraps:
/// from here on nothing can unwrap them.
async fn retire(
    tx: &mut Tx,
    vault: &Vault,
    org: &OrgId,
    now: UnixMicros,
) -> Result<Vec<String>, StoreError> {
    let ids = fetch_all!(
        &mut *tx,
        (String,),
        "SELECT id FROM data_keys WHERE org_id = $1 AND status = 'retiring' ORDER BY id",
        org.as_str()
    )?;
    let mut out = Vec::with_capacity(ids.len());
    for (id,) in ids {
        exec!(
            &mut *tx,
            "DELETE FROM data_key_wraps WHERE org_id = $1 AND key_id = $2",
            org.as_str(),
            id.clone()
        )?;
        exec!(
            &mut *tx,
            "UPDATE data_keys SET status = 'retired', retired_at = $3 WHERE org_id = $1 AND id = $2",
            org.as_str(),
            id.clone(),
            now.0
        )?;
        if let Some(k) = KeyId::parse_hex(&id) {
            vault.forget(&k);
        }
        out.push(id);
    }
    Ok(out)
}

/// Re-wraps the keys of one scope under `new` (see [`Store::rotate_kek`]).
async fn rewrap_scope(
    tx: &mut Tx,
    vault: &Vault,
    new: &dyn KeyEncryptionKey,
    scope: KeyScope<'_>,
    retire_others: bool,
    now: UnixMicros,
) -> Result<KekRotationReport, StoreError> {
    let org = match scope {
        KeyScope::Org(o) => o,
        KeyScope::System => "",
    };
    let keys = fetch_all!(
        &mut *tx,
        (String,),
        "SELECT id FROM data_keys WHERE coalesce(org_id, '') = $1 AND status <> 'retired' ORDER BY id",
        org
    )?;
    let mut report = KekRotationReport::default();
    for (id,) in keys {
        let key_id = KeyId::parse_hex(&id)
            .ok_or_else(|| StoreError::Corrupt(format!("data key id `{id}`")))?;
        let has_new = fetch_optional!(
            &mut *tx,
            (i32,),
            "SELECT 1 FROM data_key_wraps WHERE key_id = $1 AND kek_id = $2",
            id.clone(),
            new.id()
        )?
        .is_some();
        if has_new {
            report.already += 1;
        } else {
            // The DEK comes from the old wrap; sealed data is not read.
            let dek = crate::vault::key_by_id(vault, tx, key_id, scope).await?;
            let nonce = random_bytes::<12>()?;
            let wrapped = new
                .wrap(&dek, WrapContext { scope, key_id }, *nonce)
                .await
                .map_err(StoreError::Sealed)?;
            // Proves the new wrap opens before anything relies on it.
            new.unwrap(&wrapped, WrapContext { scope, key_id })
                .await
                .map_err(StoreError::Sealed)?;
            exec!(
                &mut *tx,
                "INSERT INTO data_key_wraps (key_id, org_id, kek_id, wrapped, created_at) VALUES ($1, $2, $3, $4, $5)",
                id.clone(),
                match scope {
                    KeyScope::Org(o) => Some(o.to_owned()),
                    KeyScope::System => None,
                },
                new.id(),
                wrapped,
                now.0
            )?;
            report.wrapped += 1;
        }
        if retire_others {
            report.retired_wraps += exec!(
                &mut *tx,
                "DELETE FROM data_key_wraps WHERE key_id = $1 AND kek_id <> $2",
                id.clone(),
                new.id()
            )?;
        }
    }
    Ok(report)
}

// The statements below name a table and column from ENCRYPTED_COLUMNS,
// compile-time constants of this crate, never input: the one place where
// SQL text is built rather than written out, because the walk is the same
// for every encrypted column.

/// A row of a batch: record id, sealed value, legacy plaintext.
type BatchRow = (String, Option<Vec<u8>>, Option<Vec<u8>>);
type Batch = Vec<BatchRow>;

/// The legacy plaintext of a row: a TEXT column (transcripts, extractions)
/// or a BLOB one (idempotency responses); PostgreSQL decodes each only as
/// its own type.
fn legacy_bytes<R: sqlx::Row>(row: &R) -> Result<Option<Vec<u8>>, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<Vec<u8>>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    match row.try_get::<Option<Vec<u8>>, _>(2) {
        Ok(v) => Ok(v),
        Err(_) => Ok(row.try_get::<Option<String>, _>(2)?.map(String::into_bytes)),
    }
}

fn batch_row<R: sqlx::Row>(row: &R) -> Result<BatchRow, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<Vec<u8>>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok((row.try_get(0)?, row.try_get(1)?, legacy_bytes(row)?))
}

async fn select_batch(
    tx: &mut Tx,
    c: &EncryptedColumn,
    org: &str,
    after: &str,
    limit: u32,
) -> Result<Batch, StoreError> {
    let sql = format!(
        "SELECT {id}, {col}, {legacy} FROM {table} WHERE org_id = $1 AND {id} > $2 ORDER BY {id} LIMIT $3",
        id = c.id_column,
        col = c.column,
        legacy = c.legacy_plaintext.unwrap_or("CAST(NULL AS TEXT)"),
        table = c.table
    );
    Ok(match tx {
        Tx::Sqlite(t) => sqlx::query(&sql)
            .bind(org)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&mut **t)
            .await?
            .iter()
            .map(batch_row)
            .collect::<Result<_, _>>()?,
        Tx::Postgres(t) => sqlx::query(&sql)
            .bind(org)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&mut **t)
            .await?
            .iter()
            .map(batch_row)
            .collect::<Result<_, _>>()?,
    })
}

/// Replaces a value only if it is still the one read: a value replaced
/// meanwhile was sealed under the active key already.
async fn compare_and_set(
    tx: &mut Tx,
    c: &EncryptedColumn,
    org: &str,
    record: &str,
    old: &[u8],
    new: &[u8],
) -> Result<u64, StoreError> {
    let sql = format!(
        "UPDATE {table} SET {col} = $1 WHERE org_id = $2 AND {id} = $3 AND {col} = $4",
        id = c.id_column,
        col = c.column,
        table = c.table
    );
    Ok(match tx {
        Tx::Sqlite(t) => sqlx::query(&sql)
            .bind(new)
            .bind(org)
            .bind(record)
            .bind(old)
            .execute(&mut **t)
            .await?
            .rows_affected(),
        Tx::Postgres(t) => sqlx::query(&sql)
            .bind(new)
            .bind(org)
            .bind(record)
            .bind(old)
            .execute(&mut **t)
            .await?
            .rows_affected(),
    })
}

/// Seals a row that still held its value in the clear, clearing the text
/// in the same statement; only if no one sealed it meanwhile.
async fn seal_legacy(
    tx: &mut Tx,
    c: &EncryptedColumn,
    org: &str,
    record: &str,
    sealed: &[u8],
) -> Result<u64, StoreError> {
    let Some(legacy) = c.legacy_plaintext else {
        return Ok(0);
    };
    let sql = format!(
        "UPDATE {table} SET {col} = $1, {legacy} = NULL \
         WHERE org_id = $2 AND {id} = $3 AND {col} IS NULL AND {legacy} IS NOT NULL",
        id = c.id_column,
        col = c.column,
        table = c.table
    );
    Ok(match tx {
        Tx::Sqlite(t) => sqlx::query(&sql)
            .bind(sealed)
            .bind(org)
            .bind(record)
            .execute(&mut **t)
            .await?
            .rows_affected(),
        Tx::Postgres(t) => sqlx::query(&sql)
            .bind(sealed)
            .bind(org)
            .bind(record)
            .execute(&mut **t)
            .await?
            .rows_affected(),
    })
}

/// Rows of the column sealed under another key than `key` (bytes 2 to 17
/// of the format are the key id), and rows still holding legacy plaintext.
/// A row with neither (an idempotency claim still in flight) names no key.
async fn count_other_keys(
    tx: &mut Tx,
    c: &EncryptedColumn,
    org: &str,
    key: &KeyId,
) -> Result<i64, StoreError> {
    let sql = format!(
        "SELECT COUNT(*) FROM {table} WHERE org_id = $1 \
         AND (({col} IS NULL AND {legacy} IS NOT NULL) OR substr({col}, 2, 16) <> $2)",
        col = c.column,
        legacy = c.legacy_plaintext.unwrap_or("CAST(NULL AS TEXT)"),
        table = c.table
    );
    let (n,): (i64,) = match tx {
        Tx::Sqlite(t) => {
            sqlx::query_as(&sql)
                .bind(org)
                .bind(key.0.to_vec())
                .fetch_one(&mut **t)
                .await?
        }
        Tx::Postgres(t) => {
            sqlx::query_as(&sql)
                .bind(org)
                .bind(key.0.to_vec())
                .fetch_one(&mut **t)
                .await?
        }
    };
    Ok(n)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tollgate_core::id::ProviderCredentialId;
    use zeroize::Zeroizing;

    use super::*;
    use crate::scope::test_owner as actor;
    use crate::vault::tests::{ORG_A, ORG_B, kek, store};
    use crate::{NewProviderCredential, ProviderCredential, SecretFields};

    fn secret(value: &str) -> SecretFields {
        SecretFields::new(BTreeMap::from([(
            "api_key".to_owned(),
            Zeroizing::new(value.to_owned()),
        )]))
    }

    async fn create(store: &Store, org: &str, value: &str) -> ProviderCredential {
        let actor = actor(org);
        store
            .scope(&actor)
            .create_provider_credential(
                NewProviderCredential {
                    kind: "retell".into(),
                    label: "l".into(),
                    secret: secret(value),
                    main_field: "api_key".into(),
                    policy: serde_json::json!({"retention": "zero"}),
                },
                // Distinct milliseconds: ids sort in creation order.
                &ctx(UnixMicros(
                    1_000 * NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                )),
            )
            .await
            .unwrap()
    }

    static NEXT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);

    async fn plaintext(
        store: &Store,
        org: &str,
        id: &ProviderCredentialId,
    ) -> Result<String, StoreError> {
        let actor = actor(org);
        store
            .scope(&actor)
            .with_provider_secret(id, async |_, s: &SecretFields| {
                s.get("api_key").unwrap().to_owned()
            })
            .await
    }

    /// Key ids named by the org's sealed credentials.
    async fn key_ids(store: &Store, org: &str) -> Vec<KeyId> {
        let mut tx = store.pool.read().await.unwrap();
        tx.bind_org(org).await.unwrap();
        let rows = fetch_all!(
            &mut tx,
            (Vec<u8>,),
            "SELECT secret_sealed FROM provider_credentials WHERE org_id = $1 ORDER BY id",
            org
        )
        .unwrap();
        rows.iter()
            .map(|(s,)| envelope::key_id_of(s).unwrap())
            .collect()
    }

    async fn audit_actions(store: &Store, org: &str) -> Vec<String> {
        let mut tx = store.pool.read().await.unwrap();
        tx.bind_org(org).await.unwrap();
        fetch_all!(
            &mut tx,
            (String,),
            "SELECT action FROM audit_events WHERE org_id = $1 ORDER BY seq",
            org
        )
        .unwrap()
        .into_iter()
        .map(|(a,)| a)
        .collect()
    }

    fn with_keks(store: &Store, keks: &[u8]) -> Store {
        let previous = keks[1..].iter().map(|n| kek(*n)).collect();
        Store {
            vault: Some(Arc::new(Vault::new(kek(keks[0]), previous))),
            ..store.clone()
        }
    }

    #[tokio::test]
    async fn credentials_open_only_in_their_org_and_only_inside_the_closure() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), &[7]).await;
        let c = create(&store, ORG_A, "sk_live_0123456789abcdef").await;
        assert_eq!(c.last_four, "cdef");
        assert_eq!(
            plaintext(&store, ORG_A, &c.id).await.unwrap(),
            "sk_live_0123456789abcdef"
        );
        assert!(matches!(
            plaintext(&store, ORG_B, &c.id).await,
            Err(StoreError::NotFound)
        ));
        // The database file and its write-ahead log hold no plaintext.
        let mut bytes = Vec::new();
        for f in ["t.db", "t.db-wal"] {
            bytes.extend(std::fs::read(dir.path().join(f)).unwrap_or_default());
        }
        assert!(bytes.len() > 4096, "the database was read");
        assert!(!bytes.windows(8).any(|w| w == b"sk_live_"));
    }

    #[tokio::test]
    async fn a_value_copied_to_another_row_does_not_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), &[7]).await;
        let one = create(&store, ORG_A, "sk_live_first_0123456789").await;
        let two = create(&store, ORG_A, "sk_live_second_0123456789").await;
        let mut tx = store.pool.write().await.unwrap();
        exec!(
            &mut tx,
            "UPDATE provider_credentials SET secret_sealed = (SELECT secret_sealed FROM provider_credentials WHERE id = $1) WHERE id = $2",
            one.id.as_str(),
            two.id.as_str()
        )
        .unwrap();
        tx.commit().await.unwrap();
        assert!(matches!(
            plaintext(&store, ORG_A, &two.id).await,
            Err(StoreError::Sealed(envelope::SealError::Rejected))
        ));
        assert!(plaintext(&store, ORG_A, &one.id).await.is_ok());
    }

    #[tokio::test]
    async fn the_number_hash_secret_survives_a_kek_rotation() {
        // Suppressions match by a hash keyed with this secret: if a KEK
        // rotation changed it, every suppressed number would stop matching.
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), &[7]).await;
        let first = store
            .system_secret("number_hash", UnixMicros(1))
            .await
            .unwrap();
        assert_eq!(
            *store
                .system_secret("number_hash", UnixMicros(2))
                .await
                .unwrap(),
            *first,
            "created once"
        );
        assert_ne!(
            *store.system_secret("other", UnixMicros(2)).await.unwrap(),
            *first
        );
        store
            .rotate_kek(kek(8), false, UnixMicros(3))
            .await
            .unwrap();
        let transition = with_keks(&store, &[8, 7]);
        transition
            .rotate_kek(kek(8), true, UnixMicros(4))
            .await
            .unwrap();
        let after = with_keks(&store, &[8]);
        assert_eq!(
            *after
                .system_secret("number_hash", UnixMicros(5))
                .await
                .unwrap(),
            *first
        );
    }

    #[tokio::test]
    async fn kek_rotation_rewraps_without_touching_data_and_old_nodes_keep_working() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), &[7]).await;
        let a = create(&store, ORG_A, "sk_live_alpha_0123456789").await;
        let b = create(&store, ORG_B, "sk_live_bravo_0123456789").await;
        let sys = crate::vault::tests::seal_in(
            &store,
            ORG_A,
            envelope::Aad::system("users", "usr_1", "totp"),
            b"seed",
        )
        .await;
        let sealed_before = (key_ids(&store, ORG_A).await, key_ids(&store, ORG_B).await);

        let report = store
            .rotate_kek(kek(8), false, UnixMicros(2))
            .await
            .unwrap();
        assert_eq!(
            (report.wrapped, report.already, report.retired_wraps),
            (3, 0, 0)
        );
        // Run again: nothing more to do.
        let again = store
            .rotate_kek(kek(8), false, UnixMicros(3))
            .await
            .unwrap();
        assert_eq!((again.wrapped, again.already), (0, 3));
        assert_eq!(
            sealed_before,
            (key_ids(&store, ORG_A).await, key_ids(&store, ORG_B).await)
        );

        // A node with only the new KEK, and a node still on the old one.
        let new_node = with_keks(&store, &[8]);
        let old_node = with_keks(&store, &[7]);
        for node in [&new_node, &old_node] {
            assert_eq!(
                plaintext(node, ORG_A, &a.id).await.unwrap(),
                "sk_live_alpha_0123456789"
            );
            assert_eq!(
                plaintext(node, ORG_B, &b.id).await.unwrap(),
                "sk_live_bravo_0123456789"
            );
            let opened = crate::vault::tests::open_in(
                node,
                ORG_B,
                envelope::Aad::system("users", "usr_1", "totp"),
                &sys,
            )
            .await
            .unwrap();
            assert_eq!(&**opened, b"seed");
        }

        // Retire the old wraps with the new KEK current: the old KEK is
        // now useless to a fresh node.
        let transition = with_keks(&store, &[8, 7]);
        let retired = transition
            .rotate_kek(kek(8), true, UnixMicros(4))
            .await
            .unwrap();
        assert_eq!(retired.retired_wraps, 3);
        let stale = with_keks(&store, &[7]);
        assert!(matches!(
            plaintext(&stale, ORG_A, &a.id).await,
            Err(StoreError::Config(_))
        ));
        let fresh = with_keks(&store, &[8]);
        assert_eq!(
            plaintext(&fresh, ORG_A, &a.id).await.unwrap(),
            "sk_live_alpha_0123456789"
        );
        let actions = audit_actions(&store, ORG_A).await;
        assert!(
            actions.contains(&"vault.kek_rotated".to_owned()),
            "{actions:?}"
        );
        assert!(
            actions.contains(&"vault.kek_retired".to_owned()),
            "{actions:?}"
        );
    }

    #[tokio::test]
    async fn dek_rotation_resumes_after_a_crash_and_retires_the_old_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), &[7]).await;
        let mut creds = Vec::new();
        for i in 0..25 {
            creds.push(create(&store, ORG_A, &format!("sk_live_alpha_{i:04}_0123456789")).await);
        }
        let b = create(&store, ORG_B, "sk_live_bravo_0123456789").await;
        let b_keys = key_ids(&store, ORG_B).await;
        let old = key_ids(&store, ORG_A).await[0];
        let org = OrgId::parse(ORG_A).unwrap();

        let started = store.start_dek_rotation(&org, UnixMicros(5)).await.unwrap();
        assert_ne!(started.new_key_id, old.to_string());
        // New values are sealed under the new key at once.
        creds.push(create(&store, ORG_A, "sk_live_alpha_late_0123456789").await);
        let late = key_ids(&store, ORG_A).await;
        assert_eq!(late.last().unwrap().to_string(), started.new_key_id);
        assert!(late[..25].iter().all(|k| *k == old));

        // Two batches of four, then the process dies.
        let partial = store.run_dek_rotation(&org, 4, Some(2)).await.unwrap();
        assert!(!partial.finished);
        assert_eq!(partial.resealed, 8);
        assert_eq!(partial.after_record, creds[7].id.to_string());
        store.close().await;

        // A new process: the cursor is where the crash left it, and every
        // value opens meanwhile (under the retiring key or the new one).
        let store = with_keks(&crate::vault::tests::store(dir.path(), &[7]).await, &[7]);
        let resumed = store.start_dek_rotation(&org, UnixMicros(6)).await.unwrap();
        assert_eq!(resumed.new_key_id, started.new_key_id);
        assert_eq!(resumed.after_record, creds[7].id.to_string());
        for (i, c) in creds.iter().enumerate().take(25) {
            assert_eq!(
                plaintext(&store, ORG_A, &c.id).await.unwrap(),
                format!("sk_live_alpha_{i:04}_0123456789")
            );
        }
        let done = store.run_dek_rotation(&org, 4, None).await.unwrap();
        assert!(done.finished);
        assert_eq!(done.resealed, 25);
        assert_eq!(done.retired, vec![old.to_string()]);
        let ids = key_ids(&store, ORG_A).await;
        assert!(ids.iter().all(|k| k.to_string() == started.new_key_id));
        for (i, c) in creds.iter().enumerate().take(25) {
            assert_eq!(
                plaintext(&store, ORG_A, &c.id).await.unwrap(),
                format!("sk_live_alpha_{i:04}_0123456789")
            );
        }
        // The retired key is gone: no wrap is left to unwrap it.
        let mut tx = store.pool.read().await.unwrap();
        tx.bind_org(ORG_A).await.unwrap();
        let wraps = fetch_all!(
            &mut tx,
            (String,),
            "SELECT kek_id FROM data_key_wraps WHERE key_id = $1",
            old.to_string()
        )
        .unwrap();
        assert!(wraps.is_empty());
        drop(tx);
        // The other organization is untouched.
        assert_eq!(key_ids(&store, ORG_B).await, b_keys);
        assert_eq!(
            plaintext(&store, ORG_B, &b.id).await.unwrap(),
            "sk_live_bravo_0123456789"
        );
        let actions = audit_actions(&store, ORG_A).await;
        assert!(actions.contains(&"vault.dek_rotated".to_owned()));
        assert!(actions.contains(&"vault.dek_retired".to_owned()));
        // A finished rotation is not resumed: the next call starts anew.
        let next = store.start_dek_rotation(&org, UnixMicros(7)).await.unwrap();
        assert_ne!(next.new_key_id, started.new_key_id);
    }

    #[tokio::test]
    async fn a_value_written_behind_the_cursor_under_the_old_key_delays_retirement() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path(), &[7]).await;
        let mut creds = Vec::new();
        for i in 0..10 {
            creds.push(create(&store, ORG_A, &format!("sk_live_alpha_{i:04}_0123456789")).await);
        }
        let sealed_old = |id: &ProviderCredentialId| {
            let store = store.clone();
            let id = id.to_string();
            async move {
                let mut tx = store.pool.read().await.unwrap();
                fetch_one_blob(&mut tx, &id).await
            }
        };
        let stale = sealed_old(&creds[3].id).await;
        let org = OrgId::parse(ORG_A).unwrap();
        store.start_dek_rotation(&org, UnixMicros(5)).await.unwrap();
        // 10 values in batches of 4: three batches walk the column, one
        // batch each the (empty) columns of calls, idempotency keys and
        // webhook secrets.
        let walked = store.run_dek_rotation(&org, 4, Some(7)).await.unwrap();
        assert_eq!((walked.column.as_str(), walked.resealed), ("", 10));
        // A write that read the old active key before the rotation commits
        // now, behind the cursor.
        let mut tx = store.pool.write().await.unwrap();
        exec!(
            &mut tx,
            "UPDATE provider_credentials SET secret_sealed = $1 WHERE id = $2",
            stale.clone(),
            creds[3].id.as_str()
        )
        .unwrap();
        tx.commit().await.unwrap();
        // The final check finds it and walks again instead of retiring.
        let checked = store.run_dek_rotation(&org, 4, Some(1)).await.unwrap();
        assert!(!checked.finished);
        assert_eq!(checked.column, "provider_credentials.secret_sealed");
        let done = store.run_dek_rotation(&org, 4, None).await.unwrap();
        assert!(done.finished);
        assert_eq!(done.resealed, 11);
        assert_eq!(
            plaintext(&store, ORG_A, &creds[3].id).await.unwrap(),
            "sk_live_alpha_0003_0123456789"
        );
    }

    async fn fetch_one_blob(tx: &mut Tx, id: &str) -> Vec<u8> {
        crate::db::fetch_one!(
            tx,
            (Vec<u8>,),
            "SELECT secret_sealed FROM provider_credentials WHERE id = $1",
            id
        )
        .unwrap()
        .0
    }
}
