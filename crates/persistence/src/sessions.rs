//! Server-side sessions. The cookie holds a random token; the table holds only its SHA-256, so a leaked table
//! yields no usable session.

use crate::audit::{self, AuditEntry};
use crate::auth_cache::{AuthCache, CachedSession, Invalidation};
use crate::entities::{sessions, users};
use crate::users::User;
use chrono::{DateTime, Duration, Utc};
use portal_domain::ids::UserId;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter,
};

/// How long a session lives without use, and at most.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
    /// `last_seen_at` is written at most this often, not on every request.
    pub touch_every: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Duration::hours(2),
            absolute: Duration::hours(12),
            touch_every: Duration::minutes(1),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub id_hash: String,
    pub user: User,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct SessionRepository {
    db: DatabaseConnection,
    policy: SessionPolicy,
    cache: AuthCache,
}

impl SessionRepository {
    pub fn new(db: DatabaseConnection, policy: SessionPolicy) -> Self {
        Self {
            db,
            policy,
            cache: AuthCache::disabled(),
        }
    }

    /// The same repository, answering from `cache` when it can (and invalidating it when a session ends).
    #[must_use]
    pub fn with_cache(mut self, cache: AuthCache) -> Self {
        self.cache = cache;
        self
    }

    /// A cached session, when it is still valid at `now` and no touch is due (the database decides otherwise).
    fn cached(&self, id_hash: &str, now: DateTime<Utc>, touching: bool) -> Option<CachedSession> {
        let cached = self.cache.session(id_hash)?;
        let expired = now >= cached.expires_at || now - cached.last_seen_at >= self.policy.idle;
        let touch_due = touching && now - cached.last_seen_at >= self.policy.touch_every;
        (!expired && !touch_due && cached.user.active).then_some(cached)
    }

    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    /// A new session (a sign-in), with the firm-level entry `audit`, in one transaction.
    pub async fn create(
        &self,
        id_hash: &str,
        user: UserId,
        now: DateTime<Utc>,
        audit: AuditEntry,
    ) -> Result<(), DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        sessions::ActiveModel {
            id: Set(id_hash.to_owned()),
            user_id: Set(user.as_uuid()),
            // Kept for compatibility with the first schema; CSRF tokens are derived from the session token.
            csrf_token: Set(String::new()),
            created_at: Set(now),
            last_seen_at: Set(now),
            expires_at: Set(now + self.policy.absolute),
        }
        .insert(&txn)
        .await?;
        audit::record_for_firm(&txn, audit).await?;
        txn.commit().await
    }

    /// The session and its (active) user, or `None` when unknown, idle too long, past its lifetime, or the user is
    /// deactivated; an expired session is deleted on the way.
    pub async fn find_valid(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ActiveSession>, DbErr> {
        if let Some(cached) = self.cached(id_hash, now, true) {
            return Ok(Some(ActiveSession {
                id_hash: id_hash.to_owned(),
                user: cached.user,
                created_at: cached.created_at,
            }));
        }
        let ticket = self.cache.ticket();
        let Some((session, user)) = sessions::Entity::find_by_id(id_hash.to_owned())
            .find_also_related(users::Entity)
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let expired = now >= session.expires_at || now - session.last_seen_at >= self.policy.idle;
        let Some(user) = user.filter(|user| user.active && !expired) else {
            sessions::Entity::delete_by_id(session.id)
                .exec(&self.db)
                .await?;
            return Ok(None);
        };
        let mut last_seen_at = session.last_seen_at;
        if now - session.last_seen_at >= self.policy.touch_every {
            let mut active: sessions::ActiveModel = session.clone().into();
            active.last_seen_at = Set(now);
            active.update(&self.db).await?;
            last_seen_at = now;
        }
        let user = User::from(user);
        self.cache.put_session(
            ticket,
            &session.id,
            CachedSession {
                user: user.clone(),
                created_at: session.created_at,
                last_seen_at,
                expires_at: session.expires_at,
            },
        );
        Ok(Some(ActiveSession {
            id_hash: session.id,
            user,
            created_at: session.created_at,
        }))
    }

    /// Whether the session is still valid for its (active) user, without touching it: a check made on the user's
    /// behalf (an open live stream) must not keep an idle session alive.
    pub async fn peek_valid(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, DbErr> {
        if let Some(cached) = self.cached(id_hash, now, false) {
            return Ok(Some(cached.user));
        }
        let Some((session, user)) = sessions::Entity::find_by_id(id_hash.to_owned())
            .find_also_related(users::Entity)
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let expired = now >= session.expires_at || now - session.last_seen_at >= self.policy.idle;
        Ok(user.filter(|user| user.active && !expired).map(User::from))
    }

    pub async fn delete(&self, id_hash: &str) -> Result<(), DbErr> {
        sessions::Entity::delete_by_id(id_hash.to_owned())
            .exec(&self.db)
            .await?;
        self.cache
            .invalidate(Invalidation::Session(id_hash.to_owned()));
        Ok(())
    }

    /// "Sign out everywhere": ends every session of `user` and writes the firm-level entry `audit` makes of how
    /// many there were, in one transaction. Returns that number.
    pub async fn delete_all_for_user(
        &self,
        user: UserId,
        audit: impl FnOnce(u64) -> AuditEntry,
    ) -> Result<u64, DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        let ended = sessions::Entity::delete_many()
            .filter(sessions::Column::UserId.eq(user.as_uuid()))
            .exec(&txn)
            .await?
            .rows_affected;
        audit::record_for_firm(&txn, audit(ended)).await?;
        txn.commit().await?;
        self.cache.invalidate_user(user);
        Ok(ended)
    }

    pub async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, DbErr> {
        Ok(sessions::Entity::delete_many()
            .filter(
                sessions::Column::ExpiresAt
                    .lte(now)
                    .or(sessions::Column::LastSeenAt.lte(now - self.policy.idle)),
            )
            .exec(&self.db)
            .await?
            .rows_affected)
    }
}
