//! A local stand-in for Billit, for development, demo and tests.
//!
//! It serves Billit's API under `/v1/…` over real HTTP (the same paths, bodies, status codes
//! and error bodies as Billit, see `NOTES.md`), plays the French life of every sent order by
//! scenario (the customer's CTC identifier suffix: `_DEMO`, `_ERROR`, `_DISPUTE`, `_SUSPEND`,
//! `_REFUSE`, `_REJECT`, `_PAID`), sends webhooks signed like Billit's, and injects faults on
//! demand. The control API lives under `/_sandbox/…` (loopback only).
//!
//! ```no_run
//! # async fn demo() -> Result<(), billit_sandbox::SandboxError> {
//! let sandbox = billit_sandbox::Sandbox::start(billit_sandbox::SandboxConfig::default()).await?;
//! println!("Billit at {}", sandbox.base_url());
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

mod cdar;
mod json;
mod server;
mod store;
mod webhooks;

pub use store::{
    ApiFailure, DeliveryRecord, Faults, PartyAccount, SCENARIOS, StepKind, status_description,
    timeline,
};

use server::Shared;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How to run the sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where to listen (default `127.0.0.1:0`: a free loopback port).
    pub bind: SocketAddr,
    /// Time between two steps of an order's life, in milliseconds.
    pub step_ms: u64,
    /// A JSON file the state is loaded from and saved to.
    pub state_file: Option<PathBuf>,
    /// Webhook payloads in the newer shape (`OrderMessage`) rather than the older one.
    pub webhook_new_shape: bool,
    /// Attempts per webhook call (retried with exponential backoff).
    pub webhook_max_attempts: u32,
    /// First retry delay, doubled at each attempt.
    pub webhook_retry_base_ms: u64,
    /// Largest request body accepted (413 beyond).
    pub max_body_bytes: usize,
    /// HTTP worker threads.
    pub workers: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            step_ms: 2_000,
            state_file: None,
            webhook_new_shape: true,
            webhook_max_attempts: 5,
            webhook_retry_base_ms: 200,
            max_body_bytes: 4 * 1024 * 1024,
            workers: 2,
        }
    }
}

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Binding or starting the server failed.
    #[error("cannot start the Billit sandbox: {0}")]
    Io(#[from] std::io::Error),
    /// The state file could not be read.
    #[error("cannot read the sandbox state file: {0}")]
    State(String),
    /// The HTTP client for webhooks could not be built.
    #[error("cannot build the webhook HTTP client: {0}")]
    Http(String),
    /// The control API of a running sandbox did not do what was asked.
    #[error("the sandbox's control API failed: {0}")]
    Control(String),
}

/// The control API (`/_sandbox/…`) of a sandbox reached by its URL, in this process or another one on the same
/// machine (the control API answers loopback callers only).
#[derive(Debug, Clone)]
pub struct SandboxControl {
    http: reqwest::Client,
    base: String,
}

impl SandboxControl {
    /// The control API of the sandbox at `base_url` (e.g. `http://127.0.0.1:4010`).
    pub fn new(base_url: &str) -> Result<Self, SandboxError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SandboxError::Http(e.to_string()))?;
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Provisions a company (`POST /_sandbox/parties`): its party id, API key, name and VAT number.
    pub async fn add_party(&self, account: &PartyAccount) -> Result<(), SandboxError> {
        let response = self
            .http
            .post(format!("{}/_sandbox/parties", self.base))
            .json(account)
            .send()
            .await
            .map_err(|e| SandboxError::Control(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(SandboxError::Control(format!(
            "HTTP {}: {}",
            status.as_u16(),
            body.chars().take(300).collect::<String>()
        )))
    }
}

/// The entry point.
#[derive(Debug, Clone, Copy)]
pub struct Sandbox;

impl Sandbox {
    /// Starts the sandbox on the current Tokio runtime and returns once it listens.
    pub async fn start(config: SandboxConfig) -> Result<RunningSandbox, SandboxError> {
        let mut store = store::Store::new();
        if let Some(path) = &config.state_file
            && path.exists()
        {
            let bytes = std::fs::read(path).map_err(|e| SandboxError::State(e.to_string()))?;
            store =
                serde_json::from_slice(&bytes).map_err(|e| SandboxError::State(e.to_string()))?;
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SandboxError::Http(e.to_string()))?;
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            config: config.clone(),
            runtime: tokio::runtime::Handle::current(),
            http,
            saving: Mutex::new(()),
        });
        let listener = std::net::TcpListener::bind(config.bind)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let data = actix_web::web::Data::new(Arc::clone(&shared));
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .app_data(data.clone())
                .configure(server::configure)
        })
        .workers(config.workers.max(1))
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        let handle = server.handle();
        let server_task = tokio::spawn(server);
        let ticker_shared = Arc::clone(&shared);
        let tick = Duration::from_millis((config.step_ms / 4).clamp(10, 250));
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(tick).await;
                let now = chrono::Utc::now().timestamp_millis();
                let (changes, ran) = ticker_shared.lock().run_steps(Some(now));
                if ran > 0 {
                    webhooks::dispatch(&ticker_shared, changes);
                    ticker_shared.persist();
                }
            }
        });
        tracing::info!(%addr, "Billit sandbox listening");
        Ok(RunningSandbox {
            addr,
            shared,
            handle,
            server_task,
            ticker,
        })
    }
}

