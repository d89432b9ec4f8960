//! What every handler may reach: the database, the job queue, the configuration.

use crate::config::Config;
use crate::master_key::MasterKey;
use crate::worker::Jobs;
use portal_persistence::Db;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub jobs: Jobs,
    pub config: Arc<Config>,
    pub master_key: MasterKey,
}
