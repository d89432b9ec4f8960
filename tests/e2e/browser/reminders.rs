//! Reminders in a real browser, on the demonstration (reminders on, sent by hand, one invoice ten days overdue):
//! the overdue invoice gets its first reminder; a dispute (207) arrives at Billit and the next reminder is held;
//! the request closes (209) and the reminder resumes. Each reminder shows on the invoice's timeline, and the
//! pages pass axe.

use super::accessibility::axe;
use super::webdriver::{Browser, eventually};
use super::{CLAIRE, Demo, MARTIN, axe_source, sign_in};
use std::time::Duration;

const DUE: &str = "/t/atelier-martin/reminders";

/// Presses "check now" on the reminders page and waits for the page after it.
async fn check_now(browser: &Browser, demo: &Demo) {
    browser.goto(&demo.url(DUE)).await;
    let button = browser
        .find(&format!("form[action='{DUE}/check'] button"))
        .await;
    browser.click(&button).await;
    eventually(
        "the reminders page after the check",
        Duration::from_secs(20),
        || async {
            browser
                .current_url()
                .await
                .contains("notice=checked")
                .then_some(())
        },
    )
    .await;
}

/// The first reminder row's send button, once the check has found one.
async fn send_first(browser: &Browser) {
    let button = browser.find("form[action$='/send'] button").await;
    browser.click(&button).await;
    eventually("the reminder is sent", Duration::from_secs(30), || async {
        browser
            .current_url()
            .await
            .contains("notice=sent")
            .then_some(())
    })
    .await;
}

/// Whether the sandbox's order has the status (the invoice page shows its headline).
async fn wait_for_headline(
    browser: &Browser,
    invoice_url: &str,
    what: &str,
    code: &str,
    present: bool,
) {
    eventually(what, Duration::from_secs(90), || async {
        browser.goto(invoice_url).await;
        let headline = browser.text_of(".invoice-head .status--large").await;
        (headline.starts_with(code) == present).then_some(())
    })
    .await;
}

async fn order_of(browser: &Browser) -> i64 {
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

async fn inject(demo: &Demo, order: i64, body: serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/_sandbox/orders/{order}/events",
            demo.sandbox_url
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{response:?}");
}

async fn no_serious_violation(browser: &Browser, source: &str, page: &str) {
    let serious: Vec<_> = axe(browser, source)
        .await
        .into_iter()
        .filter(|violation| matches!(violation["impact"].as_str(), Some("serious" | "critical")))
        .collect();
    assert!(serious.is_empty(), "{page}: {serious:?}");
}

#[tokio::test]
async fn an_overdue_invoice_is_reminded_held_during_a_dispute_and_reminded_again_after_it() {
    let source = axe_source();
    // Long scenario steps: the statuses that matter here are the ones the test injects.
    let demo = Demo::start(3_600_000).await;
    let browser = Browser::start(
        "an_overdue_invoice_is_reminded_held_during_a_dispute_and_reminded_again_after_it",
    )
    .await;
    sign_in(&browser, &demo, CLAIRE).await;

    // The demonstration's overdue invoice is proposed once it has gone to Billit: the first step (J+7).
    let row = eventually(
        "the overdue invoice is due a reminder",
        Duration::from_secs(90),
        || async {
            check_now(&browser, &demo).await;
            browser.try_find("tr[id^='reminder-']").await
        },
    )
    .await;
    let text = browser.text(&row).await;
    assert!(
        text.contains("J+7") && text.contains("Librairie du Rhône"),
        "{text}"
    );
    no_serious_violation(&browser, &source, DUE).await;
    let invoice_link = browser.find("tr[id^='reminder-'] a").await;
    let invoice_url = demo.url(&browser.attribute(&invoice_link, "href").await.unwrap());
    send_first(&browser).await;
    assert!(
        browser
            .source()
            .await
            .contains("Aucune relance en attente.")
    );
    browser.goto(&invoice_url).await;
    let timeline = browser.text_of("#reminders + ol").await;
    assert!(timeline.contains("Relance J+7 envoyée"), "{timeline}");
    assert!(timeline.contains(CLAIRE), "{timeline}");
    let order = order_of(&browser).await;

    // A dispute arrives at Billit; the admin adds a step that has come (J+8): it is held, nothing is proposed.
    inject(
        &demo,
        order,
        serde_json::json!({ "code": 207, "reason": "TX_TVA_ERR" }),
    )
    .await;
    wait_for_headline(
        &browser,
        &invoice_url,
        "the dispute arrives (207)",
        "207",
        true,
    )
    .await;
    let settings = demo.url(&format!("{MARTIN}/settings/reminders"));
    browser.goto(&settings).await;
    no_serious_violation(&browser, &source, "settings/reminders").await;
    let schedule = browser.find("#schedule").await;
    browser.clear(&schedule).await;
    browser.send_keys(&schedule, "7, 8, 30").await;
    let save = browser
        .find("form[action$='/settings/reminders'] button")
        .await;
    browser.click(&save).await;
    eventually(
        "the settings are saved",
        Duration::from_secs(20),
        || async {
            browser
                .current_url()
                .await
                .contains("saved=1")
                .then_some(())
        },
    )
    .await;
    check_now(&browser, &demo).await;
    assert!(
        browser.try_find("tr[id^='reminder-']").await.is_none(),
        "nothing while the dispute is open: {}",
        browser.source().await
    );

    // The buyer withdraws the dispute (209): the held step (J+8) is proposed and sent.
    inject(&demo, order, serde_json::json!({ "code": 209 })).await;
    wait_for_headline(&browser, &invoice_url, "the dispute closes", "207", false).await;
    check_now(&browser, &demo).await;
    let row = browser.find("tr[id^='reminder-']").await;
    let text = browser.text(&row).await;
    assert!(text.contains("J+8"), "{text}");
    send_first(&browser).await;
    browser.goto(&invoice_url).await;
    let timeline = browser.text_of("#reminders + ol").await;
    assert!(
        timeline.contains("Relance J+7 envoyée") && timeline.contains("Relance J+8 envoyée"),
        "{timeline}"
    );
    no_serious_violation(&browser, &source, "invoice page").await;
}
