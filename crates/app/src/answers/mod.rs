//! Answering a customer's request (207 dispute, 208 information request) by email: which request is open, who
//! the email is from and where replies go, the email itself with the invoice's files from Billit, queued in the
//! outbox with its audit entry in one transaction; and trying a failed one again.

pub mod templates;

use crate::App;
use crate::invoicing::files::{FileProblem, ORDER_PDF, fetch_invoice_file, sent_file_id};
use portal_domain::Language;
use portal_domain::actions::{Action, Refusal, Situation, decide};
use portal_domain::ids::InvoiceId;
use portal_domain::lifecycle::{History, OpenRequest};
use portal_persistence::TenantScope;
use portal_persistence::answers::NewInvoiceEmail;
use portal_persistence::audit::AuditEntry;
use portal_persistence::invoices::{InvoiceRecord, StoredEvent};
use portal_persistence::outbox::{EmailExtras, NewAttachment, NewEmail, OutboxError};
use portal_persistence::tenants::Tenant;
use portal_persistence::users::User;
use uuid::Uuid;

/// An invoice with its events and what a page or an answer needs of them besides the stored summary.
#[derive(Debug, Clone)]
pub struct LoadedInvoice {
    pub record: InvoiceRecord,
    pub events: Vec<StoredEvent>,
    pub history: History,
}

/// The invoice's events and what they say besides the stored summary, for an invoice already found in this
/// tenant.
pub async fn load(
    app: &App,
    scope: &TenantScope,
    record: InvoiceRecord,
) -> Result<LoadedInvoice, portal_persistence::DbErr> {
    let events = app.invoices.events(scope, record.id).await?;
    let history = history_of(&record, &events);
    Ok(LoadedInvoice {
        record,
        events,
        history,
    })
}

/// What the invoice's pages show of its events besides the stored summary (the open request above all).
pub fn history_of(record: &InvoiceRecord, events: &[StoredEvent]) -> History {
    let plain: Vec<_> = events.iter().map(|stored| stored.event.clone()).collect();
    History::read(&plain, &record.facts())
}

/// The request that can be answered by email: an open 208 or 207.
pub fn answerable(history: &History) -> Option<&OpenRequest> {
    history
        .open_request
        .as_ref()
        .filter(|request| templates::ANSWERED_STATUSES.contains(&request.code.0))
}

/// The table of actions' situation of a loaded invoice for answering: the open request as its events say
/// (what was paid or credited does not decide an answer).
pub fn situation(loaded: &LoadedInvoice) -> Situation {
    let mut situation = crate::actions::without_amounts(&loaded.record);
    situation.open_request = answerable(&loaded.history).map(|request| request.code);
    situation
}

/// The open request to answer, when the table of actions lets this invoice be answered.
pub fn check(loaded: &LoadedInvoice) -> Result<&OpenRequest, Refusal> {
    decide(Action::Answer, &situation(loaded))?;
    answerable(&loaded.history).ok_or(Refusal {
        action: Action::Answer,
        reason: portal_domain::actions::Reason::NoOpenRequest,
    })
}

/// The customer's language (the buyer's, as on the invoice).
pub fn customer_language(record: &InvoiceRecord) -> Language {
    record.draft.buyer.language
}

/// The longest sender name a company may choose (the rule is the domain's).
pub use portal_domain::connection::MAX_SENDER_NAME;

/// Why a sender name is refused ([`portal_domain::connection::sender_name_problem`]), as a catalogue key;
/// `None` when it is fine.
pub fn sender_name_problem(name: &str) -> Option<&'static str> {
    use portal_domain::connection::SenderNameProblem;
    portal_domain::connection::sender_name_problem(name).map(|problem| match problem {
        SenderNameProblem::TooLong => "email_settings.sender_name_too_long",
        SenderNameProblem::Characters => "email_settings.sender_name_characters",
    })
}

/// How the tenant signs its emails to customers (a name stored before the rules is made to follow them).
pub fn display_name(tenant: &Tenant) -> String {
    let chosen = tenant
        .email
        .sender_name
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .unwrap_or(&tenant.legal_name);
    portal_domain::connection::sender_name_cleaned(chosen)
}

