//! `invoice.notify`: the email telling a tenant's members that an invoice needs them, in each one's language.

use super::{payload_of, scope_of};
use crate::App;
use crate::emails::NeedsAction;
use crate::i18n::Tr;
use crate::worker::{JobFailure, JobResult};
use portal_domain::Language;
use portal_domain::ids::{InvoiceId, UserId};
use portal_domain::lifecycle::StatusEvent;
use portal_domain::status::{reason_label, requested_action_label};
use portal_persistence::invoices::InvoiceRecord;
use portal_persistence::jobs::ClaimedJob;
use portal_persistence::notifications::NotificationRepository;
use portal_persistence::outbox::NewEmail;
use serde::Deserialize;

#[derive(Deserialize)]
struct NotifyJob {
    invoice_id: InvoiceId,
    dedup_key: String,
}

pub(super) async fn run(state: App, job: ClaimedJob) -> JobResult {
    let scope = scope_of(&job)?;
    let payload: NotifyJob = payload_of(&job)?;
    let invoice = payload.invoice_id;
    let mut stored = state
        .invoices
        .event_by_key(&scope, invoice, &payload.dedup_key)
        .await?;
    if let Some(found) = &stored
        && found.details.is_none()
        && let Some(file_id) = super::file_worth_reading(&found.event)
    {
        // The status file says more than Billit's message (reasons, rules, the buyer's words): read it first
        // unless its own job already did. Failing that, the email goes with what the message said.
        let file_id = file_id.to_owned();
        if let Err(JobFailure::Retry(error) | JobFailure::Permanent(error)) =
            super::files::read_status_file(&state, &scope, invoice, &file_id).await
        {
            tracing::debug!(error = %format!("{error:#}"), "the status file could not be read before the email");
        }
        // What the file said is on the event now.
        stored = state
            .invoices
            .event_by_key(&scope, invoice, &payload.dedup_key)
            .await?;
    }
    let Some(record) = state
        .invoices
        .get(&scope, invoice)
        .await
        .map_err(anyhow::Error::from)?
    else {
        return Err(JobFailure::Permanent(anyhow::anyhow!(
            "invoice {invoice} does not exist for this tenant"
        )));
    };
    if !record.summary.needs_action {
        // Answered or fixed before the email left: nothing to ask any more.
        tracing::debug!(invoice = %record.id, "no longer needs action; no email");
        return Ok(());
    }
    let Some(tenant) = state.tenants.find_by_id(scope.tenant_id()).await? else {
        return Err(JobFailure::Permanent(anyhow::anyhow!("the tenant is gone")));
    };
    let event = stored.map(|stored| stored.event);
    let link = format!(
        "{}/t/{}/invoices/{}",
        state.base_url, tenant.slug, record.id
    );
    let recipients = NotificationRepository::new(state.db.clone())
        .needs_action_recipients(&scope)
        .await?;
    let mut emails = Vec::with_capacity(recipients.len());
    for recipient in recipients {
        let lang = Language::parse(&recipient.language).unwrap_or_default();
        let email = needs_action_email(
            &state,
            lang,
            &recipient.email,
            &tenant.legal_name,
            &record,
            event.as_ref(),
            &link,
        )?;
        emails.push((
            recipient_key(invoice, &payload.dedup_key, recipient.user_id),
            email,
        ));
    }
    // One email and one sending job per recipient, keyed by (invoice, event, recipient): a retry of this job
    // queues only the emails it had not queued, and each one is sent (or fails) on its own.
    state.outbox.queue_keyed_for_tenant(&scope, emails).await?;
    Ok(())
}

/// The key of one recipient's email about one event of an invoice.
fn recipient_key(invoice: InvoiceId, dedup_key: &str, user: UserId) -> String {
    format!("notify:{invoice}:{dedup_key}:{user}")
}

fn needs_action_email(
    state: &App,
    lang: Language,
    to: &str,
    company: &str,
    record: &InvoiceRecord,
    event: Option<&StatusEvent>,
    link: &str,
) -> anyhow::Result<NewEmail> {
    let t = Tr::new(lang);
    let number = if record.number().trim().is_empty() {
        t.get("statuses.email.no_number").to_owned()
    } else {
        record.number().trim().to_owned()
    };
    let status = event
        .and_then(StatusEvent::effective_code)
        .or(record.summary.headline)
        .map_or_else(
            || t.get("statuses.email.no_status").to_owned(),
            |code| format!("{} ({code})", code.label(lang)),
        );
    let content = NeedsAction {
        intro: t.fill(
            "statuses.email.intro",
            &[
                ("number", &number),
                ("customer", &record.buyer_name),
                ("company", company),
            ],
        ),
        status: status.clone(),
        reasons: event
            .map(|event| {
                event
                    .reasons
                    .iter()
                    .map(|reason| format!("{} ({})", reason_label(reason, lang), reason.trim()))
                    .collect()
            })
            .unwrap_or_default(),
        requested_action: event
            .and_then(|event| event.requested_action.as_deref())
            .map(|action| requested_action_label(action, lang)),
        comment: event
            .and_then(|event| event.comment.clone())
            .filter(|comment| !comment.trim().is_empty()),
        to_do: record
            .summary
            .action_reasons
            .iter()
            .map(|reason| reason.label(lang).to_owned())
            .collect(),
        link: link.to_owned(),
    };
    let bodies = state.email_bodies.needs_action(lang, &content)?;
    Ok(NewEmail {
        to: vec![to.to_owned()],
        subject: t.fill(
            "statuses.email.subject",
            &[
                ("number", &number),
                ("status", &status),
                ("company", company),
            ],
        ),
        text_body: bodies.text,
        html_body: bodies.html,
        from: state.settings.mail_from.clone(),
        reply_to: None,
    })
}
