//! Search that reads what it finds, not the company's invoices or customers: one row per document in
//! `invoice_search` / `customer_search` holding the text the search box matches, folded in Rust
//! (`portal_domain::search`: lower case, no accents) so that both backends compare the same text. Invoices are
//! found by number, customer name, references and amounts as typed; customers by name, SIREN, SIRET and VAT
//! number.
//!
//! - SQLite: `…_search_fts`, an FTS5 index with the trigram tokenizer (substring matches) over `text` (external
//!   content keyed by `doc`, an INTEGER PRIMARY KEY: VACUUM keeps it, which it does not promise for the implicit
//!   rowid of `invoices`), kept in step by triggers on the search table.
//! - PostgreSQL: a `pg_trgm` GIN index on `text` (LIKE '%…%' reads it); the extension ships with Debian's
//!   PostgreSQL (`CREATE EXTENSION` needs a role allowed to create it, the database owner since PostgreSQL 13
//!   as pg_trgm is a trusted extension).
//! - Both: `(tenant_id, key)` for the one- and two-character queries no trigram answers (the start of the number
//!   or name); the key sorts bytewise on PostgreSQL too (collation "C") so that a prefix is an index range.
//!
//! The documents already stored are indexed here.

use portal_domain::search;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::prelude::Uuid;
use sea_orm_migration::sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseTransaction, QueryResult, TransactionTrait,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

const BATCH: u64 = 500;

/// One searchable kind: its search table, the document's table and id column, and its prefix key.
struct Kind {
    table: &'static str,
    documents: &'static str,
    owner: &'static str,
    key: &'static str,
    /// The document's columns the text is made of.
    columns: &'static [&'static str],
    /// `(key, text)` from a row of those columns.
    text: fn(&QueryResult) -> Result<(String, String), DbErr>,
}

/// The invoice's columns its search fields are made of.
pub(crate) const INVOICE_COLUMNS: &[&str] = &[
    "number",
    "buyer_name",
    "buyer_reference",
    "purchase_order",
    "contract",
    "total_incl_cents",
    "total_excl_cents",
];

const KINDS: [Kind; 2] = [
    Kind {
        table: "invoice_search",
        documents: "invoices",
        owner: "invoice_id",
        key: "number_key",
        columns: INVOICE_COLUMNS,
        text: invoice_text,
    },
    Kind {
        table: "customer_search",
        documents: "customers",
        owner: "customer_id",
        key: "name_key",
        columns: &["legal_name", "siren", "siret", "vat_number"],
        text: customer_text,
    },
];

pub(crate) fn field(row: &QueryResult, name: &str) -> Result<String, DbErr> {
    Ok(row.try_get::<Option<String>>("", name)?.unwrap_or_default())
}

fn invoice_text(row: &QueryResult) -> Result<(String, String), DbErr> {
    let (key, search) = invoice_search(row)?;
    Ok((key, search.text))
}

/// The prefix key and the search fields of an invoice from a row of `INVOICE_COLUMNS`.
pub(crate) fn invoice_search(row: &QueryResult) -> Result<(String, search::InvoiceSearch), DbErr> {
    let number = field(row, "number")?;
    let references = [
        field(row, "buyer_reference")?,
        field(row, "purchase_order")?,
        field(row, "contract")?,
    ];
    let amounts = [
        row.try_get::<i64>("", "total_incl_cents")?,
        row.try_get::<i64>("", "total_excl_cents")?,
    ];
    let fields = search::invoice_search(
        &number,
        &field(row, "buyer_name")?,
        &references.iter().map(String::as_str).collect::<Vec<_>>(),
        &amounts,
    );
    Ok((search::prefix_key(&number), fields))
}

