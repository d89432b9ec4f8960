//! Two nodes on one PostgreSQL database, as behind a load balancer without sticky sessions: node B is the
//! demonstration (its embedded Billit sandbox, its workers: the webhooks are delivered to it and its workers
//! ingest them), node A a web-only node (`jobs.workers = 0`) on the same database and data dir (master key). A
//! page open on A shows a status that B received and ingested, without a reload (PostgreSQL `LISTEN`/`NOTIFY`);
//! a session signed in on A works on B; signed out on B, its cookie is refused on A at once, although A keeps
//! what it read for a minute (the invalidation crossed over).
//!
//! On SQLite there is one node per database file (nothing carries live updates or cache invalidations between
//! two processes), so the test says so and returns.

use super::webdriver::{Browser, eventually};
use super::{CLAIRE, Demo, MARTIN};
use crate::process::Server;
use std::time::Duration;

const HEADLINE: &str = ".invoice-head .status--large";

/// Signs in through node `base`'s login form.
async fn sign_in_at(browser: &Browser, base: &str, email: &str, password: &str) {
    browser.goto(&format!("{base}/login")).await;
    browser.fill("#email", email).await;
    browser.fill("#password", password).await;
    let submit = browser
        .find("form[action='/login'] button[type=submit]")
        .await;
    browser.click(&submit).await;
    browser
        .wait_for(".site-nav__user", Duration::from_secs(30))
        .await;
}

/// The first link whose href matches `pattern` in a row or item mentioning `near` (the demonstration's statuses
/// keep arriving: waits, reloading the page between looks).
async fn link_near(browser: &Browser, page: &str, pattern: &str, near: &str) -> String {
    let script = "var pattern = new RegExp(arguments[0]); var links = document.querySelectorAll('a[href]');
                  for (var i = 0; i < links.length; i++) {
                    var href = links[i].getAttribute('href');
                    var around = links[i].closest('tr, li, article, div') || links[i];
                    if (pattern.test(href) && around.textContent.indexOf(arguments[1]) >= 0) { return href; }
                  } return null;";
    eventually(
        &format!("a link to {pattern} near {near:?}"),
        Duration::from_secs(180),
        || async {
            browser.goto(page).await;
            browser
                .execute(
                    script,
                    vec![serde_json::json!(pattern), serde_json::json!(near)],
                )
                .await
                .as_str()
                .map(str::to_owned)
        },
    )
    .await
}

/// The Billit order number the invoice page shows.
pub(super) async fn order_id(browser: &Browser) -> i64 {
    let script = "var items = document.querySelectorAll('.meta li'); \
                  for (var i = 0; i < items.length; i++) { \
                    var found = /n°\\s*(\\d+)/.exec(items[i].textContent); \
                    if (found) { return found[1]; } } return null;";
    browser
        .execute(script, vec![])
        .await
        .as_str()
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("the page shows its Billit order"))
}

/// A cookie jar of one: the session cookie's value, sent by hand, so that it can be sent again after signing out.
pub(super) struct Session {
    client: reqwest::Client,
    cookie: String,
}

impl Session {
    /// Signs in on `base` with the login form's CSRF token (bound to the pre-session cookie).
    pub(super) async fn sign_in(base: &str, email: &str, password: &str) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let form = client.get(format!("{base}/login")).send().await.unwrap();
        let presession = cookie_of(&form, "portal_presession").expect("a pre-session cookie");
        let token = csrf_of(&form.text().await.unwrap());
        let signed = client
            .post(format!("{base}/login"))
            .header("cookie", format!("portal_presession={presession}"))
            .form(&[
                ("email", email),
                ("password", password),
                ("csrf_token", token.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), 303, "signed in on {base}");
        let cookie = cookie_of(&signed, "portal_session").expect("a session cookie");
        Self { client, cookie }
    }

    pub(super) async fn get(&self, url: &str) -> reqwest::Response {
        self.client
            .get(url)
            .header("cookie", format!("portal_session={}", self.cookie))
            .send()
            .await
            .unwrap()
    }

    /// Signs out on `base` with a CSRF token read from one of its pages.
    async fn sign_out(&self, base: &str) {
        let page = self.get(&format!("{base}{MARTIN}/")).await;
        assert_eq!(page.status(), 200);
        let token = csrf_of(&page.text().await.unwrap());
        let out = self
            .client
            .post(format!("{base}/logout"))
            .header("cookie", format!("portal_session={}", self.cookie))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 303, "signed out on {base}");
    }
}

