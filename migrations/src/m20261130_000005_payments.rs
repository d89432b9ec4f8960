//! Payments received (status 212): each payment the supplier records against a sent invoice, and how its report
//! to Billit went (queued, reported, accepted by the tax authority, or failed with the reason).
//!
//! Amounts are integer cents (`BIGINT`) like the invoices' totals, so the sum of an invoice's payments is exact on
//! both backends.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Invoices {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
    TenantId,
    InvoiceId,
    AmountCents,
    PaidOn,
    Method,
    Reference,
    State,
    ErrorCode,
    ErrorDetail,
    IdempotencyKey,
    Retries,
    CreatedBy,
    CreatedAt,
    ReportedAt,
    AcceptedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Payments::Table)
                    .col(pk_uuid(Payments::Id))
                    .col(uuid(Payments::TenantId))
                    .col(uuid(Payments::InvoiceId))
                    .col(big_integer(Payments::AmountCents))
                    .col(date(Payments::PaidOn))
                    // transfer, cheque, card, direct_debit, cash, other.
                    .col(string_len(Payments::Method, 16))
                    .col(string_len_null(Payments::Reference, 140))
                    // queued, reported, accepted, failed.
                    .col(string_len(Payments::State, 16))
                    // Why the last report did not go through (a code the page puts into words), and Billit's
                    // own text when it gave one.
                    .col(string_len_null(Payments::ErrorCode, 32))
                    .col(text_null(Payments::ErrorDetail))
                    // Sent with every report of this payment, so Billit records it once however often it is sent.
                    .col(string_len(Payments::IdempotencyKey, 64))
                    // Each retry asked by a user gets its own job.
                    .col(integer(Payments::Retries).default(0))
                    .col(uuid_null(Payments::CreatedBy))
                    .col(timestamp_with_time_zone(Payments::CreatedAt))
                    .col(timestamp_with_time_zone_null(Payments::ReportedAt))
                    .col(timestamp_with_time_zone_null(Payments::AcceptedAt))
                    .col(timestamp_with_time_zone(Payments::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Payments::Table, Payments::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Payments::Table, Payments::InvoiceId)
                            .to(Invoices::Table, Invoices::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Payments::Table, Payments::CreatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_payments_tenant_invoice")
                    .table(Payments::Table)
                    .col(Payments::TenantId)
                    .col(Payments::InvoiceId)
                    .col(Payments::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_payments_tenant_idempotency")
                    .table(Payments::Table)
                    .col(Payments::TenantId)
                    .col(Payments::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Payments::Table).to_owned())
            .await
    }
}
