//! A message bus between the nodes (`portal serve` processes) that share one database: on PostgreSQL, `LISTEN` /
//! `NOTIFY` on a connection of its own; on SQLite (one process owns the file) there is no other node to tell.
//!
//! What travels: the live updates of open pages (`portal_live`) and the invalidations of the session and
//! membership cache (`portal_cache`). Each message is one line of small JSON; lines published together are packed
//! into one `NOTIFY` below PostgreSQL's 8,000-byte payload limit, so a burst of statuses costs a few statements.
//! Sending happens on a background task after the publisher's commit (the publisher does not wait), and a node
//! ignores what it sent itself (it delivered it in-process already). When the listening connection drops, the
//! bus reconnects with backoff and tells its subscribers to start over ([`BusSignal::Resync`]): what was sent
//! meanwhile is lost.

use sea_orm::sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use sea_orm::{DatabaseConnection, DbBackend};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Live updates of invoices, for the pages open on every node.
pub const LIVE_CHANNEL: &str = "portal_live";
/// Invalidations of the session and membership cache.
pub const CACHE_CHANNEL: &str = "portal_cache";
const CHANNELS: [&str; 2] = [LIVE_CHANNEL, CACHE_CHANNEL];

/// PostgreSQL refuses a payload of 8,000 bytes or more (default build); a packed payload stays below this.
pub const PAYLOAD_LIMIT: usize = 7_900;
/// Messages waiting to be sent; beyond this they are dropped (and logged) rather than held while the database is
/// unreachable.
const OUTGOING_CAPACITY: usize = 10_000;
const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// What a subscriber hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusSignal {
    /// A message another node published on `channel`.
    Message {
        channel: &'static str,
        payload: String,
    },
    /// The listening connection was lost (and, when it is heard again, re-established): messages may have been
    /// missed, so whatever depends on them starts over (the caches empty themselves).
    Resync,
}

/// The bus of this process (cheap to clone).
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

struct Inner {
    /// This process's name on the bus, so that it ignores its own messages.
    node: String,
    signals: broadcast::Sender<BusSignal>,
    /// `None` on SQLite: nobody else to tell.
    outgoing: Option<mpsc::Sender<(&'static str, String)>>,
    /// Whether this node hears the others right now (always on SQLite).
    listening: AtomicBool,
    /// Dropped with the bus: its listening task then ends (and closes its connection) instead of waiting.
    _stop: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("node", &self.inner.node)
            .field("shared", &self.is_shared())
            .field("listening", &self.is_listening())
            .finish()
    }
}

impl Default for Bus {
    fn default() -> Self {
        Self::local()
    }
}

impl Bus {
    /// A bus with no other node: in-process only (SQLite, tests).
    pub fn local() -> Self {
        let (signals, _) = broadcast::channel(1024);
        Self {
            inner: Arc::new(Inner {
                node: node_name(),
                signals,
                outgoing: None,
                listening: AtomicBool::new(true),
                _stop: None,
            }),
        }
    }

    /// The bus for `db`: across nodes on PostgreSQL (a dedicated pool of two connections, one listening and one
    /// sending, opened lazily; the tasks need a tokio runtime), in-process on SQLite.
    pub fn for_database(db: &DatabaseConnection) -> Self {
        if db.get_database_backend() != DbBackend::Postgres {
            return Self::local();
        }
        let options = db.get_postgres_connection_pool().connect_options();
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with((*options).clone());
        Self::postgres(pool)
    }

    fn postgres(pool: PgPool) -> Self {
        let (signals, _) = broadcast::channel(1024);
        let (sender, receiver) = mpsc::channel(OUTGOING_CAPACITY);
        let (stop, stopped) = oneshot::channel::<()>();
        let inner = Arc::new(Inner {
            node: node_name(),
            signals,
            outgoing: Some(sender),
            // Not until the first LISTEN succeeded: until then the caches are not trusted.
            listening: AtomicBool::new(false),
            _stop: Some(stop),
        });
        tokio::spawn(send_loop(pool.clone(), inner.node.clone(), receiver));
        let listener = listen_loop(pool, Arc::downgrade(&inner));
        tokio::spawn(async move {
            tokio::select! {
                () = listener => {}
                _ = stopped => {}
            }
        });
        Self { inner }
    }

    /// Whether other nodes may be listening (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        self.inner.outgoing.is_some()
    }

    /// Whether this node hears the other nodes now: always on SQLite; on PostgreSQL while its `LISTEN` connection
    /// is up. A cache must not be trusted while this is false.
    pub fn is_listening(&self) -> bool {
        self.inner.listening.load(Ordering::Acquire)
    }

    /// Tells the other nodes (not this one: the caller delivers in-process itself). `payload` is one line of
    /// small JSON; one that would not fit in a `NOTIFY` is dropped with a warning. Never waits.
    pub fn publish(&self, channel: &'static str, payload: String) {
        let Some(outgoing) = &self.inner.outgoing else {
            return;
        };
        if payload.contains('\n') || payload.len() + self.inner.node.len() + 1 > PAYLOAD_LIMIT {
            tracing::warn!(
                channel,
                bytes = payload.len(),
                "bus message too large or not one line: not sent"
            );
            return;
        }
        if let Err(error) = outgoing.try_send((channel, payload)) {
            tracing::warn!(channel, %error, "bus message not sent: the queue is full or closed");
        }
    }

    /// What the other nodes publish, and the resynchronisations.
    pub fn subscribe(&self) -> broadcast::Receiver<BusSignal> {
        self.inner.signals.subscribe()
    }
}

