//! Client companies of the firm, and who may act on them.

use crate::entities::{memberships, tenants};
use crate::scope::{ScopeOrigin, TenantRole, TenantScope};
use portal_domain::ids::{TenantId, UserId};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub legal_name: String,
    pub siren: String,
    pub vat_number: Option<String>,
    pub active: bool,
}

impl From<tenants::Model> for Tenant {
    fn from(row: tenants::Model) -> Self {
        Self {
            id: TenantId::from_uuid(row.id),
            slug: row.slug,
            legal_name: row.legal_name,
            siren: row.siren,
            vat_number: row.vat_number,
            active: row.status == "active",
        }
    }
}

/// What firm staff give to create a company.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub slug: String,
    pub legal_name: String,
    pub siren: String,
    pub vat_number: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TenantRepository {
    db: DatabaseConnection,
}

impl TenantRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    pub async fn create(&self, tenant: NewTenant) -> Result<Tenant, DbErr> {
        let now = chrono::Utc::now();
        let row = tenants::ActiveModel {
            id: Set(TenantId::new().as_uuid()),
            slug: Set(tenant.slug),
            legal_name: Set(tenant.legal_name),
            siren: Set(tenant.siren),
            vat_number: Set(tenant.vat_number),
            status: Set("active".to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&self.db)
        .await?;
        Ok(row.into())
    }

    pub async fn add_member(
        &self,
        tenant: TenantId,
        user: UserId,
        role: TenantRole,
    ) -> Result<(), DbErr> {
        memberships::ActiveModel {
            tenant_id: Set(tenant.as_uuid()),
            user_id: Set(user.as_uuid()),
            role: Set(role.as_str().to_owned()),
            created_at: Set(chrono::Utc::now()),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// The membership check: a scope for `user` in the active tenant `slug`, or `None` (then the caller answers
    /// 404, whether the tenant does not exist or the user is not in it).
    pub async fn scope_for_member(
        &self,
        user: UserId,
        slug: &str,
    ) -> Result<Option<(Tenant, TenantScope)>, DbErr> {
        let Some(tenant) = tenants::Entity::find()
            .filter(tenants::Column::Slug.eq(slug))
            .filter(tenants::Column::Status.eq("active"))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let membership = memberships::Entity::find_by_id((tenant.id, user.as_uuid()))
            .one(&self.db)
            .await?;
        Ok(membership.and_then(|membership| {
            let role = TenantRole::parse(&membership.role)?;
            let tenant = Tenant::from(tenant);
            let scope = TenantScope::new(tenant.id, role, ScopeOrigin::Membership);
            Some((tenant, scope))
        }))
    }
}
