//! Invitations (to a tenant with a role, or to be a firm administrator) and password resets: single-use links
//! sent by email, stored hashed, with an expiry. Creating and using them writes their audit entry in the same
//! transaction.

use crate::audit::{self, AuditEntry};
use crate::entities::{invitations, memberships, password_resets, sessions, users};
use crate::scope::{TenantRole, TenantScope};
use crate::tenants::Tenant;
use crate::tokens::{hash_token, new_token};
use crate::users::normalize_email;
use chrono::{DateTime, Duration, Utc};
use portal_domain::ids::{TenantId, UserId};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

pub const INVITATION_LIFETIME_DAYS: i64 = 7;
/// The stored role of an invitation to be a firm accountant.
const FIRM_ACCOUNTANT: &str = "firm_accountant";
pub const RESET_LIFETIME_MINUTES: i64 = 60;

/// What an invitation makes of its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitedAs {
    Member(TenantRole),
    FirmAdmin,
    /// A firm accountant ("collaborateur du cabinet"), whose portfolio a firm administrator then fills.
    FirmAccountant,
}

#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: Uuid,
    pub tenant: Option<Tenant>,
    pub email: String,
    pub invited_as: InvitedAs,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

/// The outcome of following an invitation link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// A new account was created with the chosen password.
    NewUser(UserId),
    /// The email already had an account: it gained the membership; its password is unchanged.
    ExistingUser(UserId),
}

#[derive(Debug, thiserror::Error)]
pub enum InvitationError {
    #[error("this link is unknown, already used or expired")]
    Invalid,
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// The invitation a row describes (`None` for a role this version does not know).
fn invitation_of(row: invitations::Model, tenant: Option<Tenant>) -> Option<Invitation> {
    let invited_as = match row.role.as_str() {
        "firm_admin" => InvitedAs::FirmAdmin,
        FIRM_ACCOUNTANT => InvitedAs::FirmAccountant,
        role => InvitedAs::Member(TenantRole::parse(role)?),
    };
    Some(Invitation {
        id: row.id,
        tenant,
        email: row.email,
        invited_as,
        created_at: row.created_at,
        expires_at: row.expires_at,
        accepted_at: row.accepted_at,
    })
}

#[derive(Debug, Clone)]
pub struct InvitationRepository {
    db: DatabaseConnection,
    cache: crate::auth_cache::AuthCache,
}

impl InvitationRepository {
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

    /// Invites `email` into the scope's tenant, with the tenant's entry `audit`, in one transaction; returns the
    /// link token (sent by email, never stored).
    pub async fn invite_to_tenant(
        &self,
        scope: &TenantScope,
        email: &str,
        role: TenantRole,
        invited_by: Option<UserId>,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> Result<String, DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        let token = Self::insert(
            &txn,
            Some(scope.tenant_id()),
            email,
            role.as_str(),
            invited_by,
            now,
        )
        .await?;
        audit::record_for_tenant(&txn, scope, audit).await?;
        txn.commit().await?;
        Ok(token)
    }

    /// Invites the first admin of a tenant, by firm staff (who hold no tenant scope), with the firm-level entry
    /// `audit`, in one transaction.
    pub async fn invite_first_admin(
        &self,
        tenant: TenantId,
        email: &str,
        invited_by: Option<UserId>,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> Result<String, DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        let token = Self::insert(
            &txn,
            Some(tenant),
            email,
            TenantRole::Admin.as_str(),
            invited_by,
            now,
        )
        .await?;
        audit::record_for_firm(&txn, audit).await?;
        txn.commit().await?;
        Ok(token)
    }

    /// Invites a firm administrator, with the firm-level entry `audit`, in one transaction.
    pub async fn invite_firm_admin(
        &self,
        email: &str,
        invited_by: Option<UserId>,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> Result<String, DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        let token = Self::insert(&txn, None, email, "firm_admin", invited_by, now).await?;
        audit::record_for_firm(&txn, audit).await?;
        txn.commit().await?;
        Ok(token)
    }

