//! The portal's application layer: the use cases (invoicing, statuses, payments, answers, settlements), the mailer
//! and outbox delivery, the job worker runtime, the Billit connection service, the demonstration and the seed.
//!
//! Callable from a page, the JSON API, a worker or a test alike: nothing here knows HTTP or templates. It takes
//! typed [`Settings`], never the configuration file; the program builds them and wires [`App`] once.

pub mod actions;
pub mod amounts;
pub mod answers;
pub mod billit_connection;
pub mod billit_health;
pub mod counts;
pub mod crypto;
pub mod dates;
pub mod demo;
pub mod emails;
pub mod failures;
pub mod files;
pub mod firm;
pub mod firm_console;
pub mod i18n;
pub mod invoicing;
pub mod live;
pub mod mailer;
pub mod master_key;
pub mod outbox;
pub mod outgoing_webhooks;
pub mod password;
pub mod payments;
pub mod reminders;
pub mod seed;
pub mod settlements;
pub mod spreadsheet;
pub mod statuses;
pub mod worker;

use emails::EmailBodies;
use mailer::Mailer;
use master_key::MasterKey;
use portal_persistence::Db;
use portal_persistence::answers::{AnswerTemplateRepository, InvoiceEmailRepository};
use portal_persistence::api::ApiRepository;
use portal_persistence::auth_cache::AuthCache;
use portal_persistence::billit_connections::BillitConnectionRepository;
use portal_persistence::bus::Bus;
use portal_persistence::customers::CustomerRepository;
use portal_persistence::directory::DirectoryCheckRepository;
use portal_persistence::firm_console::FirmConsoleRepository;
use portal_persistence::invitations::{InvitationRepository, PasswordResetRepository};
use portal_persistence::invoices::InvoiceRepository;
use portal_persistence::notifications::NotificationRepository;
use portal_persistence::outbox::OutboxRepository;
use portal_persistence::outgoing_webhooks::OutgoingWebhookRepository;
use portal_persistence::payments::PaymentRepository;
use portal_persistence::reminders::ReminderRepository;
use portal_persistence::sessions::SessionRepository;
use portal_persistence::tenants::TenantRepository;
use portal_persistence::throttle::LoginThrottle;
use portal_persistence::users::UserRepository;
use portal_persistence::webhook_deliveries::WebhookDeliveryRepository;
use std::sync::Arc;
use std::time::Duration;
use worker::{JobFailure, JobRegistry, Jobs};

/// What kind of failure a use case's error is, for whoever answers a person (a page, the API): each use case has
/// its own error type (thiserror), and the web crate maps them to HTTP in one place through this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The thing asked for does not exist for this tenant (the same answer as "not yours").
    NotFound,
    /// The rules refuse it in the state things are in (a conflict, said in words by the caller).
    Refused,
    /// Anything else: logged with its causes, opaque to the person.
    Internal,
}

/// A use case's error.
pub trait Failure: std::error::Error + Send + Sync + 'static {
    fn kind(&self) -> FailureKind;

    /// When the domain's table of actions refused it: which action and why, for the person to read.
    fn refusal(&self) -> Option<portal_domain::actions::Refusal> {
        None
    }
}

/// What the use cases need to know of the deployment, typed (the program reads the configuration file).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where users reach the portal (links in emails), without a trailing slash.
    pub base_url: String,
    /// The sender of the portal's own emails.
    pub mail_from: String,
    pub billit: BillitSettings,
    /// Whether outgoing webhook endpoints may be loopback `http://` addresses (tests and the demonstration only).
    pub allow_loopback_webhooks: bool,
}

#[derive(Debug, Clone)]
pub struct BillitSettings {
    pub production_url: String,
    pub sandbox_url: String,
    /// The embedded sandbox's address, when one runs in this deployment.
    pub embedded_url: Option<String>,
    /// How old a webhook's signature timestamp may be.
    pub webhook_tolerance_secs: u64,
    /// How often each tenant's changed orders are listed.
    pub poll_interval_secs: u64,
    /// How often every open invoice's order is read again.
    pub full_check_interval_secs: u64,
}

/// How long sessions live, how sign-in attempts are throttled, how many answers go to customers per hour.
#[derive(Debug, Clone, Default)]
pub struct Policies {
    pub sessions: portal_persistence::sessions::SessionPolicy,
    pub throttle: portal_persistence::throttle::ThrottlePolicy,
    pub answers: AnswerLimits,
}

/// How many answers to customers may be written per hour: the firm's email must not become a spam cannon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerLimits {
    pub per_company_hour: u32,
    pub per_user_hour: u32,
}

impl Default for AnswerLimits {
    fn default() -> Self {
        Self {
            per_company_hour: 100,
            per_user_hour: 30,
        }
    }
}

