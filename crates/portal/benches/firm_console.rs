//! Load figures of the firm's console (the inbox `/firm`, `/firm/companies` and `/firm/charts`) against the real `portal`
//! binary in its own process, on a database filled by `portal dev seed` (the seeding code, `portal_app::seed`).
//!
//! ```sh
//! cargo bench -p portal --bench firm_console                           # SQLite, 200 companies × 5,000 invoices
//! CONSOLE_TENANTS=20 CONSOLE_INVOICES=500 cargo bench -p portal --bench firm_console   # a quick look
//! PORTAL_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p portal --bench firm_console
//! ```
//! Other knobs: `LOAD_CLIENTS` (8), `LOAD_SECONDS` per page (10).
//! Figures: requests/s, p50 and p99 latency of the inbox (filtered several ways), the health page (sorted several
//! ways) and the charts page, the database reads per request (on SQLite the bytes the server process read, over
//! 4 KiB pages: the database file's pages that each connection's 2 MiB page cache did not hold, the HTTP
//! requests' few hundred bytes aside; on PostgreSQL the
//! buffers its statements touched in the bench's database, hit or read, from `pg_stat_database` after the
//! server's sessions have reported), and the health statement's query plan (what each company's part reads).

use portal_persistence::firm_console::FirmConsoleRepository;
use portal_persistence::testing::TestDatabase;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN: &str = "bench@cabinet.fr";
const PASSWORD: &str = "bench password 2026";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

struct Server {
    child: Child,
    base: String,
}

/// What the database gave the server so far: on SQLite the bytes the process read (its `rchar`); on PostgreSQL
/// the shared buffers the database's statements touched (hit or read), once every session reported them.
async fn database_reads(server: &Server, database: &TestDatabase) -> anyhow::Result<u64> {
    if database.is_postgres() {
        // Idle sessions report their counters every ten seconds at most.
        tokio::time::sleep(Duration::from_secs(11)).await;
        let row = database
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT CAST(blks_hit + blks_read AS BIGINT) AS blocks FROM pg_stat_database \
                 WHERE datname = current_database()",
            ))
            .await?
            .ok_or_else(|| anyhow::anyhow!("no pg_stat_database row"))?;
        Ok(u64::try_from(row.try_get::<i64>("", "blocks")?)?)
    } else {
        let io = std::fs::read_to_string(format!("/proc/{}/io", server.child.id()))?;
        io.lines()
            .find_map(|line| line.strip_prefix("rchar: "))
            .ok_or_else(|| anyhow::anyhow!("no rchar in /proc/PID/io"))?
            .trim()
            .parse()
            .map_err(Into::into)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _waited = self.child.wait();
    }
}

fn portal(data_dir: &std::path::Path, database_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portal"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .env("DATABASE_URL", database_url)
        .env("PORTAL_LOG__LEVEL", "off")
        .env("PORTAL_BILLIT__EMBEDDED_SANDBOX", "false")
        .env_remove("PORTAL_CONFIG");
    command
}

fn start_server(data_dir: &std::path::Path, database_url: &str) -> anyhow::Result<Server> {
    let mut child = portal(data_dir, database_url)
        .args(["serve", "--bind", "127.0.0.1:0", "--no-demo"])
        .env("PORTAL_DATABASE__MAX_CONNECTIONS", "20")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let first = lines
        .next()
        .ok_or_else(|| anyhow::anyhow!("the portal printed nothing"))??;
    let base = first
        .strip_prefix("Portal listening on ")
        .ok_or_else(|| anyhow::anyhow!("unexpected first line: {first}"))?
        .to_owned();
    std::thread::spawn(move || for _ in lines.by_ref() {});
    Ok(Server { child, base })
}

async fn signed_in(base: &str) -> anyhow::Result<reqwest::Client> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()?;
    let page = client
        .get(format!("{base}/login"))
        .send()
        .await?
        .text()
        .await?;
    let response = client
        .post(format!("{base}/login"))
        .form(&[
            ("email", ADMIN),
            ("password", PASSWORD),
            ("csrf_token", &csrf_of(&page)),
        ])
        .send()
        .await?;
    anyhow::ensure!(
        response.status() == 303,
        "sign-in failed: {}",
        response.status()
    );
    Ok(client)
}

struct Figures {
    /// Database pages (SQLite, 4 KiB) or buffers (PostgreSQL, 8 KiB) per request.
    reads: f64,
    requests: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    bytes: usize,
}

