//! Invoices and credit notes of a tenant: drafts, numbering, the submission's progress, the status event log and
//! the summary columns that lists and filters read (the domain fold's result, saved after every change).

use crate::audit::{self, AuditEntry};
use crate::entities::{
    billit_sync, customers, invoice_events, invoice_sequences, invoice_settings, invoices,
};
use crate::jobs::{Enqueued, JobQueue, JobQueueError, NewJob, statement};
use crate::scope::TenantScope;
use crate::settlements::InvoiceRelation;
use crate::text::blank_to_none;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use portal_domain::Language;
use portal_domain::actions::Situation;
use portal_domain::ids::{CustomerId, InvoiceId, UserId};
use portal_domain::invoice::{Address, BuyerDraft, DocumentType, InvoiceDraft, LineDraft};
use portal_domain::lifecycle::{
    ActionReason, Delivery, EventKind, InvoiceFacts, Lifecycle, Payment, Source, StatusEvent,
    TaxReporting,
};
use portal_domain::status::StatusCode;
use rust_decimal::Decimal;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DbErr, DerivePartialModel, EntityTrait, Order, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Value,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub(crate) mod pass;
pub(crate) mod search;

pub use pass::{PassState, StatusPass};

/// Where an invoice stands on its way to Billit: the domain's states, stored by their `as_str` text.
pub use portal_domain::submission::SubmissionState;

/// What the editor saves: the draft as typed, its customer, and the totals the server computed (cents).
#[derive(Debug, Clone)]
pub struct InvoiceContent {
    pub customer_id: Option<CustomerId>,
    pub draft: InvoiceDraft,
    pub totals: TotalsCents,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotalsCents {
    pub excl: i64,
    pub vat: i64,
    pub incl: i64,
}

/// The fold's result as stored for lists and filters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InvoiceSummary {
    pub headline: Option<StatusCode>,
    pub is_final: bool,
    pub needs_action: bool,
    pub action_reasons: Vec<ActionReason>,
    pub open_request: Option<(StatusCode, DateTime<Utc>)>,
    pub delivery: Delivery,
    pub tax_reporting: TaxReporting,
    pub payment: Payment,
    pub amount_paid_cents: i64,
    pub unclassified: i32,
    pub events_count: i32,
    pub last_event_at: Option<DateTime<Utc>>,
    /// When the headline status first arrived (its earliest counting event).
    pub headline_since: Option<DateTime<Utc>>,
}

/// An invoice as stored.
#[derive(Debug, Clone)]
pub struct InvoiceRecord {
    pub id: InvoiceId,
    pub customer_id: Option<CustomerId>,
    pub buyer_name: String,
    pub draft: InvoiceDraft,
    pub totals: TotalsCents,
    pub submission: SubmissionState,
    /// Why the submission failed or is late: a code the page puts into words (`portal_app::failures`); rows
    /// written before the codes hold a sentence.
    pub submission_error: Option<String>,
    pub submission_attempts: i32,
    /// Sent with the order's creation, so that a repeat after a crash cannot create a second order.
    pub idempotency_key: String,
    pub billit_order_id: Option<i64>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub summary: InvoiceSummary,
    /// What Billit's order said last (paid, to pay, delivery, tax reporting).
    pub billit_facts: Option<InvoiceFacts>,
    pub last_polled_at: Option<DateTime<Utc>>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The invoice this document settles or replaces (a credit note or a corrected invoice).
    pub related: Option<(InvoiceId, InvoiceRelation)>,
}

impl InvoiceRecord {
    /// The facts the fold needs: the total, and what Billit's order said.
    pub fn facts(&self) -> InvoiceFacts {
        let mut facts = self.billit_facts.clone().unwrap_or_default();
        facts.total_incl = Decimal::new(self.totals.incl, 2);
        facts
    }

    pub fn number(&self) -> &str {
        &self.draft.number
    }

    /// What the domain's table of actions needs of this document, with what its payments add up to
    /// (`paid_cents`) and what its issued credit notes take back (`credited_cents`, `None` when not read).
    pub fn situation(&self, paid_cents: i64, credited_cents: Option<i64>) -> Situation {
        Situation {
            document_type: self.draft.document_type,
            submission: self.submission,
            has_billit_order: self.billit_order_id.is_some(),
            headline: self.summary.headline,
            open_request: self.summary.open_request.map(|(code, _)| code),
            tax_reporting: self.summary.tax_reporting,
            payment: self.summary.payment,
            total_cents: self.totals.incl,
            paid_cents,
            credited_cents,
        }
    }
}

/// A status event as stored, with what the portal knows about its arrival.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub event: StatusEvent,
    pub details: Option<EventDetails>,
    pub via: String,
    pub received_at: DateTime<Utc>,
}

/// What a status file (CDAR) adds to an event: the rules broken, business terms and values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventDetails {
    /// `(rule code, message, business terms)`, e.g. `("G1.45", "…", "BT-1")`.
    pub notes: Vec<DetailNote>,
    /// Disputed business terms and values.
    pub characteristics: Vec<DetailCharacteristic>,
    /// The file's own name and type, when it was downloaded.
    pub file_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetailNote {
    pub rule: Option<String>,
    pub message: String,
    pub terms: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetailCharacteristic {
    pub term: Option<String>,
    pub name: Option<String>,
    pub value: Option<String>,
}

/// How the invoice list is narrowed.
#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    /// A headline status code; `Some(0)` means "not sent yet" (no headline).
    pub headline: Option<u16>,
    pub submission: Option<SubmissionState>,
    pub needs_action: bool,
    pub customer: Option<CustomerId>,
    pub issued_from: Option<NaiveDate>,
    pub issued_to: Option<NaiveDate>,
    /// In the number, the customer's name, the references or the amounts as typed (`invoices::search`).
    pub search: Option<String>,
    pub sort: InvoiceSort,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InvoiceSort {
    /// Newest first.
    #[default]
    Recent,
    Oldest,
    TotalDesc,
    TotalAsc,
}

impl InvoiceSort {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "recent" => Some(Self::Recent),
            "oldest" => Some(Self::Oldest),
            "total_desc" => Some(Self::TotalDesc),
            "total_asc" => Some(Self::TotalAsc),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recent => "recent",
            Self::Oldest => "oldest",
            Self::TotalDesc => "total_desc",
            Self::TotalAsc => "total_asc",
        }
    }
}

/// Where the next page starts: the last row's sort value and id (keyset pagination).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub total_cents: i64,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}_{}", self.total_cents, self.id.simple())
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (total, id) = text.split_once('_')?;
        Some(Self {
            total_cents: total.parse().ok()?,
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

/// One row of the invoice list.
#[derive(Debug, Clone)]
pub struct InvoiceRow {
    pub id: InvoiceId,
    pub document_type: DocumentType,
    pub number: String,
    pub buyer_name: String,
    pub customer_id: Option<CustomerId>,
    pub issue_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub total_incl_cents: i64,
    pub currency: String,
    pub submission: SubmissionState,
    pub headline: Option<StatusCode>,
    pub needs_action: bool,
    pub action_reasons: Vec<ActionReason>,
    pub open_request: Option<(StatusCode, DateTime<Utc>)>,
    pub payment: Payment,
    pub last_event_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// What the table of actions knows of it from the row alone: the list reads no payments, so what the
    /// statuses say was paid stands for them, and what credit notes take back is not read.
    pub situation: Situation,
}

#[derive(Debug, Clone)]
pub struct InvoicePage {
    pub rows: Vec<InvoiceRow>,
    pub next: Option<Cursor>,
}

/// How many invoices are in each state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusCounts {
    /// `(headline code, count)` for invoices with a headline status.
    pub by_headline: Vec<(StatusCode, u64)>,
    /// `(submission state, count)` for invoices without one (drafts, queued, sending, failed, sent and silent).
    pub by_submission: Vec<(SubmissionState, u64)>,
    pub needs_action: u64,
    pub total: u64,
}

/// An event of a period (the CSV export of the timeline), with its id for the keyset.
#[derive(Debug, Clone)]
pub struct PeriodEvent {
    pub id: Uuid,
    pub reasons: Vec<String>,
    pub event: RecentEvent,
}

/// A recent event across the tenant's invoices (the dashboard).
#[derive(Debug, Clone)]
pub struct RecentEvent {
    pub invoice_id: InvoiceId,
    pub number: String,
    pub buyer_name: String,
    pub code: Option<StatusCode>,
    pub kind: EventKind,
    pub source: Source,
    pub at: DateTime<Utc>,
    pub description: String,
}

/// Numbering choices of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberingSettings {
    /// `{YYYY}` is replaced by the year of issue.
    pub invoice_prefix: String,
    pub credit_note_prefix: String,
    pub digits: u32,
    /// Start again at 1 every year.
    pub yearly_reset: bool,
}

impl Default for NumberingSettings {
    fn default() -> Self {
        Self {
            invoice_prefix: "F{YYYY}-".to_owned(),
            credit_note_prefix: "AV{YYYY}-".to_owned(),
            digits: 5,
            yearly_reset: true,
        }
    }
}

