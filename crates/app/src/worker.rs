//! The background side: workers that run jobs from the durable queue, and a scheduler for periodic jobs.
//!
//! A worker claims a job with a lease, renews the lease while the handler runs, and records the outcome. On
//! shutdown it stops claiming, gives the running handler a grace period, and otherwise gives the job back to the
//! queue so that another process runs it: nothing is lost, nothing runs twice by design.

use portal_persistence::jobs::{
    ClaimedJob, Enqueued, FailOutcome, JobQueue, JobQueueError, NewJob,
};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Why a job did not succeed.
#[derive(Debug)]
pub enum JobFailure {
    /// Worth trying again later (network, Billit busy, database hiccup).
    Retry(anyhow::Error),
    /// No retry can help (malformed payload, a definitive refusal): the job is dead at once.
    Permanent(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for JobFailure {
    fn from(error: E) -> Self {
        Self::Retry(error.into())
    }
}

pub type JobResult = Result<(), JobFailure>;
pub type JobFuture = Pin<Box<dyn Future<Output = JobResult> + Send>>;

/// Runs jobs of one kind.
pub trait JobHandler: Send + Sync + 'static {
    fn run(&self, job: ClaimedJob) -> JobFuture;
}

impl<F, Fut> JobHandler for F
where
    F: Fn(ClaimedJob) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = JobResult> + Send + 'static,
{
    fn run(&self, job: ClaimedJob) -> JobFuture {
        Box::pin(self(job))
    }
}

/// What a batch handler says of each job it was given, in the order given: `Ok` when the job's work was
/// committed and the job marked done in the same transaction (`JobQueue::complete_all_in`), otherwise why not
/// (the worker records the failure as for a single job).
pub type BatchFuture = Pin<Box<dyn Future<Output = Vec<JobResult>> + Send>>;

/// Runs many jobs of one kind together (one transaction for all of them, instead of one or more per job).
pub trait BatchHandler: Send + Sync + 'static {
    fn run(&self, jobs: Vec<ClaimedJob>) -> BatchFuture;
}

impl<F, Fut> BatchHandler for F
where
    F: Fn(Vec<ClaimedJob>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Vec<JobResult>> + Send + 'static,
{
    fn run(&self, jobs: Vec<ClaimedJob>) -> BatchFuture {
        Box::pin(self(jobs))
    }
}

/// A job that the scheduler enqueues every `every`.
#[derive(Debug, Clone)]
pub struct Periodic {
    pub kind: String,
    pub every: Duration,
    pub payload: serde_json::Value,
}

/// Which handler runs which kind, and what runs periodically.
#[derive(Default, Clone)]
pub struct JobRegistry {
    handlers: HashMap<String, Arc<dyn JobHandler>>,
    /// Kinds whose due jobs are claimed and run together, up to a number each.
    batches: HashMap<String, (usize, Arc<dyn BatchHandler>)>,
    periodic: Vec<Periodic>,
}

impl JobRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn handle(mut self, kind: impl Into<String>, handler: impl JobHandler) -> Self {
        self.handlers.insert(kind.into(), Arc::new(handler));
        self
    }

    /// Jobs of `kind` are claimed up to `max` at a time when that many are due, and `handler` runs them together;
    /// a job claimed alone goes to the kind's ordinary handler (see [`Self::handle`]), so a kind with a batch
    /// handler has both.
    pub fn handle_batch(
        mut self,
        kind: impl Into<String>,
        max: usize,
        handler: impl BatchHandler,
    ) -> Self {
        self.batches
            .insert(kind.into(), (max.max(1), Arc::new(handler)));
        self
    }

    pub fn every(
        mut self,
        every: Duration,
        kind: impl Into<String>,
        payload: serde_json::Value,
    ) -> Self {
        self.periodic.push(Periodic {
            kind: kind.into(),
            every,
            payload,
        });
        self
    }
}

