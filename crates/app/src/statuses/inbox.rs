//! Billit's webhook deliveries stored by the thousand: the HTTP endpoint hands each verified delivery to one
//! writer task, which stores every delivery waiting at that moment (and their jobs) in one transaction. Under a
//! burst, a commit (and its fsync) serves many requests instead of one, and on SQLite the requests no longer queue
//! for the write lock one by one; a lone delivery is stored at once, as before.
//!
//! Each request is answered only once its delivery is committed: a 200 still means "stored". If a batch fails,
//! its deliveries are stored one by one, so that one bad delivery fails alone.
//!
//! On SQLite the inbox and the workers applying the deliveries share one write lock, and every sender waits
//! while a worker's batch holds it. So the answer comes first: a worker about to write a batch makes way
//! ([`DeliveryInbox::make_way`]) while deliveries are arriving, for a bounded time, and applies what it has once
//! they stop or the time is up.

use crate::worker::Jobs;
use portal_persistence::TenantScope;
use portal_persistence::webhook_deliveries::WebhookDeliveryRepository;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use uuid::Uuid;

/// The most deliveries one transaction stores.
const MAX_BATCH: usize = 256;
/// Deliveries waiting for the writer; a request beyond that waits to hand its own over.
const QUEUE: usize = 4096;
/// How long the inbox must have been idle for deliveries to count as stopped: more than the time a sender takes
/// to send its next delivery once answered, less than a human notices.
const QUIET: Duration = Duration::from_millis(5);
/// The longest a worker's batch makes way: under deliveries that never stop, each worker still applies a batch
/// (up to 200 deliveries) this often, several hundred a second.
const MAKE_WAY_AT_MOST: Duration = Duration::from_millis(500);

/// Until when deliveries count as arriving, for the workers that make way: while the writer holds requests,
/// forever; once it has answered them, [`QUIET`] more.
struct Activity {
    /// Milliseconds since `origin` (`u64::MAX` while writing; 0, before anything: never).
    arriving_until_ms: AtomicU64,
    origin: Instant,
}

impl Activity {
    fn new() -> Self {
        Self {
            arriving_until_ms: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn begin(&self) {
        self.arriving_until_ms.store(u64::MAX, Ordering::Release);
    }

    fn end(&self) {
        let quiet = u64::try_from(QUIET.as_millis()).unwrap_or(u64::MAX);
        self.arriving_until_ms
            .store(self.now_ms().saturating_add(quiet), Ordering::Release);
    }

    fn arriving(&self) -> bool {
        self.now_ms() < self.arriving_until_ms.load(Ordering::Acquire)
    }
}

struct Request {
    scope: TenantScope,
    body: String,
    signature: String,
    reply: oneshot::Sender<anyhow::Result<Option<Uuid>>>,
}

/// Stores verified deliveries with their `job_kind` jobs (see the module's comment).
#[derive(Clone)]
pub struct DeliveryInbox {
    deliveries: WebhookDeliveryRepository,
    jobs: Jobs,
    job_kind: &'static str,
    /// The writer, started by the first delivery (it needs the runtime the requests run on).
    writer: Arc<OnceLock<mpsc::Sender<Request>>>,
    activity: Arc<Activity>,
    /// Whether the workers' batches and the inbox share one write lock (SQLite), so that the workers make way.
    one_write_lock: bool,
}

impl std::fmt::Debug for DeliveryInbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryInbox")
            .field("job_kind", &self.job_kind)
            .finish_non_exhaustive()
    }
}

impl DeliveryInbox {
    /// `one_write_lock`: whether the database has one write lock for every connection (SQLite).
    pub fn new(deliveries: WebhookDeliveryRepository, jobs: Jobs, one_write_lock: bool) -> Self {
        Self {
            deliveries,
            jobs,
            job_kind: super::WEBHOOK_JOB,
            writer: Arc::new(OnceLock::new()),
            activity: Arc::new(Activity::new()),
            one_write_lock,
        }
    }

    /// For a worker about to write a batch of deliveries: on SQLite, waits while deliveries are arriving (see the
    /// module's comment), at most [`MAKE_WAY_AT_MOST`]; returns how long it waited. On PostgreSQL it returns at
    /// once: the batch locks its own invoices' rows, not the inbox's.
    pub async fn make_way(&self) -> Duration {
        make_way(&self.activity, self.one_write_lock).await
    }

