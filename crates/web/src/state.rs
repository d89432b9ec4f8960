//! What every handler may reach: repositories, the job queue, the configuration, the keys.

use crate::config::Config;
use crate::mailer::Mailer;
use crate::master_key::MasterKey;
use crate::worker::Jobs;
use portal_persistence::Db;
use portal_persistence::billit_connections::BillitConnectionRepository;
use portal_persistence::invitations::{InvitationRepository, PasswordResetRepository};
use portal_persistence::invoices::InvoiceRepository;
use portal_persistence::outbox::OutboxRepository;
use portal_persistence::sessions::SessionRepository;
use portal_persistence::tenants::TenantRepository;
use portal_persistence::throttle::LoginThrottle;
use portal_persistence::users::UserRepository;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub jobs: Jobs,
    pub config: Arc<Config>,
    pub master_key: MasterKey,
    /// Where users reach the portal (links in emails).
    pub base_url: String,
    pub secure_cookies: bool,
    pub sessions: SessionRepository,
    pub users: UserRepository,
    pub tenants: TenantRepository,
    pub throttle: LoginThrottle,
    pub invitations: InvitationRepository,
    pub resets: PasswordResetRepository,
    pub outbox: OutboxRepository,
    pub billit: BillitConnectionRepository,
    pub invoices: InvoiceRepository,
    /// Status changes, for the pages open in browsers.
    pub live: crate::live::LiveUpdates,
    pub mailer: Mailer,
    /// An argon2 hash checked when the email is unknown, so that both failures take the same time.
    pub dummy_hash: Arc<str>,
}
