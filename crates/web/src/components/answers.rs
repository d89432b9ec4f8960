//! Answering a customer's open request (208: information needed, 207: dispute) by email: what the answer says
//! by default, who it goes to and from, and what the invoice page shows of the emails sent.
//!
//! The email goes through the outbox like every other (queued with its sending job in one transaction, retried
//! while SMTP is down); the request itself closes only when the customer's platform says so (209, or a later
//! 205/206/210), which the status fold already does.

use crate::components::actions::{Action, Decisions};
use crate::errors::WebError;
use crate::extract::TenantContext;
use crate::format;
use crate::i18n::Tr;
use crate::state::AppState;
use portal_app::answers::templates::{self as templates, Template, Values};
use portal_domain::Language;
use portal_domain::lifecycle::{History, OpenRequest};
use portal_domain::status::{StatusCode, reason_label};
use portal_persistence::TenantRole;
use portal_persistence::invoices::InvoiceRecord;
use portal_persistence::outbox::EmailStatus;
use portal_persistence::tenants::Tenant;
use portal_persistence::users::User;

pub(crate) async fn load_invoice(
    state: &AppState,
    ctx: &TenantContext,
    id: &str,
) -> Result<LoadedInvoice, WebError> {
    let record = crate::extract::find_invoice(state, ctx, id).await?;
    Ok(portal_app::answers::load(state, &ctx.scope, record).await?)
}

pub(crate) use portal_app::answers::{LoadedInvoice, answerable, customer_language, reply_to};

/// The tenant's template for the status in the language, or the portal's default.
pub(crate) async fn template_for(
    state: &AppState,
    ctx: &TenantContext,
    status: u16,
    lang: Language,
) -> Result<Template, WebError> {
    Ok(
        match state
            .answer_templates
            .clone()
            .get(&ctx.scope, status, lang)
            .await?
        {
            Some(custom) => Template {
                subject: custom.subject,
                body: custom.body,
            },
            None => templates::default_template(status, lang),
        },
    )
}

/// What the placeholders become for this invoice, request, tenant and sender, in the customer's language.
pub(crate) fn values_for(
    record: &InvoiceRecord,
    request: &OpenRequest,
    tenant: &Tenant,
    user: &User,
    lang: Language,
) -> Values {
    let reasons: Vec<String> = request
        .reasons
        .iter()
        .map(|code| code.trim())
        .filter(|code| !code.is_empty())
        .map(|code| {
            let label = reason_label(code, lang);
            if label.trim().is_empty() || label == code {
                code.to_owned()
            } else {
                format!("{label} ({code})")
            }
        })
        .collect();
    Values {
        invoice_number: record.draft.number.trim().to_owned(),
        invoice_date: format::date_or_dash(record.draft.issue_date, lang),
        amount: format::amount_cents(record.totals.incl, &record.draft.currency, lang),
        customer_name: record.buyer_name.clone(),
        reasons: reasons.join(", "),
        reason_sentence: templates::reason_sentence(
            request.code.0,
            request.reasons.first().map(String::as_str),
            lang,
        ),
        comment: request.comment.clone().unwrap_or_default(),
        company_name: tenant.legal_name.clone(),
        signature: tenant
            .email
            .signature
            .clone()
            .filter(|signature| !signature.trim().is_empty())
            .unwrap_or_else(|| tenant.legal_name.clone()),
        sender_name: user.name.clone(),
    }
}

/// One email of the invoice, in words.
#[derive(Debug, Clone)]
pub(crate) struct EmailView {
    pub to: String,
    pub cc: String,
    pub at: String,
    /// The machine-readable instant, for `<time datetime>`.
    pub at_iso: String,
    pub by: String,
    pub subject: String,
    pub request: String,
    pub attachments: Vec<String>,
    /// `queued`, `sent` or `failed` (for styling and tests).
    pub state: &'static str,
    pub state_label: String,
    pub tone: &'static str,
    pub detail: Option<String>,
    pub error: Option<String>,
    pub retry_href: Option<String>,
}

/// The invoice page's panel: the emails sent about the invoice and the way to answer.
#[derive(Debug, Clone, Default)]
pub(crate) struct AnswersPanel {
    pub show: bool,
    pub answer_href: Option<String>,
    pub waiting: Option<String>,
    pub emails: Vec<EmailView>,
}