/// `clients` browsers request the URLs round-robin for `seconds`.
async fn hammer(
    clients: &[reqwest::Client],
    urls: &[String],
    seconds: u64,
) -> anyhow::Result<Figures> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (index, client) in clients.iter().enumerate() {
        let client = client.clone();
        let urls = urls.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut bytes = 0;
            let mut next = index;
            while Instant::now() < deadline {
                let url = &urls[next % urls.len()];
                next += 1;
                let sent = Instant::now();
                let response = client.get(url).send().await?;
                anyhow::ensure!(response.status() == 200, "{url}: {}", response.status());
                bytes = response.bytes().await?.len();
                latencies.push(sent.elapsed());
            }
            Ok::<_, anyhow::Error>((latencies, bytes))
        }));
    }
    let mut all = Vec::new();
    let mut bytes = 0;
    for task in tasks {
        let (latencies, last) = task.await??;
        all.extend(latencies);
        bytes = bytes.max(last);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let at = |q: f64| {
        all.get(((all.len() as f64 - 1.0) * q).round() as usize)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    Ok(Figures {
        reads: 0.0,
        requests: all.len(),
        per_second: all.len() as f64 / elapsed,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        bytes,
    })
}

/// The health statement's plan, as the database tells it.
async fn plan(database: &TestDatabase) -> anyhow::Result<String> {
    let db = &database.db;
    let users = portal_persistence::users::UserRepository::new(db.clone());
    let admin = users
        .find_by_email(ADMIN)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no firm administrator"))?;
    let scopes: Vec<_> = portal_persistence::firm::FirmRepository::new(db.clone())
        .visible_scopes(&admin)
        .await?
        .into_iter()
        .map(|(_, scope)| scope)
        .collect();
    let now = chrono::Utc::now();
    let statement = FirmConsoleRepository::new(db.clone()).company_health_statement(
        &scopes,
        portal_app::firm_console::month_start(now),
        now.date_naive(),
    );
    let backend = db.get_database_backend();
    let prefix = if backend == DbBackend::Postgres {
        "EXPLAIN "
    } else {
        "EXPLAIN QUERY PLAN "
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!("{prefix}{}", statement.sql),
            statement.values.map(|values| values.0).unwrap_or_default(),
        ))
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            row.try_get_by_index::<String>(if backend == DbBackend::Postgres { 0 } else { 3 })
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("\n    "))
}

async fn run(label: &str, database: TestDatabase) -> anyhow::Result<()> {
    let tenants = env_number("CONSOLE_TENANTS", 200);
    let invoices = env_number("CONSOLE_INVOICES", 5_000);
    let clients_count = env_number("LOAD_CLIENTS", 8);
    let seconds = env_number("LOAD_SECONDS", 10) as u64;
    let data_dir = database.scratch_dir().join("data");
    let url = database.url();

    let started = Instant::now();
    let status = portal(&data_dir, &url)
        .args(["dev", "seed", "--tenants", &tenants.to_string()])
        .args(["--invoices", &invoices.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "portal dev seed failed");
    let seed_secs = started.elapsed().as_secs_f64();
    let mut create = portal(&data_dir, &url)
        .args(["create-admin", "--email", ADMIN, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    create
        .stdin
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdin"))?
        .write_all(PASSWORD.as_bytes())?;
    anyhow::ensure!(create.wait()?.success(), "portal create-admin failed");
    let plan = plan(&database).await?;

    let server = start_server(&data_dir, &url)?;
    let base = server.base.clone();
    let mut clients = Vec::new();
    for _ in 0..clients_count {
        clients.push(signed_in(&base).await?);
    }
    let health_urls: Vec<String> = [
        "",
        "?sort=open&dir=desc",
        "?sort=overdue&dir=desc",
        "?sort=connection",
        "?sort=webhook&dir=asc",
    ]
    .iter()
    .map(|query| format!("{base}/firm/companies{query}"))
    .collect();
    let inbox_urls: Vec<String> = ["", "?kind=request", "?age=8-30", "?kind=rejected&age=30%2B"]
        .iter()
        .map(|query| format!("{base}/firm{query}"))
        .collect();
    let page_size = if database.is_postgres() { 1 } else { 4096 };
    let mut measured = Vec::new();
    for urls in [inbox_urls, health_urls, vec![format!("{base}/firm/charts")]] {
        let before = database_reads(&server, &database).await?;
        let mut figures = hammer(&clients, &urls, seconds).await?;
        let after = database_reads(&server, &database).await?;
        figures.reads =
            after.saturating_sub(before) as f64 / page_size as f64 / figures.requests.max(1) as f64;
        measured.push(figures);
    }
    drop(server);
    let [inbox, health, charts] = <[Figures; 3]>::try_from(measured)
        .map_err(|_| anyhow::anyhow!("three pages were measured"))?;
    let unit = if database.is_postgres() {
        "buffers"
    } else {
        "pages"
    };

    println!(
        "{label}: {tenants} companies × {invoices} invoices seeded in {seed_secs:.0} s; {clients_count} clients, {seconds} s per page"
    );
    for (name, figures) in [
        ("/firm", &inbox),
        ("/firm/companies", &health),
        ("/firm/charts", &charts),
    ] {
        println!(
            "  {name:<16} {:>7.1} req/s  p50 {:>7.1} ms  p99 {:>7.1} ms  {:>9.0} {unit} read/request  ({} requests, {} KiB each)",
            figures.per_second,
            figures.p50_ms,
            figures.p99_ms,
            figures.reads,
            figures.requests,
            figures.bytes / 1024
        );
    }
    println!("  health statement's plan:\n    {plan}");
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing else to parse.
    if std::env::var(portal_persistence::testing::TEST_DATABASE_URL_VAR).is_ok() {
        run("PostgreSQL", TestDatabase::new().await?).await
    } else {
        run("SQLite", TestDatabase::sqlite().await?).await
    }
}
