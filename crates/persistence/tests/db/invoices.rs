//! The invoice repository as the statuses area uses it: events appended once per dedup key, the fold saved as
//! the summary, orders found back, open invoices listed; and webhook deliveries and alert choices.

use crate::fresh;
use chrono::{Duration, TimeZone, Utc};
use portal_domain::ids::InvoiceId;
use portal_domain::invoice::{BuyerDraft, InvoiceDraft};
use portal_domain::lifecycle::{ActionReason, InvoiceFacts, Source, StatusEvent};
use portal_domain::status::StatusCode;
use portal_persistence::invoices::{EventDetails, InvoiceContent, InvoiceRepository, TotalsCents};
use portal_persistence::notifications::NotificationRepository;
use portal_persistence::tenants::{NewTenant, TenantRepository};
use portal_persistence::testing::TestDatabase;
use portal_persistence::users::UserRepository;
use portal_persistence::webhook_deliveries::{DeliveryState, WebhookDeliveryRepository};
use portal_persistence::{TenantRole, TenantScope};

struct World {
    acme: TenantScope,
    globex: TenantScope,
    alice: portal_domain::ids::UserId,
}

async fn world(test: &TestDatabase) -> World {
    let tenants = TenantRepository::new(test.db.clone());
    let users = UserRepository::new(test.db.clone());
    let mut scopes = Vec::new();
    let alice = users.create("alice@acme.fr", "Alice", "fr").await.unwrap();
    for (slug, siren) in [("acme", "732829320"), ("globex", "443061841")] {
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
        let user = if slug == "acme" {
            alice.clone()
        } else {
            users.create("bob@globex.fr", "Bob", "en").await.unwrap()
        };
        tenants
            .add_member(tenant.id, user.id, TenantRole::Admin)
            .await
            .unwrap();
        let (_, scope) = tenants
            .scope_for_member(user.id, slug)
            .await
            .unwrap()
            .unwrap();
        scopes.push(scope);
    }
    let globex = scopes.pop().unwrap();
    let acme = scopes.pop().unwrap();
    World {
        acme,
        globex,
        alice: alice.id,
    }
}

async fn sent_invoice(
    invoices: &InvoiceRepository,
    scope: &TenantScope,
    number: &str,
    order_id: i64,
) -> InvoiceId {
    let content = InvoiceContent {
        customer_id: None,
        draft: InvoiceDraft {
            number: number.to_owned(),
            issue_date: chrono::NaiveDate::from_ymd_opt(2026, 9, 1),
            buyer: BuyerDraft {
                legal_name: "Client SA".into(),
                ..Default::default()
            },
            ..Default::default()
        },
        totals: TotalsCents {
            excl: 40_000,
            vat: 8_000,
            incl: 48_000,
        },
    };
    let id = invoices.create_draft(scope, &content, None).await.unwrap();
    invoices.set_order_id(scope, id, order_id).await.unwrap();
    invoices.mark_sent(scope, id, Utc::now()).await.unwrap();
    id
}

fn at(minutes: i64) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 1, 10, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn status(code: u16, source: Source, minutes: i64, key: &str) -> StatusEvent {
    StatusEvent::status(StatusCode(code), source, at(minutes), key)
}

