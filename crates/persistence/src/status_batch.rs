//! Many status passes in one transaction: a batch of webhook deliveries is applied, its deliveries marked and its
//! jobs completed together, so that a batch costs one commit (one `fsync`) instead of one per delivery, and a worker
//! that dies mid-batch leaves nothing of it behind (its jobs' leases run out and another worker applies them all).
//!
//! Each invoice's pass is a savepoint of the batch's transaction: one that fails is rolled back alone, and the rest
//! of the batch goes on.

use crate::db::begin_write;
use crate::invoices::{InvoiceError, InvoiceRepository, StatusPass};
use crate::jobs::{ClaimedJob, JobQueue, JobQueueError, NewJob};
use crate::scope::TenantScope;
use crate::webhook_deliveries::{DeliveryState, finish_many_in};
use portal_domain::ids::InvoiceId;
use portal_domain::lifecycle::InvoiceFacts;
use sea_orm::{DatabaseTransaction, DbErr};
use uuid::Uuid;

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
