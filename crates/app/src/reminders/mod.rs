//! Reminders (relances) of unpaid invoices.
//!
//! - `reminders.check` (periodic, firm-wide) hands each company that turned reminders on its own
//!   `reminders.check_tenant`, once per period;
//! - the tenant check reads the company's overdue unpaid invoices (a partial index, by due date, in batches), asks
//!   the domain's rule ([`portal_domain::reminders::decide`]) which step is due, and records it as a `due`
//!   reminder, unique per invoice and step; when the company sends automatically, the `reminders.send` job of that
//!   reminder (key `reminder:<invoice>:<step>:<reminder>`) is written in the same transaction;
//! - sending (by the job, or by a member from the "reminders due" page) checks the rule again (a 207 may have
//!   arrived meanwhile), fetches the invoice's PDF from Billit, then writes the email to the customer's billing
//!   contacts (outbox, attachment, `mail.send` job), the reminder marked sent and the audit entry in one
//!   transaction whose guarded update lets a reminder leave `due` once: a step is never sent twice;
//! - a member may skip a due reminder instead; every sent or skipped reminder shows on the invoice's timeline.

pub mod templates;

use crate::App;
use crate::answers::{display_name, message_host, sender_address};
use crate::invoicing::files::{FileProblem, ORDER_PDF, fetch_invoice_file};
use crate::worker::{JobFailure, JobRegistry, JobResult};
use anyhow::Context;
use chrono::NaiveDate;
use portal_domain::Language;
use portal_domain::ids::{CustomerId, InvoiceId};
use portal_domain::reminders::{self as rule, Decision, Hold, Schedule, Standing, SummaryFacts};
use portal_persistence::TenantScope;
use portal_persistence::audit::AuditEntry;
use portal_persistence::jobs::{ClaimedJob, NewJob};
use portal_persistence::outbox::{EmailExtras, NewAttachment, NewEmail};
use portal_persistence::reminders::{Candidate, NewDueReminder, ReminderSettings, ReminderState};
use portal_persistence::tenants::Tenant;
use portal_persistence::users::User;
use std::time::Duration;
use templates::{Template, Values};
use uuid::Uuid;

/// Periodic, firm-wide: one check per company that turned reminders on.
pub const CHECK_JOB: &str = "reminders.check";
/// One company's check.
pub const CHECK_TENANT_JOB: &str = "reminders.check_tenant";
/// Sends one due reminder (automatic sending).
pub const SEND_JOB: &str = "reminders.send";
/// How often companies are checked.
pub const CHECK_EVERY: Duration = Duration::from_secs(3600);
/// Invoices read per query of a check.
const BATCH: u64 = 200;
/// Rows the "reminders due" list shows at most.
pub const DUE_LIST_LIMIT: u64 = 100;

pub fn register(registry: JobRegistry, state: &App) -> JobRegistry {
    let (check, check_tenant, send) = (state.clone(), state.clone(), state.clone());
    registry
        .handle(CHECK_JOB, move |job| run_check(check.clone(), job))
        .handle(CHECK_TENANT_JOB, move |job| {
            run_check_tenant(check_tenant.clone(), job)
        })
        .handle(SEND_JOB, move |job| run_send(send.clone(), job))
        .every(CHECK_EVERY, CHECK_JOB, serde_json::json!({}))
}

fn scope_of(job: &ClaimedJob) -> Result<TenantScope, JobFailure> {
    job.tenant_scope()
        .ok_or_else(|| JobFailure::Permanent(anyhow::anyhow!("job {} has no tenant", job.kind)))
}

async fn run_check(state: App, _job: ClaimedJob) -> JobResult {
    let every_ms = i64::try_from(CHECK_EVERY.as_millis()).unwrap_or(i64::MAX);
    let slot = state.jobs.queue.now_ms() / every_ms;
    let tenants = state
        .reminders
        .enabled_tenants()
        .await
        .context("cannot list the companies with reminders")?;
    let jobs = tenants
        .iter()
        .map(|(scope, _)| {
            NewJob::for_tenant(scope, CHECK_TENANT_JOB, serde_json::json!({}))
                .unique_key(format!("reminders:{}:{slot}", scope.tenant_id()))
                .max_attempts(3)
        })
        .collect();
    state.jobs.enqueue_all(jobs).await?;
    Ok(())
}

async fn run_check_tenant(state: App, job: ClaimedJob) -> JobResult {
    let scope = scope_of(&job)?;
    let report = check_tenant(&state, &scope, crate::dates::today()).await?;
    tracing::debug!(
        due = report.recorded,
        held = report.held,
        "reminders checked"
    );
    Ok(())
}

