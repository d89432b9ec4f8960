//! Two nodes on one database, each with its own connection pool, bus and cache (as two `portal serve`
//! processes): messages cross over through PostgreSQL `LISTEN`/`NOTIFY`, a sign-out on one node is forgotten by
//! the other's cache at once (so is a webhook secret registered again), and a lost listening connection comes
//! back. PostgreSQL only: on SQLite one process
//! owns the database and the bus is in-process (these tests say so and return).

use crate::fresh;
use portal_persistence::audit::AuditEntry;
use portal_persistence::auth_cache::AuthCache;
use portal_persistence::billit_connections::{
    BillitConnectionRepository, BillitEnvironment, ConnectionSettings,
};
use portal_persistence::bus::{Bus, BusSignal, LIVE_CHANNEL};
use portal_persistence::sessions::{SessionPolicy, SessionRepository};
use portal_persistence::testing::TestDatabase;
use portal_persistence::users::UserRepository;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use std::time::Duration;
use tokio::sync::broadcast::Receiver;

/// A second node's pool on the test's database, or `None` on SQLite.
async fn other_node(test: &TestDatabase) -> Option<DatabaseConnection> {
    if !test.is_postgres() {
        eprintln!("skipped: several nodes share a PostgreSQL database (SQLite has one process)");
        return None;
    }
    Some(
        portal_persistence::db::connect(
            test.target(),
            &portal_persistence::PoolSettings::default(),
        )
        .await
        .unwrap(),
    )
}

async fn listening(bus: &Bus) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !bus.is_listening() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bus listens within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The caches of two nodes (this test's pool and `other`), each keeping entries `ttl` and hearing the other's
/// invalidations through its own bus, once both buses listen.
async fn caches_of_two_nodes(
    test: &TestDatabase,
    other: &DatabaseConnection,
    ttl: Duration,
) -> (AuthCache, AuthCache) {
    let bus_a = Bus::for_database(&test.db);
    let bus_b = Bus::for_database(other);
    listening(&bus_a).await;
    listening(&bus_b).await;
    (AuthCache::new(ttl, bus_a), AuthCache::new(ttl, bus_b))
}

/// The next signal other than another channel's message, within `wait`.
async fn next(receiver: &mut Receiver<BusSignal>, wait: Duration) -> Option<BusSignal> {
    tokio::time::timeout(wait, receiver.recv())
        .await
        .ok()
        .map(|signal| signal.unwrap())
}

#[tokio::test]
async fn messages_cross_from_one_node_to_the_other_and_not_back() {
    let test = fresh().await;
    let Some(other) = other_node(&test).await else {
        return;
    };
    let a = Bus::for_database(&test.db);
    let b = Bus::for_database(&other);
    assert!(a.is_shared() && b.is_shared());
    listening(&a).await;
    listening(&b).await;
    let mut heard_by_a = a.subscribe();
    let mut heard_by_b = b.subscribe();

    // A burst larger than one NOTIFY payload arrives whole, in order.
    let lines: Vec<String> = (0..200)
        .map(|n| format!("{{\"n\":{n},\"pad\":\"{}\"}}", "x".repeat(100)))
        .collect();
    for line in &lines {
        a.publish(LIVE_CHANNEL, line.clone());
    }
    let mut received = Vec::new();
    while received.len() < lines.len() {
        match next(&mut heard_by_b, Duration::from_secs(10)).await {
            Some(BusSignal::Message { channel, payload }) => {
                assert_eq!(channel, LIVE_CHANNEL);
                received.push(payload);
            }
            other => panic!("expected a message, got {other:?} after {}", received.len()),
        }
    }
    assert_eq!(received, lines);
    assert_eq!(
        next(&mut heard_by_a, Duration::from_millis(500)).await,
        None,
        "a node does not hear itself"
    );

    // Too large for one NOTIFY: refused at the door, nothing sent.
    a.publish(LIVE_CHANNEL, "y".repeat(9_000));
    a.publish(LIVE_CHANNEL, "{\"after\":true}".to_owned());
    assert_eq!(
        next(&mut heard_by_b, Duration::from_secs(10)).await,
        Some(BusSignal::Message {
            channel: LIVE_CHANNEL,
            payload: "{\"after\":true}".to_owned()
        })
    );
    other.close().await.unwrap();
}

#[tokio::test]
async fn a_session_ended_on_one_node_is_refused_at_once_by_the_other() {
    let test = fresh().await;
    let Some(other) = other_node(&test).await else {
        return;
    };
    // Each node keeps what it reads for a minute: only the bus can make the other one forget in time.
    let (cache_a, cache_b) = caches_of_two_nodes(&test, &other, Duration::from_secs(60)).await;
    let node_a =
        SessionRepository::new(test.db.clone(), SessionPolicy::default()).with_cache(cache_a);
    let node_b =
        SessionRepository::new(other.clone(), SessionPolicy::default()).with_cache(cache_b);

    let user = UserRepository::new(test.db.clone())
        .create("claire@example.fr", "Claire", "fr")
        .await
        .unwrap();
    let now = chrono::Utc::now();
    node_a
        .create(
            "hash-1",
            user.id,
            now,
            AuditEntry::new("auth.login", "user"),
        )
        .await
        .unwrap();
    assert!(node_b.find_valid("hash-1", now).await.unwrap().is_some());
    // Node B answers from its cache now: the row deleted behind the repositories' back is not seen…
    test.db
        .execute_unprepared("DELETE FROM sessions WHERE id = 'hash-1'")
        .await
        .unwrap();
    assert!(node_b.find_valid("hash-1", now).await.unwrap().is_some());

    // …but a sign-out through node A (the repository, which invalidates) is heard by node B within moments.
    node_a.delete("hash-1").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if node_b.find_valid("hash-1", now).await.unwrap().is_none() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node B still accepts the signed-out session"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    other.close().await.unwrap();
}

#[tokio::test]
async fn a_webhook_secret_registered_again_on_one_node_is_checked_at_once_by_the_other() {
    let test = fresh().await;
    let Some(other) = other_node(&test).await else {
        return;
    };
    // Each node keeps what it reads for a minute: only the bus can make the other one forget in time.
    let (cache_a, cache_b) = caches_of_two_nodes(&test, &other, Duration::from_secs(60)).await;
    let held_by_b = cache_b.clone();
    let node_a = BillitConnectionRepository::new(test.db.clone()).with_cache(cache_a);
    let node_b = BillitConnectionRepository::new(other.clone()).with_cache(cache_b);
    let (tenant, _, scope) = crate::audit::acme(&test).await;
    let connection = node_a
        .save(
            &scope,
            ConnectionSettings {
                environment: BillitEnvironment::Sandbox,
                api_key_encrypted: Some("v2:key".into()),
                party_id: Some(1),
                context_party_id: None,
            },
            None,
        )
        .await
        .unwrap();
    node_a
        .set_webhook(&scope, "v2:first".into(), &["1".to_owned()], None)
        .await
        .unwrap();
    let secret_seen_by_b = async || {
        node_b
            .scope_for_webhook(&connection.webhook_token)
            .await
            .unwrap()
            .and_then(|(found, secrets)| {
                assert_eq!(found.tenant_id(), tenant.id, "the token names its company");
                secrets.webhook_secret
            })
    };
    assert_eq!(secret_seen_by_b().await.as_deref(), Some("v2:first"));
    // Node A's own changes reach node B through the bus as well, a moment later, and each makes B forget the
    // company: wait until B holds the entry and none of them is still on its way (steady for 300 ms).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut steady = 0;
    while steady < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "node B keeps the company's webhook entry"
        );
        secret_seen_by_b().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        steady = if held_by_b.webhook(&connection.webhook_token).is_some() {
            steady + 1
        } else {
            0
        };
    }
    // Node B answers deliveries from its cache now: a row changed behind the repositories' back is not seen…
    test.db
        .execute_unprepared("UPDATE billit_connections SET webhook_secret_encrypted = 'v2:behind'")
        .await
        .unwrap();
    assert_eq!(secret_seen_by_b().await.as_deref(), Some("v2:first"));

    // …but webhooks registered again through node A (a new secret) are checked with it on node B within moments.
    node_a
        .set_webhook(&scope, "v2:second".into(), &["2".to_owned()], None)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while secret_seen_by_b().await.as_deref() != Some("v2:second") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "node B still checks deliveries with the replaced secret"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    other.close().await.unwrap();
}

