//! The counts kept per company (invoices per status, invoices sent per month) equal what the invoices give, after
//! every kind of write, in any order: random sequences of drafts, saves, deletes, submissions, statuses and bulk
//! inserts over two companies, checked against a fresh `GROUP BY` after each step. And the repair puts a
//! corrupted count right and says what it changed.

use crate::fresh;
use chrono::{DateTime, Duration, TimeZone, Utc};
use portal_domain::ids::InvoiceId;
use portal_domain::invoice::{BuyerDraft, InvoiceDraft};
use portal_domain::lifecycle::{Source, StatusEvent};
use portal_domain::status::StatusCode;
use portal_persistence::TenantScope;
use portal_persistence::audit::AuditEntry;
use portal_persistence::counts::{CountFix, CountsRepository};
use portal_persistence::invoices::{
    InvoiceContent, InvoiceError, InvoiceRepository, SubmissionState, TotalsCents,
};
use portal_persistence::seed::{SeedInvoice, insert_invoices};
use portal_persistence::tenants::{NewTenant, TenantRepository};
use portal_persistence::testing::TestDatabase;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::ConnectionTrait;

/// Two companies, each seen through the scope the maintenance task mints for it.
async fn companies(test: &TestDatabase) -> Vec<TenantScope> {
    let tenants = TenantRepository::new(test.db.clone());
    for (slug, siren) in [("acme", "732829320"), ("globex", "443061841")] {
        tenants
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
    }
    let mut all = CountsRepository::new(test.db.clone())
        .companies()
        .await
        .unwrap();
    all.sort_by(|a, b| a.0.slug.cmp(&b.0.slug));
    all.into_iter().map(|(_, scope)| scope).collect()
}

fn content(number: &str, cents: i64) -> InvoiceContent {
    InvoiceContent {
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
            excl: cents,
            vat: 0,
            incl: cents,
        },
    }
}

/// An instant, often in the hours around a month's start in Paris (where the monthly key is easiest to get
/// wrong): the last day of a month of 2025–2026 between 20:00 and 23:59 UTC, or the first at 00:00–01:59.
fn sent_time(rng: &mut StdRng) -> DateTime<Utc> {
    let year = rng.random_range(2025..=2026);
    let month = rng.random_range(1..=12);
    let first = Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0).unwrap();
    let minutes = rng.random_range(-240..120);
    first + Duration::minutes(minutes)
}

/// A status a platform or the buyer could send (the fold picks the headline; some need action).
fn random_status(rng: &mut StdRng, n: usize) -> StatusEvent {
    const CODES: [(u16, Source); 12] = [
        (200, Source::SellerPlatform),
        (201, Source::SellerPlatform),
        (202, Source::BuyerPlatform),
        (203, Source::BuyerPlatform),
        (204, Source::Buyer),
        (205, Source::Buyer),
        (206, Source::Buyer),
        (207, Source::Buyer),
        (208, Source::Buyer),
        (210, Source::Buyer),
        (211, Source::Buyer),
        (213, Source::BuyerPlatform),
    ];
    let (code, source) = CODES[rng.random_range(0..CODES.len())];
    let at = Utc.with_ymd_and_hms(2026, 9, 1, 10, 0, 0).unwrap()
        + Duration::minutes(rng.random_range(0..10_000));
    StatusEvent::status(StatusCode(code), source, at, format!("event-{n}"))
}

async fn assert_counts_agree(counts: &CountsRepository, scopes: &[TenantScope], context: &str) {
    for scope in scopes {
        let actual = counts.actual(scope).await.unwrap();
        let kept = counts.kept(scope).await.unwrap();
        assert_eq!(kept, actual, "statuses of {scope:?} {context}");
        let actual = counts.actual_months(scope).await.unwrap();
        let kept = counts.kept_months(scope).await.unwrap();
        assert_eq!(kept, actual, "months sent of {scope:?} {context}");
    }
}

