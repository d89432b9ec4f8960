//! Payments received on an invoice: the payment track's own page, recording a payment, "mark as fully paid",
//! and retrying or cancelling a payment whose report to Billit failed. Every success goes back to the invoice's page (303).

use crate::components::actions::{Action, Decisions, Refusal, refused_page};
use crate::components::payments::{self, FormErrors, PaymentForm, PaymentPanel, form_view};
use crate::errors::{WebError, respond};
use crate::extract::find_invoice;
use crate::extract::{Member, TenantContext, client_ip, layout_for};
use crate::format;
use crate::forms::see_other;
use crate::i18n::Tr;
use crate::layout::{Layout, NoticePage};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use portal_app::payments::{CancelError, RecordError, RetryError};
use portal_domain::ids::InvoiceId;
use portal_persistence::invoices::InvoiceRecord;
use portal_persistence::payments::{NewPayment, RecordedBy};
use uuid::Uuid;

/// Its routes inside the company's scope (`/t/{slug}`, see `crate::routes`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/invoices/{id}/payments", web::get().to(page))
        .route("/invoices/{id}/payments", web::post().to(record))
        .route("/invoices/{id}/payments/full", web::post().to(record_rest))
        .route(
            "/invoices/{id}/payments/{payment_id}/retry",
            web::post().to(retry),
        )
        .route(
            "/invoices/{id}/payments/{payment_id}/cancel",
            web::post().to(cancel),
        );
}

/// The payment track alone: where a form with mistakes comes back, and a page of its own for the invoice.
#[derive(Template, WebTemplate)]
#[template(path = "pages/invoices/payments.html")]
struct PaymentsPage {
    layout: Layout,
    number: String,
    invoice_href: String,
    payments: Option<PaymentPanel>,
}

fn invoice_page(slug: &str, id: InvoiceId) -> String {
    format!("/t/{slug}/invoices/{id}")
}

/// The form as it is shown again: what was typed, what is wrong with it, and why nothing was recorded.
struct Shown<'a> {
    form: &'a PaymentForm,
    errors: FormErrors,
    alert: Option<String>,
}

async fn render(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    invoice: &InvoiceRecord,
    status: StatusCode,
    shown: Shown<'_>,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(state, req, &ctx.user, Some(ctx)).await?;
    let t = layout.t;
    let view = form_view(shown.form, invoice, shown.errors, shown.alert, t);
    let known = portal_app::actions::known(state, &ctx.scope, invoice).await?;
    let decisions = Decisions::new(known.situation, ctx);
    let panel = payments::panel(
        &ctx.tenant.slug,
        invoice,
        &known.payments,
        &decisions,
        view,
        t,
    );
    let page = PaymentsPage {
        number: invoice.number().to_owned(),
        invoice_href: invoice_page(&ctx.tenant.slug, invoice.id),
        payments: panel,
        layout,
    };
    Ok(respond(req, status, page))
}

/// 409 with the table of actions' refusal: payments go on invoices that Billit has (not drafts, not credit
/// notes), not refused, rejected or cancelled, while something remains to be paid.
async fn not_payable(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    invoice: &InvoiceRecord,
    refusal: &Refusal,
) -> Result<HttpResponse, WebError> {
    refused_page(
        state,
        req,
        ctx,
        refusal,
        "payments.refused_title",
        (
            invoice_page(&ctx.tenant.slug, invoice.id),
            "payments.to_invoice",
        ),
    )
    .await
}

/// 409 with `(title, message)`: only a failed payment can be retried or cancelled.
async fn refused(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    invoice: &InvoiceRecord,
    (title, key): (&str, &str),
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(state, req, &ctx.user, Some(ctx)).await?;
    let t = layout.t;
    let page = NoticePage {
        title: t.get(title).to_owned(),
        message: t.get(key).to_owned(),
        link: Some((
            invoice_page(&ctx.tenant.slug, invoice.id),
            t.get("payments.to_invoice").to_owned(),
        )),
        layout,
    };
    Ok(respond(req, StatusCode::CONFLICT, page))
}

pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    ctx: TenantContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let invoice = find_invoice(&state, &ctx, &path.1).await?;
    render(
        &state,
        &req,
        &ctx,
        &invoice,
        StatusCode::OK,
        Shown {
            form: &PaymentForm::blank(),
            errors: FormErrors::default(),
            alert: None,
        },
    )
    .await
}

