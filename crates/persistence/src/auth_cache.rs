//! A short in-process cache of who is asking: session → user, (user, company) → scope, user → the companies of
//! their menu and whether they are a firm accountant. Every page asks these before anything else; without the
//! cache they cost four to seven statements per request. Billit's webhooks ask one too: their URL's token → the
//! company and its (encrypted) signing secrets, read by every delivery.
//!
//! Security first:
//! - entries live `ttl` (default 10 s) at most, and nothing is cached that grants access the database would no
//!   longer grant for longer than that, even if an invalidation is lost;
//! - the repositories that change sessions, users, memberships, companies or portfolios invalidate what they
//!   changed, on this node at once and on the other nodes through the [`Bus`] (`portal_cache`). "This node" is
//!   every cache of the process, whichever repository instance made the change (one built on its own by a
//!   command, the seed or a test included): caches register themselves in a process-wide list;
//! - while the bus does not hear the other nodes (PostgreSQL connection lost), the cache is bypassed, and it
//!   empties itself whenever the bus reconnects (messages may have been missed);
//! - refusals are never cached (a new membership works at once), and a read that raced an invalidation is not
//!   stored (a generation counter).
//!
//! A small map under a mutex rather than a caching crate: the entries are few (one per active session and
//! company visited), invalidation by user or company needs a scan anyway, and it adds no dependency.

use crate::TenantScope;
use crate::billit_connections::EncryptedSecrets;
use crate::bus::{Bus, BusSignal, CACHE_CHANNEL};
use crate::scope::TenantRole;
use crate::tenants::Tenant;
use crate::users::User;
use chrono::{DateTime, Utc};
use portal_domain::ids::{TenantId, UserId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// The default lifetime of an entry.
pub const DEFAULT_TTL: Duration = Duration::from_secs(10);
/// Entries per map before the oldest are dropped.
const CAPACITY: usize = 20_000;

/// What a session row said when it was read.
#[derive(Debug, Clone)]
pub struct CachedSession {
    pub user: User,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What was changed, as the other nodes hear it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Invalidation {
    /// One session ended (its hash, as stored in the table).
    Session(String),
    /// A user's sessions, role, memberships or portfolio changed.
    User(uuid::Uuid),
    /// A company changed (profile, suspension, its Billit connection and webhook secrets).
    Tenant(uuid::Uuid),
    /// Anything else.
    All,
}

/// The cache (cheap to clone; clones share the entries).
#[derive(Clone)]
pub struct AuthCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache")
            .field("ttl", &self.inner.ttl)
            .field("bus", &self.inner.bus)
            .finish()
    }
}

struct Stamped<T> {
    at: Instant,
    value: T,
}

#[derive(Default)]
struct Maps {
    sessions: HashMap<String, Stamped<CachedSession>>,
    scopes: HashMap<(UserId, String), Stamped<(Tenant, TenantScope)>>,
    memberships: HashMap<UserId, Stamped<Vec<(Tenant, TenantRole)>>>,
    accountants: HashMap<UserId, Stamped<bool>>,
    /// Firm staff's visits already recorded (session, company): a fact that never becomes false.
    visits: HashMap<(String, TenantId), Stamped<()>>,
    /// Webhook URL token → the company it names and its encrypted secrets.
    webhooks: HashMap<String, Stamped<(TenantScope, EncryptedSecrets)>>,
}

struct Inner {
    ttl: Duration,
    bus: Bus,
    maps: Mutex<Maps>,
    /// Bumped by every invalidation: a value read from the database before it is not stored after it.
    generation: AtomicU64,
}

/// Taken before a database read; the value read is stored only if nothing was invalidated meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl Default for AuthCache {
    fn default() -> Self {
        Self::disabled()
    }
}

impl AuthCache {
    /// A cache whose entries live `ttl` (zero: nothing is cached), invalidated across nodes through `bus`. On a
    /// shared bus, a task (the caller's tokio runtime) applies the other nodes' invalidations.
    pub fn new(ttl: Duration, bus: Bus) -> Self {
        let cache = Self {
            inner: Arc::new(Inner {
                ttl,
                bus: bus.clone(),
                maps: Mutex::default(),
                generation: AtomicU64::new(0),
            }),
        };
        if bus.is_shared() {
            tokio::spawn(follow(bus, Arc::downgrade(&cache.inner)));
        }
        if !ttl.is_zero()
            && let Ok(mut caches) = CACHES.lock()
        {
            caches.retain(|cache| cache.strong_count() > 0);
            caches.push(Arc::downgrade(&cache.inner));
        }
        cache
    }

