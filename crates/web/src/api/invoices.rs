//! `/api/v1/invoices`: invoices and credit notes. A draft is created or replaced from JSON only when it passes
//! the checks the editor runs before sending (422 with every problem otherwise, nothing saved); it is submitted
//! with an `Idempotency-Key` (the first answer is kept in the database and replayed); one is read with its summary
//! and timeline, listed with the list page's filters and a keyset cursor, or found by its number.

use super::auth::{Caller, Writer, idempotency_key};
use super::problem::{ApiError, FieldProblem, Problem, snake};
use super::{audit, json, limit_of, once, parse_json, via_token};
use crate::forms::parse_date;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use portal_app::invoicing::drafts::{self, Author, SaveError, problems_of, rate_set_for};
use portal_app::invoicing::submit::{self, QueueError};
use portal_app::settlements::LinkRefusal;
use portal_domain::Language;
use portal_domain::identifiers::Siren;
use portal_domain::ids::{CustomerId, InvoiceId};
use portal_domain::invoice::{
    Address, BuyerDraft, DocumentType, InvoiceDraft, LineDraft, Problem as DomainProblem,
    ProblemCode,
};
use portal_domain::money::ExemptionReason;
use portal_domain::status::StatusCode as Status;
use portal_persistence::audit::AuditEntry;
use portal_persistence::invoices::{
    Cursor, InvoiceFilter, InvoiceRecord, InvoiceRow, InvoiceSort, StoredEvent, SubmissionState,
    document_type_str,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

// ---- what comes in ----

/// An invoice or credit note to create, or to replace a draft with.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceBody {
    /// `invoice` (default) or `credit_note` (BT-3).
    #[serde(default)]
    pub document_type: Option<String>,
    /// Number (BT-1): at most 35 letters, digits, spaces and `- + _ /`, unique in its year.
    pub number: String,
    /// Issue date, `YYYY-MM-DD` (BT-2).
    #[serde(default)]
    pub issue_date: Option<String>,
    /// Due date (BT-9).
    #[serde(default)]
    pub due_date: Option<String>,
    /// Delivery date (BT-72).
    #[serde(default)]
    pub delivery_date: Option<String>,
    /// Paid when issued, on this day (BT-113 is then the whole total).
    #[serde(default)]
    pub paid_at_issue: Option<String>,
    /// Currency (BT-5), `EUR` when left out.
    #[serde(default)]
    pub currency: Option<String>,
    /// One of the company's customers; its details are the buyer's when `buyer` is left out.
    #[serde(default)]
    pub customer_id: Option<Uuid>,
    /// The buyer as it appears on the invoice.
    #[serde(default)]
    pub buyer: Option<BuyerBody>,
    pub lines: Vec<LineBody>,
    /// Purchase order reference (BT-13).
    #[serde(default)]
    pub purchase_order: Option<String>,
    /// Contract reference (BT-12).
    #[serde(default)]
    pub contract: Option<String>,
    /// Buyer reference (BT-10).
    #[serde(default)]
    pub buyer_reference: Option<String>,
    /// Notes (BT-22).
    #[serde(default)]
    pub notes: Vec<String>,
    /// For a credit note: the number of the invoice it corrects (BT-25); set from `related_invoice_id` when given.
    #[serde(default)]
    pub corrects: Option<String>,
    /// The company's invoice this credit note or corrected invoice settles (checked like on the pages).
    #[serde(default)]
    pub related_invoice_id: Option<Uuid>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyerBody {
    /// BT-44.
    #[serde(default)]
    pub legal_name: String,
    /// BT-47.
    #[serde(default)]
    pub siren: String,
    #[serde(default)]
    pub siret: String,
    /// BT-48.
    #[serde(default)]
    pub vat_number: String,
    /// BT-49, `scheme:value` (`0225:732829320`).
    #[serde(default)]
    pub electronic_address: String,
    #[serde(default)]
    pub contact_emails: Vec<String>,
    #[serde(default)]
    pub address: super::customers::AddressBody,
    /// `fr` or `en`.
    #[serde(default)]
    pub language: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    /// BT-153.
    pub description: String,
    /// BT-129, an exact decimal as text (`"3"`, `"1.5"`).
    pub quantity: String,
    /// BT-130 (`C62`, `HUR`…), `C62` when left out.
    #[serde(default)]
    pub unit: Option<String>,
    /// BT-146, excluding VAT, an exact decimal as text.
    pub unit_price: String,
    /// BT-152, in percent (`"20"`, `"5.5"`).
    pub vat_rate: String,
    /// With 0 %: `franchise_en_base`, `exempt_article_261`, `reverse_charge`, `intra_community_supply`, `export`,
    /// `outside_scope`, or a VATEX code (BT-121).
    #[serde(default)]
    pub exemption: Option<String>,
}

/// The draft a body describes, its customer, and what could not even be read (dates, exemptions).
struct Parsed {
    draft: InvoiceDraft,
    customer: Option<CustomerId>,
    problems: Vec<FieldProblem>,
}

fn date(
    text: Option<&str>,
    field: &str,
    term: &str,
    problems: &mut Vec<FieldProblem>,
) -> Option<NaiveDate> {
    let text = text.map(str::trim).filter(|text| !text.is_empty())?;
    let parsed = parse_date(text);
    if parsed.is_none() {
        problems.push(FieldProblem::keyed(
            field,
            Some(term),
            "date_invalid",
            "editor.date_invalid",
            &[],
        ));
    }
    parsed
}

fn exemption(text: &str) -> Option<ExemptionReason> {
    let text = text.trim();
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .ok()
        .or_else(|| ExemptionReason::from_vatex(text))
}

impl InvoiceBody {
    fn parse(&self, seller_siren: Option<Siren>, buyer_default: Option<BuyerDraft>) -> Parsed {
        let mut problems = Vec::new();
        let document_type = match self.document_type.as_deref().map(str::trim) {
            None | Some("") | Some("invoice") => DocumentType::Invoice,
            Some("credit_note") => DocumentType::CreditNote,
            Some(_) => {
                problems.push(FieldProblem::keyed(
                    "document_type",
                    Some("BT-3"),
                    "invalid",
                    "api.invalid_value",
                    &[],
                ));
                DocumentType::Invoice
            }
        };
        let issue_date = date(
            self.issue_date.as_deref(),
            "issue_date",
            "BT-2",
            &mut problems,
        );
        let due_date = date(self.due_date.as_deref(), "due_date", "BT-9", &mut problems);
        let delivery_date = date(
            self.delivery_date.as_deref(),
            "delivery_date",
            "BT-72",
            &mut problems,
        );
        let paid_at_issue = date(
            self.paid_at_issue.as_deref(),
            "paid_at_issue",
            "BT-113",
            &mut problems,
        );
        let lines: Vec<LineDraft> = self
            .lines
            .iter()
            .enumerate()
            .map(|(index, line)| {
                let exemption = match line.exemption.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(text) => {
                        let found = exemption(text);
                        if found.is_none() {
                            problems.push(FieldProblem::keyed(
                                format!("lines[{index}].exemption"),
                                Some("BT-121"),
                                "invalid",
                                "api.invalid_value",
                                &[],
                            ));
                        }
                        found
                    }
                };
                LineDraft {
                    description: line.description.trim().to_owned(),
                    quantity: line.quantity.trim().to_owned(),
                    unit: line
                        .unit
                        .as_deref()
                        .map(str::trim)
                        .filter(|unit| !unit.is_empty())
                        .unwrap_or("C62")
                        .to_owned(),
                    unit_price: line.unit_price.trim().to_owned(),
                    vat_rate: line.vat_rate.trim().to_owned(),
                    exemption,
                }
            })
            .collect();
        let buyer = match (&self.buyer, buyer_default) {
            (Some(buyer), _) => BuyerDraft {
                legal_name: buyer.legal_name.trim().to_owned(),
                siren: buyer.siren.trim().to_owned(),
                siret: buyer.siret.trim().to_owned(),
                vat_number: buyer.vat_number.trim().to_owned(),
                electronic_address: buyer.electronic_address.trim().to_owned(),
                contact_emails: buyer
                    .contact_emails
                    .iter()
                    .map(|email| email.trim().to_owned())
                    .filter(|email| !email.is_empty())
                    .collect(),
                address: Address {
                    street: buyer.address.street.trim().to_owned(),
                    additional: buyer.address.additional.trim().to_owned(),
                    postcode: buyer.address.postcode.trim().to_owned(),
                    city: buyer.address.city.trim().to_owned(),
                    country_code: match buyer.address.country.trim() {
                        "" => "FR".to_owned(),
                        country => country.to_owned(),
                    },
                },
                language: Language::parse(&buyer.language).unwrap_or_default(),
            },
            (None, Some(default)) => default,
            (None, None) => BuyerDraft::default(),
        };
        let text = |value: &Option<String>| value.as_deref().unwrap_or_default().trim().to_owned();
        let draft = InvoiceDraft {
            document_type,
            corrects: match document_type {
                DocumentType::CreditNote => text(&self.corrects),
                DocumentType::Invoice => String::new(),
            },
            number: self.number.trim().to_owned(),
            issue_date,
            due_date,
            delivery_date,
            currency: match text(&self.currency).to_ascii_uppercase() {
                currency if currency.is_empty() => "EUR".to_owned(),
                currency => currency,
            },
            seller_siren,
            vat_rate_set: rate_set_for(&lines),
            buyer,
            lines,
            purchase_order: text(&self.purchase_order),
            contract: text(&self.contract),
            buyer_reference: text(&self.buyer_reference),
            notes: self
                .notes
                .iter()
                .map(|note| note.trim().to_owned())
                .filter(|note| !note.is_empty())
                .collect(),
            paid_at_issue,
        };
        Parsed {
            draft,
            customer: self.customer_id.map(CustomerId::from_uuid),
            problems,
        }
    }
}

