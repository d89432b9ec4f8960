//! Load figures of the portal, against the real `portal` binary in its own process (so that its peak memory is its
//! own), on databases filled by `portal dev seed`: one company of 1,000 invoices beside one of 50,000, on SQLite
//! and on PostgreSQL in the same run. Printed per backend:
//! - the static CSS file's rate (what the server does with no database work: the ceiling of the pages);
//! - the invoice list (several filters, first and next pages), the dashboard and an invoice's page of each company:
//!   requests/s, p50 and p99 latency with `LOAD_CLIENTS` signed-in connections, and the large company's rate over
//!   the small one's (1.0: a page's cost does not grow with the company's history);
//! - Billit webhook deliveries posted by `LOAD_CLIENTS` senders: accepted per second (signature checked, stored,
//!   job queued, answered 200) and ingested per second (every delivery's job done: classified, folded, summaries
//!   saved, live update and follow-ups queued), both from the first delivery sent;
//! - the server's peak resident memory (VmHWM) over the whole run.
//!
//! ```sh
//! cargo bench -p portal --bench invoices_load                    # SQLite (and PostgreSQL if the URL below is set)
//! PORTAL_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p portal --bench invoices_load
//! LOAD_BACKENDS=postgres LOAD_LARGE=5000 LOAD_SECONDS=3 cargo bench -p portal --bench invoices_load  # smaller
//! ```
//! Knobs: `LOAD_BACKENDS` (`sqlite,postgres`; by default SQLite, plus PostgreSQL when
//! `PORTAL_TEST_DATABASE_URL` names a server, which `postgres` requires), `LOAD_SMALL` (1,000 invoices) and
//! `LOAD_LARGE` (50,000) for the two companies, `LOAD_CLIENTS` (16), `LOAD_SECONDS` per page and company (10),
//! `LOAD_ROUNDS` (5: each page's seconds, in as many slices alternating between the two companies),
//! `LOAD_WARMUP` (seconds of unmeasured requests before each page and company, 1),
//! `LOAD_WEBHOOKS` (5,000; 0 skips them), `LOAD_WORKERS` (the server's `jobs.workers`, 2), `LOAD_POOL` (the
//! server's `database.max_connections`; otherwise the portal's default, 10, on SQLite and 20 on PostgreSQL),
//! `LOAD_EACH_LIST_URL` (set: also each of the list's filters alone), `LOAD_WEBHOOK_FILES` (set: each message
//! carries a status file, as Billit's usually do).
//!
//! No Billit runs beside the bench: a message's file cannot be downloaded here, and with `LOAD_WEBHOOK_FILES` every
//! delivery's `billit.fetch_file` (and its notification's) fails and is retried, thousands of failing Billit calls
//! on the same two cores as the ingestion (a storm production does not see: Billit's webhooks come while Billit is
//! up). By default the messages carry no file, so the figures are those of the ingestion itself.

use portal_app::master_key::MasterKey;
use portal_billit::webhook::sign;
use portal_persistence::TenantScope;
use portal_persistence::billit_connections::{
    BillitConnectionRepository, BillitEnvironment, ConnectionSettings,
};
use portal_persistence::invoices::{InvoiceFilter, InvoiceRepository};
use portal_persistence::tenants::TenantRepository;
use portal_persistence::testing::TestDatabase;
use portal_persistence::users::UserRepository;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "seed password 2026";
const SECRET: &str = "bench-webhook-secret";

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

impl Drop for Server {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _waited = self.child.wait();
    }
}

impl Server {
    fn peak_rss_mib(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find(|line| line.starts_with("VmHWM:"))
                    .and_then(|line| line.split_whitespace().nth(1))
                    .and_then(|kib| kib.parse::<f64>().ok())
            })
            .map_or(f64::NAN, |kib| kib / 1024.0)
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
    let mut server = portal(data_dir, database_url);
    // `LOAD_POOL` if set; else the portal's default pool (`database.max_connections`, 10) on SQLite, where more
    // connections add memory and no throughput, and 20 on PostgreSQL, where each statement waits for a round trip
    // (16 clients on 10 connections: the invoice page 489 req/s against 871 with 20).
    let pool = std::env::var("LOAD_POOL").ok().or_else(|| {
        database_url
            .starts_with("postgres")
            .then(|| "20".to_owned())
    });
    if let Some(pool) = pool {
        server.env("PORTAL_DATABASE__MAX_CONNECTIONS", pool);
    }
    let mut child = server
        .args(["serve", "--bind", "127.0.0.1:0", "--no-demo"])
        .env(
            "PORTAL_JOBS__WORKERS",
            env_number("LOAD_WORKERS", 2).to_string(),
        )
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