/// The queue plus a bell that wakes this process's idle workers when something is enqueued here.
#[derive(Debug, Clone)]
pub struct Jobs {
    pub queue: JobQueue,
    bell: Arc<Notify>,
}

impl Jobs {
    pub fn new(queue: JobQueue) -> Self {
        Self {
            queue,
            bell: Arc::new(Notify::new()),
        }
    }

    pub async fn enqueue(&self, job: NewJob) -> Result<Enqueued, JobQueueError> {
        let enqueued = self.queue.enqueue(job).await?;
        self.bell.notify_one();
        Ok(enqueued)
    }

    /// Adds jobs in one statement, leaving out those whose unique key is taken (see
    /// `JobQueue::enqueue_all_in`).
    pub async fn enqueue_all(&self, jobs: Vec<NewJob>) -> Result<u64, JobQueueError> {
        if jobs.is_empty() {
            return Ok(0);
        }
        let added = self.queue.enqueue_all(jobs).await?;
        self.bell.notify_one();
        Ok(added)
    }

    /// Wakes a worker for jobs enqueued in a transaction the caller just committed.
    pub fn ring(&self) {
        self.bell.notify_one();
    }
}

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub workers: usize,
    pub poll_interval: Duration,
    pub lease: Duration,
    /// How long a running job may take to finish once shutdown is asked for.
    pub shutdown_grace: Duration,
    /// Distinguishes this process's workers in `locked_by`.
    pub name: String,
}

/// The running workers and scheduler; `stop` waits for them.
pub struct WorkerPool {
    tasks: Vec<JoinHandle<()>>,
    shutdown: CancellationToken,
}

impl WorkerPool {
    pub fn start(jobs: Jobs, registry: JobRegistry, settings: WorkerSettings) -> Self {
        let shutdown = CancellationToken::new();
        let registry = Arc::new(registry);
        let mut tasks = Vec::new();
        for index in 0..settings.workers {
            let worker = Worker {
                id: format!("{}#{index}", settings.name),
                jobs: jobs.clone(),
                registry: Arc::clone(&registry),
                settings: settings.clone(),
                shutdown: shutdown.clone(),
            };
            tasks.push(tokio::spawn(worker.run()));
        }
        if settings.workers > 0 && !registry.periodic.is_empty() {
            tasks.push(tokio::spawn(schedule(
                jobs,
                registry.periodic.clone(),
                shutdown.clone(),
            )));
        }
        Self { tasks, shutdown }
    }

    /// Stops claiming, lets running jobs finish within the grace period, releases the others, and returns when
    /// every worker has stopped.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            if let Err(error) = task.await {
                tracing::error!(error = %error, "a worker task ended abnormally");
            }
        }
    }
}

struct Worker {
    id: String,
    jobs: Jobs,
    registry: Arc<JobRegistry>,
    settings: WorkerSettings,
    shutdown: CancellationToken,
}

impl Worker {
    async fn run(self) {
        tracing::debug!(worker = %self.id, "worker started");
        let batch_kinds: Vec<&str> = self.registry.batches.keys().map(String::as_str).collect();
        let batch_max = self
            .registry
            .batches
            .values()
            .map(|(max, _)| *max)
            .max()
            .unwrap_or(1);
        while !self.shutdown.is_cancelled() {
            let claimed = self
                .jobs
                .queue
                .claim_batch(&self.id, self.settings.lease, &batch_kinds, batch_max)
                .await;
            match claimed {
                Ok(mut jobs) if jobs.len() == 1 => {
                    if let Some(job) = jobs.pop() {
                        self.execute(job).await;
                    }
                }
                Ok(jobs) if !jobs.is_empty() => self.execute_batch(jobs).await,
                Ok(_) => {
                    tokio::select! {
                        () = tokio::time::sleep(self.settings.poll_interval) => {}
                        () = self.jobs.bell.notified() => {}
                        () = self.shutdown.cancelled() => break,
                    }
                }
                Err(error) => {
                    tracing::error!(worker = %self.id, error = %format!("{:#}", anyhow::Error::from(error)), "cannot claim jobs");
                    tokio::select! {
                        () = tokio::time::sleep(self.settings.poll_interval * 4) => {}
                        () = self.shutdown.cancelled() => break,
                    }
                }
            }
        }
        tracing::debug!(worker = %self.id, "worker stopped");
    }