#[tokio::test]
async fn events_are_appended_once_per_dedup_key_and_only_the_new_ones_are_returned() {
    let test = fresh().await;
    let w = world(&test).await;
    let invoices = InvoiceRepository::new(test.db.clone());
    let id = sent_invoice(&invoices, &w.acme, "F-1", 11).await;
    let first = [
        status(200, Source::SellerPlatform, 0, "k200"),
        status(201, Source::SellerPlatform, 1, "k201"),
    ];
    let new = invoices
        .append_events(&w.acme, id, &first, "webhook")
        .await
        .unwrap();
    assert_eq!(new.len(), 2);
    // The same events again (a repeated webhook, then the poll), plus one new: only the new one is returned.
    let again = [
        status(201, Source::SellerPlatform, 1, "k201"),
        status(200, Source::SellerPlatform, 0, "k200"),
        status(203, Source::BuyerPlatform, 2, "k203"),
    ];
    let new = invoices
        .append_events(&w.acme, id, &again, "poll")
        .await
        .unwrap();
    assert_eq!(
        new.iter().map(|e| e.dedup_key.as_str()).collect::<Vec<_>>(),
        ["k203"]
    );
    let stored = invoices.events(&w.acme, id).await.unwrap();
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0].via, "webhook");
    assert_eq!(stored[2].via, "poll");

    // A key longer than the column is cut, and the event returned carries the stored key.
    let long_key = "k".repeat(450);
    let new = invoices
        .append_events(
            &w.acme,
            id,
            &[status(204, Source::Buyer, 3, &long_key)],
            "poll",
        )
        .await
        .unwrap();
    assert_eq!(new[0].dedup_key.chars().count(), 400);
    let again = invoices
        .append_events(
            &w.acme,
            id,
            &[status(204, Source::Buyer, 3, &long_key)],
            "poll",
        )
        .await
        .unwrap();
    assert!(again.is_empty());
    assert!(
        invoices
            .events(&w.acme, id)
            .await
            .unwrap()
            .iter()
            .any(|e| e.event.dedup_key == new[0].dedup_key)
    );

    // Another tenant sees none of it and cannot append to it.
    assert!(invoices.events(&w.globex, id).await.unwrap().is_empty());
    assert!(
        invoices
            .append_events(&w.globex, id, &[status(210, Source::Buyer, 9, "x")], "poll")
            .await
            .is_err()
    );
    assert_eq!(invoices.events(&w.acme, id).await.unwrap().len(), 4);
    assert!(invoices.events(&w.globex, id).await.unwrap().is_empty());
}

#[tokio::test]
async fn refold_saves_the_summary_and_tells_before_and_after() {
    let test = fresh().await;
    let w = world(&test).await;
    let invoices = InvoiceRepository::new(test.db.clone());
    let id = sent_invoice(&invoices, &w.acme, "F-2", 12).await;
    invoices
        .append_events(
            &w.acme,
            id,
            &[
                status(200, Source::SellerPlatform, 0, "a"),
                status(203, Source::BuyerPlatform, 1, "b"),
            ],
            "poll",
        )
        .await
        .unwrap();
    let (before, after) = invoices.refold(&w.acme, id).await.unwrap().unwrap();
    assert_eq!(before.headline, None);
    assert_eq!(after.headline, Some(StatusCode(203)));
    assert!(!after.needs_action);
    assert_eq!(after.events_count, 2);

    // A dispute, out of order (older than the delivery): the open request wins the headline.
    invoices
        .append_events(
            &w.acme,
            id,
            &[status(207, Source::Buyer, 5, "c").with_reasons(["TX_TVA_ERR"])],
            "webhook",
        )
        .await
        .unwrap();
    let (before, after) = invoices.refold(&w.acme, id).await.unwrap().unwrap();
    assert_eq!(before.headline, Some(StatusCode(203)));
    assert_eq!(after.headline, Some(StatusCode(207)));
    assert!(after.needs_action);
    assert_eq!(after.action_reasons, vec![ActionReason::OpenDispute]);
    let record = invoices.get(&w.acme, id).await.unwrap().unwrap();
    assert_eq!(record.summary, after);

    // Folding again changes nothing.
    let (before, after) = invoices.refold(&w.acme, id).await.unwrap().unwrap();
    assert_eq!(before, after);

    // Billit's facts count in the fold: fully paid.
    let facts = InvoiceFacts {
        paid: Some(true),
        to_pay: Some(rust_decimal::Decimal::ZERO),
        ..InvoiceFacts::default()
    };
    invoices.set_facts(&w.acme, id, &facts).await.unwrap();
    let (_, after) = invoices.refold(&w.acme, id).await.unwrap().unwrap();
    assert_eq!(after.payment, portal_domain::lifecycle::Payment::Paid);

    // What a status file adds is stored on its event.
    let details = EventDetails {
        file_name: Some("cdar.xml".into()),
        ..EventDetails::default()
    };
    let from_file = status(207, Source::Buyer, 5, "c")
        .with_reasons(["TX_TVA_ERR", "CALCUL_ERR"])
        .with_requested_action("NIN");
    assert!(
        invoices
            .enrich_event(&w.acme, id, "c", &from_file, &details)
            .await
            .unwrap()
    );
    let stored = invoices.events(&w.acme, id).await.unwrap();
    let dispute = stored.iter().find(|e| e.event.dedup_key == "c").unwrap();
    assert_eq!(dispute.event.reasons, ["TX_TVA_ERR", "CALCUL_ERR"]);
    assert_eq!(dispute.event.requested_action.as_deref(), Some("NIN"));
    assert_eq!(dispute.details.as_ref(), Some(&details));

    // Another tenant cannot fold it.
    assert!(invoices.refold(&w.globex, id).await.unwrap().is_none());
}

