use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "billit_connections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    pub environment: String,
    /// AES-256-GCM under the master key (base64 of nonce ‖ ciphertext); never decrypted for display.
    pub api_key_encrypted: Option<String>,
    pub party_id: Option<i64>,
    pub context_party_id: Option<i64>,
    #[sea_orm(unique)]
    pub webhook_token: String,
    pub webhook_secret_encrypted: Option<String>,
    /// JSON array of Billit's webhook ids registered for this tenant.
    pub webhook_ids: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
