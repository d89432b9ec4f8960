//! The durable job queue: enqueue (optionally unique), claim with a lease, complete, fail with backoff, die after
//! the limit, release on shutdown.
//!
//! Claiming is one statement: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent workers on several nodes never
//! take the same job; on SQLite the single `UPDATE … RETURNING` is atomic because SQLite serialises writers.
//! Every state change after a claim is guarded by the worker's lock, so a worker whose lease expired (and whose job
//! was taken over) cannot overwrite the new owner's outcome.

use crate::scope::{ScopeOrigin, TenantRole, TenantScope};
use portal_domain::ids::{JobId, TenantId};
use rand::Rng;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, Statement, Value,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use uuid::Uuid;

/// How many times a job runs before it is dead, unless it says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 10;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting for its run-at time (new, or retrying after a failure).
    Queued,
    /// Claimed by a worker that holds a lease.
    Running,
    Done,
    /// Failed as many times as it may; kept for people to see and retry.
    Dead,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "queued" => Some(Self::Queued),
            "running" => Some(Self::Running),
            "done" => Some(Self::Done),
            "dead" => Some(Self::Dead),
            _ => None,
        }
    }
}

/// Where the queue reads the time: the system clock, or a hand-moved one in tests.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that moves only when told to (for lease-expiry and backoff tests without sleeping).
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn starting_now() -> Self {
        Self(AtomicI64::new(SystemClock.now_ms()))
    }

    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Exponential backoff with jitter: attempt n waits between half and all of `base × 2^(n-1)`, capped.
///
/// "Equal jitter" keeps retries of many failed jobs apart (no thundering herd) while every retry still waits at
/// least as long as the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            cap: Duration::from_secs(60 * 60),
        }
    }
}

impl RetryPolicy {
    /// The delay before the retry that follows failed attempt number `attempt` (1-based).
    pub fn delay(&self, attempt: i32, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        let spread = u64::try_from((ceiling - half).as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rng.random_range(0..=spread))
    }

    /// The longest wait after failed attempt `attempt`.
    pub fn ceiling(&self, attempt: i32) -> Duration {
        let exponent = u32::try_from(attempt.saturating_sub(1).clamp(0, 31)).unwrap_or(31);
        self.base
            .checked_mul(1u32 << exponent)
            .map_or(self.cap, |delay| delay.min(self.cap))
    }
}

/// A job to put on the queue.
#[derive(Debug, Clone)]
pub struct NewJob {
    kind: String,
    payload: serde_json::Value,
    tenant_id: Option<TenantId>,
    run_at_ms: Option<i64>,
    max_attempts: i32,
    unique_key: Option<String>,
}

impl NewJob {
    /// A job that belongs to no tenant (firm-wide mail, maintenance).
    pub fn firm_wide(kind: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            kind: kind.into(),
            payload,
            tenant_id: None,
            run_at_ms: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            unique_key: None,
        }
    }

    /// A job that acts on one tenant's data; its worker gets a [`TenantScope`] for that tenant only.
    pub fn for_tenant(
        scope: &TenantScope,
        kind: impl Into<String>,
        payload: serde_json::Value,
    ) -> Self {
        Self {
            tenant_id: Some(scope.tenant_id()),
            ..Self::firm_wide(kind, payload)
        }
    }

    /// Not before this time.
    pub fn run_at(mut self, at: chrono::DateTime<chrono::Utc>) -> Self {
        self.run_at_ms = Some(at.timestamp_millis());
        self
    }

    pub fn max_attempts(mut self, attempts: i32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Enqueueing the same key again yields the job already there instead of a second one.
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }
}

/// What `enqueue` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    Created(JobId),
    /// A job with the same unique key exists already; nothing was added.
    Existing(JobId),
}

impl Enqueued {
    pub fn id(self) -> JobId {
        match self {
            Self::Created(id) | Self::Existing(id) => id,
        }
    }
}

/// A job a worker holds the lease of.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: JobId,
    pub kind: String,
    payload: String,
    tenant_id: Option<TenantId>,
    /// This run's number, from 1.
    pub attempt: i32,
    pub max_attempts: i32,
    worker: String,
}

