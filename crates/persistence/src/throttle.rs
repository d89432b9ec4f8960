//! Login throttling, per account and per client address: a growing delay after a few failures, then a lock.

use crate::entities::login_throttle;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait};

#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    /// Failures allowed before any delay.
    pub free_failures: i32,
    /// Failures after which the key is locked for `lock`.
    pub lock_after: i32,
    pub lock: Duration,
    pub max_delay: Duration,
    /// A failure older than this no longer counts.
    pub forget_after: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            free_failures: 3,
            lock_after: 10,
            lock: Duration::minutes(15),
            max_delay: Duration::seconds(60),
            forget_after: Duration::hours(1),
        }
    }
}

impl ThrottlePolicy {
    /// When the next try is allowed after `failures` consecutive failures at `at`.
    pub fn next_allowed(&self, failures: i32, at: DateTime<Utc>) -> DateTime<Utc> {
        if failures >= self.lock_after {
            at + self.lock
        } else if failures > self.free_failures {
            let exponent = u32::try_from(failures - self.free_failures - 1)
                .unwrap_or(0)
                .min(16);
            at + Duration::seconds(1i64 << exponent).min(self.max_delay)
        } else {
            at
        }
    }
}

pub fn account_key(normalized_email: &str) -> String {
    format!("account:{normalized_email}")
}

pub fn address_key(ip: &str) -> String {
    format!("ip:{ip}")
}

#[derive(Debug, Clone)]
pub struct LoginThrottle {
    db: DatabaseConnection,
    policy: ThrottlePolicy,
}

impl LoginThrottle {
    pub fn new(db: DatabaseConnection, policy: ThrottlePolicy) -> Self {
        Self { db, policy }
    }

    /// `Some(time)` when one of the keys must wait until then.
    pub async fn blocked_until(
        &self,
        keys: &[String],
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, DbErr> {
        let mut until: Option<DateTime<Utc>> = None;
        for key in keys {
            if let Some(row) = login_throttle::Entity::find_by_id(key.clone())
                .one(&self.db)
                .await?
                && row.next_allowed_at > now
            {
                until = Some(until.map_or(row.next_allowed_at, |u| u.max(row.next_allowed_at)));
            }
        }
        Ok(until)
    }

    pub async fn record_failure(&self, key: &str, now: DateTime<Utc>) -> Result<(), DbErr> {
        match login_throttle::Entity::find_by_id(key.to_owned())
            .one(&self.db)
            .await?
        {
            Some(row) => {
                let failures = if now - row.last_failure_at > self.policy.forget_after {
                    1
                } else {
                    row.failures.saturating_add(1)
                };
                let mut active: login_throttle::ActiveModel = row.into();
                active.failures = Set(failures);
                active.last_failure_at = Set(now);
                active.next_allowed_at = Set(self.policy.next_allowed(failures, now));
                active.update(&self.db).await?;
            }
            None => {
                login_throttle::ActiveModel {
                    key: Set(key.to_owned()),
                    failures: Set(1),
                    last_failure_at: Set(now),
                    next_allowed_at: Set(self.policy.next_allowed(1, now)),
                }
                .insert(&self.db)
                .await?;
            }
        }
        Ok(())
    }

    pub async fn clear(&self, key: &str) -> Result<(), DbErr> {
        login_throttle::Entity::delete_by_id(key.to_owned())
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_lock() {
        let policy = ThrottlePolicy::default();
        let now = Utc::now();
        assert_eq!(policy.next_allowed(1, now), now);
        assert_eq!(policy.next_allowed(3, now), now);
        assert_eq!(policy.next_allowed(4, now), now + Duration::seconds(1));
        assert_eq!(policy.next_allowed(5, now), now + Duration::seconds(2));
        assert_eq!(policy.next_allowed(6, now), now + Duration::seconds(4));
        assert_eq!(policy.next_allowed(9, now), now + Duration::seconds(32));
        assert_eq!(policy.next_allowed(10, now), now + Duration::minutes(15));
    }
}
