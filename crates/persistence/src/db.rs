//! Opening the database (SQLite file or PostgreSQL) and bringing its schema up to date.

use portal_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgSslMode};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection, DbBackend, DbErr};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use sea_orm::DatabaseConnection as Db;

/// Where the data lives.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// The embedded default: one SQLite file (WAL mode).
    SqliteFile(PathBuf),
    /// A PostgreSQL URL (`postgres://…`), or an explicit `sqlite:` URL.
    Url(String),
}

impl std::fmt::Debug for DatabaseTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SqliteFile(path) => write!(f, "SqliteFile({})", path.display()),
            // URLs may carry a password: never print them.
            Self::Url(url) => write!(f, "Url({})", redact_url(url)),
        }
    }
}

/// Pool size and timeouts.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// How long SQLite waits for a lock held by another connection before failing.
    pub sqlite_busy_timeout: Duration,
    /// The memory SQLite's page caches may keep, all the pool's connections together, in bytes; `None`: SQLite's
    /// default of 2 MiB per connection (a pool of 20 then keeps 40 MiB of pages that the operating system's file
    /// cache already holds). Each connection gets its share as `PRAGMA cache_size`, beyond which it reuses its
    /// least recent pages.
    ///
    /// Not `PRAGMA soft_heap_limit`: that needs SQLite's memory accounting, which takes one process-wide mutex
    /// around every allocation of every connection (a list page's 50 rows are thousands of allocations); the
    /// build turns the accounting off (`SQLITE_DEFAULT_MEMSTATUS=0` in `.cargo/config.toml`).
    pub sqlite_memory_limit: Option<u64>,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
            sqlite_busy_timeout: Duration::from_secs(10),
            sqlite_memory_limit: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DatabaseUrlError {
    #[error("DATABASE_URL must start with postgres://, postgresql:// or sqlite: (got {0})")]
    UnknownScheme(String),
    #[error("DATABASE_URL is malformed ({0})")]
    Malformed(String),
}

/// Checks a database URL without connecting, so that a bad configuration stops the start with a clear message.
pub fn validate_database_url(url: &str) -> Result<(), DatabaseUrlError> {
    use std::str::FromStr;
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        sea_orm::sqlx::postgres::PgConnectOptions::from_str(url)
            .map(|_| ())
            .map_err(|error| DatabaseUrlError::Malformed(error.to_string()))
    } else if url.starts_with("sqlite:") {
        sea_orm::sqlx::sqlite::SqliteConnectOptions::from_str(url)
            .map(|_| ())
            .map_err(|error| DatabaseUrlError::Malformed(error.to_string()))
    } else {
        Err(DatabaseUrlError::UnknownScheme(redact_url(url)))
    }
}

/// The URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.chars().take(16).collect::<String>() + "…";
    };
    match rest.split_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            if credentials.contains(':') {
                format!("{scheme}://{user}:***@{host}")
            } else {
                format!("{scheme}://{user}@{host}")
            }
        }
        None => url.to_owned(),
    }
}

/// How long a pooled connection may sit idle before it is pinged when handed out again.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(30);

/// The prepared statements each SQLite connection keeps (sqlx's default is 100). A compiled SQLite statement lives
/// in the process's memory, so the bound is a bound on memory whatever statements come. Chosen when a webhook
/// burst's multi-row statements had one text per row count (with 24 instead of 100, the load bench's peak: 99,
/// 98, 100 MiB → 94, 91, 93 MiB, pages at the same rates; a page sends at most 7 statements, which stay among the
/// most recent). Those statements now have one text each (`db::in_list`, the JSON inserts), and the peak's main
/// cause was the allocator's purge delay (`crates/allocator`).
const SQLITE_STATEMENT_CACHE: usize = 24;

