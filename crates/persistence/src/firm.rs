//! The firm's staff: firm administrators (every company) and firm accountants ("collaborateurs du cabinet"), who
//! see only the companies of their portfolio, with the role their portfolio gives them there.
//!
//! Scopes for firm staff are minted here, after the check that justifies them (a firm administrator, or a
//! portfolio entry of an active accountant for an active company), with the origin that makes the audit log say
//! "as the firm".

use crate::audit::{self, AuditEntry};
use crate::entities::{firm_portfolios, firm_staff, firm_visits, tenants, users};
use crate::scope::{ScopeOrigin, TenantRole, TenantScope};
use crate::tenants::Tenant;
use crate::users::User;
use chrono::{DateTime, Utc};
use portal_domain::ids::{TenantId, UserId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};
use std::collections::HashMap;
use uuid::Uuid;

/// A firm accountant and their portfolio (active companies, by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accountant {
    pub user: User,
    pub active: bool,
    pub portfolio: Vec<(Tenant, TenantRole)>,
}

/// Firm staff as a company's users list shows them (managed by firm administrators only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmStaffMember {
    pub user: User,
    pub role: TenantRole,
}

#[derive(Debug, Clone)]
pub struct FirmRepository {
    db: DatabaseConnection,
    cache: crate::auth_cache::AuthCache,
}