/// Records a payment from the form.
pub async fn record(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    path: web::Path<(String, String)>,
    form: web::Form<PaymentForm>,
) -> Result<HttpResponse, WebError> {
    let invoice = find_invoice(&state, &ctx, &path.1).await?;
    // The table first, whatever the form says (the use case asks it again with the payments read).
    if let Err(refusal) = portal_app::payments::precheck(&invoice, Action::RecordPayment) {
        return not_payable(&state, &req, &ctx, &invoice, &refusal).await;
    }
    let t = Tr::new(ctx.user.language());
    match payments::check(&form, invoice.draft.issue_date, payments::today(), t) {
        Ok(payment) => save(&state, &req, &ctx, &invoice, payment, &form).await,
        Err(errors) => {
            render(
                &state,
                &req,
                &ctx,
                &invoice,
                StatusCode::UNPROCESSABLE_ENTITY,
                Shown {
                    form: &form,
                    errors,
                    alert: Some(t.get("payments.error.fix_fields").to_owned()),
                },
            )
            .await
        }
    }
}

/// "Mark as fully paid": a transfer of what remains, dated today.
pub async fn record_rest(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let invoice = find_invoice(&state, &ctx, &path.1).await?;
    if let Err(refusal) = portal_app::payments::precheck(&invoice, Action::MarkFullyPaid) {
        return not_payable(&state, &req, &ctx, &invoice, &refusal).await;
    }
    save(
        &state,
        &req,
        &ctx,
        &invoice,
        payments::remaining_today(),
        &PaymentForm::blank(),
    )
    .await
}

async fn save(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    invoice: &InvoiceRecord,
    payment: NewPayment,
    form: &PaymentForm,
) -> Result<HttpResponse, WebError> {
    let scope = &ctx.scope;
    let by = RecordedBy {
        user: Some(ctx.user.user.id),
        ip: client_ip(req),
    };
    let t = Tr::new(ctx.user.language());
    match portal_app::payments::record(state, scope, invoice, payment, by).await {
        Ok(_) => Ok(see_other(&format!(
            "{}#payments",
            invoice_page(&ctx.tenant.slug, invoice.id)
        ))),
        Err(RecordError::Exceeds { remaining_cents }) => {
            let remaining = format::amount_cents(remaining_cents, &invoice.draft.currency, t.lang);
            let message = t.fill("payments.error.exceeds", &[("remaining", &remaining)]);
            let errors = FormErrors {
                amount: Some(message.clone()),
                ..FormErrors::default()
            };
            render(
                state,
                req,
                ctx,
                invoice,
                StatusCode::UNPROCESSABLE_ENTITY,
                Shown {
                    form,
                    errors,
                    alert: Some(message),
                },
            )
            .await
        }
        Err(RecordError::Refused(refusal)) => not_payable(state, req, ctx, invoice, &refusal).await,
        Err(other) => Err(WebError::from_failure(other)),
    }
}

/// Reports a failed payment again.
pub async fn retry(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (_, invoice_id, payment_id) = path.into_inner();
    let invoice = find_invoice(&state, &ctx, &invoice_id).await?;
    let payment_id = Uuid::try_parse(&payment_id).map_err(|_| WebError::NotFound)?;
    let by = RecordedBy {
        user: Some(ctx.user.user.id),
        ip: client_ip(&req),
    };
    match portal_app::payments::retry(&state, &ctx.scope, invoice.id, payment_id, by).await {
        Ok(()) => Ok(see_other(&format!(
            "{}#payments",
            invoice_page(&ctx.tenant.slug, invoice.id)
        ))),
        // Reported, accepted, or already waiting for its report: nothing to retry.
        Err(RetryError::NotFailed) => {
            refused(
                &state,
                &req,
                &ctx,
                &invoice,
                ("payments.retry_refused_title", "payments.retry_refused"),
            )
            .await
        }
        Err(other) => Err(WebError::from_failure(other)),
    }
}

/// Cancels a failed payment: it stays listed, struck out, and no longer counts in what remains. Any other
/// payment (on its way, reported, accepted, already cancelled) is refused with 409.
pub async fn cancel(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (_, invoice_id, payment_id) = path.into_inner();
    let invoice = find_invoice(&state, &ctx, &invoice_id).await?;
    let payment_id = Uuid::try_parse(&payment_id).map_err(|_| WebError::NotFound)?;
    let by = RecordedBy {
        user: Some(ctx.user.user.id),
        ip: client_ip(&req),
    };
    match portal_app::payments::cancel(&state, &ctx.scope, invoice.id, payment_id, by).await {
        Ok(()) => Ok(see_other(&format!(
            "{}#payments",
            invoice_page(&ctx.tenant.slug, invoice.id)
        ))),
        Err(CancelError::NotFailed(_)) => {
            refused(
                &state,
                &req,
                &ctx,
                &invoice,
                ("payments.cancel_refused_title", "payments.cancel_refused"),
            )
            .await
        }
        Err(other) => Err(WebError::from_failure(other)),
    }
}