#[tokio::test]
async fn kept_counts_equal_a_fresh_group_by_after_random_sequences_of_changes() {
    let test = fresh().await;
    let scopes = companies(&test).await;
    let invoices = InvoiceRepository::new(test.db.clone());
    let counts = CountsRepository::new(test.db.clone());
    // A new sequence each run, its seed printed with any failure (COUNTS_SEED replays one).
    let seed: u64 = std::env::var("COUNTS_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut ids: Vec<(usize, InvoiceId)> = Vec::new();
    let mut n = 0_usize;
    let steps = if test.is_postgres() { 150 } else { 250 };
    for step in 0..steps {
        n += 1;
        let company = rng.random_range(0..scopes.len());
        let scope = &scopes[company];
        let known: Vec<InvoiceId> = ids
            .iter()
            .filter(|(owner, _)| *owner == company)
            .map(|(_, id)| *id)
            .collect();
        let pick = (!known.is_empty()).then(|| known[rng.random_range(0..known.len())]);
        let choice = if pick.is_none() {
            0
        } else {
            rng.random_range(0..12)
        };
        let what = match (choice, pick) {
            (0 | 1, _) | (_, None) => {
                let id = invoices
                    .create_draft(scope, &content(&format!("F-{n}"), 1_000), None)
                    .await
                    .unwrap();
                ids.push((company, id));
                "a new draft"
            }
            (2, Some(id)) => {
                match invoices
                    .update_draft(scope, id, &content(&format!("F-{n}"), 2_000))
                    .await
                {
                    Ok(()) | Err(InvoiceError::NotEditable) => {}
                    Err(error) => panic!("saving a draft: {error} (seed {seed})"),
                }
                "a draft saved"
            }
            (3, Some(id)) => {
                match invoices
                    .delete(
                        scope,
                        id,
                        AuditEntry::new("invoice.deleted", id.to_string()),
                    )
                    .await
                {
                    Ok(true) => ids.retain(|(_, kept)| *kept != id),
                    Ok(false) | Err(InvoiceError::NotEditable) => {}
                    Err(error) => panic!("deleting: {error} (seed {seed})"),
                }
                "a delete"
            }
            (4, Some(id)) => {
                InvoiceRepository::mark_queued_in(&test.db, scope, id)
                    .await
                    .unwrap();
                "a submission queued"
            }
            (5, Some(id)) => {
                invoices.mark_sending(scope, id).await.unwrap();
                "a submission taken"
            }
            (6, Some(id)) => {
                invoices.set_order_id(scope, id, n as i64).await.unwrap();
                invoices
                    .mark_sent(scope, id, sent_time(&mut rng))
                    .await
                    .unwrap();
                "a submission sent"
            }
            (7, Some(id)) => {
                invoices.mark_failed(scope, id, "refused").await.unwrap();
                "a submission failed"
            }
            (8..=10, Some(id)) => {
                let events: Vec<StatusEvent> = (0..rng.random_range(1..3))
                    .map(|k| random_status(&mut rng, n * 10 + k))
                    .collect();
                invoices
                    .append_events(scope, id, &events, "webhook")
                    .await
                    .unwrap();
                invoices.refold(scope, id).await.unwrap();
                "statuses folded"
            }
            (_, Some(_)) => {
                // The seed's bulk inserts: sent invoices with their histories, in one transaction.
                let list: Vec<SeedInvoice> = (0..rng.random_range(1..6))
                    .map(|k| {
                        let events: Vec<StatusEvent> = (0..rng.random_range(0..3))
                            .map(|e| random_status(&mut rng, n * 100 + k * 10 + e))
                            .collect();
                        let sent = rng.random_bool(0.8);
                        SeedInvoice {
                            id: InvoiceId::new(),
                            content: content(&format!("S-{n}-{k}"), 5_000),
                            state: if sent {
                                SubmissionState::Sent
                            } else {
                                SubmissionState::Draft
                            },
                            order_id: sent.then_some((n * 100 + k) as i64),
                            events,
                            created_at: sent_time(&mut rng),
                        }
                    })
                    .collect();
                insert_invoices(&test.db, scope, &list).await.unwrap();
                ids.extend(list.iter().map(|seed| (company, seed.id)));
                "a bulk insert"
            }
        };
        assert_counts_agree(
            &counts,
            &scopes,
            &format!("after step {step}, {what} (seed {seed})"),
        )
        .await;
    }
    // The pages' figures agree with the invoices too.
    for scope in &scopes {
        let shown = invoices.counts(scope).await.unwrap();
        let total: i64 = counts
            .actual(scope)
            .await
            .unwrap()
            .iter()
            .map(|row| row.count)
            .sum();
        assert_eq!(shown.total, u64::try_from(total).unwrap(), "seed {seed}");
    }
}

#[tokio::test]
async fn the_recount_repairs_corrupted_counts_and_says_what_it_changed() {
    let test = fresh().await;
    let scopes = companies(&test).await;
    let invoices = InvoiceRepository::new(test.db.clone());
    let counts = CountsRepository::new(test.db.clone());
    let acme = &scopes[0];
    let globex = &scopes[1];
    for n in 0..3 {
        invoices
            .create_draft(acme, &content(&format!("F-{n}"), 1_000), None)
            .await
            .unwrap();
    }
    let sent = invoices
        .create_draft(globex, &content("G-1", 1_000), None)
        .await
        .unwrap();
    invoices.set_order_id(globex, sent, 7).await.unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 15, 9, 0, 0).unwrap();
    invoices.mark_sent(globex, sent, at).await.unwrap();
    // Right after the writes, nothing to repair.
    for scope in &scopes {
        assert!(counts.recount(scope).await.unwrap().is_empty());
    }

    // Someone edits the tables by hand: acme's drafts count 10, globex's month sent is lost.
    test.db
        .execute_unprepared(
            "UPDATE invoice_counts SET count = 10 WHERE submission_state = 'draft' AND count > 0",
        )
        .await
        .unwrap();
    test.db
        .execute_unprepared("DELETE FROM invoice_sent_months")
        .await
        .unwrap();
    assert_eq!(invoices.counts(acme).await.unwrap().total, 10);

    let fixed = counts.recount(acme).await.unwrap();
    assert_eq!(
        fixed.statuses,
        vec![CountFix {
            key: (0, "draft".to_owned(), false),
            kept: 10,
            actual: 3,
        }]
    );
    assert!(fixed.months.is_empty());
    let fixed = counts.recount(globex).await.unwrap();
    assert!(fixed.statuses.is_empty());
    assert_eq!(
        fixed.months,
        vec![CountFix {
            key: "2026-11".to_owned(),
            kept: 0,
            actual: 1,
        }]
    );
    assert_eq!(invoices.counts(acme).await.unwrap().total, 3);
    for scope in &scopes {
        assert_eq!(
            counts.kept(scope).await.unwrap(),
            counts.actual(scope).await.unwrap()
        );
        assert_eq!(
            counts.kept_months(scope).await.unwrap(),
            counts.actual_months(scope).await.unwrap()
        );
        // Repaired: a second pass finds nothing.
        assert!(counts.recount(scope).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn invoices_are_counted_in_the_paris_month_they_were_sent_in() {
    let test = fresh().await;
    let scopes = companies(&test).await;
    let invoices = InvoiceRepository::new(test.db.clone());
    let counts = CountsRepository::new(test.db.clone());
    let acme = &scopes[0];
    let at = |m, d, h, min| Utc.with_ymd_and_hms(2026, m, d, h, min, 0).unwrap();
    // Around the start of months in winter time (UTC+1) and summer time (UTC+2), and the two DST changes.
    let instants = [
        (at(2, 28, 22, 59), "2026-02"),
        (at(2, 28, 23, 0), "2026-03"),
        (at(3, 31, 21, 59), "2026-03"),
        (at(3, 31, 22, 0), "2026-04"),
        (at(3, 29, 1, 30), "2026-03"),
        (at(9, 30, 22, 30), "2026-10"),
        (at(10, 25, 0, 30), "2026-10"),
        (at(10, 31, 22, 30), "2026-10"),
        (at(10, 31, 23, 30), "2026-11"),
        (at(12, 31, 23, 0), "2027-01"),
    ];
    for (n, (instant, month)) in instants.iter().enumerate() {
        assert_eq!(portal_persistence::counts::paris_month(*instant), *month);
        let id = invoices
            .create_draft(acme, &content(&format!("F-{n}"), 1_000), None)
            .await
            .unwrap();
        invoices.set_order_id(acme, id, n as i64 + 1).await.unwrap();
        invoices.mark_sent(acme, id, *instant).await.unwrap();
    }
    let mut expected: Vec<(String, i64)> = Vec::new();
    for (_, month) in instants {
        match expected.iter_mut().find(|(m, _)| m == month) {
            Some((_, count)) => *count += 1,
            None => expected.push((month.to_owned(), 1)),
        }
    }
    expected.sort();
    let kept: Vec<(String, i64)> = counts
        .kept_months(acme)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.month, row.count))
        .collect();
    assert_eq!(kept, expected);
}