fn node_name() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// The payloads of one batch, per channel, packed as `node\nline\nline…` under [`PAYLOAD_LIMIT`].
pub fn pack(node: &str, batch: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut packed: Vec<(&'static str, String)> = Vec::new();
    for channel in CHANNELS {
        let mut current = String::new();
        for (_, line) in batch.iter().filter(|(c, _)| *c == channel) {
            if !current.is_empty() && current.len() + 1 + line.len() > PAYLOAD_LIMIT {
                packed.push((channel, std::mem::take(&mut current)));
            }
            if current.is_empty() {
                current.push_str(node);
            }
            current.push('\n');
            current.push_str(line);
        }
        if !current.is_empty() {
            packed.push((channel, current));
        }
    }
    packed
}

/// The lines of a payload another node sent, or nothing when it is this node's own.
pub fn unpack<'a>(own_node: &str, payload: &'a str) -> Vec<&'a str> {
    let mut lines = payload.split('\n');
    match lines.next() {
        Some(node) if node != own_node => lines.filter(|line| !line.is_empty()).collect(),
        _ => Vec::new(),
    }
}

/// The whole cause chain of an error, for the log.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn send_loop(
    pool: PgPool,
    node: String,
    mut receiver: mpsc::Receiver<(&'static str, String)>,
) {
    let mut batch = Vec::new();
    while let Some(first) = receiver.recv().await {
        batch.push(first);
        while batch.len() < 1_000 {
            match receiver.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        for (channel, payload) in pack(&node, &batch) {
            let mut delay = BACKOFF_START;
            for attempt in 1..=3 {
                let sent = sea_orm::sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(channel)
                    .bind(&payload)
                    .execute(&pool)
                    .await;
                match sent {
                    Ok(_) => break,
                    Err(error) => {
                        tracing::warn!(channel, attempt, error = %chain(&error), "bus: NOTIFY failed");
                        tokio::time::sleep(delay).await;
                        delay *= 2;
                    }
                }
            }
        }
        batch.clear();
    }
}

async fn listen_loop(pool: PgPool, inner: Weak<Inner>) {
    let mut backoff = BACKOFF_START;
    let mut heard_before = false;
    loop {
        let Some(node) = inner.upgrade().map(|inner| inner.node.clone()) else {
            return;
        };
        match listen(&pool).await {
            Ok(mut listener) => {
                let Some(alive) = inner.upgrade() else {
                    return;
                };
                alive.listening.store(true, Ordering::Release);
                if heard_before {
                    tracing::info!("bus: listening again");
                    let _ = alive.signals.send(BusSignal::Resync);
                } else {
                    tracing::debug!("bus: listening");
                }
                drop(alive);
                heard_before = true;
                backoff = BACKOFF_START;
                loop {
                    match listener.try_recv().await {
                        Ok(Some(notification)) => {
                            let Some(alive) = inner.upgrade() else {
                                return;
                            };
                            let Some(channel) =
                                CHANNELS.into_iter().find(|c| *c == notification.channel())
                            else {
                                continue;
                            };
                            for line in unpack(&node, notification.payload()) {
                                let _ = alive.signals.send(BusSignal::Message {
                                    channel,
                                    payload: line.to_owned(),
                                });
                            }
                        }
                        Ok(None) => {
                            tracing::warn!("bus: the listening connection was lost");
                            break;
                        }
                        Err(error) => {
                            tracing::warn!(error = %chain(&error), "bus: listening failed");
                            break;
                        }
                    }
                }
                let Some(alive) = inner.upgrade() else {
                    return;
                };
                alive.listening.store(false, Ordering::Release);
                // Until heard again, the caches are bypassed; what they hold may already be stale.
                let _ = alive.signals.send(BusSignal::Resync);
            }
            Err(error) => {
                tracing::warn!(error = %chain(&error), retry_in_ms = backoff.as_millis(), "bus: cannot listen");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_CAP);
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // Reconnections are ours (with backoff, and telling the subscribers), not the listener's.
    listener.eager_reconnect(false);
    listener.listen_all(CHANNELS).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_keeps_each_payload_under_the_limit_and_unpacking_skips_our_own() {
        let line = format!("{{\"x\":\"{}\"}}", "a".repeat(300));
        let batch: Vec<_> = (0..100)
            .map(|i| {
                if i % 2 == 0 {
                    (LIVE_CHANNEL, line.clone())
                } else {
                    (CACHE_CHANNEL, "{\"all\":true}".to_owned())
                }
            })
            .collect();
        let packed = pack("node-a", &batch);
        assert!(packed.iter().all(|(_, p)| p.len() < PAYLOAD_LIMIT));
        let live: usize = packed
            .iter()
            .filter(|(c, _)| *c == LIVE_CHANNEL)
            .map(|(_, p)| unpack("node-b", p).len())
            .sum();
        assert_eq!(live, 50);
        assert!(packed.len() >= 3, "{} payloads", packed.len());
        assert!(unpack("node-a", &packed[0].1).is_empty());
    }
}
