//! Statuses in by the thousand: `billit.webhook` jobs claimed in batches and applied in one transaction per batch.
//! A worker that dies mid-batch (its task stopped at any point, its lease left to run out) loses nothing and
//! applies nothing twice: the next worker applies the whole batch again, and what the dead one did is gone with
//! its uncommitted transaction.

use crate::statuses::{ACME, Setup};
use portal_app::statuses::{WEBHOOK_JOB, apply_webhook_batch};
use portal_domain::ids::InvoiceId;
use portal_persistence::TenantScope;
use portal_persistence::jobs::{JobQueue, JobState, ManualClock, RetryPolicy};
use portal_persistence::webhook_deliveries::DeliveryState;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

const LEASE: Duration = Duration::from_secs(60);
const PER_INVOICE: usize = 8;

/// The portal without workers (the test is the worker), three sent invoices, and `PER_INVOICE` buyer messages
/// for each (each a new status event) delivered through the webhook endpoint.
async fn deliveries() -> (Setup, TenantScope, Vec<(InvoiceId, i64)>, usize) {
    let setup = Setup::start_with(|mut config| {
        config.jobs.workers = 0;
        config.billit.poll_interval_secs = 1_000_000;
        config
    })
    .await;
    let acme = setup.connect("acme", ACME).await;
    setup.mute_webhooks();
    let mut invoices = Vec::new();
    for n in 1..=3 {
        invoices.push(
            setup
                .send(&acme, ACME, &format!("F2026-08{n:02}"), "")
                .await,
        );
    }
    let token = setup.token(&acme).await;
    let secret = setup.secret(&acme).await;
    let mut sent = 0;
    for round in 0..PER_INVOICE {
        for (n, (_, order)) in invoices.iter().enumerate() {
            let body = serde_json::to_vec(&serde_json::json!({
                "UpdatedEntityID": 700_000 + round * 10 + n,
                "UpdatedEntityType": "Message",
                "WebhookUpdateTypeTC": "I",
                "EntityDetail": {"OrderID": order, "OrderMessage": {
                    "Description": "PD: The document has been paid.",
                    "FileID": Uuid::now_v7().to_string(),
                    "CreationDate": format!("2026-09-02T10:{round:02}:{n:02}"),
                    "TransportType": "Peppol", "MessageDirection": "Incoming", "Success": true
                }}
            }))
            .unwrap();
            let signature = portal_billit::webhook::sign(
                secret.as_bytes(),
                chrono::Utc::now().timestamp(),
                &body,
            );
            assert_eq!(
                setup.post_webhook(&token, &body, Some(&signature)).await,
                200
            );
            sent += 1;
        }
    }
    (setup, acme, invoices, sent)
}

/// The webhook jobs, by delivery: (state, attempts).
async fn webhook_jobs(setup: &Setup) -> HashMap<Uuid, (JobState, i32)> {
    let queue = &setup.app.state.jobs.queue;
    let mut jobs = HashMap::new();
    for state in [
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Dead,
    ] {
        for job in queue.list(state, 10_000).await.unwrap() {
            if job.kind == WEBHOOK_JOB {
                let payload: serde_json::Value = serde_json::from_str(&job.payload).unwrap();
                let delivery: Uuid = payload["delivery_id"].as_str().unwrap().parse().unwrap();
                jobs.insert(delivery, (job.state, job.attempts));
            }
        }
    }
    jobs
}

/// How many events each invoice has now.
async fn events_per_invoice(
    setup: &Setup,
    acme: &TenantScope,
    invoices: &[(InvoiceId, i64)],
) -> HashMap<InvoiceId, usize> {
    let mut counts = HashMap::new();
    for (invoice, _) in invoices {
        let events = setup
            .app
            .state
            .invoices
            .events(acme, *invoice)
            .await
            .unwrap();
        counts.insert(*invoice, events.len());
    }
    counts
}

/// Every due webhook job, claimed in one batch (all `sent` of them).
async fn claim_all(setup: &Setup, sent: usize) -> Vec<portal_persistence::jobs::ClaimedJob> {
    let jobs = JobQueue::new(setup.app.state.db.clone())
        .claim_batch("worker", LEASE, &[WEBHOOK_JOB], 500)
        .await
        .unwrap();
    assert_eq!(jobs.len(), sent, "one batch takes every due delivery");
    jobs
}

