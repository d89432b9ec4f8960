//! The firm's console (company health): what the portal last heard from each company's Billit account, and the
//! indexes that keep the per-company aggregates bounded by what they count.
//!
//! - `billit_health`: one row per company, the last successful Billit call, the last failed one and what kind of
//!   failure it was (a word the pages translate, never Billit's raw text: it may echo request data).
//! - `idx_invoices_tenant_sent`: invoices sent since a date (this month, the last 12 months) per company, read as
//!   an index range.
//! - `idx_invoices_open_requests`: a partial index of the invoices with an open 207/208 request, by age, so the
//!   count and the age buckets read only those invoices.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BillitHealth {
    Table,
    TenantId,
    LastSuccessAt,
    LastErrorAt,
    LastErrorKind,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Invoices {
    Table,
    TenantId,
    SentAt,
}

const SENT_INDEX: &str = "idx_invoices_tenant_sent";
const OPEN_REQUESTS_INDEX: &str = "idx_invoices_open_requests";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BillitHealth::Table)
                    .col(uuid(BillitHealth::TenantId).primary_key())
                    .col(timestamp_with_time_zone_null(BillitHealth::LastSuccessAt))
                    .col(timestamp_with_time_zone_null(BillitHealth::LastErrorAt))
                    .col(string_len_null(BillitHealth::LastErrorKind, 32))
                    .col(timestamp_with_time_zone(BillitHealth::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(BillitHealth::Table, BillitHealth::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(SENT_INDEX)
                    .table(Invoices::Table)
                    .col(Invoices::TenantId)
                    .col(Invoices::SentAt)
                    .to_owned(),
            )
            .await?;
        // The same partial index on both backends; the console's queries repeat the term literally so that both
        // planners use it.
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX {OPEN_REQUESTS_INDEX} ON invoices (tenant_id, open_request_since) \
                 WHERE open_request_code IS NOT NULL"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [OPEN_REQUESTS_INDEX, SENT_INDEX] {
            manager
                .drop_index(Index::drop().name(name).table(Invoices::Table).to_owned())
                .await?;
        }
        manager
            .drop_table(Table::drop().table(BillitHealth::Table).to_owned())
            .await
    }
}