#[tokio::test]
async fn a_lost_listening_connection_comes_back_and_says_so() {
    let test = fresh().await;
    let Some(other) = other_node(&test).await else {
        return;
    };
    let a = Bus::for_database(&test.db);
    let b = Bus::for_database(&other);
    listening(&a).await;
    listening(&b).await;
    let mut heard_by_b = b.subscribe();

    // The administrator (or a failover) ends every listening connection to this database.
    let ended = test
        .db
        .execute_unprepared(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'",
        )
        .await
        .unwrap();
    assert!(
        ended.rows_affected() >= 1,
        "a listening connection was ended"
    );
    assert_eq!(
        next(&mut heard_by_b, Duration::from_secs(20)).await,
        Some(BusSignal::Resync),
        "the subscribers are told to start over"
    );
    listening(&a).await;
    listening(&b).await;
    // Listening again: messages flow as before.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        a.publish(LIVE_CHANNEL, "{\"again\":true}".to_owned());
        match next(&mut heard_by_b, Duration::from_millis(500)).await {
            Some(BusSignal::Message { payload, .. }) => {
                assert_eq!(payload, "{\"again\":true}");
                break;
            }
            Some(BusSignal::Resync) | None => {}
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "messages flow again"
        );
    }
    other.close().await.unwrap();
}

/// A node beside its PostgreSQL (a loopback address, no `sslmode` in its URL) talks to it in the clear: TLS over
/// loopback protects nothing and cost CPU on both sides (see `db::connect`).
#[tokio::test]
async fn a_node_beside_its_postgresql_does_not_encrypt_the_loopback() {
    let test = fresh().await;
    let Some(db) = other_node(&test).await else {
        return;
    };
    if !test.url().contains("@127.0.0.1") && !test.url().contains("@localhost") {
        eprintln!("skipped: the test server is not on this machine's loopback");
        return;
    }
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ))
        .await
        .unwrap()
        .expect("the connection's own row");
    assert!(!row.try_get::<bool>("", "ssl").unwrap());
}