/// Where a domain problem is in the request (`lines[2].vat_rate`).
fn field_of(problem: &DomainProblem) -> String {
    let index = problem.position.unwrap_or_default();
    let line = |name: &str| format!("lines[{index}].{name}");
    match problem.code {
        ProblemCode::NumberInvalid | ProblemCode::NumberNotUnique => "number".to_owned(),
        ProblemCode::IssueDateMissing => "issue_date".to_owned(),
        ProblemCode::DueBeforeIssue => "due_date".to_owned(),
        ProblemCode::CurrencyInvalid => "currency".to_owned(),
        ProblemCode::SellerSirenMissing => String::new(),
        ProblemCode::BuyerNameMissing => "buyer.legal_name".to_owned(),
        ProblemCode::BuyerSirenMissing | ProblemCode::BuyerSirenInvalid => "buyer.siren".to_owned(),
        ProblemCode::BuyerSiretInvalid | ProblemCode::BuyerSiretMismatch => {
            "buyer.siret".to_owned()
        }
        ProblemCode::BuyerVatInvalid | ProblemCode::BuyerVatMismatch => {
            "buyer.vat_number".to_owned()
        }
        ProblemCode::ElectronicAddressMissing | ProblemCode::ElectronicAddressInvalid => {
            "buyer.electronic_address".to_owned()
        }
        ProblemCode::EmailInvalid => format!("buyer.contact_emails[{index}]"),
        ProblemCode::CountryInvalid => "buyer.address.country".to_owned(),
        ProblemCode::LinesMissing | ProblemCode::TotalZero | ProblemCode::TotalTooLarge => {
            "lines".to_owned()
        }
        ProblemCode::LineDescriptionMissing => line("description"),
        ProblemCode::QuantityInvalid => line("quantity"),
        ProblemCode::UnitPriceInvalid => line("unit_price"),
        ProblemCode::VatRateInvalid | ProblemCode::VatRateNotAllowed => line("vat_rate"),
        ProblemCode::ExemptionReasonMissing | ProblemCode::ExemptionReasonUnexpected => {
            line("exemption")
        }
        ProblemCode::CreditNoteReferenceMissing | ProblemCode::CreditNoteReferenceInvalid => {
            "corrects".to_owned()
        }
    }
}

