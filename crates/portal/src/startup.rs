//! Building and running the whole application: database, migrations, HTTP server and background workers.

use crate::config::{Config, ConfigError, prepare_data_dir};
use crate::mailer::Mailer;
use crate::master_key::MasterKey;
use crate::state::AppState;
use crate::worker::{JobFailure, JobRegistry, Jobs, WorkerPool, WorkerSettings};
use crate::{errors, routes, telemetry};
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use portal_persistence::billit_connections::BillitConnectionRepository;
use portal_persistence::db::{self, DatabaseTarget, PoolSettings};
use portal_persistence::invitations::{InvitationRepository, PasswordResetRepository};
use portal_persistence::jobs::{JobQueue, RetryPolicy, SystemClock};
use portal_persistence::outbox::OutboxRepository;
use portal_persistence::sessions::{SessionPolicy, SessionRepository};
use portal_persistence::tenants::TenantRepository;
use portal_persistence::throttle::{LoginThrottle, ThrottlePolicy};
use portal_persistence::users::UserRepository;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// Why the portal could not start: a configuration problem (exit code 2) or anything else (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// The security headers every response carries. The CSP allows no inline script or style at all.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
             frame-ancestors 'none'",
        ))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Permissions-Policy", "camera=(), microphone=(), geolocation=()"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
}

/// A form that does not parse (a missing field, a number where text was expected) gets a 400 page, not
/// actix's plain text.
fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(256 * 1024)
        .error_handler(|error, _req| {
            tracing::info!(error = %error, "unreadable form");
            actix_web::error::InternalError::from_response(
                error,
                errors::error_page(actix_web::http::StatusCode::BAD_REQUEST, ""),
            )
            .into()
        })
}

/// Opens the configured database (SQLite under the data dir by default) and applies the migrations.
pub async fn open_database(config: &Config) -> Result<db::Db, StartError> {
    prepare_data_dir(config)?;
    let target = match &config.database.url {
        Some(url) => DatabaseTarget::Url(url.expose().clone()),
        None => DatabaseTarget::SqliteFile(config.sqlite_path()),
    };
    let pool = PoolSettings {
        max_connections: config.database.max_connections,
        ..PoolSettings::default()
    };
    let db = db::connect(&target, &pool)
        .await
        .with_context(|| format!("cannot open the database {target:?}"))?;
    db::migrate(&db)
        .await
        .context("cannot apply the database migrations")?;
    Ok(db)
}

/// The portal's own background jobs.
pub fn default_registry(state: &AppState) -> JobRegistry {
    let queue = state.jobs.queue.clone();
    let outbox = state.outbox.clone();
    let mailer = state.mailer.clone();
    let sessions = state.sessions.clone();
    let registry = crate::invoicing::register(JobRegistry::new(), state);
    let registry = crate::statuses::register(registry, state);
    let registry = crate::payments::register(registry, state);
    registry
        .handle(portal_persistence::outbox::SEND_JOB, move |job| {
            crate::mailer::send_job(outbox.clone(), mailer.clone(), job)
        })
        .handle("sessions.purge", move |_job| {
            let sessions = sessions.clone();
            async move {
                let purged = sessions.purge_expired(chrono::Utc::now()).await?;
                tracing::info!(purged, "expired sessions purged");
                Ok(())
            }
        })
        .every(
            Duration::from_secs(3600),
            "sessions.purge",
            serde_json::json!({}),
        )
        .handle("jobs.purge_done", move |_job| {
            let queue = queue.clone();
            async move {
                let purged = queue
                    .purge_done(Duration::from_secs(7 * 24 * 3600))
                    .await
                    .map_err(|error| JobFailure::Retry(error.into()))?;
                tracing::info!(purged, "old finished jobs purged");
                Ok(())
            }
        })
        .every(
            Duration::from_secs(3600),
            "jobs.purge_done",
            serde_json::json!({}),
        )
}

pub struct Application {
    port: u16,
    server: Server,
    workers: Option<WorkerPool>,
    state: AppState,
    /// Installed while building, so a SIGTERM that arrives as soon as the address is printed is already ours.
    signals: Signals,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartError> {
        Self::build_with(config, default_registry).await
    }

