//! `portal dev recount` (the real binary, on the test's database) repairs a corrupted kept count: the invoice
//! list's chips, which read the kept counts, show the wrong figure before and the right one after.

use crate::helpers::{TestApp, Visitor};
use portal_domain::invoice::{BuyerDraft, InvoiceDraft};
use portal_persistence::counts::CountsRepository;
use portal_persistence::invoices::{InvoiceContent, InvoiceRepository, TotalsCents};
use sea_orm::ConnectionTrait;
use std::process::Command;

/// The count on the list's "all" chip.
async fn all_chip(visitor: &Visitor<'_>) -> String {
    let html = visitor.get("/t/acme/invoices").await.text().await.unwrap();
    html.split("class=\"chips\"")
        .nth(1)
        .and_then(|chips| chips.split("href=\"/t/acme/invoices\"").nth(1))
        .and_then(|chip| chip.split("chip__count\">").nth(1))
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("no chip in {html}"))
        .to_owned()
}

#[tokio::test]
async fn portal_dev_recount_repairs_a_corrupted_count_and_prints_what_it_changed() {
    let app = TestApp::spawn().await;
    app.world().await;
    let db = app.test_db.db.clone();
    let counts = CountsRepository::new(db.clone());
    let (_, acme) = counts
        .companies()
        .await
        .unwrap()
        .into_iter()
        .find(|(tenant, _)| tenant.slug == "acme")
        .unwrap();
    let invoices = InvoiceRepository::new(db.clone());
    for n in 1..=3 {
        let content = InvoiceContent {
            customer_id: None,
            draft: InvoiceDraft {
                number: format!("F-{n}"),
                buyer: BuyerDraft {
                    legal_name: "Client SA".into(),
                    ..Default::default()
                },
                ..Default::default()
            },
            totals: TotalsCents::default(),
        };
        invoices.create_draft(&acme, &content, None).await.unwrap();
    }
    let visitor = Visitor::signed_in(&app, "admin@acme.fr", crate::helpers::PASSWORD).await;
    assert_eq!(all_chip(&visitor).await, "3");

    // A hand edit breaks the kept count: the page shows it.
    db.execute_unprepared("UPDATE invoice_counts SET count = 42 WHERE count = 3")
        .await
        .unwrap();
    assert_eq!(all_chip(&visitor).await, "42");

    let output = Command::new(env!("CARGO_BIN_EXE_portal"))
        .arg("--data-dir")
        .arg(app.test_db.scratch_dir().join("cli"))
        .args(["dev", "recount"])
        .env("DATABASE_URL", app.test_db.url())
        .env("PORTAL_LOG__LEVEL", "off")
        .env_remove("PORTAL_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("acme: no status yet, draft, no action: 42 → 3"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Recounted 2 companies: 1 corrected."),
        "{stdout}"
    );
    assert_eq!(all_chip(&visitor).await, "3");
    assert_eq!(
        counts.kept(&acme).await.unwrap(),
        counts.actual(&acme).await.unwrap()
    );
    app.shutdown().await;
}
