//! Reminders (relances) of unpaid invoices: each tenant's settings and wording, the customers it excludes, the
//! invoices that may need a reminder, and one row per reminded step of an invoice.
//!
//! A step of an invoice has at most one row (unique on tenant + invoice + step), and a row leaves `due` once, by a
//! guarded update written in the same transaction as its email (`sent`) or its audit entry (`skipped`): so a step
//! is never sent twice, whatever runs twice or crashes in between.

use crate::audit::{self, AuditEntry};
use crate::entities::{
    customers, invoice_events, invoices, reminder_settings, reminder_templates, reminders, users,
};
use crate::jobs::{JobQueue, NewJob};
use crate::outbox::{EmailExtras, NewEmail, OutboxError, OutboxRepository};
use crate::scope::{ScopeOrigin, TenantRole, TenantScope};
use crate::settlements::issued_states;
use chrono::{DateTime, NaiveDate, Utc};
use portal_domain::Language;
use portal_domain::ids::{CustomerId, InvoiceId, TenantId, UserId};
use portal_domain::lifecycle::{ActionReason, Payment};
use portal_domain::reminders::Schedule;
use portal_domain::settlement::InvoiceRelation;
use portal_domain::status::StatusCode;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
};
use std::collections::HashMap;
use uuid::Uuid;

/// The customers' column that excludes one from reminders (added by the reminders' migration).
#[derive(sea_orm::DeriveIden)]
enum CustomerReminders {
    ExcludeFromReminders,
}

/// A tenant's reminder settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderSettings {
    /// Reminders are worked out at all.
    pub enabled: bool,
    /// Due reminders go out by themselves; otherwise they wait on the "reminders due" page.
    pub automatic: bool,
    pub schedule: Schedule,
}

impl Default for ReminderSettings {
    /// Off for a new company, with the portal's schedule.
    fn default() -> Self {
        Self {
            enabled: false,
            automatic: false,
            schedule: Schedule::default(),
        }
    }
}

/// Where a reminder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderState {
    Due,
    Sent,
    Skipped,
}

impl ReminderState {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Due => "due",
            Self::Sent => "sent",
            Self::Skipped => "skipped",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "due" => Some(Self::Due),
            "sent" => Some(Self::Sent),
            "skipped" => Some(Self::Skipped),
            _ => None,
        }
    }
}

/// A reminder of an invoice's step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderRecord {
    pub id: Uuid,
    pub invoice: InvoiceId,
    pub step: u16,
    pub due_on: NaiveDate,
    pub state: ReminderState,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// `None` when the portal decided (automatic sending, or a step superseded by a later one).
    pub decided_by: Option<UserId>,
    pub decided_by_email: Option<String>,
    pub outbox_id: Option<Uuid>,
}

/// A row of the "reminders due" list: the reminder and what the list shows of its invoice.
#[derive(Debug, Clone)]
pub struct DueReminder {
    pub reminder: ReminderRecord,
    pub number: Option<String>,
    pub buyer_name: String,
    pub total_incl_cents: i64,
    pub amount_paid_cents: i64,
    pub due_date: Option<NaiveDate>,
}

/// An invoice that may need a reminder, with what the rule needs to know of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub invoice: InvoiceId,
    pub due_date: NaiveDate,
    pub open_request: Option<StatusCode>,
    pub action_reasons: Vec<ActionReason>,
    pub cancelled: bool,
    pub paid_in_full: bool,
    /// The latest 211 ("payment sent") of the invoice.
    pub payment_sent_at: Option<DateTime<Utc>>,
    pub fully_credited: bool,
    pub customer_excluded: bool,
    /// The steps already recorded (due, sent or skipped).
    pub recorded: Vec<u16>,
}

/// A tenant's own wording in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderTemplate {
    pub language: Language,
    pub subject: String,
    pub body: String,
    pub updated_at: DateTime<Utc>,
}

/// A reminder about to be recorded as due.
#[derive(Debug, Clone)]
pub struct NewDueReminder {
    pub id: Uuid,
    pub invoice: InvoiceId,
    pub step: u16,
    pub due_on: NaiveDate,
    /// The sending job, when the tenant sends automatically: written in the same transaction.
    pub job: Option<NewJob>,
}

#[derive(Debug, Clone)]
pub struct ReminderRepository {
    db: DatabaseConnection,
}

fn settings_from(row: reminder_settings::Model) -> ReminderSettings {
    ReminderSettings {
        enabled: row.enabled,
        automatic: row.automatic,
        // A stored schedule was checked when saved; one that no longer reads falls back to the default.
        schedule: Schedule::parse(&row.schedule).unwrap_or_default(),
    }
}