#[tokio::test]
async fn orders_are_found_back_within_their_tenant_and_open_ones_listed() {
    let test = fresh().await;
    let w = world(&test).await;
    let invoices = InvoiceRepository::new(test.db.clone());
    let first = sent_invoice(&invoices, &w.acme, "F-3", 21).await;
    let second = sent_invoice(&invoices, &w.acme, "F-4", 22).await;
    let theirs = sent_invoice(&invoices, &w.globex, "G-1", 31).await;
    assert_eq!(
        invoices.find_by_order(&w.acme, 21).await.unwrap(),
        Some(first)
    );
    assert_eq!(invoices.find_by_order(&w.acme, 31).await.unwrap(), None);
    assert_eq!(
        invoices.find_by_order(&w.globex, 31).await.unwrap(),
        Some(theirs)
    );
    let many = invoices
        .find_by_orders(&w.acme, &[21, 22, 31, 99])
        .await
        .unwrap();
    assert_eq!(many.len(), 2, "only acme's orders: {many:?}");
    assert_eq!(many.get(&21), Some(&first));
    assert_eq!(many.get(&22), Some(&second));

    // A refused invoice is final: no longer open. Never-read ones come before the others.
    invoices
        .append_events(
            &w.acme,
            first,
            &[status(210, Source::Buyer, 0, "refused")],
            "poll",
        )
        .await
        .unwrap();
    invoices.refold(&w.acme, first).await.unwrap();
    let third = sent_invoice(&invoices, &w.acme, "F-5", 23).await;
    invoices
        .set_facts(&w.acme, second, &InvoiceFacts::default())
        .await
        .unwrap();
    let open = invoices.open_orders(&w.acme, 10).await.unwrap();
    assert_eq!(open, vec![(third, 23), (second, 22)]);
    // A draft without an order is not open at Billit.
    assert_eq!(
        invoices.open_orders(&w.globex, 10).await.unwrap(),
        vec![(theirs, 31)]
    );
}

