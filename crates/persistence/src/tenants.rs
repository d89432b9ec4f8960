//! Client companies of the firm, their members, and who may act on them. Every change made by someone writes its
//! audit entry in its own transaction.

use crate::audit::{self, AuditEntry};
use crate::entities::{memberships, sessions, tenants, users};
use crate::scope::{ScopeOrigin, TenantRole, TenantScope};
use crate::users::User;
use chrono::Utc;
use portal_domain::ids::{TenantId, UserId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub legal_name: String,
    pub siren: String,
    pub vat_number: Option<String>,
    pub address: TenantAddress,
    pub email: EmailSettings,
    pub active: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantAddress {
    pub street: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
}

/// How the tenant's emails to its customers look.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmailSettings {
    pub sender_name: Option<String>,
    pub reply_to: Option<String>,
    pub signature: Option<String>,
}

impl From<tenants::Model> for Tenant {
    fn from(row: tenants::Model) -> Self {
        Self {
            id: TenantId::from_uuid(row.id),
            slug: row.slug,
            legal_name: row.legal_name,
            siren: row.siren,
            vat_number: row.vat_number,
            address: TenantAddress {
                street: row.address_street,
                postal_code: row.address_postal_code,
                city: row.address_city,
                country: row.address_country,
            },
            email: EmailSettings {
                sender_name: row.email_sender_name,
                reply_to: row.email_reply_to,
                signature: row.email_signature,
            },
            active: row.status == "active",
        }
    }
}

/// What firm staff give to create or edit a company (already validated by the caller).
#[derive(Debug, Clone, Default)]
pub struct TenantProfile {
    pub slug: String,
    pub legal_name: String,
    pub siren: String,
    pub vat_number: Option<String>,
    pub address: TenantAddress,
}

/// Kept for callers that create a tenant with the essentials only.
pub type NewTenant = TenantProfile;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user: User,
    pub role: TenantRole,
    pub active: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    #[error("a tenant must keep at least one active administrator")]
    LastAdmin,
    #[error("no such member")]
    NotFound,
    #[error(transparent)]
    Database(#[from] DbErr),
}

#[derive(Debug, Clone)]
pub struct TenantRepository {
    db: DatabaseConnection,
    cache: crate::auth_cache::AuthCache,
}