/// The application: every repository (the one way to reach them), the job queue, the mailer, the keys and the live updates, shared by every
/// caller (cheap to clone).
#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub jobs: Jobs,
    pub settings: Arc<Settings>,
    pub master_key: MasterKey,
    /// Where users reach the portal (links in emails); the same as `settings.base_url`.
    pub base_url: String,
    pub sessions: SessionRepository,
    pub users: UserRepository,
    pub tenants: TenantRepository,
    pub throttle: LoginThrottle,
    pub invitations: InvitationRepository,
    pub resets: PasswordResetRepository,
    pub outbox: OutboxRepository,
    pub billit: BillitConnectionRepository,
    pub invoices: InvoiceRepository,
    pub customers: CustomerRepository,
    pub payments: PaymentRepository,
    pub invoice_emails: InvoiceEmailRepository,
    pub answer_templates: AnswerTemplateRepository,
    pub reminders: ReminderRepository,
    pub deliveries: WebhookDeliveryRepository,
    /// Where the webhook endpoint stores verified deliveries (many in one transaction under a burst).
    pub webhook_inbox: statuses::DeliveryInbox,
    pub notifications: NotificationRepository,
    /// The company's own systems' endpoints, their messages and delivery log.
    pub outgoing_webhooks: OutgoingWebhookRepository,
    /// The directory's answers about customers' electronic addresses (a day's cache of the lookup before sending).
    pub directory: DirectoryCheckRepository,
    /// Firm staff: accountants, their portfolios, their visits to companies.
    pub firm: portal_persistence::firm::FirmRepository,
    /// The JSON API's tokens, idempotent answers and reading queries.
    pub api: ApiRepository,
    /// The firm's console across companies: health, pictures, bulk onboarding.
    pub firm_console: FirmConsoleRepository,
    /// The successes of Billit calls this process recorded lately (see [`billit_health`]).
    pub billit_health: billit_health::HealthMemo,
    /// The embedded Billit sandbox's accounts, when one runs in this deployment (the program plugs it in with
    /// [`App::with_embedded_sandbox`]): choosing the embedded environment opens the company's account there.
    pub embedded_sandbox: Option<Arc<dyn demo::DemoSandbox>>,
    /// Status changes, for the pages open in browsers (on every node: [`App::with_bus`]).
    pub live: live::LiveUpdates,
    /// Sessions, scopes and menus of the last seconds (`portal_persistence::auth_cache`), shared by the
    /// repositories that read and invalidate them.
    pub auth_cache: AuthCache,
    pub mailer: Mailer,
    /// How the emails that have a designed layout are rendered (the web crate's templates).
    pub email_bodies: Arc<dyn EmailBodies>,
    pub answer_limits: AnswerLimits,
}

impl App {
    /// Every repository over one database.
    pub fn new(
        db: Db,
        jobs: Jobs,
        settings: Settings,
        master_key: MasterKey,
        mailer: Mailer,
        email_bodies: Arc<dyn EmailBodies>,
        policies: Policies,
    ) -> Self {
        let auth_cache = AuthCache::new(portal_persistence::auth_cache::DEFAULT_TTL, Bus::local());
        Self {
            webhook_inbox: statuses::DeliveryInbox::new(
                WebhookDeliveryRepository::new(portal_persistence::db::prompt_writer(&db)),
                jobs.clone(),
                portal_persistence::db::has_one_write_lock(&db),
            ),
            jobs,
            base_url: settings.base_url.clone(),
            settings: Arc::new(settings),
            master_key,
            sessions: SessionRepository::new(db.clone(), policies.sessions)
                .with_cache(auth_cache.clone()),
            users: UserRepository::new(db.clone()).with_cache(auth_cache.clone()),
            tenants: TenantRepository::new(db.clone()).with_cache(auth_cache.clone()),
            throttle: LoginThrottle::new(db.clone(), policies.throttle),
            invitations: InvitationRepository::new(db.clone()).with_cache(auth_cache.clone()),
            resets: PasswordResetRepository::new(db.clone()).with_cache(auth_cache.clone()),
            outbox: OutboxRepository::new(db.clone()),
            billit: BillitConnectionRepository::new(db.clone()).with_cache(auth_cache.clone()),
            invoices: InvoiceRepository::new(db.clone()),
            customers: CustomerRepository::new(db.clone()),
            payments: PaymentRepository::new(db.clone()),
            invoice_emails: InvoiceEmailRepository::new(db.clone()),
            answer_templates: AnswerTemplateRepository::new(db.clone()),
            reminders: ReminderRepository::new(db.clone()),
            deliveries: WebhookDeliveryRepository::new(db.clone()),
            notifications: NotificationRepository::new(db.clone()),
            outgoing_webhooks: OutgoingWebhookRepository::new(db.clone()),
            directory: DirectoryCheckRepository::new(db.clone()),
            firm: portal_persistence::firm::FirmRepository::new(db.clone())
                .with_cache(auth_cache.clone()),
            api: ApiRepository::new(db.clone()),
            firm_console: FirmConsoleRepository::new(db.clone()),
            billit_health: billit_health::HealthMemo::default(),
            embedded_sandbox: None,
            live: live::LiveUpdates::new(),
            auth_cache,
            mailer,
            email_bodies,
            answer_limits: policies.answers,
            db,
        }
    }

