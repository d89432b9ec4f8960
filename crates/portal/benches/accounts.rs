//! Accounts figures: argon2 cost, full sign-in latency over HTTP, and signed-in page requests per second
//! (each one looks up the session, the membership and renders a page).
//!
//! `cargo bench -p portal-web --bench accounts` (SQLite; PostgreSQL too with PORTAL_TEST_DATABASE_URL).

use portal::config::Config;
use portal::secret::Secret;
use portal::startup::Application;
use portal_persistence::TenantRole;
use portal_persistence::tenants::{TenantProfile, TenantRepository};
use portal_persistence::testing::TestDatabase;
use portal_persistence::users::UserRepository;
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery staple";

fn csrf_of(html: &str) -> String {
    html.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

async fn sign_in(client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let page = client
        .get(format!("{base}/login"))
        .send()
        .await?
        .text()
        .await?;
    let token = csrf_of(&page);
    let response = client
        .post(format!("{base}/login"))
        .form(&[
            ("email", "bench@acme.fr"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await?;
    anyhow::ensure!(
        response.status() == 303,
        "sign-in failed: {}",
        response.status()
    );
    Ok(())
}

fn browser() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()?)
}

async fn run(label: &str, database: TestDatabase) -> anyhow::Result<()> {
    let mut config = Config::default();
    config.server.bind = "127.0.0.1:0".to_owned();
    config.server.data_dir = database.scratch_dir().join("data");
    config.database.url = Some(Secret::new(database.url()));
    config.jobs.workers = 0;
    config.log.level = "error".to_owned();
    let app = Application::build(config).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let stop = app.stop_handle();
    let running = tokio::spawn(app.run_until_stopped());

    let tenant = TenantRepository::new(database.db.clone())
        .create(
            TenantProfile {
                slug: "acme".into(),
                legal_name: "ACME SAS".into(),
                siren: "732829320".into(),
                ..TenantProfile::default()
            },
            None,
        )
        .await?;
    let users = UserRepository::new(database.db.clone());
    let user = users.create("bench@acme.fr", "Bench", "fr").await?;
    users
        .set_password_hash(
            user.id,
            &portal_app::password::hash(PASSWORD.to_owned()).await?,
        )
        .await?;
    TenantRepository::new(database.db.clone())
        .add_member(tenant.id, user.id, TenantRole::Member)
        .await?;

    // Sign-in latency: GET /login + POST /login, sequential, fresh browser each time.
    let mut latencies = Vec::new();
    for _ in 0..20 {
        let client = browser()?;
        let started = Instant::now();
        sign_in(&client, &base).await?;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let mean = latencies.iter().sum::<Duration>() / u32::try_from(latencies.len())?;

    // Signed-in page views with 8 concurrent browsers.
    let mut clients = Vec::new();
    for _ in 0..8 {
        let client = browser()?;
        sign_in(&client, &base).await?;
        clients.push(client);
    }
    const PER_CLIENT: usize = 250;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in clients {
        let url = format!("{base}/t/acme/");
        tasks.push(tokio::spawn(async move {
            for _ in 0..PER_CLIENT {
                let response = client.get(&url).send().await?;
                anyhow::ensure!(
                    response.status() == 200,
                    "page status {}",
                    response.status()
                );
                response.bytes().await?;
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let pages = 8 * PER_CLIENT;
    let rate = pages as f64 / started.elapsed().as_secs_f64();
    println!(
        "{label:<11} sign-in (GET+POST /login, argon2id verify) mean {:>6.1} ms, p50 {:>6.1} ms, max {:>6.1} ms; \
         signed-in page views {rate:>6.0}/s (8 browsers, {pages} requests)",
        mean.as_secs_f64() * 1000.0,
        latencies[latencies.len() / 2].as_secs_f64() * 1000.0,
        latencies[latencies.len() - 1].as_secs_f64() * 1000.0,
    );
    stop.stop(true).await;
    running.await??;
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let started = Instant::now();
    let mut hashes = Vec::new();
    for _ in 0..10 {
        hashes.push(portal_app::password::hash(PASSWORD.to_owned()).await?);
    }
    let hash_ms = started.elapsed().as_secs_f64() * 100.0;
    let started = Instant::now();
    for hash in &hashes {
        portal_app::password::verify(PASSWORD.to_owned(), hash.clone()).await?;
    }
    println!(
        "argon2id (19 MiB, t=2, p=1): hash {hash_ms:.1} ms, verify {:.1} ms",
        started.elapsed().as_secs_f64() * 100.0
    );
    run("SQLite", TestDatabase::sqlite().await?).await?;
    if std::env::var(portal_persistence::testing::TEST_DATABASE_URL_VAR).is_ok() {
        run("PostgreSQL", TestDatabase::new().await?).await?;
    }
    Ok(())
}
