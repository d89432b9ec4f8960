use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub invoice_id: Uuid,
    pub amount_cents: i64,
    pub paid_on: Date,
    /// `transfer`, `cheque`, `card`, `direct_debit`, `cash` or `other`.
    pub method: String,
    pub reference: Option<String>,
    /// `queued`, `reported`, `accepted`, `failed` or `cancelled`.
    pub state: String,
    pub error_code: Option<String>,
    pub error_detail: Option<String>,
    pub idempotency_key: String,
    pub retries: i32,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub reported_at: Option<DateTimeUtc>,
    pub accepted_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    pub cancelled_by: Option<Uuid>,
    pub cancelled_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
