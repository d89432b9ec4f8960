//! Billit's webhook deliveries stored by the thousand: the HTTP endpoint hands each verified delivery to one
//! writer task, which stores every delivery waiting at that moment (and their jobs) in one transaction. Under a
//! burst, a commit (and its fsync) serves many requests instead of one, and on SQLite the requests no longer queue
//! for the write lock one by one; a lone delivery is stored at once, as before.
//!
//! Each request is answered only once its delivery is committed: a 200 still means "stored". If a batch fails,
//! its deliveries are stored one by one, so that one bad delivery fails alone.

use crate::worker::Jobs;
use portal_persistence::TenantScope;
use portal_persistence::webhook_deliveries::WebhookDeliveryRepository;
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// The most deliveries one transaction stores.
const MAX_BATCH: usize = 256;
/// Deliveries waiting for the writer; a request beyond that waits to hand its own over.
const QUEUE: usize = 4096;

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
}

impl std::fmt::Debug for DeliveryInbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryInbox")
            .field("job_kind", &self.job_kind)
            .finish_non_exhaustive()
    }
}

impl DeliveryInbox {
    pub fn new(deliveries: WebhookDeliveryRepository, jobs: Jobs) -> Self {
        Self {
            deliveries,
            jobs,
            job_kind: super::WEBHOOK_JOB,
            writer: Arc::new(OnceLock::new()),
        }
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

/// The writer: takes whatever is waiting (at least one), stores it in one transaction, answers each request.
async fn write(
    deliveries: WebhookDeliveryRepository,
    jobs: Jobs,
    job_kind: &'static str,
    mut receiver: mpsc::Receiver<Request>,
) {
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut waiting, MAX_BATCH).await > 0 {
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
    }
}