fn customer_text(row: &QueryResult) -> Result<(String, String), DbErr> {
    let name = field(row, "legal_name")?;
    let identifiers = [
        field(row, "siren")?,
        field(row, "siret")?,
        field(row, "vat_number")?,
    ];
    let text = search::customer_text(
        &name,
        &identifiers.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    Ok((search::prefix_key(&name), text))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let db = manager.get_connection();
        if backend == DatabaseBackend::Postgres {
            db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                .await?;
        }
        for kind in &KINDS {
            manager
                .create_table(
                    Table::create()
                        .table(Alias::new(kind.table))
                        .col(
                            big_integer(Alias::new("doc"))
                                .auto_increment()
                                .primary_key(),
                        )
                        .col(uuid_uniq(Alias::new(kind.owner)))
                        .col(uuid(Alias::new("tenant_id")))
                        .col(text(Alias::new(kind.key)))
                        .col(text(Alias::new("text")))
                        .foreign_key(
                            ForeignKey::create()
                                .from(Alias::new(kind.table), Alias::new(kind.owner))
                                .to(Alias::new(kind.documents), Alias::new("id"))
                                .on_delete(ForeignKeyAction::Cascade),
                        )
                        .to_owned(),
                )
                .await?;
            let (table, key) = (kind.table, kind.key);
            let statements = match backend {
                DatabaseBackend::Sqlite => vec![
                    format!("CREATE INDEX idx_{table}_key ON {table} (tenant_id, {key})"),
                    format!(
                        "CREATE VIRTUAL TABLE {table}_fts USING fts5(text, content='{table}', \
                         content_rowid='doc', tokenize='trigram')"
                    ),
                    format!(
                        "CREATE TRIGGER {table}_ai AFTER INSERT ON {table} BEGIN \
                         INSERT INTO {table}_fts (rowid, text) VALUES (new.doc, new.text); END"
                    ),
                    format!(
                        "CREATE TRIGGER {table}_ad AFTER DELETE ON {table} BEGIN \
                         INSERT INTO {table}_fts ({table}_fts, rowid, text) \
                         VALUES ('delete', old.doc, old.text); END"
                    ),
                    format!(
                        "CREATE TRIGGER {table}_au AFTER UPDATE OF text ON {table} BEGIN \
                         INSERT INTO {table}_fts ({table}_fts, rowid, text) \
                         VALUES ('delete', old.doc, old.text); \
                         INSERT INTO {table}_fts (rowid, text) VALUES (new.doc, new.text); END"
                    ),
                ],
                _ => vec![
                    format!("ALTER TABLE {table} ALTER COLUMN {key} TYPE text COLLATE \"C\""),
                    format!("CREATE INDEX idx_{table}_key ON {table} (tenant_id, {key})"),
                    // Without the pending list (fastupdate): new rows go into the index at once, so that a
                    // search never reads an unsorted list of recent rows (the planner prices it, and avoids the
                    // index, until a vacuum). Documents are written one at a time; searches are many.
                    format!(
                        "CREATE INDEX idx_{table}_text ON {table} USING gin (text gin_trgm_ops) \
                         WITH (fastupdate = off)"
                    ),
                ],
            };
            for statement in statements {
                db.execute_unprepared(&statement).await?;
            }
        }
        let txn = db.begin().await?;
        for kind in &KINDS {
            backfill(&txn, kind).await?;
        }
        txn.commit().await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for kind in &KINDS {
            if manager.get_database_backend() == DatabaseBackend::Sqlite {
                manager
                    .get_connection()
                    .execute_unprepared(&format!("DROP TABLE {}_fts", kind.table))
                    .await?;
            }
            manager
                .drop_table(Table::drop().table(Alias::new(kind.table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// The stored documents of a table, `BATCH` rows at a time in id order (keyset), each row with `id`,
/// `tenant_id` and the columns asked for.
pub(crate) struct Batches<'a> {
    documents: &'a str,
    columns: &'a [&'a str],
    after: Option<Uuid>,
    done: bool,
}

impl<'a> Batches<'a> {
    pub(crate) fn new(documents: &'a str, columns: &'a [&'a str]) -> Self {
        Self {
            documents,
            columns,
            after: None,
            done: false,
        }
    }

    /// The next batch, or `None` after the last.
    pub(crate) async fn next(
        &mut self,
        txn: &DatabaseTransaction,
    ) -> Result<Option<Vec<QueryResult>>, DbErr> {
        if self.done {
            return Ok(None);
        }
        let mut select = Query::select();
        select
            .columns(["id", "tenant_id"])
            .columns(self.columns.iter().map(|column| Alias::new(*column)))
            .from(Alias::new(self.documents))
            .order_by(Alias::new("id"), Order::Asc)
            .limit(BATCH);
        if let Some(after) = self.after {
            select.and_where(Expr::col(Alias::new("id")).gt(after));
        }
        let rows = txn.query_all(&select).await?;
        let Some(last) = rows.last() else {
            self.done = true;
            return Ok(None);
        };
        self.after = Some(last.try_get("", "id")?);
        self.done = (rows.len() as u64) < BATCH;
        Ok(Some(rows))
    }
}

/// Indexes every stored document of `kind`.
async fn backfill(txn: &DatabaseTransaction, kind: &Kind) -> Result<(), DbErr> {
    let mut batches = Batches::new(kind.documents, kind.columns);
    while let Some(rows) = batches.next(txn).await? {
        let mut insert = Query::insert();
        insert.into_table(Alias::new(kind.table)).columns([
            Alias::new(kind.owner),
            Alias::new("tenant_id"),
            Alias::new(kind.key),
            Alias::new("text"),
        ]);
        for row in &rows {
            let id: Uuid = row.try_get("", "id")?;
            let tenant: Uuid = row.try_get("", "tenant_id")?;
            let (key, text) = (kind.text)(row)?;
            insert
                .values([id.into(), tenant.into(), key.into(), text.into()])
                .map_err(|error| DbErr::Custom(format!("search backfill: {error}")))?;
        }
        txn.execute(&insert).await?;
    }
    Ok(())
}
