//! The counts kept per company (migration 000021): invoices per `(headline status, submission state, needs
//! action)` and invoices sent per Paris month. Triggers on `invoices` keep them exact in the transaction of every
//! change; the pages read them (a few rows per company) instead of counting a company's invoices.
//!
//! The counts that the invoices themselves give (`GROUP BY`) stay here as the source of the repair, [`recount`]
//! (`portal dev recount`), and of the tests that check the triggers.
//!
//! [`recount`]: CountsRepository::recount

use crate::jobs::statement;
use crate::scope::{ScopeOrigin, TenantRole, TenantScope};
use crate::tenants::{Tenant, TenantRepository};
use chrono::{DateTime, Datelike, Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, FromQueryResult, Value};

/// How many of a company's invoices share a headline status (0: none yet), submission state and "needs action".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, FromQueryResult)]
pub struct CountRow {
    pub headline_code: i32,
    pub submission_state: String,
    pub needs_action: bool,
    pub count: i64,
}

/// How many of a company's invoices were sent in a Paris month (`YYYY-MM`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, FromQueryResult)]
pub struct MonthRow {
    pub month: String,
    pub count: i64,
}

/// A kept count that disagreed with the invoices, and what it became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountFix<K> {
    pub key: K,
    pub kept: i64,
    pub actual: i64,
}

/// What a company's recount changed (empty when its counts were right).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recount {
    /// Keyed by `(headline code or 0, submission state, needs action)`.
    pub statuses: Vec<CountFix<(i32, String, bool)>>,
    /// Keyed by month (`YYYY-MM`).
    pub months: Vec<CountFix<String>>,
}

impl Recount {
    pub fn is_empty(&self) -> bool {
        self.statuses.is_empty() && self.months.is_empty()
    }
}

/// The Paris month (`YYYY-MM`) an instant falls in, as the monthly counts are keyed: the same rule as the SQLite
/// trigger's (`portal_migrations::paris_month_sql`), Paris being UTC+2 from the first of April to the first of
/// November and UTC+1 otherwise at the hour a month starts.
pub fn paris_month(at: DateTime<Utc>) -> String {
    let summer = at + Duration::hours(2);
    let local = if (4..=10).contains(&summer.month()) {
        summer
    } else {
        at + Duration::hours(1)
    };
    format!("{:04}-{:02}", local.year(), local.month())
}

#[derive(Debug, FromQueryResult)]
struct StatusDiff {
    headline_code: i32,
    submission_state: String,
    needs_action: bool,
    actual: i64,
    kept: i64,
}

#[derive(Debug, FromQueryResult)]
struct MonthDiff {
    month: String,
    actual: i64,
    kept: i64,
}

#[derive(Debug, Clone)]
pub struct CountsRepository {
    db: DatabaseConnection,
}

