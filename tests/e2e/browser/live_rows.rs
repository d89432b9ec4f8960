//! Live updates patch the page instead of reloading it: on the invoice list, a status that arrives replaces that
//! invoice's row alone (fetched from its own address), every other row stays the same DOM node, the status chips
//! are fetched alone and replaced with the counts of now, and the document is never reloaded.

use super::nodes::Session;
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

/// The demonstration's suspended invoice (208), which waits for its completion (209): its id (as its row on the
/// list names it) and its order number at Billit (from its page).
async fn suspended_invoice(browser: &Browser, demo: &Demo) -> (String, i64) {
    let list = demo.url(&format!("{MARTIN}/invoices"));
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
    (suspended, order)
}

/// The buyer completes the invoice at Billit (209): the sandbox sends its webhook.
async fn complete_at_billit(demo: &Demo, order: i64) {
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
}

/// The document marked with `window.__marker = 1` is still the one shown: nothing reloaded it.
async fn assert_not_reloaded(browser: &Browser, why: &str) {
    assert_eq!(
        browser
            .execute("return window.__marker === 1;", vec![])
            .await,
        json!(true),
        "{why}"
    );
}

/// The status shown by an invoice's row, as its own address serves it.
async fn row_status(session: &Session, demo: &Demo, src: &str) -> String {
    let response = session.get(&demo.url(src)).await;
    assert_eq!(response.status(), 200, "the row of {src}");
    let html = response.text().await.unwrap();
    let after = html
        .split_once("class=\"status status--")
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("a status in the row: {html}"));
    after
        .split('<')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[tokio::test]
async fn a_status_replaces_its_row_alone_and_the_list_is_not_reloaded() {
    let demo = Demo::start(1_000).await;
    let browser = Browser::start("live_rows").await;
    sign_in(&browser, &demo, CLAIRE).await;
    let list = demo.url(&format!("{MARTIN}/invoices"));
    let (suspended, order) = suspended_invoice(&browser, &demo).await;

    // The list, marked: the document, and every other row's node.
    browser.goto(&list).await;
    browser
        .wait_until_script(
            "document.readyState === 'complete'",
            Duration::from_secs(20),
        )
        .await;
    // Its stream is open (the pages left a moment ago may still hold the user's places for a while: the page
    // opens it again later, and catches up by fetching the whole list once, which must not happen after the
    // rows are marked).
    browser
        .wait_until_script(
            "document.querySelector('[data-live]').getAttribute('data-live-state') === 'open'",
            Duration::from_secs(90),
        )
        .await;
    let others = browser
        .execute(
            "var target = arguments[0]; window.__marker = 1; var count = 0;
             document.querySelector('nav.chips').__old = true;
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
    complete_at_billit(&demo, order).await;

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
    // The chips follow: fetched alone (with the list's query) and put in place, their counts those of now.
    let chips = format!("{MARTIN}/invoices/chips");
    eventually(
        "the chips are replaced by those of now",
        Duration::from_secs(60),
        || async {
            let shown = browser
                .execute(
                    "var nav = document.querySelector('nav.chips');
                     return nav.__old === true ? null : nav.textContent.replace(/\\s+/g, ' ').trim();",
                    vec![],
                )
                .await;
            let now = browser
                .execute_async(
                    "var done = arguments[arguments.length - 1];
                     fetch(arguments[0], { credentials: 'same-origin' })
                       .then(function (response) { return response.text(); })
                       .then(function (html) {
                         var nav = new DOMParser().parseFromString(html, 'text/html').querySelector('nav.chips');
                         done(nav ? nav.textContent.replace(/\\s+/g, ' ').trim() : null); })
                       .catch(function () { done(null); });",
                    vec![json!(chips)],
                )
                .await;
            (shown.is_string() && shown == now).then_some(())
        },
    )
    .await;
    assert_not_reloaded(&browser, "the chips were replaced without a reload").await;
    assert_eq!(browser.current_url().await, list);
}

/// A page whose event stream the server refused (the user's places are all taken) opens it again by itself once a
/// place is free, and then shows what arrived meanwhile, without a reload.
#[tokio::test]
async fn a_page_refused_its_stream_opens_it_later_and_catches_up() {
    let demo =
        Demo::start_with_env(1_000, &[("PORTAL_SECURITY__LIVE_STREAMS_PER_USER", "1")]).await;
    let browser = Browser::start("live_rows_refused").await;
    sign_in(&browser, &demo, CLAIRE).await;
    let (suspended, order) = suspended_invoice(&browser, &demo).await;
    // A page without a stream, while the pages just left give their places back.
    browser.goto("about:blank").await;

    // Claire's only place is taken by the stream of another of her sessions (the pages just left may hold it a
    // little longer: until the server notices they are gone).
    let other = Session::sign_in(&demo.server.base_url, CLAIRE, demo.password(CLAIRE)).await;
    let stream = eventually(
        "the other session's stream opens",
        Duration::from_secs(90),
        || async {
            let response = other.get(&demo.url(&format!("{MARTIN}/live"))).await;
            (response.status() == 200).then_some(response)
        },
    )
    .await;

    // The list: its own stream is refused.
    let list = demo.url(&format!("{MARTIN}/invoices"));
    browser.goto(&list).await;
    browser
        .wait_until_script(
            "document.querySelector('[data-live]').getAttribute('data-live-state') === 'closed'",
            Duration::from_secs(30),
        )
        .await;
    browser.execute("window.__marker = 1;", vec![]).await;
    let src = browser
        .execute(
            "return document.querySelector('td[data-live-row=\"' + arguments[0] + '\"]') \
                .getAttribute('data-live-src');",
            vec![json!(suspended)],
        )
        .await
        .as_str()
        .map(str::to_owned)
        .expect("the row's own address");

    // The status arrives while the page hears nothing: the server has it, the page still shows 208.
    complete_at_billit(&demo, order).await;
    let now = eventually(
        "the invoice's new status is stored",
        Duration::from_secs(60),
        || async {
            let status = row_status(&other, &demo, &src).await;
            (!status.starts_with("208")).then_some(status)
        },
    )
    .await;
    assert!(
        rows_with_status(&browser, "208").await.contains(&suspended),
        "a page without its stream has not heard of {now}"
    );

    // The place is given back: the page's stream opens again, and the page catches up.
    drop(stream);
    eventually(
        "the page opens its stream again and shows the new status",
        Duration::from_secs(120),
        || async {
            let open = browser
                .execute(
                    "return document.querySelector('[data-live]').getAttribute('data-live-state');",
                    vec![],
                )
                .await;
            let still = rows_with_status(&browser, "208").await;
            (open == json!("open") && !still.contains(&suspended)).then_some(())
        },
    )
    .await;
    assert_not_reloaded(&browser, "caught up without a reload").await;
    assert_eq!(browser.current_url().await, list);
}
