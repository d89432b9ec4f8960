//! Credit notes and corrected invoices linked to the invoice they settle or replace (columns
//! `invoices.related_invoice_id` and `invoices.relation`). The link is written with the document itself
//! ([`InvoiceRepository::create_linked_draft`]); these are the queries that read it back.
//!
//! Queueing a credit note takes the ORIGINAL invoice's row write lock before adding up what was already credited
//! (as payments do), so two credit notes of one invoice queued at the same moment are checked one after the other
//! and cannot together take back more than the invoice's total.

use crate::audit::{self, AuditEntry};
use crate::entities::invoices;
use crate::invoices::{InvoiceRepository, SubmissionState};
use crate::jobs::{Enqueued, JobQueue, JobQueueError, NewJob};
use crate::scope::TenantScope;
use chrono::{DateTime, NaiveDate, Utc};
use portal_domain::ids::InvoiceId;
use portal_domain::status::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

/// How a document relates to the invoice it names (the domain's enum, stored by its `as_str` text).
pub use portal_domain::settlement::InvoiceRelation;

/// A document linked to an invoice, as the invoice's page lists it.
#[derive(Debug, Clone)]
pub struct RelatedDocument {
    pub id: InvoiceId,
    pub relation: InvoiceRelation,
    pub number: String,
    pub issue_date: Option<NaiveDate>,
    pub total_incl_cents: i64,
    pub currency: String,
    pub submission: SubmissionState,
    pub headline: Option<StatusCode>,
    pub created_at: DateTime<Utc>,
}

/// Submission states in which a credit note counts as issued: on its way to Billit or sent. A draft or a refused
/// submission takes nothing back yet.
/// The states of an issued document (the domain's rule, `SubmissionState::is_issued`), as stored.
fn issued() -> impl Iterator<Item = &'static str> {
    SubmissionState::ALL
        .into_iter()
        .filter(|state| state.is_issued())
        .map(SubmissionState::as_str)
}

/// The submission states of an issued document, as stored.
pub(crate) fn issued_states() -> Vec<&'static str> {
    issued().collect()
}

/// What the credit notes among `related` (an invoice's documents, as [`InvoiceRepository::related_documents`]
/// reads them) take back, by the domain's rule (`portal_domain::settlement::credited_cents`): the same sum as
/// [`InvoiceRepository::credited_cents`], for a page that lists them anyway.
pub fn credited_by(related: &[RelatedDocument]) -> i64 {
    portal_domain::settlement::credited_cents(
        related
            .iter()
            .filter(|document| document.relation == InvoiceRelation::CreditNoteFor)
            .map(|document| (document.submission, document.total_incl_cents)),
    )
}

type RelatedColumns = (
    Uuid,
    Option<String>,
    Option<String>,
    Option<NaiveDate>,
    i64,
    String,
    String,
    Option<i32>,
    DateTime<Utc>,
);

