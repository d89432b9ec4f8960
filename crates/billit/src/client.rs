//! The Billit API client: a mockable trait and its reqwest implementation.
//!
//! - Headers `ApiKey`, `PartyID`, optional `ContextPartyID`; `Idempotency-Key` on creates.
//! - Retries with exponential backoff and jitter on 429 (honouring `Retry-After`), 5xx and
//!   connection errors, only for calls safe to repeat: reads (GET), deletes, and creates that
//!   carry an idempotency key (order creation, payments). `send`, `PATCH`, webhook creation and
//!   refresh are never repeated.
//! - Sending carries `StrictTransportType: true`, so that Billit never falls back to another transport (email)
//!   when the buyer cannot be reached over the requested one: the send fails instead.
//! - A 409 "Idempotent token already exists" on order creation means "already created": the
//!   order is found by its number and its id returned. On a payment it means "already recorded".
//! - API keys and secrets are never logged: [`BillitCredentials`] has a redacted `Debug`.

use crate::time::format_billit;
use crate::wire::{
    AccountInformation, ErrorBody, Order, Paged, PaidPatch, ParticipantInformation, PaymentRequest,
    SendCommand, Webhook, WebhookRegistration,
};
use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use portal_domain::Localized;
use rand::Rng as _;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::time::Duration;

/// Billit's production API.
pub const PRODUCTION_URL: &str = "https://api.billit.be";
/// Billit's sandbox API.
pub const SANDBOX_URL: &str = "https://api.sandbox.billit.be";
/// The most pages followed when listing (a guard against a server that never ends).
pub const MAX_PAGES: usize = 1_000;

/// A tenant's Billit credentials (the API key is redacted from `Debug`).
#[derive(Clone, PartialEq, Eq)]
pub struct BillitCredentials {
    /// The API key (header `ApiKey`).
    pub api_key: String,
    /// The company's party id (header `PartyID`).
    pub party_id: String,
    /// The company an accountant acts for (header `ContextPartyID`).
    pub context_party_id: Option<String>,
}

impl fmt::Debug for BillitCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BillitCredentials")
            .field("api_key", &"[redacted]")
            .field("party_id", &self.party_id)
            .field("context_party_id", &self.context_party_id)
            .finish()
    }
}

/// A file downloaded from Billit (content decoded from base64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadedFile {
    /// `FileID`.
    pub file_id: Option<String>,
    /// `FileName`.
    pub file_name: Option<String>,
    /// `MimeType`.
    pub mime_type: Option<String>,
    /// The bytes.
    pub content: Vec<u8>,
}

/// One error of Billit's error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiErrorDetail {
    /// Billit's code.
    pub code: Option<String>,
    /// Billit's description.
    pub description: Option<String>,
}

/// What went wrong talking to Billit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillitError {
    /// 401/403: the API key or party is wrong.
    #[error("Billit refused the credentials (HTTP {status})")]
    Unauthorized {
        /// 401 or 403.
        status: u16,
    },
    /// 404.
    #[error("not found at Billit")]
    NotFound,
    /// 400/422 and other 4xx: Billit refused the content.
    #[error("Billit refused the request (HTTP {status}): {}", describe(errors))]
    Validation {
        /// The HTTP status.
        status: u16,
        /// Billit's codes and descriptions.
        errors: Vec<ApiErrorDetail>,
    },
    /// 409 other than the idempotency replay.
    #[error("conflict at Billit: {}", describe(errors))]
    Conflict {
        /// Billit's codes and descriptions.
        errors: Vec<ApiErrorDetail>,
    },
    /// 429 after the retries (or with a `Retry-After` beyond what we wait).
    #[error("Billit rate limit reached{}", retry_after.map(|d| format!(" (retry after {} s)", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// Billit's `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// 5xx after the retries.
    #[error("Billit server error (HTTP {status})")]
    Server {
        /// The HTTP status.
        status: u16,
    },
    /// Connection, TLS or timeout.
    #[error("cannot reach Billit: {0}")]
    Transport(String),
    /// The answer could not be read.
    #[error("unexpected answer from Billit: {0}")]
    Decode(String),
    /// A bad argument or configuration (e.g. credentials not valid as header values).
    #[error("invalid Billit request: {0}")]
    Invalid(String),
}