/// A running sandbox: its address, an in-process control API, and shutdown.
pub struct RunningSandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    handle: actix_web::dev::ServerHandle,
    server_task: tokio::task::JoinHandle<std::io::Result<()>>,
    ticker: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for RunningSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSandbox")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RunningSandbox {
    /// `http://127.0.0.1:<port>`: give it to `HttpBillitClient::new`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Provisions a company (same as `POST /_sandbox/parties`).
    pub fn add_party(&self, account: PartyAccount) -> Result<(), ApiFailure> {
        self.shared.lock().upsert_party(account)?;
        self.shared.persist();
        Ok(())
    }

    /// Runs every scheduled step now (same as `POST /_sandbox/advance`); returns how many ran.
    pub fn advance(&self) -> usize {
        let (changes, ran) = self.shared.lock().run_steps(None);
        webhooks::dispatch(&self.shared, changes);
        self.shared.persist();
        ran
    }

    /// Injects a status on an order (same as `POST /_sandbox/orders/{id}/events`).
    pub fn inject(
        &self,
        order_id: i64,
        code: u16,
        reason: Option<&str>,
        comment: Option<&str>,
    ) -> Result<(), ApiFailure> {
        let changes = self.shared.lock().inject(
            order_id,
            code,
            reason.map(str::to_owned),
            comment.map(str::to_owned),
            None,
            self.shared.config.step_ms,
        )?;
        webhooks::dispatch(&self.shared, changes);
        self.shared.persist();
        Ok(())
    }

    /// A status file (e.g. a CDAR referencing several invoices) arrives on an order now, as an incoming Peppol
    /// message carrying it.
    pub fn attach_status_file(
        &self,
        order_id: i64,
        file_name: &str,
        content: &[u8],
    ) -> Result<(), ApiFailure> {
        let changes = self
            .shared
            .lock()
            .attach_status_file(order_id, file_name, content)?;
        webhooks::dispatch(&self.shared, changes);
        self.shared.persist();
        Ok(())
    }

    /// Sets the faults (same as `PUT /_sandbox/faults`).
    pub fn set_faults(&self, faults: Faults) -> Result<(), ApiFailure> {
        faults.validate()?;
        self.shared.lock().faults = faults;
        Ok(())
    }

    /// How many times the Peppol directory was asked about `identifier` (`scheme:value`).
    pub fn participant_lookups(&self, identifier: &str) -> u64 {
        self.shared
            .lock()
            .participant_lookups
            .get(identifier)
            .copied()
            .unwrap_or(0)
    }

    /// An order as Billit shows it, whoever owns it (`None` when there is none, e.g. deleted).
    pub fn order(&self, order_id: i64) -> Option<portal_billit::wire::Order> {
        self.shared
            .lock()
            .orders
            .get(&order_id)
            .map(|stored| stored.order.clone())
    }

    /// The orders of a party, by id.
    pub fn orders_of(&self, party_id: i64) -> Vec<portal_billit::wire::Order> {
        self.shared
            .lock()
            .orders
            .values()
            .filter(|stored| stored.party_id == party_id)
            .map(|stored| stored.order.clone())
            .collect()
    }

    /// How an order was sent: whether the send was strict (`StrictTransportType: true`) and the transport it
    /// went by (`None` while it is not sent).
    pub fn sent_with(&self, order_id: i64) -> Option<(bool, String)> {
        let store = self.shared.lock();
        let stored = store.orders.get(&order_id)?;
        Some((stored.strict_transport?, stored.sent_with.clone()?))
    }

    /// Whether a party is provisioned.
    pub fn has_party(&self, party_id: i64) -> bool {
        self.shared.lock().parties.contains_key(&party_id)
    }

    /// The webhook delivery log.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.shared.lock().deliveries.clone()
    }

    /// Stops the server and the clock, saving the state file.
    pub async fn shutdown(self) {
        self.ticker.abort();
        self.handle.stop(true).await;
        let _finished = self.server_task.await;
        self.shared.persist();
    }
}
