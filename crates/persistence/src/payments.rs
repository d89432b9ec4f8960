//! Payments received (status 212) against a tenant's sent invoices, and the progress of their report to Billit:
//! `queued` → `reported` → `accepted` (by the tax authority), or `failed` with the reason until a user retries
//! it or cancels it (`cancelled`: kept for the record, it no longer counts in what remains to be paid).
//!
//! Recording takes the invoice row's write lock before adding up what was paid, so two payments posted at the
//! same time are checked one after the other and cannot together pay more than the invoice's total. The report's
//! job and the audit entry are written in the same transaction as the payment: a payment exists if and only if
//! its report is on its way.

use crate::audit::{self, AuditEntry};
use crate::entities::{invoices, payments, users};
use crate::jobs::{Enqueued, JobQueue, JobQueueError, NewJob};
use crate::scope::TenantScope;
use chrono::{DateTime, NaiveDate, Utc};
use portal_domain::ids::{InvoiceId, UserId};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;
use uuid::Uuid;

/// How the customer paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentMethod {
    Transfer,
    Cheque,
    Card,
    DirectDebit,
    Cash,
    Other,
}

impl PaymentMethod {
    /// Every method, in the order a form offers them.
    pub const ALL: [Self; 6] = [
        Self::Transfer,
        Self::Cheque,
        Self::Card,
        Self::DirectDebit,
        Self::Cash,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transfer => "transfer",
            Self::Cheque => "cheque",
            Self::Card => "card",
            Self::DirectDebit => "direct_debit",
            Self::Cash => "cash",
            Self::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|method| method.as_str() == text.trim())
    }
}

use portal_domain::actions::{Action, Reason, Refusal};
use portal_domain::payments::PaymentRefusal;
/// Where a payment's report to Billit stands: the domain's states, stored by their `as_str` text.
pub use portal_domain::payments::PaymentState;

/// A payment as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    pub id: Uuid,
    pub invoice_id: InvoiceId,
    pub amount_cents: i64,
    pub paid_on: NaiveDate,
    pub method: PaymentMethod,
    pub reference: Option<String>,
    pub state: PaymentState,
    /// Why the last report did not go through (a queued payment with one is being retried).
    pub error_code: Option<String>,
    /// Billit's own words about it, when it gave some.
    pub error_detail: Option<String>,
    /// Sent with every report of this payment.
    pub idempotency_key: String,
    /// How many times a user asked to report it again.
    pub retries: i32,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub reported_at: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<UserId>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The name (or email) of who cancelled it, filled by [`PaymentRepository::list`].
    pub cancelled_by_name: Option<String>,
}

impl PaymentRecord {
    /// Whether it counts in what was paid (every payment but a cancelled one).
    pub fn counts(&self) -> bool {
        self.state.counts_towards_paid()
    }
}

/// How much is being paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentAmount {
    /// This many cents (more than zero).
    Cents(i64),
    /// Whatever remains to be paid when the payment is recorded ("mark as fully paid").
    Remaining,
}

/// A payment to record, checked by the caller (date, method, reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    pub amount: PaymentAmount,
    pub paid_on: NaiveDate,
    pub method: PaymentMethod,
    pub reference: Option<String>,
}

/// Who records it, for the payment and the audit log.
#[derive(Debug, Clone, Default)]
pub struct RecordedBy {
    pub user: Option<UserId>,
    pub ip: Option<String>,
}

/// What recording a payment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Stored, with its report's job.
    Recorded(Box<PaymentRecord>),
    /// More than what remains: nothing stored.
    Exceeds { remaining_cents: i64 },
    /// The domain's table of actions refuses it (a draft or a credit note, a refused or rejected invoice, nothing
    /// remaining to be paid…): nothing stored.
    Refused(Refusal),
}

