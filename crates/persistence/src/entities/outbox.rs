use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    /// JSON array of addresses.
    pub to_addresses: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub from_address: String,
    pub reply_to: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    /// JSON array of addresses copied (`Cc`).
    pub cc_addresses: Option<String>,
    /// The display name before the sender's address.
    pub from_name: Option<String>,
    /// `<id@host>`, fixed when queued.
    pub message_id: Option<String>,
    /// The job whose try marked the email `sending` (before asking the SMTP server).
    pub sending_job_id: Option<Uuid>,
    /// When that try began.
    pub sending_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
