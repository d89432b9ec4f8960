use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub actor_user_id: Option<Uuid>,
    pub action: String,
    pub target: String,
    /// JSON text.
    pub details: String,
    pub at: DateTimeUtc,
    /// Where the action came from (the client's address), when it came over HTTP.
    pub ip: Option<String>,
    /// `company` (the company's own user), `firm` (firm staff) or `system` (jobs, webhooks); none for firm-level
    /// entries.
    pub acting_as: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
