//! What the directory said of a customer's electronic address (whether it can receive e-invoices), kept per
//! customer so that a day's sends to one customer ask Billit once. Tenant-scoped; one row per customer, read and
//! written by its primary key.

use crate::entities::directory_checks;
use crate::scope::TenantScope;
use chrono::{DateTime, Utc};
use portal_domain::ids::CustomerId;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait};

/// The last answer of the directory about a customer's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryCheck {
    /// The address looked up (`scheme:value`).
    pub address: String,
    /// Whether it can receive e-invoices.
    pub registered: bool,
    pub checked_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct DirectoryCheckRepository {
    db: DatabaseConnection,
}

impl DirectoryCheckRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// The last answer about this customer of the tenant, if any.
    pub async fn get(
        &self,
        scope: &TenantScope,
        customer: CustomerId,
    ) -> Result<Option<DirectoryCheck>, DbErr> {
        Ok(
            directory_checks::Entity::find_by_id((scope.tenant_id().as_uuid(), customer.as_uuid()))
                .one(&self.db)
                .await?
                .map(|row| DirectoryCheck {
                    address: row.address,
                    registered: row.registered,
                    checked_at: row.checked_at,
                }),
        )
    }

    /// Keeps the answer about this customer of the tenant (replacing the previous one).
    pub async fn save(
        &self,
        scope: &TenantScope,
        customer: CustomerId,
        check: &DirectoryCheck,
    ) -> Result<(), DbErr> {
        directory_checks::Entity::insert(directory_checks::ActiveModel {
            tenant_id: Set(scope.tenant_id().as_uuid()),
            customer_id: Set(customer.as_uuid()),
            address: Set(check.address.chars().take(128).collect()),
            registered: Set(check.registered),
            checked_at: Set(check.checked_at),
        })
        .on_conflict(
            OnConflict::columns([
                directory_checks::Column::TenantId,
                directory_checks::Column::CustomerId,
            ])
            .update_columns([
                directory_checks::Column::Address,
                directory_checks::Column::Registered,
                directory_checks::Column::CheckedAt,
            ])
            .to_owned(),
        )
        .exec(&self.db)
        .await?;
        Ok(())
    }
}
