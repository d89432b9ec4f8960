//! The firm's console across companies: each company's health (its Billit connection, webhooks, polls and the
//! invoices that need someone), the aggregates behind the console's pictures, and bulk onboarding.
//!
//! Every query across companies takes the scopes the person holds (never a tenant id from a request) and runs as
//! one statement whose per-company parts read index ranges: the counts are bounded by what they count (invoices
//! sent this month, open requests, unpaid invoices), not by how many invoices a company has.

use crate::audit::{self, AuditEntry};
use crate::entities::{
    billit_connections, billit_health, firm_portfolios, firm_staff, invitations, tenants,
};
use crate::invitations::INVITATION_LIFETIME_DAYS;
use crate::jobs::statement;
use crate::outbox::{EmailExtras, NewEmail, OutboxError, OutboxRepository};
use crate::scope::TenantScope;
use crate::tenants::{Tenant, TenantProfile};
use crate::tokens::new_token;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use portal_domain::ids::{TenantId, UserId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DbBackend, DbErr, EntityTrait, FromQueryResult, QueryFilter, QuerySelect, Value,
};
use uuid::Uuid;

/// One company's line on the health page.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct CompanyHealthRow {
    pub tenant_id: Uuid,
    pub slug: String,
    pub legal_name: String,
    pub status: String,
    /// `None` when the company has no Billit connection at all.
    pub environment: Option<String>,
    pub party_id: Option<i64>,
    pub has_api_key: Option<bool>,
    /// JSON array of Billit's webhook ids, when registered.
    pub webhook_ids: Option<String>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_error_kind: Option<String>,
    pub last_poll_at: Option<DateTime<Utc>>,
    pub last_webhook_at: Option<DateTime<Utc>>,
    pub sent_this_month: i64,
    pub open_requests: i64,
    pub overdue_cents: i64,
    pub failures: i64,
}

impl CompanyHealthRow {
    /// How many webhooks Billit holds for this company's endpoint.
    pub fn webhook_count(&self) -> usize {
        self.webhook_ids
            .as_deref()
            .and_then(|ids| serde_json::from_str::<Vec<serde_json::Value>>(ids).ok())
            .map_or(0, |ids| ids.len())
    }
}

/// Open requests of one company by age: 0–2 days, 3–7, 8–30, over 30.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromQueryResult)]
pub struct RequestAges {
    pub tenant_id: Uuid,
    pub days_0_2: i64,
    pub days_3_7: i64,
    pub days_8_30: i64,
    pub over_30: i64,
}

/// Invoices of one company per headline status (or submission state when no status came yet).
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct StatusGroup {
    pub tenant_id: Uuid,
    pub headline_code: Option<i32>,
    pub submission_state: String,
    pub count: i64,
}

/// What one company's customers still owe: all of it, and what is past its due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromQueryResult)]
pub struct AmountsDue {
    pub tenant_id: Uuid,
    pub due_cents: i64,
    pub overdue_cents: i64,
}

/// A company as a bulk upload asks for it (already validated by the caller).
#[derive(Debug, Clone)]
pub struct OnboardedCompany {
    pub profile: TenantProfile,
    pub admin_email: String,
    pub party_id: Option<i64>,
    /// The firm accountant whose portfolio receives the company, with the role they hold there.
    pub portfolio: Option<(UserId, crate::scope::TenantRole)>,
}

/// What became of one company of a bulk upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnboardOutcome {
    /// Created; `in_portfolio` when it went into the accountant's portfolio asked for (`false` also when none
    /// was asked for).
    Created {
        tenant: Box<Tenant>,
        in_portfolio: bool,
    },
    /// A company with this SIREN exists already (created meanwhile, or by an earlier upload): nothing written.
    SirenTaken,
}

#[derive(Debug, thiserror::Error)]
pub enum OnboardError {
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("the invitation email cannot be written: {0}")]
    Email(String),
}

impl From<DbErr> for OnboardError {
    fn from(error: DbErr) -> Self {
        Self::Outbox(OutboxError::Database(error))
    }
}

#[derive(Debug, Clone)]
pub struct FirmConsoleRepository {
    db: DatabaseConnection,
}

/// `?, ?, ?` for `n` values (at least one, so that an empty list is valid SQL matching nothing).
fn marks(n: usize) -> String {
    vec!["?"; n.max(1)].join(", ")
}