impl NumberingSettings {
    fn prefix(&self, document_type: DocumentType, year: i32) -> String {
        let template = match document_type {
            DocumentType::Invoice => &self.invoice_prefix,
            DocumentType::CreditNote => &self.credit_note_prefix,
        };
        template.replace("{YYYY}", &year.to_string())
    }

    fn series(&self, document_type: DocumentType, year: i32) -> String {
        let kind = document_type_str(document_type);
        if self.yearly_reset {
            format!("{kind}:{year}")
        } else {
            kind.to_owned()
        }
    }

    /// The number for `value` in the series.
    pub fn format(&self, document_type: DocumentType, year: i32, value: i64) -> String {
        let width = usize::try_from(Ord::min(self.digits, 12)).unwrap_or(5);
        format!("{}{value:0width$}", self.prefix(document_type, year))
    }

    /// The value of `number` if it belongs to the series (prefix then digits only).
    fn value_of(&self, document_type: DocumentType, year: i32, number: &str) -> Option<i64> {
        let digits = number.strip_prefix(&self.prefix(document_type, year))?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InvoiceError {
    #[error("this number is already used this year")]
    NumberTaken,
    #[error("the invoice cannot be changed in its current state")]
    NotEditable,
    #[error("no such invoice")]
    NotFound,
    #[error("stored invoice data is unreadable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] DbErr),
}

pub fn document_type_str(document_type: DocumentType) -> &'static str {
    match document_type {
        DocumentType::Invoice => "invoice",
        DocumentType::CreditNote => "credit_note",
    }
}

pub(crate) fn parse_document_type(text: &str) -> DocumentType {
    if text == "credit_note" {
        DocumentType::CreditNote
    } else {
        DocumentType::Invoice
    }
}

pub(crate) fn source_str(source: Source) -> String {
    serde_json::to_value(source)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

pub(crate) fn parse_source(text: &str) -> Source {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).unwrap_or(Source::Unknown)
}

pub(crate) fn kind_str(kind: EventKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unclassified".to_owned())
}

pub(crate) fn parse_kind(text: &str) -> EventKind {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .unwrap_or(EventKind::Unclassified)
}

pub(crate) fn enum_str<T: Serialize>(value: T, fallback: &str) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| fallback.to_owned())
}

fn parse_enum<T: serde::de::DeserializeOwned + Default>(text: &str) -> T {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).unwrap_or_default()
}

pub(crate) fn code_of(value: Option<i32>) -> Option<StatusCode> {
    value
        .and_then(|code| u16::try_from(code).ok())
        .map(StatusCode)
}