/// Opens a pool on the target. SQLite (a file or a `sqlite:` URL) gets WAL, foreign keys, a busy timeout and
/// `synchronous=NORMAL`.
pub async fn connect(
    target: &DatabaseTarget,
    pool: &PoolSettings,
) -> Result<DatabaseConnection, DbErr> {
    let url = match target {
        DatabaseTarget::SqliteFile(path) => sqlite_url(path),
        DatabaseTarget::Url(url) => url.clone(),
    };
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(pool.max_connections)
        .min_connections(0)
        .acquire_timeout(pool.acquire_timeout)
        // sqlx pings every connection it hands out by default: one more round-trip per statement outside a
        // transaction (a PostgreSQL list page sent 7 statements and 7 pings). Only a connection idle long enough
        // to have been dropped by the server or a proxy is pinged; a busy one that breaks fails one statement and
        // leaves the pool.
        .test_before_acquire_if_idle_for(IDLE_BEFORE_PING)
        .sqlx_logging(false);
    let busy = pool.sqlite_busy_timeout;
    let cache_kib = pool
        .sqlite_memory_limit
        .map(|bytes| sqlite_cache_kib(bytes, pool.max_connections));
    if let DatabaseTarget::Url(url) = target
        && postgres_on_this_machine_without_a_tls_choice(url, std::env::var("PGSSLMODE").ok())
    {
        options.map_sqlx_postgres_opts(|opts| opts.ssl_mode(PgSslMode::Disable));
    }
    if let DatabaseTarget::SqliteFile(path) = target {
        let path = path.clone();
        options.map_sqlx_sqlite_opts(move |opts| {
            sqlite_pragmas(
                opts.filename(&path).create_if_missing(true),
                busy,
                cache_kib,
            )
        });
    } else {
        // A `sqlite:` URL names a file too (the tests' and benches' way of pointing a process at one): the same
        // pragmas as the embedded default, or every commit waits for its own fsync (`synchronous=FULL`).
        options.map_sqlx_sqlite_opts(move |opts| sqlite_pragmas(opts, busy, cache_kib));
    }
    sea_orm::Database::connect(options).await
}

/// Whether `url` names a PostgreSQL server on this machine's loopback without saying whether to use TLS (no
/// `sslmode` in the URL, no `PGSSLMODE`). sqlx's default then is `prefer`: it encrypts whenever the server offers
/// TLS, as Debian's PostgreSQL does out of the box. Over loopback that protects nothing (whoever can read it can
/// read the server's memory) and cost about 5% of a 2-core machine's CPU under the load bench, split between
/// the portal and PostgreSQL; such a connection is left unencrypted. A URL that says `sslmode=…` gets what it
/// says.
fn postgres_on_this_machine_without_a_tls_choice(url: &str, sslmode_env: Option<String>) -> bool {
    use std::str::FromStr;
    if sslmode_env.is_some()
        || !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
    {
        return false;
    }
    let chooses_tls = url.split_once('?').is_some_and(|(_, query)| {
        query
            .split('&')
            .any(|pair| matches!(pair.split('=').next(), Some("sslmode" | "ssl-mode")))
    });
    if chooses_tls {
        return false;
    }
    PgConnectOptions::from_str(url).is_ok_and(|options| {
        matches!(
            options.get_host(),
            "localhost" | "127.0.0.1" | "::1" | "[::1]"
        )
    })
}

/// What every SQLite connection of the pool sets, whichever way the file was named.
fn sqlite_pragmas(
    opts: SqliteConnectOptions,
    busy: Duration,
    cache_kib: Option<u64>,
) -> SqliteConnectOptions {
    let opts = opts
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(busy)
        .statement_cache_capacity(SQLITE_STATEMENT_CACHE);
    // A negative cache size is in KiB rather than pages.
    match cache_kib {
        Some(kib) => opts.pragma("cache_size", format!("-{kib}")),
        None => opts,
    }
}

