//! What a newcomer waits for and downloads: the time from `portal serve` to the first page it serves, and each
//! main page's weight (HTML + CSS + JS as served). Printed for the notes; the assertions are loose bounds.

use super::webdriver::Browser;
use crate::process::{Server, Setup};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Bytes of a page as served (uncompressed: the portal does not compress).
#[derive(Debug, Clone, Copy, Default)]
pub struct Weight {
    pub html: u64,
    pub css: u64,
    pub js: u64,
}

impl Weight {
    pub fn total(self) -> u64 {
        self.html + self.css + self.js
    }
}

/// Fetches again, from the page itself, its HTML and every stylesheet and script it links, and counts the bytes.
pub async fn weigh(browser: &Browser) -> Weight {
    let sizes = browser
        .execute_async(
            "var done = arguments[arguments.length - 1];
             var parts = [[location.href, 'html']];
             document.querySelectorAll('link[rel=stylesheet][href]').forEach(function (l) { parts.push([l.href, 'css']); });
             document.querySelectorAll('script[src]').forEach(function (s) { parts.push([s.src, 'js']); });
             Promise.all(parts.map(function (part) {
               return fetch(part[0], { credentials: 'same-origin', cache: 'no-store' })
                 .then(function (r) { return r.arrayBuffer(); })
                 .then(function (body) { return [part[1], body.byteLength]; });
             })).then(function (all) {
               var out = { html: 0, css: 0, js: 0 };
               all.forEach(function (one) { out[one[0]] += one[1]; });
               done(out);
             }, function (error) { done({ error: String(error) }); });",
            vec![],
        )
        .await;
    let bytes = |kind: &str| sizes.get(kind).and_then(Value::as_u64);
    match (bytes("html"), bytes("css"), bytes("js")) {
        (Some(html), Some(css), Some(js)) => Weight { html, css, js },
        _ => panic!("weighing {} failed: {sizes}", browser.current_url().await),
    }
}

/// Starts `portal serve` and waits for `/login` to answer 200; returns how long that took.
async fn time_to_first_page(setup: &Setup) -> (Duration, Server) {
    let started = Instant::now();
    let server = Server::start(setup.command());
    let client = reqwest::Client::new();
    let login = format!("{}/login", server.base_url);
    loop {
        if let Ok(response) = client.get(&login).send().await
            && response.status() == 200
        {
            return (started.elapsed(), server);
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no page served after two minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn portal_serve_answers_its_first_page_within_seconds() {
    let setup = Setup::new().await;
    // The first start creates the demonstration (users, companies, about thirty invoices sent to the sandbox).
    let (first, server) = time_to_first_page(&setup).await;
    assert!(server.terminate().success());
    // Later starts find the database filled.
    let (again, server) = time_to_first_page(&setup).await;
    assert!(server.terminate().success());
    eprintln!(
        "time to the first served page: first start (creates the demonstration) {first:?}, next start {again:?}"
    );
    assert!(
        first < Duration::from_secs(60) && again < Duration::from_secs(30),
        "first {first:?}, again {again:?}"
    );
}
