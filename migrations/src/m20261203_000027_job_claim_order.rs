//! The workers take due jobs in `run_at_ms, id` order, and `idx_jobs_claim` held `(state, run_at_ms)` only: the
//! jobs of one millisecond (a burst of webhook deliveries queues hundreds) were sorted on every claim, and
//! PostgreSQL, whose statistics lag behind such a burst, sorted every queued job (45 ms a claim with 1,430 queued,
//! measured with auto_explain during the ingestion bench). With `id` in the index the order is the index's.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CLAIM_INDEX: &str = "idx_jobs_claim";

/// The claim index on `columns`.
async fn claim_index(manager: &SchemaManager<'_>, columns: &str) -> Result<(), DbErr> {
    crate::rebuild_index(manager, CLAIM_INDEX, &format!("ON jobs ({columns})")).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        claim_index(manager, "state, run_at_ms, id").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        claim_index(manager, "state, run_at_ms").await
    }
}
