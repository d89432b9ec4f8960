use crate::fresh;
use portal_persistence::TenantRole;
use portal_persistence::jobs::{JobQueue, NewJob};
use portal_persistence::tenants::{NewTenant, TenantRepository};
use portal_persistence::users::UserRepository;
use std::time::Duration;

#[tokio::test]
async fn a_scope_exists_only_for_members_of_an_active_tenant() {
    let test = fresh().await;
    let tenants = TenantRepository::new(test.db.clone());
    let users = UserRepository::new(test.db.clone());
    let acme = tenants
        .create(
            NewTenant {
                slug: "acme".into(),
                legal_name: "ACME SAS".into(),
                siren: "732829320".into(),
                vat_number: None,
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let globex = tenants
        .create(
            NewTenant {
                slug: "globex".into(),
                legal_name: "Globex SARL".into(),
                siren: "443061841".into(),
                vat_number: None,
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let alice = users
        .create("Alice@Example.fr", "Alice", "fr")
        .await
        .unwrap();
    tenants
        .add_member(acme.id, alice.id, TenantRole::Member)
        .await
        .unwrap();

    let (tenant, scope) = tenants
        .scope_for_member(alice.id, "acme")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tenant.id, acme.id);
    assert_eq!(scope.tenant_id(), acme.id);
    assert_eq!(scope.role(), TenantRole::Member);
    assert!(
        tenants
            .scope_for_member(alice.id, "globex")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        tenants
            .scope_for_member(alice.id, "nope")
            .await
            .unwrap()
            .is_none()
    );
    assert_ne!(globex.id, acme.id);

    // A job enqueued for a tenant hands its worker that tenant's scope, and only that one.
    let queue = JobQueue::new(test.db.clone());
    queue
        .enqueue(NewJob::for_tenant(
            &scope,
            "invoice.poll",
            serde_json::json!({}),
        ))
        .await
        .unwrap();
    let job = queue
        .claim("w", Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.tenant_scope().unwrap().tenant_id(), acme.id);
}

#[tokio::test]
async fn emails_are_unique_whatever_their_case() {
    let test = fresh().await;
    let users = UserRepository::new(test.db.clone());
    users.create("bob@example.fr", "Bob", "fr").await.unwrap();
    assert!(
        users
            .create("BOB@example.fr", "Bob again", "en")
            .await
            .is_err()
    );
    assert_eq!(
        users
            .find_by_email(" Bob@Example.FR ")
            .await
            .unwrap()
            .unwrap()
            .name,
        "Bob"
    );
}

#[tokio::test]
async fn create_admin_twice_resets_instead_of_duplicating() {
    use portal_persistence::users::AdminUpsert;
    let test = fresh().await;
    let users = UserRepository::new(test.db.clone());
    let AdminUpsert::Created(id) = users
        .upsert_firm_admin("admin@cabinet.fr", "Admin", "hash1", |_| None)
        .await
        .unwrap()
    else {
        panic!("first call creates");
    };
    let again = users
        .upsert_firm_admin("ADMIN@cabinet.fr", "Admin", "hash2", |_| None)
        .await
        .unwrap();
    assert_eq!(again, AdminUpsert::Reset(id));
    assert_eq!(
        users.password_hash(id).await.unwrap().as_deref(),
        Some("hash2")
    );
    assert!(
        users
            .find_by_email("admin@cabinet.fr")
            .await
            .unwrap()
            .unwrap()
            .is_firm_admin
    );
}