impl TenantRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            cache: crate::auth_cache::AuthCache::disabled(),
        }
    }

    /// The same repository, answering scope and menu look-ups from `cache` when it can (and invalidating it when
    /// a company or a membership changes).
    #[must_use]
    pub fn with_cache(mut self, cache: crate::auth_cache::AuthCache) -> Self {
        self.cache = cache;
        self
    }

    // ---- firm administration (tenants themselves are not tenant-owned data) ----

    /// Creates a tenant, with the firm-level entry `audit` when there is one (the demo, the seed and tests have
    /// none), in one transaction.
    pub async fn create(
        &self,
        profile: TenantProfile,
        audit: Option<AuditEntry>,
    ) -> Result<Tenant, DbErr> {
        let now = Utc::now();
        let txn = crate::db::begin_write(&self.db).await?;
        let row = tenants::ActiveModel {
            id: Set(TenantId::new().as_uuid()),
            slug: Set(profile.slug),
            legal_name: Set(profile.legal_name),
            siren: Set(profile.siren),
            vat_number: Set(profile.vat_number),
            status: Set("active".to_owned()),
            address_street: Set(profile.address.street),
            address_postal_code: Set(profile.address.postal_code),
            address_city: Set(profile.address.city),
            address_country: Set(profile.address.country),
            email_sender_name: Set(None),
            email_reply_to: Set(None),
            email_signature: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        if let Some(entry) = audit {
            audit::record_for_firm(&txn, entry).await?;
        }
        txn.commit().await?;
        Ok(row.into())
    }

    pub async fn list_all(&self) -> Result<Vec<Tenant>, DbErr> {
        Ok(tenants::Entity::find()
            .order_by_asc(tenants::Column::LegalName)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Tenant::from)
            .collect())
    }

    pub async fn find_by_id(&self, id: TenantId) -> Result<Option<Tenant>, DbErr> {
        Ok(tenants::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await?
            .map(Tenant::from))
    }

    pub async fn slug_taken(&self, slug: &str, except: Option<TenantId>) -> Result<bool, DbErr> {
        let mut query = tenants::Entity::find().filter(tenants::Column::Slug.eq(slug));
        if let Some(id) = except {
            query = query.filter(tenants::Column::Id.ne(id.as_uuid()));
        }
        Ok(query.count(&self.db).await? > 0)
    }

    /// Replaces a tenant's profile and writes the firm-level entry `audit` in the same transaction; `None` (and no
    /// entry) when there is no such tenant.
    pub async fn update_profile(
        &self,
        id: TenantId,
        profile: TenantProfile,
        audit: AuditEntry,
    ) -> Result<Option<Tenant>, DbErr> {
        let Some(row) = tenants::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let mut active: tenants::ActiveModel = row.into();
        active.slug = Set(profile.slug);
        active.legal_name = Set(profile.legal_name);
        active.siren = Set(profile.siren);
        active.vat_number = Set(profile.vat_number);
        active.address_street = Set(profile.address.street);
        active.address_postal_code = Set(profile.address.postal_code);
        active.address_city = Set(profile.address.city);
        active.address_country = Set(profile.address.country);
        active.updated_at = Set(Utc::now());
        let txn = crate::db::begin_write(&self.db).await?;
        let tenant = active.update(&txn).await?.into();
        audit::record_for_firm(&txn, audit).await?;
        txn.commit().await?;
        self.cache.invalidate_tenant(id);
        Ok(Some(tenant))
    }

    /// Suspends (nobody can enter it, its jobs keep their data) or reactivates a tenant, with the firm-level entry
    /// `audit` when there is one, in one transaction. False (and no entry) when there is no such tenant.
    pub async fn set_active(
        &self,
        id: TenantId,
        active_flag: bool,
        audit: Option<AuditEntry>,
    ) -> Result<bool, DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        let updated = tenants::Entity::update_many()
            .col_expr(
                tenants::Column::Status,
                Expr::value(if active_flag { "active" } else { "suspended" }),
            )
            .col_expr(tenants::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(tenants::Column::Id.eq(id.as_uuid()))
            .exec(&txn)
            .await?;
        if updated.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        if let Some(entry) = audit {
            audit::record_for_firm(&txn, entry).await?;
        }
        txn.commit().await?;
        self.cache.invalidate_tenant(id);
        Ok(true)
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
            created_at: Set(Utc::now()),
            active: Set(true),
            notify_needs_action: Set(true),
        }
        .insert(&self.db)
        .await?;
        self.cache.invalidate_user(user);
        Ok(())
    }

    // ---- scopes ----

    /// The membership check: a scope for `user` in the active tenant `slug`, or `None` (then the caller answers
    /// 404, whether the tenant does not exist or the user is not in it).
    pub async fn scope_for_member(
        &self,
        user: UserId,
        slug: &str,
    ) -> Result<Option<(Tenant, TenantScope)>, DbErr> {
        let Some(tenant) = self.active_by_slug(slug).await? else {
            return Ok(None);
        };
        let membership = memberships::Entity::find_by_id((tenant.id.as_uuid(), user.as_uuid()))
            .one(&self.db)
            .await?;
        Ok(membership
            .filter(|membership| membership.active)
            .and_then(|membership| {
                let role = TenantRole::parse(&membership.role)?;
                let scope = TenantScope::new(tenant.id, role, ScopeOrigin::Membership);
                Some((tenant, scope))
            }))
    }

    /// Firm administrators may enter any active tenant to help it, as its administrator.
    pub async fn scope_for_firm_admin(
        &self,
        user: &User,
        slug: &str,
    ) -> Result<Option<(Tenant, TenantScope)>, DbErr> {
        if !(user.is_firm_admin && user.active) {
            return Ok(None);
        }
        Ok(self.active_by_slug(slug).await?.map(|tenant| {
            let scope = TenantScope::new(tenant.id, TenantRole::Admin, ScopeOrigin::FirmAdmin);
            (tenant, scope)
        }))
    }

    /// A firm administrator acting on a tenant from the firm's pages (`/admin/tenants/{id}`), whatever its status
    /// (a suspended tenant's pending invitations can still be revoked): a scope as its administrator, or `None`
    /// for anyone else or an unknown tenant.
    pub async fn scope_for_firm_page(
        &self,
        user: &User,
        id: TenantId,
    ) -> Result<Option<(Tenant, TenantScope)>, DbErr> {
        if !(user.is_firm_admin && user.active) {
            return Ok(None);
        }
        Ok(self.find_by_id(id).await?.map(|tenant| {
            let scope = TenantScope::new(tenant.id, TenantRole::Admin, ScopeOrigin::FirmAdmin);
            (tenant, scope)
        }))
    }

    /// Every way into the active tenant `slug`, in order: the user's own membership (acting as the company's
    /// user), a firm administrator's access, a firm accountant's portfolio (both acting as the firm). `None`
    /// (the caller answers 404) when none applies.
    pub async fn scope_for(
        &self,
        user: &User,
        slug: &str,
    ) -> Result<Option<(Tenant, TenantScope)>, DbErr> {
        if let Some(found) = self.cache.scope(user.id, slug) {
            return Ok(Some(found));
        }
        let ticket = self.cache.ticket();
        let found = self.scope_for_uncached(user, slug).await?;
        if let Some(found) = &found {
            self.cache.put_scope(ticket, user.id, slug, found.clone());
        }
        Ok(found)
    }

    async fn scope_for_uncached(
        &self,
        user: &User,
        slug: &str,
    ) -> Result<Option<(Tenant, TenantScope)>, DbErr> {
        if let Some(found) = self.scope_for_member(user.id, slug).await? {
            return Ok(Some(found));
        }
        if user.is_firm_admin {
            return self.scope_for_firm_admin(user, slug).await;
        }
        let Some(tenant) = self.active_by_slug(slug).await? else {
            return Ok(None);
        };
        let firm = crate::firm::FirmRepository::new(self.db.clone());
        Ok(firm
            .scope_in_portfolio(user, &tenant)
            .await?
            .map(|scope| (tenant, scope)))
    }

    async fn active_by_slug(&self, slug: &str) -> Result<Option<Tenant>, DbErr> {
        Ok(tenants::Entity::find()
            .filter(tenants::Column::Slug.eq(slug))
            .filter(tenants::Column::Status.eq("active"))
            .one(&self.db)
            .await?
            .map(Tenant::from))
    }

    /// The active tenants a user can enter, with their role there (two queries, whatever the number).
    pub async fn tenants_of(&self, user: UserId) -> Result<Vec<(Tenant, TenantRole)>, DbErr> {
        if let Some(list) = self.cache.memberships(user) {
            return Ok(list);
        }
        let ticket = self.cache.ticket();
        let list = self.tenants_of_uncached(user).await?;
        self.cache.put_memberships(ticket, user, list.clone());
        Ok(list)
    }

    async fn tenants_of_uncached(&self, user: UserId) -> Result<Vec<(Tenant, TenantRole)>, DbErr> {
        let roles: HashMap<Uuid, TenantRole> = memberships::Entity::find()
            .filter(memberships::Column::UserId.eq(user.as_uuid()))
            .filter(memberships::Column::Active.eq(true))
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|membership| {
                Some((membership.tenant_id, TenantRole::parse(&membership.role)?))
            })
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

    // ---- tenant administration (scoped) ----

    /// Saves the tenant's email settings and writes `audit` in the same transaction.
    pub async fn update_email_settings(
        &self,
        scope: &TenantScope,
        settings: EmailSettings,
        audit: AuditEntry,
    ) -> Result<(), DbErr> {
        let Some(row) = tenants::Entity::find_by_id(scope.tenant_id().as_uuid())
            .one(&self.db)
            .await?
        else {
            return Err(DbErr::RecordNotFound("tenant".to_owned()));
        };
        let mut active: tenants::ActiveModel = row.into();
        active.email_sender_name = Set(settings.sender_name);
        active.email_reply_to = Set(settings.reply_to);
        active.email_signature = Set(settings.signature);
        active.updated_at = Set(Utc::now());
        Self::update_with_entry(&self.db, active, scope, audit).await?;
        self.cache.invalidate_tenant(scope.tenant_id());
        Ok(())
    }

    /// The tenant's company profile as its admins may edit it (not the slug or SIREN: firm staff own those), saved
    /// with `audit` in one transaction.
    pub async fn update_own_profile(
        &self,
        scope: &TenantScope,
        legal_name: String,
        address: TenantAddress,
        audit: AuditEntry,
    ) -> Result<(), DbErr> {
        let Some(row) = tenants::Entity::find_by_id(scope.tenant_id().as_uuid())
            .one(&self.db)
            .await?
        else {
            return Err(DbErr::RecordNotFound("tenant".to_owned()));
        };
        let mut active: tenants::ActiveModel = row.into();
        active.legal_name = Set(legal_name);
        active.address_street = Set(address.street);
        active.address_postal_code = Set(address.postal_code);
        active.address_city = Set(address.city);
        active.address_country = Set(address.country);
        active.updated_at = Set(Utc::now());
        Self::update_with_entry(&self.db, active, scope, audit).await?;
        self.cache.invalidate_tenant(scope.tenant_id());
        Ok(())
    }

    /// Writes a tenant's row read beforehand (so that the transaction's first statement is a write: see
    /// `InvoiceRepository::create_linked_draft`) and the tenant's audit entry, in one transaction.
    async fn update_with_entry(
        db: &DatabaseConnection,
        active: tenants::ActiveModel,
        scope: &TenantScope,
        entry: AuditEntry,
    ) -> Result<(), DbErr> {
        let txn = crate::db::begin_write(db).await?;
        active.update(&txn).await?;
        audit::record_for_tenant(&txn, scope, entry).await?;
        txn.commit().await
    }

    pub async fn members(&self, scope: &TenantScope) -> Result<Vec<Member>, DbErr> {
        let rows = memberships::Entity::find()
            .filter(memberships::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .all(&self.db)
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut users: HashMap<Uuid, users::Model> = users::Entity::find()
            .filter(users::Column::Id.is_in(rows.iter().map(|membership| membership.user_id)))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|user| (user.id, user))
            .collect();
        let mut out: Vec<Member> = rows
            .into_iter()
            .filter_map(|membership| {
                Some(Member {
                    role: TenantRole::parse(&membership.role)?,
                    user: users.remove(&membership.user_id)?.into(),
                    active: membership.active,
                })
            })
            .collect();
        out.sort_by_key(|member| member.user.name.to_lowercase());
        Ok(out)
    }

    /// Changes a member's role or (de)activates them, never leaving the tenant without an active admin; `audit` is
    /// written with the change (and not when it is refused).
    pub async fn change_member(
        &self,
        scope: &TenantScope,
        user: UserId,
        role: TenantRole,
        active_flag: bool,
        audit: AuditEntry,
    ) -> Result<(), MembershipError> {
        let txn = crate::db::begin_write(&self.db).await?;
        // The tenant's row is the lock of its memberships: on PostgreSQL (`FOR UPDATE`; SQLite's `BEGIN
        // IMMEDIATE` already serialises writers) two concurrent demotions of the last two admins take turns, and
        // the second one's count sees the first one's change, so a tenant never ends with no active admin.
        if tenants::Entity::find_by_id(scope.tenant_id().as_uuid())
            .lock_exclusive()
            .one(&txn)
            .await?
            .is_none()
        {
            return Err(MembershipError::NotFound);
        }
        let Some(membership) =
            memberships::Entity::find_by_id((scope.tenant_id().as_uuid(), user.as_uuid()))
                .one(&txn)
                .await?
        else {
            return Err(MembershipError::NotFound);
        };
        let was_active_admin = membership.active && membership.role == TenantRole::Admin.as_str();
        let stays_active_admin = active_flag && role == TenantRole::Admin;
        if was_active_admin && !stays_active_admin {
            let admins = memberships::Entity::find()
                .filter(memberships::Column::TenantId.eq(scope.tenant_id().as_uuid()))
                .filter(memberships::Column::Role.eq(TenantRole::Admin.as_str()))
                .filter(memberships::Column::Active.eq(true))
                .count(&txn)
                .await?;
            if admins <= 1 {
                return Err(MembershipError::LastAdmin);
            }
        }
        let mut active: memberships::ActiveModel = membership.into();
        active.role = Set(role.as_str().to_owned());
        active.active = Set(active_flag);
        active.update(&txn).await?;
        if !active_flag {
            // A deactivated member's open sessions would still carry tenant pages: end them.
            sessions::Entity::delete_many()
                .filter(sessions::Column::UserId.eq(user.as_uuid()))
                .exec(&txn)
                .await?;
            // And an older invitation link must not bring them back.
            if let Some(row) = users::Entity::find_by_id(user.as_uuid()).one(&txn).await? {
                crate::invitations::InvitationRepository::expire_pending_for(
                    &txn,
                    scope.tenant_id(),
                    &row.email,
                    Utc::now(),
                )
                .await?;
            }
        }
        audit::record_for_tenant(&txn, scope, audit).await?;
        txn.commit().await?;
        self.cache.invalidate_user(user);
        Ok(())
    }
}
