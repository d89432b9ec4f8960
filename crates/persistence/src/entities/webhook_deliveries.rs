use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub received_at: DateTimeUtc,
    pub body: String,
    pub state: String,
    pub error: Option<String>,
    pub processed_at: Option<DateTimeUtc>,
    /// `<t>:<hex HMAC>` of the signature it came with: a replay of it is not stored again.
    pub signature: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
