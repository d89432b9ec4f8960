//! Statuses in: webhook deliveries and polls feed one path (classify, append, fold, summarise, notify).

use crate::state::AppState;
use crate::worker::JobRegistry;

/// The job handlers of this area.
pub fn register(registry: JobRegistry, _state: &AppState) -> JobRegistry {
    registry
}