fn to_record(row: reminders::Model, emails: &HashMap<Uuid, String>) -> Option<ReminderRecord> {
    Some(ReminderRecord {
        id: row.id,
        invoice: InvoiceId::from_uuid(row.invoice_id),
        step: u16::try_from(row.step_days).ok()?,
        due_on: row.due_on,
        state: ReminderState::parse(&row.state)?,
        created_at: row.created_at,
        decided_at: row.decided_at,
        decided_by: row.decided_by.map(UserId::from_uuid),
        decided_by_email: row.decided_by.and_then(|user| emails.get(&user).cloned()),
        outbox_id: row.outbox_id,
    })
}

impl ReminderRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// The tenant's settings (the defaults, off, until an admin saves them).
    pub async fn settings(&self, scope: &TenantScope) -> Result<ReminderSettings, DbErr> {
        Ok(
            reminder_settings::Entity::find_by_id(scope.tenant_id().as_uuid())
                .one(&self.db)
                .await?
                .map(settings_from)
                .unwrap_or_default(),
        )
    }

    /// Saves the tenant's settings with the audit entry, in one transaction.
    pub async fn save_settings(
        &self,
        scope: &TenantScope,
        settings: &ReminderSettings,
        audit_entry: AuditEntry,
    ) -> Result<(), DbErr> {
        let by = audit_entry.actor.map(|user| user.as_uuid());
        let txn = crate::db::begin_write(&self.db).await?;
        reminder_settings::Entity::insert(reminder_settings::ActiveModel {
            tenant_id: Set(scope.tenant_id().as_uuid()),
            enabled: Set(settings.enabled),
            automatic: Set(settings.automatic),
            schedule: Set(settings.schedule.to_text()),
            updated_by: Set(by),
            updated_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::column(reminder_settings::Column::TenantId)
                .update_columns([
                    reminder_settings::Column::Enabled,
                    reminder_settings::Column::Automatic,
                    reminder_settings::Column::Schedule,
                    reminder_settings::Column::UpdatedBy,
                    reminder_settings::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(&txn)
        .await?;
        audit::record_for_tenant(&txn, scope, audit_entry).await?;
        txn.commit().await
    }

    /// The active tenants that turned reminders on, with their settings (for the periodic look-up).
    pub async fn enabled_tenants(&self) -> Result<Vec<(TenantScope, ReminderSettings)>, DbErr> {
        use crate::entities::tenants;
        let rows = reminder_settings::Entity::find()
            .filter(reminder_settings::Column::Enabled.eq(true))
            .order_by_asc(reminder_settings::Column::TenantId)
            .all(&self.db)
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let active: Vec<Uuid> = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::Id)
            .filter(tenants::Column::Id.is_in(rows.iter().map(|row| row.tenant_id)))
            .filter(tenants::Column::Status.eq("active"))
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .filter(|row| active.contains(&row.tenant_id))
            .map(|row| {
                (
                    TenantScope::new(
                        TenantId::from_uuid(row.tenant_id),
                        TenantRole::Admin,
                        ScopeOrigin::Job,
                    ),
                    settings_from(row),
                )
            })
            .collect())
    }

    /// The tenant's own wording, per language it customised.
    pub async fn templates(&self, scope: &TenantScope) -> Result<Vec<ReminderTemplate>, DbErr> {
        Ok(reminder_templates::Entity::find()
            .filter(reminder_templates::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|row| {
                Some(ReminderTemplate {
                    language: Language::parse(&row.language)?,
                    subject: row.subject,
                    body: row.body,
                    updated_at: row.updated_at,
                })
            })
            .collect())
    }

    /// Saves the tenant's wording for a language, with the audit entry, in one transaction.
    pub async fn save_template(
        &self,
        scope: &TenantScope,
        language: Language,
        subject: &str,
        body: &str,
        audit_entry: AuditEntry,
    ) -> Result<(), DbErr> {
        let by = audit_entry.actor.map(|user| user.as_uuid());
        let txn = crate::db::begin_write(&self.db).await?;
        reminder_templates::Entity::insert(reminder_templates::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(scope.tenant_id().as_uuid()),
            language: Set(language.code().to_owned()),
            subject: Set(subject.to_owned()),
            body: Set(body.to_owned()),
            updated_by: Set(by),
            updated_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::columns([
                reminder_templates::Column::TenantId,
                reminder_templates::Column::Language,
            ])
            .update_columns([
                reminder_templates::Column::Subject,
                reminder_templates::Column::Body,
                reminder_templates::Column::UpdatedBy,
                reminder_templates::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec(&txn)
        .await?;
        audit::record_for_tenant(&txn, scope, audit_entry).await?;
        txn.commit().await
    }

    /// Back to the portal's wording for a language (with the audit entry, in one transaction).
    pub async fn reset_template(
        &self,
        scope: &TenantScope,
        language: Language,
        audit_entry: AuditEntry,
    ) -> Result<(), DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        reminder_templates::Entity::delete_many()
            .filter(reminder_templates::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(reminder_templates::Column::Language.eq(language.code()))
            .exec(&txn)
            .await?;
        audit::record_for_tenant(&txn, scope, audit_entry).await?;
        txn.commit().await
    }

    /// Whether the tenant's customer is excluded from reminders; `None` when there is no such customer.
    pub async fn customer_excluded(
        &self,
        scope: &TenantScope,
        customer: CustomerId,
    ) -> Result<Option<bool>, DbErr> {
        customers::Entity::find()
            .select_only()
            .column_as(
                Expr::col(CustomerReminders::ExcludeFromReminders),
                "exclude_from_reminders",
            )
            .filter(customers::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(customers::Column::Id.eq(customer.as_uuid()))
            .into_tuple::<bool>()
            .one(&self.db)
            .await
    }

    /// Excludes the tenant's customer from reminders, or includes it again, with the audit entry when it changed.
    /// False when there is no such customer.
    pub async fn set_customer_excluded(
        &self,
        scope: &TenantScope,
        customer: CustomerId,
        excluded: bool,
        audit_entry: AuditEntry,
    ) -> Result<bool, DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        let changed = customers::Entity::update_many()
            .col_expr(
                CustomerReminders::ExcludeFromReminders,
                Expr::value(excluded),
            )
            .filter(customers::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(customers::Column::Id.eq(customer.as_uuid()))
            .filter(Expr::col(CustomerReminders::ExcludeFromReminders).ne(excluded))
            .exec(&txn)
            .await?
            .rows_affected
            > 0;
        if changed {
            audit::record_for_tenant(&txn, scope, audit_entry).await?;
            txn.commit().await?;
            return Ok(true);
        }
        txn.rollback().await?;
        Ok(self.customer_excluded(scope, customer).await?.is_some())
    }

    /// The tenant's sent invoices that may need a reminder, due on `cutoff` or before, after the keyset `after`
    /// (due date, id), at most `limit`. The look-up reads the partial index of unpaid, not final invoices (its
    /// terms are repeated literally here), then what the rule needs of these invoices in four bounded queries.
    pub async fn candidates(
        &self,
        scope: &TenantScope,
        cutoff: NaiveDate,
        after: Option<(NaiveDate, InvoiceId)>,
        limit: u64,
    ) -> Result<Vec<Candidate>, DbErr> {
        let rows = Self::candidates_select(scope, cutoff, after, limit)
            .all(&self.db)
            .await?;
        self.enrich(scope.tenant_id().as_uuid(), rows).await
    }

    /// The look-up's first query: the partial index of unpaid, not final invoices, whose terms it repeats literally
    /// so that both planners use it.
    fn candidates_select(
        scope: &TenantScope,
        cutoff: NaiveDate,
        after: Option<(NaiveDate, InvoiceId)>,
        limit: u64,
    ) -> sea_orm::Select<invoices::Entity> {
        let mut query = invoices::Entity::find()
            .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(Expr::cust(
                "document_type = 'invoice' AND is_final = false AND payment <> 'paid' \
                 AND due_date IS NOT NULL",
            ))
            .filter(invoices::Column::DueDate.lte(cutoff))
            .filter(invoices::Column::SubmissionState.eq("sent"));
        if let Some((due, id)) = after {
            query = query.filter(
                Condition::any().add(invoices::Column::DueDate.gt(due)).add(
                    Condition::all()
                        .add(invoices::Column::DueDate.eq(due))
                        .add(invoices::Column::Id.gt(id.as_uuid())),
                ),
            );
        }
        query
            .order_by_asc(invoices::Column::DueDate)
            .order_by_asc(invoices::Column::Id)
            .limit(limit)
    }

    /// The statement of the look-up's first query, as [`Self::candidates`] sends it (its plan is tested).
    pub fn candidates_statement(
        &self,
        scope: &TenantScope,
        cutoff: NaiveDate,
        limit: u64,
    ) -> sea_orm::Statement {
        Self::candidates_select(scope, cutoff, None, limit).build(self.db.get_database_backend())
    }

    /// What the rule needs of these invoices of the tenant, whatever their state (unknown ids are left out).
    pub async fn standings(
        &self,
        scope: &TenantScope,
        ids: &[InvoiceId],
    ) -> Result<Vec<Candidate>, DbErr> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let tenant = scope.tenant_id().as_uuid();
        let rows = invoices::Entity::find()
            .filter(invoices::Column::TenantId.eq(tenant))
            .filter(invoices::Column::Id.is_in(ids.iter().map(|id| id.as_uuid())))
            .all(&self.db)
            .await?;
        self.enrich(tenant, rows).await
    }

    /// The candidates of these invoice rows: their 211s, credit notes, excluded customers and recorded steps, in
    /// four queries over the tenant's indexes.
    async fn enrich(
        &self,
        tenant: Uuid,
        rows: Vec<invoices::Model>,
    ) -> Result<Vec<Candidate>, DbErr> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();

        let mut payment_sent: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
        let sent_events: Vec<(Uuid, DateTime<Utc>)> = invoice_events::Entity::find()
            .select_only()
            .column(invoice_events::Column::InvoiceId)
            .column(invoice_events::Column::At)
            .filter(invoice_events::Column::TenantId.eq(tenant))
            .filter(invoice_events::Column::InvoiceId.is_in(ids.clone()))
            .filter(invoice_events::Column::Code.eq(211))
            .filter(invoice_events::Column::Kind.eq("status"))
            .into_tuple()
            .all(&self.db)
            .await?;
        for (invoice, at) in sent_events {
            let entry = payment_sent.entry(invoice).or_insert(at);
            if at > *entry {
                *entry = at;
            }
        }

        let mut credited: HashMap<Uuid, i64> = HashMap::new();
        let credits: Vec<(Option<Uuid>, i64)> = invoices::Entity::find()
            .select_only()
            .column(invoices::Column::RelatedInvoiceId)
            .column(invoices::Column::TotalInclCents)
            .filter(invoices::Column::TenantId.eq(tenant))
            .filter(invoices::Column::RelatedInvoiceId.is_in(ids.clone()))
            .filter(invoices::Column::Relation.eq(InvoiceRelation::CreditNoteFor.as_str()))
            .filter(invoices::Column::SubmissionState.is_in(issued_states()))
            .into_tuple()
            .all(&self.db)
            .await?;
        for (original, cents) in credits {
            if let Some(original) = original {
                *credited.entry(original).or_default() += cents;
            }
        }

        let customer_ids: Vec<Uuid> = rows.iter().filter_map(|row| row.customer_id).collect();
        let excluded: Vec<Uuid> = if customer_ids.is_empty() {
            Vec::new()
        } else {
            customers::Entity::find()
                .select_only()
                .column(customers::Column::Id)
                .filter(customers::Column::TenantId.eq(tenant))
                .filter(customers::Column::Id.is_in(customer_ids))
                .filter(Expr::col(CustomerReminders::ExcludeFromReminders).eq(true))
                .into_tuple()
                .all(&self.db)
                .await?
        };

        let mut recorded: HashMap<Uuid, Vec<u16>> = HashMap::new();
        let steps: Vec<(Uuid, i32)> = reminders::Entity::find()
            .select_only()
            .column(reminders::Column::InvoiceId)
            .column(reminders::Column::StepDays)
            .filter(reminders::Column::TenantId.eq(tenant))
            .filter(reminders::Column::InvoiceId.is_in(ids))
            .into_tuple()
            .all(&self.db)
            .await?;
        for (invoice, step) in steps {
            if let Ok(step) = u16::try_from(step) {
                recorded.entry(invoice).or_default().push(step);
            }
        }

        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let due_date = row.due_date?;
                let action_reasons: Vec<ActionReason> =
                    serde_json::from_str(&row.action_reasons).unwrap_or_default();
                Some(Candidate {
                    invoice: InvoiceId::from_uuid(row.id),
                    due_date,
                    open_request: row
                        .open_request_code
                        .and_then(|code| u16::try_from(code).ok())
                        .map(StatusCode),
                    action_reasons,
                    cancelled: row.headline_code == Some(220),
                    paid_in_full: serde_json::from_value::<Payment>(serde_json::Value::String(
                        row.payment.clone(),
                    ))
                    .is_ok_and(|payment| payment == Payment::Paid),
                    payment_sent_at: payment_sent.get(&row.id).copied(),
                    fully_credited: row.total_incl_cents > 0
                        && credited.get(&row.id).copied().unwrap_or_default()
                            >= row.total_incl_cents,
                    customer_excluded: row.customer_id.is_some_and(|id| excluded.contains(&id)),
                    recorded: recorded.remove(&row.id).unwrap_or_default(),
                })
            })
            .collect())
    }

    /// Records a due reminder (and its sending job, if any) unless the step already has one; an earlier step of
    /// the same invoice still waiting is marked skipped by the portal, since only the latest step goes out. One
    /// transaction. `None` when the step was already recorded.
    pub async fn record_due(
        &self,
        scope: &TenantScope,
        reminder: NewDueReminder,
        now_ms: i64,
    ) -> Result<Option<Uuid>, OutboxError> {
        let tenant = scope.tenant_id().as_uuid();
        let txn = crate::db::begin_write(&self.db).await?;
        let inserted = reminders::Entity::insert(reminders::ActiveModel {
            id: Set(reminder.id),
            tenant_id: Set(tenant),
            invoice_id: Set(reminder.invoice.as_uuid()),
            step_days: Set(i32::from(reminder.step)),
            due_on: Set(reminder.due_on),
            state: Set(ReminderState::Due.as_str().to_owned()),
            created_at: Set(Utc::now()),
            decided_at: Set(None),
            decided_by: Set(None),
            outbox_id: Set(None),
        })
        .on_conflict(
            OnConflict::columns([
                reminders::Column::TenantId,
                reminders::Column::InvoiceId,
                reminders::Column::StepDays,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        if inserted == 0 {
            txn.rollback().await?;
            return Ok(None);
        }
        reminders::Entity::update_many()
            .col_expr(
                reminders::Column::State,
                Expr::value(ReminderState::Skipped.as_str()),
            )
            .col_expr(reminders::Column::DecidedAt, Expr::value(Utc::now()))
            .filter(reminders::Column::TenantId.eq(tenant))
            .filter(reminders::Column::InvoiceId.eq(reminder.invoice.as_uuid()))
            .filter(reminders::Column::State.eq(ReminderState::Due.as_str()))
            .filter(reminders::Column::StepDays.lt(i32::from(reminder.step)))
            .exec(&txn)
            .await?;
        if let Some(job) = reminder.job {
            JobQueue::enqueue_in(&txn, now_ms, job).await?;
        }
        txn.commit().await?;
        Ok(Some(reminder.id))
    }

    async fn emails_of(&self, rows: &[reminders::Model]) -> Result<HashMap<Uuid, String>, DbErr> {
        let mut ids: Vec<Uuid> = rows.iter().filter_map(|row| row.decided_by).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(users::Entity::find()
            .filter(users::Column::Id.is_in(ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|user| (user.id, user.email))
            .collect())
    }

    /// One of the tenant's reminders.
    pub async fn get(
        &self,
        scope: &TenantScope,
        id: Uuid,
    ) -> Result<Option<ReminderRecord>, DbErr> {
        let Some(row) = reminders::Entity::find_by_id(id)
            .filter(reminders::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let emails = self.emails_of(std::slice::from_ref(&row)).await?;
        Ok(to_record(row, &emails))
    }

    /// The invoice's reminders, by step.
    pub async fn for_invoice(
        &self,
        scope: &TenantScope,
        invoice: InvoiceId,
    ) -> Result<Vec<ReminderRecord>, DbErr> {
        let rows = reminders::Entity::find()
            .filter(reminders::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(reminders::Column::InvoiceId.eq(invoice.as_uuid()))
            .order_by_asc(reminders::Column::StepDays)
            .all(&self.db)
            .await?;
        let emails = self.emails_of(&rows).await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| to_record(row, &emails))
            .collect())
    }

    /// The tenant's reminders waiting to be sent or skipped, oldest day first, at most `limit` (read through the
    /// index on tenant + state + day).
    pub async fn list_due(
        &self,
        scope: &TenantScope,
        limit: u64,
    ) -> Result<Vec<DueReminder>, DbErr> {
        let tenant = scope.tenant_id().as_uuid();
        let rows = Self::due_select(scope, limit).all(&self.db).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        type Shown = (Uuid, Option<String>, String, i64, i64, Option<NaiveDate>);
        let shown: Vec<Shown> = invoices::Entity::find()
            .select_only()
            .column(invoices::Column::Id)
            .column(invoices::Column::Number)
            .column(invoices::Column::BuyerName)
            .column(invoices::Column::TotalInclCents)
            .column(invoices::Column::AmountPaidCents)
            .column(invoices::Column::DueDate)
            .filter(invoices::Column::TenantId.eq(tenant))
            .filter(invoices::Column::Id.is_in(rows.iter().map(|row| row.invoice_id)))
            .into_tuple()
            .all(&self.db)
            .await?;
        let shown: HashMap<Uuid, Shown> = shown.into_iter().map(|row| (row.0, row)).collect();
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let (_, number, buyer_name, total, paid, due_date) =
                    shown.get(&row.invoice_id)?.clone();
                Some(DueReminder {
                    reminder: to_record(row, &HashMap::new())?,
                    number,
                    buyer_name,
                    total_incl_cents: total,
                    amount_paid_cents: paid,
                    due_date,
                })
            })
            .collect())
    }

    fn due_select(scope: &TenantScope, limit: u64) -> sea_orm::Select<reminders::Entity> {
        reminders::Entity::find()
            .filter(reminders::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(reminders::Column::State.eq(ReminderState::Due.as_str()))
            .order_by_asc(reminders::Column::DueOn)
            .order_by_asc(reminders::Column::Id)
            .limit(limit)
    }

    /// The statement of the "reminders due" list, as [`Self::list_due`] sends it (its plan is tested).
    pub fn due_list_statement(&self, scope: &TenantScope, limit: u64) -> sea_orm::Statement {
        Self::due_select(scope, limit).build(self.db.get_database_backend())
    }

    /// Sends the reminder: the email (with its files and sending job) and the reminder marked sent, by `by` (the
    /// portal when `None`), with the audit entry, in one transaction; the reminder leaves `due` in a guarded
    /// update, so false (and nothing written) when it was sent or skipped meanwhile.
    pub async fn mark_sent(
        &self,
        scope: &TenantScope,
        id: Uuid,
        email: NewEmail,
        extras: EmailExtras,
        by: Option<UserId>,
        audit_entry: AuditEntry,
    ) -> Result<bool, OutboxError> {
        let outbox_id = Uuid::now_v7();
        let txn = crate::db::begin_write(&self.db).await?;
        OutboxRepository::queue_in(&txn, Some(scope), outbox_id, email, extras).await?;
        let updated = reminders::Entity::update_many()
            .col_expr(
                reminders::Column::State,
                Expr::value(ReminderState::Sent.as_str()),
            )
            .col_expr(reminders::Column::DecidedAt, Expr::value(Utc::now()))
            .col_expr(
                reminders::Column::DecidedBy,
                Expr::value(by.map(|user| user.as_uuid())),
            )
            .col_expr(reminders::Column::OutboxId, Expr::value(Some(outbox_id)))
            .filter(reminders::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(reminders::Column::Id.eq(id))
            .filter(reminders::Column::State.eq(ReminderState::Due.as_str()))
            .exec(&txn)
            .await?
            .rows_affected;
        if updated != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        audit::record_for_tenant(&txn, scope, audit_entry).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Skips a due reminder (by a member), with the audit entry, in one transaction. False when it is not due.
    pub async fn skip(
        &self,
        scope: &TenantScope,
        id: Uuid,
        by: UserId,
        audit_entry: AuditEntry,
    ) -> Result<bool, DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        let updated = reminders::Entity::update_many()
            .col_expr(
                reminders::Column::State,
                Expr::value(ReminderState::Skipped.as_str()),
            )
            .col_expr(reminders::Column::DecidedAt, Expr::value(Utc::now()))
            .col_expr(
                reminders::Column::DecidedBy,
                Expr::value(Some(by.as_uuid())),
            )
            .filter(reminders::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(reminders::Column::Id.eq(id))
            .filter(reminders::Column::State.eq(ReminderState::Due.as_str()))
            .exec(&txn)
            .await?
            .rows_affected;
        if updated != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        audit::record_for_tenant(&txn, scope, audit_entry).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Forgets a reminder that is still due (the invoice came under a hold before it went out): the step can be
    /// due again when the hold ends. False when it is not due any more.
    pub async fn forget_due(&self, scope: &TenantScope, id: Uuid) -> Result<bool, DbErr> {
        Ok(reminders::Entity::delete_many()
            .filter(reminders::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(reminders::Column::Id.eq(id))
            .filter(reminders::Column::State.eq(ReminderState::Due.as_str()))
            .exec(&self.db)
            .await?
            .rows_affected
            == 1)
    }
}