    async fn execute(&self, job: ClaimedJob) {
        let span =
            tracing::info_span!("job", id = %job.id, kind = %job.kind, attempt = job.attempt);
        self.execute_in_span(job).instrument(span).await;
    }

    async fn execute_in_span(&self, job: ClaimedJob) {
        let queue = &self.jobs.queue;
        let Some(handler) = self.registry.handlers.get(&job.kind).cloned() else {
            // Perhaps a newer node knows it (rolling deploy): retry later rather than drop it.
            let message = format!("no handler for job kind '{}'", job.kind);
            tracing::error!("{message}");
            record(queue.fail(&job, &message).await, &job);
            return;
        };
        let mut task = tokio::spawn(handler.run(job.clone()));
        let lease = self.settings.lease;
        let mut heartbeat = tokio::time::interval((lease / 3).max(Duration::from_millis(100)));
        heartbeat.tick().await;
        let outcome = loop {
            tokio::select! {
                outcome = &mut task => break outcome,
                _ = heartbeat.tick() => {
                    if let Err(error) = queue.heartbeat(&job, lease).await {
                        tracing::warn!(error = %error, "lost the job's lease; abandoning it");
                        task.abort();
                        return;
                    }
                }
                () = self.shutdown.cancelled() => {
                    match tokio::time::timeout(self.settings.shutdown_grace, &mut task).await {
                        Ok(outcome) => break outcome,
                        Err(_) => {
                            task.abort();
                            match queue.release(&job).await {
                                Ok(()) => tracing::info!("shutting down: job released to the queue"),
                                Err(error) => tracing::error!(error = %error, "shutting down: could not release the job; its lease will expire"),
                            }
                            return;
                        }
                    }
                }
            }
        };
        match outcome {
            Ok(Ok(())) => match queue.complete(&job).await {
                Ok(()) => tracing::debug!("job done"),
                Err(error) => {
                    tracing::error!(error = %error, "job ran but could not be marked done")
                }
            },
            Ok(Err(JobFailure::Retry(error))) => {
                let message = format!("{error:#}");
                tracing::warn!(error = %message, "job failed");
                record(queue.fail(&job, &message).await, &job);
            }
            Ok(Err(JobFailure::Permanent(error))) => {
                let message = format!("{error:#}");
                tracing::error!(error = %message, "job failed for good");
                if let Err(error) = queue.bury(&job, &message).await {
                    tracing::error!(error = %error, "could not mark the job dead");
                }
            }
            Err(join_error) => {
                let message = if join_error.is_panic() {
                    "the job's handler panicked".to_owned()
                } else {
                    "the job's handler was cancelled".to_owned()
                };
                tracing::error!("{message}");
                record(queue.fail(&job, &message).await, &job);
            }
        }
    }
}

impl Worker {
    async fn execute_batch(&self, jobs: Vec<ClaimedJob>) {
        let kind = jobs.first().map(|job| job.kind.clone()).unwrap_or_default();
        let span = tracing::info_span!("job", kind = %kind, batch = jobs.len());
        self.execute_batch_in_span(&kind, jobs)
            .instrument(span)
            .await;
    }