fn cookie_of(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| {
            let pair = value.split(';').next()?;
            let (key, value) = pair.split_once('=')?;
            (key.trim() == name && !value.is_empty()).then(|| value.to_owned())
        })
}

fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf_token\"")
        .expect("a form with a CSRF token");
    let value = &html[at..];
    let start = value.find("value=\"").expect("the token's value") + "value=\"".len();
    value[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn two_nodes_share_live_updates_and_sessions_on_one_postgresql() {
    if std::env::var(portal_persistence::testing::TEST_DATABASE_URL_VAR).is_err() {
        eprintln!(
            "skipped: several nodes need PostgreSQL (set {}); on SQLite one process owns the database file",
            portal_persistence::testing::TEST_DATABASE_URL_VAR
        );
        return;
    }
    // Node B: the demonstration, its sandbox and its workers. A status step every 300 ms.
    let demo = Demo::start(300).await;
    // Node A: web only, same database and data dir (the master key), the same Billit (B's embedded sandbox),
    // sessions and menus kept a minute (so that only the bus can tell it of a sign-out in time).
    let mut command = demo.command();
    command
        .env("PORTAL_JOBS__WORKERS", "0")
        .env("PORTAL_BILLIT__EMBEDDED_URL", &demo.sandbox_url)
        .env("PORTAL_SECURITY__SESSION_CACHE_SECS", "60");
    let node_a = Server::start_with(command, &["--no-demo"]);
    let a = node_a.base_url.clone();
    let b = demo.server.base_url.clone();
    assert_ne!(a, b);

    let browser = Browser::start("two_nodes_share_live_updates_and_sessions").await;
    sign_in_at(&browser, &a, CLAIRE, demo.password(CLAIRE)).await;
    // A suspended invoice (the `_SUSPEND` scenario), its page open on node A.
    let suspended = link_near(
        &browser,
        &format!("{a}{MARTIN}/invoices"),
        "/invoices/[0-9a-f-]{36}$",
        "208",
    )
    .await;
    browser.goto(&format!("{a}{suspended}")).await;
    let before = browser.text_of(HEADLINE).await;
    assert!(before.starts_with("208"), "suspended: {before}");
    browser.execute("window.__marker = 1;", vec![]).await;
    // The page's event stream is open before the status is sent.
    browser
        .wait_until_script(
            "document.querySelector('[data-live]') !== null \
             && document.querySelector('[data-live]').getAttribute('data-live-state') === 'open'",
            Duration::from_secs(90),
        )
        .await;

    // The buyer completes the invoice (209) at Billit: the sandbox signs and delivers the webhooks to node B (the
    // address its companies registered), whose workers ingest them; node A has no worker.
    let order = order_id(&browser).await;
    let injected = reqwest::Client::new()
        .post(format!(
            "{}/_sandbox/orders/{order}/events",
            demo.sandbox_url
        ))
        .json(&serde_json::json!({ "code": 209 }))
        .send()
        .await
        .unwrap();
    assert!(injected.status().is_success(), "{injected:?}");
    let after = eventually(
        "the page on node A shows the status ingested on node B",
        Duration::from_secs(60),
        || async {
            let headline = browser.text_of(HEADLINE).await;
            (!headline.starts_with("208")).then_some(headline)
        },
    )
    .await;
    assert!(
        after.starts_with("209") || after.starts_with("205"),
        "completed, then approved: {after}"
    );
    assert_eq!(
        browser
            .execute("return window.__marker === 1;", vec![])
            .await,
        serde_json::json!(true),
        "the page on node A was updated in place, not reloaded"
    );

    // No sticky sessions: the browser's session (cookies are per host, not per port) works on node B.
    browser.goto(&format!("{b}{MARTIN}/")).await;
    assert!(
        browser.try_find(".site-nav__user").await.is_some(),
        "signed in on node B with node A's session"
    );

    // Signed in on A, used on both (each node has read it), signed out on B: A refuses the cookie at once,
    // although it keeps what it reads for a minute.
    let session = Session::sign_in(&a, CLAIRE, demo.password(CLAIRE)).await;
    assert_eq!(session.get(&format!("{a}{MARTIN}/")).await.status(), 200);
    assert_eq!(session.get(&format!("{b}{MARTIN}/")).await.status(), 200);
    session.sign_out(&b).await;
    let refused = eventually(
        "node A refuses the session signed out on node B",
        Duration::from_secs(5),
        || async {
            let page = session.get(&format!("{a}{MARTIN}/")).await;
            (page.status() == 303).then_some(page)
        },
    )
    .await;
    let location = refused
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        location.starts_with("/login"),
        "to the sign-in page: {location}"
    );
    drop(node_a);
}