fn size_text(bytes: i64, lang: Language) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    let bytes = u64::try_from(bytes).unwrap_or_default();
    let (value, unit) = if bytes >= MIB {
        (bytes.saturating_mul(10) / MIB, lang.pick("Mo", "MB"))
    } else {
        (
            bytes.saturating_mul(10).div_ceil(KIB),
            lang.pick("ko", "KB"),
        )
    };
    let whole = value / 10;
    let tenth = value % 10;
    let separator = lang.pick(",", ".");
    if tenth == 0 {
        format!("{whole}\u{a0}{unit}")
    } else {
        format!("{whole}{separator}{tenth}\u{a0}{unit}")
    }
}

pub(crate) fn size_label(bytes: usize, lang: Language) -> String {
    size_text(i64::try_from(bytes).unwrap_or(i64::MAX), lang)
}

/// The panel for the invoice page (loaded by the page's handler).
pub(crate) async fn panel(
    state: &AppState,
    ctx: &TenantContext,
    record: &InvoiceRecord,
    history: &History,
    decisions: &Decisions,
    t: Tr,
) -> Result<AnswersPanel, WebError> {
    let lang = t.lang;
    let base = format!("/t/{}/invoices/{}", ctx.tenant.slug, record.id);
    let can_write = ctx.scope.allows(TenantRole::Member);
    let records = state
        .invoice_emails
        .clone()
        .list(&ctx.scope, record.id)
        .await?;
    let open = answerable(history);
    let waiting = open.and_then(|request| {
        records
            .iter()
            .filter(|email| {
                email.request_dedup_key == request.dedup_key
                    && email.email.status != EmailStatus::Failed
            })
            .map(|email| email.email.sent_at.unwrap_or(email.created_at))
            .max()
            .map(|at| {
                t.fill(
                    "answers.panel.waiting",
                    &[("at", &format::date_time(at, lang))],
                )
            })
    });
    let emails = records
        .iter()
        .map(|email| {
            let stored = &email.email;
            let (state_key, tone) = match stored.status {
                EmailStatus::Sent => ("answers.state.sent", "good"),
                EmailStatus::Failed => ("answers.state.failed", "bad"),
                EmailStatus::Queued if stored.last_error.is_some() => {
                    ("answers.state.retrying", "warn")
                }
                EmailStatus::Queued => ("answers.state.queued", "neutral"),
                EmailStatus::Sending => ("answers.state.sending", "neutral"),
                EmailStatus::Uncertain => ("answers.state.uncertain", "bad"),
            };
            EmailView {
                to: stored.email.to.join(", "),
                cc: stored.cc.join(", "),
                at: format::date_time(email.created_at, lang),
                at_iso: email
                    .created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                by: email
                    .sent_by_email
                    .clone()
                    .unwrap_or_else(|| "—".to_owned()),
                subject: stored.email.subject.clone(),
                request: format!(
                    "{} · {}",
                    email.request_code,
                    StatusCode(email.request_code).label(lang)
                ),
                attachments: email
                    .attachments
                    .iter()
                    .map(|file| {
                        format!(
                            "{} ({}, {})",
                            file.file_name,
                            file.content_type,
                            size_text(file.size_bytes, lang)
                        )
                    })
                    .collect(),
                state: stored.status.as_str(),
                state_label: t.get(state_key).to_owned(),
                tone,
                detail: stored.sent_at.map(|at| {
                    t.fill(
                        "answers.panel.sent_at",
                        &[("at", &format::date_time(at, lang))],
                    )
                }),
                error: stored
                    .last_error
                    .as_deref()
                    .filter(|_| stored.status != EmailStatus::Sent)
                    .map(|error| portal_app::mailer::failure_sentence(error, t)),
                retry_href: (can_write
                    && matches!(stored.status, EmailStatus::Failed | EmailStatus::Uncertain))
                .then(|| format!("{base}/emails/{}/retry", email.id)),
            }
        })
        .collect::<Vec<_>>();
    Ok(AnswersPanel {
        show: open.is_some() || !emails.is_empty(),
        answer_href: decisions
            .offers(Action::Answer)
            .then(|| format!("{base}/answer")),
        waiting,
        emails,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(size_label(0, Language::Fr), "0\u{a0}ko");
        assert_eq!(size_label(1536, Language::Fr), "1,5\u{a0}ko");
        assert_eq!(size_label(10 * 1024 * 1024, Language::En), "10\u{a0}MB");
        assert_eq!(size_label(1_572_864, Language::En), "1.5\u{a0}MB");
    }
}
