//! Credit notes and corrected invoices linked to the invoice they settle or replace (columns
//! `invoices.related_invoice_id` and `invoices.relation`). The link is written with the document itself
//! ([`InvoiceRepository::create_linked_draft`]); these are the queries that read it back.

use crate::entities::invoices;
use crate::invoices::{InvoiceRepository, SubmissionState};
use crate::scope::TenantScope;
use chrono::{DateTime, NaiveDate, Utc};
use portal_domain::ids::InvoiceId;
use portal_domain::invoice::DocumentType;
use portal_domain::status::StatusCode;
use sea_orm::{ColumnTrait, DbErr, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

/// How a document relates to the invoice it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvoiceRelation {
    /// A credit note taking back all or part of the invoice.
    CreditNoteFor,
    /// A corrected invoice replacing it.
    Corrects,
}

impl InvoiceRelation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreditNoteFor => "credit_note_for",
            Self::Corrects => "corrects",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "credit_note_for" => Some(Self::CreditNoteFor),
            "corrects" => Some(Self::Corrects),
            _ => None,
        }
    }

    /// The relation a linked document has, given its type: the type decides, so that the two never disagree.
    pub fn for_document(document_type: DocumentType) -> Self {
        match document_type {
            DocumentType::CreditNote => Self::CreditNoteFor,
            DocumentType::Invoice => Self::Corrects,
        }
    }
}

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
const ISSUED: [&str; 3] = ["queued", "sending", "sent"];

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
        let mut query = invoices::Entity::find()
            .select_only()
            .column(invoices::Column::TotalInclCents)
            .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoices::Column::RelatedInvoiceId.eq(original.as_uuid()))
            .filter(invoices::Column::Relation.eq(InvoiceRelation::CreditNoteFor.as_str()))
            .filter(invoices::Column::SubmissionState.is_in(ISSUED));
        if let Some(id) = except {
            query = query.filter(invoices::Column::Id.ne(id.as_uuid()));
        }
        let totals: Vec<i64> = query.into_tuple().all(self.connection()).await?;
        Ok(totals.into_iter().sum())
    }
}
