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
    /// The JSON API's requests per token (`api.requests_per_minute`, `api.burst`).
    pub api_rate: ApiRateLimit,
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

/// A token bucket per API token, in this process: `burst` requests at once, refilled at `per_minute` a minute.
/// (Several nodes each keep their own buckets: the limit is per node, which is what protects each node.)
#[derive(Clone)]
pub struct ApiRateLimit {
    per_minute: u32,
    burst: u32,
    buckets: Arc<Mutex<HashMap<uuid::Uuid, Bucket>>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: std::time::Instant,
}

impl ApiRateLimit {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            burst: burst.max(1),
            buckets: Arc::default(),
        }
    }

    /// Takes one request from `token`'s bucket, or says how long until the next one is allowed.
    pub fn admit(&self, token: uuid::Uuid) -> Result<(), Duration> {
        let now = std::time::Instant::now();
        let rate = f64::from(self.per_minute) / 60.0;
        let burst = f64::from(self.burst);
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let bucket = buckets.entry(token).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refilled = bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate;
        bucket.tokens = refilled.min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ApiRateLimit;

    #[test]
    fn a_token_gets_its_burst_then_waits_for_the_refill() {
        let limit = ApiRateLimit::new(60, 3);
        let token = uuid::Uuid::now_v7();
        for _ in 0..3 {
            assert!(limit.admit(token).is_ok());
        }
        let wait = limit.admit(token).unwrap_err();
        assert!(
            wait.as_secs_f64() > 0.0 && wait.as_secs_f64() <= 1.0,
            "{wait:?}"
        );
        // Another token has its own bucket.
        assert!(limit.admit(uuid::Uuid::now_v7()).is_ok());
    }
}