#[tokio::test]
async fn deliveries_are_stored_with_their_job_and_finished_within_their_tenant() {
    let test = fresh().await;
    let w = world(&test).await;
    let deliveries = WebhookDeliveryRepository::new(test.db.clone());
    let id = deliveries
        .record(&w.acme, "{\"UpdatedEntityID\":1}".into(), "billit.webhook")
        .await
        .unwrap();
    let stored = deliveries.get(&w.acme, id).await.unwrap().unwrap();
    assert_eq!(stored.state, DeliveryState::Received);
    assert_eq!(stored.body, "{\"UpdatedEntityID\":1}");
    assert!(deliveries.get(&w.globex, id).await.unwrap().is_none());
    assert!(deliveries.recent(&w.globex, 10).await.unwrap().is_empty());

    let queue = portal_persistence::jobs::JobQueue::new(test.db.clone());
    let job = queue
        .claim("w", std::time::Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.kind, "billit.webhook");
    assert_eq!(job.tenant_scope().unwrap().tenant_id(), w.acme.tenant_id());
    let payload: serde_json::Value = job.payload().unwrap();
    assert_eq!(payload["delivery_id"], id.to_string());

    // Another tenant's scope changes nothing.
    deliveries.mark_failed(&w.globex, id, "nope").await.unwrap();
    assert_eq!(
        deliveries.get(&w.acme, id).await.unwrap().unwrap().state,
        DeliveryState::Received
    );
    deliveries
        .mark_processed(&w.acme, id, Some("order 1 matches no invoice"))
        .await
        .unwrap();
    let done = deliveries.get(&w.acme, id).await.unwrap().unwrap();
    assert_eq!(done.state, DeliveryState::Processed);
    assert_eq!(done.error.as_deref(), Some("order 1 matches no invoice"));
    assert!(done.processed_at.is_some());
}

#[tokio::test]
async fn only_old_processed_deliveries_of_the_tenant_are_purged() {
    let test = fresh().await;
    let w = world(&test).await;
    let deliveries = WebhookDeliveryRepository::new(test.db.clone());
    let processed = deliveries
        .record(&w.acme, "{}".into(), "billit.webhook")
        .await
        .unwrap();
    let failed = deliveries
        .record(&w.acme, "{}".into(), "billit.webhook")
        .await
        .unwrap();
    let pending = deliveries
        .record(&w.acme, "{}".into(), "billit.webhook")
        .await
        .unwrap();
    deliveries
        .mark_processed(&w.acme, processed, None)
        .await
        .unwrap();
    deliveries
        .mark_failed(&w.acme, failed, "bad")
        .await
        .unwrap();
    let later = chrono::Utc::now() + chrono::Duration::seconds(5);
    let earlier = chrono::Utc::now() - chrono::Duration::days(1);

    assert_eq!(
        deliveries.purge_processed(&w.acme, earlier).await.unwrap(),
        0
    );
    assert_eq!(
        deliveries.purge_processed(&w.globex, later).await.unwrap(),
        0
    );
    assert!(deliveries.get(&w.acme, processed).await.unwrap().is_some());
    assert_eq!(deliveries.purge_processed(&w.acme, later).await.unwrap(), 1);
    assert!(deliveries.get(&w.acme, processed).await.unwrap().is_none());
    assert!(deliveries.get(&w.acme, failed).await.unwrap().is_some());
    assert!(deliveries.get(&w.acme, pending).await.unwrap().is_some());
}

