//! The firm console's health statement: one statement for every company, each company's part read through an
//! index that leads with the tenant, never a scan of the invoices.

use crate::fresh;
use chrono::Utc;
use portal_persistence::firm_console::FirmConsoleRepository;
use portal_persistence::tenants::{NewTenant, TenantRepository};
use portal_persistence::users::UserRepository;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};

/// The query plan of `statement`, as text (PostgreSQL is told not to prefer a sequential scan of tiny tables).
#[expect(
    clippy::unwrap_used,
    reason = "a test helper: its failure is the test's"
)]
async fn plan(db: &sea_orm::DatabaseConnection, statement: Statement) -> String {
    let backend = db.get_database_backend();
    let txn = db.begin().await.unwrap();
    let prefix = match backend {
        DbBackend::Postgres => {
            txn.execute_unprepared("SET LOCAL enable_seqscan = off")
                .await
                .unwrap();
            "EXPLAIN "
        }
        _ => "EXPLAIN QUERY PLAN ",
    };
    let explained = Statement::from_sql_and_values(
        backend,
        format!("{prefix}{}", statement.sql),
        statement.values.map(|values| values.0).unwrap_or_default(),
    );
    let rows = txn.query_all_raw(explained).await.unwrap();
    txn.rollback().await.unwrap();
    rows.iter()
        .map(|row| {
            row.try_get_by_index::<String>(if backend == DbBackend::Postgres { 0 } else { 3 })
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_health_of_every_company_is_one_statement_reading_indexes_only() {
    let test = fresh().await;
    let tenants = TenantRepository::new(test.db.clone());
    for (slug, siren) in [("acme", "732829320"), ("globex", "443061841")] {
        tenants
            .create(
                NewTenant {
                    slug: slug.into(),
                    legal_name: slug.to_uppercase(),
                    siren: siren.into(),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
    }
    let users = UserRepository::new(test.db.clone());
    users
        .upsert_firm_admin("cabinet@firm.fr", "Cabinet", "hash", |_| None)
        .await
        .unwrap();
    let admin = users
        .find_by_email("cabinet@firm.fr")
        .await
        .unwrap()
        .unwrap();
    let scopes: Vec<_> = portal_persistence::firm::FirmRepository::new(test.db.clone())
        .visible_scopes(&admin)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, scope)| scope)
        .collect();
    assert_eq!(scopes.len(), 2);
    let console = FirmConsoleRepository::new(test.db.clone());
    let now = Utc::now();
    let statement = console.company_health_statement(&scopes, now, now.date_naive());
    let plan = plan(&test.db, statement).await;
    match test.db.get_database_backend() {
        DbBackend::Postgres => {
            assert!(!plan.contains("Seq Scan on invoices"), "{plan}");
            for index in [
                "invoice_sent_months_pkey",
                "idx_invoices_open_requests",
                "idx_webhook_deliveries_tenant",
                "invoice_counts_pkey",
            ] {
                assert!(plan.contains(index), "{index} in {plan}");
            }
        }
        _ => {
            assert!(
                !plan.lines().any(|line| line.starts_with("SCAN i")),
                "no scan of the invoices: {plan}"
            );
            // Invoices sent this month and failures come from the counts kept per company (migration 000021).
            for index in [
                "sqlite_autoindex_invoice_sent_months_1",
                "idx_invoices_open_requests",
                "idx_webhook_deliveries_tenant",
                "sqlite_autoindex_invoice_counts_1",
            ] {
                assert!(plan.contains(index), "{index} in {plan}");
            }
        }
    }
    // And it answers, for both companies, with nothing yet.
    let rows = console
        .company_health(&scopes, now, now.date_naive())
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|row| row.sent_this_month == 0 && row.overdue_cents == 0)
    );
    // A person who holds no scope sees nothing (not everything).
    assert!(
        console
            .company_health(&[], now, now.date_naive())
            .await
            .unwrap()
            .is_empty()
    );
}
