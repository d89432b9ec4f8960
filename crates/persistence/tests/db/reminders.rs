//! The reminders' look-ups: bounded by what they need and read through their indexes, one tenant's rows only.

use crate::fresh;
use chrono::{Duration, Utc};
use portal_domain::invoice::{BuyerDraft, InvoiceDraft};
use portal_persistence::invoices::{InvoiceContent, InvoiceRepository, TotalsCents};
use portal_persistence::reminders::ReminderRepository;
use portal_persistence::tenants::{NewTenant, TenantRepository};
use portal_persistence::users::UserRepository;
use portal_persistence::{TenantRole, TenantScope};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};

async fn scope_of(
    test: &portal_persistence::testing::TestDatabase,
    slug: &str,
    siren: &str,
) -> TenantScope {
    let tenants = TenantRepository::new(test.db.clone());
    let users = UserRepository::new(test.db.clone());
    let tenant = tenants
        .create(
            NewTenant {
                slug: slug.into(),
                legal_name: slug.to_uppercase(),
                siren: siren.into(),
                vat_number: None,
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let user = users
        .create(&format!("admin@{slug}.fr"), "Admin", "fr")
        .await
        .unwrap();
    tenants
        .add_member(tenant.id, user.id, TenantRole::Admin)
        .await
        .unwrap();
    tenants
        .scope_for_member(user.id, slug)
        .await
        .unwrap()
        .unwrap()
        .1
}

/// The query plan of `statement`, as text (PostgreSQL is told not to prefer a sequential scan of tiny tables).
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
async fn the_overdue_look_up_reads_the_partial_index_and_one_tenant_only() {
    let test = fresh().await;
    let acme = scope_of(&test, "acme", "732829320").await;
    let globex = scope_of(&test, "globex", "443061841").await;
    let invoices = InvoiceRepository::new(test.db.clone());
    let today = Utc::now().date_naive();
    let draft = |number: &str| InvoiceContent {
        customer_id: None,
        draft: InvoiceDraft {
            number: number.to_owned(),
            issue_date: Some(today - Duration::days(40)),
            due_date: Some(today - Duration::days(10)),
            buyer: BuyerDraft::default(),
            ..InvoiceDraft::default()
        },
        totals: TotalsCents {
            excl: 100,
            vat: 20,
            incl: 120,
        },
    };
    let overdue = invoices
        .create_draft(&acme, &draft("A-1"), None)
        .await
        .unwrap();
    invoices
        .mark_sent(&acme, overdue, Utc::now())
        .await
        .unwrap();
    let other = invoices
        .create_draft(&globex, &draft("G-1"), None)
        .await
        .unwrap();
    invoices
        .mark_sent(&globex, other, Utc::now())
        .await
        .unwrap();
    let unsent = invoices
        .create_draft(&acme, &draft("A-2"), None)
        .await
        .unwrap();

    let reminders = ReminderRepository::new(test.db.clone());
    let found = reminders.candidates(&acme, today, None, 50).await.unwrap();
    let ids: Vec<_> = found.iter().map(|candidate| candidate.invoice).collect();
    assert_eq!(
        ids,
        vec![overdue],
        "acme's sent overdue invoice only (not {unsent}, not globex's {other})"
    );
    assert!(
        reminders
            .candidates(&acme, today - Duration::days(11), None, 50)
            .await
            .unwrap()
            .is_empty()
    );

    let look_up = plan(&test.db, reminders.candidates_statement(&acme, today, 50)).await;
    assert!(
        look_up.contains("idx_invoices_tenant_unpaid_due"),
        "{look_up}"
    );
    let due_list = plan(&test.db, reminders.due_list_statement(&acme, 100)).await;
    assert!(
        due_list.contains("idx_reminders_tenant_state_due"),
        "{due_list}"
    );
}