pub(crate) fn to_record(row: invoices::Model) -> Result<InvoiceRecord, InvoiceError> {
    let buyer: BuyerDraft =
        serde_json::from_str(&row.buyer).map_err(|e| InvoiceError::Corrupt(e.to_string()))?;
    let lines: Vec<LineDraft> =
        serde_json::from_str(&row.lines).map_err(|e| InvoiceError::Corrupt(e.to_string()))?;
    let notes: Vec<String> =
        serde_json::from_str(&row.notes).map_err(|e| InvoiceError::Corrupt(e.to_string()))?;
    let billit_facts = match &row.billit_facts {
        Some(text) => {
            Some(serde_json::from_str(text).map_err(|e| InvoiceError::Corrupt(e.to_string()))?)
        }
        None => None,
    };
    let draft = InvoiceDraft {
        document_type: parse_document_type(&row.document_type),
        corrects: row.corrects.clone().unwrap_or_default(),
        number: row.number.clone().unwrap_or_default(),
        issue_date: row.issue_date,
        due_date: row.due_date,
        delivery_date: row.delivery_date,
        currency: row.currency.clone(),
        seller_siren: None,
        vat_rate_set: Default::default(),
        buyer,
        lines,
        purchase_order: row.purchase_order.clone().unwrap_or_default(),
        contract: row.contract.clone().unwrap_or_default(),
        buyer_reference: row.buyer_reference.clone().unwrap_or_default(),
        notes,
        paid_at_issue: row.paid_at_issue,
    };
    let related = row
        .related_invoice_id
        .zip(row.relation.as_deref().and_then(InvoiceRelation::parse))
        .map(|(id, relation)| (InvoiceId::from_uuid(id), relation));
    Ok(InvoiceRecord {
        related,
        id: InvoiceId::from_uuid(row.id),
        customer_id: row.customer_id.map(CustomerId::from_uuid),
        buyer_name: row.buyer_name.clone(),
        draft,
        totals: TotalsCents {
            excl: row.total_excl_cents,
            vat: row.total_vat_cents,
            incl: row.total_incl_cents,
        },
        submission: SubmissionState::parse(&row.submission_state).unwrap_or(SubmissionState::Draft),
        submission_error: row.submission_error.clone(),
        submission_attempts: row.submission_attempts,
        idempotency_key: row.idempotency_key.clone(),
        billit_order_id: row.billit_order_id,
        submitted_at: row.submitted_at,
        sent_at: row.sent_at,
        summary: summary_of(&row),
        billit_facts,
        last_polled_at: row.last_polled_at,
        created_by: row.created_by.map(UserId::from_uuid),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// What the domain's table of actions needs of a stored row, with what its payments add up to (`paid_cents`) and
/// what its credit notes take back (`credited_cents`, `None` when not read).
pub(crate) fn situation_of_row(
    row: &invoices::Model,
    paid_cents: i64,
    credited_cents: Option<i64>,
) -> Situation {
    situation_of(
        SituationColumns {
            document_type: &row.document_type,
            submission_state: &row.submission_state,
            billit_order_id: row.billit_order_id,
            headline_code: row.headline_code,
            open_request: (row.open_request_code, row.open_request_since),
            tax_reporting: &row.tax_reporting,
            payment: &row.payment,
            total_cents: row.total_incl_cents,
        },
        paid_cents,
        credited_cents,
    )
}

/// The columns the table of actions reads, from a whole row or from a list's row.
struct SituationColumns<'a> {
    document_type: &'a str,
    submission_state: &'a str,
    billit_order_id: Option<i64>,
    headline_code: Option<i32>,
    open_request: (Option<i32>, Option<DateTime<Utc>>),
    tax_reporting: &'a str,
    payment: &'a str,
    total_cents: i64,
}

fn situation_of(
    columns: SituationColumns<'_>,
    paid_cents: i64,
    credited_cents: Option<i64>,
) -> Situation {
    let (open_code, open_since) = columns.open_request;
    Situation {
        document_type: parse_document_type(columns.document_type),
        submission: SubmissionState::parse(columns.submission_state)
            .unwrap_or(SubmissionState::Draft),
        has_billit_order: columns.billit_order_id.is_some(),
        headline: code_of(columns.headline_code),
        // Open only with the time it opened, as the summary says.
        open_request: code_of(open_code).zip(open_since).map(|(code, _)| code),
        tax_reporting: parse_enum(columns.tax_reporting),
        payment: parse_enum(columns.payment),
        total_cents: columns.total_cents,
        paid_cents,
        credited_cents,
    }
}

fn summary_of(row: &invoices::Model) -> InvoiceSummary {
    InvoiceSummary {
        headline: code_of(row.headline_code),
        is_final: row.is_final,
        needs_action: row.needs_action,
        action_reasons: serde_json::from_str(&row.action_reasons).unwrap_or_default(),
        open_request: code_of(row.open_request_code).zip(row.open_request_since),
        delivery: parse_enum(&row.delivery),
        tax_reporting: parse_enum(&row.tax_reporting),
        payment: parse_enum(&row.payment),
        amount_paid_cents: row.amount_paid_cents,
        unclassified: row.unclassified,
        events_count: row.events_count,
        last_event_at: row.last_event_at,
        headline_since: row.headline_since,
    }
}

/// The columns a row of the list shows. A list page reads 51 rows: the rest of each (lines, parties, Billit's
/// facts: most of its bytes) would be copied out of the database and decoded for nothing.
#[derive(Debug, DerivePartialModel)]
#[sea_orm(entity = "invoices::Entity")]
struct ListedInvoice {
    id: Uuid,
    document_type: String,
    number: Option<String>,
    buyer_name: String,
    customer_id: Option<Uuid>,
    issue_date: Option<NaiveDate>,
    due_date: Option<NaiveDate>,
    total_incl_cents: i64,
    currency: String,
    submission_state: String,
    billit_order_id: Option<i64>,
    headline_code: Option<i32>,
    needs_action: bool,
    action_reasons: String,
    open_request_code: Option<i32>,
    open_request_since: Option<DateTime<Utc>>,
    tax_reporting: String,
    payment: String,
    amount_paid_cents: i64,
    last_event_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

fn to_row(row: ListedInvoice) -> InvoiceRow {
    let situation = situation_of(
        SituationColumns {
            document_type: &row.document_type,
            submission_state: &row.submission_state,
            billit_order_id: row.billit_order_id,
            headline_code: row.headline_code,
            open_request: (row.open_request_code, row.open_request_since),
            tax_reporting: &row.tax_reporting,
            payment: &row.payment,
            total_cents: row.total_incl_cents,
        },
        // The list reads no payments: what the statuses say was paid stands for them.
        row.amount_paid_cents,
        None,
    );
    InvoiceRow {
        id: InvoiceId::from_uuid(row.id),
        document_type: situation.document_type,
        number: row.number.unwrap_or_default(),
        buyer_name: row.buyer_name,
        customer_id: row.customer_id.map(CustomerId::from_uuid),
        issue_date: row.issue_date,
        due_date: row.due_date,
        total_incl_cents: row.total_incl_cents,
        currency: row.currency,
        submission: situation.submission,
        headline: situation.headline,
        needs_action: row.needs_action,
        action_reasons: serde_json::from_str(&row.action_reasons).unwrap_or_default(),
        open_request: code_of(row.open_request_code).zip(row.open_request_since),
        payment: situation.payment,
        last_event_at: row.last_event_at,
        created_at: row.created_at,
        situation,
    }
}

pub(crate) fn to_event(row: invoice_events::Model) -> StoredEvent {
    let event = StatusEvent {
        code: code_of(row.code),
        kind: parse_kind(&row.kind),
        source: parse_source(&row.source),
        at: row.at,
        description: row.description,
        reasons: serde_json::from_str(&row.reasons).unwrap_or_default(),
        requested_action: row.requested_action,
        comment: row.comment,
        file_id: row.file_id,
        amount: row.amount.and_then(|text| text.parse().ok()),
        dedup_key: row.dedup_key,
        acknowledges_payment: row.acknowledges_payment,
    };
    StoredEvent {
        event,
        details: row
            .details
            .and_then(|text| serde_json::from_str(&text).ok()),
        via: row.via,
        received_at: row.received_at,
    }
}

fn is_unique_violation(error: &DbErr) -> bool {
    let text = error.to_string().to_ascii_lowercase();
    text.contains("unique") || text.contains("duplicate key")
}

#[derive(Debug, Clone)]
pub struct InvoiceRepository {
    db: DatabaseConnection,
}

impl InvoiceRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    // ---- numbering ----

    pub async fn numbering(&self, scope: &TenantScope) -> Result<NumberingSettings, DbErr> {
        Ok(
            invoice_settings::Entity::find_by_id(scope.tenant_id().as_uuid())
                .one(&self.db)
                .await?
                .map_or_else(NumberingSettings::default, |row| NumberingSettings {
                    invoice_prefix: row.invoice_prefix,
                    credit_note_prefix: row.credit_note_prefix,
                    digits: u32::try_from(row.digits).unwrap_or(5),
                    yearly_reset: row.yearly_reset,
                }),
        )
    }

    /// Saves the tenant's numbering settings with the tenant's entry `audit`, in one transaction.
    pub async fn save_numbering(
        &self,
        scope: &TenantScope,
        settings: &NumberingSettings,
        audit: AuditEntry,
    ) -> Result<(), DbErr> {
        let row = invoice_settings::ActiveModel {
            tenant_id: Set(scope.tenant_id().as_uuid()),
            invoice_prefix: Set(settings.invoice_prefix.clone()),
            credit_note_prefix: Set(settings.credit_note_prefix.clone()),
            digits: Set(i32::try_from(settings.digits).unwrap_or(5)),
            yearly_reset: Set(settings.yearly_reset),
            updated_at: Set(Utc::now()),
        };
        let txn = crate::db::begin_write(&self.db).await?;
        invoice_settings::Entity::insert(row)
            .on_conflict(
                OnConflict::column(invoice_settings::Column::TenantId)
                    .update_columns([
                        invoice_settings::Column::InvoicePrefix,
                        invoice_settings::Column::CreditNotePrefix,
                        invoice_settings::Column::Digits,
                        invoice_settings::Column::YearlyReset,
                        invoice_settings::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(&txn)
            .await?;
        audit::record_for_tenant(&txn, scope, audit).await?;
        txn.commit().await
    }

    /// The next number of the series for a document issued on `date`, without reserving it: the sequence moves
    /// only when a draft is saved with a number of the series, so abandoned proposals leave no gap.
    pub async fn propose_number(
        &self,
        scope: &TenantScope,
        document_type: DocumentType,
        date: NaiveDate,
    ) -> Result<String, DbErr> {
        let settings = self.numbering(scope).await?;
        let year = date.year();
        let series = settings.series(document_type, year);
        let next = invoice_sequences::Entity::find_by_id((scope.tenant_id().as_uuid(), series))
            .one(&self.db)
            .await?
            .map_or(1, |row| row.next_value);
        // Skip numbers typed by hand that already took a later value.
        let mut value = next;
        loop {
            let candidate = settings.format(document_type, year, value);
            if !self.number_taken(scope, year, &candidate, None).await? {
                return Ok(candidate);
            }
            value += 1;
        }
    }

    async fn advance_sequence<C: ConnectionTrait>(
        conn: &C,
        scope: &TenantScope,
        settings: &NumberingSettings,
        draft: &InvoiceDraft,
    ) -> Result<(), DbErr> {
        let Some(date) = draft.issue_date else {
            return Ok(());
        };
        let year = date.year();
        let Some(value) = settings.value_of(draft.document_type, year, draft.number.trim()) else {
            return Ok(());
        };
        let series = settings.series(draft.document_type, year);
        let backend = conn.get_database_backend();
        conn.execute_raw(statement(
            backend,
            "INSERT INTO invoice_sequences (tenant_id, series, next_value) VALUES (?, ?, ?) \
             ON CONFLICT (tenant_id, series) DO UPDATE SET next_value = \
             CASE WHEN invoice_sequences.next_value > excluded.next_value \
             THEN invoice_sequences.next_value ELSE excluded.next_value END",
            vec![
                Value::from(scope.tenant_id().as_uuid()),
                Value::from(series),
                Value::from(value + 1),
            ],
        ))
        .await?;
        Ok(())
    }

    /// Whether `number` is used in `year` by another invoice of the tenant (G1.45).
    pub async fn number_taken(
        &self,
        scope: &TenantScope,
        year: i32,
        number: &str,
        except: Option<InvoiceId>,
    ) -> Result<bool, DbErr> {
        let mut query = invoices::Entity::find()
            .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoices::Column::IssueYear.eq(year))
            .filter(invoices::Column::Number.eq(number.trim()));
        if let Some(id) = except {
            query = query.filter(invoices::Column::Id.ne(id.as_uuid()));
        }
        Ok(query.count(&self.db).await? > 0)
    }

    // ---- drafts ----

    fn content_columns(active: &mut invoices::ActiveModel, content: &InvoiceContent) {
        let draft = &content.draft;
        active.customer_id = Set(content.customer_id.map(|id| id.as_uuid()));
        active.buyer_name = Set(draft.buyer.legal_name.trim().to_owned());
        active.document_type = Set(document_type_str(draft.document_type).to_owned());
        active.number = Set(blank_to_none(&draft.number));
        active.issue_year = Set(draft.issue_date.map(|date| date.year()));
        active.corrects = Set(blank_to_none(&draft.corrects));
        active.issue_date = Set(draft.issue_date);
        active.due_date = Set(draft.due_date);
        active.delivery_date = Set(draft.delivery_date);
        active.paid_at_issue = Set(draft.paid_at_issue);
        active.currency = Set(blank_to_none(&draft.currency).unwrap_or_else(|| "EUR".to_owned()));
        active.buyer = Set(serde_json::to_string(&draft.buyer).unwrap_or_else(|_| "{}".into()));
        active.lines = Set(serde_json::to_string(&draft.lines).unwrap_or_else(|_| "[]".into()));
        active.purchase_order = Set(blank_to_none(&draft.purchase_order));
        active.contract = Set(blank_to_none(&draft.contract));
        active.buyer_reference = Set(blank_to_none(&draft.buyer_reference));
        active.notes = Set(serde_json::to_string(&draft.notes).unwrap_or_else(|_| "[]".into()));
        active.total_excl_cents = Set(content.totals.excl);
        active.total_vat_cents = Set(content.totals.vat);
        active.total_incl_cents = Set(content.totals.incl);
    }

    /// A new draft, linked to nothing, with no audit entry (the editor's drafts are not audited; the demo, the
    /// seed and tests make theirs with this).
    pub async fn create_draft(
        &self,
        scope: &TenantScope,
        content: &InvoiceContent,
        created_by: Option<UserId>,
    ) -> Result<InvoiceId, InvoiceError> {
        self.create_linked_draft(scope, content, created_by, None, |_| None)
            .await
    }

    /// A new draft that settles or replaces `related` (an invoice of the same tenant, else `NotFound`); the link
    /// is written with the draft, and its relation follows the draft's type. The entry `audit` makes for the new
    /// id, if any, is written in the same transaction.
    pub async fn create_linked_draft(
        &self,
        scope: &TenantScope,
        content: &InvoiceContent,
        created_by: Option<UserId>,
        related: Option<InvoiceId>,
        audit: impl FnOnce(InvoiceId) -> Option<AuditEntry>,
    ) -> Result<InvoiceId, InvoiceError> {
        let id = InvoiceId::new();
        let now = Utc::now();
        let settings = self.numbering(scope).await?;
        let mut active = invoices::ActiveModel {
            id: Set(id.as_uuid()),
            tenant_id: Set(scope.tenant_id().as_uuid()),
            submission_state: Set(SubmissionState::Draft.as_str().to_owned()),
            submission_error: Set(None),
            submission_attempts: Set(0),
            idempotency_key: Set(format!("portal-{}", id.as_uuid().simple())),
            billit_order_id: Set(None),
            submitted_at: Set(None),
            sent_at: Set(None),
            headline_code: Set(None),
            is_final: Set(false),
            needs_action: Set(false),
            action_reasons: Set("[]".to_owned()),
            open_request_code: Set(None),
            open_request_since: Set(None),
            delivery: Set(enum_str(Delivery::Pending, "pending")),
            tax_reporting: Set(enum_str(TaxReporting::Pending, "pending")),
            payment: Set(enum_str(Payment::Unpaid, "unpaid")),
            amount_paid_cents: Set(0),
            unclassified: Set(0),
            events_count: Set(0),
            last_event_at: Set(None),
            billit_facts: Set(None),
            last_polled_at: Set(None),
            created_by: Set(created_by.map(|user| user.as_uuid())),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        Self::content_columns(&mut active, content);
        // The link is checked in the transaction that writes: `db::begin_write` takes SQLite's write lock at its
        // start (a deferred transaction that reads and then writes fails at once, "database is locked", when
        // another connection wrote in between, whatever the busy timeout).
        let txn = crate::db::begin_write(&self.db).await?;
        if let Some(related) = related {
            if self.find_row(&txn, scope, related).await?.is_none() {
                return Err(InvoiceError::NotFound);
            }
            active.related_invoice_id = Set(Some(related.as_uuid()));
            active.relation = Set(Some(
                InvoiceRelation::for_document(content.draft.document_type)
                    .as_str()
                    .to_owned(),
            ));
        }
        if let Err(error) = active.insert(&txn).await {
            return Err(if is_unique_violation(&error) {
                InvoiceError::NumberTaken
            } else {
                error.into()
            });
        }
        search::index(
            &txn,
            vec![search::entry(
                scope.tenant_id().as_uuid(),
                id.as_uuid(),
                content,
            )],
        )
        .await?;
        Self::advance_sequence(&txn, scope, &settings, &content.draft).await?;
        if let Some(entry) = audit(id) {
            audit::record_for_tenant(&txn, scope, entry).await?;
        }
        txn.commit().await?;
        Ok(id)
    }

    /// Saves the editor's content over a draft or a failed submission (which becomes a draft again).
    pub async fn update_draft(
        &self,
        scope: &TenantScope,
        id: InvoiceId,
        content: &InvoiceContent,
    ) -> Result<(), InvoiceError> {
        let settings = self.numbering(scope).await?;
        let txn = crate::db::begin_write(&self.db).await?;
        let row = self
            .find_row(&txn, scope, id)
            .await?
            .ok_or(InvoiceError::NotFound)?;
        let state = SubmissionState::parse(&row.submission_state).unwrap_or(SubmissionState::Draft);
        if !state.is_editable() || row.billit_order_id.is_some() {
            return Err(InvoiceError::NotEditable);
        }
        let linked = row.related_invoice_id.is_some();
        let mut active: invoices::ActiveModel = row.into();
        Self::content_columns(&mut active, content);
        if linked {
            active.relation = Set(Some(
                InvoiceRelation::for_document(content.draft.document_type)
                    .as_str()
                    .to_owned(),
            ));
        }
        active.submission_state = Set(SubmissionState::Draft.as_str().to_owned());
        // A failed submission edited back into a draft is no longer failing: its sentence and its "needs action"
        // flag belonged to the content that was refused (it has no order, hence no status events).
        active.submission_error = Set(None);
        active.needs_action = Set(false);
        active.action_reasons = Set("[]".to_owned());
        active.updated_at = Set(Utc::now());
        if let Err(error) = active.update(&txn).await {
            return Err(if is_unique_violation(&error) {
                InvoiceError::NumberTaken
            } else {
                error.into()
            });
        }
        search::index(
            &txn,
            vec![search::entry(
                scope.tenant_id().as_uuid(),
                id.as_uuid(),
                content,
            )],
        )
        .await?;
        Self::advance_sequence(&txn, scope, &settings, &content.draft).await?;
        txn.commit().await?;
        Ok(())
    }

    async fn find_row<C: ConnectionTrait>(
        &self,
        conn: &C,
        scope: &TenantScope,
        id: InvoiceId,
    ) -> Result<Option<invoices::Model>, DbErr> {
        invoices::Entity::find_by_id(id.as_uuid())
            .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .one(conn)
            .await
    }

    pub async fn get(
        &self,
        scope: &TenantScope,
        id: InvoiceId,
    ) -> Result<Option<InvoiceRecord>, InvoiceError> {
        match self.find_row(&self.db, scope, id).await? {
            Some(row) => Ok(Some(to_record(row)?)),
            None => Ok(None),
        }
    }

    /// One invoice as a row of the list (by its primary key, in the scope's tenant), for the list's live updates:
    /// the columns the list shows, as the list reads them, not the whole invoice (its lines, parties and Billit's
    /// facts, which every status of a burst would otherwise copy once per open list).
    pub async fn row(
        &self,
        scope: &TenantScope,
        id: InvoiceId,
    ) -> Result<Option<InvoiceRow>, DbErr> {
        Ok(invoices::Entity::find_by_id(id.as_uuid())
            .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .into_partial_model::<ListedInvoice>()
            .one(&self.db)
            .await?
            .map(to_row))
    }

    /// Deletes a draft or a failed submission that never reached Billit as an order, with the tenant's entry
    /// `audit`, in one transaction. Returns false when there is no such invoice; `NotEditable` when it is on its
    /// way or sent (neither writes the entry).
    pub async fn delete(
        &self,
        scope: &TenantScope,
        id: InvoiceId,
        audit: AuditEntry,
    ) -> Result<bool, InvoiceError> {
        let Some(row) = self.find_row(&self.db, scope, id).await? else {
            return Ok(false);
        };
        let state = SubmissionState::parse(&row.submission_state).unwrap_or(SubmissionState::Draft);
        if !state.is_editable() {
            return Err(InvoiceError::NotEditable);
        }
        let txn = crate::db::begin_write(&self.db).await?;
        let result = invoices::Entity::delete_many()
            .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoices::Column::Id.eq(id.as_uuid()))
            .filter(invoices::Column::SubmissionState.is_in([
                SubmissionState::Draft.as_str(),
                SubmissionState::Failed.as_str(),
            ]))
            .exec(&txn)
            .await?;
        if result.rows_affected == 0 {
            txn.rollback().await?;
            return Err(InvoiceError::NotEditable);
        }
        audit::record_for_tenant(&txn, scope, audit).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// The invoice or credit note of the tenant with this number (the most recent one if several years use it).
    pub async fn find_by_number(
        &self,
        scope: &TenantScope,
        number: &str,
    ) -> Result<Option<InvoiceRecord>, InvoiceError> {
        let row = invoices::Entity::find()
            .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoices::Column::Number.eq(number.trim()))
            .order_by(invoices::Column::IssueYear, Order::Desc)
            .one(&self.db)
            .await?;
        row.map(to_record).transpose()
    }

    // ---- the buyer, from the tenant's customers ----

    /// The tenant's customers for the editor's choice: `(id, legal name)`, by name.
    pub async fn buyer_choices(
        &self,
        scope: &TenantScope,
        limit: u64,
    ) -> Result<Vec<(CustomerId, String)>, DbErr> {
        let rows: Vec<(Uuid, String)> = customers::Entity::find()
            .select_only()
            .column(customers::Column::Id)
            .column(customers::Column::LegalName)
            .filter(customers::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .order_by(customers::Column::LegalName, Order::Asc)
            .order_by(customers::Column::Id, Order::Asc)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name)| (CustomerId::from_uuid(id), name))
            .collect())
    }

    /// A customer of the tenant as the buyer of an invoice (the editor fills its buyer fields with it).
    pub async fn get_buyer(
        &self,
        scope: &TenantScope,
        customer: CustomerId,
    ) -> Result<Option<(CustomerId, BuyerDraft)>, DbErr> {
        let row = customers::Entity::find_by_id(customer.as_uuid())
            .filter(customers::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .one(&self.db)
            .await?;
        Ok(row.map(|row| {
            let contact_emails: Vec<String> =
                serde_json::from_str(&row.contact_emails).unwrap_or_default();
            let buyer = BuyerDraft {
                legal_name: row.legal_name,
                siren: row.siren,
                siret: row.siret.unwrap_or_default(),
                vat_number: row.vat_number.unwrap_or_default(),
                electronic_address: row.electronic_address,
                contact_emails,
                address: Address {
                    street: row.address_street.unwrap_or_default(),
                    additional: row.address_additional.unwrap_or_default(),
                    postcode: row.address_postcode.unwrap_or_default(),
                    city: row.address_city.unwrap_or_default(),
                    country_code: row.address_country,
                },
                language: Language::parse(&row.language).unwrap_or_default(),
            };
            (CustomerId::from_uuid(row.id), buyer)
        }))
    }

    // ---- submission ----

    /// Marks a checked draft (or a failed submission) as queued, inside the caller's transaction, so that the
    /// job that sends it is enqueued in the same commit. False when it is not in an editable state any more.
    pub async fn mark_queued_in<C: ConnectionTrait>(
        conn: &C,
        scope: &TenantScope,
        id: InvoiceId,
    ) -> Result<bool, DbErr> {
        let now = Utc::now();
        let result = invoices::Entity::update_many()
            .col_expr(
                invoices::Column::SubmissionState,
                Expr::value(SubmissionState::Queued.as_str()),
            )
            .col_expr(
                invoices::Column::SubmissionError,
                Expr::value(Option::<String>::None),
            )
            .col_expr(invoices::Column::SubmittedAt, Expr::value(now))
            .col_expr(invoices::Column::UpdatedAt, Expr::value(now))
            // Queued again: the failure that needed the user is being dealt with (a draft or failed submission has
            // no status events, so nothing else asks for action).
            .col_expr(invoices::Column::NeedsAction, Expr::value(false))
            .col_expr(invoices::Column::ActionReasons, Expr::value("[]"))
            .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoices::Column::Id.eq(id.as_uuid()))
            .filter(invoices::Column::SubmissionState.is_in([
                SubmissionState::Draft.as_str(),
                SubmissionState::Failed.as_str(),
            ]))
            .exec(conn)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Queues a checked draft (or a failed submission) and enqueues the job that sends it, with the tenant's entry
    /// `audit` when there is one, in one transaction: the job and the entry exist if and only if the invoice is
    /// queued. `job` gets the number of attempts made so far, so that each submission has its own unique key.
    /// `None` when the invoice is not a draft or a failed submission.
    pub async fn queue_submission(
        &self,
        scope: &TenantScope,
        id: InvoiceId,
        now_ms: i64,
        job: impl FnOnce(i32) -> NewJob,
        audit: Option<AuditEntry>,
    ) -> Result<Option<Enqueued>, JobQueueError> {
        let txn = crate::db::begin_write(&self.db).await?;
        if !Self::mark_queued_in(&txn, scope, id).await? {
            txn.rollback().await?;
            return Ok(None);
        }
        let Some(row) = self.find_row(&txn, scope, id).await? else {
            txn.rollback().await?;
            return Ok(None);
        };
        let enqueued = JobQueue::enqueue_in(&txn, now_ms, job(row.submission_attempts)).await?;
        if let Some(entry) = audit {
            audit::record_for_tenant(&txn, scope, entry).await?;
        }
        txn.commit().await?;
        Ok(Some(enqueued))
    }

    async fn set_columns(
        &self,
        scope: &TenantScope,
        id: InvoiceId,
        columns: Vec<(invoices::Column, sea_orm::sea_query::SimpleExpr)>,
    ) -> Result<(), DbErr> {
        set_columns_in(&self.db, scope, id, columns).await
    }

    /// A worker took the submission: one more attempt.
    pub async fn mark_sending(&self, scope: &TenantScope, id: InvoiceId) -> Result<(), DbErr> {
        self.set_columns(
            scope,
            id,
            vec![
                (
                    invoices::Column::SubmissionState,
                    Expr::value(SubmissionState::Sending.as_str()),
                ),
                (
                    invoices::Column::SubmissionAttempts,
                    Expr::col(invoices::Column::SubmissionAttempts).add(1),
                ),
            ],
        )
        .await
    }

    /// Billit created the order: kept at once, so that a crash before sending resumes with the same order.
    pub async fn set_order_id(
        &self,
        scope: &TenantScope,
        id: InvoiceId,
        order_id: i64,
    ) -> Result<(), DbErr> {
        self.set_columns(
            scope,
            id,
            vec![(invoices::Column::BillitOrderId, Expr::value(order_id))],
        )
        .await
    }

    pub async fn mark_sent(
        &self,
        scope: &TenantScope,
        id: InvoiceId,
        at: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        self.set_columns(
            scope,
            id,
            vec![
                (
                    invoices::Column::SubmissionState,
                    Expr::value(SubmissionState::Sent.as_str()),
                ),
                (
                    invoices::Column::SubmissionError,
                    Expr::value(Option::<String>::None),
                ),
                (invoices::Column::SentAt, Expr::value(at)),
            ],
        )
        .await
    }

    /// Billit refused the submission (or it kept failing): `message` is the failure's code (`portal_app::failures`).
    pub async fn mark_failed(
        &self,
        scope: &TenantScope,
        id: InvoiceId,
        message: &str,
    ) -> Result<(), DbErr> {
        self.set_columns(scope, id, failed_columns(message)).await
    }

    /// [`Self::mark_failed`], announcing the failure to the tenant's outgoing webhook endpoints (`announce`, with
    /// their delivery jobs of kind `job_kind`) in the same transaction.
    pub async fn mark_failed_announcing(
        &self,
        scope: &TenantScope,
        id: InvoiceId,
        message: &str,
        announce: &[crate::outgoing_webhooks::OutgoingEvent],
        job_kind: &str,
    ) -> Result<(), crate::outgoing_webhooks::OutgoingError> {
        let txn = crate::db::begin_write(&self.db).await?;
        set_columns_in(&txn, scope, id, failed_columns(message)).await?;
        crate::outgoing_webhooks::emit_in(&txn, scope, announce, job_kind, Utc::now()).await?;
        txn.commit().await?;
        Ok(())
    }

    /// A transient failure: the job will retry; the user sees why it is late (`message` is the failure's code).
    pub async fn note_retry(
        &self,
        scope: &TenantScope,
        id: InvoiceId,
        message: &str,
    ) -> Result<(), DbErr> {
        self.set_columns(
            scope,
            id,
            vec![(
                invoices::Column::SubmissionError,
                Expr::value(message.to_owned()),
            )],
        )
        .await
    }

    pub async fn find_by_order(
        &self,
        scope: &TenantScope,
        order_id: i64,
    ) -> Result<Option<InvoiceId>, DbErr> {
        Ok(invoices::Entity::find()
            .select_only()
            .column(invoices::Column::Id)
            .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoices::Column::BillitOrderId.eq(order_id))
            .into_tuple::<Uuid>()
            .one(&self.db)
            .await?
            .map(InvoiceId::from_uuid))
    }

    /// The tenant's invoices of these orders, in one query (a sweep lists many orders at once).
    pub async fn find_by_orders(
        &self,
        scope: &TenantScope,
        order_ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, InvoiceId>, DbErr> {
        let mut found = std::collections::HashMap::new();
        // Bounded IN lists: SQLite and PostgreSQL both take these comfortably.
        for chunk in order_ids.chunks(500) {
            let rows: Vec<(Uuid, Option<i64>)> = invoices::Entity::find()
                .select_only()
                .column(invoices::Column::Id)
                .column(invoices::Column::BillitOrderId)
                .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
                .filter(invoices::Column::BillitOrderId.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(&self.db)
                .await?;
            found
                .extend(rows.into_iter().filter_map(|(id, order)| {
                    order.map(|order| (order, InvoiceId::from_uuid(id)))
                }));
        }
        Ok(found)
    }

    /// Invoices sent to Billit whose outcome is not final yet, oldest poll first (the slow check).
    pub async fn open_orders(
        &self,
        scope: &TenantScope,
        limit: u64,
    ) -> Result<Vec<(InvoiceId, i64)>, DbErr> {
        let rows: Vec<(Uuid, Option<i64>)> = invoices::Entity::find()
            .select_only()
            .column(invoices::Column::Id)
            .column(invoices::Column::BillitOrderId)
            .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoices::Column::IsFinal.eq(false))
            .filter(invoices::Column::BillitOrderId.is_not_null())
            // Never read first on both backends (PostgreSQL puts NULLs last by default, SQLite first).
            .order_by_with_nulls(
                invoices::Column::LastPolledAt,
                Order::Asc,
                sea_orm::sea_query::NullOrdering::First,
            )
            .order_by(invoices::Column::Id, Order::Asc)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, order)| order.map(|order| (InvoiceId::from_uuid(id), order)))
            .collect())
    }

    pub async fn set_facts(
        &self,
        scope: &TenantScope,
        id: InvoiceId,
        facts: &InvoiceFacts,
    ) -> Result<(), DbErr> {
        self.set_columns(
            scope,
            id,
            vec![
                (
                    invoices::Column::BillitFacts,
                    Expr::value(serde_json::to_string(facts).ok()),
                ),
                (invoices::Column::LastPolledAt, Expr::value(Utc::now())),
            ],
        )
        .await
    }

    // ---- events ----

    /// Appends events, ignoring those already stored (same dedup key), and folds nothing. Returns the ones that
    /// were new. (The status ingestion appends, folds and enqueues in one [`StatusPass`].)
    pub async fn append_events(
        &self,
        scope: &TenantScope,
        invoice: InvoiceId,
        events: &[StatusEvent],
        via: &str,
    ) -> Result<Vec<StatusEvent>, DbErr> {
        // The events' foreign key names the invoice alone: the pass locks the invoice's row within the tenant
        // first, so that another tenant's scope cannot attach rows to an invoice that is not its own.
        let Some(mut pass) = self
            .begin_pass(scope, invoice, None)
            .await
            .map_err(|error| match error {
                InvoiceError::Database(error) => error,
                other => DbErr::Custom(other.to_string()),
            })?
        else {
            return Err(DbErr::RecordNotFound(format!("invoice {invoice}")));
        };
        let new = pass.append(events, via).await?;
        pass.commit().await?;
        Ok(new)
    }

    /// Replaces what an event says with what its status file says (the file is authoritative).
    pub async fn enrich_event(
        &self,
        scope: &TenantScope,
        invoice: InvoiceId,
        dedup_key: &str,
        from_file: &StatusEvent,
        details: &EventDetails,
    ) -> Result<bool, DbErr> {
        let result = enrichment(scope, invoice, dedup_key, from_file, details)
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected > 0)
    }

    pub async fn events(
        &self,
        scope: &TenantScope,
        invoice: InvoiceId,
    ) -> Result<Vec<StoredEvent>, DbErr> {
        Ok(invoice_events::Entity::find()
            .filter(invoice_events::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoice_events::Column::InvoiceId.eq(invoice.as_uuid()))
            .order_by(invoice_events::Column::At, Order::Asc)
            .order_by(invoice_events::Column::DedupKey, Order::Asc)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_event)
            .collect())
    }

    /// The event explained by `file_id`, if any (to attach a downloaded status file).
    pub async fn event_with_file(
        &self,
        scope: &TenantScope,
        invoice: InvoiceId,
        file_id: &str,
    ) -> Result<Option<StoredEvent>, DbErr> {
        Ok(invoice_events::Entity::find()
            .filter(invoice_events::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoice_events::Column::InvoiceId.eq(invoice.as_uuid()))
            .filter(invoice_events::Column::FileId.eq(file_id))
            .one(&self.db)
            .await?
            .map(to_event))
    }

    /// The event stored under `dedup_key` (as `append_events` returned it), if any.
    pub async fn event_by_key(
        &self,
        scope: &TenantScope,
        invoice: InvoiceId,
        dedup_key: &str,
    ) -> Result<Option<StoredEvent>, DbErr> {
        Ok(invoice_events::Entity::find()
            .filter(invoice_events::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoice_events::Column::InvoiceId.eq(invoice.as_uuid()))
            .filter(invoice_events::Column::DedupKey.eq(dedup_key))
            .one(&self.db)
            .await?
            .map(to_event))
    }

    /// How many of the invoice's events acknowledge a reported payment (the tax authority's `CashCollected:
    /// Recevable`, as the classification marked them).
    pub async fn payment_acknowledgements(
        &self,
        scope: &TenantScope,
        invoice: InvoiceId,
    ) -> Result<u64, DbErr> {
        invoice_events::Entity::find()
            .filter(invoice_events::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoice_events::Column::InvoiceId.eq(invoice.as_uuid()))
            .filter(invoice_events::Column::AcknowledgesPayment.eq(true))
            .filter(invoice_events::Column::Kind.eq(kind_str(EventKind::Status)))
            .filter(invoice_events::Column::Code.eq(i32::from(StatusCode::CASHED.0)))
            .count(&self.db)
            .await
    }

    /// Folds every stored event with the invoice's facts and saves the summary, in one [`StatusPass`]: two
    /// concurrent folds of one invoice are serialised by its row's lock, and the last one sees every event.
    pub async fn refold(
        &self,
        scope: &TenantScope,
        id: InvoiceId,
    ) -> Result<Option<(InvoiceSummary, InvoiceSummary)>, InvoiceError> {
        let Some(mut pass) = self.begin_pass(scope, id, None).await? else {
            return Ok(None);
        };
        let folded = pass.refold().await?;
        pass.commit().await?;
        Ok(Some(folded))
    }

    // ---- lists ----

    fn filtered(
        scope: &TenantScope,
        filter: &InvoiceFilter,
        backend: sea_orm::DatabaseBackend,
    ) -> sea_orm::Select<invoices::Entity> {
        let mut query = invoices::Entity::find()
            .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()));
        match filter.headline {
            Some(0) => query = query.filter(invoices::Column::HeadlineCode.is_null()),
            Some(code) => query = query.filter(invoices::Column::HeadlineCode.eq(i32::from(code))),
            None => {}
        }
        if let Some(state) = filter.submission {
            query = query.filter(invoices::Column::SubmissionState.eq(state.as_str()));
        }
        if filter.needs_action {
            query = query.filter(invoices::Column::NeedsAction.eq(true));
        }
        if let Some(customer) = filter.customer {
            query = query.filter(invoices::Column::CustomerId.eq(customer.as_uuid()));
        }
        if let Some(from) = filter.issued_from {
            query = query.filter(invoices::Column::IssueDate.gte(from));
        }
        if let Some(to) = filter.issued_to {
            query = query.filter(invoices::Column::IssueDate.lte(to));
        }
        // Through the search index (`invoices::search`): the matches, not the company's invoices.
        if let Some(matches) = filter
            .search
            .as_deref()
            .and_then(|typed| search::condition(scope, typed, backend))
        {
            query = query.filter(matches);
        }
        query
    }

    /// One page of the list (keyset pagination: `after` is the previous page's `next`).
    pub async fn list(
        &self,
        scope: &TenantScope,
        filter: &InvoiceFilter,
        after: Option<Cursor>,
        limit: u64,
    ) -> Result<InvoicePage, DbErr> {
        let mut rows: Vec<InvoiceRow> = self
            .page_query(scope, filter, after, limit)
            .into_partial_model::<ListedInvoice>()
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_row)
            .collect();
        let next = if rows.len() as u64 > limit {
            rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            rows.last().map(|row| Cursor {
                total_cents: row.total_incl_cents,
                id: row.id.as_uuid(),
            })
        } else {
            None
        };
        Ok(InvoicePage { rows, next })
    }

    /// The statement [`Self::list`] runs, for query-plan tests.
    pub fn list_statement(
        &self,
        scope: &TenantScope,
        filter: &InvoiceFilter,
        after: Option<Cursor>,
        limit: u64,
    ) -> sea_orm::Statement {
        self.page_query(scope, filter, after, limit)
            .into_partial_model::<ListedInvoice>()
            .into_statement(self.db.get_database_backend())
    }

    /// One page and one row more (which tells whether there is a next page).
    fn page_query(
        &self,
        scope: &TenantScope,
        filter: &InvoiceFilter,
        after: Option<Cursor>,
        limit: u64,
    ) -> sea_orm::Select<invoices::Entity> {
        let backend = self.db.get_database_backend();
        let mut query = Self::filtered(scope, filter, backend);
        let id = invoices::Column::Id;
        let total_order = search::total_order(filter.search.as_deref(), backend);
        query = match filter.sort {
            InvoiceSort::Recent => {
                if let Some(cursor) = after {
                    query = query.filter(id.lt(cursor.id));
                }
                query.order_by(id, Order::Desc)
            }
            InvoiceSort::Oldest => {
                if let Some(cursor) = after {
                    query = query.filter(id.gt(cursor.id));
                }
                query.order_by(id, Order::Asc)
            }
            // Keyset on (total, id), written as a plain range on the total and the tie-break beside it (the same
            // set), so that a next page starts in the index rather than reading the company from its top.
            InvoiceSort::TotalDesc => {
                if let Some(cursor) = after {
                    query = query
                        .filter(total_order.clone().lte(cursor.total_cents))
                        .filter(
                            Condition::any()
                                .add(total_order.clone().lt(cursor.total_cents))
                                .add(id.lt(cursor.id)),
                        );
                }
                query
                    .order_by(total_order, Order::Desc)
                    .order_by(id, Order::Desc)
            }
            InvoiceSort::TotalAsc => {
                if let Some(cursor) = after {
                    query = query
                        .filter(total_order.clone().gte(cursor.total_cents))
                        .filter(
                            Condition::any()
                                .add(total_order.clone().gt(cursor.total_cents))
                                .add(id.gt(cursor.id)),
                        );
                }
                query
                    .order_by(total_order, Order::Asc)
                    .order_by(id, Order::Asc)
            }
        };
        query.limit(limit + 1)
    }

    /// Invoices that need the supplier: open requests (207/208) oldest first, then the others (refusals,
    /// rejections, failed submissions) oldest invoice first. Two ranges of the index
    /// `(tenant_id, needs_action, open_request_since, id)` (the second only when the first leaves room), so the
    /// dashboard reads what it shows, never every invoice that needs action (sorting them all read ~1,950 pages
    /// of a 10,000-invoice company's `invoices`).
    pub async fn needs_action(
        &self,
        scope: &TenantScope,
        limit: u64,
    ) -> Result<Vec<InvoiceRow>, DbErr> {
        let waiting = || {
            invoices::Entity::find()
                .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
                .filter(invoices::Column::NeedsAction.eq(true))
        };
        let mut rows: Vec<InvoiceRow> = waiting()
            .filter(invoices::Column::OpenRequestSince.is_not_null())
            .order_by(invoices::Column::OpenRequestSince, Order::Asc)
            .order_by(invoices::Column::Id, Order::Asc)
            .limit(limit)
            .into_partial_model::<ListedInvoice>()
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_row)
            .collect();
        let room = limit.saturating_sub(u64::try_from(rows.len()).unwrap_or(u64::MAX));
        if room > 0 {
            rows.extend(
                // Ordered by the (null) time too, so that PostgreSQL reads the index in its order: it does not
                // take `IS NULL` for an equality that fixes the column's place in the order.
                waiting()
                    .filter(invoices::Column::OpenRequestSince.is_null())
                    .order_by(invoices::Column::OpenRequestSince, Order::Asc)
                    .order_by(invoices::Column::Id, Order::Asc)
                    .limit(room)
                    .into_partial_model::<ListedInvoice>()
                    .all(&self.db)
                    .await?
                    .into_iter()
                    .map(to_row),
            );
        }
        Ok(rows)
    }

    /// How many of the company's invoices are in each state: one read of the few rows the triggers keep
    /// (`invoice_counts`, migration 000021), whatever the company's size.
    pub async fn counts(&self, scope: &TenantScope) -> Result<StatusCounts, DbErr> {
        Ok(status_counts(
            crate::counts::kept_in(&self.db, scope).await?,
        ))
    }

    /// The latest events across the tenant's invoices.
    pub async fn recent_events(
        &self,
        scope: &TenantScope,
        limit: u64,
    ) -> Result<Vec<RecentEvent>, DbErr> {
        let events = invoice_events::Entity::find()
            .filter(invoice_events::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .order_by(invoice_events::Column::ReceivedAt, Order::Desc)
            .order_by(invoice_events::Column::At, Order::Desc)
            .limit(limit)
            .all(&self.db)
            .await?;
        let ids: Vec<Uuid> = events.iter().map(|event| event.invoice_id).collect();
        let invoices: std::collections::HashMap<Uuid, (Option<String>, String)> =
            invoices::Entity::find()
                .select_only()
                .column(invoices::Column::Id)
                .column(invoices::Column::Number)
                .column(invoices::Column::BuyerName)
                .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
                .filter(invoices::Column::Id.is_in(ids))
                .into_tuple::<(Uuid, Option<String>, String)>()
                .all(&self.db)
                .await?
                .into_iter()
                .map(|(id, number, buyer)| (id, (number, buyer)))
                .collect();
        Ok(events
            .into_iter()
            .map(|row| {
                let (number, buyer_name) =
                    invoices.get(&row.invoice_id).cloned().unwrap_or_default();
                RecentEvent {
                    invoice_id: InvoiceId::from_uuid(row.invoice_id),
                    number: number.unwrap_or_default(),
                    buyer_name,
                    code: code_of(row.code),
                    kind: parse_kind(&row.kind),
                    source: parse_source(&row.source),
                    at: row.at,
                    description: row.description,
                }
            })
            .collect())
    }

    /// The company's events that happened in `[from, to)`, by time then id, at most `limit` after the keyset
    /// `after` (the last one of the previous page): what the CSV export of a period's timeline streams, a page at
    /// a time (`invoice_events (tenant_id, at, id)`).
    pub async fn events_between(
        &self,
        scope: &TenantScope,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    ) -> Result<Vec<PeriodEvent>, DbErr> {
        let tenant = scope.tenant_id().as_uuid();
        let mut query = invoice_events::Entity::find()
            .filter(invoice_events::Column::TenantId.eq(tenant))
            .filter(invoice_events::Column::At.gte(from))
            .filter(invoice_events::Column::At.lt(to));
        if let Some((at, id)) = after {
            // `at >= t AND (at > t OR id > i)`: the keyset as a range the index starts at (see `list`).
            query = query.filter(invoice_events::Column::At.gte(at)).filter(
                Condition::any()
                    .add(invoice_events::Column::At.gt(at))
                    .add(invoice_events::Column::Id.gt(id)),
            );
        }
        let events = query
            .order_by(invoice_events::Column::At, Order::Asc)
            .order_by(invoice_events::Column::Id, Order::Asc)
            .limit(limit)
            .all(&self.db)
            .await?;
        let ids: Vec<Uuid> = events.iter().map(|event| event.invoice_id).collect();
        let invoices: std::collections::HashMap<Uuid, (Option<String>, String)> = if ids.is_empty()
        {
            std::collections::HashMap::new()
        } else {
            invoices::Entity::find()
                .select_only()
                .column(invoices::Column::Id)
                .column(invoices::Column::Number)
                .column(invoices::Column::BuyerName)
                .filter(invoices::Column::TenantId.eq(tenant))
                .filter(invoices::Column::Id.is_in(ids))
                .into_tuple::<(Uuid, Option<String>, String)>()
                .all(&self.db)
                .await?
                .into_iter()
                .map(|(id, number, buyer)| (id, (number, buyer)))
                .collect()
        };
        Ok(events
            .into_iter()
            .map(|row| {
                let (number, buyer_name) =
                    invoices.get(&row.invoice_id).cloned().unwrap_or_default();
                PeriodEvent {
                    id: row.id,
                    reasons: serde_json::from_str(&row.reasons).unwrap_or_default(),
                    event: RecentEvent {
                        invoice_id: InvoiceId::from_uuid(row.invoice_id),
                        number: number.unwrap_or_default(),
                        buyer_name,
                        code: code_of(row.code),
                        kind: parse_kind(&row.kind),
                        source: parse_source(&row.source),
                        at: row.at,
                        description: row.description,
                    },
                }
            })
            .collect())
    }

    // ---- the poll cursor ----

    pub async fn last_sweep(&self, scope: &TenantScope) -> Result<Option<DateTime<Utc>>, DbErr> {
        Ok(billit_sync::Entity::find_by_id(scope.tenant_id().as_uuid())
            .one(&self.db)
            .await?
            .and_then(|row| row.last_sweep_at))
    }

    pub async fn set_last_sweep(
        &self,
        scope: &TenantScope,
        at: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        billit_sync::Entity::insert(billit_sync::ActiveModel {
            tenant_id: Set(scope.tenant_id().as_uuid()),
            last_sweep_at: Set(Some(at)),
            last_full_check_at: Set(None),
        })
        .on_conflict(
            OnConflict::column(billit_sync::Column::TenantId)
                .update_column(billit_sync::Column::LastSweepAt)
                .to_owned(),
        )
        .exec(&self.db)
        .await?;
        Ok(())
    }
}

