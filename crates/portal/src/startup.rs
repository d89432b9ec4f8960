//! Building and running the whole application: database, migrations, HTTP server and background workers.

use crate::config::{Config, ConfigError, prepare_data_dir};
use actix_web::dev::{Server, ServerHandle};
use anyhow::Context;
use portal_app::mailer::Mailer;
use portal_app::master_key::MasterKey;
use portal_app::worker::{JobRegistry, Jobs, WorkerPool, WorkerSettings};
use portal_app::{AnswerLimits, App, BillitSettings, Policies, Settings};
use portal_persistence::db::{self, DatabaseTarget, PoolSettings};
use portal_persistence::jobs::{JobQueue, RetryPolicy, SystemClock};
use portal_web::state::AppState;
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

/// Opens the configured database (SQLite under the data dir by default) and applies the migrations.
pub async fn open_database(config: &Config) -> Result<db::Db, StartError> {
    prepare_data_dir(config)?;
    let target = match &config.database.url {
        Some(url) => DatabaseTarget::Url(url.expose().clone()),
        None => DatabaseTarget::SqliteFile(config.sqlite_path()),
    };
    let pool = PoolSettings {
        max_connections: config.database.max_connections,
        sqlite_memory_limit: config.sqlite_memory_limit(),
        ..PoolSettings::default()
    };
    let db = db::connect(&target, &pool)
        .await
        .with_context(|| format!("cannot open the database {target:?}"))?;
    db::migrate(&db)
        .await
        .context("cannot apply the database migrations")?;
    if config.database.url.is_none() {
        crate::config::restrict_database_files(config)
            .context("cannot make the database files private")?;
    }
    Ok(db)
}

/// The portal's own background jobs.
pub fn default_registry(state: &AppState) -> JobRegistry {
    portal_app::default_registry(&state.app)
}

/// The embedded sandbox's accounts, over its control API.
struct SandboxAccounts(billit_sandbox::SandboxControl);

impl portal_app::demo::DemoSandbox for SandboxAccounts {
    fn add_party(&self, party: portal_app::demo::DemoParty) -> portal_app::demo::SandboxFuture<'_> {
        Box::pin(async move {
            self.0
                .add_party(&billit_sandbox::PartyAccount {
                    party_id: party.party_id,
                    api_key: party.api_key,
                    name: party.name,
                    vat_number: party.vat_number,
                    email: None,
                })
                .await
                .map_err(anyhow::Error::from)
        })
    }
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
        // An https address means a reverse proxy terminates TLS in front of the portal.
        let https = base_url.starts_with("https://");
        let secure_cookies = config.security.secure_cookies.unwrap_or(https);
        let mailer = Mailer::from_config(
            config
                .mail
                .smtp_url
                .as_ref()
                .map(|url| url.expose().as_str()),
            config.outbox_dir(),
        )?;
        let dummy_hash: Arc<str> = portal_app::password::hash("not a real password".to_owned())
            .await?
            .into();
        let settings = Settings {
            base_url,
            mail_from: config.mail.from.clone(),
            billit: BillitSettings {
                production_url: config.billit.production_url.clone(),
                sandbox_url: config.billit.sandbox_url.clone(),
                embedded_url: config.billit.embedded_url.clone(),
                webhook_tolerance_secs: config.billit.webhook_tolerance_secs,
                poll_interval_secs: config.billit.poll_interval_secs,
                full_check_interval_secs: config.billit.full_check_interval_secs,
            },
            allow_loopback_webhooks: config
                .integrations
                .allow_loopback_webhooks
                .unwrap_or(config.server.mode == crate::config::ServerMode::Demo),
        };
        // Live updates and cache invalidations reach every node sharing the database (PostgreSQL LISTEN/NOTIFY).
        let bus = portal_persistence::bus::Bus::for_database(&db);
        let app = App::new(
            db,
            jobs.clone(),
            settings,
            master_key,
            mailer,
            Arc::new(portal_web::emails::Templates),
            Policies {
                answers: AnswerLimits {
                    per_company_hour: config.mail.answers_per_company_hour,
                    per_user_hour: config.mail.answers_per_user_hour,
                },
                ..Policies::default()
            },
        )
        .with_bus(bus, Duration::from_secs(config.security.session_cache_secs));
        // The embedded sandbox (started by `serve`, or named by `billit.embedded_url`) opens the accounts of the
        // companies that choose it, through its control API.
        let app = match &config.billit.embedded_url {
            Some(url) => app.with_embedded_sandbox(Arc::new(SandboxAccounts(
                billit_sandbox::SandboxControl::new(url)
                    .context("the embedded sandbox's control API")?,
            ))),
            None => app,
        };
        portal_app::billit_connection::bind_legacy_secrets(&app)
            .await
            .context("cannot bind the stored Billit secrets to their companies")?;
        let state = AppState {
            app,
            secure_cookies,
            dummy_hash,
            trusted_proxies: config.trusted_proxies()?.into(),
            hsts: https,
            live_streams: portal_web::state::LiveStreams::new(
                Duration::from_secs(config.security.live_recheck_secs),
                config.security.live_streams_per_user,
            ),
            api_rate: portal_web::state::ApiRateLimit::new(
                config.api.requests_per_minute,
                config.api.burst,
            ),
        };
        let server = portal_web::server::http_server(
            state.clone(),
            listener,
            config.server.shutdown_grace_secs,
        )
        .context("cannot start the HTTP server")?;

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
        if let Err(error) = self.state.app.db.close().await {
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
