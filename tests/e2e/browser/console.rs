//! The firm's console in a real browser, on the demonstration, as its firm administrator: a 50-row CSV with 3 bad
//! rows (a wrong SIREN check digit, a SIREN twice in the file, a malformed email) is previewed, confirmed, and
//! creates 47 companies with a report of the 3; the same file uploaded again creates none. The health page, the
//! charts and the import pages pass axe.

use super::accessibility::axe;
use super::webdriver::{Browser, eventually};
use super::{Demo, FIRM_ADMIN, axe_source, sign_in};
use std::time::Duration;

/// A valid SIREN (Luhn key) from an 8-digit base.
fn siren(base: u32) -> String {
    let digits = format!("{base:08}");
    let sum_with = |check: u32| {
        format!("{digits}{check}")
            .chars()
            .rev()
            .enumerate()
            .map(|(i, c)| {
                let d = c.to_digit(10).unwrap();
                if i % 2 == 1 {
                    let twice = d * 2;
                    if twice > 9 { twice - 9 } else { twice }
                } else {
                    d
                }
            })
            .sum::<u32>()
    };
    let check = (0..10).find(|check| sum_with(*check) % 10 == 0).unwrap();
    format!("{digits}{check}")
}

/// 50 companies, 3 of them wrong: line 11 (check digit), line 21 (line 2's SIREN again), line 31 (email).
fn fifty_rows() -> String {
    let mut csv = String::from(
        "\u{feff}name;siren;address;postcode;city;admin_email;admin_name;billit_party_id;accountant_email\r\n",
    );
    for n in 1..=50u32 {
        let mut id = siren(91_000_000 + n);
        let mut email = format!("gerant{n}@entreprise{n}.fr");
        match n {
            10 => {
                // Breaks the Luhn key.
                let last = id.pop().unwrap().to_digit(10).unwrap();
                id.push(char::from_digit((last + 1) % 10, 10).unwrap());
            }
            20 => id = siren(91_000_001),
            30 => email = "gerant30-at-entreprise30.fr".to_owned(),
            _ => {}
        }
        csv.push_str(&format!(
            "Entreprise Import {n};{id};{n} rue du Test;750{:02};Paris;{email};Gérant {n};;\r\n",
            n % 20 + 1
        ));
    }
    csv
}

async fn no_serious_violation(browser: &Browser, source: &str, page: &str) {
    let serious: Vec<_> = axe(browser, source)
        .await
        .into_iter()
        .filter(|violation| matches!(violation["impact"].as_str(), Some("serious" | "critical")))
        .collect();
    assert!(serious.is_empty(), "{page}: {serious:#?}");
}

/// Chooses the file in the upload form and waits for the preview.
async fn upload(browser: &Browser, demo: &Demo, path: &std::path::Path) -> String {
    browser.goto(&demo.url("/firm/companies/import")).await;
    let input = browser.find("#import-file").await;
    browser.send_keys(&input, path.to_str().unwrap()).await;
    let submit = browser
        .find("form[action='/firm/companies/import'] button[type=submit]")
        .await;
    browser.click(&submit).await;
    eventually("the preview", Duration::from_secs(30), || async {
        browser
            .try_find("#import-preview")
            .await
            .is_some()
            .then_some(())
    })
    .await;
    browser.text_of("#import-summary").await
}

#[tokio::test]
async fn a_firm_admin_onboards_47_companies_from_a_50_row_file_and_a_second_upload_creates_none() {
    let source = axe_source();
    let demo = Demo::start(3_600_000).await;
    let browser = Browser::start(
        "a_firm_admin_onboards_47_companies_from_a_50_row_file_and_a_second_upload_creates_none",
    )
    .await;
    sign_in(&browser, &demo, FIRM_ADMIN).await;

    browser.goto(&demo.url("/firm/companies/import")).await;
    no_serious_violation(&browser, &source, "/firm/companies/import").await;

    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("entreprises.csv");
    std::fs::write(&file, fifty_rows()).unwrap();

    let summary = upload(&browser, &demo, &file).await;
    assert!(
        summary.contains("47 entreprise(s) prête(s) à créer, 3 ligne(s) à corriger"),
        "{summary}"
    );
    let bad = browser.find_all("#import-preview tr.import-bad").await;
    assert_eq!(bad.len(), 3);
    let page = browser.source().await;
    assert!(page.contains("ce SIREN figure déjà à la ligne 2 du fichier"));
    no_serious_violation(&browser, &source, "the import preview").await;

    let confirm = browser.find("#import-confirm").await;
    browser.click(&confirm).await;
    eventually("the import report", Duration::from_secs(60), || async {
        browser
            .try_find("#import-created")
            .await
            .is_some()
            .then_some(())
    })
    .await;
    let report = browser.text_of("#import-summary").await;
    assert!(
        report.contains("47 entreprise(s) créée(s), 3 ligne(s) ignorée(s)."),
        "{report}"
    );
    assert_eq!(browser.find_all("#import-created tbody tr").await.len(), 47);
    let skipped: Vec<String> = {
        let mut lines = Vec::new();
        for row in browser.find_all("#import-skipped tbody tr").await {
            lines.push(
                browser
                    .attribute(&row, "data-line")
                    .await
                    .unwrap_or_default(),
            );
        }
        lines
    };
    assert_eq!(
        skipped,
        ["11", "21", "31"],
        "the 3 bad rows, by their line in the file"
    );
    no_serious_violation(&browser, &source, "the import report").await;

    // The same file again: every row is already a company.
    let summary = upload(&browser, &demo, &file).await;
    assert!(
        summary.contains("0 entreprise(s) prête(s) à créer, 50 ligne(s) à corriger"),
        "{summary}"
    );
    assert!(browser.try_find("#import-confirm").await.is_none());

    // The new companies are on the health page, sortable without a script.
    browser
        .goto(&demo.url("/firm/companies?sort=name&dir=asc"))
        .await;
    let rows = browser.find_all("#company-health tbody tr").await;
    assert!(
        rows.len() >= 49,
        "the demonstration's companies and the 47: {}",
        rows.len()
    );
    no_serious_violation(&browser, &source, "/firm/companies").await;
    browser.goto(&demo.url("/firm/charts")).await;
    // Four pictures (one may say "nothing yet": the demonstration's statuses come slowly here).
    assert_eq!(browser.find_all("figure.chart").await.len(), 4);
    assert!(!browser.find_all("svg[role=img]").await.is_empty());
    no_serious_violation(&browser, &source, "/firm/charts").await;
}
