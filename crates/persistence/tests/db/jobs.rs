use crate::fresh;
use portal_persistence::jobs::{
    Enqueued, FailOutcome, JobQueue, JobState, ManualClock, NewJob, RetryPolicy,
};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(30);

fn queue_with_clock(db: &sea_orm::DatabaseConnection) -> (JobQueue, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::starting_now());
    let policy = RetryPolicy {
        base: Duration::from_secs(10),
        cap: Duration::from_secs(3600),
    };
    (JobQueue::with(db.clone(), policy, clock.clone()), clock)
}

#[tokio::test]
async fn a_job_is_claimed_once_and_completed() {
    let test = fresh().await;
    let (queue, _clock) = queue_with_clock(&test.db);
    let id = queue
        .enqueue(NewJob::firm_wide(
            "mail.send",
            serde_json::json!({"to": "a@b.fr"}),
        ))
        .await
        .unwrap()
        .id();

    let job = queue
        .claim("w1", LEASE)
        .await
        .unwrap()
        .expect("the job is due");
    assert_eq!(job.id, id);
    assert_eq!(job.attempt, 1);
    assert_eq!(job.payload::<serde_json::Value>().unwrap()["to"], "a@b.fr");
    assert!(job.tenant_scope().is_none());
    assert!(
        queue.claim("w2", LEASE).await.unwrap().is_none(),
        "a held job is not handed out twice"
    );

    queue.complete(&job).await.unwrap();
    let stored = queue.get(id).await.unwrap().unwrap();
    assert_eq!(stored.state, JobState::Done);
    assert!(stored.locked_by.is_none());
    assert!(queue.claim("w2", LEASE).await.unwrap().is_none());
}

#[tokio::test]
async fn jobs_wait_for_their_run_at_time() {
    let test = fresh().await;
    let (queue, clock) = queue_with_clock(&test.db);
    let later = chrono::Utc::now() + chrono::Duration::minutes(5);
    queue
        .enqueue(NewJob::firm_wide("report", serde_json::json!({})).run_at(later))
        .await
        .unwrap();
    assert!(queue.claim("w", LEASE).await.unwrap().is_none());
    clock.advance(Duration::from_secs(6 * 60));
    assert!(queue.claim("w", LEASE).await.unwrap().is_some());
}

#[tokio::test]
async fn uniqueness_keys_deduplicate() {
    let test = fresh().await;
    let (queue, _clock) = queue_with_clock(&test.db);
    let first = queue
        .enqueue(
            NewJob::firm_wide("invoice.send", serde_json::json!({"n": 1})).unique_key("send:F-1"),
        )
        .await
        .unwrap();
    let second = queue
        .enqueue(
            NewJob::firm_wide("invoice.send", serde_json::json!({"n": 2})).unique_key("send:F-1"),
        )
        .await
        .unwrap();
    assert!(matches!(first, Enqueued::Created(_)));
    assert_eq!(second, Enqueued::Existing(first.id()));
    let other = queue
        .enqueue(NewJob::firm_wide("invoice.send", serde_json::json!({})).unique_key("send:F-2"))
        .await
        .unwrap();
    assert!(matches!(other, Enqueued::Created(_)));
    // Jobs without a key never collide.
    for _ in 0..3 {
        let plain = queue
            .enqueue(NewJob::firm_wide("x", serde_json::json!({})))
            .await
            .unwrap();
        assert!(matches!(plain, Enqueued::Created(_)));
    }
    assert_eq!(queue.counts().await.unwrap().queued, 5);
    let kept = queue.get(first.id()).await.unwrap().unwrap();
    assert_eq!(
        kept.payload, r#"{"n":1}"#,
        "the first job is kept as it was"
    );
}

