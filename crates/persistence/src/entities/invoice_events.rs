use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoice_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub invoice_id: Uuid,
    pub dedup_key: String,
    pub code: Option<i32>,
    pub kind: String,
    pub source: String,
    pub at: DateTimeUtc,
    pub description: String,
    /// JSON array of reason codes.
    pub reasons: String,
    pub requested_action: Option<String>,
    pub comment: Option<String>,
    pub file_id: Option<String>,
    /// Exact decimal as text.
    pub amount: Option<String>,
    /// JSON `EventDetails`.
    pub details: Option<String>,
    pub via: String,
    pub received_at: DateTimeUtc,
    /// The tax authority's acknowledgement of a reported payment (see `StatusEvent::acknowledges_payment`).
    pub acknowledges_payment: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