/// The counts per state from the kept rows (`(headline code or 0, submission state, needs action, count)`).
fn status_counts(rows: Vec<crate::counts::CountRow>) -> StatusCounts {
    let mut counts = StatusCounts::default();
    let mut by_headline = std::collections::BTreeMap::<u16, u64>::new();
    let mut by_submission = std::collections::BTreeMap::<&'static str, u64>::new();
    for group in rows {
        let count = u64::try_from(group.count).unwrap_or(0);
        counts.total += count;
        if group.needs_action {
            counts.needs_action += count;
        }
        match code_of(Some(group.headline_code).filter(|code| *code != 0)) {
            Some(code) => *by_headline.entry(code.0).or_default() += count,
            None => {
                let state = SubmissionState::parse(&group.submission_state)
                    .unwrap_or(SubmissionState::Draft);
                *by_submission.entry(state.as_str()).or_default() += count;
            }
        }
    }
    counts.by_headline = by_headline
        .into_iter()
        .map(|(code, count)| (StatusCode(code), count))
        .collect();
    counts.by_submission = by_submission
        .into_iter()
        .filter_map(|(state, count)| SubmissionState::parse(state).map(|s| (s, count)))
        .collect();
    counts
}

/// The update that puts what a status file says on the event it explains.
fn enrichment(
    scope: &TenantScope,
    invoice: InvoiceId,
    dedup_key: &str,
    from_file: &StatusEvent,
    details: &EventDetails,
) -> sea_orm::UpdateMany<invoice_events::Entity> {
    let mut update = invoice_events::Entity::update_many()
        .col_expr(
            invoice_events::Column::Reasons,
            Expr::value(serde_json::to_string(&from_file.reasons).unwrap_or_else(|_| "[]".into())),
        )
        .col_expr(
            invoice_events::Column::Details,
            Expr::value(serde_json::to_string(details).ok()),
        );
    if let Some(code) = from_file.code {
        update = update
            .col_expr(invoice_events::Column::Code, Expr::value(i32::from(code.0)))
            .col_expr(
                invoice_events::Column::Kind,
                Expr::value(kind_str(EventKind::Status)),
            );
    }
    if let Some(action) = &from_file.requested_action {
        update = update.col_expr(
            invoice_events::Column::RequestedAction,
            Expr::value(action.chars().take(16).collect::<String>()),
        );
    }
    if let Some(comment) = &from_file.comment {
        update = update.col_expr(
            invoice_events::Column::Comment,
            Expr::value(comment.clone()),
        );
    }
    update
        .filter(invoice_events::Column::TenantId.eq(scope.tenant_id().as_uuid()))
        .filter(invoice_events::Column::InvoiceId.eq(invoice.as_uuid()))
        .filter(invoice_events::Column::DedupKey.eq(dedup_key))
}