/// Where the customer's reply goes: the tenant's configured reply-to, else the person who writes.
pub fn reply_to(tenant: &Tenant, user: &User) -> String {
    tenant
        .email
        .reply_to
        .as_deref()
        .map(str::trim)
        .filter(|address| !address.is_empty())
        .unwrap_or(&user.email)
        .to_owned()
}

/// The address part of `mail.from`.
pub fn sender_address(app: &App) -> String {
    crate::mailer::address_of(&app.settings.mail_from)
}

/// The sender as the customer reads it: `"ACME SAS" <no-reply@…>`.
pub fn from_line(app: &App, tenant: &Tenant) -> String {
    format!("\"{}\" <{}>", display_name(tenant), sender_address(app))
}

/// The host of the portal's public address, for Message-IDs.
pub fn message_host(base_url: &str) -> String {
    let rest = base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let host = if authority.starts_with('[') {
        authority
            .split_inclusive(']')
            .next()
            .unwrap_or_default()
            .to_owned()
    } else {
        authority.split(':').next().unwrap_or_default().to_owned()
    };
    if host.is_empty() {
        "portal".to_owned()
    } else {
        host.to_ascii_lowercase()
    }
}

/// An answer as the person wrote it (already checked: recipients, subject and body).
#[derive(Debug, Clone)]
pub struct Answer {
    pub to: Vec<String>,
    pub cc_me: bool,
    pub subject: String,
    pub body: String,
    pub attach_pdf: bool,
    pub attach_ubl: bool,
    /// The person's own files, made safe already.
    pub uploads: Vec<NewAttachment>,
}

/// Which of the invoice's files from Billit could not be attached, and why.
#[derive(Debug)]
pub enum AttachmentProblem {
    /// The invoice went over the network without a UBL file the portal knows of.
    NoUbl,
    NotConfigured,
    NotFound,
    Billit,
}

/// Why an answer was not queued.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The table of actions refuses it: no 207 or 208 is open on the invoice (any more).
    #[error(transparent)]
    Refused(Refusal),
    /// Billit's files could not be had: nothing was queued.
    #[error("{} of the invoice's files could not be had from Billit", .0.len())]
    Attachments(Vec<AttachmentProblem>),
    #[error("no such invoice")]
    NotFound,
    /// Addresses that are not among the customer's known contacts: only a company admin may write to them.
    #[error("{} recipient(s) are not contacts of the customer", .0.len())]
    UnknownRecipients(Vec<String>),
    /// The company, or this person, wrote as many answers in the last hour as allowed.
    #[error("the hourly limit of answers is reached ({limit} per hour)")]
    HourlyLimit { limit: u32 },
    #[error("the recent answers could not be counted")]
    Counting(#[source] portal_persistence::DbErr),
    #[error("the email could not be queued")]
    Storage(#[source] OutboxError),
}

impl crate::Failure for SendError {
    fn kind(&self) -> crate::FailureKind {
        match self {
            Self::NotFound => crate::FailureKind::NotFound,
            Self::Storage(_) | Self::Counting(_) => crate::FailureKind::Internal,
            Self::Refused(_)
            | Self::Attachments(_)
            | Self::UnknownRecipients(_)
            | Self::HourlyLimit { .. } => crate::FailureKind::Refused,
        }
    }

    fn refusal(&self) -> Option<Refusal> {
        match self {
            Self::Refused(refusal) => Some(*refusal),
            _ => None,
        }
    }
}

/// Who writes, from where (the audit log's actor).
#[derive(Debug, Clone)]
pub struct Author<'a> {
    pub user: &'a User,
    pub ip: Option<String>,
}

