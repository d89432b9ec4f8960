//! An invoice's number is found through its suffixes instead of the trigram index: `invoice_number_suffix`
//! holds every end of the folded number at least three characters long (`portal_domain::search::InvoiceSearch`),
//! keyed `(tenant_id, suffix, invoice_id)`, and the number leaves `invoice_search.text`.
//!
//! Why: every company numbers its invoices alike (`F2026-000123`), so the trigrams of a typed number (`f20`,
//! `202`, `000`…) are in nearly every invoice of the database. PostgreSQL's `pg_trgm` index answered
//! `F2026-0001` by intersecting lists as long as the whole database: the list's search statement took 2.1 ms
//! with 51,000 invoices and 12.3 ms with 501,000, whichever company searched (0.8 and 0.9 ms since). A
//! query is in the number exactly when it starts one of its suffixes: a range of the company's part of the
//! primary key, which reads the matches only. The rest of the text keeps the trigram index.
//!
//! The invoices already stored get their suffixes and their text without the number here.

use crate::m20261202_000022_search::{Batches, INVOICE_COLUMNS, field, invoice_search};
use portal_domain::search;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::prelude::Uuid;
use sea_orm_migration::sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseTransaction, TransactionTrait,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "invoice_number_suffix";
/// Suffix rows per insert: three values each, far under SQLite's 32,766 (a batch of 500 invoices may hold 33
/// each).
const SUFFIX_ROWS: usize = 2_000;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let mut suffix = text(Alias::new("suffix"));
        let mut table = Table::create();
        table
            .table(Alias::new(TABLE))
            .col(uuid(Alias::new("tenant_id")))
            .col(uuid(Alias::new("invoice_id")))
            .primary_key(
                Index::create()
                    .col(Alias::new("tenant_id"))
                    .col(Alias::new("suffix"))
                    .col(Alias::new("invoice_id")),
            )
            .foreign_key(
                ForeignKey::create()
                    .from(Alias::new(TABLE), Alias::new("invoice_id"))
                    .to(Alias::new("invoices"), Alias::new("id"))
                    .on_delete(ForeignKeyAction::Cascade),
            );
        match backend {
            // The rows are the key: no rowid beside it, half the pages.
            DatabaseBackend::Sqlite => {
                table.extra("WITHOUT ROWID");
            }
            // Bytewise, so that a prefix is a range of the index.
            _ => {
                suffix.extra("COLLATE \"C\"");
            }
        }
        manager.create_table(table.col(suffix).to_owned()).await?;
        // For rewriting an invoice's suffixes, and for the cascade when an invoice is deleted.
        manager
            .create_index(
                Index::create()
                    .name("idx_invoice_number_suffix_invoice")
                    .table(Alias::new(TABLE))
                    .col(Alias::new("invoice_id"))
                    .to_owned(),
            )
            .await?;
        let txn = manager.get_connection().begin().await?;
        rewrite(&txn, Direction::Suffixes).await?;
        txn.commit().await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let txn = manager.get_connection().begin().await?;
        rewrite(&txn, Direction::NumberInText).await?;
        txn.commit().await?;
        manager
            .drop_table(Table::drop().table(Alias::new(TABLE)).to_owned())
            .await
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// The number as suffixes, the text without it (up).
    Suffixes,
    /// The number back as the text's first line (down).
    NumberInText,
}

/// Rewrites every invoice's search text (and, going up, writes its suffixes).
async fn rewrite(txn: &DatabaseTransaction, direction: Direction) -> Result<(), DbErr> {
    let mut batches = Batches::new("invoices", INVOICE_COLUMNS);
    while let Some(rows) = batches.next(txn).await? {
        let mut texts = Query::insert();
        texts
            .into_table(Alias::new("invoice_search"))
            .columns(["invoice_id", "tenant_id", "number_key", "text"].map(Alias::new))
            .on_conflict(
                OnConflict::column(Alias::new("invoice_id"))
                    .update_columns(["number_key", "text"].map(Alias::new))
                    .to_owned(),
            );
        let mut suffixes: Vec<[SimpleExpr; 3]> = Vec::new();
        for row in &rows {
            let id: Uuid = row.try_get("", "id")?;
            let tenant: Uuid = row.try_get("", "tenant_id")?;
            let (key, fields) = invoice_search(row)?;
            let text = match direction {
                Direction::Suffixes => fields.text,
                Direction::NumberInText => {
                    let number = search::fold(&field(row, "number")?);
                    if search::number_in_text(&number) {
                        // Too long for suffixes: already in the text.
                        fields.text
                    } else {
                        [number, fields.text]
                            .into_iter()
                            .filter(|line| !line.is_empty())
                            .collect::<Vec<_>>()
                            .join("\n")
                    }
                }
            };
            texts
                .values([id.into(), tenant.into(), key.into(), text.into()])
                .map_err(|error| DbErr::Custom(format!("number suffixes: {error}")))?;
            if direction == Direction::Suffixes {
                suffixes.extend(
                    fields
                        .number_suffixes
                        .into_iter()
                        .map(|suffix| [tenant.into(), suffix.into(), id.into()]),
                );
            }
        }
        txn.execute(&texts).await?;
        for chunk in suffixes.chunks(SUFFIX_ROWS) {
            let mut insert = Query::insert();
            insert
                .into_table(Alias::new(TABLE))
                .columns(["tenant_id", "suffix", "invoice_id"].map(Alias::new));
            for values in chunk {
                insert
                    .values(values.clone())
                    .map_err(|error| DbErr::Custom(format!("number suffixes: {error}")))?;
            }
            txn.execute(&insert).await?;
        }
    }
    Ok(())
}