/// Jobs added together keep each one's kind, payload, company, time and attempts; a key already taken (by a job
/// in the queue or one earlier in the list) is left out.
#[tokio::test]
async fn jobs_added_together_keep_their_details_and_skip_taken_keys() {
    let test = fresh().await;
    let (queue, clock) = queue_with_clock(&test.db);
    let (_, _, acme) = crate::audit::acme(&test).await;
    queue
        .enqueue(NewJob::firm_wide("invoice.send", serde_json::json!({})).unique_key("send:F-1"))
        .await
        .unwrap();
    let later = chrono::Utc::now() + chrono::Duration::minutes(5);
    let added = queue
        .enqueue_all(vec![
            NewJob::firm_wide("invoice.send", serde_json::json!({"n": 1})).unique_key("send:F-1"),
            NewJob::for_tenant(
                &acme,
                "mail.send",
                serde_json::json!({"to": "Zoé <z@a.fr>"}),
            )
            .max_attempts(3),
            NewJob::firm_wide("report", serde_json::json!({"n": 3}))
                .run_at(later)
                .unique_key("report:1"),
            NewJob::firm_wide("report", serde_json::json!({"n": 4})).unique_key("report:1"),
        ])
        .await
        .unwrap();
    assert_eq!(added, 2);
    assert_eq!(queue.enqueue_all(Vec::new()).await.unwrap(), 0);

    let first = queue.claim("w", LEASE).await.unwrap().unwrap();
    assert_eq!(first.kind, "invoice.send");
    assert_eq!(
        first.payload::<serde_json::Value>().unwrap(),
        serde_json::json!({}),
        "the job already there is kept"
    );
    let mail = queue.claim("w", LEASE).await.unwrap().unwrap();
    assert_eq!(mail.kind, "mail.send");
    assert_eq!(
        mail.payload::<serde_json::Value>().unwrap()["to"],
        "Zoé <z@a.fr>"
    );
    assert_eq!(mail.max_attempts, 3);
    assert_eq!(mail.tenant_scope().unwrap().tenant_id(), acme.tenant_id());
    assert!(
        queue.claim("w", LEASE).await.unwrap().is_none(),
        "the report waits for its time"
    );
    queue.complete(&first).await.unwrap();
    queue.complete(&mail).await.unwrap();
    clock.advance(Duration::from_secs(301));
    let report = queue.claim("w", LEASE).await.unwrap().unwrap();
    assert_eq!(report.payload::<serde_json::Value>().unwrap()["n"], 3);
    assert!(report.tenant_scope().is_none());
    assert!(queue.claim("w", LEASE).await.unwrap().is_none());
}

