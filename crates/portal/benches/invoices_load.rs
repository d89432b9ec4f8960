//! Load figures of the invoice pages and of webhook ingestion, against the real `portal` binary in its own process
//! (so that its peak memory is its own), on a database filled by `portal dev seed`.
//!
//! ```sh
//! cargo bench -p portal-web --bench invoices_load                       # SQLite, small (2 × 2,000)
//! LOAD_TENANTS=100 LOAD_INVOICES=10000 cargo bench -p portal-web --bench invoices_load
//! PORTAL_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test LOAD_TENANTS=100 LOAD_INVOICES=10000 \
//!   cargo bench -p portal-web --bench invoices_load                     # PostgreSQL
//! ```
//! Other knobs: `LOAD_CLIENTS` (16), `LOAD_SECONDS` per page kind (15), `LOAD_WEBHOOKS` (5,000).
//! Figures: requests/s, p50 and p99 latency of the list page (several filters, first and next pages) and of the
//! invoice page; webhook deliveries accepted per second and processed (ingested) per second; the server's peak RSS.

use portal_app::master_key::MasterKey;
use portal_billit::webhook::sign;
use portal_persistence::billit_connections::{
    BillitConnectionRepository, BillitEnvironment, ConnectionSettings,
};
use portal_persistence::invoices::{InvoiceFilter, InvoiceRepository};
use portal_persistence::jobs::{JobQueue, JobState};
use portal_persistence::tenants::TenantRepository;
use portal_persistence::testing::TestDatabase;
use portal_persistence::users::UserRepository;
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

async fn signed_in(base: &str, email: &str) -> anyhow::Result<reqwest::Client> {
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
        requests: all.len(),
        per_second: all.len() as f64 / elapsed,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        bytes,
    })
}

const fn clients_stride() -> usize {
    7
}

async fn run(label: &str, database: TestDatabase) -> anyhow::Result<()> {
    let tenants = env_number("LOAD_TENANTS", 2);
    let invoices = env_number("LOAD_INVOICES", 2_000);
    let clients_count = env_number("LOAD_CLIENTS", 16);
    let seconds = env_number("LOAD_SECONDS", 15) as u64;
    let webhooks = env_number("LOAD_WEBHOOKS", 5_000);
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

    // The first company gets a webhook endpoint whose secret the bench knows.
    let master_key = MasterKey::load_or_create(&data_dir).map_err(anyhow::Error::msg)?;
    let db = database.db.clone();
    let user = UserRepository::new(db.clone())
        .find_by_email("admin@seed-001.example.fr")
        .await?
        .ok_or_else(|| anyhow::anyhow!("no seeded user"))?;
    let (_, scope) = TenantRepository::new(db.clone())
        .scope_for_member(user.id, "seed-001")
        .await?
        .ok_or_else(|| anyhow::anyhow!("no seeded scope"))?;
    let connections = BillitConnectionRepository::new(db.clone());
    let connection = connections
        .save(
            &scope,
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
            &scope,
            portal_app::crypto::encrypt(&master_key, scope.tenant_id(), SECRET)?,
            &[],
            None,
        )
        .await?;
    let repository = InvoiceRepository::new(db.clone());
    let sample = repository
        .list(&scope, &InvoiceFilter::default(), None, 500)
        .await?;
    let second_page = repository
        .list(&scope, &InvoiceFilter::default(), None, 50)
        .await?
        .next
        .map(|cursor| cursor.encode())
        .unwrap_or_default();

    let server = start_server(&data_dir, &url)?;
    let base = server.base.clone();
    let mut clients = Vec::new();
    for _ in 0..clients_count {
        clients.push(signed_in(&base, "admin@seed-001.example.fr").await?);
    }

    let list_urls: Vec<String> = [
        String::new(),
        "?action=1".to_owned(),
        "?status=207".to_owned(),
        "?status=203".to_owned(),
        "?q=F2026-0001".to_owned(),
        "?sort=total_desc".to_owned(),
        format!("?after={second_page}"),
    ]
    .iter()
    .map(|query| format!("{base}/t/seed-001/invoices{query}"))
    .collect();
    let list = hammer(&clients, &list_urls, seconds).await?;
    let page_urls: Vec<String> = sample
        .rows
        .iter()
        .map(|row| format!("{base}/t/seed-001/invoices/{}", row.id))
        .collect();
    let page = hammer(&clients, &page_urls, seconds).await?;

    // Webhooks: new buyer messages on seeded orders (each a new event), 16 senders.
    let orders: Vec<i64> = repository
        .open_orders(&scope, 1_000)
        .await?
        .into_iter()
        .map(|(_, order)| order)
        .collect();
    anyhow::ensure!(!orders.is_empty(), "no seeded order");
    let hook = format!("{base}/hooks/billit/{}", connection.webhook_token);
    let plain = reqwest::Client::new();
    let started = Instant::now();
    let mut tasks = Vec::new();
    let per_sender = webhooks.div_ceil(clients_count);
    for sender in 0..clients_count {
        let plain = plain.clone();
        let hook = hook.clone();
        let orders = orders.clone();
        tasks.push(tokio::spawn(async move {
            for index in 0..per_sender {
                let order = orders[(sender * per_sender + index) % orders.len()];
                let body = serde_json::to_vec(&serde_json::json!({
                    "UpdatedEntityID": 900_000_000 + sender * per_sender + index,
                    "UpdatedEntityType": "Message",
                    "WebhookUpdateTypeTC": "I",
                    "EntityDetail": {
                        "OrderID": order,
                        "OrderMessage": {
                            "Description": "PD: The document has been paid.",
                            "FileID": uuid::Uuid::now_v7().to_string(),
                            "CreationDate": "2026-11-30T10:00:00",
                            "TransportType": "Peppol",
                            "MessageDirection": "Incoming",
                            "Success": true
                        }
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
    let sent = per_sender * clients_count;
    let accepted_secs = started.elapsed().as_secs_f64();
    let queue = JobQueue::new(db.clone());
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let pending = queue
            .list(JobState::Queued, 1_000_000)
            .await?
            .into_iter()
            .chain(queue.list(JobState::Running, 1_000).await?)
            .any(|job| job.kind == "billit.webhook");
        if !pending || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let processed_secs = started.elapsed().as_secs_f64();
    let peak = server.peak_rss_mib();
    drop(server);

    println!(
        "{label}: {tenants} companies × {invoices} invoices seeded in {seed_secs:.0} s; {clients_count} clients, {seconds} s per page kind"
    );
    for (name, figures) in [("list page", &list), ("invoice page", &page)] {
        println!(
            "  {name:<13} {:>7.0} req/s  p50 {:>6.1} ms  p99 {:>6.1} ms  ({} requests, {} KiB each)",
            figures.per_second,
            figures.p50_ms,
            figures.p99_ms,
            figures.requests,
            figures.bytes / 1024
        );
    }
    println!(
        "  webhooks      {sent} accepted in {accepted_secs:.1} s ({:.0}/s), all ingested after {processed_secs:.1} s ({:.0}/s)",
        sent as f64 / accepted_secs,
        sent as f64 / processed_secs
    );
    println!("  server peak memory (VmHWM) {peak:.0} MiB");
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
