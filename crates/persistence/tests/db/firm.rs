//! The firm console's inbox: one query over the visible companies, oldest first, cut by a keyset cursor, and
//! blind to the companies it was not given (its plan, every arm on an index that leads with `tenant_id`, is
//! checked in tests/db/plans.rs).

use crate::fresh;
use chrono::{Duration, Utc};
use portal_domain::invoice::{BuyerDraft, InvoiceDraft};
use portal_domain::lifecycle::{Source, StatusEvent};
use portal_domain::status::StatusCode;
use portal_persistence::firm_inbox::{self, InboxCursor, InboxKind, InboxQuery};
use portal_persistence::invoices::{InvoiceContent, InvoiceRepository, TotalsCents};
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

/// A sent invoice of `scope` whose only event is `code`, `days` ago.
async fn waiting(
    invoices: &InvoiceRepository,
    scope: &TenantScope,
    number: &str,
    code: u16,
    days: i64,
) {
    let content = InvoiceContent {
        customer_id: None,
        draft: InvoiceDraft {
            number: number.to_owned(),
            buyer: BuyerDraft {
                legal_name: format!("Client {number}"),
                ..BuyerDraft::default()
            },
            ..InvoiceDraft::default()
        },
        totals: TotalsCents {
            excl: 100,
            vat: 20,
            incl: 120,
        },
    };
    let id = invoices.create_draft(scope, &content, None).await.unwrap();
    let when = Utc::now() - Duration::days(days);
    invoices.mark_sent(scope, id, when).await.unwrap();
    let event = StatusEvent::status(
        StatusCode(code),
        Source::Buyer,
        when,
        format!("{number}-{code}"),
    )
    .with_reasons(["JUSTIF_ABS"]);
    invoices
        .append_events(scope, id, &[event], "poll")
        .await
        .unwrap();
    invoices.refold(scope, id).await.unwrap();
}

fn query(limit: u64) -> InboxQuery {
    InboxQuery {
        kinds: Vec::new(),
        since_from: None,
        since_until: None,
        silent_before: Utc::now() - Duration::days(100),
        after: None,
        limit,
    }
}

#[tokio::test]
async fn the_inbox_pages_oldest_first_over_the_given_companies_only() {
    let test = fresh().await;
    let acme = scope_of(&test, "acme", "732829320").await;
    let globex = scope_of(&test, "globex", "443061841").await;
    let initech = scope_of(&test, "initech", "812345676").await;
    let invoices = InvoiceRepository::new(test.db.clone());
    waiting(&invoices, &acme, "A-1", 208, 9).await;
    waiting(&invoices, &globex, "G-1", 210, 7).await;
    waiting(&invoices, &acme, "A-2", 207, 5).await;
    waiting(&invoices, &globex, "G-2", 213, 3).await;
    waiting(&invoices, &acme, "A-3", 205, 2).await;
    waiting(&invoices, &initech, "I-1", 208, 8).await;

    let visible = [acme.clone(), globex.clone()];
    let mut seen = Vec::new();
    let mut after: Option<InboxCursor> = None;
    loop {
        let page = firm_inbox::page(
            &test.db,
            &visible,
            &InboxQuery {
                after: after.clone(),
                ..query(2)
            },
        )
        .await
        .unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        after = page.last().map(|item| InboxCursor {
            since: item.since,
            item_id: item.item_id,
        });
        seen.extend(
            page.into_iter()
                .map(|item| (item.number.unwrap(), item.kind)),
        );
    }
    assert_eq!(
        seen,
        vec![
            ("A-1".to_owned(), InboxKind::Request),
            ("G-1".to_owned(), InboxKind::Refused),
            ("A-2".to_owned(), InboxKind::Request),
            ("G-2".to_owned(), InboxKind::Rejected),
        ],
        "oldest first, across pages, never initech's, never an approved invoice"
    );
    let counts = firm_inbox::counts(&test.db, &visible, &query(50))
        .await
        .unwrap();
    assert_eq!(
        counts,
        vec![
            (InboxKind::Request, 2),
            (InboxKind::Refused, 1),
            (InboxKind::Rejected, 1)
        ]
    );
    let requests = firm_inbox::page(
        &test.db,
        &visible,
        &InboxQuery {
            kinds: vec![InboxKind::Request],
            ..query(50)
        },
    )
    .await
    .unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].reasons.as_deref(), Some("[\"JUSTIF_ABS\"]"));
    assert!(
        firm_inbox::page(&test.db, &[], &query(50))
            .await
            .unwrap()
            .is_empty()
    );
    // Its plan (every arm on its index, no full scan) is checked in tests/db/plans.rs.
}

#[tokio::test]
async fn a_status_row_waits_since_its_status_first_arrived_not_since_the_invoice_changed() {
    let test = fresh().await;
    let acme = scope_of(&test, "acme", "732829320").await;
    let invoices = InvoiceRepository::new(test.db.clone());
    waiting(&invoices, &acme, "A-1", 208, 9).await;
    let content = InvoiceContent {
        customer_id: None,
        draft: InvoiceDraft {
            number: "A-2".to_owned(),
            ..InvoiceDraft::default()
        },
        totals: TotalsCents {
            excl: 100,
            vat: 20,
            incl: 120,
        },
    };
    let id = invoices.create_draft(&acme, &content, None).await.unwrap();
    let sent = Utc::now() - Duration::days(12);
    let rejected = Utc::now() - Duration::days(6);
    invoices.mark_sent(&acme, id, sent).await.unwrap();
    let events = [
        StatusEvent::status(StatusCode(200), Source::Ppf, sent, "A-2-200"),
        StatusEvent::status(StatusCode(251), Source::Ppf, rejected, "A-2-251-a"),
        StatusEvent::status(
            StatusCode(251),
            Source::Ppf,
            rejected + Duration::days(4),
            "A-2-251-b",
        ),
    ];
    invoices
        .append_events(&acme, id, &events, "poll")
        .await
        .unwrap();
    invoices.refold(&acme, id).await.unwrap();
    // Folding again (a later poll) changes the invoice, not when its status came.
    invoices.refold(&acme, id).await.unwrap();

    let page = firm_inbox::page(&test.db, std::slice::from_ref(&acme), &query(10))
        .await
        .unwrap();
    let rows: Vec<_> = page
        .iter()
        .map(|item| (item.number.clone().unwrap(), item.kind))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("A-1".to_owned(), InboxKind::Request),
            ("A-2".to_owned(), InboxKind::TaxRejected),
        ],
        "oldest first: the request of nine days before the rejection of six"
    );
    assert_eq!(
        page[1].since.timestamp(),
        rejected.timestamp(),
        "the tax rejection waits since the first 251 arrived, not since the invoice last changed"
    );
    let counts = firm_inbox::counts(
        &test.db,
        std::slice::from_ref(&acme),
        &InboxQuery {
            since_until: Some(Utc::now() - Duration::days(5)),
            ..query(10)
        },
    )
    .await
    .unwrap();
    assert_eq!(
        counts,
        vec![(InboxKind::Request, 1), (InboxKind::TaxRejected, 1)]
    );
}
