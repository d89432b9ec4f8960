//! Outgoing webhooks: a company's own systems hear of its invoices' statuses, requests, accepted payments and
//! failed submissions, as signed JSON POSTs.
//!
//! Events are produced where what they tell is recorded, in the same transaction (`statuses::conclude`, the
//! submission job's failure), one message and delivery job per chosen endpoint (`portal_persistence::
//! outgoing_webhooks`). The job POSTs the body with `Portal-Signature: t=<unix>,s=<hex HMAC-SHA256 of "t.body">`
//! (Billit's own scheme, so a receiver verifies both alike) under the endpoint's secret, shown once and kept
//! encrypted. An invoice's next event waits until the previous one was delivered or given up; failures retry with
//! the queue's exponential backoff; an endpoint failing for three days is paused and the company's admins told.

use crate::App;
use crate::crypto;
use crate::i18n::Tr;
use crate::worker::{JobFailure, JobResult};
use chrono::{DateTime, Utc};
use portal_domain::Language;
use portal_domain::lifecycle::StatusEvent;
use portal_persistence::TenantScope;
use portal_persistence::audit::AuditEntry;
use portal_persistence::invoices::{InvoiceRecord, InvoiceSummary};
use portal_persistence::jobs::ClaimedJob;
use portal_persistence::outbox::NewEmail;
use portal_persistence::outgoing_webhooks::{EndpointState, MessageState, OutgoingEvent};
use rand::RngCore;
use serde::Deserialize;
use std::time::Duration;
use uuid::Uuid;

/// `{"message_id"}`: deliver one message (after its invoice's earlier ones).
pub const DELIVER_JOB: &str = "webhooks.deliver";
/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Portal-Signature";
/// How long an endpoint may fail before it is paused.
pub const PAUSE_AFTER_DAYS: i64 = 3;
/// How long a receiver has to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The events a company may choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    StatusChanged,
    RequestOpened,
    RequestClosed,
    PaymentAccepted,
    InvoiceFailed,
}

impl EventType {
    pub const ALL: [Self; 5] = [
        Self::StatusChanged,
        Self::RequestOpened,
        Self::RequestClosed,
        Self::PaymentAccepted,
        Self::InvoiceFailed,
    ];

    /// The name in the JSON body (`type`) and in forms.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::StatusChanged => "invoice.status_changed",
            Self::RequestOpened => "invoice.request_opened",
            Self::RequestClosed => "invoice.request_closed",
            Self::PaymentAccepted => "payment.accepted",
            Self::InvoiceFailed => "invoice.failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Why an endpoint cannot be registered, for the person to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EndpointProblem {
    #[error("the address is not a valid https URL")]
    NotHttps,
    #[error("loopback addresses are not allowed in this deployment")]
    Loopback,
    #[error("no event chosen")]
    NoEvent,
}

impl EndpointProblem {
    /// The catalogue key of the message.
    pub fn message_key(self) -> &'static str {
        match self {
            Self::NotHttps => "webhooks.problem_not_https",
            Self::Loopback => "webhooks.problem_loopback",
            Self::NoEvent => "webhooks.problem_no_event",
        }
    }
}

