use sea_orm::entity::prelude::*;

/// The folded text a customer is searched by (`portal_domain::search::customer_text`), one row per customer,
/// written by the customer repository with the customer. SQLite indexes `text` in the FTS5 table
/// `customer_search_fts` (triggers keep it in step), PostgreSQL with a `pg_trgm` GIN index.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_search")]
pub struct Model {
    /// The FTS5 index's key on SQLite (an INTEGER PRIMARY KEY, which VACUUM keeps).
    #[sea_orm(primary_key)]
    pub doc: i64,
    #[sea_orm(unique)]
    pub customer_id: Uuid,
    pub tenant_id: Uuid,
    /// The folded name without spaces, for the one- and two-character queries (a prefix).
    pub name_key: String,
    pub text: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
