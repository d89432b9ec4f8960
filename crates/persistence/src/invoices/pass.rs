//! One pass over an invoice's statuses, in one transaction: its row locked and read (with the order's facts saved
//! in the same statement), its events read once, the new ones appended in one statement, the fold saved when it
//! changed, and the follow-up jobs enqueued, all committed together or not at all.

use super::{
    EventDetails, InvoiceError, InvoiceRecord, InvoiceRepository, InvoiceSummary, StoredEvent,
    enrichment, event_row, save_summary, summary_from, to_event, to_record,
};
use crate::entities::{invoice_events, invoices};
use crate::jobs::{JobQueue, JobQueueError, NewJob};
use crate::payments::PaymentRepository;
use crate::scope::TenantScope;
use chrono::Utc;
use portal_domain::ids::InvoiceId;
use portal_domain::lifecycle::{InvoiceFacts, Lifecycle, StatusEvent};
use portal_domain::submission::SubmissionState;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter};

/// The longest dedup key stored (the column's size): longer keys are cut, and the events returned carry the cut
/// key, so that callers find the stored row again by it (file enrichment, notifications).
const KEY_CHARS: usize = 400;

/// An invoice's row locked for one pass over its statuses, with the invoice and its events as read under the
/// lock. Two passes over one invoice are serialised (the second waits for the first to end), so the one that
/// folds last sees every event. Dropped without [`StatusPass::commit`], nothing of it is kept.
pub struct StatusPass {
    txn: DatabaseTransaction,
    scope: TenantScope,
    state: PassState,
}

/// An invoice and its events as read under its row's lock: what a pass decides from. It does no I/O, so that a
/// single pass ([`StatusPass`]) and a batch's passes over many invoices at once (`StatusBatch::lock_invoices`)
/// decide alike.
#[derive(Debug, Clone)]
pub struct PassState {
    record: InvoiceRecord,
    /// Every stored event, by time then dedup key, including those the pass appended or changed.
    events: Vec<StoredEvent>,
}

impl PassState {
    pub(crate) fn new(record: InvoiceRecord, mut events: Vec<StoredEvent>) -> Self {
        sort(&mut events);
        Self { record, events }
    }

    /// The invoice as read under the lock (its summary is the fold's once [`Self::fold`] ran).
    pub fn record(&self) -> &InvoiceRecord {
        &self.record
    }

    /// Every event of the invoice, by time then dedup key, as stored now.
    pub fn events(&self) -> &[StoredEvent] {
        &self.events
    }

    /// The events of `events` not stored yet (by dedup key, cut to the stored length; a repeat within `events`
    /// counts once), in the order given.
    pub(crate) fn fresh(&self, events: &[StatusEvent]) -> Vec<StatusEvent> {
        let mut fresh: Vec<StatusEvent> = Vec::new();
        for event in events {
            let mut event = event.clone();
            event.dedup_key = event.dedup_key.chars().take(KEY_CHARS).collect();
            let known = self
                .events
                .iter()
                .any(|stored| stored.event.dedup_key == event.dedup_key)
                || fresh.iter().any(|new| new.dedup_key == event.dedup_key);
            if !known {
                fresh.push(event);
            }
        }
        fresh
    }

    /// Takes in the rows an append stored out of `fresh`; returns the events of `fresh` that were stored.
    pub(crate) fn absorb(
        &mut self,
        fresh: Vec<StatusEvent>,
        stored: Vec<invoice_events::Model>,
    ) -> Vec<StatusEvent> {
        let new = fresh
            .into_iter()
            .filter(|event| stored.iter().any(|row| row.dedup_key == event.dedup_key))
            .collect();
        // The fold reads them as a new read of the table would (the database's own precision of times).
        self.events.extend(stored.into_iter().map(to_event));
        sort(&mut self.events);
        new
    }