    /// Stores a verified delivery (identified by its signature) with its job, unless it replays one already
    /// stored for the tenant (`None`); returns once it is committed, and wakes a worker.
    pub async fn record(
        &self,
        scope: &TenantScope,
        body: String,
        signature: &str,
    ) -> anyhow::Result<Option<Uuid>> {
        let writer = self.writer.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(write(
                self.deliveries.clone(),
                self.jobs.clone(),
                self.job_kind,
                receiver,
                self.activity.clone(),
            ));
            sender
        });
        let (reply, answer) = oneshot::channel();
        let request = Request {
            scope: scope.clone(),
            body,
            signature: signature.to_owned(),
            reply,
        };
        match writer.send(request).await {
            Ok(()) => answer
                .await
                .map_err(|_| anyhow::anyhow!("the webhook writer stopped"))?,
            // The writer's runtime is gone (a test's, or a server's being stopped): store it here. A delivery
            // stored twice is impossible either way: its signature is unique for the tenant.
            Err(mpsc::error::SendError(request)) => {
                let stored = self
                    .deliveries
                    .record_unless_replayed(
                        &request.scope,
                        request.body,
                        &request.signature,
                        self.job_kind,
                    )
                    .await?;
                if stored.is_some() {
                    self.jobs.ring();
                }
                Ok(stored)
            }
        }
    }
}

async fn make_way(activity: &Activity, one_write_lock: bool) -> Duration {
    let started = Instant::now();
    if !one_write_lock {
        return Duration::ZERO;
    }
    while activity.arriving() && started.elapsed() < MAKE_WAY_AT_MOST {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    started.elapsed()
}

/// The writer: takes whatever is waiting (at least one), stores it in one transaction, answers each request.
async fn write(
    deliveries: WebhookDeliveryRepository,
    jobs: Jobs,
    job_kind: &'static str,
    mut receiver: mpsc::Receiver<Request>,
    activity: Arc<Activity>,
) {
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut waiting, MAX_BATCH).await > 0 {
        activity.begin();
        let batch: Vec<Request> = std::mem::take(&mut waiting);
        let rows = batch
            .iter()
            .map(|request| {
                (
                    request.scope.clone(),
                    request.body.clone(),
                    request.signature.clone(),
                )
            })
            .collect();
        match deliveries.record_many_unless_replayed(rows, job_kind).await {
            Ok(ids) => {
                if ids.iter().any(Option::is_some) {
                    jobs.ring();
                }
                for (request, id) in batch.into_iter().zip(ids) {
                    // A request whose client went away has nobody to answer.
                    let _answered = request.reply.send(Ok(id));
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, deliveries = batch.len(), "a batch of webhook deliveries could not be stored; storing them one by one");
                for request in batch {
                    let stored = deliveries
                        .record_unless_replayed(
                            &request.scope,
                            request.body,
                            &request.signature,
                            job_kind,
                        )
                        .await
                        .map_err(anyhow::Error::from);
                    if matches!(stored, Ok(Some(_))) {
                        jobs.ring();
                    }
                    let _answered = request.reply.send(stored);
                }
            }
        }
        activity.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_goes_at_once_when_no_delivery_is_arriving() {
        let activity = Activity::new();
        assert!(make_way(&activity, true).await < MAKE_WAY_AT_MOST);
        activity.begin();
        activity.end();
        tokio::time::sleep(QUIET * 2).await;
        assert!(make_way(&activity, true).await < MAKE_WAY_AT_MOST);
    }

    #[tokio::test]
    async fn a_batch_waits_for_the_deliveries_being_stored_then_a_quiet_moment() {
        let activity = Arc::new(Activity::new());
        activity.begin();
        let writer = activity.clone();
        let stored = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(60)).await;
            writer.end();
        });
        let waited = make_way(&activity, true).await;
        stored.await.unwrap();
        assert!(waited >= Duration::from_millis(60) + QUIET, "{waited:?}");
        assert!(waited < MAKE_WAY_AT_MOST, "{waited:?}");
    }

    #[tokio::test]
    async fn a_batch_makes_way_for_a_bounded_time_under_deliveries_that_never_stop() {
        let activity = Activity::new();
        activity.begin();
        assert!(make_way(&activity, true).await >= MAKE_WAY_AT_MOST);
    }

    #[tokio::test]
    async fn on_postgresql_a_batch_never_waits_for_the_inbox() {
        let activity = Activity::new();
        activity.begin();
        assert_eq!(make_way(&activity, false).await, Duration::ZERO);
    }
}