    /// Invites a firm accountant, with the firm-level entry `audit`, in one transaction.
    pub async fn invite_firm_accountant(
        &self,
        email: &str,
        invited_by: Option<UserId>,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> Result<String, DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        let token = Self::insert(&txn, None, email, FIRM_ACCOUNTANT, invited_by, now).await?;
        audit::record_for_firm(&txn, audit).await?;
        txn.commit().await?;
        Ok(token)
    }

    async fn insert<C: ConnectionTrait>(
        conn: &C,
        tenant: Option<TenantId>,
        email: &str,
        role: &str,
        invited_by: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<String, DbErr> {
        let (token, hash) = new_token();
        invitations::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(tenant.map(|tenant| tenant.as_uuid())),
            email: Set(email.trim().to_owned()),
            role: Set(role.to_owned()),
            token_hash: Set(hash),
            invited_by: Set(invited_by.map(|user| user.as_uuid())),
            created_at: Set(now),
            expires_at: Set(now + Duration::days(INVITATION_LIFETIME_DAYS)),
            accepted_at: Set(None),
        }
        .insert(conn)
        .await?;
        Ok(token)
    }

    /// The open invitation behind a link, if it is still valid.
    pub async fn find_open(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Invitation>, DbErr> {
        let Some(row) = invitations::Entity::find()
            .filter(invitations::Column::TokenHash.eq(hash_token(token)))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        if row.accepted_at.is_some() || row.expires_at <= now {
            return Ok(None);
        }
        let invitation = self.to_invitation(row).await?;
        // An invitation to a suspended tenant is not usable.
        Ok(invitation.filter(|invitation| {
            invitation
                .tenant
                .as_ref()
                .is_none_or(|tenant| tenant.active)
        }))
    }

    /// The tenant's pending invitations (neither accepted, revoked nor expired), newest first, at most `limit`.
    pub async fn pending_for_tenant(
        &self,
        scope: &TenantScope,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Invitation>, DbErr> {
        let Some(tenant) =
            crate::entities::tenants::Entity::find_by_id(scope.tenant_id().as_uuid())
                .one(&self.db)
                .await?
                .map(Tenant::from)
        else {
            return Ok(Vec::new());
        };
        Ok(invitations::Entity::find()
            .filter(invitations::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invitations::Column::AcceptedAt.is_null())
            .filter(invitations::Column::ExpiresAt.gt(now))
            .order_by_desc(invitations::Column::CreatedAt)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|row| invitation_of(row, Some(tenant.clone())))
            .collect())
    }

    /// Revokes a pending invitation of the scope's tenant (its link dies: it expires now), with the tenant's entry
    /// `audit`, in one transaction. False (and no entry) when the tenant has no such pending invitation.
    pub async fn revoke(
        &self,
        scope: &TenantScope,
        id: Uuid,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> Result<bool, DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        let revoked = invitations::Entity::update_many()
            .col_expr(
                invitations::Column::ExpiresAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(invitations::Column::Id.eq(id))
            .filter(invitations::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invitations::Column::AcceptedAt.is_null())
            .filter(invitations::Column::ExpiresAt.gt(now))
            .exec(&txn)
            .await?;
        if revoked.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        audit::record_for_tenant(&txn, scope, audit).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Ends, inside `conn`'s transaction, every pending invitation of `tenant` for `email` (a member being
    /// deactivated: no older link may bring them back). Returns how many.
    pub(crate) async fn expire_pending_for<C: ConnectionTrait>(
        conn: &C,
        tenant: TenantId,
        email: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, DbErr> {
        use sea_orm::sea_query::{Expr, Func};
        Ok(invitations::Entity::update_many()
            .col_expr(invitations::Column::ExpiresAt, Expr::value(now))
            .filter(invitations::Column::TenantId.eq(tenant.as_uuid()))
            .filter(invitations::Column::AcceptedAt.is_null())
            .filter(invitations::Column::ExpiresAt.gt(now))
            .filter(sea_orm::sea_query::ExprTrait::eq(
                Expr::expr(Func::lower(Expr::col(invitations::Column::Email))),
                normalize_email(email),
            ))
            .exec(conn)
            .await?
            .rows_affected)
    }

    /// The tenant's invitations, newest first (pending and accepted).
    pub async fn list_for_tenant(&self, scope: &TenantScope) -> Result<Vec<Invitation>, DbErr> {
        let Some(tenant) =
            crate::entities::tenants::Entity::find_by_id(scope.tenant_id().as_uuid())
                .one(&self.db)
                .await?
                .map(Tenant::from)
        else {
            return Ok(Vec::new());
        };
        Ok(invitations::Entity::find()
            .filter(invitations::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .order_by_desc(invitations::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|row| invitation_of(row, Some(tenant.clone())))
            .collect())
    }

    async fn to_invitation(&self, row: invitations::Model) -> Result<Option<Invitation>, DbErr> {
        let tenant = match row.tenant_id {
            Some(id) => match crate::entities::tenants::Entity::find_by_id(id)
                .one(&self.db)
                .await?
            {
                Some(tenant) => Some(Tenant::from(tenant)),
                None => return Ok(None),
            },
            None => None,
        };
        Ok(invitation_of(row, tenant))
    }

    /// Uses an open invitation (from [`Self::find_open`]) once: creates the account (with `name`, `language` and
    /// `password_hash`) unless the email has one, grants what the invitation says, and writes the firm-level entry
    /// `audit` makes for the user, all in one transaction. Concurrent uses of one link: exactly one succeeds, the
    /// others get `Invalid` (and write no entry).
    pub async fn accept(
        &self,
        invitation: &Invitation,
        name: &str,
        language: &str,
        password_hash: &str,
        now: DateTime<Utc>,
        audit: impl FnOnce(UserId) -> AuditEntry,
    ) -> Result<Accepted, InvitationError> {
        let txn = crate::db::begin_write(&self.db).await?;
        let claimed = invitations::Entity::update_many()
            .col_expr(
                invitations::Column::AcceptedAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(invitations::Column::Id.eq(invitation.id))
            .filter(invitations::Column::AcceptedAt.is_null())
            .exec(&txn)
            .await?;
        if claimed.rows_affected != 1 {
            return Err(InvitationError::Invalid);
        }
        let existing = users::Entity::find()
            .filter(users::Column::EmailNormalized.eq(normalize_email(&invitation.email)))
            .one(&txn)
            .await?;
        let (user_id, outcome) = match existing {
            Some(user) => {
                let id = UserId::from_uuid(user.id);
                if invitation.invited_as == InvitedAs::FirmAdmin {
                    let mut active: users::ActiveModel = user.into();
                    active.is_firm_admin = Set(true);
                    active.updated_at = Set(now);
                    active.update(&txn).await?;
                }
                (id, Accepted::ExistingUser(id))
            }
            None => {
                let id = UserId::new();
                users::ActiveModel {
                    id: Set(id.as_uuid()),
                    email: Set(invitation.email.clone()),
                    email_normalized: Set(normalize_email(&invitation.email)),
                    name: Set(name.trim().to_owned()),
                    language: Set(language.to_owned()),
                    password_hash: Set(Some(password_hash.to_owned())),
                    is_firm_admin: Set(invitation.invited_as == InvitedAs::FirmAdmin),
                    active: Set(true),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(&txn)
                .await?;
                (id, Accepted::NewUser(id))
            }
        };
        if let (InvitedAs::Member(role), Some(tenant)) = (invitation.invited_as, &invitation.tenant)
        {
            let current = memberships::Entity::find_by_id((tenant.id.as_uuid(), user_id.as_uuid()))
                .one(&txn)
                .await?;
            match current {
                Some(membership) => {
                    let mut active: memberships::ActiveModel = membership.into();
                    active.role = Set(role.as_str().to_owned());
                    active.active = Set(true);
                    active.update(&txn).await?;
                }
                None => {
                    memberships::ActiveModel {
                        tenant_id: Set(tenant.id.as_uuid()),
                        user_id: Set(user_id.as_uuid()),
                        role: Set(role.as_str().to_owned()),
                        created_at: Set(now),
                        active: Set(true),
                        notify_needs_action: Set(true),
                    }
                    .insert(&txn)
                    .await?;
                }
            }
        }
        if invitation.invited_as == InvitedAs::FirmAccountant {
            crate::firm::FirmRepository::make_accountant(&txn, user_id, None).await?;
        }
        audit::record_for_firm(&txn, audit(user_id)).await?;
        txn.commit().await?;
        self.cache.invalidate_user(user_id);
        Ok(outcome)
    }
}

#[derive(Debug, Clone)]
pub struct PasswordResetRepository {
    db: DatabaseConnection,
    cache: crate::auth_cache::AuthCache,
}

impl PasswordResetRepository {
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

    /// A reset link for `user`, valid one hour, created with the firm-level entry `audit` in one transaction.
    pub async fn create(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> Result<String, DbErr> {
        let (token, hash) = new_token();
        let txn = crate::db::begin_write(&self.db).await?;
        password_resets::ActiveModel {
            token_hash: Set(hash),
            user_id: Set(user.as_uuid()),
            created_at: Set(now),
            expires_at: Set(now + Duration::minutes(RESET_LIFETIME_MINUTES)),
            used_at: Set(None),
        }
        .insert(&txn)
        .await?;
        audit::record_for_firm(&txn, audit).await?;
        txn.commit().await?;
        Ok(token)
    }

    /// Whether the link can still be used (to show the form or an explanation).
    pub async fn is_valid(&self, token: &str, now: DateTime<Utc>) -> Result<bool, DbErr> {
        Ok(password_resets::Entity::find_by_id(hash_token(token))
            .one(&self.db)
            .await?
            .is_some_and(|row| row.used_at.is_none() && row.expires_at > now))
    }

    /// Sets the new password once, signs the user out everywhere, and writes the firm-level entry `audit` makes for
    /// the user, in one transaction.
    pub async fn consume(
        &self,
        token: &str,
        password_hash: &str,
        now: DateTime<Utc>,
        audit: impl FnOnce(UserId) -> AuditEntry,
    ) -> Result<UserId, InvitationError> {
        let txn = crate::db::begin_write(&self.db).await?;
        let Some(row) = password_resets::Entity::find_by_id(hash_token(token))
            .one(&txn)
            .await?
        else {
            return Err(InvitationError::Invalid);
        };
        if row.used_at.is_some() || row.expires_at <= now {
            return Err(InvitationError::Invalid);
        }
        let claimed = password_resets::Entity::update_many()
            .col_expr(
                password_resets::Column::UsedAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(password_resets::Column::TokenHash.eq(row.token_hash.clone()))
            .filter(password_resets::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        if claimed.rows_affected != 1 {
            return Err(InvitationError::Invalid);
        }
        let Some(user) = users::Entity::find_by_id(row.user_id).one(&txn).await? else {
            return Err(InvitationError::Invalid);
        };
        let id = UserId::from_uuid(user.id);
        let mut active: users::ActiveModel = user.into();
        active.password_hash = Set(Some(password_hash.to_owned()));
        active.updated_at = Set(now);
        active.update(&txn).await?;
        sessions::Entity::delete_many()
            .filter(sessions::Column::UserId.eq(id.as_uuid()))
            .exec(&txn)
            .await?;
        audit::record_for_firm(&txn, audit(id)).await?;
        txn.commit().await?;
        self.cache.invalidate_user(id);
        Ok(id)
    }
}
