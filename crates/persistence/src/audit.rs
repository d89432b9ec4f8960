//! The audit log: who did what, to what, when and from where. Firm-level entries have no tenant.
//!
//! An entry that records a change is written by the repository method that makes the change, with the same
//! transaction (the caller gives it the [`AuditEntry`], or a function of what the change made): the change is kept
//! if and only if its entry is. Only events that change nothing else are written on their own.

use crate::entities::audit_log;
use crate::scope::TenantScope;
use chrono::{DateTime, Utc};
use portal_domain::ids::{TenantId, UserId};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub actor: Option<UserId>,
    pub action: &'static str,
    pub target: String,
    pub details: serde_json::Value,
    /// The client's address, for actions that came over HTTP.
    pub ip: Option<String>,
}

impl AuditEntry {
    pub fn new(action: &'static str, target: impl Into<String>) -> Self {
        Self {
            actor: None,
            action,
            target: target.into(),
            details: serde_json::Value::Null,
            ip: None,
        }
    }

    pub fn by(mut self, actor: Option<UserId>) -> Self {
        self.actor = actor;
        self
    }

    pub fn from_ip(mut self, ip: Option<String>) -> Self {
        self.ip = ip;
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// An entry as shown to people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub tenant_id: Option<TenantId>,
    pub actor: Option<UserId>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target: String,
    pub details: String,
    pub ip: Option<String>,
    pub at: DateTime<Utc>,
    /// `company`, `firm` or `system` for a tenant's entry (see [`crate::scope::ScopeOrigin::acting_as`]).
    pub acting_as: Option<String>,
}

/// Records an action on one tenant (inside the caller's transaction when it has one).
pub async fn record_for_tenant<C: ConnectionTrait>(
    conn: &C,
    scope: &TenantScope,
    entry: AuditEntry,
) -> Result<(), DbErr> {
    insert(
        conn,
        Some(scope.tenant_id().as_uuid()),
        Some(scope.origin().acting_as()),
        entry,
    )
    .await
}

/// Records a firm-level action (tenants, firm administrators, sign-ins, command-line operations).
pub async fn record_for_firm<C: ConnectionTrait>(conn: &C, entry: AuditEntry) -> Result<(), DbErr> {
    insert(conn, None, None, entry).await
}

async fn insert<C: ConnectionTrait>(
    conn: &C,
    tenant: Option<Uuid>,
    acting_as: Option<&'static str>,
    entry: AuditEntry,
) -> Result<(), DbErr> {
    audit_log::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant),
        actor_user_id: Set(entry.actor.map(|user| user.as_uuid())),
        action: Set(entry.action.to_owned()),
        target: Set(entry.target),
        details: Set(entry.details.to_string()),
        at: Set(Utc::now()),
        ip: Set(entry.ip),
        acting_as: Set(acting_as.map(str::to_owned)),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// A tenant's own entries, newest first.
pub async fn list_for_tenant<C: ConnectionTrait>(
    conn: &C,
    scope: &TenantScope,
    limit: u64,
) -> Result<Vec<AuditRecord>, DbErr> {
    let rows = audit_log::Entity::find()
        .filter(audit_log::Column::TenantId.eq(scope.tenant_id().as_uuid()))
        .order_by_desc(audit_log::Column::At)
        .limit(limit)
        .all(conn)
        .await?;
    with_emails(conn, rows).await
}

/// Every entry (firm administrators), newest first.
pub async fn list_all<C: ConnectionTrait>(conn: &C, limit: u64) -> Result<Vec<AuditRecord>, DbErr> {
    let rows = audit_log::Entity::find()
        .order_by_desc(audit_log::Column::At)
        .limit(limit)
        .all(conn)
        .await?;
    with_emails(conn, rows).await
}

/// The actors' emails, in one query for the whole page.
async fn with_emails<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<audit_log::Model>,
) -> Result<Vec<AuditRecord>, DbErr> {
    let actors: Vec<Uuid> = rows.iter().filter_map(|row| row.actor_user_id).collect();
    let emails: HashMap<Uuid, String> = if actors.is_empty() {
        HashMap::new()
    } else {
        crate::entities::users::Entity::find()
            .filter(crate::entities::users::Column::Id.is_in(actors))
            .all(conn)
            .await?
            .into_iter()
            .map(|user| (user.id, user.email))
            .collect()
    };
    Ok(rows
        .into_iter()
        .map(|row| AuditRecord {
            tenant_id: row.tenant_id.map(TenantId::from_uuid),
            actor: row.actor_user_id.map(UserId::from_uuid),
            actor_email: row.actor_user_id.and_then(|id| emails.get(&id).cloned()),
            action: row.action,
            target: row.target,
            details: row.details,
            ip: row.ip,
            at: row.at,
            acting_as: row.acting_as,
        })
        .collect())
}
