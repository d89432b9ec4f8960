//! CSV in and out over real HTTP: a customers import previewed with every bad row's problems in words, nothing
//! written until confirmed, the same file twice creating nothing the second time; the invoice list exported with
//! its filters and a period's timeline, as UTF-8 with a BOM, `;` and French amounts; another company gets 404.

use crate::answers::{Part, post_multipart};
use crate::helpers::{PASSWORD, TestApp, Visitor};
use portal_domain::invoice::InvoiceDraft;
use portal_domain::lifecycle::{Source, StatusEvent};
use portal_domain::status::StatusCode;
use portal_persistence::TenantScope;
use portal_persistence::invoices::{InvoiceContent, TotalsCents};

const BOM: &[u8] = b"\xEF\xBB\xBF";

async fn app() -> TestApp {
    let app = TestApp::spawn().await;
    app.world().await;
    app
}

async fn scope_of(app: &TestApp, slug: &str) -> TenantScope {
    let user = app
        .state
        .users
        .find_by_email(&format!("admin@{slug}.fr"))
        .await
        .unwrap()
        .unwrap();
    app.state
        .tenants
        .scope_for_member(user.id, slug)
        .await
        .unwrap()
        .unwrap()
        .1
}

/// The value of the hidden `content` input, as the browser would send it back.
fn kept_content(html: &str) -> String {
    html.split("name=\"content\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the preview keeps the file for the confirmation")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

const FILE: &str = "Raison sociale;SIREN;Email;Ville\r\n\
Globex SARL;443061841;compta@globex.fr;Paris\r\n\
Mauvais SIREN SA;123456789;a@b.fr;Lyon\r\n\
;732829320;;Nantes\r\n\
Globex encore;443 061 841;autre@globex.fr;Paris\r\n";

#[tokio::test]
async fn a_customers_file_is_previewed_then_imported_once() {
    let app = app().await;
    let scope = scope_of(&app, "acme").await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let page = "/t/acme/customers/import";
    assert_eq!(member.get(page).await.status(), 200);
    let mut bytes = BOM.to_vec();
    bytes.extend_from_slice(FILE.as_bytes());
    let preview = post_multipart(
        &member,
        page,
        page,
        &[
            Part::File("file", "clients.csv", "text/csv", &bytes),
            Part::Text("action", "preview"),
        ],
    )
    .await;
    assert_eq!(preview.status(), 200);
    let html = preview.text().await.unwrap();
    // Every row's fate, the problems in words.
    assert!(html.contains("Sera créé"), "{html}");
    assert!(
        html.contains("SIREN : "),
        "the bad SIREN is explained: {html}"
    );
    assert!(html.contains("Indiquez la raison sociale."), "{html}");
    assert!(html.contains("Même client que la ligne 2"), "{html}");
    assert!(html.contains("1 client(s) à créer, 1 déjà connu(s), 2 ligne(s) avec des problèmes"));
    // Nothing written yet.
    assert!(
        app.state
            .customers
            .list(&scope, None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let content = kept_content(&html);
    let confirm = |content: String| {
        let member = &member;
        async move {
            post_multipart(
                member,
                page,
                page,
                &[
                    Part::Text("content", &content),
                    Part::Text("action", "confirm"),
                ],
            )
            .await
        }
    };
    let done = confirm(content.clone()).await;
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("1 client(s) créé(s)."));
    let customers = app.state.customers.list(&scope, None, 10).await.unwrap();
    assert_eq!(customers.len(), 1);
    assert_eq!(customers[0].siren, "443061841");
    assert_eq!(customers[0].electronic_address, "0225:443061841");

    // The same file again: everyone is known, nothing is offered, and a confirmation creates nothing.
    let again = post_multipart(
        &member,
        page,
        page,
        &[
            Part::File("file", "clients.csv", "text/csv", &bytes),
            Part::Text("action", "preview"),
        ],
    )
    .await;
    let html = again.text().await.unwrap();
    assert!(html.contains("Déjà client"), "{html}");
    assert!(
        !html.contains("name=\"content\""),
        "nothing to confirm: {html}"
    );
    let done = confirm(content).await;
    assert!(done.text().await.unwrap().contains("0 client(s) créé(s)."));
    assert_eq!(
        app.state
            .customers
            .list(&scope, None, 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // A file that is not a CSV of customers is refused in words, and changes nothing.
    for (file, words) in [
        (&b"\xff\xfe\x00"[..], "UTF-8"),
        (&b"nom;ville\r\nA;B\r\n"[..], "Raison sociale"),
    ] {
        let refused = post_multipart(
            &member,
            page,
            page,
            &[
                Part::File("file", "x.csv", "text/csv", file),
                Part::Text("action", "preview"),
            ],
        )
        .await;
        assert_eq!(refused.status(), 422);
        assert!(refused.text().await.unwrap().contains(words));
    }
    assert_eq!(
        app.state
            .customers
            .list(&scope, None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    app.shutdown().await;
}

async fn invoice(
    app: &TestApp,
    scope: &TenantScope,
    number: &str,
    incl: i64,
) -> portal_domain::ids::InvoiceId {
    app.state
        .invoices
        .create_draft(
            scope,
            &InvoiceContent {
                customer_id: None,
                draft: InvoiceDraft {
                    number: number.to_owned(),
                    issue_date: chrono::NaiveDate::from_ymd_opt(2026, 9, 1),
                    ..InvoiceDraft::default()
                },
                totals: TotalsCents {
                    excl: incl,
                    vat: 0,
                    incl,
                },
            },
            None,
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn the_list_and_a_period_export_as_french_spreadsheets() {
    let app = app().await;
    let scope = scope_of(&app, "acme").await;
    let first = invoice(&app, &scope, "F2026-X0001", 123_450).await;
    invoice(&app, &scope, "F2026-X0002", 99).await;
    let at = chrono::DateTime::parse_from_rfc3339("2026-09-02T21:30:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    portal_app::statuses::ingest(
        &app.state,
        &scope,
        first,
        &[StatusEvent::status(
            StatusCode(208),
            Source::Buyer,
            at,
            "test-208",
        )],
        None,
        "test",
    )
    .await
    .unwrap();
    let viewer = Visitor::signed_in(&app, "viewer@acme.fr", PASSWORD).await;

    let response = viewer.get("/t/acme/invoices/export.csv").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(BOM));
    let text = std::str::from_utf8(&bytes[BOM.len()..]).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("Numéro;"), "{text}");
    assert!(text.contains("F2026-X0001;"), "{text}");
    assert!(text.contains(";1\u{a0}234,50;EUR;208;Suspendue;"), "{text}");
    assert!(text.contains(";0,99;"), "{text}");

    // With the list's filters.
    let filtered = viewer.get("/t/acme/invoices/export.csv?q=X0002").await;
    let text = filtered.text().await.unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("F2026-X0002") && !text.contains("F2026-X0001"));
    let bad = viewer.get("/t/acme/invoices/export.csv?status=abc").await;
    assert_eq!(bad.status(), 400);

    // The timeline of a period, in Paris time (21:30 UTC on the 2nd is 23:30 in Paris).
    let timeline = viewer
        .get("/t/acme/invoices/timeline.csv?from=2026-09-02&to=2026-09-02")
        .await;
    assert_eq!(timeline.status(), 200);
    let bytes = timeline.bytes().await.unwrap();
    assert!(bytes.starts_with(BOM));
    let text = std::str::from_utf8(&bytes[BOM.len()..]).unwrap();
    assert!(text.contains("02/09/2026 23:30:00;F2026-X0001;"), "{text}");
    assert!(text.contains(";208;Suspendue;buyer;"), "{text}");
    let next_day = viewer
        .get("/t/acme/invoices/timeline.csv?from=2026-09-03&to=2026-09-30")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(next_day.lines().count(), 1, "only the header: {next_day}");
    let reversed = viewer
        .get("/t/acme/invoices/timeline.csv?from=2026-09-30&to=2026-09-01")
        .await;
    assert_eq!(reversed.status(), 400);
    app.shutdown().await;
}

#[tokio::test]
async fn another_company_gets_404_on_the_csv_routes() {
    let app = app().await;
    let outsider = Visitor::signed_in(&app, "admin@globex.fr", PASSWORD).await;
    for page in [
        "/t/acme/invoices/export.csv",
        "/t/acme/invoices/timeline.csv?from=2026-01-01&to=2026-01-31",
        "/t/acme/customers/import",
    ] {
        assert_eq!(outsider.get(page).await.status(), 404, "GET {page}");
    }
    let response = post_multipart(
        &outsider,
        "/t/globex/customers/import",
        "/t/acme/customers/import",
        &[
            Part::File("file", "c.csv", "text/csv", FILE.as_bytes()),
            Part::Text("action", "confirm"),
        ],
    )
    .await;
    assert_eq!(response.status(), 404);
    let acme = scope_of(&app, "acme").await;
    assert!(
        app.state
            .customers
            .list(&acme, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A viewer reads the exports but may not import.
    let viewer = Visitor::signed_in(&app, "viewer@acme.fr", PASSWORD).await;
    assert_eq!(viewer.get("/t/acme/customers/import").await.status(), 403);
    app.shutdown().await;
}
