//! The firm's console in a real Chromium: a firm accountant lands on it, sees requests of two companies of their
//! portfolio, answers a suspension (208) of one of them by email from another window, and the console's row says
//! "answered" without being reloaded (its live stream); the console passes axe;
//! outside the portfolio, a company's pages, the inbox filtered on it, its export and its live stream are 404s.

use super::accessibility::axe;
use super::webdriver::{Browser, eventually};
use super::{Demo, axe_source, sign_in};
use serde_json::Value;
use std::time::Duration;

const JULIE: &str = "julie@cabinet-demo.fr";
const COMPANY_A: &str = "Atelier Martin SARL";
const COMPANY_B: &str = "Boulangerie Dupont SAS";

/// The console's rows as `(company, kind, status text, invoice link, answered)`.
async fn rows(browser: &Browser) -> Vec<Value> {
    browser
        .execute(
            "return Array.prototype.map.call(document.querySelectorAll('tr.firm-row'), function (row) {
               var link = row.querySelector('td:nth-child(2) a');
               var answer = row.querySelector('[data-answered]');
               return { company: row.getAttribute('data-company'), kind: row.getAttribute('data-kind'),
                        status: row.querySelector('td:nth-child(3)').textContent,
                        href: link ? link.getAttribute('href') : null,
                        answered: answer ? answer.getAttribute('data-answered') : null };
             });",
            vec![],
        )
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn company_has_request(rows: &[Value], company: &str) -> bool {
    rows.iter()
        .any(|row| row["company"] == company && row["kind"] == "request")
}

#[tokio::test]
async fn a_firm_accountant_answers_a_request_and_the_console_says_so_without_reloading() {
    let demo = Demo::start(300).await;
    let console = Browser::start("firm_console").await;
    sign_in(&console, &demo, JULIE).await;
    assert!(
        console.current_url().await.ends_with("/firm"),
        "firm staff land on the console: {}",
        console.current_url().await
    );
    // The demonstration's statuses arrive: requests of two companies of the portfolio show up by themselves.
    let found = eventually(
        "open requests of two companies on the console",
        Duration::from_secs(180),
        || async {
            let rows = rows(&console).await;
            let suspended_b = rows.iter().find(|row| {
                row["company"] == COMPANY_B
                    && row["kind"] == "request"
                    && row["status"]
                        .as_str()
                        .is_some_and(|text| text.contains("208"))
                    && row["answered"] == "false"
            });
            (company_has_request(&rows, COMPANY_A) && suspended_b.is_some())
                .then(|| suspended_b.cloned())
                .flatten()
        },
    )
    .await;
    let href = found["href"].as_str().unwrap().to_owned();
    console.execute("window.__marker = 1;", vec![]).await;

    let violations = axe(&console, &axe_source()).await;
    let serious: Vec<&Value> = violations
        .iter()
        .filter(|violation| matches!(violation["impact"].as_str(), Some("serious" | "critical")))
        .collect();
    assert!(serious.is_empty(), "axe on /firm: {serious:#?}");

    // Another window of the same person opens company B's suspended invoice and answers it by email.
    let desk = Browser::start("firm_answer").await;
    sign_in(&desk, &demo, JULIE).await;
    let invoice_url = demo.url(&href);
    desk.goto(&invoice_url).await;
    let answer = desk
        .wait_for("#answers a.button", Duration::from_secs(20))
        .await;
    desk.click(&answer).await;
    desk.wait_for("form.answers-form", Duration::from_secs(20))
        .await;
    let preview = desk.find("button[name=action][value=preview]").await;
    desk.click(&preview).await;
    desk.wait_for("#preview", Duration::from_secs(20)).await;
    let send = desk.find("button[name=action][value=send]").await;
    desk.click(&send).await;
    eventually(
        "back on the invoice page after sending",
        Duration::from_secs(30),
        || async {
            let url = desk.current_url().await;
            (url.split('#').next() == Some(invoice_url.as_str())).then_some(())
        },
    )
    .await;

    // The console, never reloaded, now says the request was answered, and by whom.
    eventually(
        "the console's row says answered",
        Duration::from_secs(30),
        || async {
            let rows = rows(&console).await;
            rows.iter()
                .any(|row| row["href"] == href.as_str() && row["answered"] == "true")
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        console.execute("return window.__marker;", vec![]).await,
        serde_json::json!(1),
        "the console was updated in place, not reloaded"
    );
    let text = console.text_of("tr.firm-row [data-answered=true]").await;
    assert!(text.contains("Julie Fabre"), "by whom: {text}");

    // Outside the portfolio: 404, in the browser too.
    console.goto(&demo.url("/t/traiteur-rousseau/")).await;
    assert!(console.source().await.contains("404"));
    // Its list, the inbox filtered on it, the inbox's export of it and its live stream, as the browser asks for them.
    let outside = [
        "/t/traiteur-rousseau/invoices",
        "/firm?company=traiteur-rousseau",
        "/firm/export.csv?company=traiteur-rousseau",
        "/t/traiteur-rousseau/live",
    ];
    let statuses = console
        .execute_async(
            "var done = arguments[arguments.length - 1];
             Promise.all(arguments[0].map(function (path) {
               return fetch(path, { credentials: 'same-origin' }).then(function (answer) { return answer.status; });
             })).then(done, function (error) { done(String(error)); });",
            vec![serde_json::json!(outside)],
        )
        .await;
    assert_eq!(
        statuses,
        serde_json::json!([404, 404, 404, 404]),
        "outside the portfolio, for {outside:?}"
    );
}
