//! The invoice list's search over HTTP (the page and the JSON API): what people type finds the invoice, in any
//! case, without accents, by reference or by amount as written in French or English; another company's matching
//! invoice never shows; the next page of a search keeps searching.

use crate::api_v1::{Client, Contract, make_token};
use crate::helpers::{TestApp, Visitor};
use crate::views::{content, day, scope};
use portal_persistence::invoices::InvoiceRepository;

#[tokio::test]
async fn the_list_and_the_api_find_what_people_type_in_their_company_only() {
    let app = TestApp::spawn().await;
    app.world().await;
    let acme = scope(&app, "admin@acme.fr", "acme").await;
    let globex = scope(&app, "admin@globex.fr", "globex").await;
    let repo = InvoiceRepository::new(app.test_db.db.clone());
    let mut societe = content(
        "F2026-00001",
        "Société Générale",
        None,
        123_450,
        day(2026, 3, 1),
    );
    societe.draft.buyer_reference = "CHANTIER-NORD".into();
    repo.create_draft(&acme, &societe, None).await.unwrap();
    repo.create_draft(
        &acme,
        &content("F2026-00002", "Durand SARL", None, 9_900, day(2026, 3, 2)),
        None,
    )
    .await
    .unwrap();
    // Globex's invoice matches every search below.
    let mut theirs = content(
        "G2026-77777",
        "Société Générale",
        None,
        123_450,
        day(2026, 3, 1),
    );
    theirs.draft.buyer_reference = "CHANTIER-NORD".into();
    repo.create_draft(&globex, &theirs, None).await.unwrap();

    let visitor = Visitor::signed_in(&app, "viewer@acme.fr", crate::helpers::PASSWORD).await;
    let token = make_token(&app, "admin@acme.fr", "acme", "search", "read").await;
    let contract = Contract::load(&app).await;
    let api = Client::new(&app, &contract, &token);
    for typed in [
        "societe",
        "SOCI%C3%89T%C3%89",
        "chantier-nord",
        "1%20234%2C50",
        "1%E2%80%AF234%2C50%20%E2%82%AC",
        "1234.50",
        "1%2C234.50",
        "00001",
    ] {
        let response = visitor.get(&format!("/t/acme/invoices?q={typed}")).await;
        assert_eq!(response.status(), 200, "{typed}");
        let html = response.text().await.unwrap();
        assert!(html.contains("F2026-00001"), "{typed}");
        assert!(!html.contains("F2026-00002"), "{typed}");
        assert!(
            !html.contains("G2026-77777"),
            "{typed}: another company's invoice"
        );

        let answer = api.get(&format!("/api/v1/invoices?q={typed}")).await;
        assert_eq!(answer.status, 200, "{typed}");
        let numbers: Vec<&str> = answer.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|item| item["number"].as_str())
            .collect();
        assert_eq!(numbers, vec!["F2026-00001"], "API {typed}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn the_next_page_of_a_search_keeps_searching() {
    let app = TestApp::spawn().await;
    app.world().await;
    let acme = scope(&app, "admin@acme.fr", "acme").await;
    let repo = InvoiceRepository::new(app.test_db.db.clone());
    let mut expected = Vec::new();
    for n in 0..120_u32 {
        let buyer = if n % 2 == 0 {
            "Pâtisserie Lenôtre"
        } else {
            "Durand"
        };
        let number = format!("F2026-{n:05}");
        repo.create_draft(
            &acme,
            &content(&number, buyer, None, 10_000, day(2026, 1, 1 + n % 28)),
            None,
        )
        .await
        .unwrap();
        if n % 2 == 0 {
            expected.push(number);
        }
    }
    let visitor = Visitor::signed_in(&app, "viewer@acme.fr", crate::helpers::PASSWORD).await;
    let mut seen = Vec::new();
    let mut path = "/t/acme/invoices?q=patisserie%20lenotre".to_owned();
    for _ in 0..10 {
        let html = visitor.get(&path).await.text().await.unwrap();
        for number in &expected {
            if html.contains(number.as_str()) {
                seen.push(number.clone());
            }
        }
        for other in (0..120_u32).filter(|n| n % 2 == 1) {
            assert!(!html.contains(&format!("F2026-{other:05}")), "{path}");
        }
        // The next page's link carries the search.
        let Some(next) = html
            .split("href=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .find(|href| href.contains("after="))
        else {
            break;
        };
        let next = next
            .replace("&#x2f;", "/")
            .replace("&#47;", "/")
            .replace("&#43;", "+")
            .replace("&#x3d;", "=")
            .replace("&#38;", "&")
            .replace("&amp;", "&");
        assert!(next.starts_with("/t/acme/invoices?"), "{next}");
        assert!(next.contains("q=patisserie"), "{next}");
        path = next;
    }
    seen.sort();
    expected.sort();
    assert_eq!(seen, expected, "every match once, across pages");
    app.shutdown().await;
}