    /// Folds every event with the invoice's facts and keeps the result as the record's summary. Returns the
    /// summary before and after (to be saved when they differ).
    pub(crate) fn fold(&mut self) -> (InvoiceSummary, InvoiceSummary) {
        let events: Vec<StatusEvent> = self
            .events
            .iter()
            .map(|stored| stored.event.clone())
            .collect();
        let lifecycle = Lifecycle::fold(&events, &self.record.facts());
        let before = self.record.summary.clone();
        let after = summary_from(
            &lifecycle,
            self.record.submission == SubmissionState::Failed,
        );
        self.record.summary = after.clone();
        (before, after)
    }
}

impl InvoiceRepository {
    /// Begins a pass: takes the invoice row's write lock and reads the row in one statement (`UPDATE …
    /// RETURNING`, which also saves `facts` when the order was read), then reads its events. `None` when the
    /// tenant has no such invoice.
    pub async fn begin_pass(
        &self,
        scope: &TenantScope,
        id: InvoiceId,
        facts: Option<&InvoiceFacts>,
    ) -> Result<Option<StatusPass>, InvoiceError> {
        let txn = crate::db::begin_write(&self.db).await?;
        Self::pass_in(txn, scope, id, facts).await
    }

    /// Begins a pass inside `txn` (a transaction of its own, or a savepoint of a batch's transaction).
    pub(crate) async fn pass_in(
        txn: DatabaseTransaction,
        scope: &TenantScope,
        id: InvoiceId,
        facts: Option<&InvoiceFacts>,
    ) -> Result<Option<StatusPass>, InvoiceError> {
        let update = invoices::Entity::update_many();
        let update = match facts {
            Some(facts) => update
                .col_expr(invoices::Column::UpdatedAt, Expr::value(Utc::now()))
                .col_expr(
                    invoices::Column::BillitFacts,
                    Expr::value(serde_json::to_string(facts).ok()),
                )
                .col_expr(invoices::Column::LastPolledAt, Expr::value(Utc::now())),
            // A no-op update takes the lock on both backends.
            None => update.col_expr(
                invoices::Column::UpdatedAt,
                Expr::col(invoices::Column::UpdatedAt),
            ),
        };
        let row = update
            .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoices::Column::Id.eq(id.as_uuid()))
            .exec_with_returning(&txn)
            .await?
            .into_iter()
            .next();
        let Some(row) = row else {
            txn.rollback().await?;
            return Ok(None);
        };
        let record = to_record(row)?;
        let events: Vec<StoredEvent> = invoice_events::Entity::find()
            .filter(invoice_events::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoice_events::Column::InvoiceId.eq(id.as_uuid()))
            .all(&txn)
            .await?
            .into_iter()
            .map(to_event)
            .collect();
        Ok(Some(StatusPass {
            txn,
            scope: scope.clone(),
            state: PassState::new(record, events),
        }))
    }
}

impl StatusPass {
    /// The invoice as read under the lock (its summary is the fold's once [`Self::refold`] ran).
    pub fn record(&self) -> &InvoiceRecord {
        self.state.record()
    }

    /// Every event of the invoice, by time then dedup key, as stored now.
    pub fn events(&self) -> &[StoredEvent] {
        self.state.events()
    }

    /// Appends the events that are not stored yet (by dedup key; a repeat within `events` counts once), in one
    /// statement. Returns the new ones in the order given, with their keys as stored.
    pub async fn append(
        &mut self,
        events: &[StatusEvent],
        via: &str,
    ) -> Result<Vec<StatusEvent>, DbErr> {
        let fresh = self.state.fresh(events);
        if fresh.is_empty() {
            return Ok(Vec::new());
        }
        let rows = event_rows(&self.scope, self.state.record.id, &fresh, via);
        let stored = insert_events(&self.txn, rows).await?;
        Ok(self.state.absorb(fresh, stored))
    }