    /// Nothing cached (repositories built on their own, tests).
    pub fn disabled() -> Self {
        Self::new(Duration::ZERO, Bus::local())
    }

    fn usable(&self) -> bool {
        !self.inner.ttl.is_zero() && self.inner.bus.is_listening()
    }

    pub fn ticket(&self) -> Ticket {
        Ticket(self.inner.generation.load(Ordering::Acquire))
    }

    fn with_maps<R>(&self, f: impl FnOnce(&mut Maps) -> R) -> Option<R> {
        let mut maps = self.inner.maps.lock().ok()?;
        Some(f(&mut maps))
    }

    fn get<K, V>(
        &self,
        pick: impl FnOnce(&mut Maps) -> &mut HashMap<K, Stamped<V>>,
        key: &K,
    ) -> Option<V>
    where
        K: std::hash::Hash + Eq,
        V: Clone,
    {
        if !self.usable() {
            return None;
        }
        let ttl = self.inner.ttl;
        self.with_maps(|maps| {
            let map = pick(maps);
            match map.get(key) {
                Some(entry) if entry.at.elapsed() < ttl => Some(entry.value.clone()),
                Some(_) => {
                    map.remove(key);
                    None
                }
                None => None,
            }
        })
        .flatten()
    }

    fn put<K, V>(
        &self,
        ticket: Ticket,
        pick: impl FnOnce(&mut Maps) -> &mut HashMap<K, Stamped<V>>,
        key: K,
        value: V,
    ) where
        K: std::hash::Hash + Eq,
    {
        if !self.usable() {
            return;
        }
        let ttl = self.inner.ttl;
        let generation = &self.inner.generation;
        self.with_maps(|maps| {
            // Checked under the lock that invalidations take too: none can slip between the check and the insert.
            if generation.load(Ordering::Acquire) != ticket.0 {
                return;
            }
            let map = pick(maps);
            if map.len() >= CAPACITY {
                map.retain(|_, entry| entry.at.elapsed() < ttl);
                if map.len() >= CAPACITY {
                    map.clear();
                }
            }
            map.insert(
                key,
                Stamped {
                    at: Instant::now(),
                    value,
                },
            );
        });
    }

    pub fn session(&self, hash: &str) -> Option<CachedSession> {
        self.get(|maps| &mut maps.sessions, &hash.to_owned())
    }

    pub fn put_session(&self, ticket: Ticket, hash: &str, session: CachedSession) {
        self.put(ticket, |maps| &mut maps.sessions, hash.to_owned(), session);
    }

    pub fn scope(&self, user: UserId, slug: &str) -> Option<(Tenant, TenantScope)> {
        self.get(|maps| &mut maps.scopes, &(user, slug.to_owned()))
    }

    pub fn put_scope(
        &self,
        ticket: Ticket,
        user: UserId,
        slug: &str,
        found: (Tenant, TenantScope),
    ) {
        self.put(
            ticket,
            |maps| &mut maps.scopes,
            (user, slug.to_owned()),
            found,
        );
    }

    pub fn memberships(&self, user: UserId) -> Option<Vec<(Tenant, TenantRole)>> {
        self.get(|maps| &mut maps.memberships, &user)
    }

    pub fn put_memberships(&self, ticket: Ticket, user: UserId, list: Vec<(Tenant, TenantRole)>) {
        self.put(ticket, |maps| &mut maps.memberships, user, list);
    }

    pub fn accountant(&self, user: UserId) -> Option<bool> {
        self.get(|maps| &mut maps.accountants, &user)
    }

    pub fn put_accountant(&self, ticket: Ticket, user: UserId, is: bool) {
        self.put(ticket, |maps| &mut maps.accountants, user, is);
    }

