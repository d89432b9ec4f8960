//! How each company's calls to Billit go, recorded for the firm's console (`billit_health`): every client built
//! from a company's stored connection ([`crate::billit_connection::client_for`]) is a [`RecordingClient`], so
//! submission, payment reports, file downloads, webhook registration, the connection test, order reads and sweeps
//! all leave their outcome without each call path having to remember it.
//!
//! A failure is always written (it is rare and it is what the console must show at once). A success is written
//! unless this process already wrote one for the company less than [`SUCCESS_MEMO`] ago with no failure since:
//! a busy company's calls then cost one upsert a minute, not one per call. Another node's failure is not known
//! here, so a success on this node may be recorded up to [`SUCCESS_MEMO`] late; the failure row then stays that
//! much longer. Recording never fails its caller: a console that cannot be updated is logged, not a failed job.

use crate::App;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portal_billit::client::{BillitClient, BillitError, DownloadedFile, HttpBillitClient};
use portal_billit::wire::{
    AccountInformation, Order, ParticipantInformation, PaymentRequest, Webhook, WebhookRegistration,
};
use portal_domain::ids::TenantId;
use portal_persistence::TenantScope;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a recorded success stands for the following ones (on this node).
pub const SUCCESS_MEMO: Duration = Duration::from_secs(60);

/// When this process last wrote a success per company (and no failure since).
#[derive(Debug, Clone, Default)]
pub struct HealthMemo {
    recorded: Arc<Mutex<HashMap<TenantId, Instant>>>,
}

impl HealthMemo {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, Instant>> {
        // A panic while holding the map leaves nothing half-written worth refusing.
        self.recorded.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a success for `tenant` needs writing now.
    fn success_due(&self, tenant: TenantId) -> bool {
        self.lock()
            .get(&tenant)
            .is_none_or(|at| at.elapsed() >= SUCCESS_MEMO)
    }

    fn wrote_success(&self, tenant: TenantId) {
        self.lock().insert(tenant, Instant::now());
    }

    fn wrote_failure(&self, tenant: TenantId) {
        self.lock().remove(&tenant);
    }
}

/// The word a failed Billit call is recorded under (the console translates it; Billit's own text is not kept,
/// since it may echo what was sent). `None` for an answer that refused the request's content (404, 4xx): the call
/// reached the company's account, so the connection works.
pub fn failure_kind(error: &BillitError) -> Option<&'static str> {
    match error {
        BillitError::Unauthorized { .. } => Some("credentials"),
        BillitError::RateLimited { .. } => Some("rate_limited"),
        BillitError::Server { .. } => Some("server"),
        BillitError::Transport(_) => Some("unreachable"),
        BillitError::Validation { .. } | BillitError::Conflict { .. } | BillitError::NotFound => {
            None
        }
        BillitError::Decode(_) => Some("unexpected"),
        BillitError::Invalid(_) => Some("configuration"),
    }
}

/// Records a call's outcome: a success (or a refusal of the content), or a failure of the kind given.
pub async fn record(app: &App, scope: &TenantScope, failure: Option<&str>) {
    record_at(app, scope, failure, Utc::now()).await;
}

async fn record_at(app: &App, scope: &TenantScope, failure: Option<&str>, now: DateTime<Utc>) {
    let tenant = scope.tenant_id();
    let recorded = match failure {
        None if !app.billit_health.success_due(tenant) => return,
        None => app
            .firm_console
            .record_billit_success(scope, now)
            .await
            .map(|()| app.billit_health.wrote_success(tenant)),
        Some(kind) => {
            // Forget the success first: a success racing this failure must be written again.
            app.billit_health.wrote_failure(tenant);
            app.firm_console
                .record_billit_failure(scope, now, kind)
                .await
        }
    };
    if let Err(error) = recorded {
        tracing::warn!(error = %error, "cannot record the Billit connection's health");
    }
}

/// A company's Billit client that records how each call went.
#[derive(Clone)]
pub struct RecordingClient {
    inner: HttpBillitClient,
    app: App,
    scope: TenantScope,
}

impl RecordingClient {
    pub fn new(inner: HttpBillitClient, app: &App, scope: &TenantScope) -> Self {
        Self {
            inner,
            app: app.clone(),
            scope: scope.clone(),
        }
    }

    async fn noted<T>(&self, outcome: Result<T, BillitError>) -> Result<T, BillitError> {
        let failure = match &outcome {
            Ok(_) => None,
            Err(error) => failure_kind(error),
        };
        record(&self.app, &self.scope, failure).await;
        outcome
    }
}

#[async_trait]
impl BillitClient for RecordingClient {
    async fn create_order(&self, order: &Order, idempotency_key: &str) -> Result<i64, BillitError> {
        self.noted(self.inner.create_order(order, idempotency_key).await)
            .await
    }

    async fn send_orders(
        &self,
        order_ids: &[i64],
        transport_type: &str,
    ) -> Result<(), BillitError> {
        self.noted(self.inner.send_orders(order_ids, transport_type).await)
            .await
    }

    async fn delete_order(&self, order_id: i64) -> Result<(), BillitError> {
        self.noted(self.inner.delete_order(order_id).await).await
    }

    async fn get_order(&self, order_id: i64) -> Result<Order, BillitError> {
        self.noted(self.inner.get_order(order_id).await).await
    }

    async fn list_orders_modified_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<Order>, BillitError> {
        self.noted(self.inner.list_orders_modified_since(since).await)
            .await
    }

    async fn find_order_by_number(&self, order_number: &str) -> Result<Option<i64>, BillitError> {
        self.noted(self.inner.find_order_by_number(order_number).await)
            .await
    }

    async fn patch_paid(
        &self,
        order_id: i64,
        paid: bool,
        paid_date: Option<DateTime<Utc>>,
    ) -> Result<(), BillitError> {
        self.noted(self.inner.patch_paid(order_id, paid, paid_date).await)
            .await
    }

    async fn post_payment(
        &self,
        order_id: i64,
        payment: &PaymentRequest,
        idempotency_key: Option<&str>,
    ) -> Result<(), BillitError> {
        self.noted(
            self.inner
                .post_payment(order_id, payment, idempotency_key)
                .await,
        )
        .await
    }

    async fn get_file(&self, file_id: &str) -> Result<DownloadedFile, BillitError> {
        self.noted(self.inner.get_file(file_id).await).await
    }

    async fn create_webhook(
        &self,
        registration: &WebhookRegistration,
    ) -> Result<Webhook, BillitError> {
        self.noted(self.inner.create_webhook(registration).await)
            .await
    }

    async fn list_webhooks(&self) -> Result<Vec<Webhook>, BillitError> {
        self.noted(self.inner.list_webhooks().await).await
    }

    async fn delete_webhook(&self, webhook_id: i64) -> Result<(), BillitError> {
        self.noted(self.inner.delete_webhook(webhook_id).await)
            .await
    }

    async fn refresh_webhook(&self, webhook_id: i64) -> Result<Webhook, BillitError> {
        self.noted(self.inner.refresh_webhook(webhook_id).await)
            .await
    }

    async fn account_information(&self) -> Result<AccountInformation, BillitError> {
        self.noted(self.inner.account_information().await).await
    }

    async fn peppol_participant(
        &self,
        identifier: &str,
    ) -> Result<ParticipantInformation, BillitError> {
        self.noted(self.inner.peppol_participant(identifier).await)
            .await
    }
}