/// What one check of a company did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Reminders newly recorded as due (and queued for sending when automatic).
    pub recorded: usize,
    /// Overdue invoices under a hold.
    pub held: usize,
}

/// The rule's view of a candidate.
pub fn standing_of(candidate: &Candidate) -> Standing {
    Standing::from_summary(
        SummaryFacts {
            open_request: candidate.open_request,
            action_reasons: &candidate.action_reasons,
            cancelled: candidate.cancelled,
            paid_in_full: candidate.paid_in_full,
        },
        Some(candidate.due_date),
        candidate.payment_sent_at.map(crate::dates::paris_date),
        candidate.fully_credited,
        candidate.customer_excluded,
    )
}

/// The job key of a reminder's sending: stable for the reminder of an invoice's step.
pub fn send_job_key(invoice: InvoiceId, step: u16, reminder: Uuid) -> String {
    format!("reminder:{invoice}:{step}:{reminder}")
}

/// Checks a company's overdue invoices on `today` (a day in Paris): each one the rule finds due gets its reminder,
/// once per step, sent automatically when the company chose so. Does nothing when reminders are off.
pub async fn check_tenant(
    state: &App,
    scope: &TenantScope,
    today: NaiveDate,
) -> anyhow::Result<CheckReport> {
    let settings = state
        .reminders
        .settings(scope)
        .await
        .context("cannot read the reminder settings")?;
    let mut report = CheckReport::default();
    if !settings.enabled {
        return Ok(report);
    }
    let first = i64::from(settings.schedule.first());
    let Some(cutoff) = today.checked_sub_signed(chrono::Duration::days(first)) else {
        return Ok(report);
    };
    let mut after = None;
    loop {
        let batch = state
            .reminders
            .candidates(scope, cutoff, after, BATCH)
            .await
            .context("cannot list the overdue invoices")?;
        let Some(last) = batch.last() else { break };
        after = Some((last.due_date, last.invoice));
        let full = u64::try_from(batch.len()).is_ok_and(|len| len == BATCH);
        for candidate in &batch {
            match rule::decide(
                &settings.schedule,
                &standing_of(candidate),
                today,
                &candidate.recorded,
            ) {
                Decision::Due { step, due_on } => {
                    let id = Uuid::now_v7();
                    let job = settings.automatic.then(|| {
                        NewJob::for_tenant(scope, SEND_JOB, serde_json::json!({ "reminder": id }))
                            .unique_key(send_job_key(candidate.invoice, step, id))
                            .max_attempts(8)
                    });
                    let recorded = state
                        .reminders
                        .record_due(
                            scope,
                            NewDueReminder {
                                id,
                                invoice: candidate.invoice,
                                step,
                                due_on,
                                job,
                            },
                            state.jobs.queue.now_ms(),
                        )
                        .await
                        .context("cannot record a due reminder")?;
                    if recorded.is_some() {
                        report.recorded += 1;
                    }
                }
                Decision::Held(_) => report.held += 1,
                Decision::UpToDate { .. } => {}
            }
        }
        if !full {
            break;
        }
    }
    if report.recorded > 0 && settings.automatic {
        state.jobs.ring();
    }
    Ok(report)
}

#[derive(serde::Deserialize)]
struct SendPayload {
    reminder: Uuid,
}

async fn run_send(state: App, job: ClaimedJob) -> JobResult {
    let scope = scope_of(&job)?;
    let payload: SendPayload = job.payload().map_err(|error| {
        JobFailure::Permanent(anyhow::Error::from(error).context("unreadable job payload"))
    })?;
    match send(&state, &scope, payload.reminder, None).await {
        Ok(()) | Err(SendError::NotDue) | Err(SendError::NotFound) => Ok(()),
        Err(error @ (SendError::Held(_) | SendError::Refused(_))) => {
            // Not sent: the step may be due again once the hold ends, and the check will record it anew.
            state
                .reminders
                .forget_due(&scope, payload.reminder)
                .await
                .context("cannot forget a held reminder")?;
            tracing::debug!(why = %error, "a due reminder was held before it went out");
            Ok(())
        }
        Err(SendError::NoRecipients) => Err(JobFailure::Permanent(anyhow::anyhow!(
            "the customer has no billing contact"
        ))),
        Err(error @ SendError::Attachment(_)) => Err(JobFailure::Retry(error.into())),
        Err(SendError::Storage(error)) => Err(JobFailure::Retry(error)),
    }
}