    /// The company a webhook token names, with its encrypted signing secrets.
    pub fn webhook(&self, token: &str) -> Option<(TenantScope, EncryptedSecrets)> {
        self.get(|maps| &mut maps.webhooks, &token.to_owned())
    }

    pub fn put_webhook(&self, ticket: Ticket, token: &str, found: (TenantScope, EncryptedSecrets)) {
        self.put(ticket, |maps| &mut maps.webhooks, token.to_owned(), found);
    }

    /// Whether this node recorded that firm staff's `session` entered `tenant` (within the entry lifetime).
    pub fn visited(&self, session: &str, tenant: TenantId) -> bool {
        self.get(|maps| &mut maps.visits, &(session.to_owned(), tenant))
            .is_some()
    }

    /// The visit is recorded in the database (it stays so: no invalidation applies).
    pub fn note_visit(&self, session: &str, tenant: TenantId) {
        let ticket = self.ticket();
        self.put(
            ticket,
            |maps| &mut maps.visits,
            (session.to_owned(), tenant),
            (),
        );
    }

    /// Forgets what `change` touched in every cache of this process, and tells the other nodes.
    pub fn invalidate(&self, change: Invalidation) {
        let caches: Vec<Arc<Inner>> = CACHES
            .lock()
            .map(|caches| caches.iter().filter_map(Weak::upgrade).collect())
            .unwrap_or_default();
        for cache in caches {
            cache.apply(&change);
        }
        match serde_json::to_string(&change) {
            Ok(payload) => self.inner.bus.publish(CACHE_CHANNEL, payload),
            Err(error) => tracing::warn!(%error, "cache invalidation not sent"),
        }
    }

    pub fn invalidate_user(&self, user: UserId) {
        self.invalidate(Invalidation::User(user.as_uuid()));
    }

    pub fn invalidate_tenant(&self, tenant: TenantId) {
        self.invalidate(Invalidation::Tenant(tenant.as_uuid()));
    }
}

/// Every enabled cache of this process, so that a change made through any repository instance reaches them all
/// (not configuration: a list of weak references, pruned as caches go).
static CACHES: Mutex<Vec<Weak<Inner>>> = Mutex::new(Vec::new());

impl Inner {
    fn apply(&self, change: &Invalidation) {
        let Ok(mut maps) = self.maps.lock() else {
            return;
        };
        self.generation.fetch_add(1, Ordering::AcqRel);
        match change {
            Invalidation::Session(hash) => {
                maps.sessions.remove(hash);
            }
            Invalidation::User(user) => {
                let user = UserId::from_uuid(*user);
                maps.sessions.retain(|_, entry| entry.value.user.id != user);
                maps.scopes.retain(|(holder, _), _| *holder != user);
                maps.memberships.remove(&user);
                maps.accountants.remove(&user);
            }
            Invalidation::Tenant(tenant) => {
                let tenant = TenantId::from_uuid(*tenant);
                maps.scopes.retain(|_, entry| entry.value.0.id != tenant);
                maps.memberships
                    .retain(|_, entry| entry.value.iter().all(|(listed, _)| listed.id != tenant));
                maps.webhooks
                    .retain(|_, entry| entry.value.0.tenant_id() != tenant);
            }
            Invalidation::All => *maps = Maps::default(),
        }
    }
}

