//! What keeps the firm console honest and small: the run of Billit failures a company is in (since when), and the
//! purge of firm staff's visits once their sessions cannot be alive any more.

use crate::fresh;
use chrono::{Duration, Utc};
use portal_persistence::audit::AuditEntry;
use portal_persistence::entities::{billit_health, firm_visits};
use portal_persistence::firm::FirmRepository;
use portal_persistence::firm_console::FirmConsoleRepository;
use portal_persistence::firm_inbox::{self, InboxKind, InboxQuery};
use portal_persistence::tenants::{NewTenant, TenantRepository};
use portal_persistence::users::UserRepository;
use portal_persistence::{TenantRole, TenantScope};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, PaginatorTrait};

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

fn connection_rows() -> InboxQuery {
    InboxQuery {
        kinds: vec![InboxKind::Connection],
        since_from: None,
        since_until: None,
        silent_before: Utc::now() - Duration::hours(48),
        after: None,
        limit: 50,
    }
}

#[tokio::test]
async fn a_run_of_billit_failures_is_listed_since_its_first_failure_until_a_success() {
    let test = fresh().await;
    let acme = scope_of(&test, "acme", "732829320").await;
    let globex = scope_of(&test, "globex", "443061841").await;
    let console = FirmConsoleRepository::new(test.db.clone());
    let start = Utc::now() - Duration::hours(5);
    console.record_billit_success(&acme, start).await.unwrap();
    console.record_billit_success(&globex, start).await.unwrap();
    let scopes = [acme.clone(), globex.clone()];
    assert!(
        firm_inbox::page(&test.db, &scopes, &connection_rows())
            .await
            .unwrap()
            .is_empty()
    );

    let first = start + Duration::hours(1);
    console
        .record_billit_failure(&acme, first, "unreachable")
        .await
        .unwrap();
    console
        .record_billit_failure(&acme, first + Duration::hours(1), "credentials")
        .await
        .unwrap();
    let rows = firm_inbox::page(&test.db, &scopes, &connection_rows())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].tenant_id, acme.tenant_id());
    assert_eq!(rows[0].kind, InboxKind::Connection);
    assert_eq!(
        rows[0].since.timestamp_micros(),
        first.timestamp_micros(),
        "since the first failure of the run"
    );
    assert_eq!(
        rows[0].error.as_deref(),
        Some("credentials"),
        "the last failure's kind"
    );
    let counts = firm_inbox::counts(&test.db, &scopes, &connection_rows())
        .await
        .unwrap();
    assert!(counts.contains(&(InboxKind::Connection, 1)), "{counts:?}");

    // A success ends the run; the next failure starts a new one.
    console
        .record_billit_success(&acme, first + Duration::hours(2))
        .await
        .unwrap();
    assert!(
        firm_inbox::page(&test.db, &scopes, &connection_rows())
            .await
            .unwrap()
            .is_empty()
    );
    let again = first + Duration::hours(3);
    console
        .record_billit_failure(&acme, again, "server")
        .await
        .unwrap();
    let rows = firm_inbox::page(&test.db, &scopes, &connection_rows())
        .await
        .unwrap();
    assert_eq!(rows[0].since.timestamp_micros(), again.timestamp_micros());
    // A company outside the scopes given is not listed.
    assert!(
        firm_inbox::page(&test.db, &[globex], &connection_rows())
            .await
            .unwrap()
            .is_empty()
    );
    let stored = billit_health::Entity::find_by_id(acme.tenant_id().as_uuid())
        .one(&test.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.last_error_kind.as_deref(), Some("server"));
}

#[tokio::test]
async fn the_purge_deletes_the_visits_of_sessions_that_cannot_be_alive() {
    let test = fresh().await;
    let acme = scope_of(&test, "acme", "732829320").await;
    let firm = FirmRepository::new(test.db.clone());
    let now = Utc::now();
    for session in ["old", "recent"] {
        assert!(
            firm.record_visit(&acme, session, AuditEntry::new("firm.enter", "acme"))
                .await
                .unwrap()
        );
    }
    // The old session's visit was noted 13 hours ago.
    firm_visits::ActiveModel {
        tenant_id: Set(acme.tenant_id().as_uuid()),
        session_hash: Set("old".to_owned()),
        at: Set(now - Duration::hours(13)),
    }
    .update(&test.db)
    .await
    .unwrap();

    let purged = firm.purge_visits(now - Duration::hours(12)).await.unwrap();
    assert_eq!(
        purged, 1,
        "the visit of a session older than any session lives"
    );
    let left: Vec<String> = firm_visits::Entity::find()
        .all(&test.db)
        .await
        .unwrap()
        .into_iter()
        .map(|visit| visit.session_hash)
        .collect();
    assert_eq!(left, ["recent"]);
    // The live session's visit still spares it a second audit entry.
    assert!(
        !firm
            .record_visit(&acme, "recent", AuditEntry::new("firm.enter", "acme"))
            .await
            .unwrap()
    );
    assert_eq!(
        firm.purge_visits(now - Duration::hours(12)).await.unwrap(),
        0
    );
    assert_eq!(
        firm_visits::Entity::find().count(&test.db).await.unwrap(),
        1
    );
}