/// Why a reminder was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("no such reminder")]
    NotFound,
    /// Sent or skipped already.
    #[error("the reminder is not due any more")]
    NotDue,
    /// The rule holds the invoice now (a request opened, a payment arrived…).
    #[error("the invoice is on hold: {}", .0.code())]
    Held(Hold),
    /// The table of actions does not let this invoice be reminded of (its status, what remains to pay).
    #[error(transparent)]
    Refused(portal_domain::actions::Refusal),
    #[error("the customer has no billing contact")]
    NoRecipients,
    /// The invoice's PDF could not be had from Billit: nothing was queued.
    #[error("the invoice's PDF could not be had from Billit ({0})")]
    Attachment(&'static str),
    #[error("the reminder could not be stored")]
    Storage(#[source] anyhow::Error),
}

impl crate::Failure for SendError {
    fn kind(&self) -> crate::FailureKind {
        match self {
            Self::NotFound => crate::FailureKind::NotFound,
            Self::Storage(_) => crate::FailureKind::Internal,
            Self::NotDue
            | Self::Held(_)
            | Self::Refused(_)
            | Self::NoRecipients
            | Self::Attachment(_) => crate::FailureKind::Refused,
        }
    }

    fn refusal(&self) -> Option<portal_domain::actions::Refusal> {
        match self {
            Self::Refused(refusal) => Some(*refusal),
            _ => None,
        }
    }
}

/// Who acts, from where (the audit log's actor).
#[derive(Debug, Clone)]
pub struct Actor<'a> {
    pub user: &'a User,
    pub ip: Option<String>,
}

/// The standing of one invoice of the tenant now, as the check would see it.
pub async fn standing_now(
    state: &App,
    scope: &TenantScope,
    invoice: InvoiceId,
) -> anyhow::Result<Option<(Candidate, Standing)>> {
    let candidate = state
        .reminders
        .standings(scope, &[invoice])
        .await
        .context("cannot read the invoice's standing")?
        .into_iter()
        .next();
    Ok(candidate.map(|candidate| {
        let standing = standing_of(&candidate);
        (candidate, standing)
    }))
}

/// The tenant's wording in a language, else the portal's.
pub async fn template_for(
    state: &App,
    scope: &TenantScope,
    lang: Language,
) -> anyhow::Result<Template> {
    Ok(state
        .reminders
        .templates(scope)
        .await
        .context("cannot read the reminder templates")?
        .into_iter()
        .find(|template| template.language == lang)
        .map_or_else(
            || templates::default_template(lang),
            |custom| Template {
                subject: custom.subject,
                body: custom.body,
            },
        ))
}