    /// The same application, its live updates and cache invalidations carried across nodes by `bus` (the
    /// database's: PostgreSQL `LISTEN`/`NOTIFY`), its cache entries living `cache_ttl` (zero: no cache). Needs a
    /// tokio runtime on a shared bus.
    #[must_use]
    pub fn with_bus(mut self, bus: Bus, cache_ttl: Duration) -> Self {
        let cache = AuthCache::new(cache_ttl, bus.clone());
        self.sessions = self.sessions.with_cache(cache.clone());
        self.users = self.users.with_cache(cache.clone());
        self.tenants = self.tenants.with_cache(cache.clone());
        self.invitations = self.invitations.with_cache(cache.clone());
        self.resets = self.resets.with_cache(cache.clone());
        self.firm = self.firm.with_cache(cache.clone());
        self.billit = self.billit.with_cache(cache.clone());
        self.auth_cache = cache;
        self.live = live::LiveUpdates::over(bus);
        self
    }

    /// The same application, with the embedded sandbox's accounts reachable through `sandbox`.
    #[must_use]
    pub fn with_embedded_sandbox(mut self, sandbox: Arc<dyn demo::DemoSandbox>) -> Self {
        self.embedded_sandbox = Some(sandbox);
        self
    }

    /// Whether emails are kept as files in a deployment that runs the embedded sandbox: the demonstration, whose
    /// "sent emails" pages show them.
    pub fn shows_sent_emails(&self) -> bool {
        self.settings.billit.embedded_url.is_some() && matches!(self.mailer, Mailer::Files(_))
    }
}

/// The portal's own background jobs.
pub fn default_registry(state: &App) -> JobRegistry {
    let queue = state.jobs.queue.clone();
    let outbox = state.outbox.clone();
    let mailer = state.mailer.clone();
    let sessions = state.sessions.clone();
    let throttle = state.throttle.clone();
    let firm = state.firm.clone();
    let registry = invoicing::register(JobRegistry::new(), state);
    let registry = statuses::register(registry, state);
    let registry = payments::register(registry, state);
    let registry = reminders::register(registry, state);
    let hooks = state.clone();
    let client = match outgoing_webhooks::http_client() {
        Ok(client) => Some(client),
        Err(error) => {
            tracing::error!(error = %error, "no HTTP client for outgoing webhooks; their deliveries will wait");
            None
        }
    };
    let registry = registry.handle(outgoing_webhooks::DELIVER_JOB, move |job| {
        outgoing_webhooks::run(hooks.clone(), client.clone(), job)
    });
    registry
        .handle(portal_persistence::outbox::SEND_JOB, move |job| {
            mailer::send_job(outbox.clone(), mailer.clone(), job)
        })
        .handle("sessions.purge", move |_job| {
            let sessions = sessions.clone();
            let firm = firm.clone();
            async move {
                let now = chrono::Utc::now();
                let purged = sessions.purge_expired(now).await?;
                tracing::debug!(purged, "expired sessions purged");
                // Firm staff's visits to companies belong to sessions: once no session can be that old, they go.
                let visits = firm.purge_visits(now - sessions.policy().absolute).await?;
                tracing::debug!(visits, "firm visits of ended sessions purged");
                Ok(())
            }
        })
        .every(
            Duration::from_secs(3600),
            "sessions.purge",
            serde_json::json!({}),
        )
        .handle("throttle.purge", move |_job| {
            let throttle = throttle.clone();
            async move {
                let purged = throttle.purge_stale(chrono::Utc::now()).await?;
                tracing::debug!(purged, "stale sign-in throttle rows purged");
                Ok(())
            }
        })
        .every(
            Duration::from_secs(3600),
            "throttle.purge",
            serde_json::json!({}),
        )
        .handle("jobs.purge_done", move |_job| {
            let queue = queue.clone();
            async move {
                let purged = queue
                    .purge_done(Duration::from_secs(7 * 24 * 3600))
                    .await
                    .map_err(|error| JobFailure::Retry(error.into()))?;
                tracing::debug!(purged, "old finished jobs purged");
                Ok(())
            }
        })
        .every(
            Duration::from_secs(3600),
            "jobs.purge_done",
            serde_json::json!({}),
        )
}