impl InvoiceRepository {
    /// The documents that settle or replace `original`, oldest first.
    pub async fn related_documents(
        &self,
        scope: &TenantScope,
        original: InvoiceId,
    ) -> Result<Vec<RelatedDocument>, DbErr> {
        let rows: Vec<RelatedColumns> = invoices::Entity::find()
            .select_only()
            .column(invoices::Column::Id)
            .column(invoices::Column::Relation)
            .column(invoices::Column::Number)
            .column(invoices::Column::IssueDate)
            .column(invoices::Column::TotalInclCents)
            .column(invoices::Column::Currency)
            .column(invoices::Column::SubmissionState)
            .column(invoices::Column::HeadlineCode)
            .column(invoices::Column::CreatedAt)
            .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoices::Column::RelatedInvoiceId.eq(original.as_uuid()))
            .order_by(invoices::Column::Id, Order::Asc)
            .into_tuple()
            .all(self.connection())
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(
                |(id, relation, number, issue_date, total, currency, state, headline, created)| {
                    Some(RelatedDocument {
                        id: InvoiceId::from_uuid(id),
                        relation: InvoiceRelation::parse(relation.as_deref()?)?,
                        number: number.unwrap_or_default(),
                        issue_date,
                        total_incl_cents: total,
                        currency,
                        submission: SubmissionState::parse(&state)
                            .unwrap_or(SubmissionState::Draft),
                        headline: headline
                            .and_then(|code| u16::try_from(code).ok())
                            .map(StatusCode),
                        created_at: created,
                    })
                },
            )
            .collect())
    }

    /// What the credit notes issued for `original` take back, in cents (incl. VAT), leaving out `except` (the
    /// credit note being checked).
    pub async fn credited_cents(
        &self,
        scope: &TenantScope,
        original: InvoiceId,
        except: Option<InvoiceId>,
    ) -> Result<i64, DbErr> {
        Self::credited_cents_in(self.connection(), scope, original, except).await
    }

    async fn credited_cents_in<C: ConnectionTrait>(
        conn: &C,
        scope: &TenantScope,
        original: InvoiceId,
        except: Option<InvoiceId>,
    ) -> Result<i64, DbErr> {
        let mut query = invoices::Entity::find()
            .select_only()
            .column(invoices::Column::TotalInclCents)
            .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoices::Column::RelatedInvoiceId.eq(original.as_uuid()))
            .filter(invoices::Column::Relation.eq(InvoiceRelation::CreditNoteFor.as_str()))
            .filter(invoices::Column::SubmissionState.is_in(issued()));
        if let Some(id) = except {
            query = query.filter(invoices::Column::Id.ne(id.as_uuid()));
        }
        let totals: Vec<i64> = query.into_tuple().all(conn).await?;
        Ok(totals.into_iter().sum())
    }

    /// Queues the credit note `id` of `original` with its job (given the submission attempts so far) and the
    /// tenant's entry `audit` when there is one, unless it takes back more than what remains of the original's
    /// total. The original's row is write-locked first (a no-op update works on both backends) and what was
    /// credited is added up inside the same transaction.
    pub async fn queue_credit_note_submission(
        &self,
        scope: &TenantScope,
        id: InvoiceId,
        original: InvoiceId,
        now_ms: i64,
        job: impl FnOnce(i32) -> NewJob,
        audit: Option<AuditEntry>,
    ) -> Result<CreditNoteQueue, JobQueueError> {
        let txn = crate::db::begin_write(self.connection()).await?;
        let locked = invoices::Entity::update_many()
            .col_expr(
                invoices::Column::UpdatedAt,
                Expr::col(invoices::Column::UpdatedAt),
            )
            .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoices::Column::Id.eq(original.as_uuid()))
            .exec(&txn)
            .await?;
        let original_total: Option<i64> = if locked.rows_affected > 0 {
            invoices::Entity::find_by_id(original.as_uuid())
                .select_only()
                .column(invoices::Column::TotalInclCents)
                .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
                .into_tuple()
                .one(&txn)
                .await?
        } else {
            None
        };
        let own_total: Option<i64> = invoices::Entity::find_by_id(id.as_uuid())
            .select_only()
            .column(invoices::Column::TotalInclCents)
            .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .into_tuple()
            .one(&txn)
            .await?;
        let (Some(original_total), Some(own_total)) = (original_total, own_total) else {
            txn.rollback().await?;
            return Ok(CreditNoteQueue::NotQueued);
        };
        let credited = Self::credited_cents_in(&txn, scope, original, Some(id)).await?;
        let remaining = portal_domain::settlement::credit_limit(original_total, credited);
        if portal_domain::settlement::check_credit(own_total, remaining).is_err() {
            txn.rollback().await?;
            return Ok(CreditNoteQueue::OverLimit {
                remaining_cents: remaining,
            });
        }
        if !Self::mark_queued_in(&txn, scope, id).await? {
            txn.rollback().await?;
            return Ok(CreditNoteQueue::NotQueued);
        }
        let attempts: Option<i32> = invoices::Entity::find_by_id(id.as_uuid())
            .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .select_only()
            .column(invoices::Column::SubmissionAttempts)
            .into_tuple()
            .one(&txn)
            .await?;
        let enqueued = JobQueue::enqueue_in(&txn, now_ms, job(attempts.unwrap_or(0))).await?;
        if let Some(entry) = audit {
            audit::record_for_tenant(&txn, scope, entry).await?;
        }
        txn.commit().await?;
        Ok(CreditNoteQueue::Queued(enqueued))
    }
}

/// What queueing a credit note did.
#[derive(Debug)]
pub enum CreditNoteQueue {
    /// Queued with its job.
    Queued(Enqueued),
    /// It takes back more than the `remaining_cents` of the original: nothing changed.
    OverLimit { remaining_cents: i64 },
    /// Not a draft or a failed submission any more, or gone: nothing changed.
    NotQueued,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(
        relation: InvoiceRelation,
        submission: SubmissionState,
        cents: i64,
    ) -> RelatedDocument {
        RelatedDocument {
            id: InvoiceId::new(),
            relation,
            number: String::new(),
            issue_date: None,
            total_incl_cents: cents,
            currency: "EUR".to_owned(),
            submission,
            headline: None,
            created_at: Utc::now(),
        }
    }

    /// The page adds up what the settlement checks add up: issued credit notes only.
    #[test]
    fn only_issued_credit_notes_take_anything_back() {
        use InvoiceRelation::{Corrects, CreditNoteFor};
        use SubmissionState::{Draft, Failed, Queued, Sending, Sent};
        let related = [
            document(CreditNoteFor, Sent, 10_000),
            document(CreditNoteFor, Queued, 2_000),
            document(CreditNoteFor, Sending, 300),
            document(CreditNoteFor, Draft, 40_000),
            document(CreditNoteFor, Failed, 50_000),
            document(Corrects, Sent, 60_000),
        ];
        assert_eq!(credited_by(&related), 12_300);
        assert_eq!(credited_by(&[]), 0);
    }
}
