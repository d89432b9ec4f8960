//! The firm console's health statement: one statement for every company (each company's part read through an
//! index that leads with the tenant, never a scan of the invoices: checked in tests/db/plans.rs).

use crate::fresh;
use chrono::Utc;
use portal_persistence::firm_console::FirmConsoleRepository;
use portal_persistence::tenants::{NewTenant, TenantRepository};
use portal_persistence::users::UserRepository;

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
    // Its plan (each company's part on an index that leads with the tenant) is checked in tests/db/plans.rs.
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
