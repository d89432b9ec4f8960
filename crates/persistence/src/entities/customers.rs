use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub legal_name: String,
    pub siren: String,
    pub siret: Option<String>,
    pub vat_number: Option<String>,
    /// `scheme:value`, e.g. `0225:732829320`.
    pub electronic_address: String,
    /// JSON array of addresses.
    pub contact_emails: String,
    pub address_street: Option<String>,
    pub address_additional: Option<String>,
    pub address_postcode: Option<String>,
    pub address_city: Option<String>,
    pub address_country: String,
    pub language: String,
    pub peppol_checked_at: Option<DateTimeUtc>,
    /// JSON: what the last network check found.
    pub peppol_summary: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
