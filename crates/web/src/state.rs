//! What every handler may reach: the application (its use cases and repositories) and what only HTTP needs.

use portal_app::App;
use portal_domain::ids::UserId;
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub secure_cookies: bool,
    /// An argon2 hash checked when the email is unknown, so that both failures take the same time.
    pub dummy_hash: Arc<str>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`server.trusted_proxies`).
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    /// Send `Strict-Transport-Security` (the portal is reached over https).
    pub hsts: bool,
    /// The live-update streams open per user, and how often each re-checks its session.
    pub live_streams: LiveStreams,
}

/// Handlers reach the application's repositories and services as `state.invoices`, `state.jobs`…
impl Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.app
    }
}

/// The streams open per user: at most `per_user` each, and each re-checks every `recheck` that its session is
/// still valid and its user still reaches the tenant (signed out, deactivated or suspended: the stream ends).
#[derive(Clone)]
pub struct LiveStreams {
    pub recheck: Duration,
    pub per_user: usize,
    open: Arc<Mutex<HashMap<UserId, usize>>>,
}

impl LiveStreams {
    pub fn new(recheck: Duration, per_user: usize) -> Self {
        Self {
            recheck,
            per_user,
            open: Arc::default(),
        }
    }

    /// A place for one more stream of `user`, or `None` when they already have `per_user`.
    pub fn open(&self, user: UserId) -> Option<StreamSlot> {
        let mut open = self.open.lock().ok()?;
        let count = open.entry(user).or_insert(0);
        if *count >= self.per_user {
            return None;
        }
        *count += 1;
        Some(StreamSlot {
            open: Arc::clone(&self.open),
            user,
        })
    }
}

/// One open stream, counted until the stream is dropped (the browser left, or the stream ended).
pub struct StreamSlot {
    open: Arc<Mutex<HashMap<UserId, usize>>>,
    user: UserId,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.open.lock()
            && let Some(count) = open.get_mut(&self.user)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}