/// Sends a due reminder: the rule checked again, the invoice's PDF fetched from Billit, then the email to the
/// customer's billing contacts, the reminder marked sent and the audit entry written in one transaction. `actor`
/// is the member who sends it; `None` for automatic sending.
pub async fn send(
    state: &App,
    scope: &TenantScope,
    id: Uuid,
    actor: Option<Actor<'_>>,
) -> Result<(), SendError> {
    let reminder = state
        .reminders
        .get(scope, id)
        .await
        .map_err(|error| SendError::Storage(error.into()))?
        .ok_or(SendError::NotFound)?;
    if reminder.state != ReminderState::Due {
        return Err(SendError::NotDue);
    }
    let record = state
        .invoices
        .get(scope, reminder.invoice)
        .await
        .map_err(|error| SendError::Storage(error.into()))?
        .ok_or(SendError::NotFound)?;
    let today = crate::dates::today();
    let (candidate, standing) = standing_now(state, scope, reminder.invoice)
        .await
        .map_err(SendError::Storage)?
        .ok_or(SendError::NotFound)?;
    if let Some(hold) = rule::hold(&standing, today) {
        return Err(SendError::Held(hold));
    }
    // The one table of actions has the last word: what the schedule's holds do not see (e.g. a status that
    // forbids it) refuses the reminder too.
    let known = crate::actions::known(state, scope, &record)
        .await
        .map_err(SendError::Storage)?;
    crate::actions::check(
        portal_domain::actions::Action::SendReminder,
        &known.situation,
    )
    .map_err(|refused| SendError::Refused(refused.0))?;
    let tenant = state
        .tenants
        .find_by_id(scope.tenant_id())
        .await
        .map_err(|error| SendError::Storage(error.into()))?
        .ok_or(SendError::NotFound)?;
    let recipients = recipients(state, scope, &record).await?;
    if recipients.is_empty() {
        return Err(SendError::NoRecipients);
    }
    let pdf = match fetch_invoice_file(state, scope, &record, ORDER_PDF).await {
        Ok(file) => NewAttachment {
            file_name: file.name,
            content_type: file.mime,
            content: file.content,
        },
        Err(FileProblem::NotConfigured) => return Err(SendError::Attachment("not_configured")),
        Err(FileProblem::NotFound) => return Err(SendError::Attachment("not_found")),
        Err(FileProblem::Billit) => return Err(SendError::Attachment("billit")),
        Err(FileProblem::Internal(error)) => {
            tracing::error!(error = %format!("{error:#}"), "reading an invoice's PDF for a reminder");
            return Err(SendError::Attachment("billit"));
        }
    };
    let lang = record.draft.buyer.language;
    let template = template_for(state, scope, lang)
        .await
        .map_err(SendError::Storage)?;
    let values = values_for(&record, &tenant, candidate.due_date, today, lang);
    let subject = templates::render_subject(&template.subject, &values);
    let body = templates::render(&template.body, &values);
    let reply_to = tenant
        .email
        .reply_to
        .as_deref()
        .map(str::trim)
        .filter(|address| !address.is_empty())
        .map(str::to_owned)
        .or_else(|| actor.as_ref().map(|actor| actor.user.email.clone()));
    let email = NewEmail {
        to: recipients.clone(),
        subject: subject.clone(),
        html_body: templates::html_document(&subject, &body, lang),
        text_body: body,
        from: sender_address(state),
        reply_to,
    };
    let by = actor.as_ref().map(|actor| actor.user.id);
    let audit = AuditEntry::new("invoice.reminder_sent", format!("invoice:{}", record.id))
        .by(by)
        .from_ip(actor.and_then(|actor| actor.ip))
        .details(serde_json::json!({
            "number": record.draft.number,
            "step": reminder.step,
            "to": recipients,
            "subject": subject,
            "automatic": by.is_none(),
        }));
    let sent = state
        .reminders
        .mark_sent(
            scope,
            id,
            email,
            EmailExtras {
                cc: Vec::new(),
                from_name: Some(display_name(&tenant)),
                message_host: Some(message_host(&state.base_url)),
                attachments: vec![pdf],
            },
            by,
            audit,
        )
        .await
        .map_err(|error| SendError::Storage(error.into()))?;
    if !sent {
        return Err(SendError::NotDue);
    }
    state.jobs.ring();
    Ok(())
}

/// The customer's billing contacts: the customer's own addresses as they are now, else the invoice's buyer's.
async fn recipients(
    state: &App,
    scope: &TenantScope,
    record: &portal_persistence::invoices::InvoiceRecord,
) -> Result<Vec<String>, SendError> {
    if let Some(customer) = record.customer_id {
        let found = state
            .customers
            .get(scope, customer)
            .await
            .map_err(|error| SendError::Storage(error.into()))?;
        if let Some(customer) = found
            && !customer.contact_emails.is_empty()
        {
            return Ok(customer.contact_emails);
        }
    }
    Ok(record.draft.buyer.contact_emails.clone())
}

/// The values of the placeholders for an invoice's reminder.
pub fn values_for(
    record: &portal_persistence::invoices::InvoiceRecord,
    tenant: &Tenant,
    due_date: NaiveDate,
    today: NaiveDate,
    lang: Language,
) -> Values {
    let currency = &record.draft.currency;
    let remaining = (record.totals.incl - record.summary.amount_paid_cents).max(0);
    Values {
        invoice_number: record.draft.number.trim().to_owned(),
        invoice_date: crate::dates::date_or_dash(record.draft.issue_date, lang),
        due_date: crate::dates::date(due_date, lang),
        days_overdue: (today - due_date).num_days().max(0).to_string(),
        amount: crate::amounts::amount_cents(record.totals.incl, currency, lang),
        amount_due: crate::amounts::amount_cents(remaining, currency, lang),
        customer_name: record.buyer_name.clone(),
        company_name: tenant.legal_name.clone(),
        signature: tenant
            .email
            .signature
            .clone()
            .filter(|signature| !signature.trim().is_empty())
            .unwrap_or_else(|| tenant.legal_name.clone()),
    }
}

