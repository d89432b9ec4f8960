use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub url: String,
    /// The chosen event types, comma-separated.
    pub events: String,
    /// The signing secret, encrypted with the master key (`portal_app::crypto`).
    pub secret: String,
    pub state: String,
    /// The last sequence number handed to one of its messages.
    pub next_seq: i64,
    pub failing_since: Option<DateTimeUtc>,
    pub paused_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub created_by: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
