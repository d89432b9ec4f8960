use sea_orm::entity::prelude::*;

/// What the portal last heard from a company's Billit account (migration 000019).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "billit_health")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    pub last_success_at: Option<DateTimeUtc>,
    pub last_error_at: Option<DateTimeUtc>,
    /// A word the pages translate (`credentials`, `unreachable`, …), never Billit's text.
    pub last_error_kind: Option<String>,
    pub updated_at: DateTimeUtc,
    /// When the current run of failures began (the first failure after the last success; migration 000025).
    pub failing_since: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
