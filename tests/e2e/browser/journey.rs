//! A person's first session, in a real browser: sign in, create a customer, write and send an invoice, watch its
//! status arrive on the invoice page without reloading it, read the email it caused among the sent emails; then,
//! signed in as the other company, fail to reach it.

use super::webdriver::{Browser, eventually};
use super::{CLAIRE, Demo, MARTIN, SOPHIE, sign_in, sign_out};
use crate::smtp::SmtpServer;
use mail_parser::{MessageParser, MimeHeaders};
use std::time::Duration;

/// A valid SIREN that no demonstration customer has; the `_SUSPEND` suffix makes the sandbox suspend the invoice
/// (208) until the test completes it (209).
const CUSTOMER_SIREN: &str = "552100554";
const CUSTOMER_NAME: &str = "Menuiserie Navigateur";
const CUSTOMER_EMAIL: &str = "comptabilite@menuiserie.test";
const HEADLINE: &str = ".invoice-head .status--large";

/// The id at the end of a URL's path (`…/customers/<id>`), without the query.
fn last_segment(url: &str) -> String {
    url.split('?')
        .next()
        .unwrap_or_default()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn create_customer(browser: &Browser, demo: &Demo) -> String {
    browser
        .goto(&demo.url(&format!("{MARTIN}/customers")))
        .await;
    let new = browser
        .find(&format!("a[href='{MARTIN}/customers/new']"))
        .await;
    browser.click(&new).await;
    browser
        .wait_for("#legal_name", Duration::from_secs(20))
        .await;
    browser.fill("#legal_name", CUSTOMER_NAME).await;
    browser.fill("#siren", CUSTOMER_SIREN).await;
    browser
        .fill(
            "#electronic_address",
            &format!("0225:{CUSTOMER_SIREN}_SUSPEND"),
        )
        .await;
    browser.fill("#contact_emails", CUSTOMER_EMAIL).await;
    browser.fill("#street", "3 rue des Artisans").await;
    browser.fill("#postcode", "69007").await;
    browser.fill("#city", "Lyon").await;
    let save = browser.find("form.form button[type=submit]").await;
    browser.click(&save).await;
    let url = eventually(
        "the new customer's page",
        Duration::from_secs(20),
        || async {
            let url = browser.current_url().await;
            let id = last_segment(&url);
            (url.contains("/customers/") && uuid::Uuid::parse_str(&id).is_ok()).then_some(url)
        },
    )
    .await;
    assert!(
        browser.source().await.contains(CUSTOMER_NAME),
        "the customer's page names it"
    );
    last_segment(&url)
}

/// Writes an invoice for the customer in the editor and sends it; returns the invoice page's URL.
async fn write_and_send_invoice(browser: &Browser, demo: &Demo, customer: &str) -> String {
    browser
        .goto(&demo.url(&format!("{MARTIN}/invoices/new?customer={customer}")))
        .await;
    browser
        .wait_for("form[data-editor]", Duration::from_secs(20))
        .await;
    let selected = browser.find("#customer_id").await;
    assert_eq!(
        browser.property(&selected, "value").await.as_str(),
        Some(customer),
        "the customer is chosen"
    );
    browser
        .fill("[name=line_description]", "Fenêtres en chêne sur mesure")
        .await;
    browser.fill("[name=line_quantity]", "2").await;
    browser.fill("[name=line_unit_price]", "450").await;
    // The script computes the totals as one types (the server computes them again).
    browser
        .wait_until_script(
            "document.querySelector('[data-total-excl]').textContent.replace(/\\s/g, '').indexOf('900,00') >= 0",
            Duration::from_secs(10),
        )
        .await;
    let send = browser.find("button[name=action][value=send]").await;
    browser.click(&send).await;
    eventually(
        "the invoice page after sending",
        Duration::from_secs(30),
        || async {
            let url = browser.current_url().await;
            (!url.contains("/edit")
                && !url.ends_with("/new")
                && uuid::Uuid::parse_str(&last_segment(&url)).is_ok()
                && url.contains("/invoices/"))
            .then_some(url)
        },
    )
    .await
}

/// The Billit order number the invoice page shows once the invoice is sent.
async fn order_id(browser: &Browser) -> i64 {
    eventually(
        "the page shows the Billit order",
        Duration::from_secs(60),
        || async {
            let script = "var items = document.querySelectorAll('.meta li'); \
                          for (var i = 0; i < items.length; i++) { \
                            var found = /n°\\s*(\\d+)/.exec(items[i].textContent); \
                            if (found) { return found[1]; } } return null;";
            browser
                .execute(script, vec![])
                .await
                .as_str()
                .and_then(|digits| digits.parse().ok())
        },
    )
    .await
}

/// Whether the page is still the document the test marked (live updates swap content, they never reload).
async fn same_document(browser: &Browser) -> bool {
    browser
        .execute("return window.__marker === 1;", vec![])
        .await
        == serde_json::json!(true)
}

/// Watches the headline until `done` accepts it, checking at every look that the page was not reloaded; returns
/// every headline seen, in order.
async fn watch_headline(
    browser: &Browser,
    seen: &mut Vec<String>,
    what: &str,
    done: impl Fn(&str) -> bool,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let headline = browser.text_of(HEADLINE).await;
        assert!(
            same_document(browser).await,
            "the page was reloaded (headlines so far: {seen:?})"
        );
        if seen.last() != Some(&headline) {
            seen.push(headline.clone());
        }
        if done(&headline) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waited for: {what} (headlines so far: {seen:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The messages the SMTP server received whose subject is `subject`, parsed.
fn received_with_subject(smtp: &SmtpServer, subject: &str) -> Vec<Vec<u8>> {
    smtp.messages()
        .into_iter()
        .filter(|raw| {
            MessageParser::default()
                .parse(raw)
                .is_some_and(|message| message.subject() == Some(subject))
        })
        .collect()
}

/// From the suspended invoice's page, answers the buyer's request by email in the composer (the recipient
/// pre-filled, the invoice's PDF and an uploaded file attached, a preview first), and sees the email arrive at the
/// SMTP server with both attachments.
async fn answer_the_suspension_by_email(browser: &Browser, smtp: &SmtpServer, invoice_url: &str) {
    let answer = browser
        .wait_for("#answers a.button", Duration::from_secs(20))
        .await;
    browser.click(&answer).await;
    browser
        .wait_for("form.answers-form", Duration::from_secs(20))
        .await;
    let to = browser.find("#to").await;
    assert_eq!(
        browser.property(&to, "value").await.as_str(),
        Some(CUSTOMER_EMAIL),
        "the customer's contact is the recipient"
    );
    let pdf = browser.find("input[name=attach_pdf]").await;
    if browser.property(&pdf, "checked").await != serde_json::json!(true) {
        browser.click(&pdf).await;
    }
    let upload = tempfile::tempdir().unwrap();
    let file = upload.path().join("releve-navigateur.csv");
    std::fs::write(&file, b"date;montant\n2026-11-30;900,00\n").unwrap();
    let input = browser.find("#files").await;
    browser.send_keys(&input, file.to_str().unwrap()).await;

    let preview = browser.find("button[name=action][value=preview]").await;
    browser.click(&preview).await;
    browser.wait_for("#preview", Duration::from_secs(20)).await;
    let attachments = browser.text_of("#preview .list").await;
    assert!(
        attachments.contains("PDF") && attachments.contains("releve-navigateur.csv"),
        "the preview lists both attachments: {attachments}"
    );
    let subject = browser.find("#subject").await;
    let subject = browser
        .property(&subject, "value")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    let send = browser.find("button[name=action][value=send]").await;
    browser.click(&send).await;
    eventually(
        "back on the invoice page after sending",
        Duration::from_secs(30),
        || async {
            let url = browser.current_url().await;
            (url.split('#').next() == Some(invoice_url)).then_some(())
        },
    )
    .await;
    let state = browser
        .wait_for("#answers [data-email-state]", Duration::from_secs(20))
        .await;
    assert!(browser.text(&state).await.contains(&subject));

    let raw = eventually(
        "the answer arrives at the SMTP server",
        Duration::from_secs(60),
        || async { received_with_subject(smtp, &subject).pop() },
    )
    .await;
    let message = MessageParser::default().parse(&raw).unwrap();
    let recipients: Vec<_> = message
        .to()
        .into_iter()
        .flat_map(|to| to.iter())
        .filter_map(|address| address.address())
        .collect();
    assert_eq!(recipients, vec![CUSTOMER_EMAIL]);
    let names: Vec<_> = message
        .attachments()
        .map(|part| part.attachment_name().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names.len(), 2, "the PDF and the uploaded file: {names:?}");
    assert!(names[0].ends_with(".pdf"), "{names:?}");
    assert!(
        message
            .attachments()
            .next()
            .unwrap()
            .contents()
            .starts_with(b"%PDF"),
        "the invoice's PDF"
    );
    assert_eq!(names[1], "releve-navigateur.csv");
    // Back on the page the rest of the journey watches.
    browser.execute("window.__marker = 1;", vec![]).await;
}

/// The `data-state` of every row of the payment track.
async fn payment_states(browser: &Browser) -> Vec<String> {
    let states = browser
        .execute(
            "return Array.prototype.map.call(document.querySelectorAll('#payments tr[data-state]'), \
             function (row) { return row.getAttribute('data-state'); });",
            vec![],
        )
        .await;
    serde_json::from_value(states).unwrap_or_default()
}

/// Records a partial payment, then the rest with "mark as fully paid", from the approved invoice's page (each a
/// form post, so a new page); then, the page left open, watches the sandbox's acknowledgements arrive live: every
/// payment accepted and the headline 212, without a reload.
async fn record_a_payment(browser: &Browser, seen: &mut Vec<String>) {
    browser
        .wait_for("#payment-amount", Duration::from_secs(20))
        .await;
    browser.fill("#payment-amount", "300,00").await;
    browser.fill("#payment-reference", "VIR-NAVIGATEUR-1").await;
    let record = browser.find("form.payments__form button").await;
    browser.click(&record).await;
    eventually(
        "the partial payment is on the track",
        Duration::from_secs(30),
        || async { (payment_states(browser).await.len() == 1).then_some(()) },
    )
    .await;
    let remaining = browser.text_of("[data-payments=remaining]").await;
    assert!(
        remaining
            .replace(['\u{a0}', '\u{202f}', ' '], "")
            .contains("780,00"),
        "1 080,00 − 300,00 remains: {remaining}"
    );
    browser
        .click_css(".payments__full button", Duration::from_secs(10))
        .await;
    browser
        .wait_for("#payments .alert--success", Duration::from_secs(30))
        .await;
    // The page left open: Billit receives each payment (reported), and at the sandbox's next steps (one a second
    // in this journey) the tax authority acknowledges them (accepted) and the invoice is paid (212); live.js
    // shows each change without a reload.
    browser.execute("window.__marker = 1;", vec![]).await;
    let mut tracks: Vec<Vec<String>> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let states = payment_states(browser).await;
        let headline = browser.text_of(HEADLINE).await;
        assert!(
            same_document(browser).await,
            "the page was reloaded (tracks so far: {tracks:?})"
        );
        if tracks.last() != Some(&states) {
            tracks.push(states.clone());
        }
        if seen.last() != Some(&headline) {
            seen.push(headline.clone());
        }
        if headline.starts_with("212") && states.iter().all(|state| state == "accepted") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waited for both payments accepted and 212 (tracks: {tracks:?}, headlines: {seen:?})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        tracks.iter().all(|states| states.len() == 2),
        "two payments: {tracks:?}"
    );
    assert!(
        tracks
            .iter()
            .flatten()
            .all(|state| matches!(state.as_str(), "queued" | "reported" | "accepted")),
        "no payment failed: {tracks:?}"
    );
    let accepted = browser.text_of("#payments .payments__explanation").await;
    assert!(
        accepted.contains("administration fiscale"),
        "the acceptance is explained: {accepted}"
    );
    eprintln!("payment track seen without reloading: {tracks:?}");
}

#[tokio::test]
async fn a_user_creates_a_customer_sends_an_invoice_and_watches_its_status_arrive() {
    let smtp = SmtpServer::start().await;
    let demo = Demo::start_with_smtp(1_000, Some(&smtp.url())).await;
    let browser =
        Browser::start("a_user_creates_a_customer_sends_an_invoice_and_watches_its_status_arrive")
            .await;
    sign_in(&browser, &demo, CLAIRE).await;

    let customer = create_customer(&browser, &demo).await;
    let invoice_url = write_and_send_invoice(&browser, &demo, &customer).await;

    // The invoice page, left open: statuses arrive by server-sent events and live.js swaps the [data-live] part.
    browser.execute("window.__marker = 1;", vec![]).await;
    let live = browser.find("[data-live]").await;
    assert_eq!(
        browser.attribute(&live, "data-live").await.as_deref(),
        Some("/t/atelier-martin/live"),
        "the page listens to its tenant's live updates"
    );
    let mut seen = vec![browser.text_of(HEADLINE).await];
    watch_headline(
        &browser,
        &mut seen,
        "the buyer suspends the invoice (208)",
        |headline| headline.starts_with("208"),
    )
    .await;
    assert!(
        browser.source().await.contains("JUSTIF_ABS"),
        "the suspension's reason is shown"
    );
    answer_the_suspension_by_email(&browser, &smtp, &invoice_url).await;

    // The buyer completes the invoice (209) at Billit, then approves it (205): the open page follows, and
    // whoever was on a link of the page (keyboard, screen reader) stays there.
    browser
        .execute("document.querySelector('.breadcrumb a').focus();", vec![])
        .await;
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
    watch_headline(
        &browser,
        &mut seen,
        "the buyer completes and approves the invoice (205)",
        |headline| headline.starts_with("205"),
    )
    .await;
    assert!(
        seen.len() >= 3,
        "the status changed several times while watched: {seen:?}"
    );
    assert!(same_document(&browser).await);
    assert_eq!(browser.current_url().await, invoice_url);
    assert_eq!(
        browser
            .execute(
                "return document.activeElement.matches('.breadcrumb a');",
                vec![]
            )
            .await,
        serde_json::json!(true),
        "the focus stayed on the link through the live updates"
    );
    record_a_payment(&browser, &mut seen).await;
    let number = browser.text_of(".invoice-head h1").await;

    // The suspension was an "action required" email to the company's people: it reached the SMTP server too.
    assert!(
        smtp.wait_for_messages(2).await.len() >= 2,
        "the notice and the answer"
    );
    let subjects: Vec<String> = smtp
        .messages()
        .iter()
        .filter_map(|raw| Some(MessageParser::default().parse(raw)?.subject()?.to_owned()))
        .collect();
    let notice = smtp
        .messages()
        .into_iter()
        .find(|raw| {
            MessageParser::default()
                .parse(raw)
                .and_then(|message| message.subject().map(str::to_owned))
                .is_some_and(|subject| {
                    subject.contains(&number) && subject.contains("Suspendue (208)")
                })
        })
        .unwrap_or_else(|| panic!("the suspension's notice among {subjects:?}"));
    let notice = MessageParser::default().parse(&notice).unwrap();
    assert!(notice.body_text(0).unwrap().contains(&number));
    eprintln!("headlines seen without reloading: {seen:?}");

    // The other company's administrator cannot reach it: the same 404 as a page that does not exist.
    sign_out(&browser).await;
    sign_in(&browser, &demo, SOPHIE).await;
    browser.goto(&invoice_url).await;
    assert_eq!(browser.text_of(".message__code").await, "404");
    assert!(!browser.source().await.contains(CUSTOMER_NAME));
    browser
        .goto(&demo.url(&format!("{MARTIN}/customers/{customer}")))
        .await;
    assert_eq!(browser.text_of(".message__code").await, "404");
}
