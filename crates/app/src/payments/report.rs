//! `payment.report`: one payment reported to Billit (`POST /v1/orders/{id}/payments`).
//!
//! Every report of a payment carries the payment's own idempotency key, so a job that runs again after a crash
//! (Billit took the payment but the portal did not record it) makes Billit answer with a replay, which counts as
//! done: each payment reaches Billit once. Billit busy or unreachable: the job is tried again later and the
//! payment says so. Billit refusing it, or no usable Billit connection: the payment is `failed`, and a user's
//! Retry enqueues a new job.
//!
//! The payment keeps why as a code (`error_code`), put into words by [`failure_sentence`] in the reader's
//! language, and a detail that is never a sentence of ours (`error_detail`): Billit's own codes and descriptions
//! when it refused the payment, the cause (`http_503`, `transport`, …, see [`crate::failures`]) when it was busy
//! or unreachable. The codes: `unreachable` (tried again), `gave_up`, `unauthorized`, `not_configured`,
//! `connection_broken`, `order_not_found`, `order_not_sent`, `exceeds_at_billit`, `invalid_amount`, `refused`
//! (any other refusal) and `internal`.

use super::{publish, reconcile_acceptances, repository};
use crate::App;
use crate::billit_connection::{ConnectionProblem, client_for};
use crate::failures;
use crate::i18n::Tr;
use crate::worker::{JobFailure, JobRegistry, JobResult};
use portal_billit::client::{BillitClient, BillitError};
use portal_billit::wire::{BillitDateTime, PaymentRequest};
use portal_domain::ids::InvoiceId;
use portal_persistence::TenantScope;
use portal_persistence::jobs::{ClaimedJob, NewJob};
use portal_persistence::payments::{PaymentRecord, PaymentState};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `{"payment_id": "<uuid>", "invoice_id": "<uuid>"}` (tenant job).
pub const REPORT_JOB: &str = "payment.report";
/// The statuses area's job that reads the order back (its `Paid` / `ToPay` after the payment).
const SYNC_ORDER_JOB: &str = "billit.sync_order";

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ReportPayload {
    pub payment_id: Uuid,
    pub invoice_id: Uuid,
}

/// The job that reports `payment` (its `retry`-th report asked by a user; 0 for the first).
pub fn job(scope: &TenantScope, invoice: InvoiceId, payment: Uuid, retry: i32) -> NewJob {
    NewJob::for_tenant(
        scope,
        REPORT_JOB,
        serde_json::json!(ReportPayload {
            payment_id: payment,
            invoice_id: invoice.as_uuid(),
        }),
    )
    .unique_key(format!("payment:{payment}:{retry}"))
}

pub(super) fn register(registry: JobRegistry, state: &App) -> JobRegistry {
    let state = state.clone();
    registry.handle(REPORT_JOB, move |job: ClaimedJob| {
        let state = state.clone();
        async move { run(&state, job).await }
    })
}