/// Why a reminder was not skipped.
#[derive(Debug, thiserror::Error)]
pub enum SkipError {
    #[error("no such reminder")]
    NotFound,
    #[error("the reminder is not due any more")]
    NotDue,
    #[error("the skip could not be stored")]
    Storage(#[source] anyhow::Error),
}

impl crate::Failure for SkipError {
    fn kind(&self) -> crate::FailureKind {
        match self {
            Self::NotFound => crate::FailureKind::NotFound,
            Self::NotDue => crate::FailureKind::Refused,
            Self::Storage(_) => crate::FailureKind::Internal,
        }
    }
}

/// A member skips a due reminder (with the audit entry, in one transaction).
pub async fn skip(
    state: &App,
    scope: &TenantScope,
    id: Uuid,
    actor: Actor<'_>,
) -> Result<(), SkipError> {
    let reminder = state
        .reminders
        .get(scope, id)
        .await
        .map_err(|error| SkipError::Storage(error.into()))?
        .ok_or(SkipError::NotFound)?;
    let audit = AuditEntry::new(
        "invoice.reminder_skipped",
        format!("invoice:{}", reminder.invoice),
    )
    .by(Some(actor.user.id))
    .from_ip(actor.ip)
    .details(serde_json::json!({ "step": reminder.step }));
    let skipped = state
        .reminders
        .skip(scope, id, actor.user.id, audit)
        .await
        .map_err(|error| SkipError::Storage(error.into()))?;
    if skipped {
        Ok(())
    } else {
        Err(SkipError::NotDue)
    }
}

/// A row of the "reminders due" page: the reminder, and the hold that applies to its invoice now, if any.
#[derive(Debug, Clone)]
pub struct DueRow {
    pub due: portal_persistence::reminders::DueReminder,
    pub hold: Option<Hold>,
}

/// The company's reminders waiting for a member, with what holds each one now.
pub async fn due_list(state: &App, scope: &TenantScope) -> anyhow::Result<Vec<DueRow>> {
    let due = state
        .reminders
        .list_due(scope, DUE_LIST_LIMIT)
        .await
        .context("cannot list the due reminders")?;
    let ids: Vec<InvoiceId> = due.iter().map(|row| row.reminder.invoice).collect();
    let standings = state
        .reminders
        .standings(scope, &ids)
        .await
        .context("cannot read the invoices' standings")?;
    let today = crate::dates::today();
    Ok(due
        .into_iter()
        .map(|row| {
            let hold = standings
                .iter()
                .find(|candidate| candidate.invoice == row.reminder.invoice)
                .and_then(|candidate| rule::hold(&standing_of(candidate), today));
            DueRow { due: row, hold }
        })
        .collect())
}

/// What an admin typed on the settings page, read already.
#[derive(Debug, Clone)]
pub struct SettingsInput {
    pub enabled: bool,
    pub automatic: bool,
    pub schedule: Schedule,
}

/// Saves the company's settings with the audit entry.
pub async fn save_settings(
    state: &App,
    scope: &TenantScope,
    input: SettingsInput,
    actor: Actor<'_>,
) -> anyhow::Result<()> {
    let settings = ReminderSettings {
        enabled: input.enabled,
        automatic: input.automatic,
        schedule: input.schedule,
    };
    let audit = AuditEntry::new(
        "tenant.reminders_changed",
        format!("tenant:{}", scope.tenant_id()),
    )
    .by(Some(actor.user.id))
    .from_ip(actor.ip)
    .details(serde_json::json!({
        "enabled": settings.enabled,
        "automatic": settings.automatic,
        "schedule": settings.schedule.to_text(),
    }));
    state
        .reminders
        .save_settings(scope, &settings, audit)
        .await
        .context("cannot save the reminder settings")
}

/// Excludes the company's customer from reminders or includes it again (audited when it changed). False when
/// there is no such customer.
pub async fn set_customer_excluded(
    state: &App,
    scope: &TenantScope,
    customer: CustomerId,
    excluded: bool,
    actor: Actor<'_>,
) -> anyhow::Result<bool> {
    let audit = AuditEntry::new(
        "customer.reminders_exclusion",
        format!("customer:{customer}"),
    )
    .by(Some(actor.user.id))
    .from_ip(actor.ip)
    .details(serde_json::json!({ "excluded": excluded }));
    state
        .reminders
        .set_customer_excluded(scope, customer, excluded, audit)
        .await
        .context("cannot change the customer's reminders")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_in_the_pages() {
        assert_eq!(
            crate::amounts::amount_cents(123_456, "EUR", Language::Fr),
            "1\u{202f}234,56\u{a0}€"
        );
        assert_eq!(
            crate::amounts::amount_cents(123_456, "", Language::En),
            "€1,234.56"
        );
        assert_eq!(
            crate::amounts::amount_cents(5, "USD", Language::En),
            "USD\u{a0}0.05"
        );
    }
}