    /// Like `build`, with the job handlers chosen by the caller (tests add their own).
    pub async fn build_with(
        config: Config,
        registry: impl FnOnce(&AppState) -> JobRegistry,
    ) -> Result<Self, StartError> {
        let addr = config.bind_addr()?;
        let db = open_database(&config).await?;
        let master_key = match &config.security.master_key {
            Some(hex) => {
                MasterKey::from_hex(hex.expose()).map_err(|message| ConfigError::Invalid {
                    key: "security.master_key".to_owned(),
                    message,
                })?
            }
            None => MasterKey::load_or_create(&config.server.data_dir).map_err(|message| {
                ConfigError::DataDir {
                    path: config.server.data_dir.clone(),
                    message,
                }
            })?,
        };
        let retry = RetryPolicy {
            base: Duration::from_secs(config.jobs.retry_base_secs),
            cap: Duration::from_secs(config.jobs.retry_cap_secs),
        };
        let jobs = Jobs::new(JobQueue::with(db.clone(), retry, Arc::new(SystemClock)));
        let listener =
            TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
        let port = listener
            .local_addr()
            .context("the listener has no address")?
            .port();
        let base_url = match &config.server.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}:{port}", addr.ip()),
        };
        let secure_cookies = config
            .security
            .secure_cookies
            .unwrap_or_else(|| base_url.starts_with("https://"));
        let mailer = Mailer::from_config(
            config
                .mail
                .smtp_url
                .as_ref()
                .map(|url| url.expose().as_str()),
            config.outbox_dir(),
        )?;
        let dummy_hash: Arc<str> = crate::password::hash("not a real password".to_owned())
            .await?
            .into();
        let state = AppState {
            jobs: jobs.clone(),
            config: Arc::new(config),
            master_key,
            base_url,
            secure_cookies,
            sessions: SessionRepository::new(db.clone(), SessionPolicy::default()),
            users: UserRepository::new(db.clone()),
            tenants: TenantRepository::new(db.clone()),
            throttle: LoginThrottle::new(db.clone(), ThrottlePolicy::default()),
            invitations: InvitationRepository::new(db.clone()),
            resets: PasswordResetRepository::new(db.clone()),
            outbox: OutboxRepository::new(db.clone()),
            billit: BillitConnectionRepository::new(db.clone()),
            invoices: portal_persistence::invoices::InvoiceRepository::new(db.clone()),
            live: crate::live::LiveUpdates::new(),
            mailer,
            dummy_hash,
            db,
        };
        let config = Arc::clone(&state.config);
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(form_config())
                .wrap(from_fn(crate::auth::csrf_guard))
                .wrap(from_fn(telemetry::request_span))
                .wrap(security_headers())
                .configure(routes::configure)
                .default_service(web::to(errors::not_found))
        })
        .disable_signals()
        .shutdown_timeout(config.server.shutdown_grace_secs)
        .listen(listener)
        .context("cannot start the HTTP server")?
        .run();

        let workers = (config.jobs.workers > 0).then(|| {
            WorkerPool::start(
                jobs,
                registry(&state),
                WorkerSettings {
                    workers: config.jobs.workers,
                    poll_interval: config.poll_interval(),
                    lease: config.lease(),
                    shutdown_grace: config.shutdown_grace(),
                    name: format!(
                        "{}-{}",
                        std::process::id(),
                        &uuid::Uuid::now_v7().simple().to_string()[20..]
                    ),
                },
            )
        });
        Ok(Self {
            port,
            server,
            workers,
            state,
            signals: Signals::install(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops the server as SIGTERM would (tests).
    pub fn stop_handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM/Ctrl-C (or the stop handle): then stops taking requests, lets in-flight ones finish,
    /// stops the workers (finishing or releasing their jobs) and closes the database.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let mut termination = self.signals;
        let signals = tokio::spawn(async move {
            termination.wait().await;
            tracing::info!("shutdown requested");
            handle.stop(true).await;
        });
        let served = self.server.await;
        signals.abort();
        if let Some(workers) = self.workers {
            workers.stop().await;
        }
        if let Err(error) = self.state.db.close().await {
            tracing::warn!(error = %error, "closing the database pool failed");
        }
        tracing::info!("stopped");
        served.context("the HTTP server failed")
    }
}

/// SIGTERM and SIGINT (Ctrl-C), listened to from the moment the application is built.
struct Signals {
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let terminate = signal(SignalKind::terminate())
                .inspect_err(|error| tracing::warn!(error = %error, "cannot listen for SIGTERM"))
                .ok();
            let interrupt = signal(SignalKind::interrupt())
                .inspect_err(|error| tracing::warn!(error = %error, "cannot listen for SIGINT"))
                .ok();
            Self {
                terminate,
                interrupt,
            }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    async fn wait(&mut self) {
        #[cfg(unix)]
        {
            let terminate = async {
                match self.terminate.as_mut() {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let interrupt = async {
                match self.interrupt.as_mut() {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = terminate => {}
                () = interrupt => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _interrupted = tokio::signal::ctrl_c().await;
        }
    }
}
