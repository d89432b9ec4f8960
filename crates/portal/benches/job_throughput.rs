//! Job queue throughput: jobs/s enqueued, then claimed and completed by the worker pool with a no-op handler.
//!
//! `cargo bench -p portal-web --bench job_throughput` (SQLite); with PORTAL_TEST_DATABASE_URL set, PostgreSQL too.
//! A benchmark, not a test: it prints figures and asserts nothing about time.

use portal_app::worker::{JobRegistry, Jobs, WorkerPool, WorkerSettings};
use portal_persistence::jobs::{JobQueue, NewJob};
use portal_persistence::testing::TestDatabase;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

const JOBS: usize = 3000;

async fn run(label: &str, database: TestDatabase, workers: usize) -> anyhow::Result<()> {
    let queue = JobQueue::new(database.db.clone());
    let started = Instant::now();
    for n in 0..JOBS {
        queue
            .enqueue(NewJob::firm_wide("noop", serde_json::json!({ "n": n })))
            .await?;
    }
    let enqueue_rate = JOBS as f64 / started.elapsed().as_secs_f64();

    let done = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(Notify::new());
    let (counter, bell) = (Arc::clone(&done), Arc::clone(&finished));
    let registry = JobRegistry::new().handle("noop", move |_job| {
        let counter = Arc::clone(&counter);
        let bell = Arc::clone(&bell);
        async move {
            if counter.fetch_add(1, Ordering::SeqCst) + 1 == JOBS {
                bell.notify_one();
            }
            Ok(())
        }
    });
    let started = Instant::now();
    let pool = WorkerPool::start(
        Jobs::new(queue.clone()),
        registry,
        WorkerSettings {
            workers,
            poll_interval: Duration::from_millis(50),
            lease: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(5),
            name: "bench".to_owned(),
        },
    );
    finished.notified().await;
    let elapsed = started.elapsed();
    pool.stop().await;
    // The last completion may still be committing when the handler signals; count from the database.
    let counts = queue.counts().await?;
    println!(
        "{label:<11} workers={workers}  enqueue {enqueue_rate:>7.0} jobs/s  claim+run+complete {:>7.0} jobs/s  ({} done of {JOBS} in {:.2} s)",
        JOBS as f64 / elapsed.as_secs_f64(),
        counts.done,
        elapsed.as_secs_f64()
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    for workers in [1, 4, 8] {
        run("SQLite", TestDatabase::sqlite().await?, workers).await?;
    }
    if std::env::var(portal_persistence::testing::TEST_DATABASE_URL_VAR).is_ok() {
        for workers in [1, 4, 8] {
            run("PostgreSQL", TestDatabase::new().await?, workers).await?;
        }
    }
    Ok(())
}