/// A fold's result as the invoice's summary columns hold it.
fn summary_values(summary: &InvoiceSummary) -> [(invoices::Column, sea_orm::Value); 14] {
    use sea_orm::Value;
    [
        (
            invoices::Column::HeadlineCode,
            Value::from(summary.headline.map(|code| i32::from(code.0))),
        ),
        (invoices::Column::IsFinal, Value::from(summary.is_final)),
        (
            invoices::Column::NeedsAction,
            Value::from(summary.needs_action),
        ),
        (
            invoices::Column::ActionReasons,
            Value::from(
                serde_json::to_string(&summary.action_reasons).unwrap_or_else(|_| "[]".into()),
            ),
        ),
        (
            invoices::Column::OpenRequestCode,
            Value::from(summary.open_request.map(|(code, _)| i32::from(code.0))),
        ),
        (
            invoices::Column::OpenRequestSince,
            Value::from(summary.open_request.map(|(_, since)| since)),
        ),
        (
            invoices::Column::Delivery,
            Value::from(enum_str(summary.delivery, "pending")),
        ),
        (
            invoices::Column::TaxReporting,
            Value::from(enum_str(summary.tax_reporting, "pending")),
        ),
        (
            invoices::Column::Payment,
            Value::from(enum_str(summary.payment, "unpaid")),
        ),
        (
            invoices::Column::AmountPaidCents,
            Value::from(summary.amount_paid_cents),
        ),
        (
            invoices::Column::Unclassified,
            Value::from(summary.unclassified),
        ),
        (
            invoices::Column::EventsCount,
            Value::from(summary.events_count),
        ),
        (
            invoices::Column::LastEventAt,
            Value::from(summary.last_event_at),
        ),
        (
            invoices::Column::HeadlineSince,
            Value::from(summary.headline_since),
        ),
    ]
}