/// The tenant ids of the scopes, as values; a nil id stands for "none" when the list is empty.
fn tenant_values(scopes: &[TenantScope]) -> Vec<Value> {
    if scopes.is_empty() {
        return vec![Value::from(Uuid::nil())];
    }
    scopes
        .iter()
        .map(|scope| Value::from(scope.tenant_id().as_uuid()))
        .collect()
}

impl FirmConsoleRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    // ---- what the portal last heard from Billit ----

    /// A call to the company's Billit account succeeded at `at`.
    pub async fn record_billit_success(
        &self,
        scope: &TenantScope,
        at: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        billit_health::Entity::insert(billit_health::ActiveModel {
            tenant_id: Set(scope.tenant_id().as_uuid()),
            last_success_at: Set(Some(at)),
            last_error_at: Set(None),
            last_error_kind: Set(None),
            updated_at: Set(at),
            failing_since: Set(None),
        })
        .on_conflict(
            OnConflict::column(billit_health::Column::TenantId)
                .update_columns([
                    billit_health::Column::LastSuccessAt,
                    billit_health::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// A call to the company's Billit account failed at `at`, for the reason `kind` (a catalogue word). The first
    /// failure after a success (or ever) starts the run of failures the firm's inbox shows (`failing_since`); the
    /// following ones keep its start.
    pub async fn record_billit_failure(
        &self,
        scope: &TenantScope,
        at: DateTime<Utc>,
        kind: &str,
    ) -> Result<(), DbErr> {
        // Both backends evaluate the `SET` terms against the row as it was, and both know `excluded`.
        let sql = "INSERT INTO billit_health \
             (tenant_id, last_error_at, last_error_kind, updated_at, failing_since) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (tenant_id) DO UPDATE SET \
             failing_since = CASE WHEN billit_health.failing_since IS NULL \
             OR billit_health.last_error_at IS NULL \
             OR (billit_health.last_success_at IS NOT NULL \
             AND billit_health.last_success_at >= billit_health.last_error_at) \
             THEN excluded.last_error_at ELSE billit_health.failing_since END, \
             last_error_at = excluded.last_error_at, last_error_kind = excluded.last_error_kind, \
             updated_at = excluded.updated_at";
        let values = vec![
            Value::from(scope.tenant_id().as_uuid()),
            Value::from(at),
            Value::from(kind.chars().take(32).collect::<String>()),
            Value::from(at),
            Value::from(at),
        ];
        self.db
            .execute_raw(statement(self.backend(), sql, values))
            .await?;
        Ok(())
    }

    // ---- company health ----

    /// The statement of [`Self::company_health`] (its plan is tested).
    pub fn company_health_statement(
        &self,
        scopes: &[TenantScope],
        month_start: DateTime<Utc>,
        today: NaiveDate,
    ) -> sea_orm::Statement {
        // Each per-company part is a correlated sub-query over an index that leads with the tenant: the latest
        // webhook is one index probe, the invoices sent this month one row of the kept monthly counts and the
        // failures the company's few kept status counts (migration 000021), the other counts read only the rows
        // they count. The unpaid terms repeat the partial index's own (migration 000013) literally, and the open
        // requests' those of 000019. The overdue amount depends on today's date, so it is not kept: it reads the
        // company's unpaid invoices that have a due date, a range of that partial index.
        //
        // SQLite, given the statistics of a large firm, counted the open requests through
        // `idx_invoices_tenant_action_since (tenant_id=?)`, walking every invoice of the company that needs
        // action, rather than through the partial index of the open requests (the health page's rate halved):
        // the sub-query names the index there, and a plan that could not use it would fail, not slow down.
        let open_requests_index = if self.backend() == DbBackend::Sqlite {
            " INDEXED BY idx_invoices_open_requests"
        } else {
            ""
        };
        let sql = format!(
            "SELECT t.id AS tenant_id, t.slug AS slug, t.legal_name AS legal_name, t.status AS status, \
             c.environment AS environment, c.party_id AS party_id, \
             (c.api_key_encrypted IS NOT NULL) AS has_api_key, c.webhook_ids AS webhook_ids, \
             h.last_success_at AS last_success_at, h.last_error_at AS last_error_at, \
             h.last_error_kind AS last_error_kind, s.last_sweep_at AS last_poll_at, \
             (SELECT MAX(w.received_at) FROM webhook_deliveries w WHERE w.tenant_id = t.id) AS last_webhook_at, \
             COALESCE((SELECT m.count FROM invoice_sent_months m WHERE m.tenant_id = t.id AND m.month = ?), 0) \
               AS sent_this_month, \
             (SELECT COUNT(*) FROM invoices i{open_requests_index} WHERE i.tenant_id = t.id \
                AND i.open_request_code IS NOT NULL) AS open_requests, \
             (SELECT CAST(COALESCE(SUM(i.total_incl_cents - i.amount_paid_cents), 0) AS BIGINT) \
                FROM invoices i WHERE i.tenant_id = t.id AND i.document_type = 'invoice' \
                AND i.is_final = false AND i.payment <> 'paid' AND i.due_date IS NOT NULL \
                AND i.due_date < ?) AS overdue_cents, \
             (SELECT CAST(COALESCE(SUM(k.count), 0) AS BIGINT) FROM invoice_counts k WHERE k.tenant_id = t.id \
                AND k.submission_state = 'failed') AS failures \
             FROM tenants t \
             LEFT JOIN billit_connections c ON c.tenant_id = t.id \
             LEFT JOIN billit_health h ON h.tenant_id = t.id \
             LEFT JOIN billit_sync s ON s.tenant_id = t.id \
             WHERE t.id IN ({marks})",
            marks = marks(scopes.len())
        );
        let mut values = vec![
            Value::from(crate::counts::paris_month(month_start)),
            Value::from(today),
        ];
        values.extend(tenant_values(scopes));
        statement(self.backend(), &sql, values)
    }

    /// Every company of `scopes` with its health, in no particular order (the page sorts).
    pub async fn company_health(
        &self,
        scopes: &[TenantScope],
        month_start: DateTime<Utc>,
        today: NaiveDate,
    ) -> Result<Vec<CompanyHealthRow>, DbErr> {
        CompanyHealthRow::find_by_statement(self.company_health_statement(
            scopes,
            month_start,
            today,
        ))
        .all(&self.db)
        .await
    }

    // ---- the pictures ----

    /// Open requests per company by age at `now` (companies without any are left out).
    pub async fn open_request_ages(
        &self,
        scopes: &[TenantScope],
        now: DateTime<Utc>,
    ) -> Result<Vec<RequestAges>, DbErr> {
        let sql = format!(
            "SELECT tenant_id, \
             CAST(SUM(CASE WHEN open_request_since >= ? THEN 1 ELSE 0 END) AS BIGINT) AS days_0_2, \
             CAST(SUM(CASE WHEN open_request_since < ? AND open_request_since >= ? THEN 1 ELSE 0 END) AS BIGINT) AS days_3_7, \
             CAST(SUM(CASE WHEN open_request_since < ? AND open_request_since >= ? THEN 1 ELSE 0 END) AS BIGINT) AS days_8_30, \
             CAST(SUM(CASE WHEN open_request_since < ? OR open_request_since IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS over_30 \
             FROM invoices WHERE tenant_id IN ({}) AND open_request_code IS NOT NULL \
             GROUP BY tenant_id",
            marks(scopes.len())
        );
        // Whole days: "0–2 days" is anything opened less than 3 days ago.
        let three = now - Duration::days(3);
        let eight = now - Duration::days(8);
        let thirty_one = now - Duration::days(31);
        let mut values = vec![
            Value::from(three),
            Value::from(three),
            Value::from(eight),
            Value::from(eight),
            Value::from(thirty_one),
            Value::from(thirty_one),
        ];
        values.extend(tenant_values(scopes));
        RequestAges::find_by_statement(statement(self.backend(), &sql, values))
            .all(&self.db)
            .await
    }

    /// Invoices per company and headline status, from the kept counts (migration 000021): a few rows per
    /// company, whatever its number of invoices.
    pub async fn status_groups(&self, scopes: &[TenantScope]) -> Result<Vec<StatusGroup>, DbErr> {
        let sql = format!(
            "SELECT tenant_id, CASE WHEN headline_code = 0 THEN NULL ELSE headline_code END AS headline_code, \
             submission_state, CAST(SUM(count) AS BIGINT) AS count FROM invoice_counts \
             WHERE tenant_id IN ({}) AND count <> 0 GROUP BY tenant_id, headline_code, submission_state",
            marks(scopes.len())
        );
        StatusGroup::find_by_statement(statement(self.backend(), &sql, tenant_values(scopes)))
            .all(&self.db)
            .await
    }

    /// What remains to be paid per company, and how much of it is overdue on `today` (the unpaid invoices'
    /// partial index; companies owed nothing are left out).
    pub async fn amounts_due(
        &self,
        scopes: &[TenantScope],
        today: NaiveDate,
    ) -> Result<Vec<AmountsDue>, DbErr> {
        let sql = format!(
            "SELECT tenant_id, \
             CAST(SUM(total_incl_cents - amount_paid_cents) AS BIGINT) AS due_cents, \
             CAST(SUM(CASE WHEN due_date < ? THEN total_incl_cents - amount_paid_cents ELSE 0 END) AS BIGINT) \
               AS overdue_cents \
             FROM invoices WHERE tenant_id IN ({}) AND document_type = 'invoice' AND is_final = false \
             AND payment <> 'paid' AND due_date IS NOT NULL GROUP BY tenant_id",
            marks(scopes.len())
        );
        let mut values = vec![Value::from(today)];
        values.extend(tenant_values(scopes));
        AmountsDue::find_by_statement(statement(self.backend(), &sql, values))
            .all(&self.db)
            .await
    }

    /// How many invoices were sent in each of `months` (Paris months, `YYYY-MM`, in order) across `scopes`, from
    /// the kept monthly counts (migration 000021): at most one row per company and month.
    pub async fn sent_per_month(
        &self,
        scopes: &[TenantScope],
        months: &[String],
    ) -> Result<Vec<i64>, DbErr> {
        let (Some(first), Some(last)) = (months.first(), months.last()) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT month, CAST(SUM(count) AS BIGINT) AS count FROM invoice_sent_months \
             WHERE tenant_id IN ({}) AND month >= ? AND month <= ? GROUP BY month",
            marks(scopes.len())
        );
        let mut values = tenant_values(scopes);
        values.push(Value::from(first.clone()));
        values.push(Value::from(last.clone()));
        let found: std::collections::HashMap<String, i64> =
            crate::counts::MonthRow::find_by_statement(statement(self.backend(), &sql, values))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|row| (row.month, row.count))
                .collect();
        Ok(months
            .iter()
            .map(|month| found.get(month).copied().unwrap_or(0))
            .collect())
    }

    /// How many invoices were sent in each period `[bounds[i], bounds[i + 1])`, across `scopes` (the sent index,
    /// read once for the whole span; the charts read [`Self::sent_per_month`]).
    pub async fn sent_between(
        &self,
        scopes: &[TenantScope],
        bounds: &[DateTime<Utc>],
    ) -> Result<Vec<i64>, DbErr> {
        if bounds.len() < 2 {
            return Ok(Vec::new());
        }
        let periods = bounds.len() - 1;
        let columns: Vec<String> = (0..periods)
            .map(|n| {
                format!("CAST(COALESCE(SUM(CASE WHEN sent_at >= ? AND sent_at < ? THEN 1 ELSE 0 END), 0) AS BIGINT) AS p{n}")
            })
            .collect();
        let sql = format!(
            "SELECT {} FROM invoices WHERE tenant_id IN ({}) AND sent_at >= ? AND sent_at < ?",
            columns.join(", "),
            marks(scopes.len())
        );
        let mut values: Vec<Value> = Vec::with_capacity(periods * 2 + scopes.len() + 2);
        for window in bounds.windows(2) {
            values.push(Value::from(window[0]));
            values.push(Value::from(window[1]));
        }
        values.extend(tenant_values(scopes));
        values.push(Value::from(bounds[0]));
        values.push(Value::from(bounds[periods]));
        let Some(row) = self
            .db
            .query_one_raw(statement(self.backend(), &sql, values))
            .await?
        else {
            return Ok(vec![0; periods]);
        };
        (0..periods)
            .map(|n| row.try_get::<i64>("", &format!("p{n}")))
            .collect()
    }

    // ---- bulk onboarding ----

    /// Which of `sirens` are already a company's.
    pub async fn existing_sirens(&self, sirens: &[String]) -> Result<Vec<String>, DbErr> {
        if sirens.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = Vec::new();
        // Bounded chunks: SQLite and PostgreSQL both limit a statement's parameters.
        for chunk in sirens.chunks(500) {
            found.extend(
                tenants::Entity::find()
                    .select_only()
                    .column(tenants::Column::Siren)
                    .filter(tenants::Column::Siren.is_in(chunk.iter().cloned()))
                    .into_tuple::<String>()
                    .all(&self.db)
                    .await?,
            );
        }
        Ok(found)
    }

    /// Creates one company of a bulk upload with everything that goes with it, in one transaction: the company
    /// (its slug the first free one of `slug_candidates`), its Billit PartyID when given, its first
    /// administrator's invitation, the invitation email (written by `email_for` from the company and the link's
    /// token) with its sending job, and the firm's audit entry. Nothing at all when a company with this SIREN
    /// exists: the check runs inside the transaction, after the write lock is taken, so two uploads of the same
    /// file cannot both create it.
    pub async fn onboard_company<F>(
        &self,
        company: OnboardedCompany,
        slug_candidates: &[String],
        invited_by: UserId,
        now: DateTime<Utc>,
        email_for: F,
        audit_entry: AuditEntry,
    ) -> Result<OnboardOutcome, OnboardError>
    where
        F: FnOnce(&Tenant, &str) -> Result<NewEmail, String>,
    {
        let txn = crate::db::begin_write(&self.db).await?;
        if self.backend() == DbBackend::Postgres {
            // Serialises company creations for the SIREN check below (SQLite's IMMEDIATE transaction already has
            // the write lock); creations are rare and short.
            txn.execute_unprepared("LOCK TABLE tenants IN SHARE ROW EXCLUSIVE MODE")
                .await?;
        }
        let taken = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::Id)
            .filter(tenants::Column::Siren.eq(company.profile.siren.clone()))
            .into_tuple::<Uuid>()
            .one(&txn)
            .await?;
        if taken.is_some() {
            txn.rollback().await?;
            return Ok(OnboardOutcome::SirenTaken);
        }
        let mut slug = None;
        for candidate in slug_candidates {
            let used = tenants::Entity::find()
                .select_only()
                .column(tenants::Column::Id)
                .filter(tenants::Column::Slug.eq(candidate.clone()))
                .into_tuple::<Uuid>()
                .one(&txn)
                .await?;
            if used.is_none() {
                slug = Some(candidate.clone());
                break;
            }
        }
        // Every readable candidate taken: a random suffix (the slug is only an address).
        let slug = slug.unwrap_or_else(|| {
            let base = slug_candidates.first().map_or("company", String::as_str);
            format!("{base}-{}", &Uuid::now_v7().simple().to_string()[24..])
        });
        let profile = company.profile;
        let tenant: Tenant = tenants::ActiveModel {
            id: Set(TenantId::new().as_uuid()),
            slug: Set(slug),
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
        .await?
        .into();
        if let Some(party_id) = company.party_id {
            // The PartyID alone: the API key is the company's to give on its settings page, so the
            // connection stays "incomplete" until then.
            billit_connections::ActiveModel {
                tenant_id: Set(tenant.id.as_uuid()),
                environment: Set("production".to_owned()),
                api_key_encrypted: Set(None),
                party_id: Set(Some(party_id)),
                context_party_id: Set(None),
                webhook_token: Set(new_token().0),
                webhook_secret_encrypted: Set(None),
                webhook_ids: Set(None),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
        let mut in_portfolio = false;
        if let Some((accountant, role)) = company.portfolio
            // Checked here, in the company's transaction: an accountant removed since the preview gets nothing
            // (the company is created all the same, and the report says so).
            && firm_staff::Entity::find_by_id(accountant.as_uuid())
                .one(&txn)
                .await?
                .is_some_and(|row| row.active)
        {
            in_portfolio = true;
            firm_portfolios::ActiveModel {
                tenant_id: Set(tenant.id.as_uuid()),
                user_id: Set(accountant.as_uuid()),
                role: Set(role.as_str().to_owned()),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
        let (token, hash) = new_token();
        invitations::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(Some(tenant.id.as_uuid())),
            email: Set(company.admin_email.trim().to_owned()),
            role: Set(crate::scope::TenantRole::Admin.as_str().to_owned()),
            token_hash: Set(hash),
            invited_by: Set(Some(invited_by.as_uuid())),
            created_at: Set(now),
            expires_at: Set(now + Duration::days(INVITATION_LIFETIME_DAYS)),
            accepted_at: Set(None),
        }
        .insert(&txn)
        .await?;
        let email = email_for(&tenant, &token).map_err(OnboardError::Email)?;
        OutboxRepository::queue_in(&txn, None, Uuid::now_v7(), email, EmailExtras::default())
            .await?;
        audit::record_for_firm(&txn, audit_entry).await?;
        txn.commit().await?;
        Ok(OnboardOutcome::Created {
            tenant: Box::new(tenant),
            in_portfolio,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::marks;

    #[test]
    fn an_empty_list_still_makes_valid_sql() {
        assert_eq!(marks(0), "?");
        assert_eq!(marks(3), "?, ?, ?");
    }
}
