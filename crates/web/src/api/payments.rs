//! `/api/v1/invoices/{id}/payments`: record a payment received (status 212, reported to Billit by a job) with an
//! `Idempotency-Key`, checked like the page's form and by the same use case (what remains, the table of
//! actions); list an invoice's payments.

use super::auth::{Caller, Writer, idempotency_key};
use super::problem::{ApiError, FieldProblem, Problem, Refused};
use super::{json, once};
use crate::components::payments::{self as form, FormErrors, PaymentForm};
use crate::i18n::Tr;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use portal_app::payments::RecordError;
use portal_domain::Language;
use portal_domain::actions::Action;
use portal_domain::ids::InvoiceId;
use portal_persistence::invoices::InvoiceRecord;
use portal_persistence::payments::{PaymentRecord, RecordedBy};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A payment received.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentBody {
    /// The amount, an exact decimal as text (`"120.50"`).
    pub amount: String,
    /// The day it was received, `YYYY-MM-DD`: not in the future, not before the invoice's issue date.
    pub paid_on: String,
    /// `transfer`, `cheque`, `card`, `direct_debit`, `cash` or `other`.
    pub method: String,
    /// At most 140 characters.
    #[serde(default)]
    pub reference: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentOut {
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub amount: String,
    pub paid_on: NaiveDate,
    pub method: String,
    pub reference: Option<String>,
    /// `queued` (its report to Billit waits), `reported`, `accepted` (by the tax authority), `failed`,
    /// `cancelled`.
    pub state: String,
    /// Why its report failed, as a stable code.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub reported_at: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentList {
    pub items: Vec<PaymentOut>,
}

fn payment_out(payment: &PaymentRecord) -> PaymentOut {
    PaymentOut {
        id: payment.id,
        invoice_id: payment.invoice_id.as_uuid(),
        amount: rust_decimal::Decimal::new(payment.amount_cents, 2).to_string(),
        paid_on: payment.paid_on,
        method: payment.method.as_str().to_owned(),
        reference: payment.reference.clone(),
        state: payment.state.as_str().to_owned(),
        error: payment.error_code.clone(),
        created_at: payment.created_at,
        reported_at: payment.reported_at,
        accepted_at: payment.accepted_at,
    }
}

fn problems(fr: &FormErrors, en: &FormErrors) -> Vec<FieldProblem> {
    [
        ("amount", &fr.amount, &en.amount),
        ("paid_on", &fr.paid_on, &en.paid_on),
        ("method", &fr.method, &en.method),
        ("reference", &fr.reference, &en.reference),
    ]
    .into_iter()
    .filter_map(|(field, fr, en)| {
        let fr = fr.clone()?;
        Some(FieldProblem::new(
            field,
            None,
            "invalid",
            fr.clone(),
            en.clone().unwrap_or(fr),
        ))
    })
    .collect()
}

async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<InvoiceRecord, ApiError> {
    let id = InvoiceId::parse(id.trim()).ok_or(ApiError::NotFound)?;
    state
        .invoices
        .get(&caller.scope, id)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Records a payment received on an invoice. Requires an `Idempotency-Key`: a repeat answers the first answer
/// and records nothing more.
#[utoipa::path(
    post, path = "/api/v1/invoices/{id}/payments", tag = "payments",
    params(
        ("id" = Uuid, Path, description = "The invoice's id"),
        ("Idempotency-Key" = String, Header, description = "1 to 255 visible characters, unique per payment"),
    ),
    request_body = PaymentBody,
    responses(
        (status = 201, description = "Recorded; its report to Billit follows", body = PaymentOut),
        (status = 400, description = "Not JSON, or no Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not an invoice of this company", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Refused by the table of actions (a draft, a credit note, a refused invoice, nothing left to pay)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Every problem (amount over what remains, a future date…)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn record(
    state: web::Data<AppState>,
    req: HttpRequest,
    Writer(caller): Writer,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let invoice = find(&state, &caller, &path).await?;
    let body: PaymentBody = super::parse_json(&body)?;
    let request = format!(
        "payment:{}:{}:{}:{}",
        invoice.id,
        body.amount.trim(),
        body.paid_on.trim(),
        body.method.trim()
    );
    once(&state, &caller, &key, request, || async {
        if let Err(refusal) = portal_app::payments::precheck(&invoice, Action::RecordPayment) {
            return Err(ApiError::Refused(Refused::Table(refusal)));
        }
        let typed = PaymentForm {
            amount: body.amount.clone(),
            paid_on: body.paid_on.clone(),
            method: body.method.clone(),
            reference: body.reference.clone().unwrap_or_default(),
        };
        let today = form::today();
        let issued = invoice.draft.issue_date;
        let payment = match (
            form::check(&typed, issued, today, Tr::new(Language::Fr)),
            form::check(&typed, issued, today, Tr::new(Language::En)),
        ) {
            (Ok(payment), _) => payment,
            (Err(fr), Err(en)) => return Err(ApiError::Validation(problems(&fr, &en))),
            (Err(fr), Ok(_)) => return Err(ApiError::Validation(problems(&fr, &fr))),
        };
        let by = RecordedBy {
            user: Some(caller.author()),
            ip: crate::extract::client_ip(&req),
        };
        match portal_app::payments::record(&state, &caller.scope, &invoice, payment, by).await {
            Ok(recorded) => Ok((
                StatusCode::CREATED,
                serde_json::to_value(payment_out(&recorded))?,
            )),
            Err(RecordError::Exceeds { remaining_cents }) => {
                let remaining = format!(
                    "{} {}",
                    rust_decimal::Decimal::new(remaining_cents, 2),
                    invoice.draft.currency
                );
                Err(ApiError::Validation(vec![FieldProblem::keyed(
                    "amount",
                    None,
                    "exceeds_remaining",
                    "api.payment_exceeds",
                    &[("remaining", &remaining)],
                )]))
            }
            Err(other) => Err(ApiError::from_failure(other)),
        }
    })
    .await
}

/// An invoice's payments, oldest first.
#[utoipa::path(
    get, path = "/api/v1/invoices/{id}/payments", tag = "payments",
    params(("id" = Uuid, Path, description = "The invoice's id")),
    responses(
        (status = 200, description = "The payments", body = PaymentList),
        (status = 404, description = "Not an invoice of this company", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let invoice = find(&state, &caller, &path).await?;
    let payments = state.payments.list(&caller.scope, invoice.id).await?;
    json(
        StatusCode::OK,
        &PaymentList {
            items: payments.iter().map(payment_out).collect(),
        },
    )
}
