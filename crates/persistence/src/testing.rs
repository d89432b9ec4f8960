//! A fresh, migrated database for each test: a new SQLite file in a temporary folder by default, or a new
//! PostgreSQL database when `PORTAL_TEST_DATABASE_URL` names a server (it is dropped again afterwards).

use crate::db::{self, DatabaseTarget, PoolSettings};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use std::path::PathBuf;

pub const TEST_DATABASE_URL_VAR: &str = "PORTAL_TEST_DATABASE_URL";

pub struct TestDatabase {
    pub db: DatabaseConnection,
    target: DatabaseTarget,
    _dir: tempfile::TempDir,
    postgres: Option<PostgresCleanup>,
}

struct PostgresCleanup {
    admin_url: String,
    name: String,
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("target", &self.target)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TestDatabaseError {
    #[error("cannot create a temporary folder: {0}")]
    TempDir(#[from] std::io::Error),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    #[error("{TEST_DATABASE_URL_VAR} must look like postgres://user@host:port/database")]
    BadUrl,
}

impl TestDatabase {
    /// A new database of the kind the environment asks for, with every migration applied.
    pub async fn new() -> Result<Self, TestDatabaseError> {
        match std::env::var(TEST_DATABASE_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => Self::postgres(url.trim()).await,
            _ => Self::sqlite().await,
        }
    }

    pub async fn sqlite() -> Result<Self, TestDatabaseError> {
        let dir = tempfile::tempdir()?;
        let target = DatabaseTarget::SqliteFile(dir.path().join("portal.db"));
        let db = db::connect(&target, &PoolSettings::default()).await?;
        db::migrate(&db).await?;
        Ok(Self {
            db,
            target,
            _dir: dir,
            postgres: None,
        })
    }

    async fn postgres(admin_url: &str) -> Result<Self, TestDatabaseError> {
        let (server, _) = split_database(admin_url).ok_or(TestDatabaseError::BadUrl)?;
        let name = format!("portal_test_{}", uuid::Uuid::now_v7().simple());
        let admin = sea_orm::Database::connect(admin_url).await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        admin.close().await?;
        let target = DatabaseTarget::Url(format!("{server}/{name}"));
        let db = db::connect(&target, &PoolSettings::default()).await?;
        db::migrate(&db).await?;
        Ok(Self {
            db,
            target,
            _dir: tempfile::tempdir()?,
            postgres: Some(PostgresCleanup {
                admin_url: admin_url.to_owned(),
                name,
            }),
        })
    }

    pub fn target(&self) -> &DatabaseTarget {
        &self.target
    }

    /// What to put in `DATABASE_URL` for a `portal` process that should use this database.
    pub fn url(&self) -> String {
        match &self.target {
            DatabaseTarget::SqliteFile(path) => format!("sqlite://{}?mode=rwc", path.display()),
            DatabaseTarget::Url(url) => url.clone(),
        }
    }

    /// A folder that lives as long as the database, for the test's data dir.
    pub fn scratch_dir(&self) -> PathBuf {
        self._dir.path().to_path_buf()
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(cleanup) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime: do the async clean-up on a runtime of its own.
        let joined = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let admin = sea_orm::Database::connect(cleanup.admin_url.as_str())
                    .await
                    .ok()?;
                admin
                    .execute_unprepared(&format!(
                        "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                        cleanup.name
                    ))
                    .await
                    .ok()?;
                admin.close().await.ok()
            })
        })
        .join();
        if !matches!(joined, Ok(Some(()))) {
            tracing::warn!("a test database could not be dropped");
        }
    }
}

/// `postgres://u@h:5432/db?x=y` → (`postgres://u@h:5432`, `db`).
fn split_database(url: &str) -> Option<(&str, &str)> {
    let without_query = url.split('?').next()?;
    let scheme_end = without_query.find("://")? + 3;
    let slash = without_query[scheme_end..].find('/')? + scheme_end;
    Some((&without_query[..slash], &without_query[slash + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_server_from_database() {
        assert_eq!(
            split_database("postgres://postgres@127.0.0.1:5432/test"),
            Some(("postgres://postgres@127.0.0.1:5432", "test"))
        );
        assert_eq!(split_database("postgres://h"), None);
    }
}
