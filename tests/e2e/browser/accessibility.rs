//! axe-core, run in Chromium on every main page of a living demonstration: no `serious` or `critical` violation.
//! Each page must also reflow on a 320 px screen (WCAG 1.4.10). Every violation found (of any impact) and each
//! page's weight are printed, for the notes.

use super::measures::{Weight, weigh};
use super::webdriver::{Browser, eventually};
use super::{CLAIRE, Demo, FIRM_ADMIN, MARTIN, axe_source, sign_in, sign_out};
use serde_json::{Value, json};
use std::time::Duration;

/// One page's outcome.
struct Scan {
    page: String,
    violations: Vec<Value>,
    weight: Weight,
    /// What makes the page wider than a 320 px screen (WCAG 1.4.10 reflow), outside regions that scroll.
    too_wide: Vec<String>,
}

/// At 320 CSS pixels the page must not scroll sideways; a wide table may, inside its own `.table-scroll` region.
async fn too_wide_for_a_phone(browser: &Browser) -> Vec<String> {
    browser.set_viewport(320, 800).await;
    let found = browser
        .execute(
            "var width = window.innerWidth;
             if (document.documentElement.scrollWidth <= width) { return []; }
             var wide = Array.prototype.filter.call(document.querySelectorAll('body *'), function (e) {
               return e.getBoundingClientRect().right > width + 1 && !e.closest('.table-scroll');
             }).map(function (e) { return e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''); });
             return wide.length ? wide.slice(0, 5) : ['the document is ' + document.documentElement.scrollWidth + ' px wide'];",
            vec![],
        )
        .await;
    browser.reset_viewport().await;
    found
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn impact(violation: &Value) -> &str {
    violation["impact"].as_str().unwrap_or("unknown")
}

/// Runs axe on the page as it is now (injected through WebDriver: the page's CSP forbids inline scripts, not
/// the driver's). Frames are left out: the only one is a sent email's HTML in a sandbox where no script runs.
pub(super) async fn axe(browser: &Browser, source: &str) -> Vec<Value> {
    let loaded = browser
        .execute(
            &format!("{source}\n;return typeof window.axe === 'object';"),
            vec![],
        )
        .await;
    assert_eq!(loaded, json!(true), "axe-core loads in the page");
    let result = browser
        .execute_async(
            "var done = arguments[arguments.length - 1];
             window.axe.run(document, { iframes: false, resultTypes: ['violations'] }).then(function (results) {
               done(results.violations.map(function (v) {
                 return { id: v.id, impact: v.impact, help: v.help,
                          nodes: v.nodes.slice(0, 5).map(function (n) { return n.target.join(' '); }) };
               }));
             }, function (error) { done({ error: String(error) }); });",
            vec![],
        )
        .await;
    match result.as_array() {
        Some(violations) => violations.clone(),
        None => panic!("axe failed on {}: {result}", browser.current_url().await),
    }
}

/// A scan that finds nothing proves nothing unless the scanner works: a button without a name is critical.
async fn the_scanner_sees_a_planted_violation(browser: &Browser, source: &str) {
    browser
        .execute(
            "var b = document.createElement('button'); b.id = 'planted'; document.body.appendChild(b);",
            vec![],
        )
        .await;
    let found = axe(browser, source).await;
    assert!(
        found
            .iter()
            .any(|violation| violation["id"] == "button-name" && impact(violation) == "critical"),
        "axe reports the planted nameless button: {found:?}"
    );
    browser
        .execute("document.getElementById('planted').remove();", vec![])
        .await;
}