/// A burst stored in one transaction: a replay of a stored delivery, or of one earlier in the same burst, is left
/// out; the same signature from another company is not a replay; each stored delivery has its job.
#[tokio::test]
async fn a_burst_of_deliveries_is_stored_once_each_with_its_job() {
    let test = fresh().await;
    let w = world(&test).await;
    let deliveries = WebhookDeliveryRepository::new(test.db.clone());
    let first = deliveries
        .record_unless_replayed(&w.acme, "{}".into(), "1:aa", "billit.webhook")
        .await
        .unwrap()
        .expect("a new delivery");
    let body = "{\"Name\":\"Société \\\"Générale\\\"\",\n\"Amount\":1.5}";
    let burst = vec![
        (
            w.acme.clone(),
            "{\"replay\":1}".to_owned(),
            "1:aa".to_owned(),
        ),
        (w.acme.clone(), body.to_owned(), "2:bb".to_owned()),
        (w.globex.clone(), "{}".to_owned(), "1:aa".to_owned()),
        (
            w.acme.clone(),
            "{\"replay\":2}".to_owned(),
            "2:bb".to_owned(),
        ),
    ];
    let before = chrono::Utc::now() - Duration::seconds(1);
    let ids = deliveries
        .record_many_unless_replayed(burst, "billit.webhook")
        .await
        .unwrap();
    assert_eq!(
        ids.iter().map(Option::is_some).collect::<Vec<_>>(),
        [false, true, true, false]
    );
    let (acme_id, globex_id) = (ids[1].unwrap(), ids[2].unwrap());
    let stored = deliveries.get(&w.acme, acme_id).await.unwrap().unwrap();
    assert_eq!(stored.body, body, "the body is kept byte for byte");
    assert_eq!(stored.state, DeliveryState::Received);
    assert!(stored.received_at > before && stored.received_at <= chrono::Utc::now());
    assert!(stored.error.is_none() && stored.processed_at.is_none());
    assert!(deliveries.get(&w.acme, globex_id).await.unwrap().is_none());
    assert!(
        deliveries
            .get(&w.globex, globex_id)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        deliveries.recent(&w.acme, 10).await.unwrap().len(),
        2,
        "the replays were not stored"
    );

    let queue = portal_persistence::jobs::JobQueue::new(test.db.clone());
    let mut jobs = Vec::new();
    while let Some(job) = queue
        .claim("w", std::time::Duration::from_secs(30))
        .await
        .unwrap()
    {
        let payload: serde_json::Value = job.payload().unwrap();
        jobs.push((
            job.tenant_scope().unwrap().tenant_id(),
            payload["delivery_id"].as_str().unwrap().to_owned(),
        ));
    }
    jobs.sort();
    let mut expected = vec![
        (w.acme.tenant_id(), first.to_string()),
        (w.acme.tenant_id(), acme_id.to_string()),
        (w.globex.tenant_id(), globex_id.to_string()),
    ];
    expected.sort();
    assert_eq!(jobs, expected, "one job for each stored delivery");
}

/// However many deliveries a burst holds, storing it sends the same statements: a connection does not prepare
/// (and keep) one more statement for each new count.
#[tokio::test]
async fn bursts_of_every_size_share_their_statements() {
    use sea_orm::sqlx::Connection as _;
    let test = fresh().await;
    let w = world(&test).await;
    let settings = portal_persistence::db::PoolSettings {
        max_connections: 1,
        ..Default::default()
    };
    let db = portal_persistence::db::connect(test.target(), &settings)
        .await
        .unwrap();
    let deliveries = WebhookDeliveryRepository::new(db.clone());
    for size in 1..=20 {
        let burst = (0..size)
            .map(|n| (w.acme.clone(), "{}".to_owned(), format!("{size}:{n}")))
            .collect();
        let ids = deliveries
            .record_many_unless_replayed(burst, "billit.webhook")
            .await
            .unwrap();
        assert!(ids.iter().all(Option::is_some));
    }
    let cached = if test.is_postgres() {
        let connection = db.get_postgres_connection_pool().acquire().await.unwrap();
        connection.cached_statements_size()
    } else {
        let connection = db.get_sqlite_connection_pool().acquire().await.unwrap();
        connection.cached_statements_size()
    };
    assert!(
        cached <= 4,
        "20 burst sizes left {cached} prepared statements on the connection"
    );
    db.close().await.unwrap();
}

