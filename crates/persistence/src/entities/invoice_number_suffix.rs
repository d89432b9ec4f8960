use sea_orm::entity::prelude::*;

/// The ends of an invoice's folded number (`portal_domain::search::InvoiceSearch::number_suffixes`), one row
/// each, written with its `invoice_search` row: a query is in the number when it starts one of them, a range of
/// the primary key `(tenant_id, suffix, invoice_id)`. A table without rowid on SQLite; `suffix` sorts bytewise
/// on PostgreSQL (collation "C").
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoice_number_suffix")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub suffix: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub invoice_id: Uuid,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
