use crate::process::{BINARY, Setup, portal};
use std::process::Command;

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Bad configuration stops the start with exit code 2 and one line naming the problem.
fn assert_refused(mut command: Command, expected: &str) {
    let output = command
        .args(["serve", "--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(expected),
        "expected '{expected}' in: {stderr}"
    );
}

#[test]
fn an_unknown_key_in_the_config_file_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("portal.toml");
    std::fs::write(&config, "[server]\nbind = \"127.0.0.1:0\"\nport = 8080\n").unwrap();
    let mut command = portal(&dir.path().join("data"));
    command.arg("--config").arg(&config);
    assert_refused(command, "server.port");
}

#[test]
fn an_unknown_environment_setting_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = portal(&dir.path().join("data"));
    command.env("PORTAL_JOBS__WORKRES", "2");
    assert_refused(command, "PORTAL_JOBS__WORKRES");
}

#[test]
fn a_malformed_database_url_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = portal(&dir.path().join("data"));
    command.env("DATABASE_URL", "postgres://postgres@127.0.0.1:port/test");
    assert_refused(command, "database.url");
    let mut command = portal(&dir.path().join("data"));
    command.env("DATABASE_URL", "mongodb://localhost/x");
    assert_refused(command, "DATABASE_URL must start with");
}

#[test]
fn a_bad_trusted_proxy_is_refused_by_name() {
    for (bad, expected) in [
        ("10.0.0.0/33", "server.trusted_proxies"),
        (
            "proxy.internal",
            "'proxy.internal' is not an IP address or network",
        ),
        ("10.0.0.1/8", "write the network as 10.0.0.0/8"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut command = portal(&dir.path().join("data"));
        command.env("PORTAL_SERVER__TRUSTED_PROXIES", format!("::1/128, {bad}"));
        assert_refused(command, expected);
    }
}

#[test]
fn an_unusable_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    assert_refused(portal(&file.join("data")), "data dir");
}

#[test]
fn help_lists_the_commands() {
    let output = Command::new(BINARY).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    for command in ["serve", "migrate", "create-admin"] {
        assert!(text.contains(command), "{text}");
    }
}

#[tokio::test]
async fn migrate_then_create_admin_then_reset_it() {
    let setup = Setup::new().await;
    let migrated = setup.command().arg("migrate").output().unwrap();
    assert!(migrated.status.success(), "{}", stderr_of(&migrated));
    assert!(String::from_utf8_lossy(&migrated.stdout).contains("Migrations applied"));

    let created = setup.run_with_stdin(
        &[
            "create-admin",
            "--email",
            "admin@cabinet.fr",
            "--password-stdin",
        ],
        "a long enough password\n",
    );
    assert!(created.status.success(), "{}", stderr_of(&created));
    assert!(String::from_utf8_lossy(&created.stdout).contains("created"));

    let reset = setup.run_with_stdin(
        &[
            "create-admin",
            "--email",
            "ADMIN@cabinet.fr",
            "--password-stdin",
        ],
        "another long password\n",
    );
    assert!(reset.status.success(), "{}", stderr_of(&reset));
    assert!(String::from_utf8_lossy(&reset.stdout).contains("password reset"));

    // The stored hash is argon2id, and the password is nowhere in the output.
    let db = match &setup.database {
        Some(database) => database.db.clone(),
        None => portal_persistence::db::connect(
            &portal_persistence::DatabaseTarget::SqliteFile(setup.data_dir.join("portal.db")),
            &portal_persistence::PoolSettings::default(),
        )
        .await
        .unwrap(),
    };
    let users = portal_persistence::users::UserRepository::new(db);
    let admin = users
        .find_by_email("admin@cabinet.fr")
        .await
        .unwrap()
        .unwrap();
    assert!(admin.is_firm_admin);
    let hash = users.password_hash(admin.id).await.unwrap().unwrap();
    assert!(hash.starts_with("$argon2id$"));
    assert!(!String::from_utf8_lossy(&reset.stdout).contains("another long password"));
}

#[tokio::test]
async fn create_admin_refuses_a_short_password_or_a_bad_email() {
    let setup = Setup::new().await;
    let short = setup.run_with_stdin(
        &[
            "create-admin",
            "--email",
            "a@cabinet.fr",
            "--password-stdin",
        ],
        "short\n",
    );
    assert_eq!(short.status.code(), Some(2));
    assert!(stderr_of(&short).contains("at least 12"));
    let bad = setup.run_with_stdin(
        &[
            "create-admin",
            "--email",
            "not-an-email",
            "--password-stdin",
        ],
        "a long enough password\n",
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr_of(&bad).contains("not an email"));
}

fn inspect(file: &str, json: bool) -> std::process::Output {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(file);
    let mut command = Command::new(BINARY);
    command.args(["billit", "inspect"]).arg(path);
    if json {
        command.args(["--format", "json"]);
    }
    command.output().unwrap()
}

