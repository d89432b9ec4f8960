//! Database tests: each test has its own database (a fresh SQLite file, or a fresh PostgreSQL database when
//! PORTAL_TEST_DATABASE_URL is set), so they run in parallel and never see each other's rows.

#[cfg(test)]
mod admins;
#[cfg(test)]
mod audit;
#[cfg(test)]
mod cancellation;
#[cfg(test)]
mod counts;
#[cfg(test)]
mod customers;
#[cfg(test)]
mod firm;
mod firm_console;
#[cfg(test)]
mod firm_upkeep;
#[cfg(test)]
mod invoices;
#[cfg(test)]
mod jobs;
#[cfg(test)]
mod nodes;
#[cfg(test)]
mod plans;
#[cfg(test)]
mod reminders;
#[cfg(test)]
mod search;
#[cfg(test)]
mod tenancy;
#[cfg(test)]
mod throttle;

#[cfg(test)]
use portal_persistence::testing::TestDatabase;

#[cfg(test)]
pub async fn fresh() -> TestDatabase {
    TestDatabase::new().await.expect("a fresh test database")
}

/// The `n` of a one-row query (`SELECT COUNT(*) AS n …`).
#[cfg(test)]
pub async fn number(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    db.query_one_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        sql,
    ))
    .await
    .expect("the query")
    .expect("a row")
    .try_get::<i64>("", "n")
    .expect("a number")
}