    async fn execute_batch_in_span(&self, kind: &str, jobs: Vec<ClaimedJob>) {
        let queue = &self.jobs.queue;
        let Some((_, handler)) = self.registry.batches.get(kind).cloned() else {
            let message = format!("no batch handler for job kind '{kind}'");
            tracing::error!("{message}");
            for job in &jobs {
                record(queue.fail(job, &message).await, job);
            }
            return;
        };
        let mut task = tokio::spawn(handler.run(jobs.clone()));
        let lease = self.settings.lease;
        let mut heartbeat = tokio::time::interval((lease / 3).max(Duration::from_millis(100)));
        heartbeat.tick().await;
        let outcome = loop {
            tokio::select! {
                outcome = &mut task => break outcome,
                _ = heartbeat.tick() => {
                    // A job whose lease was lost is not applied by this batch: the batch completes its jobs in
                    // its own transaction, guarded by the lock, or rolls everything back.
                    if let Err(error) = queue.heartbeat_all(&jobs, lease).await {
                        tracing::warn!(error = %error, "could not extend the batch's leases");
                    }
                }
                () = self.shutdown.cancelled() => {
                    match tokio::time::timeout(self.settings.shutdown_grace, &mut task).await {
                        Ok(outcome) => break outcome,
                        Err(_) => {
                            task.abort();
                            for job in &jobs {
                                if let Err(error) = queue.release(job).await {
                                    tracing::error!(job = %job.id, error = %error, "shutting down: could not release the job; its lease will expire");
                                }
                            }
                            tracing::info!("shutting down: batch released to the queue");
                            return;
                        }
                    }
                }
            }
        };
        let results = match outcome {
            Ok(results) => results,
            Err(join_error) => {
                let message = if join_error.is_panic() {
                    "the batch's handler panicked"
                } else {
                    "the batch's handler was cancelled"
                };
                tracing::error!("{message}");
                jobs.iter()
                    .map(|_| Err(JobFailure::Retry(anyhow::anyhow!(message))))
                    .collect()
            }
        };
        let mut done = 0;
        for (index, job) in jobs.iter().enumerate() {
            match results.get(index) {
                Some(Ok(())) => done += 1,
                Some(Err(JobFailure::Permanent(error))) => {
                    let message = format!("{error:#}");
                    tracing::error!(job = %job.id, error = %message, "job failed for good");
                    if let Err(error) = queue.bury(job, &message).await {
                        tracing::error!(error = %error, "could not mark the job dead");
                    }
                }
                Some(Err(JobFailure::Retry(error))) => {
                    let message = format!("{error:#}");
                    tracing::warn!(job = %job.id, error = %message, "job failed");
                    record(queue.fail(job, &message).await, job);
                }
                None => {
                    let message = "the batch's handler said nothing of this job";
                    tracing::error!(job = %job.id, "{message}");
                    record(queue.fail(job, message).await, job);
                }
            }
        }
        tracing::debug!(done, of = jobs.len(), "batch done");
    }
}

fn record(outcome: Result<FailOutcome, JobQueueError>, job: &ClaimedJob) {
    match outcome {
        Ok(FailOutcome::RetryAt(at)) => tracing::debug!(retry_at_ms = at, "job will be retried"),
        Ok(FailOutcome::Dead) => {
            tracing::error!(attempts = job.attempt, "job is dead after its last attempt")
        }
        Err(error) => tracing::error!(error = %error, "could not record the job's failure"),
    }
}

/// Enqueues each periodic job once per period. The unique key names the period, so several processes (or a
/// restart) never enqueue the same period twice.
async fn schedule(jobs: Jobs, periodic: Vec<Periodic>, shutdown: CancellationToken) {
    let tick = periodic
        .iter()
        .map(|job| job.every)
        .min()
        .unwrap_or(Duration::from_secs(1))
        .clamp(Duration::from_millis(100), Duration::from_secs(1));
    let mut interval = tokio::time::interval(tick);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let now = jobs.queue.now_ms();
        for job in &periodic {
            let every = i64::try_from(job.every.as_millis())
                .unwrap_or(i64::MAX)
                .max(1);
            let slot = now / every;
            let new = NewJob::firm_wide(job.kind.clone(), job.payload.clone())
                .unique_key(format!("periodic:{}:{slot}", job.kind))
                .max_attempts(3);
            if let Err(error) = jobs.enqueue_all(vec![new]).await {
                tracing::error!(kind = %job.kind, error = %error, "could not schedule a periodic job");
            }
        }
    }
}
