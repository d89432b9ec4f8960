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
//! - `idx_invoices_tenant_unpaid_due` (migration 000013) and `idx_invoices_open_requests` (000019) rebuilt with
//!   every column their readers name: the health page's overdue sum, the charts' amounts due and the open
//!   requests' count and ages looked every row up in the table (SQLite counts a partial index's predicate columns
//!   as columns to read), 325,000 pages per view of the charts at 200 companies × 5,000 invoices. Reminders read
//!   the unpaid index in the same order as before.

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
const OPEN_REQUESTS_INDEX: &str = "idx_invoices_open_requests";
/// Migration 000019's predicate.
const OPEN_REQUESTS: &str = "open_request_code IS NOT NULL";

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
        rebuild(
            manager,
            UNPAID_INDEX,
            "tenant_id, due_date, id, total_incl_cents, amount_paid_cents, document_type, is_final, payment",
            UNPAID,
        )
        .await?;
        rebuild(
            manager,
            OPEN_REQUESTS_INDEX,
            "tenant_id, open_request_since, open_request_code",
            OPEN_REQUESTS,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rebuild(manager, UNPAID_INDEX, "tenant_id, due_date, id", UNPAID).await?;
        rebuild(
            manager,
            OPEN_REQUESTS_INDEX,
            "tenant_id, open_request_since",
            OPEN_REQUESTS,
        )
        .await?;
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

/// Replaces the partial index `name` of the invoices by one on `columns` with the same `predicate`.
async fn rebuild(
    manager: &SchemaManager<'_>,
    name: &str,
    columns: &str,
    predicate: &str,
) -> Result<(), DbErr> {
    crate::rebuild_index(
        manager,
        name,
        &format!("ON invoices ({columns}) WHERE {predicate}"),
    )
    .await
}
