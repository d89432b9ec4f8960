//! Many status passes in one transaction: a batch of webhook deliveries is applied, its deliveries marked and its
//! jobs completed together, so that a batch costs one commit (one `fsync`) instead of one per delivery, and a worker
//! that dies mid-batch leaves nothing of it behind (its jobs' leases run out and another worker applies them all).
//!
//! Each invoice's pass is a savepoint of the batch's transaction: one that fails is rolled back alone, and the rest
//! of the batch goes on.

use crate::db::begin_write;
use crate::entities::{invoice_events, invoices};
use crate::invoices::{
    InvoiceError, InvoiceRepository, InvoiceSummary, PassState, StatusPass, save_summaries,
    to_event, to_record,
};
use crate::jobs::{ClaimedJob, JobQueue, JobQueueError, NewJob};
use crate::outgoing_webhooks::{OutgoingError, OutgoingEvent};
use crate::payments::PaymentRepository;
use crate::scope::TenantScope;
use crate::webhook_deliveries::{DeliveryState, finish_many_in};
use portal_domain::ids::InvoiceId;
use portal_domain::lifecycle::{InvoiceFacts, StatusEvent};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

/// The most invoices or events one statement of a batch names. Their statements are wide (an event row binds 18
/// values, a fold 14 `CASE` arms per invoice), and each connection keeps the ones it prepared: in the load bench
/// (SQLite, 5,000 webhooks), runs of at most 256 left the server's peak memory at 149 MiB, of 32 at 114, of 16 at
/// 105 and of 8 at 97 (88 before batches were written together), with no loss of speed.
/// Runs are powers of two (largest first), so that a connection prepares a handful of shapes, whatever the batch.
const RUN: usize = 8;

/// `items` in runs of at most [`RUN`] whose sizes are powers of two, largest first.
fn runs<T>(items: &[T]) -> Vec<&[T]> {
    let mut runs = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let size = if rest.len() >= RUN {
            RUN
        } else {
            1 << (usize::BITS - 1 - rest.len().leading_zeros())
        };
        let (run, tail) = rest.split_at(size);
        runs.push(run);
        rest = tail;
    }
    runs
}

/// The transaction of a batch of status passes.
pub struct StatusBatch {
    txn: DatabaseTransaction,
}

impl InvoiceRepository {
    /// Begins a batch (on SQLite it takes the write lock now: the batch writes from its first statement).
    pub async fn begin_batch(&self) -> Result<StatusBatch, DbErr> {
        Ok(StatusBatch {
            txn: begin_write(self.connection()).await?,
        })
    }
}

impl StatusBatch {
    /// Begins a pass over one invoice inside the batch (see [`InvoiceRepository::begin_pass`]); committing the
    /// pass keeps it in the batch, dropping it undoes it alone.
    pub async fn begin_pass(
        &self,
        scope: &TenantScope,
        id: InvoiceId,
        facts: Option<&InvoiceFacts>,
    ) -> Result<Option<StatusPass>, InvoiceError> {
        let savepoint = begin_write(&self.txn).await?;
        InvoiceRepository::pass_in(savepoint, scope, id, facts).await
    }

    /// Locks and reads many invoices of one company at once, for passes that share the batch's transaction: one
    /// statement takes their rows' write locks and reads them, one more reads their events (per run of
    /// invoices, see [`runs`]). The invoices the company does not have are left out. Unlike [`Self::begin_pass`], nothing is
    /// undone alone: a failure fails the batch.
    pub async fn lock_invoices(
        &self,
        scope: &TenantScope,
        ids: &[InvoiceId],
    ) -> Result<Vec<PassState>, InvoiceError> {
        let tenant = scope.tenant_id().as_uuid();
        let mut states = Vec::with_capacity(ids.len());
        for run in runs(ids) {
            let uuids: Vec<Uuid> = run.iter().map(|id| id.as_uuid()).collect();
            // A no-op update takes the locks on both backends.
            let rows = invoices::Entity::update_many()
                .col_expr(
                    invoices::Column::UpdatedAt,
                    Expr::col(invoices::Column::UpdatedAt),
                )
                .filter(invoices::Column::TenantId.eq(tenant))
                .filter(invoices::Column::Id.is_in(uuids.iter().copied()))
                .exec_with_returning(&self.txn)
                .await?;
            let mut events = invoice_events::Entity::find()
                .filter(invoice_events::Column::TenantId.eq(tenant))
                .filter(invoice_events::Column::InvoiceId.is_in(uuids))
                .all(&self.txn)
                .await?;
            for row in rows {
                let id = row.id;
                let (own, rest): (Vec<_>, Vec<_>) =
                    events.into_iter().partition(|event| event.invoice_id == id);
                events = rest;
                states.push(PassState::new(
                    to_record(row)?,
                    own.into_iter().map(to_event).collect(),
                ));
            }
        }
        Ok(states)
    }

    /// Appends, for each of the company's invoices given, its events not stored yet, in one statement per run
    /// of events; returns each invoice's new events (in the order given), as [`StatusPass::append`] does.
    pub async fn append_events(
        &self,
        scope: &TenantScope,
        work: &mut [(&mut PassState, Vec<StatusEvent>)],
        via: &str,
    ) -> Result<Vec<Vec<StatusEvent>>, DbErr> {
        let mut fresh: Vec<Vec<StatusEvent>> = Vec::with_capacity(work.len());
        let mut rows = Vec::new();
        for (state, events) in work.iter() {
            let new = state.fresh(events);
            rows.extend(crate::invoices::pass::event_rows(
                scope,
                state.record().id,
                &new,
                via,
            ));
            fresh.push(new);
        }
        let mut stored: Vec<invoice_events::Model> = Vec::with_capacity(rows.len());
        for run in runs(&rows) {
            stored.extend(crate::invoices::pass::insert_events(&self.txn, run.to_vec()).await?);
        }
        let mut new = Vec::with_capacity(work.len());
        for ((state, _), fresh) in work.iter_mut().zip(fresh) {
            let id = state.record().id.as_uuid();
            let (own, rest): (Vec<_>, Vec<_>) =
                stored.into_iter().partition(|row| row.invoice_id == id);
            stored = rest;
            new.push(state.absorb(fresh, own));
        }
        Ok(new)
    }

