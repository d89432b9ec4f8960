//! Invoices: the editor's service and the submission to Billit (jobs).

use crate::state::AppState;
use crate::worker::JobRegistry;

/// The job handlers of this area.
pub fn register(registry: JobRegistry, _state: &AppState) -> JobRegistry {
    registry
}
