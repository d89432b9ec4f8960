//! Invoices: a draft's computed parts, and the submission to Billit (a job per submission).

pub mod billit_order;
pub mod directory;
pub mod drafts;
pub mod files;
pub mod removal;
pub mod submit;

use crate::App;
use crate::worker::JobRegistry;

/// The job handlers of this area.
pub fn register(registry: JobRegistry, app: &App) -> JobRegistry {
    submit::register(registry, app)
}
