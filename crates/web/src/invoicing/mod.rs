//! Invoices: the editor's form and checks, and the submission to Billit (a job per submission).

pub mod amounts;
pub mod billit_order;
pub mod form;
pub mod submit;

use crate::state::AppState;
use crate::worker::JobRegistry;

/// The job handlers of this area.
pub fn register(registry: JobRegistry, state: &AppState) -> JobRegistry {
    submit::register(registry, state)
}
