//! The invoice list's live updates fetch the changed invoice's row alone (`GET /t/{slug}/invoices/{id}/row`):
//! the row as the list shows it to that person, and a 404 for another company's invoice or a company outside a
//! firm accountant's portfolio.

use crate::helpers::{PASSWORD, TestApp, Visitor, World};
use crate::views::{content, day, delivered, scope, sent, status};
use chrono::{Duration, Utc};
use portal_domain::ids::UserId;
use portal_domain::lifecycle::Source;
use portal_persistence::TenantRole;
use portal_persistence::audit::AuditEntry;
use portal_persistence::firm::FirmRepository;
use portal_persistence::tenants::Tenant;

/// Julie, a firm accountant whose portfolio holds globex only: acme is outside it until she `takes` it.
struct Accountant {
    firm: FirmRepository,
    id: UserId,
}

impl Accountant {
    async fn with_globex_only(app: &TestApp, world: &World) -> Self {
        let id = app.user("julie@cabinet.fr", None, TenantRole::Viewer).await;
        let firm = FirmRepository::new(app.test_db.db.clone());
        firm.add_accountant(id).await.unwrap();
        let julie = Self { firm, id };
        julie.takes(&world.globex).await;
        julie
    }

    /// Puts `company` into her portfolio, as a member.
    async fn takes(&self, company: &Tenant) {
        self.firm
            .assign(
                self.id,
                company.id,
                TenantRole::Member,
                AuditEntry::new("test", "portfolio"),
            )
            .await
            .unwrap();
    }
}

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
    let julie = Accountant::with_globex_only(&app, &world).await;
    let accountant = Visitor::signed_in(&app, "julie@cabinet.fr", PASSWORD).await;
    assert_eq!(accountant.get(&path).await.status(), 404);
    assert!(
        accountant
            .submit("/firm", &path, &[])
            .await
            .status()
            .is_client_error()
    );
    julie.takes(&world.acme).await;
    let (code, row) = body(&accountant, &path).await;
    assert_eq!(code, 200);
    assert!(row.contains("R-1"));
    app.shutdown().await;
}

/// The count a chips fragment (or a list page) shows on the chip that links to `query`.
fn chip_count(html: &str, slug: &str, query: &str) -> Option<u64> {
    let href = format!("href=\"/t/{slug}/invoices?{query}\"");
    let after = html.split_once(&href)?.1;
    let count = after.split_once("class=\"chip__count\">")?.1;
    count.split('<').next()?.trim().parse().ok()
}

/// The chips as the list shows them (`nav.chips` of the page).
fn chips_of(html: &str) -> &str {
    let start = html.find("<nav class=\"chips\"").expect("chips");
    let end = html[start..].find("</nav>").expect("the chips end") + start;
    &html[start..end]
}

#[tokio::test]
async fn the_lists_chips_are_read_alone_with_the_counts_of_now_and_by_nobody_else() {
    let app = TestApp::spawn().await;
    let world = app.world().await;
    let acme = scope(&app, "admin@acme.fr", "acme").await;
    let refused = |number: &'static str| {
        let mut events = delivered(number);
        events.push(
            status(
                210,
                Source::Buyer,
                Utc::now() - Duration::days(1),
                &format!("{number}-210"),
            )
            .with_reasons(["CONTRAT_TERM"]),
        );
        events
    };
    sent(
        &app,
        &acme,
        content("C-1", "Alpha SARL", None, 12_000, day(2026, 11, 2)),
        801,
        &refused("C-1"),
    )
    .await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let path = "/t/acme/invoices/chips?status=210";
    let (code, chips) = body(&member, path).await;
    assert_eq!(code, 200);
    let before = chip_count(&chips, "acme", "status=210").expect("a chip for 210");
    // The chip in use is the list's own filter, and the fragment is the list's chips.
    assert!(
        chips.contains("href=\"/t/acme/invoices?status=210\" aria-current=\"page\""),
        "{chips}"
    );
    let (_, list) = body(&member, "/t/acme/invoices?status=210").await;
    assert_eq!(chips_of(&chips), chips_of(&list), "the list's chips");

    // Another refusal: the chips say so at once (they are what live.js puts in place after the rows).
    sent(
        &app,
        &acme,
        content("C-2", "Alpha SARL", None, 9_000, day(2026, 11, 3)),
        802,
        &refused("C-2"),
    )
    .await;
    let (_, chips) = body(&member, path).await;
    assert_eq!(
        chip_count(&chips, "acme", "status=210"),
        Some(before + 1),
        "{chips}"
    );

    // Another company's user: 404 (their own chips are theirs); no form posts to it.
    let globex = Visitor::signed_in(&app, "admin@globex.fr", PASSWORD).await;
    assert_eq!(globex.get(path).await.status(), 404);
    let (code, own) = body(&globex, "/t/globex/invoices/chips").await;
    assert_eq!(code, 200);
    assert_eq!(
        chip_count(&own, "globex", "status=210"),
        None,
        "globex has no refusal: {own}"
    );
    assert!(
        member
            .submit("/t/acme/invoices", path, &[])
            .await
            .status()
            .is_client_error()
    );

    // A firm accountant: 404 while acme is outside the portfolio, the chips once it is in.
    let julie = Accountant::with_globex_only(&app, &world).await;
    let accountant = Visitor::signed_in(&app, "julie@cabinet.fr", PASSWORD).await;
    assert_eq!(accountant.get(path).await.status(), 404);
    julie.takes(&world.acme).await;
    let (code, chips) = body(&accountant, path).await;
    assert_eq!(code, 200);
    assert_eq!(chip_count(&chips, "acme", "status=210"), Some(before + 1));
    app.shutdown().await;
}
