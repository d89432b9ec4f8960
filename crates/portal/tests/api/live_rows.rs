//! The invoice list's live updates fetch the changed invoice's row alone (`GET /t/{slug}/invoices/{id}/row`):
//! the row as the list shows it to that person, and a 404 for another company's invoice or a company outside a
//! firm accountant's portfolio.

use crate::helpers::{PASSWORD, TestApp, Visitor};
use crate::views::{content, day, delivered, scope, sent, status};
use chrono::{Duration, Utc};
use portal_domain::lifecycle::Source;
use portal_persistence::TenantRole;
use portal_persistence::audit::AuditEntry;
use portal_persistence::firm::FirmRepository;

async fn body(visitor: &Visitor<'_>, path: &str) -> (u16, String) {
    let response = visitor.get(path).await;
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn an_invoices_row_is_read_alone_by_those_who_see_the_list_and_by_nobody_else() {
    let app = TestApp::spawn().await;
    let world = app.world().await;
    let acme = scope(&app, "admin@acme.fr", "acme").await;
    let mut events = delivered("R-1");
    events.push(
        status(210, Source::Buyer, Utc::now() - Duration::days(1), "r1-210")
            .with_reasons(["CONTRAT_TERM"]),
    );
    let invoice = sent(
        &app,
        &acme,
        content("R-1", "Alpha SARL", None, 12_000, day(2026, 11, 2)),
        701,
        &events,
    )
    .await;
    let path = format!("/t/acme/invoices/{invoice}/row");

    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let (code, row) = body(&member, &path).await;
    assert_eq!(code, 200);
    assert!(
        row.contains(&format!("data-live-row=\"{invoice}\"")),
        "{row}"
    );
    assert!(row.contains(&format!("data-live-src=\"{path}\"")), "{row}");
    assert!(row.contains("R-1") && row.contains("Alpha SARL"), "{row}");
    assert!(row.contains("210"), "its status: {row}");
    // The same row as the list's.
    let (_, list) = body(&member, "/t/acme/invoices").await;
    let listed = list
        .split(&format!("<td data-live-row=\"{invoice}\""))
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .expect("the list has the row");
    assert!(row.contains(listed), "the fragment is the list's row");

    // Another company's user: 404 under either address; an unknown or malformed id: 404.
    let globex = Visitor::signed_in(&app, "admin@globex.fr", PASSWORD).await;
    assert_eq!(globex.get(&path).await.status(), 404);
    assert_eq!(
        globex
            .get(&format!("/t/globex/invoices/{invoice}/row"))
            .await
            .status(),
        404
    );
    assert_eq!(
        member
            .get(&format!("/t/acme/invoices/{}/row", uuid::Uuid::now_v7()))
            .await
            .status(),
        404
    );
    assert_eq!(member.get("/t/acme/invoices/nope/row").await.status(), 404);
    // It is read only: no form posts to it.
    assert!(
        member
            .submit("/t/acme/invoices", &path, &[])
            .await
            .status()
            .is_client_error()
    );

    // A firm accountant: 404 while acme is outside the portfolio, the row once it is in.
    let julie = app.user("julie@cabinet.fr", None, TenantRole::Viewer).await;
    let firm = FirmRepository::new(app.test_db.db.clone());
    firm.add_accountant(julie).await.unwrap();
    firm.assign(
        julie,
        world.globex.id,
        TenantRole::Member,
        AuditEntry::new("test", "portfolio"),
    )
    .await
    .unwrap();
    let accountant = Visitor::signed_in(&app, "julie@cabinet.fr", PASSWORD).await;
    assert_eq!(accountant.get(&path).await.status(), 404);
    assert!(
        accountant
            .submit("/firm", &path, &[])
            .await
            .status()
            .is_client_error()
    );
    firm.assign(
        julie,
        world.acme.id,
        TenantRole::Member,
        AuditEntry::new("test", "portfolio"),
    )
    .await
    .unwrap();
    let (code, row) = body(&accountant, &path).await;
    assert_eq!(code, 200);
    assert!(row.contains("R-1"));
    app.shutdown().await;
}