async fn signed_in(base: &str, email: &str) -> anyhow::Result<reqwest::Client> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        // Below the server's keep-alive (actix: 5 s): a connection left idle while another company's pages were
        // measured is dropped here first, instead of being reused just as the server closes it (which failed a
        // whole run, once in about fourteen, with "error sending request" or "408 Request Timeout").
        .pool_idle_timeout(Duration::from_secs(2))
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
            ("email", email),
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
    requests: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    bytes: usize,
}

/// What the connections saw over one or more measured slices: every request's latency, the time spent and the
/// size of the last answer.
#[derive(Default)]
struct Samples {
    latencies: Vec<Duration>,
    seconds: f64,
    bytes: usize,
}

impl Samples {
    fn add(&mut self, other: Self) {
        self.latencies.extend(other.latencies);
        self.seconds += other.seconds;
        self.bytes = self.bytes.max(other.bytes);
    }

    fn figures(mut self) -> Figures {
        self.latencies.sort();
        let all = &self.latencies;
        let at = |q: f64| {
            all.get(((all.len() as f64 - 1.0) * q).round() as usize)
                .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
        };
        Figures {
            requests: all.len(),
            per_second: all.len() as f64 / self.seconds,
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            bytes: self.bytes,
        }
    }
}

/// `clients` browsers request the URLs round-robin for `seconds`.
async fn hammer(
    clients: &[reqwest::Client],
    urls: &[String],
    seconds: u64,
) -> anyhow::Result<Figures> {
    Ok(hammer_for(clients, urls, Duration::from_secs(seconds))
        .await?
        .figures())
}

async fn hammer_for(
    clients: &[reqwest::Client],
    urls: &[String],
    length: Duration,
) -> anyhow::Result<Samples> {
    let deadline = Instant::now() + length;
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
                next += clients_stride();
                let sent = Instant::now();
                let response = client.get(url).send().await?;
                anyhow::ensure!(response.status() == 200, "{url}: {}", response.status());
                bytes = response.bytes().await?.len();
                latencies.push(sent.elapsed());
            }
            Ok::<_, anyhow::Error>((latencies, bytes))
        }));
    }
    let mut samples = Samples::default();
    for task in tasks {
        let (latencies, bytes) = task.await??;
        samples.latencies.extend(latencies);
        samples.bytes = samples.bytes.max(bytes);
    }
    samples.seconds = started.elapsed().as_secs_f64();
    Ok(samples)
}

/// One page of both companies, measured in `rounds` alternating slices that add up to `seconds` each, the order
/// reversed every other round (small, large, large, small, …): the two rates, and so their ratio, are taken over
/// the same stretch of time. Measured one after the other, a drift of the shared machine between the two windows
/// (another process, the CPU's clock) went into the ratio: it read from 0.75 to 1.12 between runs of the same code.
async fn hammer_both(
    signed: [&[reqwest::Client]; 2],
    urls: [&[String]; 2],
    seconds: u64,
    rounds: u32,
) -> anyhow::Result<[Figures; 2]> {
    let slice = Duration::from_secs(seconds) / rounds.max(1);
    let mut samples = [Samples::default(), Samples::default()];
    for round in 0..rounds.max(1) {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for company in order {
            let measured = hammer_for(signed[company], urls[company], slice).await?;
            samples[company].add(measured);
        }
    }
    let [small, large] = samples;
    Ok([small.figures(), large.figures()])
}

const fn clients_stride() -> usize {
    7
}

/// After the bulk load, before measuring: the database as a server finds it in steady state, not still writing out
/// what the seed left behind. `portal dev seed` vacuums and analyzes; here PostgreSQL's checkpoint of the seed's
/// writes, which otherwise ran through the first minute of pages (81 s of writes once, from the end of the seed),
/// and SQLite's write-ahead log, folded into the database file.
async fn settle(db: &DatabaseConnection) -> anyhow::Result<()> {
    let sql = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => "CHECKPOINT",
        _ => "PRAGMA wal_checkpoint(TRUNCATE)",
    };
    db.execute_unprepared(sql).await?;
    Ok(())
}