impl CountsRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// The kept counts of the company (non-zero rows, sorted).
    pub async fn kept(&self, scope: &TenantScope) -> Result<Vec<CountRow>, DbErr> {
        kept_in(&self.db, scope).await
    }

    /// The counts as the company's invoices give them now (sorted).
    pub async fn actual(&self, scope: &TenantScope) -> Result<Vec<CountRow>, DbErr> {
        let sql = "SELECT COALESCE(headline_code, 0) AS headline_code, submission_state, needs_action, \
                   COUNT(*) AS count FROM invoices WHERE tenant_id = ? \
                   GROUP BY COALESCE(headline_code, 0), submission_state, needs_action";
        let mut rows = CountRow::find_by_statement(statement(
            self.backend(),
            sql,
            vec![Value::from(scope.tenant_id().as_uuid())],
        ))
        .all(&self.db)
        .await?;
        rows.sort();
        Ok(rows)
    }

    /// The kept monthly counts of invoices sent (non-zero rows, by month).
    pub async fn kept_months(&self, scope: &TenantScope) -> Result<Vec<MonthRow>, DbErr> {
        let mut rows = MonthRow::find_by_statement(statement(
            self.backend(),
            "SELECT month, count FROM invoice_sent_months WHERE tenant_id = ? AND count <> 0",
            vec![Value::from(scope.tenant_id().as_uuid())],
        ))
        .all(&self.db)
        .await?;
        rows.sort();
        Ok(rows)
    }

    /// The invoices sent per month as the company's invoices give them now (by month).
    pub async fn actual_months(&self, scope: &TenantScope) -> Result<Vec<MonthRow>, DbErr> {
        let month = portal_migrations::paris_month_sql(self.backend(), "sent_at");
        let sql = format!(
            "SELECT {month} AS month, COUNT(*) AS count FROM invoices \
             WHERE tenant_id = ? AND sent_at IS NOT NULL GROUP BY {month}"
        );
        let mut rows = MonthRow::find_by_statement(statement(
            self.backend(),
            &sql,
            vec![Value::from(scope.tenant_id().as_uuid())],
        ))
        .all(&self.db)
        .await?;
        rows.sort();
        Ok(rows)
    }

    /// Every company, each with a scope for this maintenance task (the repair goes through them all).
    pub async fn companies(&self) -> Result<Vec<(Tenant, TenantScope)>, DbErr> {
        Ok(TenantRepository::new(self.db.clone())
            .list_all()
            .await?
            .into_iter()
            .map(|tenant| {
                let scope = TenantScope::new(tenant.id, TenantRole::Admin, ScopeOrigin::Job);
                (tenant, scope)
            })
            .collect())
    }

    /// Recomputes the company's kept counts from its invoices, in one transaction, and says what changed.
    ///
    /// Each difference is read in one statement (the invoices' `GROUP BY` beside the kept rows, one snapshot)
    /// and applied as a delta (`count = count + actual - kept`), so that a change another transaction commits
    /// meanwhile, whose trigger moves the same rows by its own delta, is neither lost nor counted twice. (SQLite
    /// runs one writer at a time: its transaction holds the write lock from the start.)
    pub async fn recount(&self, scope: &TenantScope) -> Result<Recount, DbErr> {
        let backend = self.backend();
        let tenant = Value::from(scope.tenant_id().as_uuid());
        let txn = crate::db::begin_write(&self.db).await?;
        let statuses = StatusDiff::find_by_statement(statement(
            backend,
            "SELECT headline_code, submission_state, needs_action, \
             CAST(SUM(actual) AS BIGINT) AS actual, CAST(SUM(kept) AS BIGINT) AS kept FROM ( \
               SELECT COALESCE(headline_code, 0) AS headline_code, submission_state, needs_action, \
                 COUNT(*) AS actual, 0 AS kept FROM invoices WHERE tenant_id = ? \
                 GROUP BY COALESCE(headline_code, 0), submission_state, needs_action \
               UNION ALL \
               SELECT headline_code, submission_state, needs_action, 0 AS actual, count AS kept \
                 FROM invoice_counts WHERE tenant_id = ? \
             ) AS both_sides GROUP BY headline_code, submission_state, needs_action \
             HAVING SUM(actual) <> SUM(kept)",
            vec![tenant.clone(), tenant.clone()],
        ))
        .all(&txn)
        .await?;
        let month = portal_migrations::paris_month_sql(backend, "sent_at");
        let months = MonthDiff::find_by_statement(statement(
            backend,
            &format!(
                "SELECT month, CAST(SUM(actual) AS BIGINT) AS actual, CAST(SUM(kept) AS BIGINT) AS kept FROM ( \
                   SELECT {month} AS month, COUNT(*) AS actual, 0 AS kept FROM invoices \
                     WHERE tenant_id = ? AND sent_at IS NOT NULL GROUP BY {month} \
                   UNION ALL \
                   SELECT month, 0 AS actual, count AS kept FROM invoice_sent_months WHERE tenant_id = ? \
                 ) AS both_sides GROUP BY month HAVING SUM(actual) <> SUM(kept)"
            ),
            vec![tenant.clone(), tenant.clone()],
        ))
        .all(&txn)
        .await?;
        let mut report = Recount::default();
        for diff in statuses {
            txn.execute_raw(statement(
                backend,
                "INSERT INTO invoice_counts (tenant_id, headline_code, submission_state, needs_action, count) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, headline_code, submission_state, needs_action) \
                 DO UPDATE SET count = invoice_counts.count + excluded.count",
                vec![
                    tenant.clone(),
                    Value::from(diff.headline_code),
                    Value::from(diff.submission_state.clone()),
                    Value::from(diff.needs_action),
                    Value::from(diff.actual - diff.kept),
                ],
            ))
            .await?;
            report.statuses.push(CountFix {
                key: (diff.headline_code, diff.submission_state, diff.needs_action),
                kept: diff.kept,
                actual: diff.actual,
            });
        }
        for diff in months {
            txn.execute_raw(statement(
                backend,
                "INSERT INTO invoice_sent_months (tenant_id, month, count) VALUES (?, ?, ?) \
                 ON CONFLICT (tenant_id, month) DO UPDATE SET count = invoice_sent_months.count + excluded.count",
                vec![
                    tenant.clone(),
                    Value::from(diff.month.clone()),
                    Value::from(diff.actual - diff.kept),
                ],
            ))
            .await?;
            report.months.push(CountFix {
                key: diff.month,
                kept: diff.kept,
                actual: diff.actual,
            });
        }
        // Rows that fell to zero are left: the next change of that kind reuses them.
        report.statuses.sort_by(|a, b| a.key.cmp(&b.key));
        report.months.sort_by(|a, b| a.key.cmp(&b.key));
        txn.commit().await?;
        Ok(report)
    }
}

/// The kept counts of the company on `conn` (non-zero rows, sorted): one read of its few rows.
pub(crate) async fn kept_in<C: ConnectionTrait>(
    conn: &C,
    scope: &TenantScope,
) -> Result<Vec<CountRow>, DbErr> {
    let mut rows = CountRow::find_by_statement(statement(
        conn.get_database_backend(),
        "SELECT headline_code, submission_state, needs_action, count FROM invoice_counts \
         WHERE tenant_id = ? AND count <> 0",
        vec![Value::from(scope.tenant_id().as_uuid())],
    ))
    .all(conn)
    .await?;
    rows.sort();
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::paris_month;
    use chrono::{TimeZone, Utc};

    #[test]
    fn months_turn_at_paris_midnight() {
        let at = |y, m, d, h, min| Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap();
        // Winter: Paris is UTC+1, so March starts at 23:00 UTC on the last day of February.
        assert_eq!(paris_month(at(2026, 2, 28, 22, 59)), "2026-02");
        assert_eq!(paris_month(at(2026, 2, 28, 23, 0)), "2026-03");
        // Summer: UTC+2, April starts at 22:00 UTC on 31 March.
        assert_eq!(paris_month(at(2026, 3, 31, 21, 59)), "2026-03");
        assert_eq!(paris_month(at(2026, 3, 31, 22, 0)), "2026-04");
        // October starts in summer time, November in winter time.
        assert_eq!(paris_month(at(2026, 9, 30, 22, 0)), "2026-10");
        assert_eq!(paris_month(at(2026, 10, 31, 22, 30)), "2026-10");
        assert_eq!(paris_month(at(2026, 10, 31, 23, 0)), "2026-11");
        assert_eq!(paris_month(at(2026, 12, 31, 23, 30)), "2027-01");
        assert_eq!(paris_month(at(2026, 6, 15, 12, 0)), "2026-06");
    }
}
