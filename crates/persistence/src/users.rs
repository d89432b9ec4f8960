//! People who can sign in. Users are not tenant-owned: a user belongs to tenants through memberships.

use crate::audit::{self, AuditEntry};
use crate::entities::users;
use portal_domain::ids::UserId;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

/// A user as the rest of the portal sees it (no password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub language: String,
    pub is_firm_admin: bool,
    pub active: bool,
}

impl From<users::Model> for User {
    fn from(row: users::Model) -> Self {
        Self {
            id: UserId::from_uuid(row.id),
            email: row.email,
            name: row.name,
            language: row.language,
            is_firm_admin: row.is_firm_admin,
            active: row.active,
        }
    }
}

/// Emails are compared without regard to case or surrounding spaces.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Whether `create-admin` made a new user or reset an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminUpsert {
    Created(UserId),
    Reset(UserId),
}

#[derive(Debug, Clone)]
pub struct UserRepository {
    db: DatabaseConnection,
    cache: crate::auth_cache::AuthCache,
}

impl UserRepository {
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

    pub async fn find_by_email(&self, email: &str) -> Result<Option<User>, DbErr> {
        Ok(users::Entity::find()
            .filter(users::Column::EmailNormalized.eq(normalize_email(email)))
            .one(&self.db)
            .await?
            .map(User::from))
    }

    /// The stored argon2 hash, for the login check only.
    pub async fn password_hash(&self, id: UserId) -> Result<Option<String>, DbErr> {
        Ok(users::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await?
            .and_then(|row| row.password_hash))
    }

    /// Creates a firm administrator, or makes an existing user one again with a new password (active), with the
    /// firm-level entry `audit` makes of the outcome, if any (the demo and tests record none), in one transaction.
    pub async fn upsert_firm_admin(
        &self,
        email: &str,
        name: &str,
        password_hash: &str,
        audit: impl FnOnce(&AdminUpsert) -> Option<AuditEntry>,
    ) -> Result<AdminUpsert, DbErr> {
        let now = chrono::Utc::now();
        // Read inside the transaction that writes (SQLite's write lock taken at its start: `db::begin_write`).
        let txn = crate::db::begin_write(&self.db).await?;
        let existing = users::Entity::find()
            .filter(users::Column::EmailNormalized.eq(normalize_email(email)))
            .one(&txn)
            .await?;
        let outcome = match existing {
            Some(row) => {
                let id = UserId::from_uuid(row.id);
                let mut active: users::ActiveModel = row.into();
                active.password_hash = Set(Some(password_hash.to_owned()));
                active.is_firm_admin = Set(true);
                active.active = Set(true);
                active.updated_at = Set(now);
                active.update(&txn).await?;
                AdminUpsert::Reset(id)
            }
            None => {
                let id = UserId::new();
                users::ActiveModel {
                    id: Set(id.as_uuid()),
                    email: Set(email.trim().to_owned()),
                    email_normalized: Set(normalize_email(email)),
                    name: Set(name.to_owned()),
                    language: Set("fr".to_owned()),
                    password_hash: Set(Some(password_hash.to_owned())),
                    is_firm_admin: Set(true),
                    active: Set(true),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(&txn)
                .await?;
                AdminUpsert::Created(id)
            }
        };
        if let Some(entry) = audit(&outcome) {
            audit::record_for_firm(&txn, entry).await?;
        }
        txn.commit().await?;
        let (AdminUpsert::Reset(id) | AdminUpsert::Created(id)) = outcome;
        self.cache.invalidate_user(id);
        Ok(outcome)
    }

    /// Creates a plain (non-admin) user with no password yet: invitations set it.
    pub async fn create(&self, email: &str, name: &str, language: &str) -> Result<User, DbErr> {
        let now = chrono::Utc::now();
        let row = users::ActiveModel {
            id: Set(UserId::new().as_uuid()),
            email: Set(email.trim().to_owned()),
            email_normalized: Set(normalize_email(email)),
            name: Set(name.to_owned()),
            language: Set(language.to_owned()),
            password_hash: Set(None),
            is_firm_admin: Set(false),
            active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&self.db)
        .await?;
        Ok(row.into())
    }
}

impl UserRepository {
    pub async fn set_language(&self, id: UserId, language: &str) -> Result<(), DbErr> {
        if let Some(row) = users::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await?
        {
            let mut active: users::ActiveModel = row.into();
            active.language = Set(language.to_owned());
            active.updated_at = Set(chrono::Utc::now());
            active.update(&self.db).await?;
            self.cache.invalidate_user(id);
        }
        Ok(())
    }

    pub async fn firm_admins(&self) -> Result<Vec<User>, DbErr> {
        Ok(users::Entity::find()
            .filter(users::Column::IsFirmAdmin.eq(true))
            .all(&self.db)
            .await?
            .into_iter()
            .map(User::from)
            .collect())
    }

    /// Takes the firm administrator role away, unless it is the last active one, and writes the firm-level entry
    /// `audit` in the same transaction. False (and no entry) when refused or when there is no such user.
    pub async fn revoke_firm_admin(&self, id: UserId, audit: AuditEntry) -> Result<bool, DbErr> {
        // The active firm administrators' rows are locked first (in id order, so two revocations cannot
        // deadlock; on PostgreSQL, `FOR UPDATE`: SQLite's `BEGIN IMMEDIATE` already serialises writers), then the
        // change, then the count: two concurrent revocations of the last two take turns and the second one's
        // count sees the first one's change, so it is undone rather than leaving the firm with no admin.
        let txn = crate::db::begin_write(&self.db).await?;
        users::Entity::find()
            .select_only()
            .column(users::Column::Id)
            .filter(users::Column::IsFirmAdmin.eq(true))
            .filter(users::Column::Active.eq(true))
            .order_by_asc(users::Column::Id)
            .lock_exclusive()
            .into_tuple::<Uuid>()
            .all(&txn)
            .await?;
        let revoked = users::Entity::update_many()
            .col_expr(users::Column::IsFirmAdmin, Expr::value(false))
            .col_expr(users::Column::UpdatedAt, Expr::value(chrono::Utc::now()))
            .filter(users::Column::Id.eq(id.as_uuid()))
            .exec(&txn)
            .await?;
        if revoked.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        let remaining = users::Entity::find()
            .filter(users::Column::IsFirmAdmin.eq(true))
            .filter(users::Column::Active.eq(true))
            .count(&txn)
            .await?;
        if remaining == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        audit::record_for_firm(&txn, audit).await?;
        txn.commit().await?;
        self.cache.invalidate_user(id);
        Ok(true)
    }
}

impl UserRepository {
    /// Sets a new password hash (the caller ends the user's other sessions when appropriate).
    pub async fn set_password_hash(&self, id: UserId, password_hash: &str) -> Result<(), DbErr> {
        if let Some(row) = users::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await?
        {
            let mut active: users::ActiveModel = row.into();
            active.password_hash = Set(Some(password_hash.to_owned()));
            active.updated_at = Set(chrono::Utc::now());
            active.update(&self.db).await?;
        }
        Ok(())
    }
}
