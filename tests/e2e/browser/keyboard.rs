//! The editor with the keyboard alone: Tab to move, letters to type, arrows in a list, Enter to press a button.
//! The test only reads the page (which element has the focus, what it holds); every input is a key press.

use super::webdriver::{Browser, eventually, keys};
use super::{Demo, MARTIN, PAUL, sign_in};
use serde_json::json;
use std::time::Duration;

/// Presses Tab until the focused element matches `css`; panics (naming the path taken) when it is not reached
/// within `max` presses, which would mean a keyboard user cannot reach it either.
async fn tab_to(browser: &Browser, css: &str, max: usize) {
    let mut path = Vec::new();
    for _ in 0..max {
        browser.press(keys::TAB).await;
        let focused = browser
            .execute(
                "var a = document.activeElement;
                 return [a.matches(arguments[0]),
                         a.tagName.toLowerCase() + (a.id ? '#' + a.id : '') + (a.name ? '[' + a.name + ']' : '')];",
                vec![json!(css)],
            )
            .await;
        if focused[0] == json!(true) {
            return;
        }
        path.push(focused[1].as_str().unwrap_or_default().to_owned());
    }
    panic!("`{css}` not reached with {max} Tab presses; the focus went through: {path:?}");
}

/// The focused element's value.
async fn focused_value(browser: &Browser) -> String {
    browser
        .execute("return document.activeElement.value;", vec![])
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn value_of(browser: &Browser, css: &str) -> String {
    browser
        .execute(
            "var found = document.querySelector(arguments[0]); return found ? found.value : null;",
            vec![json!(css)],
        )
        .await
        .as_str()
        .unwrap_or_else(|| panic!("no `{css}`"))
        .to_owned()
}

#[tokio::test]
async fn a_draft_is_written_and_saved_with_the_keyboard_alone() {
    let demo = Demo::start(20_000).await;
    let browser = Browser::start("a_draft_is_written_and_saved_with_the_keyboard_alone").await;
    sign_in(&browser, &demo, PAUL).await;
    browser
        .goto(&demo.url(&format!("{MARTIN}/invoices/new")))
        .await;
    browser
        .wait_for("form[data-editor]", Duration::from_secs(20))
        .await;

    // The first stop is the skip link, which leads past the header.
    browser.press(keys::TAB).await;
    let skip = browser.active_element().await;
    assert_eq!(
        browser.attribute(&skip, "class").await.as_deref(),
        Some("skip-link")
    );
    assert_eq!(
        browser
            .execute(
                "return arguments[0].getBoundingClientRect().left >= 0;",
                vec![skip.json()]
            )
            .await,
        json!(true),
        "the focused skip link is on screen"
    );

    // A customer from the list: the arrow picks the next one without leaving the list (nothing is submitted on
    // change, WCAG 3.2.2); the "use this customer" button next to it fills the buyer from it (a round trip to the
    // server, which gives the page back).
    tab_to(&browser, "#customer_id", 60).await;
    browser
        .execute("window.__before_customer = 1;", vec![])
        .await;
    browser.press(keys::ARROW_DOWN).await;
    assert_eq!(
        browser
            .execute(
                "return window.__before_customer === 1 && document.activeElement.id === 'customer_id' \
                 && document.activeElement.value !== '';",
                vec![]
            )
            .await,
        json!(true),
        "choosing with an arrow key keeps the page and the focus"
    );
    tab_to(&browser, "[data-use-customer]", 3).await;
    browser.press(keys::ENTER).await;
    eventually(
        "the buyer's fields are filled from the customer",
        Duration::from_secs(20),
        || async {
            let reloaded = browser
                .execute(
                    "return window.__before_customer === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await
                == json!(true);
            let name = browser
                .execute(
                    "var f = document.querySelector('#buyer_legal_name'); return f ? f.value : '';",
                    vec![],
                )
                .await;
            (reloaded && name.as_str().is_some_and(|name| !name.is_empty())).then_some(())
        },
    )
    .await;
    let customer = value_of(&browser, "#customer_id").await;
    let buyer = value_of(&browser, "#buyer_legal_name").await;
    assert!(!customer.is_empty());

    // The first line: description, quantity, unit price.
    tab_to(&browser, "[name=line_description]", 80).await;
    browser.press("Réparation de la toiture").await;
    tab_to(&browser, "[name=line_quantity]", 3).await;
    browser.press("3").await;
    tab_to(&browser, "[name=line_unit_price]", 3).await;
    browser.press("120,50").await;
    assert_eq!(focused_value(&browser).await, "120,50");
    // Back and forth: Shift+Tab goes back through the unit to the quantity as typed.
    browser.press_shift_tab().await;
    browser.press_shift_tab().await;
    assert_eq!(focused_value(&browser).await, "3");
    tab_to(&browser, "[name=line_unit_price]", 3).await;
    assert_eq!(browser.find_all("[data-line]").await.len(), 1, "one line");
    browser
        .wait_until_script(
            "document.querySelector('[data-total-excl]').textContent.replace(/\\s/g, '').indexOf('361,50') >= 0",
            Duration::from_secs(10),
        )
        .await;

    // The visible "Save draft" button, reached by Tab and pressed with Enter.
    tab_to(
        &browser,
        ".editor-actions button[name=action][value=save]",
        80,
    )
    .await;
    browser.press(keys::ENTER).await;
    let saved = eventually("the draft is saved", Duration::from_secs(20), || async {
        let url = browser.current_url().await;
        url.contains("/edit?saved=1").then_some(url)
    })
    .await;

    // Read again from the server: what was typed is what was saved.
    let edit = saved.replace("?saved=1", "");
    browser.goto(&edit).await;
    assert_eq!(value_of(&browser, "#customer_id").await, customer);
    assert_eq!(value_of(&browser, "#buyer_legal_name").await, buyer);
    assert_eq!(
        value_of(&browser, "[name=line_description]").await,
        "Réparation de la toiture"
    );
    assert_eq!(value_of(&browser, "[name=line_quantity]").await, "3");
    assert!(
        value_of(&browser, "[name=line_unit_price]")
            .await
            .starts_with("120,5"),
        "the unit price is kept"
    );
}
