//! Indexes that keep each page's database work bounded by what it shows (#15, the query-plan test in
//! `crates/persistence/tests/db/plans.rs` relies on them):
//!
//! - the documents that settle or replace an invoice (its page's "related documents"): a partial index of the few
//!   invoices that have a `related_invoice_id`, in id order, instead of `(tenant_id, related_invoice_id)` over
//!   every invoice. With the old index the planner preferred `(tenant_id, id)` to avoid the sort and walked the
//!   whole company (almost every `related_invoice_id` is NULL, so `ANALYZE` did not help); this one answers the
//!   equality and the order at once, and is a fraction of the size.
//! - what needs the supplier (the dashboard's queue): open requests by age, then the others by id, each an index
//!   range of `(tenant_id, needs_action, open_request_since, id)` instead of a sort of every invoice that needs
//!   action.
//! - an invoice's events in time order (its page's timeline): `(tenant_id, invoice_id, at)`. Without it SQLite
//!   planned `WHERE tenant_id = ? AND invoice_id = ? ORDER BY at, dedup_key` on `(tenant_id, at, id)` (the CSV
//!   export's index, which gives the order) and walked every event of the company; the unique
//!   `(tenant_id, invoice_id, dedup_key)` does not give the order.
//! - the list filtered by submission state (drafts, sent, failed), newest first: `(tenant_id, submission_state, id)`
//!   instead of sorting every sent invoice of the company to show 50.
//! - an invoice found by its number (the API), the latest year first: `(tenant_id, number, issue_year)`; the
//!   unique `(tenant_id, issue_year, number)` needs the year first.
//! - the customer list in name order: `(tenant_id, lower(legal_name), id)`, the expression the list sorts by.
//! - failed submissions (the firm's inbox and health): a partial index of the few failed invoices. With only
//!   average statistics (SQLite after `ANALYZE`: "a company's invoices have two or three states") the inbox's
//!   failures arm scanned every invoice; with this index in the statistics it reads an index range again.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum InvoiceEvents {
    Table,
    TenantId,
    InvoiceId,
    At,
}

#[derive(DeriveIden)]
enum Customers {
    Table,
}

#[derive(DeriveIden)]
enum Invoices {
    Table,
    TenantId,
    RelatedInvoiceId,
    NeedsAction,
    OpenRequestSince,
    Id,
}

const OLD_RELATED: &str = "idx_invoices_tenant_related";
const RELATED: &str = "idx_invoices_related_documents";
const QUEUE: &str = "idx_invoices_tenant_action_since";
const TIMELINE: &str = "idx_invoice_events_invoice_at";
const STATE: &str = "idx_invoices_tenant_state_id";
const NUMBER: &str = "idx_invoices_tenant_number";
const FAILED: &str = "idx_invoices_tenant_failed";
const CUSTOMER_NAMES: &str = "idx_customers_tenant_lower_name";

/// Indexes written as SQL (partial or on an expression), the same text on both backends.
const RAW: [(&str, &str); 4] = [
    (
        RELATED,
        "ON invoices (tenant_id, related_invoice_id, id) WHERE related_invoice_id IS NOT NULL",
    ),
    (STATE, "ON invoices (tenant_id, submission_state, id)"),
    (NUMBER, "ON invoices (tenant_id, number, issue_year)"),
    (
        FAILED,
        "ON invoices (tenant_id) WHERE submission_state = 'failed'",
    ),
];
const CUSTOMER_NAMES_ON: &str = "ON customers (tenant_id, lower(legal_name), id)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(OLD_RELATED)
                    .table(Invoices::Table)
                    .to_owned(),
            )
            .await?;
        // `related_invoice_id = ?` (and `IN (…)`) implies the related index's predicate on both backends.
        for (name, on) in RAW.into_iter().chain([(CUSTOMER_NAMES, CUSTOMER_NAMES_ON)]) {
            manager
                .get_connection()
                .execute_unprepared(&format!("CREATE INDEX {name} {on}"))
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(QUEUE)
                    .table(Invoices::Table)
                    .col(Invoices::TenantId)
                    .col(Invoices::NeedsAction)
                    .col(Invoices::OpenRequestSince)
                    .col(Invoices::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(TIMELINE)
                    .table(InvoiceEvents::Table)
                    .col(InvoiceEvents::TenantId)
                    .col(InvoiceEvents::InvoiceId)
                    .col(InvoiceEvents::At)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(TIMELINE)
                    .table(InvoiceEvents::Table)
                    .to_owned(),
            )
            .await?;
        for name in [QUEUE, RELATED, STATE, NUMBER, FAILED] {
            manager
                .drop_index(Index::drop().name(name).table(Invoices::Table).to_owned())
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name(CUSTOMER_NAMES)
                    .table(Customers::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(OLD_RELATED)
                    .table(Invoices::Table)
                    .col(Invoices::TenantId)
                    .col(Invoices::RelatedInvoiceId)
                    .to_owned(),
            )
            .await
    }
}
