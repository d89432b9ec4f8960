//! The firm's inbox at the size of a firm (200 companies × 5,000 invoices): every row is ordered by how long it has
//! waited, and for a refusal, a rejection or a tax-data rejection that was the time of the status's first event,
//! looked up per waiting invoice in `invoice_events` on every page view (and again for the counts). Tens of
//! thousands of look-ups per view made the page take seconds.
//!
//! - `invoices.headline_since`: when the invoice's current headline status first arrived, kept by the fold beside
//!   the headline itself (backfilled here from the events, as the inbox computed it).
//! - `idx_invoices_waiting`: the invoices that need action by company, headline and age, holding every column the
//!   inbox orders and counts by, so that its arm reads index entries only and the page's details are read for the
//!   rows it shows, not for every row that waits.
//! - `idx_invoices_in_flight`: a partial index of the invoices sent and still waiting for delivery, by company,
//!   with the times the "silent company" arm takes the latest of. That arm read every sent, not final invoice
//!   through `idx_invoices_tenant_state` and looked each one up for its delivery: about two thirds of a
//!   company's invoices on every view of the inbox.
//! - `idx_invoices_tenant_unpaid_due` (migration 000013) rebuilt with the amounts after its key: the health
//!   page's overdue amount and the charts' amounts due add up each company's unpaid invoices, and looked every
//!   one of them up in the table for its total and what was paid. Reminders read the same index in the same
//!   order as before.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Invoices {
    Table,
    TenantId,
    NeedsAction,
    HeadlineCode,
    OpenRequestSince,
    HeadlineSince,
    Id,
}

const WAITING_INDEX: &str = "idx_invoices_waiting";
const IN_FLIGHT_INDEX: &str = "idx_invoices_in_flight";
const UNPAID_INDEX: &str = "idx_invoices_tenant_unpaid_due";
/// Migration 000013's predicate, which the reminders' and the console's queries repeat.
const UNPAID: &str =
    "document_type = 'invoice' AND is_final = false AND payment <> 'paid' AND due_date IS NOT NULL";

/// The inbox's "silent" arm repeats this predicate word for word, so that both planners use the partial index.
pub const IN_FLIGHT: &str =
    "submission_state = 'sent' AND is_final = FALSE AND delivery = 'pending'";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Invoices::Table)
                    .add_column(timestamp_with_time_zone_null(Invoices::HeadlineSince))
                    .to_owned(),
            )
            .await?;
        // The first event with the headline's code, as the inbox read it until now; an invoice whose headline no
        // stored event carries (none known) waits since its last event, then its last change.
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE invoices SET headline_since = COALESCE(\
                 (SELECT MIN(ev.at) FROM invoice_events ev WHERE ev.tenant_id = invoices.tenant_id \
                 AND ev.invoice_id = invoices.id AND ev.code = invoices.headline_code), \
                 last_event_at, updated_at) \
                 WHERE headline_code IS NOT NULL",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(WAITING_INDEX)
                    .table(Invoices::Table)
                    .col(Invoices::TenantId)
                    .col(Invoices::NeedsAction)
                    .col(Invoices::HeadlineCode)
                    .col(Invoices::OpenRequestSince)
                    .col(Invoices::HeadlineSince)
                    .col(Invoices::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX {IN_FLIGHT_INDEX} ON invoices \
                 (tenant_id, last_event_at, sent_at, updated_at) WHERE {IN_FLIGHT}"
            ))
            .await?;
        unpaid_index(
            manager,
            "tenant_id, due_date, id, total_incl_cents, amount_paid_cents",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        unpaid_index(manager, "tenant_id, due_date, id").await?;
        manager
            .drop_index(
                Index::drop()
                    .name(IN_FLIGHT_INDEX)
                    .table(Invoices::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(WAITING_INDEX)
                    .table(Invoices::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Invoices::Table)
                    .drop_column(Invoices::HeadlineSince)
                    .to_owned(),
            )
            .await
    }
}

/// Replaces the unpaid invoices' partial index by one on `columns`, under the same name and predicate.
///
/// One batch on one connection: a pooled SQLite connection whose schema predates the drop would refuse the
/// creation ("already exists") while it prepares the statement.
async fn unpaid_index(manager: &SchemaManager<'_>, columns: &str) -> Result<(), DbErr> {
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "DROP INDEX {UNPAID_INDEX}; CREATE INDEX {UNPAID_INDEX} ON invoices ({columns}) WHERE {UNPAID}"
        ))
        .await?;
    Ok(())
}