/// What cancelling a payment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    Cancelled,
    /// Only a failed payment may be cancelled: nothing changed (its state is given).
    NotFailed(PaymentState),
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("no such invoice")]
    NotFound,
    #[error(transparent)]
    Jobs(#[from] JobQueueError),
    #[error(transparent)]
    Database(#[from] DbErr),
}

fn to_record(row: payments::Model) -> PaymentRecord {
    PaymentRecord {
        id: row.id,
        invoice_id: InvoiceId::from_uuid(row.invoice_id),
        amount_cents: row.amount_cents,
        paid_on: row.paid_on,
        method: PaymentMethod::parse(&row.method).unwrap_or(PaymentMethod::Other),
        reference: row.reference,
        state: PaymentState::parse(&row.state).unwrap_or(PaymentState::Queued),
        error_code: row.error_code,
        error_detail: row.error_detail,
        idempotency_key: row.idempotency_key,
        retries: row.retries,
        created_by: row.created_by.map(UserId::from_uuid),
        created_at: row.created_at,
        reported_at: row.reported_at,
        accepted_at: row.accepted_at,
        cancelled_by: row.cancelled_by.map(UserId::from_uuid),
        cancelled_at: row.cancelled_at,
        cancelled_by_name: None,
    }
}

/// The largest reference Billit is sent (the column's size).
const REFERENCE_MAX: usize = 140;

#[derive(Debug, Clone)]
pub struct PaymentRepository {
    db: DatabaseConnection,
}

impl PaymentRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Takes the invoice row's write lock for the rest of the transaction (a no-op update works on both
    /// backends); false when the tenant has no such invoice.
    async fn lock_invoice<C: ConnectionTrait>(
        conn: &C,
        scope: &TenantScope,
        invoice: InvoiceId,
    ) -> Result<bool, DbErr> {
        let locked = Self::lock_invoice_update(scope, invoice).exec(conn).await?;
        Ok(locked.rows_affected > 0)
    }

    /// [`Self::lock_invoice`], reading the row in the same statement (`UPDATE … RETURNING`).
    async fn lock_and_read_invoice<C: ConnectionTrait>(
        conn: &C,
        scope: &TenantScope,
        invoice: InvoiceId,
    ) -> Result<Option<invoices::Model>, DbErr> {
        Ok(Self::lock_invoice_update(scope, invoice)
            .exec_with_returning(conn)
            .await?
            .into_iter()
            .next())
    }

    fn lock_invoice_update(
        scope: &TenantScope,
        invoice: InvoiceId,
    ) -> sea_orm::UpdateMany<invoices::Entity> {
        invoices::Entity::update_many()
            .col_expr(
                invoices::Column::UpdatedAt,
                Expr::col(invoices::Column::UpdatedAt),
            )
            .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoices::Column::Id.eq(invoice.as_uuid()))
    }

    async fn rows<C: ConnectionTrait>(
        conn: &C,
        scope: &TenantScope,
        invoice: InvoiceId,
    ) -> Result<Vec<payments::Model>, DbErr> {
        payments::Entity::find()
            .filter(payments::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(payments::Column::InvoiceId.eq(invoice.as_uuid()))
            .order_by(payments::Column::CreatedAt, Order::Asc)
            .order_by(payments::Column::Id, Order::Asc)
            .all(conn)
            .await
    }

    /// Records a payment against a sent invoice, refusing more than what remains (the invoice's total including
    /// VAT minus every payment recorded and not cancelled), and enqueues its report with `job` (given the payment's id) and the
    /// audit entry `payment.recorded`, all in one transaction.
    pub async fn record(
        &self,
        scope: &TenantScope,
        invoice: InvoiceId,
        payment: &NewPayment,
        by: RecordedBy,
        now_ms: i64,
        job: impl FnOnce(Uuid) -> NewJob,
    ) -> Result<RecordOutcome, PaymentError> {
        let txn = crate::db::begin_write(&self.db).await?;
        let Some(row) = Self::lock_and_read_invoice(&txn, scope, invoice).await? else {
            txn.rollback().await?;
            return Err(PaymentError::NotFound);
        };
        let paid = portal_domain::payments::paid_cents(
            Self::rows(&txn, scope, invoice)
                .await?
                .iter()
                .map(|payment| {
                    let state = PaymentState::parse(&payment.state).unwrap_or(PaymentState::Queued);
                    (state, payment.amount_cents)
                }),
        );
        // The table of actions decides, under the invoice's lock, with the payments just read (what credit notes
        // take back does not decide a payment, so it is not read).
        let action = match payment.amount {
            PaymentAmount::Remaining => Action::MarkFullyPaid,
            PaymentAmount::Cents(_) => Action::RecordPayment,
        };
        let situation = crate::invoices::situation_of_row(&row, paid, None);
        if let Err(refusal) = portal_domain::actions::decide(action, &situation) {
            txn.rollback().await?;
            return Ok(RecordOutcome::Refused(refusal));
        }
        let remaining = portal_domain::payments::remaining_cents(row.total_incl_cents, paid);
        let amount = match payment.amount {
            PaymentAmount::Remaining => remaining,
            PaymentAmount::Cents(cents) => cents,
        };
        match portal_domain::payments::check_payment(amount, remaining) {
            Ok(()) => {}
            Err(PaymentRefusal::NothingDue) => {
                txn.rollback().await?;
                return Ok(RecordOutcome::Refused(Refusal {
                    action,
                    reason: Reason::NothingRemains,
                }));
            }
            Err(PaymentRefusal::NotPositive | PaymentRefusal::Exceeds { .. }) => {
                txn.rollback().await?;
                return Ok(RecordOutcome::Exceeds {
                    remaining_cents: remaining,
                });
            }
        }
        let id = Uuid::now_v7();
        let now = Utc::now();
        let reference = payment
            .reference
            .as_deref()
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(|text| text.chars().take(REFERENCE_MAX).collect::<String>());
        let stored = payments::ActiveModel {
            id: Set(id),
            tenant_id: Set(scope.tenant_id().as_uuid()),
            invoice_id: Set(invoice.as_uuid()),
            amount_cents: Set(amount),
            paid_on: Set(payment.paid_on),
            method: Set(payment.method.as_str().to_owned()),
            reference: Set(reference),
            state: Set(PaymentState::Queued.as_str().to_owned()),
            error_code: Set(None),
            error_detail: Set(None),
            idempotency_key: Set(format!("portal-payment-{}", id.simple())),
            retries: Set(0),
            created_by: Set(by.user.map(|user| user.as_uuid())),
            created_at: Set(now),
            reported_at: Set(None),
            accepted_at: Set(None),
            updated_at: Set(now),
            cancelled_by: Set(None),
            cancelled_at: Set(None),
        }
        .insert(&txn)
        .await?;
        JobQueue::enqueue_in(&txn, now_ms, job(id)).await?;
        audit::record_for_tenant(
            &txn,
            scope,
            AuditEntry::new("payment.recorded", format!("invoice:{invoice}"))
                .by(by.user)
                .from_ip(by.ip)
                .details(serde_json::json!({
                    "payment_id": id,
                    "number": row.number,
                    "amount_cents": amount,
                    "paid_on": payment.paid_on.to_string(),
                    "method": payment.method.as_str(),
                    "remaining_cents": remaining - amount,
                })),
        )
        .await?;
        txn.commit().await?;
        Ok(RecordOutcome::Recorded(Box::new(to_record(stored))))
    }

    /// The payment of an invoice paid when issued, as Billit reports it itself (the order was created `Paid`):
    /// written `reported`, with no report job, so that the portal never reports it a second time and nothing
    /// remains to be recorded. Done once per invoice (its key is the invoice's); returns whether it was written now.
    pub async fn record_paid_at_issue(
        &self,
        scope: &TenantScope,
        invoice: InvoiceId,
        amount_cents: i64,
        paid_on: NaiveDate,
    ) -> Result<bool, DbErr> {
        let now = Utc::now();
        let inserted = payments::Entity::insert(payments::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(scope.tenant_id().as_uuid()),
            invoice_id: Set(invoice.as_uuid()),
            amount_cents: Set(amount_cents),
            paid_on: Set(paid_on),
            method: Set(PaymentMethod::Other.as_str().to_owned()),
            reference: Set(None),
            state: Set(PaymentState::Reported.as_str().to_owned()),
            error_code: Set(None),
            error_detail: Set(None),
            idempotency_key: Set(format!("paid-at-issue-{}", invoice.as_uuid().simple())),
            retries: Set(0),
            created_by: Set(None),
            created_at: Set(now),
            reported_at: Set(Some(now)),
            accepted_at: Set(None),
            updated_at: Set(now),
            cancelled_by: Set(None),
            cancelled_at: Set(None),
        })
        .on_conflict(
            OnConflict::columns([payments::Column::TenantId, payments::Column::IdempotencyKey])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(inserted > 0)
    }

    /// The invoice's payments, oldest first, with the names of who cancelled them.
    pub async fn list(
        &self,
        scope: &TenantScope,
        invoice: InvoiceId,
    ) -> Result<Vec<PaymentRecord>, DbErr> {
        let rows = Self::rows(&self.db, scope, invoice).await?;
        let mut cancellers: Vec<Uuid> = rows.iter().filter_map(|row| row.cancelled_by).collect();
        cancellers.sort_unstable();
        cancellers.dedup();
        let names: HashMap<Uuid, String> = if cancellers.is_empty() {
            HashMap::new()
        } else {
            users::Entity::find()
                .filter(users::Column::Id.is_in(cancellers))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|user| {
                    let name = if user.name.trim().is_empty() {
                        user.email
                    } else {
                        user.name
                    };
                    (user.id, name)
                })
                .collect()
        };
        Ok(rows
            .into_iter()
            .map(|row| {
                let name = row.cancelled_by.and_then(|id| names.get(&id).cloned());
                PaymentRecord {
                    cancelled_by_name: name,
                    ..to_record(row)
                }
            })
            .collect())
    }

    pub async fn get(&self, scope: &TenantScope, id: Uuid) -> Result<Option<PaymentRecord>, DbErr> {
        Ok(payments::Entity::find_by_id(id)
            .filter(payments::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .one(&self.db)
            .await?
            .map(to_record))
    }

    /// Billit took the payment: `reported`, with the audit entry `payment.reported`. False when it was not
    /// waiting for its report (reported by an earlier run, or failed meanwhile).
    pub async fn mark_reported(
        &self,
        scope: &TenantScope,
        id: Uuid,
        order_id: i64,
    ) -> Result<bool, DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        let now = Utc::now();
        let updated = payments::Entity::update_many()
            .col_expr(
                payments::Column::State,
                Expr::value(PaymentState::Reported.as_str()),
            )
            .col_expr(
                payments::Column::ErrorCode,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                payments::Column::ErrorDetail,
                Expr::value(Option::<String>::None),
            )
            .col_expr(payments::Column::ReportedAt, Expr::value(now))
            .col_expr(payments::Column::UpdatedAt, Expr::value(now))
            .filter(payments::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(payments::Column::Id.eq(id))
            .filter(payments::Column::State.eq(PaymentState::Queued.as_str()))
            .exec_with_returning(&txn)
            .await?;
        let Some(row) = updated.into_iter().next() else {
            txn.rollback().await?;
            return Ok(false);
        };
        audit::record_for_tenant(
            &txn,
            scope,
            AuditEntry::new("payment.reported", format!("invoice:{}", row.invoice_id)).details(
                serde_json::json!({
                    "payment_id": id,
                    "amount_cents": row.amount_cents,
                    "paid_on": row.paid_on.to_string(),
                    "billit_order_id": order_id,
                }),
            ),
        )
        .await?;
        txn.commit().await?;
        Ok(true)
    }

    async fn set_error(
        &self,
        scope: &TenantScope,
        id: Uuid,
        state: PaymentState,
        code: &str,
        detail: Option<&str>,
    ) -> Result<bool, DbErr> {
        let updated = payments::Entity::update_many()
            .col_expr(payments::Column::State, Expr::value(state.as_str()))
            .col_expr(payments::Column::ErrorCode, Expr::value(code))
            .col_expr(
                payments::Column::ErrorDetail,
                Expr::value(detail.map(str::to_owned)),
            )
            .col_expr(payments::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(payments::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(payments::Column::Id.eq(id))
            .filter(payments::Column::State.eq(PaymentState::Queued.as_str()))
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected > 0)
    }

    /// The report did not go through but will be tried again: the payment stays queued, with the reason.
    pub async fn note_retrying(
        &self,
        scope: &TenantScope,
        id: Uuid,
        code: &str,
        detail: Option<&str>,
    ) -> Result<bool, DbErr> {
        self.set_error(scope, id, PaymentState::Queued, code, detail)
            .await
    }

    /// The report cannot go through without a user: `failed`, with the reason.
    pub async fn mark_failed(
        &self,
        scope: &TenantScope,
        id: Uuid,
        code: &str,
        detail: Option<&str>,
    ) -> Result<bool, DbErr> {
        self.set_error(scope, id, PaymentState::Failed, code, detail)
            .await
    }

    /// Queues a failed payment's report again, with `job` (given the number of retries so far, this one
    /// included), in one transaction. `None` when the invoice has no such failed payment.
    pub async fn retry(
        &self,
        scope: &TenantScope,
        invoice: InvoiceId,
        id: Uuid,
        by: RecordedBy,
        now_ms: i64,
        job: impl FnOnce(i32) -> NewJob,
    ) -> Result<Option<Enqueued>, PaymentError> {
        let txn = crate::db::begin_write(&self.db).await?;
        let updated = payments::Entity::update_many()
            .col_expr(
                payments::Column::State,
                Expr::value(PaymentState::Queued.as_str()),
            )
            .col_expr(
                payments::Column::ErrorCode,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                payments::Column::ErrorDetail,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                payments::Column::Retries,
                Expr::col(payments::Column::Retries).add(1),
            )
            .col_expr(payments::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(payments::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(payments::Column::InvoiceId.eq(invoice.as_uuid()))
            .filter(payments::Column::Id.eq(id))
            .filter(payments::Column::State.eq(PaymentState::Failed.as_str()))
            .exec(&txn)
            .await?;
        if updated.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(None);
        }
        let retries: Option<i32> = payments::Entity::find_by_id(id)
            .filter(payments::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .select_only()
            .column(payments::Column::Retries)
            .into_tuple()
            .one(&txn)
            .await?;
        let enqueued = JobQueue::enqueue_in(&txn, now_ms, job(retries.unwrap_or(1))).await?;
        audit::record_for_tenant(
            &txn,
            scope,
            AuditEntry::new("payment.retried", format!("invoice:{invoice}"))
                .by(by.user)
                .from_ip(by.ip)
                .details(serde_json::json!({ "payment_id": id })),
        )
        .await?;
        txn.commit().await?;
        Ok(Some(enqueued))
    }

    /// Cancels a failed payment of the invoice (Billit refused it, and the user gives it up): `cancelled`, with
    /// who and when, and the audit entry `payment.cancelled`, in one transaction. The invoice's row is locked
    /// first, like recording, so that what remains changes one step at a time.
    pub async fn cancel(
        &self,
        scope: &TenantScope,
        invoice: InvoiceId,
        id: Uuid,
        by: RecordedBy,
    ) -> Result<CancelOutcome, PaymentError> {
        let txn = crate::db::begin_write(&self.db).await?;
        if !Self::lock_invoice(&txn, scope, invoice).await? {
            txn.rollback().await?;
            return Err(PaymentError::NotFound);
        }
        let Some(row) = payments::Entity::find_by_id(id)
            .filter(payments::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(payments::Column::InvoiceId.eq(invoice.as_uuid()))
            .one(&txn)
            .await?
        else {
            txn.rollback().await?;
            return Err(PaymentError::NotFound);
        };
        let now = Utc::now();
        let updated = payments::Entity::update_many()
            .col_expr(
                payments::Column::State,
                Expr::value(PaymentState::Cancelled.as_str()),
            )
            .col_expr(
                payments::Column::CancelledBy,
                Expr::value(by.user.map(|user| user.as_uuid())),
            )
            .col_expr(payments::Column::CancelledAt, Expr::value(now))
            .col_expr(payments::Column::UpdatedAt, Expr::value(now))
            .filter(payments::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(payments::Column::Id.eq(id))
            .filter(payments::Column::State.eq(PaymentState::Failed.as_str()))
            .exec(&txn)
            .await?;
        if updated.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(CancelOutcome::NotFailed(
                PaymentState::parse(&row.state).unwrap_or(PaymentState::Queued),
            ));
        }
        audit::record_for_tenant(
            &txn,
            scope,
            AuditEntry::new("payment.cancelled", format!("invoice:{invoice}"))
                .by(by.user)
                .from_ip(by.ip)
                .details(serde_json::json!({
                    "payment_id": id,
                    "amount_cents": row.amount_cents,
                    "paid_on": row.paid_on.to_string(),
                    "error_code": row.error_code,
                })),
        )
        .await?;
        txn.commit().await?;
        Ok(CancelOutcome::Cancelled)
    }

    /// The tax authority acknowledged `acknowledged` payments of the invoice in all (Billit's `CashCollected:
    /// Recevable` messages): the oldest reported payments not counted yet become `accepted`. Returns how many
    /// changed. Counting the whole set rather than reacting to one message makes a repeat harmless and lets an
    /// acknowledgement that arrived before its payment was marked reported be applied later.
    pub async fn accept_reported(
        &self,
        scope: &TenantScope,
        invoice: InvoiceId,
        acknowledged: usize,
    ) -> Result<u64, DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        if !Self::lock_invoice(&txn, scope, invoice).await? {
            txn.rollback().await?;
            return Ok(0);
        }
        let accepted = Self::accept_reported_in(&txn, scope, invoice, acknowledged).await?;
        if accepted == 0 {
            txn.rollback().await?;
        } else {
            txn.commit().await?;
        }
        Ok(accepted)
    }

    /// [`Self::accept_reported`] inside the caller's transaction, which holds the invoice row's lock already.
    pub(crate) async fn accept_reported_in<C: ConnectionTrait>(
        conn: &C,
        scope: &TenantScope,
        invoice: InvoiceId,
        acknowledged: usize,
    ) -> Result<u64, DbErr> {
        let rows = Self::rows(conn, scope, invoice).await?;
        let accepted = rows
            .iter()
            .filter(|row| row.state == PaymentState::Accepted.as_str())
            .count();
        let due = acknowledged.saturating_sub(accepted);
        if due == 0 {
            return Ok(0);
        }
        let mut reported: Vec<&payments::Model> = rows
            .iter()
            .filter(|row| row.state == PaymentState::Reported.as_str())
            .collect();
        reported.sort_by_key(|row| (row.reported_at, row.created_at, row.id));
        let chosen: Vec<Uuid> = reported.iter().take(due).map(|row| row.id).collect();
        if chosen.is_empty() {
            return Ok(0);
        }
        let now = Utc::now();
        let updated = payments::Entity::update_many()
            .col_expr(
                payments::Column::State,
                Expr::value(PaymentState::Accepted.as_str()),
            )
            .col_expr(payments::Column::AcceptedAt, Expr::value(now))
            .col_expr(payments::Column::UpdatedAt, Expr::value(now))
            .filter(payments::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(payments::Column::InvoiceId.eq(invoice.as_uuid()))
            .filter(payments::Column::Id.is_in(chosen))
            .filter(payments::Column::State.eq(PaymentState::Reported.as_str()))
            .exec(conn)
            .await?;
        Ok(updated.rows_affected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_states_round_trip() {
        for method in PaymentMethod::ALL {
            assert_eq!(PaymentMethod::parse(method.as_str()), Some(method));
        }
        assert_eq!(PaymentMethod::parse("bitcoin"), None);
        for state in [
            PaymentState::Queued,
            PaymentState::Reported,
            PaymentState::Accepted,
            PaymentState::Failed,
            PaymentState::Cancelled,
        ] {
            assert_eq!(PaymentState::parse(state.as_str()), Some(state));
        }
    }
}
