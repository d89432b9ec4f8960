//! A task stopped while its transaction begins (a worker aborted at shutdown, a request whose client went away)
//! leaves nothing open on the connection it borrowed. Before sqlx 0.9.1 a PostgreSQL `BEGIN` cancelled during its
//! round trip went back to the pool still open on the server, and every later statement on that connection ran
//! inside it: written, never committed, its row locks held (transact-rs/sqlx#4393).

use crate::fresh;
use portal_persistence::PoolSettings;
use portal_persistence::db;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use std::time::Duration;

/// How many rows of `cancellation_probe` another connection sees: only committed ones.
async fn committed_rows(other: &DatabaseConnection) -> i64 {
    crate::number(other, "SELECT COUNT(*) AS n FROM cancellation_probe").await
}

#[tokio::test]
async fn a_transaction_stopped_while_it_begins_leaves_its_connection_outside_any_transaction() {
    let test = fresh().await;
    // One connection, so that every statement after a stopped task runs on the connection that task borrowed.
    let single = PoolSettings {
        max_connections: 1,
        ..PoolSettings::default()
    };
    let pool = db::connect(test.target(), &single).await.unwrap();
    let other = db::connect(test.target(), &PoolSettings::default())
        .await
        .unwrap();
    pool.execute_unprepared("CREATE TABLE cancellation_probe (n INTEGER NOT NULL)")
        .await
        .unwrap();

    // The task is stopped after a growing number of turns of the runtime: at first before it has a connection,
    // then while its `BEGIN` is on its way or its answer awaited, then once it is in its transaction.
    for round in 0..40_i64 {
        let borrower = pool.clone();
        let task = tokio::spawn(async move {
            let transaction = db::begin_write(&borrower).await;
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(transaction);
        });
        for _ in 0..round / 2 {
            tokio::task::yield_now().await;
        }
        if round % 2 == 1 {
            tokio::time::sleep(Duration::from_micros(50)).await;
        }
        task.abort();
        let _stopped = task.await;

        pool.execute_unprepared(&format!(
            "INSERT INTO cancellation_probe (n) VALUES ({round})"
        ))
        .await
        .unwrap();
        assert_eq!(
            committed_rows(&other).await,
            round + 1,
            "after the task stopped in round {round}, a statement outside any transaction is committed at once"
        );
    }
}
