//! Login throttling that slows the guesser, not the owner.
//!
//! Three counters of failures, each forgotten an hour after its last failure:
//! - per account *and* address (`pair_key`): a growing delay after a few failures, then a lock. This is the one
//!   wall a guesser meets, and it is claimed atomically *before* the password is hashed, so concurrent guesses
//!   cannot all pass the check (each attempt counts as a failure until it succeeds; a success clears it);
//! - per account (`account_key`), across addresses: when it passes the lock threshold the account is under attack:
//!   an address that already failed for it gets at most `free_failures` tries, an address that never failed is
//!   served after a short pause (`attack_delay`) instead of a wall, so the owner still signs in;
//! - per address (`address_key`), across accounts (behind a proxy every user shares it): past the threshold it
//!   walls only accounts that have failures of their own, and pauses the clean ones: it never locks a clean account.

use crate::entities::login_throttle;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};

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
    /// The pause before answering an address that never failed, while its account or address is under attack.
    pub attack_delay: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            free_failures: 3,
            lock_after: 10,
            lock: Duration::minutes(15),
            max_delay: Duration::seconds(60),
            forget_after: Duration::hours(1),
            attack_delay: Duration::seconds(1),
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

/// One account from one address.
pub fn pair_key(normalized_email: &str, ip: &str) -> String {
    format!("pair:{normalized_email}|{ip}")
}