/// All or nothing, delivery by delivery: a delivery is processed exactly when its job is done, and each invoice
/// holds exactly one new event per processed delivery of its own. Returns how many are processed.
async fn assert_consistent(
    setup: &Setup,
    acme: &TenantScope,
    invoices: &[(InvoiceId, i64)],
    before: &HashMap<InvoiceId, usize>,
    when: &str,
) -> usize {
    let deliveries = setup.deliveries().recent(acme, 1_000).await.unwrap();
    let jobs = webhook_jobs(setup).await;
    let mut processed_per_order: HashMap<i64, usize> = HashMap::new();
    let mut processed = 0;
    for delivery in &deliveries {
        let (job_state, _) = jobs[&delivery.id];
        let done = delivery.state == DeliveryState::Processed;
        assert_eq!(
            done,
            job_state == JobState::Done,
            "{when}: delivery {} is {:?} but its job is {job_state:?}",
            delivery.id,
            delivery.state
        );
        assert_ne!(
            delivery.state,
            DeliveryState::Failed,
            "{when}: {delivery:?}"
        );
        if done {
            processed += 1;
            let payload: serde_json::Value = serde_json::from_str(&delivery.body).unwrap();
            let order = payload["EntityDetail"]["OrderID"].as_i64().unwrap();
            *processed_per_order.entry(order).or_default() += 1;
        }
    }
    let now = events_per_invoice(setup, acme, invoices).await;
    for (invoice, order) in invoices {
        assert_eq!(
            now[invoice] - before[invoice],
            processed_per_order.get(order).copied().unwrap_or(0),
            "{when}: invoice of order {order} has one new event per processed delivery, no more, no less"
        );
    }
    processed
}

#[tokio::test]
async fn a_worker_dying_mid_batch_loses_nothing_and_applies_nothing_twice() {
    let (setup, acme, invoices, sent) = deliveries().await;
    let state = setup.app.state.app.clone();
    let before = events_per_invoice(&setup, &acme, &invoices).await;
    let clock = Arc::new(ManualClock::starting_now());
    let queue = JobQueue::with(state.db.clone(), RetryPolicy::default(), clock.clone());

    // Workers die one after another, each a little later into its batch (before it began, during its
    // transaction, or once it was done): each time the lease runs out, the next worker takes the whole batch over.
    // The first dies as soon as it has claimed, before applying anything, so that a takeover happens whatever the
    // machine's speed (a task stopped while its commit is already on its way still commits).
    let mut deaths = 0;
    for (round, delay_ms) in [
        None,
        Some(0_u64),
        Some(1),
        Some(3),
        Some(6),
        Some(12),
        Some(25),
    ]
    .into_iter()
    .enumerate()
    {
        let worker = format!("doomed-{round}");
        let jobs = queue
            .claim_batch(&worker, LEASE, &[WEBHOOK_JOB], 500)
            .await
            .unwrap();
        if jobs.iter().any(|job| job.kind != WEBHOOK_JOB) {
            // The deliveries' follow-ups (their status files) come after them: every delivery is applied.
            for job in &jobs {
                queue.release(job).await.unwrap();
            }
            break;
        }
        match delay_ms {
            None => {
                deaths += 1;
                drop(jobs);
            }
            Some(delay_ms) => {
                let task = tokio::spawn(apply_webhook_batch(state.clone(), jobs));
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                if !task.is_finished() {
                    deaths += 1;
                }
                task.abort();
                let _ = task.await;
            }
        }
        // What a dead worker leaves behind once its connection is gone: its uncommitted work undone.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_consistent(
            &setup,
            &acme,
            &invoices,
            &before,
            &format!("after {worker}"),
        )
        .await;
        clock.advance(LEASE + Duration::from_secs(1));
    }
    assert!(
        deaths > 0,
        "at least one worker died before its batch ended"
    );

    // A worker that lives applies what is left, in one batch.
    let left = webhook_jobs(&setup)
        .await
        .values()
        .filter(|(state, _)| *state != JobState::Done)
        .count();
    if left > 0 {
        let jobs = queue
            .claim_batch("survivor", LEASE, &[WEBHOOK_JOB], 500)
            .await
            .unwrap();
        assert_eq!(jobs.len(), left, "{jobs:?}");
        let results = apply_webhook_batch(state.clone(), jobs).await;
        assert!(
            results.iter().all(Result::is_ok),
            "{:?}",
            results
                .iter()
                .filter_map(|result| result.as_ref().err())
                .collect::<Vec<_>>()
        );
    }
    let processed = assert_consistent(&setup, &acme, &invoices, &before, "at the end").await;
    assert_eq!(processed, sent, "every delivery applied");
    let jobs = webhook_jobs(&setup).await;
    assert_eq!(jobs.len(), sent);
    assert!(
        jobs.values().all(|(state, _)| *state == JobState::Done),
        "{jobs:?}"
    );
    assert!(
        jobs.values().any(|(_, attempts)| *attempts > 1),
        "some jobs were taken over from a dead worker: {jobs:?}"
    );
    setup.stop().await;
}

