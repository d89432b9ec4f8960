//! The "last active admin" rule holds under concurrency: two demotions of a tenant's last two admins (or two
//! revocations of the firm's last two administrators) at the same moment never leave zero. On PostgreSQL each
//! check reads what it checks under a row lock (the tenant's row, the firm administrators' rows); on SQLite the
//! transaction takes the write lock at its start (`db::begin_write`), so neither fails with "database is locked".

use crate::fresh;
use portal_persistence::TenantRole;
use portal_persistence::audit::AuditEntry;
use portal_persistence::entities::memberships;
use portal_persistence::tenants::{MembershipError, TenantProfile, TenantRepository};
use portal_persistence::users::UserRepository;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

/// Tenants demoted at once, each by two concurrent changes: enough for the race to show on PostgreSQL without
/// the lock (both demotions of a tenant then pass their count of two, and it has no admin left).
const TENANTS: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_demotions_of_the_last_two_admins_leave_one() {
    let test = fresh().await;
    let tenants = TenantRepository::new(test.db.clone());
    let users = UserRepository::new(test.db.clone());
    let mut pairs = Vec::new();
    for n in 0..TENANTS {
        let tenant = tenants
            .create(
                TenantProfile {
                    slug: format!("t{n}"),
                    legal_name: format!("T{n}"),
                    siren: "732829320".into(),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        let mut admins = Vec::new();
        for who in ["a", "b"] {
            let user = users
                .create(&format!("{who}{n}@t.fr"), who, "fr")
                .await
                .unwrap();
            tenants
                .add_member(tenant.id, user.id, TenantRole::Admin)
                .await
                .unwrap();
            admins.push(user.id);
        }
        let (_, scope) = tenants
            .scope_for_member(admins[0], &format!("t{n}"))
            .await
            .unwrap()
            .unwrap();
        pairs.push((tenant.id, scope, admins));
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(TENANTS * 2));
    let mut changes = Vec::new();
    for (_, scope, admins) in &pairs {
        for admin in admins {
            let (tenants, scope, admin, barrier) =
                (tenants.clone(), scope.clone(), *admin, barrier.clone());
            changes.push(tokio::spawn(async move {
                barrier.wait().await;
                tenants
                    .change_member(
                        &scope,
                        admin,
                        TenantRole::Member,
                        true,
                        AuditEntry::new("user.role_changed", format!("user:{admin}")),
                    )
                    .await
            }));
        }
    }
    let mut outcomes = Vec::new();
    for change in changes {
        outcomes.push(change.await.unwrap());
    }
    let unexpected: Vec<String> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Ok(()) | Err(MembershipError::LastAdmin) => None,
            Err(other) => Some(other.to_string()),
        })
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}");
    for (tenant, _, _) in &pairs {
        let admins = memberships::Entity::find()
            .filter(memberships::Column::TenantId.eq(tenant.as_uuid()))
            .filter(memberships::Column::Role.eq(TenantRole::Admin.as_str()))
            .filter(memberships::Column::Active.eq(true))
            .count(&test.db)
            .await
            .unwrap();
        assert_eq!(admins, 1, "tenant {tenant} kept exactly one admin");
    }
    let refused = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Err(MembershipError::LastAdmin)))
        .count();
    assert_eq!(refused, TENANTS, "one demotion per tenant refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_revocations_of_the_last_two_firm_admins_leave_one() {
    let test = fresh().await;
    let users = UserRepository::new(test.db.clone());
    let emails = ["one@cabinet.fr", "two@cabinet.fr"];
    for round in 0..10 {
        let mut ids = Vec::new();
        for email in emails {
            let outcome = users
                .upsert_firm_admin(email, "Admin", "hash", |_| None)
                .await
                .unwrap();
            ids.push(match outcome {
                portal_persistence::users::AdminUpsert::Created(id)
                | portal_persistence::users::AdminUpsert::Reset(id) => id,
            });
        }
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let revocations: Vec<_> = ids
            .iter()
            .map(|id| {
                let (users, id, barrier) = (users.clone(), *id, barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    users
                        .revoke_firm_admin(id, AuditEntry::new("firm_admin.revoked", "x"))
                        .await
                })
            })
            .collect();
        let mut revoked = 0;
        for revocation in revocations {
            if revocation.await.unwrap().expect("no database error") {
                revoked += 1;
            }
        }
        let left = users.firm_admins().await.unwrap();
        assert_eq!(left.len(), 1, "round {round}: {left:?}");
        assert_eq!(revoked, 1, "round {round}");
    }
}
