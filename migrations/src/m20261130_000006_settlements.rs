//! Settling a dispute: a credit note or a corrected invoice names the invoice it settles or replaces.
//!
//! The link is two nullable columns on `invoices` rather than a table of its own, so that a document and its link
//! are written in one insert. No foreign key: SQLite cannot add one to an existing table, and the repository only
//! ever links two invoices of the same tenant (checked in the transaction that creates the document).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Invoices {
    Table,
    TenantId,
    /// The invoice this document settles (a credit note) or replaces (a corrected invoice).
    RelatedInvoiceId,
    /// `credit_note_for` or `corrects`.
    Relation,
}

const INDEX: &str = "idx_invoices_tenant_related";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [
            uuid_null(Invoices::RelatedInvoiceId),
            string_len_null(Invoices::Relation, 32),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Invoices::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        // The original's page lists the documents that settle it.
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Invoices::Table)
                    .col(Invoices::TenantId)
                    .col(Invoices::RelatedInvoiceId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Invoices::Table).to_owned())
            .await?;
        for column in [Invoices::Relation, Invoices::RelatedInvoiceId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Invoices::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