#[tokio::test]
async fn a_batch_whose_lease_was_taken_over_changes_nothing() {
    let (setup, acme, invoices, sent) = deliveries().await;
    let state = setup.app.state.app.clone();
    let before = events_per_invoice(&setup, &acme, &invoices).await;
    let clock = Arc::new(ManualClock::starting_now());
    let queue = JobQueue::with(state.db.clone(), RetryPolicy::default(), clock.clone());
    let slow = queue
        .claim_batch("slow", LEASE, &[WEBHOOK_JOB], 500)
        .await
        .unwrap();
    assert_eq!(slow.len(), sent, "one batch takes every due delivery");
    // The slow worker's lease runs out; another takes the batch over and applies it.
    clock.advance(LEASE + Duration::from_secs(1));
    let quick = queue
        .claim_batch("quick", LEASE, &[WEBHOOK_JOB], 500)
        .await
        .unwrap();
    assert_eq!(quick.len(), sent);
    let results = apply_webhook_batch(state.clone(), quick).await;
    assert!(results.iter().all(Result::is_ok));
    // The slow worker comes back: its batch is rolled back whole, every job reported as not done by it.
    let results = apply_webhook_batch(state.clone(), slow).await;
    assert!(results.iter().all(Result::is_err));
    let processed = assert_consistent(&setup, &acme, &invoices, &before, "at the end").await;
    assert_eq!(processed, sent);
    setup.stop().await;
}

/// The statements of one call of [`apply_webhook_batch`], as the round-trip counter sees them.
async fn counted_batch(
    state: &portal_app::App,
    jobs: Vec<portal_persistence::jobs::ClaimedJob>,
) -> (
    Vec<portal_app::worker::JobResult>,
    crate::roundtrips::counter::Hop,
) {
    use crate::roundtrips::counter::{MARKER_SPAN, Recording};
    use tracing::Instrument;
    let recording = Recording::start("billit.webhook batch");
    let span = tracing::info_span!(MARKER_SPAN, tag = %recording.request_id());
    let results = apply_webhook_batch(state.clone(), jobs)
        .instrument(span)
        .await;
    (results, recording.finish())
}

#[tokio::test]
async fn a_batch_writes_its_invoices_together_in_a_few_statements() {
    let (setup, acme, invoices, sent) = deliveries().await;
    let state = setup.app.state.app.clone();
    let before = events_per_invoice(&setup, &acme, &invoices).await;
    let jobs = claim_all(&setup, sent).await;
    let (results, hop) = counted_batch(&state, jobs).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        assert_consistent(&setup, &acme, &invoices, &before, "after the batch").await,
        sent
    );
    // Read the deliveries and their invoices (2), begin (1), lock the company (1, PostgreSQL), then in runs of a
    // power of two rows, at most 8 (3 invoices: 2 + 1; 24 events: 8 + 8 + 8), lock and read the invoices (2) and
    // their events (2), append the events (3) and save the folds (2); announce (1), enqueue the status files (1),
    // mark the deliveries (1) and the jobs (1), commit (1). Invoice by invoice, as before, each invoice took 8
    // (32 here), and a batch of 200 invoices about 1,600; now it takes about 120.
    let allowed = 18;
    assert!(
        hop.count() <= allowed,
        "{} statements for {sent} deliveries of {} invoices, at most {allowed}:\n{}",
        hop.count(),
        invoices.len(),
        hop.report(100)
    );
    setup.stop().await;
}

#[tokio::test]
async fn an_invoice_that_cannot_be_saved_fails_alone_in_its_batch() {
    use portal_persistence::entities::invoices as invoice_rows;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let (setup, acme, invoices, sent) = deliveries().await;
    let state = setup.app.state.app.clone();
    let before = events_per_invoice(&setup, &acme, &invoices).await;
    // One invoice's row can no longer be read (its lines are not JSON): its pass fails, whatever is tried.
    let (broken, broken_order) = invoices[1];
    invoice_rows::Entity::update_many()
        .col_expr(invoice_rows::Column::Lines, Expr::value("not json"))
        .filter(invoice_rows::Column::Id.eq(broken.as_uuid()))
        .exec(&state.db)
        .await
        .unwrap();
    let jobs = claim_all(&setup, sent).await;
    let results = apply_webhook_batch(state.clone(), jobs).await;
    let failed = results.iter().filter(|result| result.is_err()).count();
    assert_eq!(
        failed, PER_INVOICE,
        "the broken invoice's deliveries, and only they, are to be tried again: {results:?}"
    );
    // The other invoices got every event; the broken one none, and its deliveries wait for their next try.
    for (invoice, order) in invoices.iter().filter(|(invoice, _)| *invoice != broken) {
        let events = state.invoices.events(&acme, *invoice).await.unwrap();
        assert_eq!(
            events.len() - before[invoice],
            PER_INVOICE,
            "invoice of order {order}"
        );
    }
    let deliveries = setup.deliveries().recent(&acme, 1_000).await.unwrap();
    let waiting: Vec<i64> = deliveries
        .iter()
        .filter(|delivery| delivery.state == DeliveryState::Received)
        .map(|delivery| {
            let payload: serde_json::Value = serde_json::from_str(&delivery.body).unwrap();
            payload["EntityDetail"]["OrderID"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(waiting, vec![broken_order; PER_INVOICE]);
    setup.stop().await;
}
