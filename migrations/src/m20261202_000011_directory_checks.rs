//! The directory lookups made before sending: whether a customer's electronic address can receive e-invoices
//! (Billit's Peppol participant lookup), kept per customer for a day so that sending ten invoices to one customer
//! asks Billit once. The address is kept with the answer: a customer whose address changed is looked up again.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Customers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum DirectoryChecks {
    Table,
    TenantId,
    CustomerId,
    Address,
    Registered,
    CheckedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DirectoryChecks::Table)
                    .col(uuid(DirectoryChecks::TenantId))
                    .col(uuid(DirectoryChecks::CustomerId))
                    // `scheme:value`, as it was looked up.
                    .col(string_len(DirectoryChecks::Address, 128))
                    .col(boolean(DirectoryChecks::Registered))
                    .col(timestamp_with_time_zone(DirectoryChecks::CheckedAt))
                    // One answer per customer, found by the key's leading columns.
                    .primary_key(
                        Index::create()
                            .col(DirectoryChecks::TenantId)
                            .col(DirectoryChecks::CustomerId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(DirectoryChecks::Table, DirectoryChecks::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(DirectoryChecks::Table, DirectoryChecks::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DirectoryChecks::Table).to_owned())
            .await
    }
}