async fn billit_attachment(
    app: &App,
    scope: &TenantScope,
    record: &InvoiceRecord,
    file_id: Option<String>,
) -> Result<NewAttachment, AttachmentProblem> {
    let Some(file_id) = file_id else {
        return Err(AttachmentProblem::NoUbl);
    };
    match fetch_invoice_file(app, scope, record, &file_id).await {
        Ok(file) => Ok(NewAttachment {
            file_name: file.name,
            content_type: file.mime,
            content: file.content,
        }),
        Err(FileProblem::NotConfigured) => Err(AttachmentProblem::NotConfigured),
        Err(FileProblem::NotFound) => Err(AttachmentProblem::NotFound),
        Err(FileProblem::Billit) => Err(AttachmentProblem::Billit),
        Err(FileProblem::Internal(error)) => {
            tracing::error!(error = %format!("{error:#}"), "reading an invoice's file for an answer");
            Err(AttachmentProblem::Billit)
        }
    }
}

/// Queues the answer to the invoice's open request: Billit's files are fetched first (so that what is queued is
/// complete and the mail job needs only SMTP), then the email, its record on the invoice and its audit entry are
/// stored in one transaction.
pub async fn send(
    app: &App,
    scope: &TenantScope,
    tenant: &Tenant,
    loaded: &LoadedInvoice,
    answer: Answer,
    author: Author<'_>,
) -> Result<(), SendError> {
    let request = check(loaded).map_err(SendError::Refused)?;
    let record = &loaded.record;
    check_recipients(app, scope, record, &answer.to).await?;
    check_hourly_limits(app, scope, author.user).await?;
    let mut attachments = Vec::new();
    let mut problems = Vec::new();
    if answer.attach_pdf {
        match billit_attachment(app, scope, record, Some(ORDER_PDF.to_owned())).await {
            Ok(file) => attachments.push(file),
            Err(problem) => problems.push(problem),
        }
    }
    if answer.attach_ubl {
        match billit_attachment(app, scope, record, sent_file_id(&loaded.events)).await {
            Ok(file) => attachments.push(file),
            Err(problem) => problems.push(problem),
        }
    }
    if !problems.is_empty() {
        return Err(SendError::Attachments(problems));
    }
    attachments.extend(answer.uploads);
    let file_names: Vec<String> = attachments
        .iter()
        .map(|file| file.file_name.clone())
        .collect();
    let user = author.user;
    let subject = one_line(&answer.subject);
    let cc = if answer.cc_me {
        vec![user.email.clone()]
    } else {
        Vec::new()
    };
    let email = NewEmail {
        to: answer.to.clone(),
        subject: subject.clone(),
        html_body: templates::html_document(&subject, &answer.body, customer_language(record)),
        text_body: answer.body,
        from: sender_address(app),
        reply_to: Some(reply_to(tenant, user)),
    };
    let audit = AuditEntry::new("invoice.email_sent", format!("invoice:{}", record.id))
        .by(Some(user.id))
        .from_ip(author.ip)
        .details(serde_json::json!({
            "number": record.draft.number,
            "request": request.code.0,
            "to": answer.to,
            "cc": cc,
            "subject": subject,
            "attachments": file_names,
        }));
    let sent = app
        .invoice_emails
        .clone()
        .send(
            scope,
            NewInvoiceEmail {
                invoice: record.id,
                request_code: request.code.0,
                request_dedup_key: request.dedup_key.clone(),
                sent_by: Some(user.id),
                email,
                extras: EmailExtras {
                    cc,
                    from_name: Some(display_name(tenant)),
                    message_host: Some(message_host(&app.base_url)),
                    attachments,
                },
            },
            audit,
        )
        .await
        .map_err(SendError::Storage)?;
    if sent.is_none() {
        return Err(SendError::NotFound);
    }
    app.jobs.ring();
    // The firm's console shows whether a request was answered: its open pages hear of it.
    app.live.publish(crate::live::LiveEvent {
        tenant: scope.tenant_id(),
        invoice: record.id,
        headline: None,
    });
    Ok(())
}

/// The customer's known contacts: the invoice's buyer contacts and the customer record's, lower-cased.
async fn known_contacts(app: &App, scope: &TenantScope, record: &InvoiceRecord) -> Vec<String> {
    let mut known: Vec<String> = record.draft.buyer.contact_emails.clone();
    if let Some(customer) = record.customer_id {
        match app.customers.get(scope, customer).await {
            Ok(Some(customer)) => known.extend(customer.contact_emails),
            Ok(None) => {}
            // The invoice's own contacts still count; the others will need an admin.
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "reading the customer's contacts")
            }
        }
    }
    known
        .iter()
        .map(|email| email.trim().to_lowercase())
        .collect()
}

