use sea_orm::entity::prelude::*;

/// The folded text an invoice is searched by (`portal_domain::search`), one row per invoice, written by the
/// invoice repository with the invoice. SQLite indexes `text` in the FTS5 table `invoice_search_fts` (triggers
/// keep it in step), PostgreSQL with a `pg_trgm` GIN index.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoice_search")]
pub struct Model {
    /// The FTS5 index's key on SQLite (an INTEGER PRIMARY KEY, which VACUUM keeps).
    #[sea_orm(primary_key)]
    pub doc: i64,
    #[sea_orm(unique)]
    pub invoice_id: Uuid,
    pub tenant_id: Uuid,
    /// The folded number without spaces, for the one- and two-character queries (a prefix).
    pub number_key: String,
    pub text: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
