//! Schema migrations, the grants of the application role, and the checks
//! that the server does not run with more privilege than it needs.
//!
//! Migrations are embedded in the binary, forward-only, one directory per
//! backend. On PostgreSQL they run as the owner role; the server connects
//! as a separate application role that owns nothing, is not a superuser and
//! cannot bypass row-level security, so RLS binds it.

use sqlx::Connection;
use sqlx::migrate::Migrator;

use crate::db::{Backend, Pool, PoolSettings, Tx, fetch_all, fetch_one};
use crate::{Store, StoreError};

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// Tables the application role may read and append to, but never change.
pub const APPEND_ONLY_TABLES: &[&str] = &["audit_events", "audit_checkpoints", "audit_prunes"];

fn migrator(backend: Backend) -> &'static Migrator {
    match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
    }
}

#[derive(Debug, Clone)]
pub struct MigrationReport {
    pub backend: Backend,
    pub applied_before: usize,
    pub applied_now: usize,
    pub granted_to: Option<String>,
}

/// Runs pending migrations with the owner's URL, then (PostgreSQL) grants
/// the application role exactly what it needs.
pub async fn migrate(
    owner_url: &str,
    app_role: Option<&str>,
) -> Result<MigrationReport, StoreError> {
    let pool = Pool::open(
        owner_url,
        &PoolSettings {
            max_connections: 2,
            ..Default::default()
        },
    )
    .await?;
    let backend = pool.backend();
    let before = applied_versions(&pool).await.unwrap_or_default().len();
    match &pool {
        Pool::Sqlite(p, _) => SQLITE.run(p).await?,
        Pool::Postgres(p) => POSTGRES.run(p).await?,
    }
    // The migrator commits on its own, not through `Tx::commit`.
    pool.sync().await?;
    let granted_to = match (&pool, app_role) {
        (Pool::Postgres(p), Some(role)) => {
            grant(p, role).await?;
            Some(role.to_owned())
        }
        _ => None,
    };
    let after = applied_versions(&pool).await?.len();
    pool.close().await;
    Ok(MigrationReport {
        backend,
        applied_before: before,
        applied_now: after - before,
        granted_to,
    })
}

async fn grant(pool: &sqlx::PgPool, role: &str) -> Result<(), StoreError> {
    if role.is_empty()
        || !role
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
    {
        return Err(StoreError::Config(format!(
            "application role `{role}` must be lower-case letters, digits and underscores"
        )));
    }
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    // Several servers may start (and migrate) at once; concurrent GRANTs on
    // the same objects fail with "tuple concurrently updated".
    sqlx::query("SELECT pg_advisory_xact_lock(74610002)")
        .execute(&mut *tx)
        .await?;
    // Identifiers cannot be bound as parameters; the name is validated above.
    let statements = [
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("REVOKE ALL ON _sqlx_migrations FROM {role}"),
        format!("GRANT SELECT ON _sqlx_migrations TO {role}"),
    ];
    for sql in statements.iter().chain(
        APPEND_ONLY_TABLES
            .iter()
            .map(|t| format!("REVOKE UPDATE, DELETE, TRUNCATE ON {t} FROM {role}"))
            .collect::<Vec<_>>()
            .iter(),
    ) {
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn applied_versions(pool: &Pool) -> Result<Vec<i64>, StoreError> {
    let mut tx = pool.read().await?;
    let rows = fetch_all!(
        &mut tx,
        (i64,),
        "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version"
    )?;
    Ok(rows.into_iter().map(|(v,)| v).collect())
}

impl Store {
    /// Whether every embedded migration has been applied (and nothing newer,
    /// which would mean this binary is older than the schema).
    pub async fn migrations_current(&self) -> Result<bool, StoreError> {
        let applied = applied_versions(&self.pool).await?;
        let embedded: Vec<i64> = migrator(self.backend()).iter().map(|m| m.version).collect();
        Ok(applied == embedded)
    }

    /// Refuses a PostgreSQL connection role that could see past row-level
    /// security: a superuser, a role with BYPASSRLS, or the owner of any
    /// table in the schema. SQLite has no roles.
    pub async fn check_least_privilege(&self) -> Result<(), StoreError> {
        let mut tx = match self.pool.read().await? {
            tx @ Tx::Postgres(_) => tx,
            Tx::Sqlite(_) => return Ok(()),
        };
        let (name, superuser, bypass) = fetch_one!(
            &mut tx,
            (String, bool, bool),
            "SELECT rolname::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )?;
        let (owned,) = fetch_one!(
            &mut tx,
            (i64,),
            "SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user"
        )?;
        if superuser || bypass || owned > 0 {
            return Err(StoreError::Config(format!(
                "the server connects to PostgreSQL as `{name}`, which {}; row-level security would not bind it. \
                 Connect as the application role (see docs/deploy.md) and run migrations with database.migration_url",
                if superuser {
                    "is a superuser"
                } else if bypass {
                    "has BYPASSRLS"
                } else {
                    "owns the tables"
                }
            )));
        }
        Ok(())
    }
}
