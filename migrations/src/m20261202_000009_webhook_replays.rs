//! A webhook delivery replayed inside the signature's tolerance window is recognised and not stored again: each
//! delivery keeps its signature (`<t>:<hex HMAC>`), unique per tenant. Older rows have none (NULLs never clash).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    TenantId,
    Signature,
}

const INDEX: &str = "idx_webhook_deliveries_tenant_signature";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(WebhookDeliveries::Table)
                    .add_column(string_len_null(WebhookDeliveries::Signature, 100))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::TenantId)
                    .col(WebhookDeliveries::Signature)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table(WebhookDeliveries::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(WebhookDeliveries::Table)
                    .drop_column(WebhookDeliveries::Signature)
                    .to_owned(),
            )
            .await
    }
}