fn lifecycle_of(file: &str) -> serde_json::Value {
    let output = inspect(file, true);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report["observations"].is_array());
    report["lifecycle"].clone()
}

#[test]
fn billit_inspect_json_folds_the_three_orders_as_the_domain_says() {
    let delivered = lifecycle_of("billit/order-delivered.json");
    assert_eq!(delivered["current"], 203);
    assert_eq!(delivered["delivery"], "delivered");
    assert_eq!(delivered["tax_reporting"], "done");
    assert_eq!(delivered["payment"], "unpaid");
    assert_eq!(delivered["needs_action"], false);

    let partial = lifecycle_of("billit/order-delivered-reported-partially-paid.json");
    assert_eq!(partial["current"], 203);
    assert_eq!(partial["delivery"], "delivered");
    assert_eq!(partial["tax_reporting"], "done");
    assert_eq!(partial["payment"], "partial");

    let rejected = lifecycle_of("billit/order-ppf-rejected.json");
    assert_eq!(rejected["current"], 251);
    assert_eq!(rejected["final"], true);
    assert_eq!(rejected["needs_action"], true);
    assert_eq!(rejected["tax_reporting"], "failed");
    assert_eq!(rejected["delivery"], "pending");
}

#[test]
fn billit_inspect_reads_a_cdar_file_and_prints_a_table_by_default() {
    let dispute = lifecycle_of("cdar/UC4_F202500006_04-CDV-207_En_litige.xml");
    assert_eq!(dispute["current"], 207);
    assert_eq!(dispute["open_request"], 207);
    let table = inspect("cdar/UC4_F202500006_04-CDV-207_En_litige.xml", false);
    assert!(table.status.success());
    assert!(String::from_utf8_lossy(&table.stdout).contains("207"));
}

#[test]
fn billit_inspect_refuses_unreadable_input_with_exit_code_2_and_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{ not json").unwrap();
    for path in [garbage, dir.path().join("missing.xml")] {
        let output = Command::new(BINARY)
            .args(["billit", "inspect"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2));
        assert_eq!(
            stderr_of(&output).trim_end().lines().count(),
            1,
            "{}",
            stderr_of(&output)
        );
    }
}

#[tokio::test]
async fn dev_seed_fills_companies_whose_admins_can_sign_in() {
    let setup = Setup::new().await;
    let output = setup
        .command()
        .args(["dev", "seed", "--tenants", "2", "--invoices", "300"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(
        stdout.contains("Seeded 2 companies, 600 invoices"),
        "{stdout}"
    );
    assert!(stdout.contains("admin@seed-001.example.fr"), "{stdout}");

    // Seeding again with the same prefix is refused and changes nothing.
    let again = setup
        .command()
        .args(["dev", "seed", "--tenants", "1", "--invoices", "10"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr_of(&again).contains("seed-001"),
        "{}",
        stderr_of(&again)
    );

    let bad = setup
        .command()
        .args(["dev", "seed", "--prefix", "Not OK"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", stderr_of(&bad));

    let server = crate::process::Server::start(setup.command());
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = client
        .get(format!("{}/login", server.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = login
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let signed = client
        .post(format!("{}/login", server.base_url))
        .form(&[
            ("email", "admin@seed-001.example.fr"),
            ("password", "seed password 2026"),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    let home = client
        .get(format!("{}/t/seed-001/", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200);
    assert!(server.terminate().success());
}

/// `inspect` of a status file that references two invoices: two observations, each with its invoice number (built
/// from the official UC4 sample by adding a second reference, approved, for invoice F202500099).
#[test]
fn billit_inspect_reads_a_two_invoice_cdar_as_two_observations() {
    const OPEN: &str = "<ram:ReferenceReferencedDocument>";
    const CLOSE: &str = "</ram:ReferenceReferencedDocument>";
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let text =
        std::fs::read_to_string(fixtures.join("cdar/UC4_F202500006_04-CDV-207_En_litige.xml"))
            .unwrap();
    let (start, end) = (
        text.find(OPEN).unwrap(),
        text.find(CLOSE).unwrap() + CLOSE.len(),
    );
    let second = text[start..end]
        .replace("F202500006", "F202500099")
        .replace(
            "<ram:ProcessConditionCode>207<",
            "<ram:ProcessConditionCode>205<",
        );
    let two = format!(
        "{}{}{second}{}",
        &text[..start],
        &text[start..end],
        &text[end..]
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two-invoices.xml");
    std::fs::write(&path, two).unwrap();
    let output = Command::new(BINARY)
        .args(["billit", "inspect"])
        .arg(&path)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let observations = report["observations"].as_array().unwrap();
    assert_eq!(observations.len(), 2, "{report}");
    let mut seen: Vec<(String, u64)> = observations
        .iter()
        .map(|o| {
            (
                o["invoice_number"].as_str().unwrap().to_owned(),
                o["code"].as_u64().unwrap(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("F202500006".to_owned(), 207),
            ("F202500099".to_owned(), 205)
        ]
    );
}