fn describe(errors: &[ApiErrorDetail]) -> String {
    if errors.is_empty() {
        return "no detail".to_owned();
    }
    errors
        .iter()
        .map(|error| match (&error.code, &error.description) {
            (Some(code), Some(text)) => format!("{code}: {text}"),
            (Some(code), None) => code.clone(),
            (None, Some(text)) => text.clone(),
            (None, None) => "?".to_owned(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl BillitError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Server { .. } | Self::Transport(_)
        )
    }
}

impl Localized for BillitError {
    fn message_fr(&self) -> String {
        match self {
            Self::Unauthorized { .. } => {
                "Billit a refusé les identifiants (clé API ou PartyID)".to_owned()
            }
            Self::NotFound => "Introuvable chez Billit".to_owned(),
            Self::Validation { errors, .. } => {
                format!("Billit a refusé la demande : {}", describe(errors))
            }
            Self::Conflict { errors } => format!("Conflit chez Billit : {}", describe(errors)),
            Self::RateLimited { .. } => {
                "Trop de demandes à Billit : nouvel essai plus tard".to_owned()
            }
            Self::Server { status } => format!("Erreur du serveur Billit (HTTP {status})"),
            Self::Transport(_) => "Billit est injoignable".to_owned(),
            Self::Decode(_) => "Réponse inattendue de Billit".to_owned(),
            Self::Invalid(detail) => format!("Demande à Billit invalide : {detail}"),
        }
    }

    fn message_en(&self) -> String {
        match self {
            Self::Transport(_) => "Billit cannot be reached".to_owned(),
            Self::Decode(_) => "Unexpected answer from Billit".to_owned(),
            other => other.to_string(),
        }
    }
}

/// Everything the portal asks Billit. Mockable: implement it in tests.
#[async_trait]
pub trait BillitClient: Send + Sync {
    /// `POST /v1/orders` with an `Idempotency-Key`; returns the OrderID. A replay (409) returns
    /// the id of the order already created, found by its number.
    async fn create_order(&self, order: &Order, idempotency_key: &str) -> Result<i64, BillitError>;
    /// `POST /v1/orders/commands/send` with `StrictTransportType: true` (never retried).
    async fn send_orders(&self, order_ids: &[i64], transport_type: &str)
    -> Result<(), BillitError>;
    /// `DELETE /v1/orders/{id}`: an order created but never sent (Billit refuses a sent one).
    async fn delete_order(&self, order_id: i64) -> Result<(), BillitError>;
    /// `GET /v1/orders/{id}`.
    async fn get_order(&self, order_id: i64) -> Result<Order, BillitError>;
    /// `GET /v1/orders?$filter=LastModified ge DateTime'…'`, following every page.
    async fn list_orders_modified_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<Order>, BillitError>;
    /// The id of the order with this number, if any.
    async fn find_order_by_number(&self, order_number: &str) -> Result<Option<i64>, BillitError>;
    /// `PATCH /v1/orders/{id}` with `Paid` (never retried).
    async fn patch_paid(
        &self,
        order_id: i64,
        paid: bool,
        paid_date: Option<DateTime<Utc>>,
    ) -> Result<(), BillitError>;
    /// `POST /v1/orders/{id}/payments` (212). Retried, and a replay is success, only with a key.
    async fn post_payment(
        &self,
        order_id: i64,
        payment: &PaymentRequest,
        idempotency_key: Option<&str>,
    ) -> Result<(), BillitError>;
    /// `GET /v1/files/{id}`, decoded.
    async fn get_file(&self, file_id: &str) -> Result<DownloadedFile, BillitError>;
    /// `POST /v1/webhooks`; the answer carries the secret.
    async fn create_webhook(
        &self,
        registration: &WebhookRegistration,
    ) -> Result<Webhook, BillitError>;
    /// `GET /v1/webhooks`.
    async fn list_webhooks(&self) -> Result<Vec<Webhook>, BillitError>;
    /// `DELETE /v1/webhooks/{id}`.
    async fn delete_webhook(&self, webhook_id: i64) -> Result<(), BillitError>;
    /// `POST /v1/webhooks/refresh/{id}`: a new secret.
    async fn refresh_webhook(&self, webhook_id: i64) -> Result<Webhook, BillitError>;
    /// `GET /v1/account/accountInformation`.
    async fn account_information(&self) -> Result<AccountInformation, BillitError>;
    /// `GET /v1/peppol/participantInformation/{identifier}`.
    async fn peppol_participant(
        &self,
        identifier: &str,
    ) -> Result<ParticipantInformation, BillitError>;
}

/// Retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff.
    pub base_delay: Duration,
    /// The largest backoff.
    pub max_delay: Duration,
    /// The longest `Retry-After` waited for; beyond it, [`BillitError::RateLimited`] at once.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The backoff before retry `attempt` (0-based): exponential, with jitter in [50 %, 100 %].
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(16));
        let full = self.base_delay.saturating_mul(factor).min(self.max_delay);
        let millis = u64::try_from(full.as_millis()).unwrap_or(u64::MAX);
        let jittered = rand::rng().random_range(millis / 2..=millis);
        Duration::from_millis(jittered)
    }
}

