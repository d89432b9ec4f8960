//! The firm's staff besides its administrators: firm accountants ("collaborateurs du cabinet"), each with a
//! portfolio of companies and the role held in each; the record of which session entered which company as the
//! firm (so that entering is audited once per session and company); whether an audit entry's actor acted as the
//! company's own user or as the firm; and the indexes of the firm console's exception inbox.

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
enum FirmStaff {
    Table,
    UserId,
    Active,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum FirmPortfolios {
    Table,
    TenantId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum FirmVisits {
    Table,
    TenantId,
    SessionHash,
    At,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    ActingAs,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    TenantId,
    State,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InvoiceEmails {
    Table,
    TenantId,
    OutboxId,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    TenantId,
    Status,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FirmStaff::Table)
                    .col(uuid(FirmStaff::UserId).primary_key())
                    .col(boolean(FirmStaff::Active).default(true))
                    .col(uuid_null(FirmStaff::CreatedBy))
                    .col(timestamp_with_time_zone(FirmStaff::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(FirmStaff::Table, FirmStaff::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FirmPortfolios::Table)
                    .col(uuid(FirmPortfolios::TenantId))
                    .col(uuid(FirmPortfolios::UserId))
                    .col(string_len(FirmPortfolios::Role, 16))
                    .col(timestamp_with_time_zone(FirmPortfolios::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(FirmPortfolios::TenantId)
                            .col(FirmPortfolios::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(FirmPortfolios::Table, FirmPortfolios::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(FirmPortfolios::Table, FirmPortfolios::UserId)
                            .to(FirmStaff::Table, FirmStaff::UserId)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A person's portfolio is read at every request they make: by person first.
        manager
            .create_index(
                Index::create()
                    .name("idx_firm_portfolios_user")
                    .table(FirmPortfolios::Table)
                    .col(FirmPortfolios::UserId)
                    .col(FirmPortfolios::TenantId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FirmVisits::Table)
                    .col(uuid(FirmVisits::TenantId))
                    .col(string_len(FirmVisits::SessionHash, 64))
                    .col(timestamp_with_time_zone(FirmVisits::At))
                    .primary_key(
                        Index::create()
                            .col(FirmVisits::TenantId)
                            .col(FirmVisits::SessionHash),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(FirmVisits::Table, FirmVisits::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditLog::Table)
                    .add_column(string_len_null(AuditLog::ActingAs, 8))
                    .to_owned(),
            )
            .await?;
        // The inbox reads failed payments and undelivered emails of the visible companies by state.
        manager
            .create_index(
                Index::create()
                    .name("idx_payments_tenant_state")
                    .table(Payments::Table)
                    .col(Payments::TenantId)
                    .col(Payments::State)
                    .col(Payments::UpdatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_tenant_status")
                    .table(Outbox::Table)
                    .col(Outbox::TenantId)
                    .col(Outbox::Status)
                    .col(Outbox::CreatedAt)
                    .to_owned(),
            )
            .await?;
        // An undelivered email finds the invoice it answered.
        manager
            .create_index(
                Index::create()
                    .name("idx_invoice_emails_outbox")
                    .table(InvoiceEmails::Table)
                    .col(InvoiceEmails::TenantId)
                    .col(InvoiceEmails::OutboxId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            (
                "idx_invoice_emails_outbox",
                InvoiceEmails::Table.into_iden(),
            ),
            ("idx_outbox_tenant_status", Outbox::Table.into_iden()),
            ("idx_payments_tenant_state", Payments::Table.into_iden()),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(AuditLog::Table)
                    .drop_column(AuditLog::ActingAs)
                    .to_owned(),
            )
            .await?;
        for table in [
            FirmVisits::Table.into_iden(),
            FirmPortfolios::Table.into_iden(),
            FirmStaff::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
