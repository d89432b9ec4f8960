//! Who hears of invoices that need action: admins and members (viewers cannot act on them), each by their
//! membership's `notify_needs_action` choice.

use crate::entities::{memberships, tenants, users};
use crate::scope::{TenantRole, TenantScope};
use portal_domain::ids::{TenantId, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;
use uuid::Uuid;

/// A member to email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    /// The user's language code (`fr`, `en`).
    pub language: String,
}

/// One of a user's memberships and whether it notifies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationChoice {
    pub tenant_id: TenantId,
    pub slug: String,
    pub tenant_name: String,
    pub needs_action: bool,
}

#[derive(Debug, Clone)]
pub struct NotificationRepository {
    db: DatabaseConnection,
}

impl NotificationRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Active admins and members of the tenant (active users too) who want the "needs action" emails.
    pub async fn needs_action_recipients(
        &self,
        scope: &TenantScope,
    ) -> Result<Vec<Recipient>, DbErr> {
        let members: Vec<Uuid> = memberships::Entity::find()
            .filter(memberships::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(memberships::Column::Active.eq(true))
            .filter(memberships::Column::NotifyNeedsAction.eq(true))
            .filter(memberships::Column::Role.ne(TenantRole::Viewer.as_str()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|membership| membership.user_id)
            .collect();
        if members.is_empty() {
            return Ok(Vec::new());
        }
        Ok(users::Entity::find()
            .filter(users::Column::Id.is_in(members))
            .filter(users::Column::Active.eq(true))
            .order_by_asc(users::Column::Email)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|user| Recipient {
                user_id: UserId::from_uuid(user.id),
                email: user.email,
                name: user.name,
                language: user.language,
            })
            .collect())
    }

    /// The user's active memberships in active tenants where they can act (not as a viewer), with their choice
    /// (for the account page).
    pub async fn choices(&self, user: UserId) -> Result<Vec<NotificationChoice>, DbErr> {
        let wanted: HashMap<Uuid, bool> = memberships::Entity::find()
            .filter(memberships::Column::UserId.eq(user.as_uuid()))
            .filter(memberships::Column::Active.eq(true))
            .filter(memberships::Column::Role.ne(TenantRole::Viewer.as_str()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|membership| (membership.tenant_id, membership.notify_needs_action))
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        Ok(tenants::Entity::find()
            .filter(tenants::Column::Id.is_in(wanted.keys().copied()))
            .filter(tenants::Column::Status.eq("active"))
            .order_by_asc(tenants::Column::LegalName)
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|tenant| {
                Some(NotificationChoice {
                    needs_action: *wanted.get(&tenant.id)?,
                    tenant_id: TenantId::from_uuid(tenant.id),
                    slug: tenant.slug,
                    tenant_name: tenant.legal_name,
                })
            })
            .collect())
    }

    /// Sets the user's own choices; tenants the user is not a member of are ignored (the update matches no row).
    pub async fn set_choices(
        &self,
        user: UserId,
        choices: &[(TenantId, bool)],
    ) -> Result<(), DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        for (tenant, wanted) in choices {
            memberships::Entity::update_many()
                .col_expr(memberships::Column::NotifyNeedsAction, Expr::value(*wanted))
                .filter(memberships::Column::UserId.eq(user.as_uuid()))
                .filter(memberships::Column::TenantId.eq(tenant.as_uuid()))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}