/// Client configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// Retries.
    pub retry: RetryPolicy,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }
}

/// The reqwest implementation of [`BillitClient`].
#[derive(Clone)]
pub struct HttpBillitClient {
    http: reqwest::Client,
    base: Url,
    headers: HeaderMap,
    retry: RetryPolicy,
}

impl fmt::Debug for HttpBillitClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpBillitClient")
            .field("base", &self.base.as_str())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

fn header_value(name: &str, value: &str, sensitive: bool) -> Result<HeaderValue, BillitError> {
    let mut header = HeaderValue::from_str(value.trim())
        .map_err(|_| BillitError::Invalid(format!("{name} is not a valid header value")))?;
    header.set_sensitive(sensitive);
    Ok(header)
}

/// The header that forbids Billit to fall back to another transport type (e.g. email) when sending.
pub const STRICT_TRANSPORT_HEADER: &str = "StrictTransportType";

/// One call to make.
struct Call {
    method: Method,
    url: Url,
    body: Option<Vec<u8>>,
    idempotency_key: Option<String>,
    retryable: bool,
    /// `StrictTransportType: true` (sending only).
    strict_transport: bool,
}

/// A raw answer.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.with_timezone(&Utc) - Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

fn error_details(body: &[u8]) -> Vec<ApiErrorDetail> {
    serde_json::from_slice::<ErrorBody>(body)
        .map(|parsed| {
            parsed
                .errors
                .into_iter()
                .map(|error| ApiErrorDetail {
                    code: error.code,
                    description: error.description,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn map_status(status: StatusCode, body: &[u8], retry_after: Option<Duration>) -> BillitError {
    match status.as_u16() {
        401 | 403 => BillitError::Unauthorized {
            status: status.as_u16(),
        },
        404 => BillitError::NotFound,
        // Redirects are never followed (the `ApiKey` header would go with them): one is an unexpected answer.
        300..=399 => BillitError::Decode(format!("a redirect (HTTP {status}) was not followed")),
        409 => BillitError::Conflict {
            errors: error_details(body),
        },
        429 => BillitError::RateLimited { retry_after },
        500..=599 => BillitError::Server {
            status: status.as_u16(),
        },
        other => BillitError::Validation {
            status: other,
            errors: error_details(body),
        },
    }
}

/// Billit's answer to a replayed `Idempotency-Key`: `409 {"errors":[{"Code":"Conflict","Description":"Idempotent
/// token already exists"}]}`. Only that answer means "already done": a bare 409 (a proxy's, or another conflict)
/// is an error, never a silent success.
const IDEMPOTENT_REPLAY: &str = "idempotent token already exists";

fn is_idempotent_replay(error: &BillitError) -> bool {
    match error {
        BillitError::Conflict { errors } => errors.iter().any(|error| {
            error
                .description
                .as_deref()
                .is_some_and(|text| text.to_lowercase().contains(IDEMPOTENT_REPLAY))
        }),
        _ => false,
    }
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, BillitError> {
    serde_json::from_slice(body).map_err(|error| BillitError::Decode(error.to_string()))
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, BillitError> {
    serde_json::to_vec(value).map_err(|error| BillitError::Invalid(error.to_string()))
}

/// Escapes a text for an OData string literal.
fn odata_string(text: &str) -> String {
    text.replace('\'', "''")
}

impl HttpBillitClient {
    /// A client for `base_url` (e.g. [`PRODUCTION_URL`], or the embedded sandbox).
    pub fn new(
        base_url: &str,
        credentials: &BillitCredentials,
        config: &ClientConfig,
    ) -> Result<Self, BillitError> {
        let mut base = Url::parse(base_url)
            .map_err(|error| BillitError::Invalid(format!("base URL: {error}")))?;
        if base.cannot_be_a_base() {
            return Err(BillitError::Invalid("base URL cannot be a base".to_owned()));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            "ApiKey",
            header_value("ApiKey", &credentials.api_key, true)?,
        );
        headers.insert(
            "PartyID",
            header_value("PartyID", &credentials.party_id, false)?,
        );
        if let Some(context) = &credentials.context_party_id {
            headers.insert(
                "ContextPartyID",
                header_value("ContextPartyID", context, false)?,
            );
        }
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        // No redirects: reqwest drops only the standard authorization headers on a redirect, so `ApiKey` would
        // follow one to wherever it points.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|error| BillitError::Invalid(format!("HTTP client: {error}")))?;
        Ok(Self {
            http,
            base,
            headers,
            retry: config.retry,
        })
    }

    /// The URL of `v1/<segments…>`, each segment escaped.
    fn url(&self, segments: &[&str]) -> Result<Url, BillitError> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| BillitError::Invalid("base URL cannot be a base".to_owned()))?;
            path.pop_if_empty();
            path.push("v1");
            for segment in segments {
                path.push(segment);
            }
        }
        Ok(url)
    }

    async fn attempt(&self, call: &Call) -> Result<(Answer, Option<Duration>), reqwest::Error> {
        let mut request = self
            .http
            .request(call.method.clone(), call.url.clone())
            .headers(self.headers.clone());
        if let Some(key) = &call.idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if call.strict_transport {
            request = request.header(STRICT_TRANSPORT_HEADER, "true");
        }
        if let Some(body) = &call.body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let response = request.send().await?;
        let status = response.status();
        let retry_after = parse_retry_after(response.headers());
        let body = response.bytes().await?.to_vec();
        Ok((Answer { status, body }, retry_after))
    }

    /// Makes a call, with retries when it is safe; a non-2xx answer becomes an error.
    async fn execute(&self, call: Call) -> Result<Answer, BillitError> {
        let mut attempt: u32 = 0;
        loop {
            let outcome = self.attempt(&call).await;
            let can_retry = call.retryable && attempt < self.retry.max_retries;
            let (error, wait) = match outcome {
                Ok((answer, _)) if answer.status.is_success() => return Ok(answer),
                Ok((answer, retry_after)) => {
                    let error = map_status(answer.status, &answer.body, retry_after);
                    tracing::debug!(
                        method = %call.method,
                        path = call.url.path(),
                        status = answer.status.as_u16(),
                        attempt,
                        "Billit answered with an error"
                    );
                    let wait = match &error {
                        BillitError::RateLimited {
                            retry_after: Some(after),
                        } => {
                            if *after > self.retry.max_retry_after {
                                return Err(error);
                            }
                            Some(*after)
                        }
                        BillitError::RateLimited { retry_after: None }
                        | BillitError::Server { .. } => Some(self.retry.backoff(attempt)),
                        _ => return Err(error),
                    };
                    (error, wait)
                }
                Err(error) => {
                    tracing::debug!(
                        method = %call.method,
                        path = call.url.path(),
                        attempt,
                        error = %error,
                        "Billit call failed"
                    );
                    // Only failures where the request may not have been processed are retried
                    // (connection); a timeout of a read is retried too, as reads are safe.
                    let retry = error.is_connect() || error.is_timeout() || error.is_request();
                    let mapped = BillitError::Transport(error.without_url().to_string());
                    (mapped, retry.then(|| self.retry.backoff(attempt)))
                }
            };
            match wait {
                Some(wait) if can_retry => {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => return Err(error),
            }
        }
    }

    async fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T, BillitError> {
        let answer = self
            .execute(Call {
                method: Method::GET,
                url,
                body: None,
                idempotency_key: None,
                retryable: true,
                strict_transport: false,
            })
            .await?;
        decode(&answer.body)
    }

    /// Follows `NextPageLink`s from a first URL (absolute or relative links), only on the base URL's origin: the
    /// credentials go with every page, so a link elsewhere is refused.
    async fn all_pages<T: DeserializeOwned>(&self, first: Url) -> Result<Vec<T>, BillitError> {
        let mut items = Vec::new();
        let mut next = Some(first);
        let mut seen = std::collections::HashSet::new();
        while let Some(url) = next.take() {
            if seen.len() >= MAX_PAGES || !seen.insert(url.to_string()) {
                return Err(BillitError::Decode(
                    "pagination does not end (a page link repeats or too many pages)".to_owned(),
                ));
            }
            let page: Paged<T> = self.get_json(url.clone()).await?;
            items.extend(page.items);
            next = match page.next_page_link.as_deref().map(str::trim) {
                Some(link) if !link.is_empty() => {
                    let next = url
                        .join(link)
                        .map_err(|error| BillitError::Decode(format!("NextPageLink: {error}")))?;
                    if next.origin() != self.base.origin() {
                        return Err(BillitError::Decode(
                            "NextPageLink leaves Billit's address".to_owned(),
                        ));
                    }
                    Some(next)
                }
                _ => None,
            };
        }
        Ok(items)
    }

    fn orders_filter(&self, filter: &str) -> Result<Url, BillitError> {
        let mut url = self.url(&["orders"])?;
        url.query_pairs_mut().append_pair("$filter", filter);
        Ok(url)
    }
}

#[async_trait]
impl BillitClient for HttpBillitClient {
    async fn create_order(&self, order: &Order, idempotency_key: &str) -> Result<i64, BillitError> {
        if idempotency_key.trim().is_empty() {
            return Err(BillitError::Invalid("empty idempotency key".to_owned()));
        }
        let call = Call {
            method: Method::POST,
            url: self.url(&["orders"])?,
            body: Some(to_json(order)?),
            idempotency_key: Some(idempotency_key.to_owned()),
            retryable: true,
            strict_transport: false,
        };
        match self.execute(call).await {
            Ok(answer) => parse_order_id(&answer.body),
            Err(error) if is_idempotent_replay(&error) => {
                let Some(number) = order.order_number.as_deref() else {
                    return Err(error);
                };
                tracing::info!("Billit order already created (idempotent replay); looking it up");
                match self.find_order_by_number(number).await? {
                    Some(id) => Ok(id),
                    None => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    async fn send_orders(
        &self,
        order_ids: &[i64],
        transport_type: &str,
    ) -> Result<(), BillitError> {
        let command = SendCommand {
            transport_type: Some(transport_type.to_owned()),
            order_ids: order_ids.to_vec(),
            extra: Default::default(),
        };
        self.execute(Call {
            method: Method::POST,
            url: self.url(&["orders", "commands", "send"])?,
            body: Some(to_json(&command)?),
            idempotency_key: None,
            retryable: false,
            strict_transport: true,
        })
        .await
        .map(|_| ())
    }

    async fn delete_order(&self, order_id: i64) -> Result<(), BillitError> {
        self.execute(Call {
            method: Method::DELETE,
            url: self.url(&["orders", &order_id.to_string()])?,
            body: None,
            idempotency_key: None,
            retryable: true,
            strict_transport: false,
        })
        .await
        .map(|_| ())
    }

    async fn get_order(&self, order_id: i64) -> Result<Order, BillitError> {
        self.get_json(self.url(&["orders", &order_id.to_string()])?)
            .await
    }

    async fn list_orders_modified_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<Order>, BillitError> {
        // Billit compares in Brussels local time, without milliseconds.
        let local = crate::time::utc_to_brussels(since).format("%Y-%m-%dT%H:%M:%S");
        let url = self.orders_filter(&format!("LastModified ge DateTime'{local}'"))?;
        self.all_pages(url).await
    }

    async fn find_order_by_number(&self, order_number: &str) -> Result<Option<i64>, BillitError> {
        let url =
            self.orders_filter(&format!("OrderNumber eq '{}'", odata_string(order_number)))?;
        let orders: Vec<Order> = self.all_pages(url).await?;
        Ok(orders
            .iter()
            .filter(|order| order.order_number.as_deref() == Some(order_number))
            .filter_map(|order| order.order_id)
            .max())
    }

    async fn patch_paid(
        &self,
        order_id: i64,
        paid: bool,
        paid_date: Option<DateTime<Utc>>,
    ) -> Result<(), BillitError> {
        let patch = PaidPatch {
            paid,
            paid_date: paid_date.map(|at| crate::wire::BillitDateTime(format_billit(at))),
            extra: Default::default(),
        };
        self.execute(Call {
            method: Method::PATCH,
            url: self.url(&["orders", &order_id.to_string()])?,
            body: Some(to_json(&patch)?),
            idempotency_key: None,
            retryable: false,
            strict_transport: false,
        })
        .await
        .map(|_| ())
    }

    async fn post_payment(
        &self,
        order_id: i64,
        payment: &PaymentRequest,
        idempotency_key: Option<&str>,
    ) -> Result<(), BillitError> {
        let key = idempotency_key
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .map(str::to_owned);
        let retryable = key.is_some();
        let result = self
            .execute(Call {
                method: Method::POST,
                url: self.url(&["orders", &order_id.to_string(), "payments"])?,
                body: Some(to_json(payment)?),
                idempotency_key: key,
                retryable,
                strict_transport: false,
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if retryable && is_idempotent_replay(&error) => Ok(()),
            Err(error) => Err(error),
        }
    }

    async fn get_file(&self, file_id: &str) -> Result<DownloadedFile, BillitError> {
        let file: crate::wire::FileRef = self.get_json(self.url(&["files", file_id])?).await?;
        let content = match file.file_content.as_deref() {
            Some(encoded) => {
                let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact.as_bytes())
                    .map_err(|error| BillitError::Decode(format!("FileContent: {error}")))?
            }
            None => Vec::new(),
        };
        Ok(DownloadedFile {
            file_id: file.file_id,
            file_name: file.file_name,
            mime_type: file.mime_type,
            content,
        })
    }

    async fn create_webhook(
        &self,
        registration: &WebhookRegistration,
    ) -> Result<Webhook, BillitError> {
        let answer = self
            .execute(Call {
                method: Method::POST,
                url: self.url(&["webhooks"])?,
                body: Some(to_json(registration)?),
                idempotency_key: None,
                retryable: false,
                strict_transport: false,
            })
            .await?;
        decode(&answer.body)
    }

    async fn list_webhooks(&self) -> Result<Vec<Webhook>, BillitError> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum List {
            Bare(Vec<Webhook>),
            Paged(Paged<Webhook>),
        }
        let list: List = self.get_json(self.url(&["webhooks"])?).await?;
        Ok(match list {
            List::Bare(items) => items,
            List::Paged(page) => page.items,
        })
    }

    async fn delete_webhook(&self, webhook_id: i64) -> Result<(), BillitError> {
        self.execute(Call {
            method: Method::DELETE,
            url: self.url(&["webhooks", &webhook_id.to_string()])?,
            body: None,
            idempotency_key: None,
            retryable: true,
            strict_transport: false,
        })
        .await
        .map(|_| ())
    }

    async fn refresh_webhook(&self, webhook_id: i64) -> Result<Webhook, BillitError> {
        let answer = self
            .execute(Call {
                method: Method::POST,
                url: self.url(&["webhooks", "refresh", &webhook_id.to_string()])?,
                body: None,
                idempotency_key: None,
                retryable: false,
                strict_transport: false,
            })
            .await?;
        decode(&answer.body)
    }

    async fn account_information(&self) -> Result<AccountInformation, BillitError> {
        self.get_json(self.url(&["account", "accountInformation"])?)
            .await
    }

    async fn peppol_participant(
        &self,
        identifier: &str,
    ) -> Result<ParticipantInformation, BillitError> {
        self.get_json(self.url(&["peppol", "participantInformation", identifier])?)
            .await
    }
}

/// Billit answers an order creation with the id: a bare number, a numeric string, or an object
/// with `OrderID`.
fn parse_order_id(body: &[u8]) -> Result<i64, BillitError> {
    let value: serde_json::Value = decode(body)?;
    let id = match &value {
        serde_json::Value::Number(number) => number.as_i64(),
        serde_json::Value::String(text) => text.trim().parse().ok(),
        serde_json::Value::Object(map) => map
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case("OrderID"))
            .and_then(|(_, value)| value.as_i64()),
        _ => None,
    };
    id.ok_or_else(|| BillitError::Decode("no OrderID in the answer".to_owned()))
}