impl FirmRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            cache: crate::auth_cache::AuthCache::disabled(),
        }
    }

    /// The same repository, invalidating `cache` (and reading it, where it does) when what it holds changes.
    #[must_use]
    pub fn with_cache(mut self, cache: crate::auth_cache::AuthCache) -> Self {
        self.cache = cache;
        self
    }

    /// Makes `user` a firm accountant (again), inside the caller's transaction (an accepted invitation).
    pub async fn make_accountant<C: ConnectionTrait>(
        conn: &C,
        user: UserId,
        by: Option<UserId>,
    ) -> Result<(), DbErr> {
        firm_staff::Entity::insert(firm_staff::ActiveModel {
            user_id: Set(user.as_uuid()),
            active: Set(true),
            created_by: Set(by.map(|by| by.as_uuid())),
            created_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::column(firm_staff::Column::UserId)
                .update_column(firm_staff::Column::Active)
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
        Ok(())
    }

    /// Makes an existing user a firm accountant (the demonstration, the seed and tests).
    pub async fn add_accountant(&self, user: UserId) -> Result<(), DbErr> {
        Self::make_accountant(&self.db, user, None).await?;
        self.cache.invalidate_user(user);
        Ok(())
    }

    /// Whether `user` is an active firm accountant.
    pub async fn is_accountant(&self, user: UserId) -> Result<bool, DbErr> {
        if let Some(is) = self.cache.accountant(user) {
            return Ok(is);
        }
        let ticket = self.cache.ticket();
        let is = firm_staff::Entity::find_by_id(user.as_uuid())
            .one(&self.db)
            .await?
            .is_some_and(|row| row.active);
        self.cache.put_accountant(ticket, user, is);
        Ok(is)
    }

    /// Whether `user` is firm staff (administrator or active accountant): they land on the firm's console.
    pub async fn is_staff(&self, user: &User) -> Result<bool, DbErr> {
        if !user.active {
            return Ok(false);
        }
        Ok(user.is_firm_admin || self.is_accountant(user.id).await?)
    }

    /// Every scope `user` holds as the firm: all active companies for a firm administrator (as their admin), the
    /// active companies of their portfolio for an accountant (with the portfolio's role), none for anyone else.
    /// Two queries at most, whatever the number of companies; ordered by company name.
    pub async fn visible_scopes(&self, user: &User) -> Result<Vec<(Tenant, TenantScope)>, DbErr> {
        if !user.active {
            return Ok(Vec::new());
        }
        if user.is_firm_admin {
            return Ok(tenants::Entity::find()
                .filter(tenants::Column::Status.eq("active"))
                .order_by_asc(tenants::Column::LegalName)
                .all(&self.db)
                .await?
                .into_iter()
                .map(|row| {
                    let tenant = Tenant::from(row);
                    let scope =
                        TenantScope::new(tenant.id, TenantRole::Admin, ScopeOrigin::FirmAdmin);
                    (tenant, scope)
                })
                .collect());
        }
        if !self.is_accountant(user.id).await? {
            return Ok(Vec::new());
        }
        Ok(self
            .portfolio(user.id)
            .await?
            .into_iter()
            .map(|(tenant, role)| {
                let scope = TenantScope::new(tenant.id, role, ScopeOrigin::FirmPortfolio);
                (tenant, scope)
            })
            .collect())
    }

    /// The active companies of an accountant's portfolio with the role held there, by name.
    pub async fn portfolio(&self, user: UserId) -> Result<Vec<(Tenant, TenantRole)>, DbErr> {
        let roles: HashMap<Uuid, TenantRole> = firm_portfolios::Entity::find()
            .filter(firm_portfolios::Column::UserId.eq(user.as_uuid()))
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|row| Some((row.tenant_id, TenantRole::parse(&row.role)?)))
            .collect();
        if roles.is_empty() {
            return Ok(Vec::new());
        }
        Ok(tenants::Entity::find()
            .filter(tenants::Column::Id.is_in(roles.keys().copied()))
            .filter(tenants::Column::Status.eq("active"))
            .order_by_asc(tenants::Column::LegalName)
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|row| {
                let role = *roles.get(&row.id)?;
                Some((Tenant::from(row), role))
            })
            .collect())
    }

    /// The portfolio check: a scope for the active accountant `user` in the active company `tenant`, when it is in
    /// their portfolio (otherwise `None`, and the caller answers 404).
    pub async fn scope_in_portfolio(
        &self,
        user: &User,
        tenant: &Tenant,
    ) -> Result<Option<TenantScope>, DbErr> {
        if !user.active || !tenant.active || !self.is_accountant(user.id).await? {
            return Ok(None);
        }
        let entry = firm_portfolios::Entity::find_by_id((tenant.id.as_uuid(), user.id.as_uuid()))
            .one(&self.db)
            .await?;
        Ok(entry
            .and_then(|row| TenantRole::parse(&row.role))
            .map(|role| TenantScope::new(tenant.id, role, ScopeOrigin::FirmPortfolio)))
    }

    /// Every firm accountant with their portfolio (three queries), by name.
    pub async fn accountants(&self) -> Result<Vec<Accountant>, DbErr> {
        let staff = firm_staff::Entity::find().all(&self.db).await?;
        if staff.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = staff.iter().map(|row| row.user_id).collect();
        let people: HashMap<Uuid, users::Model> = users::Entity::find()
            .filter(users::Column::Id.is_in(ids.clone()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| (row.id, row))
            .collect();
        let entries = firm_portfolios::Entity::find()
            .filter(firm_portfolios::Column::UserId.is_in(ids))
            .all(&self.db)
            .await?;
        let companies: HashMap<Uuid, Tenant> = if entries.is_empty() {
            HashMap::new()
        } else {
            tenants::Entity::find()
                .filter(tenants::Column::Id.is_in(entries.iter().map(|row| row.tenant_id)))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|row| (row.id, Tenant::from(row)))
                .collect()
        };
        let mut out: Vec<Accountant> = staff
            .into_iter()
            .filter_map(|row| {
                let user = User::from(people.get(&row.user_id)?.clone());
                let mut portfolio: Vec<(Tenant, TenantRole)> = entries
                    .iter()
                    .filter(|entry| entry.user_id == row.user_id)
                    .filter_map(|entry| {
                        Some((
                            companies.get(&entry.tenant_id)?.clone(),
                            TenantRole::parse(&entry.role)?,
                        ))
                    })
                    .collect();
                portfolio.sort_by_key(|(tenant, _)| tenant.legal_name.to_lowercase());
                Some(Accountant {
                    user,
                    active: row.active,
                    portfolio,
                })
            })
            .collect();
        out.sort_by_key(|accountant| accountant.user.name.to_lowercase());
        Ok(out)
    }

    /// Puts `tenant` in the accountant's portfolio with `role` (or changes the role), with the firm-level entry
    /// `audit`, in one transaction. `false` (nothing written) when `user` is not a firm accountant.
    pub async fn assign(
        &self,
        user: UserId,
        tenant: TenantId,
        role: TenantRole,
        audit: AuditEntry,
    ) -> Result<bool, DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        if firm_staff::Entity::find_by_id(user.as_uuid())
            .one(&txn)
            .await?
            .is_none()
        {
            return Ok(false);
        }
        firm_portfolios::Entity::insert(firm_portfolios::ActiveModel {
            tenant_id: Set(tenant.as_uuid()),
            user_id: Set(user.as_uuid()),
            role: Set(role.as_str().to_owned()),
            created_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::columns([
                firm_portfolios::Column::TenantId,
                firm_portfolios::Column::UserId,
            ])
            .update_column(firm_portfolios::Column::Role)
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        audit::record_for_firm(&txn, audit).await?;
        txn.commit().await?;
        self.cache.invalidate_user(user);
        Ok(true)
    }

    /// Takes `tenant` out of the accountant's portfolio, with `audit`, in one transaction; `false` when it was
    /// not in it (nothing written).
    pub async fn unassign(
        &self,
        user: UserId,
        tenant: TenantId,
        audit: AuditEntry,
    ) -> Result<bool, DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        let removed = firm_portfolios::Entity::delete_many()
            .filter(firm_portfolios::Column::TenantId.eq(tenant.as_uuid()))
            .filter(firm_portfolios::Column::UserId.eq(user.as_uuid()))
            .exec(&txn)
            .await?;
        if removed.rows_affected == 0 {
            return Ok(false);
        }
        audit::record_for_firm(&txn, audit).await?;
        txn.commit().await?;
        self.cache.invalidate_user(user);
        Ok(true)
    }

    /// The firm accountants whose portfolio holds the scope's company, by name (its users list shows them).
    pub async fn staff_of(&self, scope: &TenantScope) -> Result<Vec<FirmStaffMember>, DbErr> {
        let entries = firm_portfolios::Entity::find()
            .filter(firm_portfolios::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .all(&self.db)
            .await?;
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let active: Vec<Uuid> = firm_staff::Entity::find()
            .filter(firm_staff::Column::UserId.is_in(entries.iter().map(|row| row.user_id)))
            .filter(firm_staff::Column::Active.eq(true))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| row.user_id)
            .collect();
        let people: HashMap<Uuid, users::Model> = users::Entity::find()
            .filter(users::Column::Id.is_in(active))
            .filter(users::Column::Active.eq(true))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| (row.id, row))
            .collect();
        let mut out: Vec<FirmStaffMember> = entries
            .into_iter()
            .filter_map(|entry| {
                Some(FirmStaffMember {
                    user: User::from(people.get(&entry.user_id)?.clone()),
                    role: TenantRole::parse(&entry.role)?,
                })
            })
            .collect();
        out.sort_by_key(|member| member.user.name.to_lowercase());
        Ok(out)
    }

    /// Deletes the visits noted before `before` (the periodic maintenance passes now minus the longest a session
    /// lives: a session that old has ended, so its visits can no longer spare it an audit entry). Read through
    /// `idx_firm_visits_at` (migration 000025). Returns how many were deleted.
    pub async fn purge_visits(&self, before: DateTime<Utc>) -> Result<u64, DbErr> {
        Ok(firm_visits::Entity::delete_many()
            .filter(firm_visits::Column::At.lt(before))
            .exec(&self.db)
            .await?
            .rows_affected)
    }

    /// Notes that a session of firm staff entered the scope's company, and writes `entry` the first time only
    /// (once per session and company), in one transaction. `true` when this was the first time.
    pub async fn record_visit(
        &self,
        scope: &TenantScope,
        session_hash: &str,
        entry: AuditEntry,
    ) -> Result<bool, DbErr> {
        // Known to this node already: the row exists (a visit never goes away), so no write transaction per page.
        if self.cache.visited(session_hash, scope.tenant_id()) {
            return Ok(false);
        }
        let txn = crate::db::begin_write(&self.db).await?;
        let inserted = firm_visits::Entity::insert(firm_visits::ActiveModel {
            tenant_id: Set(scope.tenant_id().as_uuid()),
            session_hash: Set(session_hash.to_owned()),
            at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::columns([
                firm_visits::Column::TenantId,
                firm_visits::Column::SessionHash,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        if inserted == 0 {
            self.cache.note_visit(session_hash, scope.tenant_id());
            return Ok(false);
        }
        audit::record_for_tenant(&txn, scope, entry).await?;
        txn.commit().await?;
        self.cache.note_visit(session_hash, scope.tenant_id());
        Ok(true)
    }
}
