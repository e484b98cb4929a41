//! PostgreSQL's second line of defence: row-level security that binds the
//! application role even when a query forgets its organization.

use reqwest::Method;
use sqlx::{Connection, PgConnection, Row};

use crate::harness::TestServer;

fn urls() -> Option<(String, String)> {
    if crate::harness::backend() != "postgres" {
        return None;
    }
    Some((
        std::env::var("TOLLGATE_TEST_DATABASE_URL").ok()?,
        std::env::var("TOLLGATE_TEST_MIGRATION_URL").ok()?,
    ))
}

#[tokio::test]
async fn postgres_every_tenant_table_has_forced_rls_with_using_and_with_check() {
    let Some((_, owner)) = urls() else { return };
    let _server = TestServer::start().await; // migrated
    let mut conn = PgConnection::connect(&owner).await.unwrap();
    // A tenant table is any table with an org_id column, plus organizations
    // and users. The exceptions hold no tenant data and are named here so a
    // new one is a deliberate decision: credential_index (public lookup id ->
    // org, read before the org is known), bootstrap_tokens (deployment-level
    // links) and org_directory (ids only, for operator tasks), and a
    // person's own sign-in state: membership_directory (a person's
    // organization ids, read at sign-in before any organization is bound),
    // sign_in_links (a person's emailed links; org_id names the organization
    // an invitation link joins) and sessions (keyed by the person; the organization column is only
    // which one the session works in, and every read goes through
    // session_actor, which binds it); webhook_queue (issue 10: delivery
    // ids, due times and leases, which workers claim across organizations
    // before any is bound; the deliveries themselves are under RLS); and
    // dnc_list_versions (issue 8: the deployment's imported registry
    // versions, public data shared by every organization; it has no org_id,
    // named here so that stays deliberate).
    let tenant: Vec<String> = sqlx::query(
        "SELECT DISTINCT table_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND (column_name = 'org_id' OR table_name IN ('organizations', 'users')) \
         AND table_name NOT IN ('credential_index', 'bootstrap_tokens', 'org_directory', \
         'membership_directory', 'sign_in_links', 'sessions', 'webhook_queue', \
         'dnc_list_versions') ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect();
    assert!(tenant.len() >= 6, "{tenant:?}");
    for table in &tenant {
        let row = sqlx::query("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = $1 AND relkind = 'r'")
            .bind(table)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert!(
            row.get::<bool, _>(0) && row.get::<bool, _>(1),
            "{table} lacks forced row-level security"
        );
        let policies = sqlx::query("SELECT qual, with_check FROM pg_policies WHERE tablename = $1")
            .bind(table)
            .fetch_all(&mut conn)
            .await
            .unwrap();
        assert!(!policies.is_empty(), "{table} has no policy");
        for p in policies {
            let using: Option<String> = p.get(0);
            let check: Option<String> = p.get(1);
            assert!(
                using.is_some() && check.is_some(),
                "{table}: a policy lacks USING or WITH CHECK"
            );
        }
    }
}

#[tokio::test]
async fn postgres_the_app_role_sees_nothing_without_the_org_setting() {
    let Some((app, _)) = urls() else { return };
    let server = TestServer::start().await;
    let org = server.new_org("Rls").await;
    let mut conn = PgConnection::connect(&app).await.unwrap();
    for table in [
        "organizations",
        "memberships",
        "users",
        "api_keys",
        "audit_events",
        "audit_heads",
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let n: i64 = sqlx::query_scalar(&sql).fetch_one(&mut conn).await.unwrap();
        assert_eq!(n, 0, "{table}: the app role saw rows without app.org_id");
    }
    // With the setting, only that organization's rows.
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SELECT set_config('app.org_id', $1, true)")
        .bind(&org.id)
        .execute(&mut *tx)
        .await
        .unwrap();
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM organizations")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(ids, vec![org.id.clone()]);
    // Writing into another organization is refused by WITH CHECK.
    let err = sqlx::query(
        "INSERT INTO organizations (id, name, created_at, updated_at) VALUES ('org_x', 'x', 0, 0)",
    )
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
    tx.rollback().await.unwrap();
    // The app role holds no UPDATE or DELETE on the audit log.
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SELECT set_config('app.org_id', $1, true)")
        .bind(&org.id)
        .execute(&mut *tx)
        .await
        .unwrap();
    let err = sqlx::query("UPDATE audit_events SET action = 'x'")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    tx.rollback().await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    let err = sqlx::query("DELETE FROM audit_events")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    tx.rollback().await.unwrap();
    assert_eq!(
        server.call(&org.key, Method::GET, "/v1/org", None).await.0,
        200
    );
}

#[tokio::test]
async fn postgres_the_server_refuses_a_privileged_connection_role() {
    let Some((_, owner)) = urls() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::harness::config(dir.path());
    config.database.url = owner;
    let err = tollgate_server::prepare(config)
        .await
        .err()
        .expect("the owner role is refused");
    assert!(
        format!("{err:#}").contains("row-level security would not bind it"),
        "{err:#}"
    );
}