impl ClaimedJob {
    /// The payload, decoded into the job's own type.
    pub fn payload<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.payload)
    }

    pub fn raw_payload(&self) -> &str {
        &self.payload
    }

    /// The scope of the tenant the job was enqueued for: a worker acts with the job's own tenant, never another.
    pub fn tenant_scope(&self) -> Option<TenantScope> {
        self.tenant_id
            .map(|tenant| TenantScope::new(tenant, TenantRole::Admin, ScopeOrigin::Job))
    }

    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// Whether a failure now is the last one allowed.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

/// A job as stored, for people (the admin's queue view) and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    pub id: JobId,
    pub kind: String,
    pub payload: String,
    pub tenant_id: Option<TenantId>,
    pub state: JobState,
    pub run_at_ms: i64,
    pub attempts: i32,
    pub max_attempts: i32,
    pub last_error: Option<String>,
    pub locked_by: Option<String>,
    pub locked_until_ms: Option<i64>,
    pub unique_key: Option<String>,
    pub finished_at_ms: Option<i64>,
}

/// What a failure led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Queued again, to run at this time (ms).
    RetryAt(i64),
    Dead,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    pub queued: u64,
    pub running: u64,
    pub done: u64,
    pub dead: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum JobQueueError {
    #[error("the job queue's database failed")]
    Database(#[from] DbErr),
    /// The lease ran out and another worker took the job over: this worker's outcome is discarded.
    #[error("job {0} is no longer held by this worker (its lease expired)")]
    LeaseLost(JobId),
    #[error("job {job} has a state the queue does not know: {state}")]
    CorruptState { job: JobId, state: String },
}

/// The queue over one database.
#[derive(Debug, Clone)]
pub struct JobQueue {
    db: DatabaseConnection,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
}

const RETURNED_COLUMNS: &str = "id, kind, payload, tenant_id, attempts, max_attempts";
const ALL_COLUMNS: &str = "id, kind, payload, tenant_id, state, run_at_ms, attempts, max_attempts, last_error, \
     locked_by, locked_until_ms, unique_key, finished_at_ms";

impl JobQueue {
    pub fn new(db: DatabaseConnection) -> Self {
        Self::with(db, RetryPolicy::default(), Arc::new(SystemClock))
    }

    pub fn with(db: DatabaseConnection, retry: RetryPolicy, clock: Arc<dyn Clock>) -> Self {
        Self { db, retry, clock }
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Adds a job (or finds the one with the same unique key).
    pub async fn enqueue(&self, job: NewJob) -> Result<Enqueued, JobQueueError> {
        Self::enqueue_in(&self.db, self.clock.now_ms(), job).await
    }

    /// Adds a job inside the caller's transaction, so that the job exists if and only if the change that asked
    /// for it was committed.
    pub async fn enqueue_in<C: ConnectionTrait>(
        conn: &C,
        now_ms: i64,
        job: NewJob,
    ) -> Result<Enqueued, JobQueueError> {
        let backend = conn.get_database_backend();
        let id = JobId::new();
        let payload = job.payload.to_string();
        let inserted = conn
            .query_one_raw(statement(
                backend,
                "INSERT INTO jobs (id, kind, payload, tenant_id, state, run_at_ms, attempts, max_attempts, \
                 unique_key, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, 'queued', ?, 0, ?, ?, ?, ?) \
                 ON CONFLICT (unique_key) DO NOTHING RETURNING id",
                vec![
                    id.as_uuid().into(),
                    job.kind.into(),
                    payload.into(),
                    job.tenant_id.map(|tenant| tenant.as_uuid()).into(),
                    job.run_at_ms.unwrap_or(now_ms).into(),
                    job.max_attempts.into(),
                    job.unique_key.clone().into(),
                    now_ms.into(),
                    now_ms.into(),
                ],
            ))
            .await?;
        if inserted.is_some() {
            return Ok(Enqueued::Created(id));
        }
        // Only a unique-key conflict inserts nothing.
        let existing = conn
            .query_one_raw(statement(
                backend,
                "SELECT id FROM jobs WHERE unique_key = ?",
                vec![job.unique_key.into()],
            ))
            .await?
            .ok_or_else(|| DbErr::RecordNotInserted)?;
        Ok(Enqueued::Existing(JobId::from_uuid(
            existing.try_get("", "id")?,
        )))
    }

    /// Whether the job `id` is running under a lease that has not run out at `now_ms` (its worker may still be
    /// working on it).
    pub async fn holds_live_lease_in<C: ConnectionTrait>(
        conn: &C,
        id: Uuid,
        now_ms: i64,
    ) -> Result<bool, DbErr> {
        let row = conn
            .query_one_raw(statement(
                conn.get_database_backend(),
                "SELECT id FROM jobs WHERE id = ? AND state = 'running' AND locked_until_ms >= ?",
                vec![id.into(), now_ms.into()],
            ))
            .await?;
        Ok(row.is_some())
    }

    /// Adds jobs, in one statement; a job whose unique key is taken is left out (see [`Self::enqueue_all_in`]).
    pub async fn enqueue_all(&self, jobs: Vec<NewJob>) -> Result<u64, JobQueueError> {
        Self::enqueue_all_in(&self.db, self.clock.now_ms(), jobs).await
    }

    /// Adds jobs inside the caller's transaction with one statement. A job whose unique key is taken is left out
    /// without looking the existing one up, which [`Self::enqueue_in`] does: for callers that only need the job to
    /// exist. Returns how many were added.
    ///
    /// The jobs travel as one JSON array, so the statement's text is the same however many there are: a
    /// multi-row `VALUES` list would be a new statement for every count, which every pooled connection would
    /// prepare and keep (measured: the statement caches were most of the server's memory growth under a burst of
    /// webhooks).
    pub async fn enqueue_all_in<C: ConnectionTrait>(
        conn: &C,
        now_ms: i64,
        jobs: Vec<NewJob>,
    ) -> Result<u64, JobQueueError> {
        if jobs.is_empty() {
            return Ok(0);
        }
        let backend = conn.get_database_backend();
        let rows: Vec<serde_json::Value> = jobs
            .into_iter()
            .map(|job| {
                serde_json::json!([
                    JobId::new().as_uuid().simple().to_string(),
                    job.kind,
                    job.payload.to_string(),
                    job.tenant_id
                        .map(|tenant| tenant.as_uuid().simple().to_string()),
                    job.run_at_ms.unwrap_or(now_ms),
                    job.max_attempts,
                    job.unique_key,
                ])
            })
            .collect();
        let sql = match backend {
            DbBackend::Postgres => {
                "INSERT INTO jobs (id, kind, payload, tenant_id, state, run_at_ms, attempts, max_attempts, \
                 unique_key, created_at_ms, updated_at_ms) \
                 SELECT (job->>0)::uuid, job->>1, job->>2, (job->>3)::uuid, 'queued', (job->>4)::bigint, 0, \
                 (job->>5)::integer, job->>6, ?, ? FROM json_array_elements(?::json) AS job \
                 ON CONFLICT (unique_key) DO NOTHING"
            }
            // `WHERE true` tells SQLite's parser that `ON CONFLICT` belongs to the insert, not to a join.
            _ => {
                "INSERT INTO jobs (id, kind, payload, tenant_id, state, run_at_ms, attempts, max_attempts, \
                 unique_key, created_at_ms, updated_at_ms) \
                 SELECT unhex(value->>0), value->>1, value->>2, unhex(value->>3), 'queued', value->>4, 0, \
                 value->>5, value->>6, ?, ? FROM json_each(?) WHERE true \
                 ON CONFLICT (unique_key) DO NOTHING"
            }
        };
        let values: Vec<Value> = vec![
            now_ms.into(),
            now_ms.into(),
            serde_json::Value::Array(rows).to_string().into(),
        ];
        Ok(conn
            .execute_raw(statement(backend, sql, values))
            .await?
            .rows_affected())
    }

    /// Takes the next due job (or one whose worker's lease expired) for `worker`, for `lease`.
    pub async fn claim(
        &self,
        worker: &str,
        lease: Duration,
    ) -> Result<Option<ClaimedJob>, JobQueueError> {
        let now = self.clock.now_ms();
        let until = now.saturating_add(duration_ms(lease));
        let backend = self.db.get_database_backend();
        let due = "(state = 'queued' AND run_at_ms <= ?) \
                   OR (state = 'running' AND locked_until_ms < ? AND attempts < max_attempts)";
        let sql = match backend {
            DbBackend::Postgres => format!(
                "WITH next AS (SELECT id FROM ({}) due ORDER BY run_at_ms, id LIMIT 1) \
                 UPDATE jobs SET state = 'running', locked_by = ?, locked_until_ms = ?, \
                 attempts = jobs.attempts + 1, updated_at_ms = ? FROM next WHERE jobs.id = next.id \
                 RETURNING jobs.id, jobs.kind, jobs.payload, jobs.tenant_id, jobs.attempts, jobs.max_attempts",
                postgres_due("id, run_at_ms", "", "1")
            ),
            _ => format!(
                "UPDATE jobs SET state = 'running', locked_by = ?, locked_until_ms = ?, attempts = attempts + 1, \
                 updated_at_ms = ? WHERE id = (SELECT id FROM jobs WHERE {due} ORDER BY run_at_ms, id LIMIT 1) \
                 RETURNING {RETURNED_COLUMNS}"
            ),
        };
        let values: Vec<Value> = match backend {
            DbBackend::Postgres => vec![
                now.into(),
                now.into(),
                worker.into(),
                until.into(),
                now.into(),
            ],
            _ => vec![
                worker.into(),
                until.into(),
                now.into(),
                now.into(),
                now.into(),
            ],
        };
        let Some(row) = self
            .db
            .query_one_raw(statement(backend, &sql, values))
            .await?
        else {
            self.bury_expired(now).await?;
            return Ok(None);
        };
        Ok(Some(claimed(&row, worker)?))
    }

    /// Takes the next due job, and with it up to `max - 1` more due jobs of the same kind when that kind is one
    /// of `batch_kinds` (their handler applies many in one transaction), for `worker`, for `lease`; in one
    /// statement. Empty when nothing is due. Jobs of other kinds come one at a time, as [`Self::claim`] takes them.
    ///
    /// On PostgreSQL the first job is locked (`FOR UPDATE SKIP LOCKED`) with the others, so two workers never
    /// read the same first job's kind and then compete for its batch.
    pub async fn claim_batch(
        &self,
        worker: &str,
        lease: Duration,
        batch_kinds: &[&str],
        max: usize,
    ) -> Result<Vec<ClaimedJob>, JobQueueError> {
        if batch_kinds.is_empty() || max <= 1 {
            return Ok(self.claim(worker, lease).await?.into_iter().collect());
        }
        let now = self.clock.now_ms();
        let until = now.saturating_add(duration_ms(lease));
        let backend = self.db.get_database_backend();
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        let due = "((state = 'queued' AND run_at_ms <= ?) \
                   OR (state = 'running' AND locked_until_ms < ? AND attempts < max_attempts))";
        let kinds = vec!["?"; batch_kinds.len()].join(", ");
        // SQLite (one writer at a time, no row locks): one `WHERE` for both kinds of due jobs.
        let picked = format!(
            "SELECT id FROM jobs WHERE {due} AND kind = (SELECT kind FROM head) ORDER BY run_at_ms, id \
             LIMIT COALESCE((SELECT n FROM head), 0)"
        );
        let head = format!(
            "WITH head AS (SELECT kind, CASE WHEN kind IN ({kinds}) THEN ? ELSE 1 END AS n FROM jobs \
             WHERE {due} ORDER BY run_at_ms, id LIMIT 1)"
        );
        let sql = match backend {
            DbBackend::Postgres => format!(
                "WITH head AS (SELECT kind, CASE WHEN kind IN ({kinds}) THEN ? ELSE 1 END AS n FROM ({}) due \
                 ORDER BY run_at_ms, id LIMIT 1), \
                 next AS (SELECT id FROM ({}) due ORDER BY run_at_ms, id LIMIT COALESCE((SELECT n FROM head), 0)) \
                 UPDATE jobs SET state = 'running', locked_by = ?, locked_until_ms = ?, \
                 attempts = jobs.attempts + 1, updated_at_ms = ? FROM next WHERE jobs.id = next.id \
                 RETURNING jobs.id, jobs.kind, jobs.payload, jobs.tenant_id, jobs.attempts, jobs.max_attempts",
                postgres_due("kind, run_at_ms, id", "", "1"),
                postgres_due(
                    "id, run_at_ms",
                    " AND kind = (SELECT kind FROM head)",
                    "COALESCE((SELECT n FROM head), 0)"
                )
            ),
            _ => format!(
                "{head} UPDATE jobs SET state = 'running', locked_by = ?, locked_until_ms = ?, \
                 attempts = attempts + 1, updated_at_ms = ? WHERE id IN ({picked}) RETURNING {RETURNED_COLUMNS}"
            ),
        };
        let mut values: Vec<Value> = batch_kinds.iter().map(|kind| (*kind).into()).collect();
        values.extend([max.into(), now.into(), now.into()]);
        let tail: [Value; 3] = [worker.into(), until.into(), now.into()];
        match backend {
            DbBackend::Postgres => {
                values.extend([now.into(), now.into()]);
                values.extend(tail);
            }
            _ => {
                values.extend(tail);
                values.extend([now.into(), now.into()]);
            }
        }
        let rows = self
            .db
            .query_all_raw(statement(backend, &sql, values))
            .await?;
        if rows.is_empty() {
            self.bury_expired(now).await?;
            return Ok(Vec::new());
        }
        let mut jobs = rows
            .iter()
            .map(|row| claimed(row, worker))
            .collect::<Result<Vec<_>, _>>()?;
        // In queue order (RETURNING gives no order), so that a batch applies older deliveries first.
        jobs.sort_by_key(|job| job.id.as_uuid());
        Ok(jobs)
    }

    /// Marks `jobs` done inside the caller's transaction, together with the work they did: all of them, or
    /// `LeaseLost` (for the first one no longer held) and the caller rolls its transaction back.
    pub async fn complete_all_in<C: ConnectionTrait>(
        conn: &C,
        now_ms: i64,
        jobs: &[ClaimedJob],
    ) -> Result<(), JobQueueError> {
        let backend = conn.get_database_backend();
        for (worker, chunk) in by_worker(jobs) {
            let ids = crate::db::in_list(chunk.iter().map(|job| job.id.as_uuid()));
            let marks = vec!["?"; ids.len()].join(", ");
            let mut values: Vec<Value> = vec![now_ms.into(), now_ms.into(), worker.into()];
            values.extend(ids.into_iter().map(Value::from));
            let changed = conn
                .execute_raw(statement(
                    backend,
                    &format!(
                        "UPDATE jobs SET state = 'done', locked_by = NULL, locked_until_ms = NULL, \
                         last_error = NULL, updated_at_ms = ?, finished_at_ms = ? \
                         WHERE locked_by = ? AND state = 'running' AND id IN ({marks})"
                    ),
                    values,
                ))
                .await?
                .rows_affected();
            if changed != chunk.len() as u64 {
                return Err(JobQueueError::LeaseLost(
                    chunk.first().map_or_else(JobId::new, |job| job.id),
                ));
            }
        }
        Ok(())
    }

    /// Extends the leases of a batch's jobs; how many are still held.
    pub async fn heartbeat_all(
        &self,
        jobs: &[ClaimedJob],
        lease: Duration,
    ) -> Result<u64, JobQueueError> {
        let now = self.clock.now_ms();
        let mut held = 0;
        for (worker, chunk) in by_worker(jobs) {
            let ids = crate::db::in_list(chunk.iter().map(|job| job.id.as_uuid()));
            let marks = vec!["?"; ids.len()].join(", ");
            let mut values: Vec<Value> = vec![
                now.saturating_add(duration_ms(lease)).into(),
                now.into(),
                worker.into(),
            ];
            values.extend(ids.into_iter().map(Value::from));
            held += self
                .exec(
                    &format!(
                        "UPDATE jobs SET locked_until_ms = ?, updated_at_ms = ? \
                         WHERE locked_by = ? AND state = 'running' AND id IN ({marks})"
                    ),
                    values,
                )
                .await?;
        }
        Ok(held)
    }

    /// A job whose worker died during its last allowed attempt is dead, not retried forever.
    async fn bury_expired(&self, now: i64) -> Result<(), JobQueueError> {
        self.exec(
            "UPDATE jobs SET state = 'dead', locked_by = NULL, locked_until_ms = NULL, updated_at_ms = ?, \
             finished_at_ms = ?, last_error = COALESCE(last_error, 'the worker stopped during the last attempt') \
             WHERE state = 'running' AND locked_until_ms < ? AND attempts >= max_attempts",
            vec![now.into(), now.into(), now.into()],
        )
        .await?;
        Ok(())
    }

    /// Extends the lease of a long job; `LeaseLost` if another worker has it now.
    pub async fn heartbeat(&self, job: &ClaimedJob, lease: Duration) -> Result<(), JobQueueError> {
        let now = self.clock.now_ms();
        let changed = self
            .exec(
                "UPDATE jobs SET locked_until_ms = ?, updated_at_ms = ? \
                 WHERE id = ? AND locked_by = ? AND state = 'running'",
                vec![
                    now.saturating_add(duration_ms(lease)).into(),
                    now.into(),
                    job.id.as_uuid().into(),
                    job.worker.clone().into(),
                ],
            )
            .await?;
        lease_held(changed, job)
    }

    pub async fn complete(&self, job: &ClaimedJob) -> Result<(), JobQueueError> {
        let now = self.clock.now_ms();
        let changed = self
            .exec(
                "UPDATE jobs SET state = 'done', locked_by = NULL, locked_until_ms = NULL, last_error = NULL, \
                 updated_at_ms = ?, finished_at_ms = ? WHERE id = ? AND locked_by = ? AND state = 'running'",
                vec![
                    now.into(),
                    now.into(),
                    job.id.as_uuid().into(),
                    job.worker.clone().into(),
                ],
            )
            .await?;
        lease_held(changed, job)
    }

    /// Records a failed attempt: retried after a backoff, or dead once the attempts are used up.
    pub async fn fail(&self, job: &ClaimedJob, error: &str) -> Result<FailOutcome, JobQueueError> {
        if job.is_last_attempt() {
            self.bury(job, error).await?;
            return Ok(FailOutcome::Dead);
        }
        let now = self.clock.now_ms();
        let delay = self.retry.delay(job.attempt, &mut rand::rng());
        let retry_at = now.saturating_add(duration_ms(delay));
        let changed = self
            .exec(
                "UPDATE jobs SET state = 'queued', locked_by = NULL, locked_until_ms = NULL, last_error = ?, \
                 run_at_ms = ?, updated_at_ms = ? WHERE id = ? AND locked_by = ? AND state = 'running'",
                vec![
                    truncate_error(error).into(),
                    retry_at.into(),
                    now.into(),
                    job.id.as_uuid().into(),
                    job.worker.clone().into(),
                ],
            )
            .await?;
        lease_held(changed, job)?;
        Ok(FailOutcome::RetryAt(retry_at))
    }

    /// A failure that no retry can mend (bad payload, a refusal that will not change): dead at once.
    pub async fn bury(&self, job: &ClaimedJob, error: &str) -> Result<(), JobQueueError> {
        let now = self.clock.now_ms();
        let changed = self
            .exec(
                "UPDATE jobs SET state = 'dead', locked_by = NULL, locked_until_ms = NULL, last_error = ?, \
                 updated_at_ms = ?, finished_at_ms = ? WHERE id = ? AND locked_by = ? AND state = 'running'",
                vec![
                    truncate_error(error).into(),
                    now.into(),
                    now.into(),
                    job.id.as_uuid().into(),
                    job.worker.clone().into(),
                ],
            )
            .await?;
        lease_held(changed, job)
    }

    /// Gives an unfinished job back (shutdown): queued again at once, and the interrupted run does not count.
    pub async fn release(&self, job: &ClaimedJob) -> Result<(), JobQueueError> {
        let now = self.clock.now_ms();
        let changed = self
            .exec(
                "UPDATE jobs SET state = 'queued', locked_by = NULL, locked_until_ms = NULL, \
                 attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, run_at_ms = ?, \
                 updated_at_ms = ? WHERE id = ? AND locked_by = ? AND state = 'running'",
                vec![
                    now.into(),
                    now.into(),
                    job.id.as_uuid().into(),
                    job.worker.clone().into(),
                ],
            )
            .await?;
        lease_held(changed, job)
    }

    /// A dead job, queued again with a fresh set of attempts (someone fixed the cause).
    pub async fn retry_dead(&self, id: JobId) -> Result<bool, JobQueueError> {
        let now = self.clock.now_ms();
        let changed = self
            .exec(
                "UPDATE jobs SET state = 'queued', attempts = 0, run_at_ms = ?, updated_at_ms = ?, \
                 finished_at_ms = NULL WHERE id = ? AND state = 'dead'",
                vec![now.into(), now.into(), id.as_uuid().into()],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Deletes finished (done) jobs older than `age`; dead ones stay until someone looks at them.
    pub async fn purge_done(&self, age: Duration) -> Result<u64, JobQueueError> {
        let before = self.clock.now_ms().saturating_sub(duration_ms(age));
        self.exec(
            "DELETE FROM jobs WHERE state = 'done' AND finished_at_ms < ?",
            vec![before.into()],
        )
        .await
    }

    pub async fn get(&self, id: JobId) -> Result<Option<JobRecord>, JobQueueError> {
        let backend = self.db.get_database_backend();
        let row = self
            .db
            .query_one_raw(statement(
                backend,
                &format!("SELECT {ALL_COLUMNS} FROM jobs WHERE id = ?"),
                vec![id.as_uuid().into()],
            ))
            .await?;
        row.map(|row| record(&row)).transpose()
    }

    /// Jobs in `state`, oldest due first.
    pub async fn list(&self, state: JobState, limit: u64) -> Result<Vec<JobRecord>, JobQueueError> {
        let backend = self.db.get_database_backend();
        let rows = self
            .db
            .query_all_raw(statement(
                backend,
                &format!(
                    "SELECT {ALL_COLUMNS} FROM jobs WHERE state = ? ORDER BY run_at_ms, id LIMIT ?"
                ),
                vec![
                    state.as_str().into(),
                    i64::try_from(limit).unwrap_or(i64::MAX).into(),
                ],
            ))
            .await?;
        rows.iter().map(record).collect()
    }

    pub async fn counts(&self) -> Result<JobCounts, JobQueueError> {
        let backend = self.db.get_database_backend();
        let rows = self
            .db
            .query_all_raw(statement(
                backend,
                "SELECT state, COUNT(*) AS n FROM jobs GROUP BY state",
                vec![],
            ))
            .await?;
        let mut counts = JobCounts::default();
        for row in rows {
            let state: String = row.try_get("", "state")?;
            let n = u64::try_from(row.try_get::<i64>("", "n")?).unwrap_or_default();
            match JobState::parse(&state) {
                Some(JobState::Queued) => counts.queued = n,
                Some(JobState::Running) => counts.running = n,
                Some(JobState::Done) => counts.done = n,
                Some(JobState::Dead) => counts.dead = n,
                None => {}
            }
        }
        Ok(counts)
    }

    async fn exec(&self, sql: &str, values: Vec<Value>) -> Result<u64, JobQueueError> {
        let backend = self.db.get_database_backend();
        let result = self.db.execute_raw(statement(backend, sql, values)).await?;
        Ok(result.rows_affected())
    }
}

fn claimed(row: &QueryResult, worker: &str) -> Result<ClaimedJob, JobQueueError> {
    Ok(ClaimedJob {
        id: JobId::from_uuid(row.try_get("", "id")?),
        kind: row.try_get("", "kind")?,
        payload: row.try_get("", "payload")?,
        tenant_id: row
            .try_get::<Option<Uuid>>("", "tenant_id")?
            .map(TenantId::from_uuid),
        attempt: row.try_get("", "attempts")?,
        max_attempts: row.try_get("", "max_attempts")?,
        worker: worker.to_owned(),
    })
}

/// PostgreSQL's due jobs, first `limit` of them by `run_at_ms, id` (selecting `columns`, which must include both,
/// and matching `also`), locked `FOR UPDATE SKIP LOCKED`: the queued ones that are due and those whose lease ran
/// out, each read from its own index in queue order. One `WHERE` with both (an `OR`) cannot use an index for the
/// order: PostgreSQL then read and sorted every queued job at each claim, some 10 to 35 ms with a few thousand
/// webhook deliveries waiting, paid again for each job claimed alone (a status file per delivery). The index holds
/// no `id`: jobs of one millisecond are still sorted (an incremental sort while the table's statistics are current;
/// every queued job when they are stale). Placeholders: the time twice (the queued jobs' due time, then the
/// leases').
fn postgres_due(columns: &str, also: &str, limit: &str) -> String {
    format!(
        "SELECT * FROM (SELECT {columns} FROM jobs WHERE state = 'queued' AND run_at_ms <= ?{also} \
         ORDER BY run_at_ms, id LIMIT {limit} FOR UPDATE SKIP LOCKED) queued \
         UNION ALL SELECT * FROM (SELECT {columns} FROM jobs WHERE state = 'running' AND locked_until_ms < ? \
         AND attempts < max_attempts{also} ORDER BY run_at_ms, id LIMIT {limit} FOR UPDATE SKIP LOCKED) expired"
    )
}

/// A batch's jobs by the worker that holds them, in chunks of a bounded `IN` list.
fn by_worker(jobs: &[ClaimedJob]) -> Vec<(String, &[ClaimedJob])> {
    const PER_STATEMENT: usize = 500;
    let mut sorted: Vec<(String, &[ClaimedJob])> = Vec::new();
    let mut start = 0;
    while start < jobs.len() {
        let worker = &jobs[start].worker;
        let mut end = start + 1;
        while end < jobs.len() && &jobs[end].worker == worker && end - start < PER_STATEMENT {
            end += 1;
        }
        sorted.push((worker.clone(), &jobs[start..end]));
        start = end;
    }
    sorted
}

fn lease_held(changed: u64, job: &ClaimedJob) -> Result<(), JobQueueError> {
    if changed == 1 {
        Ok(())
    } else {
        Err(JobQueueError::LeaseLost(job.id))
    }
}

fn record(row: &QueryResult) -> Result<JobRecord, JobQueueError> {
    let id = JobId::from_uuid(row.try_get("", "id")?);
    let state: String = row.try_get("", "state")?;
    Ok(JobRecord {
        id,
        kind: row.try_get("", "kind")?,
        payload: row.try_get("", "payload")?,
        tenant_id: row
            .try_get::<Option<Uuid>>("", "tenant_id")?
            .map(TenantId::from_uuid),
        state: JobState::parse(&state).ok_or(JobQueueError::CorruptState { job: id, state })?,
        run_at_ms: row.try_get("", "run_at_ms")?,
        attempts: row.try_get("", "attempts")?,
        max_attempts: row.try_get("", "max_attempts")?,
        last_error: row.try_get("", "last_error")?,
        locked_by: row.try_get("", "locked_by")?,
        locked_until_ms: row.try_get("", "locked_until_ms")?,
        unique_key: row.try_get("", "unique_key")?,
        finished_at_ms: row.try_get("", "finished_at_ms")?,
    })
}

/// Long error texts (a whole HTML error page from a proxy) are cut: the log has the rest.
fn truncate_error(error: &str) -> String {
    const LIMIT: usize = 2000;
    if error.len() <= LIMIT {
        return error.to_owned();
    }
    let mut end = LIMIT;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &error[..end])
}

fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A statement written with `?` placeholders, numbered (`$1`, `$2`…) for PostgreSQL.
pub(crate) fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Postgres => {
            let mut numbered = String::with_capacity(sql.len() + 16);
            let mut n = 0;
            for ch in sql.chars() {
                if ch == '?' {
                    n += 1;
                    numbered.push('$');
                    numbered.push_str(&n.to_string());
                } else {
                    numbered.push(ch);
                }
            }
            numbered
        }
        _ => sql.to_owned(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn backoff_grows_with_each_attempt_and_stays_under_the_cap() {
        let policy = RetryPolicy {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(300),
        };
        let mut rng = StdRng::seed_from_u64(7);
        let mut previous = Duration::ZERO;
        for attempt in 1..=8 {
            let ceiling = policy.ceiling(attempt);
            for _ in 0..50 {
                let delay = policy.delay(attempt, &mut rng);
                assert!(
                    delay >= ceiling / 2 && delay <= ceiling,
                    "attempt {attempt}: {delay:?}"
                );
                assert!(delay >= previous / 2);
            }
            assert!(ceiling >= previous, "ceilings never shrink");
            previous = ceiling;
        }
        assert_eq!(policy.ceiling(1), Duration::from_secs(2));
        assert_eq!(policy.ceiling(4), Duration::from_secs(16));
        assert_eq!(policy.ceiling(30), Duration::from_secs(300));
        assert_eq!(policy.ceiling(i32::MAX), Duration::from_secs(300));
    }

    #[test]
    fn jitter_spreads_retries_of_the_same_attempt() {
        let policy = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(1);
        let delays: std::collections::HashSet<_> =
            (0..20).map(|_| policy.delay(3, &mut rng)).collect();
        assert!(delays.len() > 10);
    }

    #[test]
    fn placeholders_are_numbered_for_postgres_only() {
        let pg = statement(
            DbBackend::Postgres,
            "a = ? AND b = ?",
            vec![1.into(), 2.into()],
        );
        assert_eq!(pg.sql, "a = $1 AND b = $2");
        let lite = statement(
            DbBackend::Sqlite,
            "a = ? AND b = ?",
            vec![1.into(), 2.into()],
        );
        assert_eq!(lite.sql, "a = ? AND b = ?");
    }

    #[test]
    fn long_errors_are_cut_on_a_character_boundary() {
        let text = "é".repeat(3000);
        let cut = truncate_error(&text);
        assert!(cut.len() <= 2004);
        assert!(cut.ends_with('…'));
    }
}