/// An endpoint's address, checked: `https://host…`, or `http://127.0.0.1…` / `http://localhost…` /
/// `http://[::1]…` only when the deployment allows loopback endpoints (tests, the demonstration). No credentials in
/// the URL, no whitespace, at most 2048 characters.
pub fn check_url(raw: &str, allow_loopback: bool) -> Result<String, EndpointProblem> {
    let url = raw.trim();
    if url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(EndpointProblem::NotHttps);
    }
    let lower = url.to_ascii_lowercase();
    let (rest, secure) = if let Some(rest) = lower.strip_prefix("https://") {
        (rest, true)
    } else if let Some(rest) = lower.strip_prefix("http://") {
        (rest, false)
    } else {
        return Err(EndpointProblem::NotHttps);
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(EndpointProblem::NotHttps);
    }
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Err(EndpointProblem::NotHttps);
    }
    let loopback = host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified());
    if loopback && !allow_loopback {
        return Err(EndpointProblem::Loopback);
    }
    if !secure && !loopback {
        return Err(EndpointProblem::NotHttps);
    }
    Ok(url.to_owned())
}

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("{0}")]
    Invalid(EndpointProblem),
    #[error("the endpoint's secret cannot be encrypted")]
    Crypto(#[from] crypto::CryptoError),
    #[error(transparent)]
    Database(#[from] portal_persistence::DbErr),
}

impl crate::Failure for EndpointError {
    fn kind(&self) -> crate::FailureKind {
        match self {
            Self::Invalid(_) => crate::FailureKind::Refused,
            _ => crate::FailureKind::Internal,
        }
    }
}

/// A registered endpoint and its secret, which is shown this once.
#[derive(Debug, Clone)]
pub struct Registered {
    pub endpoint: portal_persistence::outgoing_webhooks::Endpoint,
    pub secret: String,
}

/// Registers an endpoint for `events` with a new random secret (`whsec_` + 64 hex), stored encrypted and bound to
/// the company; audited.
pub async fn register_endpoint(
    state: &App,
    scope: &TenantScope,
    url: &str,
    events: &[EventType],
    by: Option<portal_domain::ids::UserId>,
    audit: AuditEntry,
) -> Result<Registered, EndpointError> {
    let url =
        check_url(url, state.settings.allow_loopback_webhooks).map_err(EndpointError::Invalid)?;
    if events.is_empty() {
        return Err(EndpointError::Invalid(EndpointProblem::NoEvent));
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("whsec_{}", hex::encode(bytes));
    let encrypted = crypto::encrypt(&state.master_key, scope.tenant_id(), &secret)?;
    let names: Vec<String> = events.iter().map(|kind| kind.as_str().to_owned()).collect();
    let endpoint = state
        .outgoing_webhooks
        .create(scope, &url, &names, encrypted, by.map(Uuid::from))
        .await?;
    portal_persistence::audit::record_for_tenant(
        &state.db,
        scope,
        audit.details(
            serde_json::json!({ "endpoint": endpoint.id, "url": endpoint.url, "events": names }),
        ),
    )
    .await?;
    tracing::info!(endpoint = %endpoint.id, "outgoing webhook endpoint registered");
    Ok(Registered { endpoint, secret })
}

/// Removes an endpoint with its log; audited. False when the company has no such endpoint.
pub async fn remove_endpoint(
    state: &App,
    scope: &TenantScope,
    id: Uuid,
    audit: AuditEntry,
) -> Result<bool, portal_persistence::DbErr> {
    let Some(endpoint) = state.outgoing_webhooks.get(scope, id).await? else {
        return Ok(false);
    };
    let removed = state.outgoing_webhooks.delete(scope, id).await?;
    if removed {
        portal_persistence::audit::record_for_tenant(
            &state.db,
            scope,
            audit.details(serde_json::json!({ "endpoint": id, "url": endpoint.url })),
        )
        .await?;
    }
    Ok(removed)
}

/// Makes a paused endpoint active again; its pending messages go out in order. False when the company has no such
/// endpoint.
pub async fn resume_endpoint(state: &App, scope: &TenantScope, id: Uuid) -> anyhow::Result<bool> {
    let resumed = state
        .outgoing_webhooks
        .resume(scope, id, DELIVER_JOB)
        .await?;
    state.jobs.ring();
    Ok(resumed)
}

/// Sends a message's event again (a new message, after the endpoint's others). `None` when the company has no such
/// message on that endpoint.
pub async fn send_again(
    state: &App,
    scope: &TenantScope,
    endpoint: Uuid,
    message: Uuid,
) -> anyhow::Result<Option<Uuid>> {
    let again = state
        .outgoing_webhooks
        .send_again(scope, endpoint, message, DELIVER_JOB)
        .await?;
    state.jobs.ring();
    Ok(again)
}

/// The JSON body of an event.
fn body(scope: &TenantScope, kind: EventType, data: serde_json::Value) -> String {
    serde_json::json!({
        "id": Uuid::now_v7(),
        "type": kind.as_str(),
        "created_at": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "company_id": scope.tenant_id(),
        "data": data,
    })
    .to_string()
}

fn event(
    scope: &TenantScope,
    invoice: &InvoiceRecord,
    kind: EventType,
    mut data: serde_json::Value,
) -> OutgoingEvent {
    if let Some(map) = data.as_object_mut() {
        map.insert("invoice_id".into(), serde_json::json!(invoice.id));
        map.insert("invoice_number".into(), serde_json::json!(invoice.number()));
    }
    OutgoingEvent {
        event_type: kind.as_str().to_owned(),
        invoice_id: Some(invoice.id.into()),
        body: body(scope, kind, data),
    }
}

fn at(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What a pass over an invoice's statuses announces: each new status (in the order of their times), the request
/// it opened or closed, the payments the tax authority accepted.
pub fn status_events(
    scope: &TenantScope,
    invoice: &InvoiceRecord,
    before: &InvoiceSummary,
    after: &InvoiceSummary,
    new: &[StatusEvent],
    accepted_payments: u64,
) -> Vec<OutgoingEvent> {
    let mut ordered: Vec<&StatusEvent> = new.iter().collect();
    // By time; at the same time, by code (the transmission steps 200 → 203 are numbered in their order).
    ordered.sort_by(|a, b| {
        a.at.cmp(&b.at)
            .then_with(|| a.effective_code().cmp(&b.effective_code()))
            .then_with(|| a.dedup_key.cmp(&b.dedup_key))
    });
    let mut out = Vec::new();
    for status in ordered {
        let Some(code) = status.effective_code() else {
            continue;
        };
        out.push(event(
            scope,
            invoice,
            EventType::StatusChanged,
            serde_json::json!({
                "code": code.0,
                "label": code.label(Language::Fr),
                "label_en": code.label(Language::En),
                "source": status.source.as_str(),
                "at": at(status.at),
                "reasons": status.reasons,
                "headline": after.headline.map(|code| code.0),
            }),
        ));
    }
    match (before.open_request, after.open_request) {
        (None, Some((code, since))) => out.push(event(
            scope,
            invoice,
            EventType::RequestOpened,
            serde_json::json!({ "code": code.0, "since": at(since) }),
        )),
        (Some((code, _)), None) => out.push(event(
            scope,
            invoice,
            EventType::RequestClosed,
            serde_json::json!({ "code": code.0 }),
        )),
        _ => {}
    }
    if accepted_payments > 0 {
        out.push(event(
            scope,
            invoice,
            EventType::PaymentAccepted,
            serde_json::json!({
                "accepted": accepted_payments,
                "amount_paid_cents": after.amount_paid_cents,
            }),
        ));
    }
    out
}

/// What a failed submission announces (`code` is the failure's code, `portal_app::failures`).
pub fn failure_events(
    scope: &TenantScope,
    invoice: &InvoiceRecord,
    code: &str,
) -> Vec<OutgoingEvent> {
    vec![event(
        scope,
        invoice,
        EventType::InvoiceFailed,
        serde_json::json!({ "error": code.split(':').next().unwrap_or(code) }),
    )]
}

/// The HTTP client of deliveries: no redirects (a receiver moved is a failure to see, not to follow), a timeout,
/// rustls.
pub fn http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .user_agent(concat!("portal-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

#[derive(Deserialize)]
struct DeliverJob {
    message_id: Uuid,
}

/// The job: sends one message unless an earlier one of its invoice is pending (that one's end wakes it), its
/// endpoint is paused (resuming wakes it), or another attempt holds it.
pub async fn run(state: App, client: Option<reqwest::Client>, job: ClaimedJob) -> JobResult {
    let scope = job
        .tenant_scope()
        .ok_or_else(|| JobFailure::Permanent(anyhow::anyhow!("job {} has no tenant", job.kind)))?;
    let payload: DeliverJob = job.payload().map_err(|error| {
        JobFailure::Permanent(anyhow::Error::from(error).context("unreadable job payload"))
    })?;
    let repo = &state.outgoing_webhooks;
    let Some(message) = repo.message(&scope, payload.message_id).await? else {
        return Ok(());
    };
    if message.state != MessageState::Pending || repo.waits_for_earlier(&scope, &message).await? {
        return Ok(());
    }
    let Some(endpoint) = repo.get(&scope, message.endpoint_id).await? else {
        return Ok(());
    };
    if endpoint.state == EndpointState::Paused {
        return Ok(());
    }
    let now_ms = Utc::now().timestamp_millis();
    let lease = i64::try_from(TIMEOUT.as_millis() * 3).unwrap_or(i64::MAX);
    if !repo
        .take(&scope, message.id, now_ms, now_ms + lease)
        .await?
    {
        return Ok(());
    }
    let client = client.ok_or_else(|| JobFailure::Retry(anyhow::anyhow!("no HTTP client")))?;
    let secret = crypto::decrypt(
        &state.master_key,
        scope.tenant_id(),
        &endpoint.encrypted_secret,
    )
    .map_err(|error| JobFailure::Permanent(anyhow::Error::from(error)))?;
    let timestamp = Utc::now().timestamp();
    let signature =
        portal_billit::webhook::sign(secret.as_bytes(), timestamp, message.body.as_bytes());
    let sent = client
        .post(&endpoint.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature)
        .header("Portal-Event", &message.event_type)
        .body(message.body.clone())
        .send()
        .await;
    let (status, excerpt, delivered) = match sent {
        Ok(response) => {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            let excerpt: String = text
                .chars()
                .take(portal_persistence::outgoing_webhooks::EXCERPT_CHARS)
                .collect();
            (
                Some(i32::from(status.as_u16())),
                excerpt,
                status.is_success(),
            )
        }
        // The cause chain without the URL's query (which may carry a receiver's token).
        Err(error) => (None, describe(&error), false),
    };
    let give_up = !delivered && job.is_last_attempt();
    let outcome = repo
        .record_attempt(
            &scope,
            &message,
            status,
            &excerpt,
            delivered,
            give_up,
            chrono::Duration::days(PAUSE_AFTER_DAYS),
            DELIVER_JOB,
        )
        .await
        .map_err(anyhow::Error::from)?;
    state.jobs.ring();
    if outcome.paused {
        tracing::warn!(endpoint = %endpoint.id, "outgoing webhook endpoint paused after failing for days");
        tell_admins(&state, &scope, &endpoint.url).await?;
        return Ok(());
    }
    if delivered || give_up {
        return Ok(());
    }
    Err(JobFailure::Retry(anyhow::anyhow!(
        "the receiver answered {}",
        status.map_or_else(|| excerpt.clone(), |code| code.to_string())
    )))
}

/// Why a request got no answer, in a line.
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_redirect() {
        "redirect refused"
    } else {
        "request failed"
    };
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Emails the company's active admins that an endpoint was paused, each in their language.
async fn tell_admins(state: &App, scope: &TenantScope, url: &str) -> Result<(), JobFailure> {
    let Some(tenant) = state.tenants.find_by_id(scope.tenant_id()).await? else {
        return Ok(());
    };
    let link = format!("{}/t/{}/settings/webhooks", state.base_url, tenant.slug);
    let admins = state.tenants.members(scope).await?;
    for member in admins
        .into_iter()
        .filter(|member| member.active && member.role == portal_persistence::TenantRole::Admin)
    {
        let t = Tr::new(Language::parse(&member.user.language).unwrap_or_default());
        let text = t.fill(
            "webhooks.paused_email_body",
            &[
                ("url", url),
                ("company", &tenant.legal_name),
                ("link", &link),
            ],
        );
        let email = NewEmail {
            to: vec![member.user.email.clone()],
            subject: t.get("webhooks.paused_email_subject").to_owned(),
            html_body: format!("<p>{}</p>", html_escape(&text).replace('\n', "<br>")),
            text_body: text,
            from: state.settings.mail_from.clone(),
            reply_to: None,
        };
        state
            .outbox
            .queue_for_tenant(scope, email)
            .await
            .map_err(anyhow::Error::from)?;
    }
    state.jobs.ring();
    Ok(())
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_allowed_loopback_addresses_are_taken() {
        assert_eq!(
            check_url(" https://erp.example.fr/hooks ", false).as_deref(),
            Ok("https://erp.example.fr/hooks")
        );
        assert_eq!(
            check_url("http://erp.example.fr/hooks", true),
            Err(EndpointProblem::NotHttps)
        );
        assert_eq!(
            check_url("http://127.0.0.1:8080/x", false),
            Err(EndpointProblem::Loopback)
        );
        assert_eq!(
            check_url("https://localhost/x", false),
            Err(EndpointProblem::Loopback)
        );
        assert!(check_url("http://127.0.0.1:8080/x", true).is_ok());
        assert!(check_url("http://[::1]:80/x", true).is_ok());
        for bad in [
            "ftp://x",
            "https://",
            "https://user:pw@host/",
            "https://a b",
            "javascript:alert(1)",
        ] {
            assert!(check_url(bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn event_names_round_trip() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventType::parse("nope"), None);
    }
}
