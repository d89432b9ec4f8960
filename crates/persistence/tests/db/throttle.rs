//! The sign-in throttle's table is purged of rows that no longer change anything, and only of those: a counter
//! that still counts, or a lock that still walls, survives the purge and keeps working.

use crate::fresh;
use chrono::{Duration, Utc};
use portal_persistence::entities::login_throttle;
use portal_persistence::throttle::{Admission, LoginThrottle, ThrottlePolicy, address_key};
use sea_orm::EntityTrait;

async fn keys(db: &sea_orm::DatabaseConnection) -> Vec<String> {
    let mut keys: Vec<String> = login_throttle::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.key)
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn the_purge_deletes_stale_rows_and_keeps_live_counters_and_locks() {
    let test = fresh().await;
    let policy = ThrottlePolicy::default();
    let throttle = LoginThrottle::new(test.db.clone(), policy);
    let now = Utc::now();
    let long_ago = now - Duration::hours(3);

    // Stale: failures three hours ago, forgotten, no lock left.
    throttle
        .record_failure(&address_key("203.0.113.1"), long_ago)
        .await
        .unwrap();
    throttle
        .failed("old@acme.fr", "203.0.113.1", long_ago)
        .await
        .unwrap();
    // Live: a failure ten minutes ago still counts.
    throttle
        .record_failure(&address_key("198.51.100.7"), now - Duration::minutes(10))
        .await
        .unwrap();
    // Live: an address that failed ten times 50 minutes ago: its lock ran out, its count is remembered for the
    // hour (one more failure walls it again).
    for _ in 0..policy.lock_after {
        throttle
            .record_failure(&address_key("192.0.2.9"), now - Duration::minutes(50))
            .await
            .unwrap();
    }
    // An account-and-address pair being counted right now (admitted, not yet answered).
    assert!(matches!(
        throttle
            .admit("bob@acme.fr", "192.0.2.77", now)
            .await
            .unwrap(),
        Admission::Go { .. }
    ));
    let before = keys(&test.db).await;
    assert_eq!(before.len(), 5, "{before:?}");

    let purged = throttle.purge_stale(now).await.unwrap();
    assert_eq!(purged, 2, "the address and the account of three hours ago");
    let after = keys(&test.db).await;
    assert_eq!(
        after,
        vec![
            "ip:192.0.2.9".to_owned(),
            "ip:198.51.100.7".to_owned(),
            "pair:bob@acme.fr|192.0.2.77".to_owned(),
        ],
    );
    // What survived still counts: the next failure of the live address is its second, and the count of the
    // walled address still locks.
    throttle
        .record_failure(&address_key("198.51.100.7"), now)
        .await
        .unwrap();
    let rows = login_throttle::Entity::find().all(&test.db).await.unwrap();
    let failures = |key: &str| {
        rows.iter()
            .find(|row| row.key == key)
            .map(|row| row.failures)
            .unwrap()
    };
    assert_eq!(failures("ip:198.51.100.7"), 2);
    assert_eq!(failures("ip:192.0.2.9"), policy.lock_after);
    // A second purge finds nothing more.
    assert_eq!(throttle.purge_stale(now).await.unwrap(), 0);
    // Two hours later everything is stale (nothing counted since, no lock running).
    assert_eq!(
        throttle
            .purge_stale(now + Duration::hours(2))
            .await
            .unwrap(),
        3
    );
}
