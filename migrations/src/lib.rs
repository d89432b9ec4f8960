//! The portal's schema, as ordered migrations that run unchanged on SQLite and PostgreSQL.
//!
//! Conventions: UUID (v7) primary keys; every tenant-owned table has `tenant_id NOT NULL` and every index on it
//! leads with `tenant_id` (ready for tenant-sharded PostgreSQL); human-facing times are `timestamptz`; the job
//! queue keeps epoch milliseconds so that lease and run-at arithmetic is plain integer comparison on both backends.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_foundation;
mod m20261122_000002_accounts;
mod m20261130_000003_invoices;
mod m20261130_000004_answers;
mod m20261130_000005_payments;
mod m20261130_000006_settlements;
mod m20261130_000007_payment_cancellation;
mod m20261201_000008_payment_acknowledgements;
mod m20261202_000009_webhook_replays;
mod m20261202_000010_answer_limits;
mod m20261202_000011_directory_checks;
mod m20261202_000012_paid_at_issue;
mod m20261202_000013_reminders;
mod m20261202_000014_outbox_sending;
mod m20261202_000015_login_throttle_purge;
mod m20261202_000016_api;
mod m20261202_000017_integrations;
mod m20261202_000018_firm_staff;
mod m20261202_000019_firm_health;
mod m20261202_000020_query_plans;
mod m20261202_000021_invoice_counts;
mod m20261202_000022_search;
mod m20261202_000025_firm_upkeep;
mod m20261203_000026_inbox_since;
mod m20261203_000027_job_claim_order;
mod m20261206_000028_number_suffixes;

/// The Paris month (`YYYY-MM`) of a timestamp column in SQL, as the kept monthly counts are keyed.
pub use m20261202_000021_invoice_counts::paris_month_sql;
/// The invoices still in flight (sent, not final, not delivered), as the partial index `idx_invoices_in_flight` says.
pub use m20261203_000026_inbox_since::IN_FLIGHT;

/// Drops the index `name` and creates it again as `definition` (`ON table (…) [WHERE …]`), in one batch on one
/// connection: a pooled SQLite connection whose schema predates the drop would refuse the creation ("already
/// exists") while it prepares the statement.
pub(crate) async fn rebuild_index(
    manager: &sea_orm_migration::SchemaManager<'_>,
    name: &str,
    definition: &str,
) -> Result<(), sea_orm_migration::DbErr> {
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "DROP INDEX {name}; CREATE INDEX {name} {definition}"
        ))
        .await?;
    Ok(())
}

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_foundation::Migration),
            Box::new(m20261122_000002_accounts::Migration),
            Box::new(m20261130_000003_invoices::Migration),
            Box::new(m20261130_000004_answers::Migration),
            Box::new(m20261130_000005_payments::Migration),
            Box::new(m20261130_000006_settlements::Migration),
            Box::new(m20261130_000007_payment_cancellation::Migration),
            Box::new(m20261201_000008_payment_acknowledgements::Migration),
            Box::new(m20261202_000009_webhook_replays::Migration),
            Box::new(m20261202_000010_answer_limits::Migration),
            Box::new(m20261202_000011_directory_checks::Migration),
            Box::new(m20261202_000012_paid_at_issue::Migration),
            Box::new(m20261202_000013_reminders::Migration),
            Box::new(m20261202_000014_outbox_sending::Migration),
            Box::new(m20261202_000015_login_throttle_purge::Migration),
            Box::new(m20261202_000016_api::Migration),
            Box::new(m20261202_000017_integrations::Migration),
            Box::new(m20261202_000018_firm_staff::Migration),
            Box::new(m20261202_000019_firm_health::Migration),
            Box::new(m20261202_000020_query_plans::Migration),
            Box::new(m20261202_000021_invoice_counts::Migration),
            Box::new(m20261202_000022_search::Migration),
            Box::new(m20261202_000025_firm_upkeep::Migration),
            Box::new(m20261203_000026_inbox_since::Migration),
            Box::new(m20261203_000027_job_claim_order::Migration),
            Box::new(m20261206_000028_number_suffixes::Migration),
        ]
    }
}