    /// Puts what a status file says on the event stored under `dedup_key` (the file is authoritative). False
    /// when the invoice has no such event.
    pub async fn enrich(
        &mut self,
        dedup_key: &str,
        from_file: &StatusEvent,
        details: &EventDetails,
    ) -> Result<bool, DbErr> {
        let updated = enrichment(
            &self.scope,
            self.state.record.id,
            dedup_key,
            from_file,
            details,
        )
        .exec_with_returning(&self.txn)
        .await?;
        let changed = !updated.is_empty();
        for row in updated {
            let row = to_event(row);
            match self
                .state
                .events
                .iter_mut()
                .find(|stored| stored.event.dedup_key == row.event.dedup_key)
            {
                Some(stored) => *stored = row,
                None => self.state.events.push(row),
            }
        }
        sort(&mut self.state.events);
        Ok(changed)
    }

    /// Folds every event with the invoice's facts, and saves the summary when it changed. Returns the summary
    /// before and after.
    pub async fn refold(&mut self) -> Result<(InvoiceSummary, InvoiceSummary), DbErr> {
        let (before, after) = self.state.fold();
        if after != before {
            save_summary(&self.txn, &self.scope, self.state.record.id, &after).await?;
        }
        Ok((before, after))
    }

    /// The tax authority acknowledged `acknowledged` payments of the invoice in all: the oldest reported ones not
    /// counted yet become accepted (see `PaymentRepository::accept_reported`). Returns how many changed.
    pub async fn accept_reported_payments(&self, acknowledged: usize) -> Result<u64, DbErr> {
        PaymentRepository::accept_reported_in(
            &self.txn,
            &self.scope,
            self.state.record.id,
            acknowledged,
        )
        .await
    }

    /// Enqueues jobs with the pass, in one statement; a job whose unique key is taken is left out.
    pub async fn enqueue(&self, now_ms: i64, jobs: Vec<NewJob>) -> Result<u64, JobQueueError> {
        JobQueue::enqueue_all_in(&self.txn, now_ms, jobs).await
    }

    /// Keeps everything the pass did, and releases the invoice.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    /// Keeps nothing of the pass (it had nothing to do), and releases the invoice.
    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

/// The stored rows of new events of one invoice.
pub(crate) fn event_rows(
    scope: &TenantScope,
    invoice: InvoiceId,
    events: &[StatusEvent],
    via: &str,
) -> Vec<invoice_events::ActiveModel> {
    let now = Utc::now();
    events
        .iter()
        .map(|event| event_row(scope.tenant_id().as_uuid(), invoice, event, via, now))
        .collect()
}

/// Inserts event rows in one statement, returning those stored. Events are appended under their invoice's lock,
/// so none of them is stored yet; the conflict clause keeps a row written some other way (the seed) from failing
/// the pass.
pub(crate) async fn insert_events<C: sea_orm::ConnectionTrait>(
    conn: &C,
    rows: Vec<invoice_events::ActiveModel>,
) -> Result<Vec<invoice_events::Model>, DbErr> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    invoice_events::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([
                invoice_events::Column::TenantId,
                invoice_events::Column::InvoiceId,
                invoice_events::Column::DedupKey,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_with_returning(conn)
        .await
}

/// The order in which events are read: by time, then dedup key (the fold's timeline order).
fn sort(events: &mut [StoredEvent]) {
    events.sort_by(|a, b| {
        a.event
            .at
            .cmp(&b.event.at)
            .then_with(|| a.event.dedup_key.cmp(&b.event.dedup_key))
    });
}

impl StatusPass {
    /// Announces `events` to the tenant's outgoing webhook endpoints with the pass (see
    /// [`crate::outgoing_webhooks::emit_in`]).
    pub async fn emit_webhooks(
        &self,
        events: &[crate::outgoing_webhooks::OutgoingEvent],
        job_kind: &str,
    ) -> Result<u64, crate::outgoing_webhooks::OutgoingError> {
        crate::outgoing_webhooks::emit_in(&self.txn, &self.scope, events, job_kind, Utc::now())
            .await
    }
}
