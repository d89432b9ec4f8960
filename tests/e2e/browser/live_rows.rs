//! Live updates patch the page instead of reloading it: on the invoice list, a status that arrives replaces that
//! invoice's row alone (fetched from its own address), every other row stays the same DOM node, and the document
//! is never reloaded.

use super::webdriver::{Browser, eventually};
use super::{CLAIRE, Demo, MARTIN, sign_in};
use serde_json::json;
use std::time::Duration;

/// The ids of the list's rows whose status starts with `code`.
async fn rows_with_status(browser: &Browser, code: &str) -> Vec<String> {
    browser
        .execute(
            "var code = arguments[0];
             return Array.prototype.filter.call(document.querySelectorAll('td[data-live-row]'), function (row) {
               return row.closest('tr').querySelector('.status').textContent.trim().indexOf(code) === 0;
             }).map(function (row) { return row.getAttribute('data-live-row'); });",
            vec![json!(code)],
        )
        .await
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|id| id.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_status_replaces_its_row_alone_and_the_list_is_not_reloaded() {
    let demo = Demo::start(1_000).await;
    let browser = Browser::start("live_rows").await;
    sign_in(&browser, &demo, CLAIRE).await;
    let list = demo.url(&format!("{MARTIN}/invoices"));
    // The demonstration's suspended invoice (208) waits for its completion (209): find its row.
    let suspended = eventually(
        "a suspended invoice (208) on the list",
        Duration::from_secs(180),
        || async {
            browser.goto(&list).await;
            let found = browser
                .execute(
                    "var rows = document.querySelectorAll('td[data-live-row]');
                     for (var i = 0; i < rows.length; i++) {
                       if (rows[i].closest('tr').querySelector('.status').textContent.trim().indexOf('208') === 0) {
                         return rows[i].getAttribute('data-live-row');
                       }
                     } return null;",
                    vec![],
                )
                .await;
            found.as_str().map(str::to_owned)
        },
    )
    .await;
    // Its order at Billit, from its page.
    browser
        .goto(&demo.url(&format!("{MARTIN}/invoices/{suspended}")))
        .await;
    let order: i64 = eventually("the order number", Duration::from_secs(30), || async {
        browser
            .execute(
                "var items = document.querySelectorAll('.meta li');
                 for (var i = 0; i < items.length; i++) {
                   var found = /n°\\s*(\\d+)/.exec(items[i].textContent); if (found) { return found[1]; } }
                 return null;",
                vec![],
            )
            .await
            .as_str()
            .and_then(|digits| digits.parse().ok())
    })
    .await;

    // The list, marked: the document, and every other row's node.
    browser.goto(&list).await;
    browser
        .wait_until_script(
            "document.readyState === 'complete'",
            Duration::from_secs(20),
        )
        .await;
    let others = browser
        .execute(
            "var target = arguments[0]; window.__marker = 1; var count = 0;
             document.querySelectorAll('td[data-live-row]').forEach(function (cell) {
               var row = cell.closest('tr');
               if (cell.getAttribute('data-live-row') !== target) { row.__untouched = true; count++; }
               else { row.__untouched = false; } });
             return count;",
            vec![json!(suspended)],
        )
        .await
        .as_i64()
        .unwrap_or(0);
    assert!(
        others >= 1,
        "the list has other rows than the suspended one"
    );
    // The buyer completes the invoice at Billit (209).
    let injected = reqwest::Client::new()
        .post(format!(
            "{}/_sandbox/orders/{order}/events",
            demo.sandbox_url
        ))
        .json(&json!({ "code": 209 }))
        .send()
        .await
        .unwrap();
    assert!(injected.status().is_success(), "{injected:?}");

    eventually(
        "the suspended invoice's row shows its new status",
        Duration::from_secs(60),
        || async {
            let still = rows_with_status(&browser, "208").await;
            (!still.contains(&suspended)).then_some(())
        },
    )
    .await;
    let outcome = browser
        .execute(
            "var row = document.querySelector('td[data-live-row=\"' + arguments[0] + '\"]').closest('tr');
             var kept = 0; var replaced = 0;
             document.querySelectorAll('td[data-live-row]').forEach(function (cell) {
               var other = cell.closest('tr');
               if (other !== row) { if (other.__untouched === true) { kept++; } else { replaced++; } } });
             return { marker: window.__marker === 1, row_is_new: row.__untouched === undefined,
                      status: row.querySelector('.status').textContent.trim(), kept: kept, replaced: replaced };",
            vec![json!(suspended)],
        )
        .await;
    assert_eq!(outcome["marker"], json!(true), "no reload: {outcome}");
    assert_eq!(
        outcome["row_is_new"],
        json!(true),
        "the row was replaced by the fetched one: {outcome}"
    );
    assert!(
        outcome["kept"].as_i64().unwrap_or(0) >= 1,
        "the other rows are the same nodes: {outcome}"
    );
    assert!(
        !outcome["status"]
            .as_str()
            .unwrap_or("208")
            .starts_with("208"),
        "{outcome}"
    );
    assert_eq!(browser.current_url().await, list);
}