fn seed(
    data_dir: &std::path::Path,
    url: &str,
    prefix: &str,
    invoices: usize,
) -> anyhow::Result<()> {
    let status = portal(data_dir, url)
        .args(["dev", "seed", "--tenants", "1", "--prefix", prefix])
        .args(["--invoices", &invoices.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "portal dev seed --prefix {prefix} failed");
    Ok(())
}

/// A seeded company: its address, its administrator's scope, a few of its invoices and its second list page.
struct Company {
    invoices: usize,
    slug: String,
    scope: TenantScope,
    sample: Vec<String>,
    second_page: String,
}

async fn company(
    db: &DatabaseConnection,
    prefix: &str,
    invoices: usize,
) -> anyhow::Result<Company> {
    let slug = format!("{prefix}-001");
    let user = UserRepository::new(db.clone())
        .find_by_email(&format!("admin@{slug}.example.fr"))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no seeded user for {slug}"))?;
    let (_, scope) = TenantRepository::new(db.clone())
        .scope_for_member(user.id, &slug)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no seeded scope for {slug}"))?;
    let repository = InvoiceRepository::new(db.clone());
    let sample = repository
        .list(&scope, &InvoiceFilter::default(), None, 500)
        .await?
        .rows
        .iter()
        .map(|row| row.id.to_string())
        .collect();
    let second_page = repository
        .list(&scope, &InvoiceFilter::default(), None, 50)
        .await?
        .next
        .map(|cursor| cursor.encode())
        .unwrap_or_default();
    Ok(Company {
        invoices,
        slug,
        scope,
        sample,
        second_page,
    })
}

/// The pages measured, with the URLs each one cycles through.
fn pages(base: &str, company: &Company) -> Vec<(&'static str, Vec<String>)> {
    let slug = &company.slug;
    let list = [
        String::new(),
        "?action=1".to_owned(),
        "?status=207".to_owned(),
        "?status=203".to_owned(),
        "?q=F2026-0001".to_owned(),
        "?sort=total_desc".to_owned(),
        format!("?after={}", company.second_page),
    ]
    .iter()
    .map(|query| format!("{base}/t/{slug}/invoices{query}"))
    .collect();
    let invoice = company
        .sample
        .iter()
        .map(|id| format!("{base}/t/{slug}/invoices/{id}"))
        .collect();
    vec![
        ("invoice list", list),
        ("dashboard", vec![format!("{base}/t/{slug}/")]),
        ("invoice page", invoice),
    ]
}

/// Webhook figures: deliveries sent, seconds until all were accepted, seconds until all were ingested.
struct Webhooks {
    sent: usize,
    accepted_secs: f64,
    ingested_secs: f64,
}

async fn webhooks_still_to_ingest(db: &DatabaseConnection) -> anyhow::Result<i64> {
    count_of(
        db,
        "SELECT COUNT(*) AS n FROM jobs WHERE kind = 'billit.webhook' AND state IN ('queued', 'running')",
    )
    .await
}

/// The `n` of a `SELECT COUNT(*) AS n …`.
async fn count_of(db: &DatabaseConnection, sql: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no count"))?;
    Ok(row.try_get("", "n")?)
}

/// `senders` post `count` webhooks (new buyer messages on the company's orders, each a new event, each with a
/// status file when `with_files`), then wait until every one is ingested.
async fn webhooks(
    db: &DatabaseConnection,
    base: &str,
    token: &str,
    orders: Vec<i64>,
    senders: usize,
    count: usize,
    with_files: bool,
) -> anyhow::Result<Webhooks> {
    anyhow::ensure!(!orders.is_empty(), "no seeded order");
    let hook = format!("{base}/hooks/billit/{token}");
    let plain = reqwest::Client::new();
    let events_before = count_of(db, "SELECT COUNT(*) AS n FROM invoice_events").await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    let per_sender = count.div_ceil(senders);
    for sender in 0..senders {
        let plain = plain.clone();
        let hook = hook.clone();
        let orders = orders.clone();
        tasks.push(tokio::spawn(async move {
            for index in 0..per_sender {
                // Without a file, a message is known by its order, wording and day: the messages of one order
                // are each of another day, so that every delivery is a new event.
                let number = sender * per_sender + index;
                let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
                    .and_then(|day| {
                        day.checked_sub_days(chrono::Days::new((number / orders.len()) as u64))
                    })
                    .ok_or_else(|| anyhow::anyhow!("no such day"))?;
                let mut message = serde_json::json!({
                    "Description": "PD: The document has been paid.",
                    "CreationDate": format!("{day}T10:00:00"),
                    "TransportType": "Peppol",
                    "MessageDirection": "Incoming",
                    "Success": true
                });
                if with_files {
                    message["FileID"] = uuid::Uuid::now_v7().to_string().into();
                }
                let body = serde_json::to_vec(&serde_json::json!({
                    "UpdatedEntityID": 900_000_000 + number,
                    "UpdatedEntityType": "Message",
                    "WebhookUpdateTypeTC": "I",
                    "EntityDetail": {
                        "OrderID": orders[number % orders.len()],
                        "OrderMessage": message
                    }
                }))?;
                let signature = sign(SECRET.as_bytes(), chrono::Utc::now().timestamp(), &body);
                let response = plain
                    .post(&hook)
                    .header("Billit-Signature", signature)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "webhook {}",
                    response.status()
                );
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let accepted_secs = started.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(900);
    while webhooks_still_to_ingest(db).await? > 0 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "webhooks not ingested after 15 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ingested_secs = started.elapsed().as_secs_f64();
    // Each message is a new event on its invoice: the figures are those of work done, not of deliveries ignored.
    let events = count_of(db, "SELECT COUNT(*) AS n FROM invoice_events").await? - events_before;
    anyhow::ensure!(
        usize::try_from(events).ok() == Some(per_sender * senders),
        "{events} events added by {} webhook deliveries",
        per_sender * senders
    );
    Ok(Webhooks {
        sent: per_sender * senders,
        accepted_secs,
        ingested_secs,
    })
}

/// Gives the small company a webhook endpoint whose secret the bench knows; returns its token.
async fn webhook_endpoint(
    db: &DatabaseConnection,
    data_dir: &std::path::Path,
    scope: &TenantScope,
) -> anyhow::Result<String> {
    let master_key = MasterKey::load_or_create(data_dir).map_err(anyhow::Error::msg)?;
    let connections = BillitConnectionRepository::new(db.clone());
    let connection = connections
        .save(
            scope,
            ConnectionSettings {
                environment: BillitEnvironment::Embedded,
                api_key_encrypted: Some(portal_app::crypto::encrypt(
                    &master_key,
                    scope.tenant_id(),
                    "bench-key",
                )?),
                party_id: Some(1),
                context_party_id: None,
            },
            None,
        )
        .await?;
    connections
        .set_webhook(
            scope,
            portal_app::crypto::encrypt(&master_key, scope.tenant_id(), SECRET)?,
            &[],
            None,
        )
        .await?;
    Ok(connection.webhook_token)
}

/// `ratio`: the large company's rate over the small one's, with their sizes (`50000/1000 0.85`).
fn print_figures(name: &str, company: &str, figures: &Figures, ratio: Option<(String, f64)>) {
    let ratio = ratio.map_or_else(String::new, |(sizes, ratio)| {
        format!("  {sizes} {ratio:.2}")
    });
    println!(
        "  {name:<13} {company:>8} {:>7.0} req/s  p50 {:>6.1} ms  p99 {:>6.1} ms  ({} requests, {} KiB each){ratio}",
        figures.per_second,
        figures.p50_ms,
        figures.p99_ms,
        figures.requests,
        figures.bytes / 1024
    );
}

async fn run(label: &str, database: TestDatabase) -> anyhow::Result<()> {
    let small = env_number("LOAD_SMALL", 1_000);
    let large = env_number("LOAD_LARGE", 50_000);
    let clients_count = env_number("LOAD_CLIENTS", 16);
    let seconds = env_number("LOAD_SECONDS", 10) as u64;
    let warmup = env_number("LOAD_WARMUP", 1) as u64;
    let rounds = u32::try_from(env_number("LOAD_ROUNDS", 5))?;
    let webhook_count = env_number("LOAD_WEBHOOKS", 5_000);
    let data_dir = database.scratch_dir().join("data");
    let url = database.url();
    let db = database.db.clone();

    let started = Instant::now();
    seed(&data_dir, &url, "small", small)?;
    seed(&data_dir, &url, "large", large)?;
    settle(&db).await?;
    let seed_secs = started.elapsed().as_secs_f64();
    let companies = [
        company(&db, "small", small).await?,
        company(&db, "large", large).await?,
    ];
    let token = webhook_endpoint(&db, &data_dir, &companies[0].scope).await?;
    let orders: Vec<i64> = InvoiceRepository::new(db.clone())
        .open_orders(&companies[0].scope, 1_000)
        .await?
        .into_iter()
        .map(|(_, order)| order)
        .collect();

    let server = start_server(&data_dir, &url)?;
    let base = server.base.clone();
    println!(
        "{label}: companies of {small} and {large} invoices seeded in {seed_secs:.0} s; {clients_count} connections, {seconds} s per page and company in {rounds} alternating slices"
    );
    let mut clients = Vec::new();
    for company in &companies {
        let mut signed = Vec::new();
        for _ in 0..clients_count {
            signed.push(signed_in(&base, &format!("admin@{}.example.fr", company.slug)).await?);
        }
        clients.push(signed);
    }
    let css = hammer(
        &clients[0],
        &[format!("{base}/static/css/portal.css")],
        seconds,
    )
    .await?;
    print_figures("static CSS", "", &css, None);
    let small_pages = pages(&base, &companies[0]);
    let large_pages = pages(&base, &companies[1]);
    for ((name, small_urls), (_, large_urls)) in small_pages.iter().zip(&large_pages) {
        // Unmeasured first: the first phase met connections that had not yet prepared their statements (the
        // 1,000-invoice list, measured first, ran about 35% slower than the 2,000-invoice one after it).
        if warmup > 0 {
            hammer(&clients[0], small_urls, warmup).await?;
            hammer(&clients[1], large_urls, warmup).await?;
        }
        let [small_figures, large_figures] = hammer_both(
            [&clients[0], &clients[1]],
            [small_urls, large_urls],
            seconds,
            rounds,
        )
        .await?;
        print_figures(
            name,
            &companies[0].invoices.to_string(),
            &small_figures,
            None,
        );
        print_figures(
            name,
            &companies[1].invoices.to_string(),
            &large_figures,
            Some((
                format!("{}/{}", companies[1].invoices, companies[0].invoices),
                large_figures.per_second / small_figures.per_second,
            )),
        );
    }
    if std::env::var_os("LOAD_EACH_LIST_URL").is_some() {
        // Which of the list's filters costs what, each alone.
        for (company, signed) in companies.iter().zip(&clients) {
            for (name, urls) in pages(&base, company) {
                if name != "invoice list" {
                    continue;
                }
                for url in urls {
                    let figures = hammer(signed, std::slice::from_ref(&url), seconds).await?;
                    let query = url.split_once('?').map_or("(none)", |(_, query)| query);
                    let query: String = query.chars().take(24).collect();
                    print_figures(&query, &company.invoices.to_string(), &figures, None);
                }
            }
        }
    }
    if webhook_count > 0 {
        let with_files = std::env::var_os("LOAD_WEBHOOK_FILES").is_some();
        let hooks = webhooks(
            &db,
            &base,
            &token,
            orders,
            clients_count,
            webhook_count,
            with_files,
        )
        .await?;
        let files = if with_files {
            "each with a file, whose download fails (no Billit here)"
        } else {
            "without files"
        };
        println!(
            "  webhooks      {} accepted in {:.1} s ({:.0}/s), all ingested after {:.1} s ({:.0}/s); {clients_count} senders, messages {files}",
            hooks.sent,
            hooks.accepted_secs,
            hooks.sent as f64 / hooks.accepted_secs,
            hooks.ingested_secs,
            hooks.sent as f64 / hooks.ingested_secs
        );
    }
    println!(
        "  server peak memory (VmHWM) {:.0} MiB",
        server.peak_rss_mib()
    );
    drop(server);
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let postgres_url = std::env::var(portal_persistence::testing::TEST_DATABASE_URL_VAR)
        .ok()
        .filter(|url| !url.trim().is_empty());
    let backends = std::env::var("LOAD_BACKENDS").unwrap_or_else(|_| {
        if postgres_url.is_some() {
            "sqlite,postgres".to_owned()
        } else {
            "sqlite".to_owned()
        }
    });
    for backend in backends
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        match backend {
            "sqlite" => run("SQLite", TestDatabase::sqlite().await?).await?,
            "postgres" => {
                anyhow::ensure!(
                    postgres_url.is_some(),
                    "LOAD_BACKENDS names postgres: set {} to a server",
                    portal_persistence::testing::TEST_DATABASE_URL_VAR
                );
                // `TestDatabase::new` makes a fresh PostgreSQL database when the variable is set.
                run("PostgreSQL", TestDatabase::new().await?).await?;
            }
            other => anyhow::bail!("LOAD_BACKENDS: unknown backend {other} (sqlite, postgres)"),
        }
    }
    Ok(())
}