#[tokio::test]
async fn only_connected_active_tenants_are_polled_and_alerts_follow_each_members_choice() {
    let test = fresh().await;
    let w = world(&test).await;
    let deliveries = WebhookDeliveryRepository::new(test.db.clone());
    assert!(deliveries.tenants_to_poll().await.unwrap().is_empty());
    let connections =
        portal_persistence::billit_connections::BillitConnectionRepository::new(test.db.clone());
    connections
        .save(
            &w.acme,
            portal_persistence::billit_connections::ConnectionSettings {
                environment: portal_persistence::billit_connections::BillitEnvironment::Embedded,
                api_key_encrypted: Some("encrypted".into()),
                party_id: Some(1),
                context_party_id: None,
            },
            None,
        )
        .await
        .unwrap();
    connections
        .save(
            &w.globex,
            portal_persistence::billit_connections::ConnectionSettings {
                environment: portal_persistence::billit_connections::BillitEnvironment::Embedded,
                api_key_encrypted: None,
                party_id: Some(2),
                context_party_id: None,
            },
            None,
        )
        .await
        .unwrap();
    let polled = deliveries.tenants_to_poll().await.unwrap();
    assert_eq!(
        polled
            .iter()
            .map(TenantScope::tenant_id)
            .collect::<Vec<_>>(),
        vec![w.acme.tenant_id()]
    );
    assert_eq!(deliveries.last_full_check(&w.acme).await.unwrap(), None);
    deliveries
        .set_last_full_check(&w.acme, at(0))
        .await
        .unwrap();
    assert_eq!(
        deliveries.last_full_check(&w.acme).await.unwrap(),
        Some(at(0))
    );

    let notifications = NotificationRepository::new(test.db.clone());
    let recipients = notifications
        .needs_action_recipients(&w.acme)
        .await
        .unwrap();
    assert_eq!(
        recipients
            .iter()
            .map(|r| r.email.as_str())
            .collect::<Vec<_>>(),
        ["alice@acme.fr"]
    );
    let choices = notifications.choices(w.alice).await.unwrap();
    assert_eq!(choices.len(), 1);
    assert!(choices[0].needs_action);
    // Choosing for a tenant one is not a member of changes nothing there.
    notifications
        .set_choices(
            w.alice,
            &[(w.acme.tenant_id(), false), (w.globex.tenant_id(), false)],
        )
        .await
        .unwrap();
    assert!(
        notifications
            .needs_action_recipients(&w.acme)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        notifications
            .needs_action_recipients(&w.globex)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// The dashboard's queue: open requests (207/208) oldest first, then the company's other invoices that need it,
/// oldest invoice first; never another company's, and never more than asked.
#[tokio::test]
async fn the_queue_shows_open_requests_oldest_first_then_the_others_needing_action() {
    use portal_persistence::entities::invoices as invoices_table;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let test = fresh().await;
    let w = world(&test).await;
    let invoices = InvoiceRepository::new(test.db.clone());
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(sent_invoice(&invoices, &w.acme, &format!("F-{n}"), 100 + n).await);
    }
    let theirs = sent_invoice(&invoices, &w.globex, "G-1", 200).await;
    let now = Utc::now();
    let needing = [
        (ids[0], None),
        (ids[1], Some(now - Duration::hours(1))),
        (ids[2], Some(now - Duration::hours(2))),
        (ids[3], None),
        (theirs, Some(now - Duration::hours(3))),
    ];
    for (id, since) in needing {
        invoices_table::Entity::update_many()
            .col_expr(invoices_table::Column::NeedsAction, Expr::value(true))
            .col_expr(
                invoices_table::Column::OpenRequestCode,
                Expr::value(since.map(|_| 207)),
            )
            .col_expr(invoices_table::Column::OpenRequestSince, Expr::value(since))
            .filter(invoices_table::Column::Id.eq(id.as_uuid()))
            .exec(&test.db)
            .await
            .unwrap();
    }
    let queue = |scope: TenantScope, limit: u64| {
        let invoices = invoices.clone();
        async move {
            invoices
                .needs_action(&scope, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|row| row.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        queue(w.acme.clone(), 10).await,
        [ids[2], ids[1], ids[0], ids[3]]
    );
    assert_eq!(queue(w.acme.clone(), 3).await, [ids[2], ids[1], ids[0]]);
    assert_eq!(queue(w.acme.clone(), 1).await, [ids[2]]);
    assert_eq!(queue(w.globex.clone(), 10).await, [theirs]);
}
