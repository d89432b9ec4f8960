//! The worker runtime inside the application: handlers run, failures retry, shutdown releases.

use crate::helpers::TestApp;
use portal_app::worker::{JobFailure, JobRegistry};
use portal_persistence::jobs::{JobQueue, JobState, NewJob};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

fn with_workers(workers: usize) -> impl FnOnce(portal::config::Config) -> portal::config::Config {
    move |mut config| {
        config.jobs.workers = workers;
        config.jobs.poll_interval_ms = 20;
        config
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_run_each_job_exactly_once() {
    let runs: Arc<Mutex<HashMap<u64, u32>>> = Arc::default();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let counter = Arc::clone(&runs);
    let app = TestApp::spawn_with(with_workers(4), move |_state| {
        JobRegistry::new().handle("count", move |job: portal_persistence::jobs::ClaimedJob| {
            let counter = Arc::clone(&counter);
            let done = done_tx.clone();
            async move {
                let n: u64 = job.payload::<serde_json::Value>()?["n"]
                    .as_u64()
                    .unwrap_or(u64::MAX);
                *counter.lock().unwrap().entry(n).or_default() += 1;
                let _ = done.send(n);
                Ok(())
            }
        })
    })
    .await;
    const JOBS: u64 = 60;
    for n in 0..JOBS {
        app.state
            .jobs
            .enqueue(NewJob::firm_wide("count", serde_json::json!({ "n": n })))
            .await
            .unwrap();
    }
    for _ in 0..JOBS {
        done_rx.recv().await.unwrap();
    }
    let db = app.shutdown().await;
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.len(), JOBS as usize);
    assert!(runs.values().all(|&count| count == 1), "{runs:?}");
    assert_eq!(
        JobQueue::new(db.db.clone()).counts().await.unwrap().done,
        JOBS
    );
}

#[tokio::test]
async fn a_failing_handler_is_retried_later_with_its_error_kept() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let app = TestApp::spawn_with(with_workers(1), move |_state| {
        JobRegistry::new().handle("flaky", move |_job| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(());
                Err(JobFailure::Retry(anyhow::anyhow!("Billit answered 503")))
            }
        })
    })
    .await;
    let id = app
        .state
        .jobs
        .enqueue(NewJob::firm_wide("flaky", serde_json::json!({})))
        .await
        .unwrap()
        .id();
    rx.recv().await.unwrap();
    let db = app.shutdown().await;
    let queue = JobQueue::new(db.db.clone());
    let job = queue.get(id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.attempts, 1);
    assert_eq!(job.last_error.as_deref(), Some("Billit answered 503"));
    assert!(job.run_at_ms > queue.now_ms(), "waits for its backoff");
}

#[tokio::test]
async fn permanent_failures_and_panics_are_recorded() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let tx2 = tx.clone();
    let app = TestApp::spawn_with(with_workers(1), move |_state| {
        JobRegistry::new()
            .handle("bad", move |_job| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(());
                    Err(JobFailure::Permanent(anyhow::anyhow!(
                        "payload is not an invoice"
                    )))
                }
            })
            .handle("panics", move |_job| {
                let tx = tx2.clone();
                async move {
                    let _ = tx.send(());
                    panic!("a bug in a handler");
                }
            })
    })
    .await;
    let bad = app
        .state
        .jobs
        .enqueue(NewJob::firm_wide("bad", serde_json::json!({})))
        .await
        .unwrap()
        .id();
    let panics = app
        .state
        .jobs
        .enqueue(NewJob::firm_wide("panics", serde_json::json!({})))
        .await
        .unwrap()
        .id();
    rx.recv().await.unwrap();
    rx.recv().await.unwrap();
    let db = app.shutdown().await;
    let queue = JobQueue::new(db.db.clone());
    let bad = queue.get(bad).await.unwrap().unwrap();
    assert_eq!(bad.state, JobState::Dead);
    assert_eq!(bad.last_error.as_deref(), Some("payload is not an invoice"));
    let panicked = queue.get(panics).await.unwrap().unwrap();
    assert_eq!(
        panicked.state,
        JobState::Queued,
        "a panic is retried like any failure"
    );
    assert!(panicked.last_error.unwrap().contains("panicked"));
}

#[tokio::test]
async fn shutdown_releases_a_job_that_does_not_finish_in_time() {
    let (started_tx, mut started_rx) = mpsc::unbounded_channel();
    let app = TestApp::spawn_with(
        |config| {
            let mut config = with_workers(1)(config);
            config.server.shutdown_grace_secs = 0;
            config
        },
        move |_state| {
            JobRegistry::new().handle("endless", move |_job| {
                let started = started_tx.clone();
                async move {
                    let _ = started.send(());
                    std::future::pending::<()>().await;
                    Ok(())
                }
            })
        },
    )
    .await;
    let id = app
        .state
        .jobs
        .enqueue(NewJob::firm_wide("endless", serde_json::json!({})))
        .await
        .unwrap()
        .id();
    started_rx.recv().await.unwrap();
    let running = JobQueue::new(app.test_db.db.clone());
    assert_eq!(
        running.get(id).await.unwrap().unwrap().state,
        JobState::Running
    );
    let db = app.shutdown().await;
    let queue = JobQueue::new(db.db.clone());
    let job = queue.get(id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Queued, "given back to the queue");
    assert_eq!(job.attempts, 0, "the interrupted run does not count");
    assert!(job.locked_by.is_none());
}

#[tokio::test]
async fn shutdown_lets_a_quick_job_finish() {
    let (started_tx, mut started_rx) = mpsc::unbounded_channel();
    let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
    let finish_rx = Arc::new(tokio::sync::Mutex::new(Some(finish_rx)));
    let app = TestApp::spawn_with(
        |config| {
            let mut config = with_workers(1)(config);
            config.server.shutdown_grace_secs = 30;
            config
        },
        move |_state| {
            JobRegistry::new().handle("quick", move |_job| {
                let started = started_tx.clone();
                let finish = Arc::clone(&finish_rx);
                async move {
                    let _ = started.send(());
                    if let Some(finish) = finish.lock().await.take() {
                        let _ = finish.await;
                    }
                    Ok(())
                }
            })
        },
    )
    .await;
    let id = app
        .state
        .jobs
        .enqueue(NewJob::firm_wide("quick", serde_json::json!({})))
        .await
        .unwrap()
        .id();
    started_rx.recv().await.unwrap();
    let stopping = tokio::spawn(app.shutdown());
    finish_tx.send(()).unwrap();
    let db = stopping.await.unwrap();
    let queue = JobQueue::new(db.db.clone());
    assert_eq!(queue.get(id).await.unwrap().unwrap().state, JobState::Done);
}

#[tokio::test]
async fn periodic_jobs_are_enqueued_once_per_period() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let app = TestApp::spawn_with(with_workers(1), move |_state| {
        JobRegistry::new()
            .handle("tick", move |_job| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(());
                    Ok(())
                }
            })
            .every(
                std::time::Duration::from_secs(3600),
                "tick",
                serde_json::json!({}),
            )
    })
    .await;
    rx.recv().await.unwrap();
    let db = app.shutdown().await;
    let queue = JobQueue::new(db.db.clone());
    let counts = queue.counts().await.unwrap();
    assert_eq!(
        counts.done + counts.queued + counts.running,
        1,
        "one job for the current hour"
    );
}