#[tokio::test]
async fn enqueueing_inside_a_rolled_back_transaction_leaves_no_job() {
    use sea_orm::TransactionTrait;
    let test = fresh().await;
    let (queue, _clock) = queue_with_clock(&test.db);
    let txn = test.db.begin().await.unwrap();
    JobQueue::enqueue_in(
        &txn,
        queue.now_ms(),
        NewJob::firm_wide("x", serde_json::json!({})),
    )
    .await
    .unwrap();
    txn.rollback().await.unwrap();
    assert_eq!(queue.counts().await.unwrap().queued, 0);

    let txn = test.db.begin().await.unwrap();
    JobQueue::enqueue_in(
        &txn,
        queue.now_ms(),
        NewJob::firm_wide("x", serde_json::json!({})),
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(queue.counts().await.unwrap().queued, 1);
}

#[tokio::test]
async fn failures_back_off_more_each_time_then_the_job_dies() {
    let test = fresh().await;
    let (queue, clock) = queue_with_clock(&test.db);
    let id = queue
        .enqueue(NewJob::firm_wide("flaky", serde_json::json!({})).max_attempts(4))
        .await
        .unwrap()
        .id();

    let mut waits = Vec::new();
    for attempt in 1..=3 {
        let job = queue.claim("w", LEASE).await.unwrap().expect("due");
        assert_eq!(job.attempt, attempt);
        let before = queue.now_ms();
        let FailOutcome::RetryAt(at) = queue.fail(&job, &format!("boom {attempt}")).await.unwrap()
        else {
            panic!("attempt {attempt} of 4 is retried");
        };
        let wait = Duration::from_millis(u64::try_from(at - before).unwrap());
        let ceiling = queue.retry_policy().ceiling(attempt);
        assert!(
            wait >= ceiling / 2 && wait <= ceiling,
            "attempt {attempt} waits {wait:?}"
        );
        let stored = queue.get(id).await.unwrap().unwrap();
        assert_eq!(stored.state, JobState::Queued);
        assert_eq!(
            stored.last_error.as_deref(),
            Some(format!("boom {attempt}").as_str())
        );
        assert!(
            queue.claim("w", LEASE).await.unwrap().is_none(),
            "not before its retry time"
        );
        clock.advance(wait);
        waits.push(wait);
    }
    assert!(
        waits[1] >= waits[0] && waits[2] >= waits[1],
        "backoff grows: {waits:?}"
    );

    let job = queue
        .claim("w", LEASE)
        .await
        .unwrap()
        .expect("fourth attempt");
    assert!(job.is_last_attempt());
    assert_eq!(
        queue.fail(&job, "still broken").await.unwrap(),
        FailOutcome::Dead
    );
    let dead = queue.get(id).await.unwrap().unwrap();
    assert_eq!(dead.state, JobState::Dead);
    assert_eq!(dead.attempts, 4);
    assert_eq!(dead.last_error.as_deref(), Some("still broken"));
    clock.advance(Duration::from_secs(24 * 3600));
    assert!(
        queue.claim("w", LEASE).await.unwrap().is_none(),
        "dead jobs do not run"
    );
    assert_eq!(
        queue.list(JobState::Dead, 10).await.unwrap().len(),
        1,
        "dead jobs are visible"
    );
    assert_eq!(queue.counts().await.unwrap().dead, 1);

    assert!(queue.retry_dead(id).await.unwrap());
    let again = queue
        .claim("w", LEASE)
        .await
        .unwrap()
        .expect("retried by hand");
    assert_eq!(again.attempt, 1);
}

#[tokio::test]
async fn an_expired_lease_is_claimed_again_and_the_old_worker_cannot_finish_it() {
    let test = fresh().await;
    let (queue, clock) = queue_with_clock(&test.db);
    queue
        .enqueue(NewJob::firm_wide("slow", serde_json::json!({})))
        .await
        .unwrap();

    let crashed = queue.claim("dead-worker", LEASE).await.unwrap().unwrap();
    clock.advance(LEASE / 2);
    assert!(
        queue.claim("w2", LEASE).await.unwrap().is_none(),
        "lease still valid"
    );
    clock.advance(LEASE);
    let taken_over = queue
        .claim("w2", LEASE)
        .await
        .unwrap()
        .expect("expired lease reclaimed");
    assert_eq!(taken_over.id, crashed.id);
    assert_eq!(
        taken_over.attempt, 2,
        "the crashed run counts as an attempt"
    );

    assert!(
        queue.complete(&crashed).await.is_err(),
        "the first worker lost the job"
    );
    assert!(queue.heartbeat(&crashed, LEASE).await.is_err());
    queue.complete(&taken_over).await.unwrap();
    assert_eq!(
        queue.get(crashed.id).await.unwrap().unwrap().state,
        JobState::Done
    );
}

#[tokio::test]
async fn heartbeats_keep_a_long_job_with_its_worker() {
    let test = fresh().await;
    let (queue, clock) = queue_with_clock(&test.db);
    queue
        .enqueue(NewJob::firm_wide("long", serde_json::json!({})))
        .await
        .unwrap();
    let job = queue.claim("w1", LEASE).await.unwrap().unwrap();
    for _ in 0..4 {
        clock.advance(LEASE / 2);
        queue.heartbeat(&job, LEASE).await.unwrap();
        assert!(queue.claim("w2", LEASE).await.unwrap().is_none());
    }
    queue.complete(&job).await.unwrap();
}

#[tokio::test]
async fn a_job_whose_worker_dies_on_its_last_attempt_is_dead() {
    let test = fresh().await;
    let (queue, clock) = queue_with_clock(&test.db);
    let id = queue
        .enqueue(NewJob::firm_wide("poison", serde_json::json!({})).max_attempts(1))
        .await
        .unwrap()
        .id();
    let _crashes = queue.claim("w1", LEASE).await.unwrap().unwrap();
    clock.advance(LEASE * 2);
    assert!(queue.claim("w2", LEASE).await.unwrap().is_none());
    let stored = queue.get(id).await.unwrap().unwrap();
    assert_eq!(stored.state, JobState::Dead);
    assert!(stored.last_error.unwrap().contains("stopped"));
}

#[tokio::test]
async fn released_jobs_run_again_without_losing_an_attempt() {
    let test = fresh().await;
    let (queue, _clock) = queue_with_clock(&test.db);
    let id = queue
        .enqueue(NewJob::firm_wide("x", serde_json::json!({})))
        .await
        .unwrap()
        .id();
    let job = queue.claim("w1", LEASE).await.unwrap().unwrap();
    queue.release(&job).await.unwrap();
    let stored = queue.get(id).await.unwrap().unwrap();
    assert_eq!(stored.state, JobState::Queued);
    assert_eq!(stored.attempts, 0);
    assert!(stored.locked_by.is_none());
    let again = queue.claim("w2", LEASE).await.unwrap().unwrap();
    assert_eq!(again.attempt, 1);
}

#[tokio::test]
async fn done_jobs_are_purged_after_a_while_but_dead_ones_stay() {
    let test = fresh().await;
    let (queue, clock) = queue_with_clock(&test.db);
    queue
        .enqueue(NewJob::firm_wide("a", serde_json::json!({})))
        .await
        .unwrap();
    queue
        .enqueue(NewJob::firm_wide("b", serde_json::json!({})).max_attempts(1))
        .await
        .unwrap();
    let a = queue.claim("w", LEASE).await.unwrap().unwrap();
    queue.complete(&a).await.unwrap();
    let b = queue.claim("w", LEASE).await.unwrap().unwrap();
    queue.fail(&b, "x").await.unwrap();
    assert_eq!(
        queue.purge_done(Duration::from_secs(3600)).await.unwrap(),
        0,
        "too recent"
    );
    clock.advance(Duration::from_secs(7200));
    assert_eq!(
        queue.purge_done(Duration::from_secs(3600)).await.unwrap(),
        1
    );
    assert_eq!(queue.counts().await.unwrap().dead, 1);
}

/// Many workers race for many jobs: each job runs exactly once. On PostgreSQL this exercises
/// `FOR UPDATE SKIP LOCKED` across connections; on SQLite the single-statement claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_workers_never_run_a_job_twice() {
    let test = fresh().await;
    let queue = JobQueue::new(test.db.clone());
    const JOBS: usize = 300;
    const WORKERS: usize = 8;
    for n in 0..JOBS {
        queue
            .enqueue(NewJob::firm_wide("race", serde_json::json!({ "n": n })))
            .await
            .unwrap();
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let queue = queue.clone();
        let seen = Arc::clone(&seen);
        tasks.push(tokio::spawn(async move {
            let name = format!("worker-{w}");
            while let Some(job) = queue.claim(&name, LEASE).await.unwrap() {
                seen.lock().unwrap().push(job.id);
                queue.complete(&job).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    let distinct: HashSet<_> = seen.iter().collect();
    assert_eq!(seen.len(), JOBS, "every job ran");
    assert_eq!(distinct.len(), JOBS, "no job ran twice");
    let counts = queue.counts().await.unwrap();
    assert_eq!(
        (counts.done, counts.queued, counts.running),
        (JOBS as u64, 0, 0)
    );
}

/// Two nodes: two job queues on two connection pools of one database (as two `portal serve` processes), racing
/// for the same jobs, never claim one twice. On PostgreSQL, `FOR UPDATE SKIP LOCKED` across sessions; on SQLite
/// (two pools on one file) the single-statement claim under the file's write lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_one_database_never_claim_a_job_twice() {
    let test = fresh().await;
    let other_node = portal_persistence::db::connect(
        test.target(),
        &portal_persistence::PoolSettings::default(),
    )
    .await
    .unwrap();
    let queues = [
        JobQueue::new(test.db.clone()),
        JobQueue::new(other_node.clone()),
    ];
    const JOBS: usize = 200;
    for n in 0..JOBS {
        queues[n % 2]
            .enqueue(NewJob::firm_wide("race", serde_json::json!({ "n": n })))
            .await
            .unwrap();
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for w in 0..8 {
        let queue = queues[w % 2].clone();
        let seen = Arc::clone(&seen);
        tasks.push(tokio::spawn(async move {
            let name = format!("node-{}-worker-{w}", w % 2);
            while let Some(job) = queue.claim(&name, LEASE).await.unwrap() {
                seen.lock().unwrap().push((job.id, w % 2));
                queue.complete(&job).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    let distinct: HashSet<_> = seen.iter().map(|(id, _)| id).collect();
    assert_eq!(seen.len(), JOBS, "every job ran");
    assert_eq!(distinct.len(), JOBS, "no job ran twice");
    assert!(
        seen.iter().any(|(_, node)| *node == 0) && seen.iter().any(|(_, node)| *node == 1),
        "both nodes worked"
    );
    let counts = queues[1].counts().await.unwrap();
    assert_eq!(
        (counts.done, counts.queued, counts.running),
        (JOBS as u64, 0, 0)
    );
    other_node.close().await.unwrap();
}

/// A batch claim takes the next due job and the due jobs of the same kind behind it when that kind is batched;
/// other kinds come alone, in queue order.
#[tokio::test]
async fn batch_claims_take_due_jobs_of_the_first_ones_kind() {
    let test = fresh().await;
    let (queue, clock) = queue_with_clock(&test.db);
    let enqueue = async |kind: &str, n: usize| {
        queue
            .enqueue(NewJob::firm_wide(kind, serde_json::json!({ "n": n })))
            .await
            .unwrap();
        // Distinct run-at times, so that the queue's order is the order of enqueueing.
        clock.advance(Duration::from_millis(1));
    };
    for n in 0..3 {
        enqueue("hook", n).await;
    }
    enqueue("mail", 3).await;
    for n in 4..9 {
        enqueue("hook", n).await;
    }
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    queue
        .enqueue(NewJob::firm_wide("hook", serde_json::json!({ "n": 99 })).run_at(later))
        .await
        .unwrap();
    let numbers = |jobs: &[portal_persistence::jobs::ClaimedJob]| -> Vec<i64> {
        jobs.iter()
            .map(|job| {
                job.payload::<serde_json::Value>().unwrap()["n"]
                    .as_i64()
                    .unwrap()
            })
            .collect()
    };

    let first = queue.claim_batch("w", LEASE, &["hook"], 4).await.unwrap();
    assert_eq!(
        numbers(&first),
        vec![0, 1, 2, 4],
        "up to 4 due hooks, the mail left in place"
    );
    assert!(
        first
            .iter()
            .all(|job| job.kind == "hook" && job.attempt == 1)
    );
    let second = queue.claim_batch("w", LEASE, &["hook"], 4).await.unwrap();
    assert_eq!(
        numbers(&second),
        vec![3],
        "a kind without batches comes alone"
    );
    let third = queue.claim_batch("w", LEASE, &["hook"], 4).await.unwrap();
    assert_eq!(numbers(&third), vec![5, 6, 7, 8], "jobs not due yet stay");
    assert!(
        queue
            .claim_batch("w", LEASE, &["hook"], 4)
            .await
            .unwrap()
            .is_empty()
    );

    // Completing a batch is all or nothing: once a lease was taken over, none of it is marked done.
    JobQueue::complete_all_in(&test.db, queue.now_ms(), &first)
        .await
        .unwrap();
    clock.advance(LEASE + Duration::from_secs(1));
    let taken_over = queue
        .claim_batch("other", LEASE, &["hook"], 10)
        .await
        .unwrap();
    assert_eq!(
        numbers(&taken_over),
        vec![3],
        "the mail's lease ran out first"
    );
    let taken_over = queue
        .claim_batch("other", LEASE, &["hook"], 10)
        .await
        .unwrap();
    assert_eq!(numbers(&taken_over), vec![5, 6, 7, 8]);
    assert!(matches!(
        JobQueue::complete_all_in(&test.db, queue.now_ms(), &third).await,
        Err(portal_persistence::jobs::JobQueueError::LeaseLost(_))
    ));
    JobQueue::complete_all_in(&test.db, queue.now_ms(), &taken_over)
        .await
        .unwrap();
    assert_eq!(queue.counts().await.unwrap().done, 8);
}

/// Workers claiming batches race for many jobs: each job is claimed by one worker only.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_batch_claims_never_hand_a_job_out_twice() {
    let test = fresh().await;
    let queue = JobQueue::new(test.db.clone());
    const JOBS: usize = 600;
    const WORKERS: usize = 6;
    let jobs = (0..JOBS)
        .map(|n| {
            NewJob::firm_wide(
                if n % 7 == 0 { "other" } else { "hook" },
                serde_json::json!({ "n": n }),
            )
        })
        .collect();
    queue.enqueue_all(jobs).await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let queue = queue.clone();
        let db = test.db.clone();
        let seen = Arc::clone(&seen);
        tasks.push(tokio::spawn(async move {
            let name = format!("worker-{w}");
            loop {
                let jobs = queue
                    .claim_batch(&name, LEASE, &["hook"], 25)
                    .await
                    .unwrap();
                if jobs.is_empty() {
                    break;
                }
                seen.lock().unwrap().extend(jobs.iter().map(|job| job.id));
                JobQueue::complete_all_in(&db, queue.now_ms(), &jobs)
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    let distinct: HashSet<_> = seen.iter().collect();
    assert_eq!(seen.len(), JOBS, "every job claimed");
    assert_eq!(distinct.len(), JOBS, "no job claimed twice");
    assert_eq!(queue.counts().await.unwrap().done, JOBS as u64);
}
