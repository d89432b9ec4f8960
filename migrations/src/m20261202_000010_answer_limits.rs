//! The hourly limits on answers to customers count a tenant's recent answers, and one person's: two indexes keep
//! those counts to the last hour's rows.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum InvoiceEmails {
    Table,
    TenantId,
    SentBy,
    CreatedAt,
}

const BY_TENANT: &str = "idx_invoice_emails_tenant_created";
const BY_SENDER: &str = "idx_invoice_emails_tenant_sender_created";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(BY_TENANT)
                    .table(InvoiceEmails::Table)
                    .col(InvoiceEmails::TenantId)
                    .col(InvoiceEmails::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(BY_SENDER)
                    .table(InvoiceEmails::Table)
                    .col(InvoiceEmails::TenantId)
                    .col(InvoiceEmails::SentBy)
                    .col(InvoiceEmails::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [BY_SENDER, BY_TENANT] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(InvoiceEmails::Table)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