async fn scan(browser: &Browser, source: &str, page: &str, scans: &mut Vec<Scan>) {
    // The page's own scripts have run (live.js, editor.js) before it is judged.
    browser
        .wait_until_script(
            "document.readyState === 'complete'",
            Duration::from_secs(20),
        )
        .await;
    let weight = weigh(browser).await;
    // What each page looks like, kept for the README and for whoever reads a failure.
    let name: String = page
        .trim_matches('/')
        .split('/')
        .map(|segment| {
            if uuid::Uuid::parse_str(segment).is_ok() {
                "one".to_owned()
            } else {
                segment
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect()
            }
        })
        .collect::<Vec<_>>()
        .join("-");
    browser.save_screenshot(&format!("pages/{name}")).await;
    save_readme_screenshot(browser, page).await;
    let violations = axe(browser, source).await;
    let too_wide = too_wide_for_a_phone(browser).await;
    scans.push(Scan {
        page: page.to_owned(),
        violations,
        weight,
        too_wide,
    });
}

/// The README's name for a main page's screenshot.
fn readme_name(page: &str) -> Option<&'static str> {
    let last = page.rsplit('/').next().unwrap_or_default();
    if page == "/firm" {
        Some("console")
    } else if page == "/firm/charts" {
        Some("charts")
    } else if page == format!("{MARTIN}/") {
        Some("dashboard")
    } else if page == format!("{MARTIN}/invoices") {
        Some("invoices")
    } else if page == format!("{MARTIN}/invoices/new") {
        Some("editor")
    } else if page.starts_with(&format!("{MARTIN}/invoices/")) && last == "answer" {
        Some("composer")
    } else if page.starts_with(&format!("{MARTIN}/invoices/")) && last == "payments" {
        Some("payments")
    } else if page.starts_with(&format!("{MARTIN}/invoices/"))
        && uuid::Uuid::parse_str(last).is_ok()
    {
        Some("invoice")
    } else {
        None
    }
}