/// Why a report did not go through: a code the payment keeps (the page puts it into words) and its detail.
enum Failure {
    /// Worth trying again later.
    Transient(&'static str, Option<String>),
    /// Needs a person (fix the settings, look at the invoice at Billit), then Retry.
    Definitive(&'static str, Option<String>),
    /// The portal's own failure (database): retried like any job.
    Internal(anyhow::Error),
}

async fn run(state: &App, job: ClaimedJob) -> JobResult {
    let scope = job.tenant_scope().ok_or_else(|| {
        JobFailure::Permanent(anyhow::anyhow!("{REPORT_JOB} job without a tenant"))
    })?;
    let payload: ReportPayload = job.payload().map_err(|error| {
        JobFailure::Permanent(anyhow::Error::from(error).context("unreadable job payload"))
    })?;
    let payments = repository(state);
    let Some(payment) = payments.get(&scope, payload.payment_id).await? else {
        tracing::debug!(payment = %payload.payment_id, "the payment is gone (its invoice was deleted)");
        return Ok(());
    };
    if payment.state != PaymentState::Queued {
        // Reported by an earlier run, or failed and waiting for a user's retry (which has its own job).
        return Ok(());
    }
    let invoice = payment.invoice_id;
    let outcome = report(state, &scope, &payment).await;
    let (code, detail, retry) = match outcome {
        Ok(order_id) => {
            if payments.mark_reported(&scope, payment.id, order_id).await? {
                tracing::debug!(payment = %payment.id, order_id, "payment reported to Billit");
                reconcile_acceptances(state, &scope, invoice).await?;
                let sync = NewJob::for_tenant(
                    &scope,
                    SYNC_ORDER_JOB,
                    serde_json::json!({ "invoice_id": invoice, "order_id": order_id }),
                )
                .unique_key(format!("sync-after-payment:{}", payment.id));
                state.jobs.enqueue(sync).await?;
                publish(state, &scope, invoice);
            }
            return Ok(());
        }
        Err(Failure::Internal(error)) if job.is_last_attempt() => {
            tracing::error!(error = format!("{error:#}"), payment = %payment.id, "cannot report the payment");
            ("internal", None, false)
        }
        Err(Failure::Internal(error)) => return Err(JobFailure::Retry(error)),
        Err(Failure::Transient(_, detail)) if job.is_last_attempt() => ("gave_up", detail, false),
        Err(Failure::Transient(code, detail)) => (code, detail, true),
        Err(Failure::Definitive(code, detail)) => (code, detail, false),
    };
    if retry {
        payments
            .note_retrying(&scope, payment.id, code, detail.as_deref())
            .await?;
        publish(state, &scope, invoice);
        return Err(JobFailure::Retry(anyhow::anyhow!(
            "Billit did not take payment {} yet: {}",
            payment.id,
            detail.unwrap_or_else(|| code.to_owned())
        )));
    }
    // The payment carries the failure and its Retry button; the job itself is over.
    tracing::warn!(payment = %payment.id, code, detail = detail.as_deref().unwrap_or(""), "payment report failed");
    payments
        .mark_failed(&scope, payment.id, code, detail.as_deref())
        .await?;
    publish(state, &scope, invoice);
    Ok(())
}

/// Posts the payment to the invoice's order; returns the order id.
async fn report(state: &App, scope: &TenantScope, payment: &PaymentRecord) -> Result<i64, Failure> {
    let invoice = state
        .invoices
        .get(scope, payment.invoice_id)
        .await
        .map_err(|error| Failure::Internal(error.into()))?;
    let Some(order_id) = invoice.and_then(|invoice| invoice.billit_order_id) else {
        return Err(Failure::Definitive("order_not_found", None));
    };
    let client = match client_for(state, scope).await {
        Ok((client, _)) => client,
        Err(ConnectionProblem::Database(error)) => return Err(Failure::Internal(error.into())),
        Err(
            problem @ (ConnectionProblem::NotConfigured
            | ConnectionProblem::Incomplete
            | ConnectionProblem::NoEmbeddedSandbox),
        ) => {
            tracing::debug!(problem = %problem, "no usable Billit connection");
            return Err(Failure::Definitive("not_configured", None));
        }
        Err(problem) => {
            tracing::error!(problem = %problem, "the Billit connection cannot be used");
            return Err(Failure::Definitive("connection_broken", None));
        }
    };
    let request = PaymentRequest {
        amount: Decimal::new(payment.amount_cents, 2),
        payment_date: Some(BillitDateTime(format!(
            "{}T00:00:00",
            payment.paid_on.format("%Y-%m-%d")
        ))),
        reference: payment.reference.clone(),
        extra: Default::default(),
    };
    client
        .post_payment(order_id, &request, Some(&payment.idempotency_key))
        .await
        .map_err(|error| failure_of(&error))?;
    Ok(order_id)
}

/// Billit's answer as a failure the payment can explain.
fn failure_of(error: &BillitError) -> Failure {
    // An unreadable answer may hide a payment Billit took: asking again with the same key is safe.
    if error.is_transient() || matches!(error, BillitError::Decode(_)) {
        return Failure::Transient("unreachable", Some(failures::cause_of(error)));
    }
    match error {
        BillitError::Unauthorized { .. } => Failure::Definitive("unauthorized", None),
        BillitError::NotFound => Failure::Definitive("order_not_found", None),
        BillitError::Invalid(_) => Failure::Definitive("connection_broken", None),
        _ => {
            let errors = failures::errors_of(error);
            let code = errors.iter().find_map(|detail| {
                Some(match detail.code.as_deref()? {
                    "AmountExceedsToPay" => "exceeds_at_billit",
                    "OrderNotSent" => "order_not_sent",
                    "InvalidAmount" => "invalid_amount",
                    _ => return None,
                })
            });
            let details = failures::billit_details(errors);
            Failure::Definitive(
                code.unwrap_or("refused"),
                (!details.is_empty()).then_some(details),
            )
        }
    }
}

/// Why the payment is late or failed, in the reader's words; `None` when nothing went wrong. The detail of a
/// refusal is Billit's own words (or, on rows written before, the text stored then), shown as it is.
pub fn failure_sentence(payment: &PaymentRecord, t: Tr) -> Option<String> {
    let code = payment.error_code.as_deref()?;
    Some(failure_words(code, payment.error_detail.as_deref(), t))
}

/// A payment's failure code and detail in the reader's words (the firm's inbox reads them from its own query).
pub(crate) fn failure_words(code: &str, detail: Option<&str>, t: Tr) -> String {
    let key = match code {
        "unreachable" => "payments.failure.unreachable",
        "gave_up" => "payments.failure.gave_up",
        "unauthorized" => "payments.failure.unauthorized",
        "not_configured" => "payments.failure.not_configured",
        "connection_broken" => "payments.failure.connection_broken",
        "order_not_found" => "payments.failure.order_not_found",
        "order_not_sent" => "payments.failure.order_not_sent",
        "exceeds_at_billit" => "payments.failure.exceeds_at_billit",
        "invalid_amount" => "payments.failure.invalid_amount",
        "internal" => "payments.failure.internal",
        _ => "payments.failure.refused",
    };
    let reason = detail
        .filter(|detail| !detail.trim().is_empty())
        .unwrap_or_else(|| t.get("payments.failure.no_detail"));
    t.fill(key, &[("reason", reason)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_billit::client::ApiErrorDetail;
    use portal_domain::Language;
    use portal_persistence::payments::PaymentMethod;

    fn failed(code: &str, detail: Option<&str>) -> PaymentRecord {
        PaymentRecord {
            id: Uuid::nil(),
            invoice_id: InvoiceId::new(),
            amount_cents: 1_000,
            paid_on: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default(),
            method: PaymentMethod::Transfer,
            reference: None,
            state: PaymentState::Failed,
            error_code: Some(code.to_owned()),
            error_detail: detail.map(str::to_owned),
            idempotency_key: "k".to_owned(),
            retries: 0,
            created_by: None,
            created_at: chrono::Utc::now(),
            reported_at: None,
            accepted_at: None,
            cancelled_by: None,
            cancelled_at: None,
            cancelled_by_name: None,
        }
    }

    #[test]
    fn a_refusal_keeps_billits_words_and_reads_in_each_language() {
        let refusal = BillitError::Validation {
            status: 400,
            errors: vec![ApiErrorDetail {
                code: Some("PaymentDateInFuture".into()),
                description: Some("The date is in the future".into()),
            }],
        };
        let Failure::Definitive(code, detail) = failure_of(&refusal) else {
            panic!("a refusal is definitive");
        };
        assert_eq!(code, "refused");
        let payment = failed(code, detail.as_deref());
        assert_eq!(
            failure_sentence(&payment, Tr::new(Language::Fr)).unwrap(),
            "Billit a refusé ce paiement : PaymentDateInFuture: The date is in the future"
        );
        assert_eq!(
            failure_sentence(&payment, Tr::new(Language::En)).unwrap(),
            "Billit refused this payment: PaymentDateInFuture: The date is in the future"
        );
        let Failure::Transient(code, detail) = failure_of(&BillitError::Server { status: 502 })
        else {
            panic!("a server error is tried again");
        };
        assert_eq!((code, detail.as_deref()), ("unreachable", Some("http_502")));
    }

    #[test]
    fn a_row_written_before_keeps_its_detail() {
        let old = failed(
            "refused",
            Some("Billit refused the request (HTTP 400): X: y"),
        );
        assert_eq!(
            failure_sentence(&old, Tr::new(Language::Fr)).unwrap(),
            "Billit a refusé ce paiement : Billit refused the request (HTTP 400): X: y"
        );
        assert!(
            failure_sentence(&failed("unauthorized", None), Tr::new(Language::En))
                .unwrap()
                .starts_with("Billit refused the account's credentials")
        );
    }
}