/// A domain problem as the API shows it: the editor's words (`BT-1 · …` without the term, which has its field).
pub fn field_problem(problem: &DomainProblem) -> FieldProblem {
    FieldProblem::new(
        field_of(problem),
        Some(problem.term),
        &snake(&problem.code),
        super::problem::capitalised(problem.message(Language::Fr)),
        super::problem::capitalised(problem.message(Language::En)),
    )
}

// ---- what goes out ----

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusOut {
    /// The official code (e.g. 207).
    pub code: u16,
    pub label_fr: String,
    pub label_en: String,
}

fn status_out(code: Status) -> StatusOut {
    StatusOut {
        code: code.0,
        label_fr: code.label(Language::Fr),
        label_en: code.label(Language::En),
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenRequestOut {
    pub status: StatusOut,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotalsOut {
    /// Exact decimals as text (`"350.50"`).
    pub excl: String,
    pub vat: String,
    pub incl: String,
}

fn cents(value: i64) -> String {
    rust_decimal::Decimal::new(value, 2).to_string()
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmissionOut {
    /// `draft`, `queued`, `sending`, `sent` or `failed`.
    pub state: String,
    /// Why the submission failed or is late, as a stable code (`billit.refused:<Billit's words>`…).
    pub error: Option<String>,
    pub attempts: i32,
    pub billit_order_id: Option<i64>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// What the statuses say (the invoice page's headline and tracks).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SummaryOut {
    /// The headline status; null when nothing came back yet.
    pub headline: Option<StatusOut>,
    /// 210, 213, 251 or 501: no business status changes the outcome any more.
    #[serde(rename = "final")]
    pub is_final: bool,
    pub needs_action: bool,
    /// Why: `open_dispute`, `open_suspension`, `refused`, `rejected`, `not_receivable`, `tax_data_rejected`,
    /// `submission_failing`.
    pub action_reasons: Vec<String>,
    /// An open 207 or 208.
    pub open_request: Option<OpenRequestOut>,
    /// `pending`, `delivered`, `failed`.
    pub delivery: String,
    /// `pending`, `done`, `failed`.
    pub tax_reporting: String,
    /// `unpaid`, `partial`, `paid`.
    pub payment: String,
    pub amount_paid: String,
    pub unclassified_events: i32,
    pub last_event_at: Option<DateTime<Utc>>,
}

/// One event of the timeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventOut {
    /// Null for an informational or unclassified event.
    pub status: Option<StatusOut>,
    /// `status`, `tax_data_sent`, `tax_reporting_done`, `unclassified`.
    pub kind: String,
    /// `supplier`, `seller_platform`, `ppf`, `buyer_platform`, `buyer`, `unknown`.
    pub source: String,
    pub at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// Billit's own words.
    pub description: String,
    pub reasons: Vec<String>,
    pub requested_action: Option<String>,
    pub comment: Option<String>,
}

fn event_out(stored: &StoredEvent) -> EventOut {
    let event = &stored.event;
    EventOut {
        status: event.code.map(status_out),
        kind: snake(&event.kind),
        source: snake(&event.source),
        at: event.at,
        received_at: stored.received_at,
        description: event.description.clone(),
        reasons: event.reasons.clone(),
        requested_action: event.requested_action.clone(),
        comment: event.comment.clone(),
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineOut {
    pub description: String,
    pub quantity: String,
    pub unit: String,
    pub unit_price: String,
    pub vat_rate: String,
    pub exemption: Option<String>,
}

/// An invoice or credit note with its summary and its timeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceOut {
    pub id: Uuid,
    /// `invoice` or `credit_note`.
    pub document_type: String,
    pub number: String,
    pub issue_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub delivery_date: Option<NaiveDate>,
    pub paid_at_issue: Option<NaiveDate>,
    pub currency: String,
    pub customer_id: Option<Uuid>,
    pub buyer: BuyerBody,
    pub lines: Vec<LineOut>,
    pub purchase_order: String,
    pub contract: String,
    pub buyer_reference: String,
    pub notes: Vec<String>,
    pub corrects: String,
    pub related_invoice_id: Option<Uuid>,
    pub totals: TotalsOut,
    pub submission: SubmissionOut,
    pub summary: SummaryOut,
    /// Every status event, oldest first.
    pub timeline: Vec<EventOut>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn summary_out(record: &InvoiceRecord) -> SummaryOut {
    let summary = &record.summary;
    SummaryOut {
        headline: summary.headline.map(status_out),
        is_final: summary.is_final,
        needs_action: summary.needs_action,
        action_reasons: summary.action_reasons.iter().map(snake).collect(),
        open_request: summary.open_request.map(|(code, since)| OpenRequestOut {
            status: status_out(code),
            since,
        }),
        delivery: snake(&summary.delivery),
        tax_reporting: snake(&summary.tax_reporting),
        payment: snake(&summary.payment),
        amount_paid: cents(summary.amount_paid_cents),
        unclassified_events: summary.unclassified,
        last_event_at: summary.last_event_at,
    }
}

pub fn invoice_out(record: &InvoiceRecord, events: &[StoredEvent]) -> InvoiceOut {
    let draft = &record.draft;
    InvoiceOut {
        id: record.id.as_uuid(),
        document_type: document_type_str(draft.document_type).to_owned(),
        number: draft.number.clone(),
        issue_date: draft.issue_date,
        due_date: draft.due_date,
        delivery_date: draft.delivery_date,
        paid_at_issue: draft.paid_at_issue,
        currency: draft.currency.clone(),
        customer_id: record.customer_id.map(|id| id.as_uuid()),
        buyer: BuyerBody {
            legal_name: draft.buyer.legal_name.clone(),
            siren: draft.buyer.siren.clone(),
            siret: draft.buyer.siret.clone(),
            vat_number: draft.buyer.vat_number.clone(),
            electronic_address: draft.buyer.electronic_address.clone(),
            contact_emails: draft.buyer.contact_emails.clone(),
            address: super::customers::AddressBody {
                street: draft.buyer.address.street.clone(),
                additional: draft.buyer.address.additional.clone(),
                postcode: draft.buyer.address.postcode.clone(),
                city: draft.buyer.address.city.clone(),
                country: draft.buyer.address.country_code.clone(),
            },
            language: draft.buyer.language.code().to_owned(),
        },
        lines: draft
            .lines
            .iter()
            .map(|line| LineOut {
                description: line.description.clone(),
                quantity: line.quantity.clone(),
                unit: line.unit.clone(),
                unit_price: line.unit_price.clone(),
                vat_rate: line.vat_rate.clone(),
                exemption: line.exemption.map(|reason| snake(&reason)),
            })
            .collect(),
        purchase_order: draft.purchase_order.clone(),
        contract: draft.contract.clone(),
        buyer_reference: draft.buyer_reference.clone(),
        notes: draft.notes.clone(),
        corrects: draft.corrects.clone(),
        related_invoice_id: record.related.map(|(id, _)| id.as_uuid()),
        totals: TotalsOut {
            excl: cents(record.totals.excl),
            vat: cents(record.totals.vat),
            incl: cents(record.totals.incl),
        },
        submission: SubmissionOut {
            state: record.submission.as_str().to_owned(),
            error: record.submission_error.clone(),
            attempts: record.submission_attempts,
            billit_order_id: record.billit_order_id,
            submitted_at: record.submitted_at,
            sent_at: record.sent_at,
        },
        summary: summary_out(record),
        timeline: events.iter().map(event_out).collect(),
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}

/// One row of the list.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceItem {
    pub id: Uuid,
    pub document_type: String,
    pub number: String,
    pub buyer_name: String,
    pub customer_id: Option<Uuid>,
    pub issue_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub total_incl: String,
    pub currency: String,
    /// `draft`, `queued`, `sending`, `sent` or `failed`.
    pub submission_state: String,
    pub headline: Option<StatusOut>,
    pub needs_action: bool,
    pub action_reasons: Vec<String>,
    pub open_request: Option<OpenRequestOut>,
    pub payment: String,
    pub last_event_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn item_out(row: &InvoiceRow) -> InvoiceItem {
    InvoiceItem {
        id: row.id.as_uuid(),
        document_type: document_type_str(row.document_type).to_owned(),
        number: row.number.clone(),
        buyer_name: row.buyer_name.clone(),
        customer_id: row.customer_id.map(|id| id.as_uuid()),
        issue_date: row.issue_date,
        due_date: row.due_date,
        total_incl: cents(row.total_incl_cents),
        currency: row.currency.clone(),
        submission_state: row.submission.as_str().to_owned(),
        headline: row.headline.map(status_out),
        needs_action: row.needs_action,
        action_reasons: row.action_reasons.iter().map(snake).collect(),
        open_request: row.open_request.map(|(code, since)| OpenRequestOut {
            status: status_out(code),
            since,
        }),
        payment: snake(&row.payment),
        last_event_at: row.last_event_at,
        created_at: row.created_at,
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceList {
    pub items: Vec<InvoiceItem>,
    /// Give it as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InvoiceQuery {
    /// A headline status code (`207`), or `none` for documents with no status yet.
    pub status: Option<String>,
    /// `draft`, `queued`, `sending`, `sent` or `failed`.
    pub state: Option<String>,
    /// Only those that need the supplier.
    pub needs_action: Option<bool>,
    pub customer_id: Option<Uuid>,
    /// Issued on or after, `YYYY-MM-DD`.
    pub issued_from: Option<NaiveDate>,
    /// Issued on or before.
    pub issued_to: Option<NaiveDate>,
    /// Part of the number or of the customer's name.
    pub q: Option<String>,
    /// `recent` (default), `oldest`, `total_desc`, `total_asc`.
    pub sort: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 100 (50).
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NumberQuery {
    /// The document's number (BT-1).
    pub number: String,
}

// ---- handlers ----

async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<InvoiceRecord, ApiError> {
    let id = InvoiceId::parse(id.trim()).ok_or(ApiError::NotFound)?;
    state
        .invoices
        .get(&caller.scope, id)
        .await?
        .ok_or(ApiError::NotFound)
}

async fn with_timeline(
    state: &AppState,
    caller: &Caller,
    record: &InvoiceRecord,
) -> Result<InvoiceOut, ApiError> {
    let events = state.invoices.events(&caller.scope, record.id).await?;
    Ok(invoice_out(record, &events))
}

/// Checks a body like the editor before sending, then saves the draft (new, or over `existing`).
async fn save(
    state: &AppState,
    req: &HttpRequest,
    caller: &Caller,
    existing: Option<&InvoiceRecord>,
    body: &[u8],
) -> Result<InvoiceRecord, ApiError> {
    let body: InvoiceBody = parse_json(body)?;
    // The buyer of a customer of this company, when only the customer is named.
    let mut problems = Vec::new();
    let buyer_default = match (body.customer_id, &body.buyer) {
        (Some(customer), None) => {
            match state
                .invoices
                .get_buyer(&caller.scope, CustomerId::from_uuid(customer))
                .await?
            {
                Some((_, buyer)) => Some(buyer),
                None => {
                    problems.push(FieldProblem::keyed(
                        "customer_id",
                        None,
                        "unknown",
                        "api.customer_unknown",
                        &[],
                    ));
                    None
                }
            }
        }
        _ => None,
    };
    // The invoice a credit note or corrected invoice settles: the body's, else the draft's stored link.
    let original = body
        .related_invoice_id
        .map(InvoiceId::from_uuid)
        .or_else(|| existing.and_then(|record| record.related.map(|(id, _)| id)));
    let original = match original {
        Some(id) => match state.invoices.get(&caller.scope, id).await? {
            Some(record) => Some(record),
            None => {
                problems.push(FieldProblem::keyed(
                    "related_invoice_id",
                    Some("BT-25"),
                    "unknown",
                    "api.original_unknown",
                    &[],
                ));
                None
            }
        },
        None => None,
    };
    let seller = Siren::parse(&caller.tenant.siren).ok();
    let mut parsed = body.parse(seller, buyer_default);
    problems.append(&mut parsed.problems);
    if let Some(original) = &original
        && parsed.draft.document_type == DocumentType::CreditNote
    {
        // Billit's `AboutInvoiceNumber` is the original's number, whatever was written.
        parsed.draft.corrects = original.number().to_owned();
    }
    let taken = match drafts::issue_year(&parsed.draft) {
        Some(year) if !parsed.draft.number.is_empty() => {
            state
                .invoices
                .number_taken(
                    &caller.scope,
                    year,
                    &parsed.draft.number,
                    existing.map(|record| record.id),
                )
                .await?
        }
        _ => false,
    };
    problems.extend(problems_of(&parsed.draft, taken).iter().map(field_problem));
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let author = Author {
        user: caller.author(),
        ip: crate::extract::client_ip(req),
    };
    let id = match drafts::save(
        state,
        &caller.scope,
        existing,
        parsed.draft,
        parsed.customer,
        original.as_ref(),
        &author,
    )
    .await
    {
        Ok(id) => id,
        Err(SaveError::NumberTaken) => {
            return Err(ApiError::Validation(vec![FieldProblem::keyed(
                "number",
                Some("BT-1"),
                "number_not_unique",
                "api.number_taken",
                &[],
            )]));
        }
        Err(SaveError::Link(LinkRefusal::OverLimit {
            remaining_cents, ..
        })) => {
            let currency = original
                .as_ref()
                .map(|original| original.draft.currency.clone())
                .unwrap_or_default();
            return Err(ApiError::Validation(vec![FieldProblem::keyed(
                "lines",
                None,
                "over_credit_limit",
                "api.over_credit",
                &[(
                    "remaining",
                    &format!("{} {currency}", cents(remaining_cents)),
                )],
            )]));
        }
        Err(other) => return Err(ApiError::from_failure(other)),
    };
    state
        .invoices
        .get(&caller.scope, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Creates a draft invoice or credit note, if it passes the checks before sending.
#[utoipa::path(
    post, path = "/api/v1/invoices", tag = "invoices",
    request_body = InvoiceBody,
    responses(
        (status = 201, description = "The draft", body = InvoiceOut),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Read-only token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Refused by the rules (a credit note of an invoice that cannot be credited)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Every problem, with field, business term and words", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    Writer(caller): Writer,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let record = save(&state, &req, &caller, None, &body).await?;
    json(StatusCode::CREATED, &invoice_out(&record, &[]))
}

/// Replaces a draft (or a failed submission Billit created no order for).
#[utoipa::path(
    put, path = "/api/v1/invoices/{id}", tag = "invoices",
    params(("id" = Uuid, Path, description = "The invoice's id")),
    request_body = InvoiceBody,
    responses(
        (status = 200, description = "The draft", body = InvoiceOut),
        (status = 404, description = "Not a document of this company", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No longer editable", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Every problem", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    Writer(caller): Writer,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let existing = find(&state, &caller, &path).await?;
    // The table of actions first: a sent invoice is refused whatever the body says.
    if let Err(refusal) = portal_domain::actions::decide(
        portal_domain::actions::Action::Edit,
        &portal_app::actions::without_amounts(&existing),
    ) {
        return Err(ApiError::Refused(super::problem::Refused::Table(refusal)));
    }
    let record = save(&state, &req, &caller, Some(&existing), &body).await?;
    let out = with_timeline(&state, &caller, &record).await?;
    json(StatusCode::OK, &out)
}

/// Queues a draft (or a failed submission) for sending to Billit. Requires an `Idempotency-Key`: a repeat with
/// the same key answers the first answer again (`Idempotent-Replayed: true`), and never queues twice.
#[utoipa::path(
    post, path = "/api/v1/invoices/{id}/submit", tag = "invoices",
    params(
        ("id" = Uuid, Path, description = "The invoice's id"),
        ("Idempotency-Key" = String, Header, description = "1 to 255 visible characters, unique per submission"),
    ),
    responses(
        (status = 202, description = "Queued: statuses follow", body = InvoiceOut),
        (status = 400, description = "No Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a document of this company", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Refused (already sent, buyer unreachable…) or the key's first request still runs", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Problems before sending, or the key was used for another request", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    Writer(caller): Writer,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let record = find(&state, &caller, &path).await?;
    let request = format!("submit:{}", record.id);
    once(&state, &caller, &key, request, || async {
        let entry: AuditEntry = audit(
            &req,
            &caller,
            "invoice.submitted",
            format!("invoice:{}", record.id),
        )
        .details(serde_json::json!({ "number": record.number(), "api_token": via_token(&caller) }));
        let queued = match submit::queue(
            &state,
            &caller.scope,
            &caller.tenant.siren,
            &record,
            Some(entry),
        )
        .await
        {
            Ok(queued) => queued,
            Err(QueueError::Problems(problems)) => {
                return Err(ApiError::Validation(
                    problems.iter().map(field_problem).collect(),
                ));
            }
            Err(QueueError::BuyerUnreachable { address }) => {
                return Err(ApiError::refused(
                    "api.buyer_unreachable",
                    vec![("address", address)],
                ));
            }
            Err(QueueError::DirectoryUnavailable(error)) => {
                use portal_domain::Localized;
                return Err(ApiError::refused(
                    "api.directory_unavailable",
                    vec![("reason", error.message(Language::En))],
                ));
            }
            Err(QueueError::OverCreditLimit { remaining_cents }) => {
                return Err(ApiError::refused(
                    "api.over_credit",
                    vec![(
                        "remaining",
                        format!("{} {}", cents(remaining_cents), record.draft.currency),
                    )],
                ));
            }
            Err(QueueError::NotSubmittable) => {
                return Err(ApiError::refused("api.not_submittable", Vec::new()));
            }
            Err(other) => return Err(ApiError::from_failure(other)),
        };
        let out = with_timeline(&state, &caller, &queued).await?;
        Ok((StatusCode::ACCEPTED, serde_json::to_value(out)?))
    })
    .await
}

/// One document with its summary and timeline.
#[utoipa::path(
    get, path = "/api/v1/invoices/{id}", tag = "invoices",
    params(("id" = Uuid, Path, description = "The invoice's id")),
    responses(
        (status = 200, description = "The document", body = InvoiceOut),
        (status = 404, description = "Not a document of this company", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let record = find(&state, &caller, &path).await?;
    let out = with_timeline(&state, &caller, &record).await?;
    json(StatusCode::OK, &out)
}

/// The document with this number (the most recent year's when several years use it).
#[utoipa::path(
    get, path = "/api/v1/invoices/lookup", tag = "invoices",
    params(NumberQuery),
    responses(
        (status = 200, description = "The document", body = InvoiceOut),
        (status = 404, description = "No document of this company has this number", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn by_number(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<NumberQuery>,
) -> Result<HttpResponse, ApiError> {
    let record = state
        .invoices
        .find_by_number(&caller.scope, &query.number)
        .await?
        .ok_or(ApiError::NotFound)?;
    let out = with_timeline(&state, &caller, &record).await?;
    json(StatusCode::OK, &out)
}

/// The company's documents with the list page's filters, page by page.
#[utoipa::path(
    get, path = "/api/v1/invoices", tag = "invoices",
    params(InvoiceQuery),
    responses(
        (status = 200, description = "A page of documents", body = InvoiceList),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<InvoiceQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = limit_of(query.limit)?;
    let headline = match query.status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("none") => Some(0),
        Some(code) => Some(
            code.parse::<u16>()
                .ok()
                .filter(|code| *code > 0)
                .ok_or_else(|| ApiError::InvalidQuery("status".to_owned()))?,
        ),
    };
    let submission = match query.state.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(
            SubmissionState::parse(text)
                .ok_or_else(|| ApiError::InvalidQuery("state".to_owned()))?,
        ),
    };
    let sort = match query.sort.as_deref().map(str::trim) {
        None | Some("") => InvoiceSort::default(),
        Some(text) => {
            InvoiceSort::parse(text).ok_or_else(|| ApiError::InvalidQuery("sort".to_owned()))?
        }
    };
    let after = match query.cursor.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => {
            Some(Cursor::decode(text).ok_or_else(|| ApiError::InvalidQuery("cursor".to_owned()))?)
        }
    };
    let filter = InvoiceFilter {
        headline,
        submission,
        needs_action: query.needs_action.unwrap_or(false),
        customer: query.customer_id.map(CustomerId::from_uuid),
        issued_from: query.issued_from,
        issued_to: query.issued_to,
        search: query.q.clone().filter(|text| !text.trim().is_empty()),
        sort,
    };
    let page = state
        .invoices
        .list(&caller.scope, &filter, after, limit)
        .await?;
    json(
        StatusCode::OK,
        &InvoiceList {
            items: page.rows.iter().map(item_out).collect(),
            next_cursor: page.next.map(|cursor| cursor.encode()),
        },
    )
}