/// With `PORTAL_SCREENSHOTS_DIR` set (`docs/screenshots` for the README), also keeps the main pages as a desktop
/// shows them: 1280 px wide, the first screenful.
async fn save_readme_screenshot(browser: &Browser, page: &str) {
    let (Some(dir), Some(name)) = (
        std::env::var_os("PORTAL_SCREENSHOTS_DIR"),
        readme_name(page),
    ) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    browser.set_viewport(1280, 900).await;
    let png = browser.screenshot().await;
    browser.reset_viewport().await;
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Goes to `path` and scans it.
async fn visit(browser: &Browser, demo: &Demo, source: &str, path: &str, scans: &mut Vec<Scan>) {
    browser.goto(&demo.url(path)).await;
    assert!(
        browser.try_find(".message__code").await.is_none(),
        "{path} is a page, not an error: {}",
        browser.source().await.chars().take(500).collect::<String>()
    );
    scan(browser, source, path, scans).await;
}

/// The first link on the page whose `href` matches `pattern` (a JavaScript regular expression) and whose row or
/// item contains `near`, waiting for it.
async fn link(browser: &Browser, pattern: &str, near: &str) -> String {
    let script = "var pattern = new RegExp(arguments[0]); var links = document.querySelectorAll('a[href]');
                  for (var i = 0; i < links.length; i++) {
                    var href = links[i].getAttribute('href');
                    var around = links[i].closest('tr, li, article, div') || links[i];
                    if (pattern.test(href) && around.textContent.indexOf(arguments[1]) >= 0) { return href; }
                  } return null;";
    eventually(
        &format!("a link to {pattern} near {near:?}"),
        Duration::from_secs(120),
        || async {
            browser
                .execute(script, vec![json!(pattern), json!(near)])
                .await
                .as_str()
                .map(str::to_owned)
        },
    )
    .await
}

fn report(scans: &[Scan]) -> String {
    let mut out =
        String::from("page | HTML | CSS | JS | total bytes | axe violations | wider than 320 px\n");
    for scan in scans {
        let found: Vec<String> = scan
            .violations
            .iter()
            .map(|violation| {
                format!(
                    "{} ({}: {})",
                    violation["id"].as_str().unwrap_or_default(),
                    impact(violation),
                    violation["nodes"]
                )
            })
            .collect();
        out.push_str(&format!(
            "{} | {} | {} | {} | {} | {} | {}\n",
            scan.page,
            scan.weight.html,
            scan.weight.css,
            scan.weight.js,
            scan.weight.total(),
            if found.is_empty() {
                "none".to_owned()
            } else {
                found.join("; ")
            },
            if scan.too_wide.is_empty() {
                "no".to_owned()
            } else {
                scan.too_wide.join(", ")
            }
        ));
    }
    out
}

#[tokio::test]
async fn the_main_pages_have_no_serious_or_critical_accessibility_violation() {
    let source = axe_source();
    let demo = Demo::start(100).await;
    let browser =
        Browser::start("the_main_pages_have_no_serious_or_critical_accessibility_violation").await;
    let mut scans = Vec::new();

    visit(&browser, &demo, &source, "/login", &mut scans).await;
    the_scanner_sees_a_planted_violation(&browser, &source).await;
    visit(&browser, &demo, &source, "/password/forgot", &mut scans).await;
    sign_in(&browser, &demo, CLAIRE).await;
    visit(&browser, &demo, &source, &format!("{MARTIN}/"), &mut scans).await;
    let list = format!("{MARTIN}/invoices");
    browser.goto(&demo.url(&list)).await;
    // A suspended invoice: its page has the most to show (the request, its reasons, the timeline).
    let suspended = link(&browser, "/invoices/[0-9a-f-]{36}$", "208").await;
    // A paid invoice (the sandbox's `_PAID` scenario): its payment track.
    let paid = link(&browser, "/invoices/[0-9a-f-]{36}$", "Transports du Nord").await;
    scan(&browser, &source, &list, &mut scans).await;
    visit(&browser, &demo, &source, &suspended, &mut scans).await;
    // The composer answering the suspension by email.
    visit(
        &browser,
        &demo,
        &source,
        &format!("{suspended}/answer"),
        &mut scans,
    )
    .await;
    visit(
        &browser,
        &demo,
        &source,
        &format!("{paid}/payments"),
        &mut scans,
    )
    .await;
    visit(
        &browser,
        &demo,
        &source,
        &format!("{MARTIN}/invoices/new"),
        &mut scans,
    )
    .await;
    let customers = format!("{MARTIN}/customers");
    visit(&browser, &demo, &source, &customers, &mut scans).await;
    let customer = link(&browser, "/customers/[0-9a-f-]{36}$", "").await;
    visit(&browser, &demo, &source, &customer, &mut scans).await;
    visit(
        &browser,
        &demo,
        &source,
        &format!("{MARTIN}/customers/new"),
        &mut scans,
    )
    .await;
    visit(
        &browser,
        &demo,
        &source,
        &format!("{MARTIN}/customers/import"),
        &mut scans,
    )
    .await;
    // A pending invitation, so that the users page shows it with its revoke button.
    browser
        .goto(&demo.url(&format!("{MARTIN}/settings/users")))
        .await;
    browser.fill("#invite-email", "pending@example.com").await;
    let invite = browser
        .find("form[action$='/settings/users/invite'] button[type=submit]")
        .await;
    browser.click(&invite).await;
    browser
        .wait_for(
            "form[action*='/settings/users/invitations/']",
            std::time::Duration::from_secs(10),
        )
        .await;
    for settings in [
        "settings",
        "settings/users",
        "settings/billit",
        "settings/numbering",
        "settings/email",
        "settings/audit",
        "settings/outbox",
        "settings/reminders",
        "settings/webhooks",
        "reminders",
    ] {
        visit(
            &browser,
            &demo,
            &source,
            &format!("{MARTIN}/{settings}"),
            &mut scans,
        )
        .await;
    }
    // An outgoing webhook registered (the page then shows its secret once), and its delivery log.
    browser
        .goto(&demo.url(&format!("{MARTIN}/settings/webhooks")))
        .await;
    browser.fill("#url", "http://127.0.0.1:9/hooks").await;
    let register = browser
        .find("form[action$='/settings/webhooks'] button")
        .await;
    browser.click(&register).await;
    browser
        .wait_for("#secret", std::time::Duration::from_secs(10))
        .await;
    scan(
        &browser,
        &source,
        &format!("{MARTIN}/settings/webhooks (registered)"),
        &mut scans,
    )
    .await;
    let endpoint = link(&browser, "/settings/webhooks/[0-9a-f-]{36}$", "").await;
    visit(&browser, &demo, &source, &endpoint, &mut scans).await;
    // The API tokens page as it answers a creation: the secret shown once, the token listed with its revoke button.
    let tokens = format!("{MARTIN}/settings/api-tokens");
    visit(&browser, &demo, &source, &tokens, &mut scans).await;
    browser.fill("#token-name", "ERP").await;
    let create = browser
        .find("form[action$='/settings/api-tokens'] button[type=submit]")
        .await;
    browser.click(&create).await;
    browser
        .wait_for("#new-token", std::time::Duration::from_secs(10))
        .await;
    scan(
        &browser,
        &source,
        &format!("{tokens} (created)"),
        &mut scans,
    )
    .await;
    visit(&browser, &demo, &source, "/api/v1/docs", &mut scans).await;
    visit(&browser, &demo, &source, "/account", &mut scans).await;

    // The firm's pages, and a sent email rendered (the demonstration's notifications are emails).
    sign_out(&browser).await;
    sign_in(&browser, &demo, FIRM_ADMIN).await;
    for admin in ["/admin", "/admin/admins", "/admin/audit", "/admin/outbox"] {
        visit(&browser, &demo, &source, admin, &mut scans).await;
    }
    // The firm's console once the demonstration's statuses filled its inbox (several rows, more than one
    // company), then its company health and its pictures.
    eventually(
        "the firm's inbox lists the demonstration's exceptions",
        Duration::from_secs(120),
        || async {
            browser.goto(&demo.url("/firm")).await;
            let companies = browser
                .execute(
                    "var seen = {}; document.querySelectorAll('tr.firm-row').forEach(function (row) { \
                       seen[row.getAttribute('data-company')] = true; }); \
                     return document.querySelectorAll('tr.firm-row').length >= 4 && Object.keys(seen).length >= 2;",
                    vec![],
                )
                .await;
            (companies == json!(true)).then_some(())
        },
    )
    .await;
    for console in ["/firm", "/firm/companies", "/firm/charts"] {
        visit(&browser, &demo, &source, console, &mut scans).await;
    }
    browser.goto(&demo.url("/admin/outbox")).await;
    let email = link(&browser, "^/admin/outbox/[0-9a-f-]{36}$", "").await;
    visit(&browser, &demo, &source, &email, &mut scans).await;

    // The 404 page (what another company's invoice looks like).
    browser
        .goto(&demo.url(&format!(
            "{MARTIN}/invoices/00000000-0000-0000-0000-000000000000"
        )))
        .await;
    assert_eq!(browser.text_of(".message__code").await, "404");
    assert!(browser.title().await.starts_with("404"));
    scan(&browser, &source, "(404 page)", &mut scans).await;

    let table = report(&scans);
    eprintln!("{table}");
    let serious: Vec<String> = scans
        .iter()
        .flat_map(|scan| {
            scan.violations
                .iter()
                .filter(|violation| matches!(impact(violation), "serious" | "critical"))
                .map(|violation| format!("{}: {violation}", scan.page))
        })
        .collect();
    assert!(
        serious.is_empty(),
        "serious or critical accessibility violations:\n{}",
        serious.join("\n")
    );
    let too_wide: Vec<String> = scans
        .iter()
        .filter(|scan| !scan.too_wide.is_empty())
        .map(|scan| format!("{}: {:?}", scan.page, scan.too_wide))
        .collect();
    assert!(
        too_wide.is_empty(),
        "pages that scroll sideways on a 320 px screen:\n{}",
        too_wide.join("\n")
    );
}
