//! What every handler may reach: the application (its use cases and repositories) and what only HTTP needs.

use portal_app::App;
use std::ops::Deref;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub secure_cookies: bool,
    /// An argon2 hash checked when the email is unknown, so that both failures take the same time.
    pub dummy_hash: Arc<str>,
}

/// Handlers reach the application's repositories and services as `state.invoices`, `state.jobs`…
impl Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.app
    }
}