/// Saves a fold's result in the invoice's summary columns.
pub(crate) async fn save_summary<C: ConnectionTrait>(
    conn: &C,
    scope: &TenantScope,
    id: InvoiceId,
    summary: &InvoiceSummary,
) -> Result<(), DbErr> {
    let mut update = invoices::Entity::update_many();
    for (column, value) in summary_values(summary) {
        update = update.col_expr(column, Expr::value(value));
    }
    update
        .col_expr(invoices::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
        .filter(invoices::Column::Id.eq(id.as_uuid()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Saves the folds of many invoices of one company in one statement: each summary column set by a `CASE` on the
/// invoice's id (the same SQL on both backends).
pub(crate) async fn save_summaries<C: ConnectionTrait>(
    conn: &C,
    scope: &TenantScope,
    folds: &[(InvoiceId, InvoiceSummary)],
) -> Result<(), DbErr> {
    match folds {
        [] => return Ok(()),
        [(id, summary)] => return save_summary(conn, scope, *id, summary).await,
        _ => {}
    }
    let rows: Vec<(Uuid, [(invoices::Column, sea_orm::Value); 14])> = folds
        .iter()
        .map(|(id, summary)| (id.as_uuid(), summary_values(summary)))
        .collect();
    let mut update = invoices::Entity::update_many();
    for (index, (column, _)) in rows[0].1.iter().enumerate() {
        let mut case = sea_orm::sea_query::CaseStatement::new();
        for (id, values) in &rows {
            case = case.case(
                Expr::col(invoices::Column::Id).eq(*id),
                Expr::value(values[index].1.clone()),
            );
        }
        update = update.col_expr(*column, case.finally(Expr::col(*column)).into());
    }
    update
        .col_expr(invoices::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
        .filter(invoices::Column::Id.is_in(rows.iter().map(|(id, _)| *id)))
        .exec(conn)
        .await?;
    Ok(())
}

/// The stored form of an event (the seed writes the same rows in bulk).
pub(crate) fn event_row(
    tenant: Uuid,
    invoice: InvoiceId,
    event: &StatusEvent,
    via: &str,
    received_at: DateTime<Utc>,
) -> invoice_events::ActiveModel {
    invoice_events::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant),
        invoice_id: Set(invoice.as_uuid()),
        dedup_key: Set(event.dedup_key.clone()),
        code: Set(event.code.map(|code| i32::from(code.0))),
        kind: Set(kind_str(event.kind)),
        source: Set(source_str(event.source)),
        at: Set(event.at),
        description: Set(event.description.clone()),
        reasons: Set(serde_json::to_string(&event.reasons).unwrap_or_else(|_| "[]".into())),
        requested_action: Set(event
            .requested_action
            .as_ref()
            .map(|action| action.chars().take(16).collect())),
        comment: Set(event.comment.clone()),
        file_id: Set(event.file_id.clone()),
        amount: Set(event.amount.map(|amount| amount.to_string())),
        details: Set(None),
        via: Set(via.to_owned()),
        received_at: Set(received_at),
        acknowledges_payment: Set(event.acknowledges_payment),
    }
}

/// The summary columns for a fold's result (a failed submission needs action too).
pub fn summary_from(lifecycle: &Lifecycle, submission_failed: bool) -> InvoiceSummary {
    let mut action_reasons = lifecycle.action_reasons.clone();
    if submission_failed && !action_reasons.contains(&ActionReason::SubmissionFailing) {
        action_reasons.push(ActionReason::SubmissionFailing);
    }
    InvoiceSummary {
        headline: lifecycle.current,
        is_final: lifecycle.is_final,
        needs_action: lifecycle.needs_action || submission_failed,
        action_reasons,
        open_request: lifecycle
            .open_request
            .as_ref()
            .map(|request| (request.code, request.since)),
        delivery: lifecycle.delivery,
        tax_reporting: lifecycle.tax_reporting,
        payment: lifecycle.payment,
        amount_paid_cents: (lifecycle.amount_paid * Decimal::ONE_HUNDRED)
            .round()
            .try_into()
            .unwrap_or(0),
        unclassified: i32::try_from(lifecycle.unclassified).unwrap_or(i32::MAX),
        events_count: i32::try_from(lifecycle.timeline.len()).unwrap_or(i32::MAX),
        last_event_at: lifecycle.timeline.last().map(|event| event.at),
        headline_since: lifecycle.headline_since(),
    }
}

/// Sets some columns of one of the tenant's invoices (and its `updated_at`) on `conn`.
async fn set_columns_in<C: sea_orm::ConnectionTrait>(
    conn: &C,
    scope: &TenantScope,
    id: InvoiceId,
    columns: Vec<(invoices::Column, sea_orm::sea_query::SimpleExpr)>,
) -> Result<(), DbErr> {
    let mut update = invoices::Entity::update_many()
        .col_expr(invoices::Column::UpdatedAt, Expr::value(Utc::now()));
    for (column, value) in columns {
        update = update.col_expr(column, value);
    }
    update
        .filter(invoices::Column::TenantId.eq(scope.tenant_id().as_uuid()))
        .filter(invoices::Column::Id.eq(id.as_uuid()))
        .exec(conn)
        .await?;
    Ok(())
}

/// The columns of a failed submission (`message` is the failure's code).
fn failed_columns(message: &str) -> Vec<(invoices::Column, sea_orm::sea_query::SimpleExpr)> {
    vec![
        (
            invoices::Column::SubmissionState,
            Expr::value(SubmissionState::Failed.as_str()),
        ),
        (
            invoices::Column::SubmissionError,
            Expr::value(message.to_owned()),
        ),
        (invoices::Column::NeedsAction, Expr::value(true)),
        // The same reason `summary_from` gives a failed submission, so lists filtering on it agree before
        // any status arrives.
        (
            invoices::Column::ActionReasons,
            Expr::value(
                serde_json::to_string(&[ActionReason::SubmissionFailing])
                    .unwrap_or_else(|_| "[]".into()),
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_formats_and_recognises_its_own_numbers() {
        let settings = NumberingSettings::default();
        let number = settings.format(DocumentType::Invoice, 2026, 42);
        assert_eq!(number, "F2026-00042");
        assert_eq!(
            settings.value_of(DocumentType::Invoice, 2026, &number),
            Some(42)
        );
        assert_eq!(
            settings.value_of(DocumentType::Invoice, 2025, &number),
            None
        );
        assert_eq!(
            settings.value_of(DocumentType::CreditNote, 2026, &number),
            None
        );
        assert_eq!(
            settings.value_of(DocumentType::Invoice, 2026, "F2026-12a"),
            None
        );
    }

    #[test]
    fn cursors_round_trip() {
        let cursor = Cursor {
            total_cents: -12,
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("nonsense"), None);
    }
}
