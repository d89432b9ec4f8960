//! The first five minutes: `portal serve` on an empty database starts the embedded Billit sandbox, creates the
//! demonstration and prints its logins; signing in shows invoices whose statuses arrive while one watches.

use crate::process::{Server, Setup};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) async fn sign_in(client: &reqwest::Client, base: &str, email: &str, password: &str) {
    let login = client
        .get(format!("{base}/login"))
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
        .post(format!("{base}/login"))
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303, "sign-in of {email}");
}

/// The distinct headline statuses the list's filter chips show (`207 · En litige` …).
fn headline_codes(html: &str) -> BTreeSet<u16> {
    let chips = html
        .split("class=\"chips\"")
        .nth(1)
        .and_then(|rest| rest.split("</nav>").next())
        .unwrap_or_default();
    chips
        .split(" · ")
        .filter_map(|before| {
            let digits: String = before
                .chars()
                .rev()
                .take_while(char::is_ascii_digit)
                .collect();
            (digits.len() == 3)
                .then(|| digits.chars().rev().collect::<String>())
                .and_then(|code| code.parse().ok())
        })
        .filter(|code| (200..=600).contains(code))
        .collect()
}

/// A log line without its colours.
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // An escape sequence: `ESC [ … letter`.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The time at the start of a log line (`2026-12-02T04:02:09.123456Z  INFO …`), if it has one.
fn logged_at(line: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    line.split_whitespace().next()?.parse().ok()
}

#[tokio::test]
async fn an_empty_database_starts_a_living_demonstration() {
    let setup = Setup::new().await;
    let mut command = setup.command();
    // Slow enough that the first company's statuses still arrive while the larger demonstration (seven companies)
    // is being created and the test looks, fast enough for a test.
    command.env("PORTAL_BILLIT__EMBEDDED_STEP_MS", "2500");
    // The logs a newcomer sees (`cargo run`: the default level).
    command.env_remove("RUST_LOG");
    let server = Server::start_with_logs(command);
    let lines = server.lines_until("passwords are shown once");
    let logins_at = chrono::Utc::now();
    let login = lines
        .iter()
        .find(|line| line.contains("claire@atelier-martin.fr"))
        .unwrap_or_else(|| panic!("claire's login is printed: {lines:#?}"));
    let password = login.rsplit(" / ").next().unwrap().trim().to_owned();

    let client = browser();
    sign_in(
        &client,
        &server.base_url,
        "claire@atelier-martin.fr",
        &password,
    )
    .await;
    let list = format!("{}/t/atelier-martin/invoices", server.base_url);
    let first = client
        .get(&list)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut seen = headline_codes(&first);
    while seen.len() < 6 {
        assert!(
            Instant::now() < deadline,
            "statuses keep arriving: only {seen:?} so far"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let html = client
            .get(&list)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        seen = headline_codes(&html);
    }
    assert!(
        seen.len() > headline_codes(&first).len(),
        "some statuses changed while watched: {seen:?}"
    );
    let dashboard = client
        .get(format!("{}/t/atelier-martin/", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(dashboard.status(), 200);

    // The demonstration's first wave (thirty invoices sent, their statuses, payments, notifications) has run:
    // nothing of it was logged after the logins, which stay the last lines of the console (apart from one
    // line per request this visitor made).
    let logs: Vec<String> = server
        .logs
        .as_ref()
        .expect("the logs are kept")
        .try_iter()
        .map(|line| plain(&line))
        .collect();
    assert!(
        logs.iter()
            .any(|line| line.contains("portal started") && logged_at(line).is_some()),
        "the logs and their times are read: {logs:#?}"
    );
    let after_logins: Vec<String> = logs
        .into_iter()
        .filter(|line| logged_at(line).is_some_and(|at| at > logins_at))
        .filter(|line| !line.contains("portal_web::telemetry"))
        .collect();
    assert!(
        after_logins.is_empty(),
        "logged after the logins: {after_logins:#?}"
    );

    // A second start on the same database does not create it again.
    assert!(server.terminate().success());
    let again = Server::start(setup.command());
    let lines = again.lines_until("Ready");
    assert!(lines.iter().all(|line| !line.contains("Demonstration")));
    // The logins would come last, after "Ready": none.
    let after = again.output.recv_timeout(Duration::from_secs(2));
    assert!(after.is_err(), "{after:?}");
    assert!(again.terminate().success());
}

#[tokio::test]
async fn production_mode_starts_no_sandbox_and_no_demonstration() {
    let setup = Setup::new().await;
    let mut command = setup.command();
    command.env("PORTAL_SERVER__MODE", "production");
    let server = Server::start(command);
    let lines = server.lines_until("Ready");
    assert!(
        lines
            .iter()
            .all(|line| !line.contains("sandbox") && !line.contains("WARNING")),
        "{lines:#?}"
    );
    // Nothing follows: no demonstration logins.
    let after = server
        .output
        .recv_timeout(std::time::Duration::from_secs(2));
    assert!(after.is_err(), "{after:?}");
    assert!(server.terminate().success());
}

#[tokio::test]
async fn no_demo_starts_empty() {
    let setup = Setup::new().await;
    let server = Server::start_with(setup.command(), &["--no-demo"]);
    let lines = server.lines_until("Ready");
    assert!(
        lines.iter().all(|line| !line.contains("Demonstration")),
        "{lines:#?}"
    );
    assert!(server.terminate().success());
}
