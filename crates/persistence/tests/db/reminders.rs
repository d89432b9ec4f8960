//! The reminders' look-ups: one tenant's rows only (their plans, on their partial indexes, are checked in
//! tests/db/plans.rs).

use crate::fresh;
use chrono::{Duration, Utc};
use portal_domain::invoice::{BuyerDraft, InvoiceDraft};
use portal_persistence::invoices::{InvoiceContent, InvoiceRepository, TotalsCents};
use portal_persistence::reminders::ReminderRepository;
use portal_persistence::tenants::{NewTenant, TenantRepository};
use portal_persistence::users::UserRepository;
use portal_persistence::{TenantRole, TenantScope};

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
    // The look-up's and the due list's plans (their partial indexes) are checked in tests/db/plans.rs.
}