/// What a sign-in attempt may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Check the password, after `pause` when the account or address is under attack. The attempt is already
    /// counted as a failure of its account and address: call [`LoginThrottle::succeeded`] or
    /// [`LoginThrottle::failed`] once the password is checked.
    Go { pause: Option<Duration> },
    /// Refused without checking the password: try again at that time.
    Wait(DateTime<Utc>),
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

    pub fn policy(&self) -> ThrottlePolicy {
        self.policy
    }

    /// Failures of a row that still count at `now`.
    fn recent(&self, row: Option<&login_throttle::Model>, now: DateTime<Utc>) -> i32 {
        row.filter(|row| now - row.last_failure_at <= self.policy.forget_after)
            .map_or(0, |row| row.failures)
    }

    /// Decides whether a sign-in of `email` (normalized) from `ip` may check its password, and if so counts it as
    /// a failure of the account-and-address key first, in one conditional statement: of several concurrent
    /// attempts that read the same count, one goes on and the others wait.
    pub async fn admit(
        &self,
        email: &str,
        ip: &str,
        now: DateTime<Utc>,
    ) -> Result<Admission, DbErr> {
        let pair = pair_key(email, ip);
        let account = account_key(email);
        let address = address_key(ip);
        let rows = login_throttle::Entity::find()
            .filter(login_throttle::Column::Key.is_in([
                pair.clone(),
                account.clone(),
                address.clone(),
            ]))
            .all(&self.db)
            .await?;
        let find = |key: &str| rows.iter().find(|row| row.key == key);
        let pair_row = find(&pair);
        if let Some(row) = pair_row
            && row.next_allowed_at > now
        {
            return Ok(Admission::Wait(row.next_allowed_at));
        }
        let policy = self.policy;
        let pair_failures = self.recent(pair_row, now);
        let account_failures = self.recent(find(&account), now);
        let address_failures = self.recent(find(&address), now);
        let account_attacked = account_failures >= policy.lock_after;
        let address_attacked = address_failures >= policy.lock_after;
        let wall = |row: Option<&login_throttle::Model>| {
            row.map_or(now, |row| row.last_failure_at) + policy.lock
        };
        if account_attacked && pair_failures >= policy.free_failures {
            return Ok(Admission::Wait(wall(find(&account))));
        }
        if address_attacked && account_failures > 0 {
            return Ok(Admission::Wait(wall(find(&address))));
        }
        // Claim the attempt: counted before the hash, conditionally on the row being as read.
        let failures = pair_failures.saturating_add(1);
        let next_allowed_at = policy.next_allowed(failures, now);
        let claimed = match pair_row {
            None => {
                login_throttle::Entity::insert(login_throttle::ActiveModel {
                    key: Set(pair.clone()),
                    failures: Set(failures),
                    last_failure_at: Set(now),
                    next_allowed_at: Set(next_allowed_at),
                })
                .on_conflict(
                    OnConflict::column(login_throttle::Column::Key)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&self.db)
                .await?
            }
            Some(row) => {
                login_throttle::Entity::update_many()
                    .col_expr(login_throttle::Column::Failures, Expr::value(failures))
                    .col_expr(login_throttle::Column::LastFailureAt, Expr::value(now))
                    .col_expr(
                        login_throttle::Column::NextAllowedAt,
                        Expr::value(next_allowed_at),
                    )
                    .filter(login_throttle::Column::Key.eq(pair.clone()))
                    .filter(login_throttle::Column::Failures.eq(row.failures))
                    .filter(login_throttle::Column::NextAllowedAt.lte(now))
                    .exec(&self.db)
                    .await?
                    .rows_affected
            }
        };
        if claimed != 1 {
            // Another attempt of the same account and address got there first.
            return Ok(Admission::Wait(now + Duration::seconds(1)));
        }
        let pause = (account_attacked || address_attacked).then_some(policy.attack_delay);
        Ok(Admission::Go { pause })
    }

    /// Deletes the rows that no longer change anything at `now`: their last failure is older than both the
    /// forgetting window and the lock (so their count is forgotten and no lock can come from them), and they wall
    /// nobody any more. A live counter or a lock still running is kept. Returns how many were deleted.
    pub async fn purge_stale(&self, now: DateTime<Utc>) -> Result<u64, DbErr> {
        let stale_after = self.policy.forget_after.max(self.policy.lock);
        Ok(login_throttle::Entity::delete_many()
            .filter(login_throttle::Column::LastFailureAt.lt(now - stale_after))
            .filter(login_throttle::Column::NextAllowedAt.lte(now))
            .exec(&self.db)
            .await?
            .rows_affected)
    }

    /// The password was right: the account-and-address counter starts again.
    pub async fn succeeded(&self, email: &str, ip: &str) -> Result<(), DbErr> {
        self.clear(&pair_key(email, ip)).await
    }

    /// The password was wrong: the account and the address each count one more failure (the pair counted it when
    /// admitted).
    pub async fn failed(&self, email: &str, ip: &str, now: DateTime<Utc>) -> Result<(), DbErr> {
        self.record_failure(&account_key(email), now).await?;
        self.record_failure(&address_key(ip), now).await
    }

    /// `Some(time)` when one of the keys must wait until then.
    pub async fn blocked_until(
        &self,
        keys: &[String],
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, DbErr> {
        let rows = login_throttle::Entity::find()
            .filter(login_throttle::Column::Key.is_in(keys.iter().cloned()))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| row.next_allowed_at)
            .filter(|until| *until > now)
            .max())
    }

    /// One more failure of `key`, in one statement (concurrent failures all count); a failure after
    /// `forget_after` of quiet starts again at one.
    pub async fn record_failure(&self, key: &str, now: DateTime<Utc>) -> Result<(), DbErr> {
        let table = login_throttle::Entity;
        let failures = Expr::case(
            sea_orm::sea_query::ExprTrait::lt(
                Expr::col((table, login_throttle::Column::LastFailureAt)),
                now - self.policy.forget_after,
            ),
            1,
        )
        .finally(sea_orm::sea_query::ExprTrait::add(
            Expr::col((table, login_throttle::Column::Failures)),
            1,
        ));
        login_throttle::Entity::insert(login_throttle::ActiveModel {
            key: Set(key.to_owned()),
            failures: Set(1),
            last_failure_at: Set(now),
            next_allowed_at: Set(self.policy.next_allowed(1, now)),
        })
        .on_conflict(
            OnConflict::column(login_throttle::Column::Key)
                .value(login_throttle::Column::Failures, failures)
                .value(login_throttle::Column::LastFailureAt, Expr::value(now))
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        // The delay follows the count (for keys that wall by themselves, like password-reset requests).
        if let Some(row) = login_throttle::Entity::find_by_id(key.to_owned())
            .one(&self.db)
            .await?
        {
            login_throttle::Entity::update_many()
                .col_expr(
                    login_throttle::Column::NextAllowedAt,
                    Expr::value(self.policy.next_allowed(row.failures, row.last_failure_at)),
                )
                .filter(login_throttle::Column::Key.eq(key.to_owned()))
                .exec(&self.db)
                .await?;
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
