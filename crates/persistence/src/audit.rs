//! The audit log: who did what, to what, when. Firm-level entries have no tenant.

use crate::entities::audit_log;
use crate::scope::TenantScope;
use portal_domain::ids::UserId;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub actor: Option<UserId>,
    pub action: &'static str,
    pub target: String,
    pub details: serde_json::Value,
}

/// Records an action on one tenant (inside the caller's transaction when it has one).
pub async fn record_for_tenant<C: ConnectionTrait>(
    conn: &C,
    scope: &TenantScope,
    entry: AuditEntry,
) -> Result<(), DbErr> {
    insert(conn, Some(scope.tenant_id().as_uuid()), entry).await
}

/// Records a firm-level action (tenants, firm administrators, command-line operations).
pub async fn record_for_firm<C: ConnectionTrait>(conn: &C, entry: AuditEntry) -> Result<(), DbErr> {
    insert(conn, None, entry).await
}

async fn insert<C: ConnectionTrait>(
    conn: &C,
    tenant: Option<Uuid>,
    entry: AuditEntry,
) -> Result<(), DbErr> {
    audit_log::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant),
        actor_user_id: Set(entry.actor.map(|user| user.as_uuid())),
        action: Set(entry.action.to_owned()),
        target: Set(entry.target),
        details: Set(entry.details.to_string()),
        at: Set(chrono::Utc::now()),
    }
    .insert(conn)
    .await?;
    Ok(())
}