    /// Folds invoices of one company read by [`Self::lock_invoices`] and saves the summaries that changed, in one
    /// statement per run of invoices (see [`runs`]); returns each one's summary before and after.
    pub async fn refold_all(
        &self,
        scope: &TenantScope,
        passes: &mut [&mut PassState],
    ) -> Result<Vec<(InvoiceSummary, InvoiceSummary)>, DbErr> {
        let mut folds = Vec::with_capacity(passes.len());
        let mut changed = Vec::new();
        for pass in passes.iter_mut() {
            let (before, after) = pass.fold();
            if after != before {
                changed.push((pass.record().id, after.clone()));
            }
            folds.push((before, after));
        }
        for run in runs(&changed) {
            save_summaries(&self.txn, scope, run).await?;
        }
        Ok(folds)
    }

    /// See [`StatusPass::accept_reported_payments`].
    pub async fn accept_reported_payments(
        &self,
        scope: &TenantScope,
        invoice: InvoiceId,
        acknowledged: usize,
    ) -> Result<u64, DbErr> {
        PaymentRepository::accept_reported_in(&self.txn, scope, invoice, acknowledged).await
    }

    /// Announces `events` of the company to its outgoing webhook endpoints with the batch (see
    /// [`crate::outgoing_webhooks::emit_in`]).
    pub async fn emit_webhooks(
        &self,
        scope: &TenantScope,
        events: &[OutgoingEvent],
        job_kind: &str,
    ) -> Result<u64, OutgoingError> {
        crate::outgoing_webhooks::emit_in(&self.txn, scope, events, job_kind, chrono::Utc::now())
            .await
    }

    /// Marks the tenant's deliveries `ids` with `state` (and `note`), in one statement per few hundred.
    pub async fn finish_deliveries(
        &self,
        scope: &TenantScope,
        ids: &[Uuid],
        state: DeliveryState,
        note: Option<&str>,
    ) -> Result<(), DbErr> {
        finish_many_in(&self.txn, scope, ids, state, note).await
    }

    /// Enqueues jobs with the batch; a job whose unique key is taken is left out.
    pub async fn enqueue(&self, now_ms: i64, jobs: Vec<NewJob>) -> Result<u64, JobQueueError> {
        if jobs.is_empty() {
            return Ok(0);
        }
        JobQueue::enqueue_all_in(&self.txn, now_ms, jobs).await
    }

    /// Marks the batch's jobs done with it; `LeaseLost` when one is no longer this worker's (then the batch must
    /// be rolled back: the new holder applies it).
    pub async fn complete(&self, now_ms: i64, jobs: &[ClaimedJob]) -> Result<(), JobQueueError> {
        JobQueue::complete_all_in(&self.txn, now_ms, jobs).await
    }

    /// Takes, on PostgreSQL, a lock per company of the batch (until the batch ends), in one order for every batch.
    /// A company's status changes update its few kept counter rows (`invoice_counts`, by trigger): two batches
    /// over invoices of one company, each folding them in its own order, would otherwise take those rows in
    /// opposite orders and deadlock (seen in the demonstration on PostgreSQL). The counter rows already make one
    /// company's changes wait for each other, so waiting here first costs no parallelism; companies apart still
    /// go in parallel. SQLite has one writer: nothing to take.
    pub async fn lock_companies(&self, scopes: &[&TenantScope]) -> Result<(), DbErr> {
        use sea_orm::ConnectionTrait;
        let backend = self.txn.get_database_backend();
        if backend != sea_orm::DbBackend::Postgres {
            return Ok(());
        }
        let mut keys: Vec<i64> = scopes
            .iter()
            .map(|scope| {
                let (high, low) = scope.tenant_id().as_uuid().as_u64_pair();
                i64::from_ne_bytes((high ^ low).to_ne_bytes())
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            self.txn
                .execute_raw(sea_orm::Statement::from_sql_and_values(
                    backend,
                    "SELECT pg_advisory_xact_lock($1)",
                    [key.into()],
                ))
                .await?;
        }
        Ok(())
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

#[cfg(test)]
mod tests {
    use super::{RUN, runs};

    #[test]
    fn rows_go_in_few_statements_of_few_sizes() {
        let sizes = |len: usize| {
            let items: Vec<usize> = (0..len).collect();
            let runs = runs(&items);
            assert_eq!(runs.concat(), items, "every row once, in order");
            runs.iter().map(|run| run.len()).collect::<Vec<_>>()
        };
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), vec![1]);
        assert_eq!(sizes(7), vec![4, 2, 1]);
        assert_eq!(sizes(21), vec![8, 8, 4, 1]);
        for len in 0..500 {
            let sizes = sizes(len);
            assert!(
                sizes
                    .iter()
                    .all(|size| size.is_power_of_two() && *size <= RUN)
            );
            assert!(sizes.len() <= len / RUN + 3, "{len}: {sizes:?}");
        }
    }
}
