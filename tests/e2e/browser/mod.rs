//! Browser tests: a real (headless) Chromium drives the real `portal serve` with its embedded Billit sandbox and
//! demonstration, through WebDriver. They need Debian's `chromium` and `chromium-driver` and the npm package
//! `axe-core`, which `.ci/ensure-browser` installs; without them they fail and say so (never a silent skip).

mod accessibility;
mod console;
mod firm;
mod journey;
mod keyboard;
mod live_rows;
mod measures;
mod nodes;
mod reminders;
pub mod webdriver;

use crate::process::{Server, Setup};
use std::path::PathBuf;
use std::time::Duration;
use webdriver::Browser;

/// `portal serve` on an empty database: the demonstration, its printed logins and its sandbox's address.
pub struct Demo {
    pub server: Server,
    /// The embedded Billit sandbox (its `/_sandbox/…` control API answers loopback callers).
    pub sandbox_url: String,
    logins: Vec<(String, String)>,
    /// Dropped after the server (fields drop in order): a PostgreSQL test database outlives the process using it.
    _setup: Setup,
}

impl Demo {
    /// Starts the portal; `step_ms` is the time between two steps of a sandbox scenario.
    pub async fn start(step_ms: u64) -> Self {
        Self::start_with_smtp(step_ms, None).await
    }

    /// Starts the portal sending its emails to `smtp_url` (a real SMTP server) instead of its file outbox; the
    /// demonstration's "sent emails" page then does not exist.
    pub async fn start_with_smtp(step_ms: u64, smtp_url: Option<&str>) -> Self {
        match smtp_url {
            Some(url) => Self::start_with_env(step_ms, &[("PORTAL_MAIL__SMTP_URL", url)]).await,
            None => Self::start_with_env(step_ms, &[]).await,
        }
    }

    /// Starts the portal with these settings (`PORTAL_…` environment variables) besides the defaults.
    pub async fn start_with_env(step_ms: u64, env: &[(&str, &str)]) -> Self {
        let setup = Setup::new().await;
        let mut command = setup.command();
        command.env("PORTAL_BILLIT__EMBEDDED_STEP_MS", step_ms.to_string());
        for (name, value) in env {
            command.env(name, value);
        }
        let server = Server::start(command);
        let lines = server.lines_until("passwords are shown once");
        let sandbox_url = lines
            .iter()
            .find_map(|line| line.strip_prefix("Embedded Billit sandbox on "))
            .unwrap_or_else(|| panic!("the sandbox's address is printed: {lines:#?}"))
            .trim()
            .to_owned();
        // `  Atelier Martin SARL (admin)        claire@atelier-martin.fr / <password>`
        let logins = lines
            .iter()
            .filter_map(|line| {
                let (before, password) = line.rsplit_once(" / ")?;
                let email = before.split_whitespace().last()?;
                email
                    .contains('@')
                    .then(|| (email.to_owned(), password.trim().to_owned()))
            })
            .collect();
        Self {
            server,
            sandbox_url,
            logins,
            _setup: setup,
        }
    }

    /// The printed password of a demonstration login.
    pub fn password(&self, email: &str) -> &str {
        self.logins
            .iter()
            .find(|(login, _)| login == email)
            .map(|(_, password)| password.as_str())
            .unwrap_or_else(|| panic!("{email} is among the printed logins: {:?}", self.logins))
    }

    /// A `portal` command on the same data dir and database (another node of the same deployment).
    pub fn command(&self) -> std::process::Command {
        self._setup.command()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url)
    }
}

/// The demonstration's people.
pub const CLAIRE: &str = "claire@atelier-martin.fr";
pub const PAUL: &str = "paul@atelier-martin.fr";
pub const SOPHIE: &str = "sophie@boulangerie-dupont.fr";
pub const FIRM_ADMIN: &str = "admin@cabinet-demo.fr";
pub const MARTIN: &str = "/t/atelier-martin";

/// Signs in through the login form, as a person would, and waits for the page after it.
pub async fn sign_in(browser: &Browser, demo: &Demo, email: &str) {
    browser.goto(&demo.url("/login")).await;
    browser.fill("#email", email).await;
    browser.fill("#password", demo.password(email)).await;
    let submit = browser
        .find("form[action='/login'] button[type=submit]")
        .await;
    browser.click(&submit).await;
    webdriver::eventually(
        &format!("{email} is signed in"),
        Duration::from_secs(30),
        || async {
            let url = browser.current_url().await;
            (!url.ends_with("/login") && !url.contains("/login?")).then_some(())
        },
    )
    .await;
    let user = browser.try_find(".site-nav__user").await;
    let Some(user) = user else {
        panic!("{email} is not signed in: {}", browser.current_url().await)
    };
    assert!(
        !browser.text(&user).await.is_empty(),
        "the header names the user"
    );
}

/// Signs out through the header's form.
pub async fn sign_out(browser: &Browser) {
    let button = browser.find("form[action='/logout'] button").await;
    browser.click(&button).await;
    browser
        .wait_until_script(
            "!document.querySelector('.site-nav__user')",
            Duration::from_secs(20),
        )
        .await;
}

/// axe-core's browser bundle: `AXE_CORE_JS` if set, else where `.ci/ensure-browser` installs it.
pub fn axe_source() -> String {
    let path = std::env::var_os("AXE_CORE_JS").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../.ci/.cache/node_modules/axe-core/axe.min.js")
        },
        PathBuf::from,
    );
    std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "axe-core is missing at {} ({error}): run `bash .ci/ensure-browser` (or set AXE_CORE_JS to axe.min.js)",
            path.display()
        )
    })
}