/// Answers go to the customer's known contacts; anyone else only when a company admin writes (an admin's answer
/// is their approval).
async fn check_recipients(
    app: &App,
    scope: &TenantScope,
    record: &InvoiceRecord,
    to: &[String],
) -> Result<(), SendError> {
    if scope.allows(portal_persistence::scope::TenantRole::Admin) {
        return Ok(());
    }
    let known = known_contacts(app, scope, record).await;
    let unknown: Vec<String> = to
        .iter()
        .filter(|address| !known.contains(&address.trim().to_lowercase()))
        .cloned()
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(SendError::UnknownRecipients(unknown))
    }
}

/// The company's and the person's answers of the last hour, against the limits.
async fn check_hourly_limits(app: &App, scope: &TenantScope, user: &User) -> Result<(), SendError> {
    let limits = app.answer_limits;
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let (company, own) = app
        .invoice_emails
        .written_since(scope, user.id, since)
        .await
        .map_err(SendError::Counting)?;
    if own >= u64::from(limits.per_user_hour) {
        return Err(SendError::HourlyLimit {
            limit: limits.per_user_hour,
        });
    }
    if company >= u64::from(limits.per_company_hour) {
        return Err(SendError::HourlyLimit {
            limit: limits.per_company_hour,
        });
    }
    Ok(())
}

/// A subject on one line (a header cannot hold a line break).
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Why a failed answer was not sent again.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("no such email on this invoice")]
    NotFound,
    #[error("the retry could not be stored")]
    Storage(#[source] OutboxError),
}

impl crate::Failure for RetryError {
    fn kind(&self) -> crate::FailureKind {
        match self {
            Self::NotFound => crate::FailureKind::NotFound,
            Self::Storage(_) => crate::FailureKind::Internal,
        }
    }
}

/// Queues a failed answer again (with its audit entry, in one transaction). An email that is not failed (sent
/// meanwhile, or already retrying) is left as it is.
pub async fn retry(
    app: &App,
    scope: &TenantScope,
    invoice: InvoiceId,
    email: Uuid,
    author: Author<'_>,
) -> Result<(), RetryError> {
    let repository = app.invoice_emails.clone();
    let audit = AuditEntry::new("invoice.email_retried", format!("invoice:{invoice}"))
        .by(Some(author.user.id))
        .from_ip(author.ip)
        .details(serde_json::json!({ "email": email }));
    let retried = repository
        .retry(scope, invoice, email, audit)
        .await
        .map_err(RetryError::Storage)?;
    if retried {
        app.jobs.ring();
        return Ok(());
    }
    let exists = repository
        .exists(scope, invoice, email)
        .await
        .map_err(|error| RetryError::Storage(error.into()))?;
    if exists {
        Ok(())
    } else {
        Err(RetryError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule is the domain's (tested there); each of its refusals has its sentence.
    #[test]
    fn each_sender_name_refusal_has_its_sentence() {
        assert_eq!(sender_name_problem("ACME SAS"), None);
        for (name, key) in [
            (
                "support@bank.example",
                "email_settings.sender_name_characters",
            ),
            (
                &"é".repeat(MAX_SENDER_NAME + 1),
                "email_settings.sender_name_too_long",
            ),
        ] {
            assert_eq!(sender_name_problem(name), Some(key));
            for lang in [portal_domain::Language::Fr, portal_domain::Language::En] {
                assert_ne!(crate::i18n::Tr::new(lang).get(key), key, "{key}");
            }
        }
    }

    #[test]
    fn message_ids_use_the_public_host() {
        assert_eq!(
            message_host("https://portal.example.fr/"),
            "portal.example.fr"
        );
        assert_eq!(message_host("http://127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(message_host("http://[::1]:8080/x"), "[::1]");
        assert_eq!(message_host(""), "portal");
    }
}