/// Applies the other nodes' invalidations; empties the cache when the bus lost them (resync, lag).
async fn follow(bus: Bus, cache: Weak<Inner>) {
    use tokio::sync::broadcast::error::RecvError;
    let mut signals = bus.subscribe();
    drop(bus);
    loop {
        let signal = signals.recv().await;
        let Some(inner) = cache.upgrade() else {
            return;
        };
        match signal {
            Ok(BusSignal::Message { channel, payload }) if channel == CACHE_CHANNEL => {
                match serde_json::from_str::<Invalidation>(&payload) {
                    Ok(change) => inner.apply(&change),
                    Err(error) => {
                        tracing::warn!(%error, "unreadable cache invalidation: everything forgotten");
                        inner.apply(&Invalidation::All);
                    }
                }
            }
            Ok(BusSignal::Message { .. }) => {}
            Ok(BusSignal::Resync) | Err(RecvError::Lagged(_)) => inner.apply(&Invalidation::All),
            Err(RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::ScopeOrigin;

    fn user(id: UserId) -> User {
        User {
            id,
            email: "a@b.fr".to_owned(),
            name: "A".to_owned(),
            language: "fr".to_owned(),
            is_firm_admin: false,
            active: true,
        }
    }

    fn session(id: UserId) -> CachedSession {
        let now = Utc::now();
        CachedSession {
            user: user(id),
            created_at: now,
            last_seen_at: now,
            expires_at: now,
        }
    }

    #[tokio::test]
    async fn invalidations_forget_what_they_name_and_a_raced_read_is_not_stored() {
        let cache = AuthCache::new(Duration::from_secs(60), Bus::local());
        let alice = UserId::new();
        let bob = UserId::new();
        let ticket = cache.ticket();
        cache.put_session(ticket, "s1", session(alice));
        cache.put_session(ticket, "s2", session(alice));
        cache.put_session(ticket, "s3", session(bob));
        assert!(cache.session("s1").is_some());

        cache.invalidate(Invalidation::Session("s1".to_owned()));
        assert!(cache.session("s1").is_none());
        assert!(cache.session("s2").is_some());

        // `ticket` was taken before the invalidation: what it read may be stale and is not kept.
        cache.put_session(ticket, "s1", session(alice));
        assert!(cache.session("s1").is_none());

        cache.invalidate_user(alice);
        assert!(cache.session("s2").is_none());
        assert!(cache.session("s3").is_some());

        let tenant = TenantId::new();
        let scope = TenantScope::new(tenant, TenantRole::Member, ScopeOrigin::Membership);
        let found = (
            Tenant {
                id: tenant,
                slug: "acme".to_owned(),
                legal_name: "ACME".to_owned(),
                siren: String::new(),
                vat_number: None,
                address: Default::default(),
                email: Default::default(),
                active: true,
            },
            scope,
        );
        cache.put_scope(cache.ticket(), bob, "acme", found);
        assert!(cache.scope(bob, "acme").is_some());
        cache.invalidate_tenant(tenant);
        assert!(cache.scope(bob, "acme").is_none());
    }

    #[tokio::test]
    async fn a_companys_change_forgets_its_webhook_token_and_no_other() {
        let cache = AuthCache::new(Duration::from_secs(60), Bus::local());
        let entry = |tenant| {
            (
                TenantScope::new(tenant, TenantRole::Member, ScopeOrigin::Webhook),
                EncryptedSecrets {
                    api_key: None,
                    webhook_secret: Some("v2:sealed".to_owned()),
                },
            )
        };
        let acme = TenantId::new();
        let globex = TenantId::new();
        cache.put_webhook(cache.ticket(), "tok-acme", entry(acme));
        cache.put_webhook(cache.ticket(), "tok-globex", entry(globex));
        assert_eq!(
            cache
                .webhook("tok-acme")
                .map(|(scope, _)| scope.tenant_id()),
            Some(acme)
        );

        cache.invalidate_tenant(acme);
        assert!(
            cache.webhook("tok-acme").is_none(),
            "its secret may have changed"
        );
        assert!(cache.webhook("tok-globex").is_some());

        // A read that raced the change is not kept.
        let before = cache.ticket();
        cache.invalidate_tenant(acme);
        cache.put_webhook(before, "tok-acme", entry(acme));
        assert!(cache.webhook("tok-acme").is_none());
    }

    #[tokio::test]
    async fn a_zero_ttl_caches_nothing() {
        let cache = AuthCache::disabled();
        let alice = UserId::new();
        cache.put_session(cache.ticket(), "s1", session(alice));
        assert!(cache.session("s1").is_none());
    }

    #[tokio::test]
    async fn a_change_through_any_repository_instance_reaches_every_cache_of_the_process() {
        let cache = AuthCache::new(Duration::from_secs(60), Bus::local());
        let alice = UserId::new();
        cache.put_session(cache.ticket(), "s-any", session(alice));
        // A repository built on its own (a command, a test) has no cache of its own, and still invalidates.
        AuthCache::disabled().invalidate_user(alice);
        assert!(cache.session("s-any").is_none());
    }
}