/// One connection's share of the pool's page cache budget, in KiB (at least 64: a connection with almost no cache
/// reads the same b-tree pages again within one statement).
fn sqlite_cache_kib(bytes: u64, connections: u32) -> u64 {
    (bytes / 1024 / u64::from(connections.max(1))).max(64)
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// Applies every pending migration.
/// `ids` for an `IN (…)` list, the last one repeated up to the next power of two: the same rows match, and the
/// list's statement has a handful of texts instead of one per count, each of which every pooled connection would
/// prepare and keep (see [`SQLITE_STATEMENT_CACHE`]).
pub(crate) fn in_list<T: Clone>(ids: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut list: Vec<T> = ids.into_iter().collect();
    if let Some(last) = list.last().cloned() {
        list.resize(list.len().next_power_of_two(), last);
    }
    list
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Readiness: does the database answer a trivial query?
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

/// Which engine is behind the connection, for logs and the start banner.
pub fn backend_name(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Postgres => "PostgreSQL",
        DbBackend::Sqlite => "SQLite",
        _ => "other",
    }
}

/// Begins a transaction that writes after it reads. On SQLite it takes the write lock at its start (`BEGIN
/// IMMEDIATE`), so it waits its turn under the busy timeout instead of being refused at once ("database is
/// locked") when another connection wrote since its first read; PostgreSQL ignores the mode.
pub async fn begin_write<C>(db: &C) -> Result<C::Transaction, sea_orm::DbErr>
where
    C: sea_orm::TransactionTrait,
{
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Whether every writer of the database takes turns on one lock (SQLite), rather than locking the rows it
/// writes (PostgreSQL).
pub fn has_one_write_lock(db: &DatabaseConnection) -> bool {
    db.get_database_backend() == DbBackend::Sqlite
}

/// A connection of its own for a writer that answers people as soon as its transaction commits (the webhook
/// inbox: Billit waits for its 200). On SQLite it asks for the write lock again every millisecond until it has
/// it ([`begin_write_promptly`]), rather than through SQLite's busy handler, whose sleeps grow to 100 ms: under
/// a webhook burst the inbox's writer, sleeping there, lost the lock to the ingesting workers' batches again and
/// again and waited up to 330 ms while every sender waited with it (the load bench's accepted webhooks varied
/// between 1,500 and 3,700 per second from run to run). Same file and pragmas as `db`'s pool, one connection,
/// no busy handler. On PostgreSQL, where writers lock rows and not the database, `db` itself.
pub fn prompt_writer(db: &DatabaseConnection) -> DatabaseConnection {
    let sea_orm::DatabaseConnectionType::SqlxSqlitePoolConnection(_) = &db.inner else {
        return db.clone();
    };
    let options = (*db.get_sqlite_connection_pool().connect_options())
        .clone()
        .busy_timeout(Duration::ZERO);
    let pool = sea_orm::sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(PoolSettings::default().acquire_timeout)
        .test_before_acquire(false)
        .connect_lazy_with(options);
    sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool)
}

/// [`begin_write`] for a [`prompt_writer`]: on SQLite, a `BEGIN IMMEDIATE` refused because another connection
/// holds the write lock is tried again a millisecond later, for as long as the pool's busy timeout.
pub async fn begin_write_promptly(
    db: &DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    let deadline = tokio::time::Instant::now() + PoolSettings::default().sqlite_busy_timeout;
    loop {
        match begin_write(db).await {
            Err(error) if is_sqlite_busy(&error) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            other => return other,
        }
    }
}

/// Whether SQLite refused because another connection holds the lock (`SQLITE_BUSY` and its extended codes).
fn is_sqlite_busy(error: &DbErr) -> bool {
    const SQLITE_BUSY: i64 = 5;
    let (DbErr::Conn(sea_orm::RuntimeErr::SqlxError(error))
    | DbErr::Exec(sea_orm::RuntimeErr::SqlxError(error))
    | DbErr::Query(sea_orm::RuntimeErr::SqlxError(error))) = error
    else {
        return false;
    };
    error
        .as_database_error()
        .and_then(|error| error.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>())
        .and_then(sea_orm::sqlx::error::DatabaseError::code)
        .and_then(|code| code.parse::<i64>().ok())
        .is_some_and(|code| code & 0xff == SQLITE_BUSY)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of its own for a test's SQLite file, removed with it.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("portal-{name}-{}", uuid::Uuid::now_v7()));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn target(&self) -> DatabaseTarget {
            DatabaseTarget::SqliteFile(self.0.join("portal.db"))
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _gone = std::fs::remove_dir_all(&self.0);
        }
    }

    /// `PRAGMA cache_size` of `count` of the pool's connections, all held at once (so that each answer is another
    /// connection's).
    async fn cache_sizes(db: &DatabaseConnection, count: u32) -> Vec<i64> {
        let pool = db.get_sqlite_connection_pool();
        let mut held = Vec::new();
        for _ in 0..count {
            held.push(pool.acquire().await.unwrap());
        }
        let mut sizes = Vec::new();
        for connection in &mut held {
            sizes.push(
                sea_orm::sqlx::query_scalar::<_, i64>("PRAGMA cache_size")
                    .fetch_one(&mut **connection)
                    .await
                    .unwrap(),
            );
        }
        sizes
    }

    /// The pool's memory budget reaches SQLite: every connection's page cache is its share of it.
    #[tokio::test]
    async fn the_sqlite_memory_limit_is_shared_by_every_connection() {
        let scratch = Scratch::new("heap");
        let target = scratch.target();
        for (mib, connections, kib) in [(8, 4, 2048), (12, 3, 4096), (1, 40, 64)] {
            let pool = PoolSettings {
                max_connections: connections,
                sqlite_memory_limit: Some(mib * 1024 * 1024),
                ..PoolSettings::default()
            };
            let db = connect(&target, &pool).await.unwrap();
            let sizes = cache_sizes(&db, connections).await;
            assert_eq!(sizes, vec![-kib; connections as usize], "{mib} MiB");
            db.close().await.unwrap();
        }
        let db = connect(&target, &PoolSettings::default()).await.unwrap();
        assert_eq!(
            cache_sizes(&db, 2).await,
            [-2000, -2000],
            "SQLite's own default"
        );
        db.close().await.unwrap();
    }

    /// The prompt writer has no busy handler of its own: a plain `BEGIN IMMEDIATE` is refused at once while
    /// another connection writes, and [`begin_write_promptly`] waits for the lock instead, writes once it is
    /// released, and leaves the other connection's transaction whole.
    #[tokio::test]
    async fn the_prompt_writer_waits_for_the_write_lock_by_asking_again() {
        let scratch = Scratch::new("prompt");
        let target = scratch.target();
        let db = connect(&target, &PoolSettings::default()).await.unwrap();
        db.execute_unprepared("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
            .await
            .unwrap();
        let writer = prompt_writer(&db);
        assert_eq!(writer.get_database_backend(), DbBackend::Sqlite);

        let holder = begin_write(&db).await.unwrap();
        holder
            .execute_unprepared("INSERT INTO notes (body) VALUES ('batch')")
            .await
            .unwrap();
        let refused = begin_write(&writer).await.err().unwrap();
        assert!(is_sqlite_busy(&refused), "{refused}");

        let waiting = tokio::spawn(async move {
            let txn = begin_write_promptly(&writer).await.unwrap();
            txn.execute_unprepared("INSERT INTO notes (body) VALUES ('webhook')")
                .await
                .unwrap();
            txn.commit().await.unwrap();
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "it wrote while the lock was held");
        holder.commit().await.unwrap();
        waiting.await.unwrap();

        let bodies: Vec<String> = sea_orm::sqlx::query_scalar("SELECT body FROM notes ORDER BY id")
            .fetch_all(db.get_sqlite_connection_pool())
            .await
            .unwrap();
        assert_eq!(bodies, ["batch", "webhook"]);
        db.close().await.unwrap();
    }

    #[test]
    fn only_sqlite_refusals_for_a_held_lock_count_as_busy() {
        assert!(!is_sqlite_busy(&DbErr::Custom(
            "database is locked".to_owned()
        )));
        assert!(!is_sqlite_busy(&DbErr::RecordNotFound("busy".to_owned())));
    }

    /// A connection that ran many different statements keeps only the most recent [`SQLITE_STATEMENT_CACHE`]
    /// compiled (each one's memory is the process's), and still runs the ones it forgot.
    #[tokio::test]
    async fn an_sqlite_connection_keeps_a_bounded_number_of_statements() {
        use sea_orm::sqlx::Connection as _;
        let scratch = Scratch::new("stmts");
        let target = scratch.target();
        let db = connect(&target, &PoolSettings::default()).await.unwrap();
        let mut connection = db.get_sqlite_connection_pool().acquire().await.unwrap();
        // As a burst's multi-row statements do: one text per row count.
        for rows in 1..=3 * SQLITE_STATEMENT_CACHE {
            let values = vec!["(?)"; rows].join(", ");
            let sql = format!("SELECT count(*) FROM (VALUES {values})");
            let mut query =
                sea_orm::sqlx::query_scalar::<_, i64>(sea_orm::sqlx::AssertSqlSafe(sql));
            for row in 0..rows {
                query = query.bind(i64::try_from(row).unwrap());
            }
            let counted = query.fetch_one(&mut *connection).await.unwrap();
            assert_eq!(counted, i64::try_from(rows).unwrap());
        }
        assert_eq!(connection.cached_statements_size(), SQLITE_STATEMENT_CACHE);
        drop(connection);
        db.close().await.unwrap();
    }

    #[test]
    fn only_a_postgresql_on_this_machine_that_says_nothing_of_tls_goes_without() {
        let decide = |url: &str| postgres_on_this_machine_without_a_tls_choice(url, None);
        assert!(decide("postgres://postgres@127.0.0.1:5432/test"));
        assert!(decide("postgresql://app:secret@localhost/portal"));
        assert!(decide(
            "postgres://app@[::1]:5432/portal?application_name=portal"
        ));
        assert!(!decide("postgres://app@db.internal:5432/portal"));
        assert!(!decide("postgres://app@10.0.0.7/portal"));
        assert!(!decide("postgres://app@127.0.0.1/portal?sslmode=require"));
        assert!(!decide(
            "postgres://app@localhost/portal?application_name=x&ssl-mode=prefer"
        ));
        assert!(!decide("sqlite:///tmp/portal.db"));
        assert!(!postgres_on_this_machine_without_a_tls_choice(
            "postgres://postgres@127.0.0.1/test",
            Some("require".to_owned())
        ));
    }

    #[test]
    fn an_in_list_repeats_its_last_id_up_to_a_power_of_two() {
        assert_eq!(in_list(Vec::<u8>::new()), Vec::<u8>::new());
        assert_eq!(in_list([7]), vec![7]);
        assert_eq!(in_list([1, 2, 3]), vec![1, 2, 3, 3]);
        assert_eq!(in_list(1..=4), vec![1, 2, 3, 4]);
        assert_eq!(in_list(1..=5), vec![1, 2, 3, 4, 5, 5, 5, 5]);
        let lengths: std::collections::BTreeSet<usize> =
            (1..=64).map(|n| in_list(0..n).len()).collect();
        assert_eq!(
            lengths.into_iter().collect::<Vec<_>>(),
            [1, 2, 4, 8, 16, 32, 64]
        );
    }

    /// Every transaction of this crate writes, most after reading: each starts with [`begin_write`], never a
    /// deferred `begin()` (on SQLite, one that reads first fails with "database is locked" when it comes to
    /// write after another connection did).
    #[test]
    fn no_deferred_transactions() {
        fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    sources(&path, out);
                } else if path.extension().is_some_and(|ext| ext == "rs") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        assert!(files.len() > 10, "{files:?}");
        let needle = [".begin", "()"].concat();
        let offenders: Vec<String> = files
            .iter()
            .filter(|path| std::fs::read_to_string(path).unwrap().contains(&needle))
            .map(|path| path.display().to_string())
            .collect();
        assert!(
            offenders.is_empty(),
            "deferred transactions in {offenders:#?}"
        );
    }

    #[test]
    fn passwords_never_appear_in_redacted_urls() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db.example:5432/portal"),
            "postgres://app:***@db.example:5432/portal"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
    }

    #[test]
    fn database_urls_are_checked_before_connecting() {
        assert!(validate_database_url("postgres://postgres@127.0.0.1:5432/test").is_ok());
        assert!(validate_database_url("sqlite://data/portal.db").is_ok());
        assert!(matches!(
            validate_database_url("mysql://root@localhost/x"),
            Err(DatabaseUrlError::UnknownScheme(_))
        ));
        assert!(matches!(
            validate_database_url("postgres://postgres@127.0.0.1:notaport/test"),
            Err(DatabaseUrlError::Malformed(_))
        ));
    }
}
