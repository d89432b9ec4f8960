//! The firm's console over real HTTP: firm accountants and their portfolios, the exception inbox across
//! companies (its rows, order, counts, filters, CSV export, live stream), and 404 for everything outside what a
//! person may see.

use crate::helpers::{PASSWORD, TestApp, Visitor};
use crate::views::{content, day, delivered, scope, sent, status};
use chrono::{Duration, Utc};
use portal_domain::ids::{InvoiceId, UserId};
use portal_domain::lifecycle::{Source, StatusEvent};
use portal_persistence::TenantRole;
use portal_persistence::audit::AuditEntry;
use portal_persistence::entities::audit_log;
use portal_persistence::firm::FirmRepository;
use portal_persistence::invoices::InvoiceRepository;
use portal_persistence::tenants::Tenant;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

const JULIE: &str = "julie@cabinet.fr";

/// A firm accountant whose portfolio holds `portfolio` with `role`.
async fn accountant(app: &TestApp, email: &str, portfolio: &[(&Tenant, TenantRole)]) -> UserId {
    let user = app.user(email, None, TenantRole::Viewer).await;
    let firm = FirmRepository::new(app.test_db.db.clone());
    firm.add_accountant(user).await.unwrap();
    for (tenant, role) in portfolio {
        assert!(
            firm.assign(user, tenant.id, *role, AuditEntry::new("test", "portfolio"))
                .await
                .unwrap()
        );
    }
    user
}

fn request(
    code: u16,
    reason: &str,
    action: &str,
    when: chrono::DateTime<Utc>,
    key: &str,
) -> StatusEvent {
    status(code, Source::Buyer, when, key)
        .with_description(format!("{code} {reason}"))
        .with_reasons([reason])
        .with_requested_action(action)
}

/// An invoice of the tenant with `events` after its delivery.
async fn invoice(
    app: &TestApp,
    email: &str,
    slug: &str,
    number: &str,
    buyer: &str,
    order: i64,
    extra: Vec<StatusEvent>,
) -> InvoiceId {
    let scope = scope(app, email, slug).await;
    let mut events = delivered(number);
    events.extend(extra);
    sent(
        app,
        &scope,
        content(number, buyer, None, 12_000, day(2026, 11, 2)),
        order,
        &events,
    )
    .await
}

async fn text(visitor: &Visitor<'_>, path: &str) -> (u16, String) {
    let response = visitor.get(path).await;
    let code = response.status().as_u16();
    (code, response.text().await.unwrap())
}

/// Posts `form` with the CSRF token of `page` (any page of the visitor's session).
async fn post(visitor: &Visitor<'_>, page: &str, action: &str, form: &[(&str, &str)]) -> u16 {
    visitor.submit(page, action, form).await.status().as_u16()
}

#[tokio::test]
async fn a_firm_accountant_sees_their_portfolio_only_and_404_everywhere_else() {
    let app = TestApp::spawn().await;
    let world = app.world().await;
    accountant(&app, JULIE, &[(&world.acme, TenantRole::Member)]).await;
    let old = Utc::now() - Duration::days(10);
    let acme_invoice = invoice(
        &app,
        "admin@acme.fr",
        "acme",
        "F-ACME-1",
        "Alpha SARL",
        501,
        vec![request(208, "JUSTIF_ABS", "PIN", old, "acme-208")],
    )
    .await;
    let globex_invoice = invoice(
        &app,
        "admin@globex.fr",
        "globex",
        "F-GLOBEX-1",
        "Omega SA",
        502,
        vec![status(210, Source::Buyer, old, "globex-210").with_reasons(["CONTRAT_TERM"])],
    )
    .await;

    let julie = Visitor::signed_in(&app, JULIE, PASSWORD).await;
    // Firm staff land on the console.
    assert_eq!(julie.get("/").await.headers()["location"], "/firm");
    let (code, html) = text(&julie, "/firm").await;
    assert_eq!(code, 200);
    assert!(
        html.contains("F-ACME-1"),
        "the portfolio's request is listed"
    );
    assert!(html.contains("Justificatif absent"), "its reason in words");
    assert!(html.contains(&format!("/t/acme/invoices/{acme_invoice}")));
    assert!(
        !html.contains("F-GLOBEX-1"),
        "nothing of a company outside the portfolio"
    );
    assert!(!html.contains("Globex"), "not even its name in the filters");

    // Outside the portfolio: the same 404 as a company that does not exist, pages, inbox, export, live.
    for path in [
        "/t/globex/".to_owned(),
        "/t/globex/invoices".to_owned(),
        format!("/t/globex/invoices/{globex_invoice}"),
        "/t/globex/live".to_owned(),
        "/firm?company=globex".to_owned(),
        "/firm/export.csv?company=globex".to_owned(),
        "/firm?company=nope".to_owned(),
        "/firm/staff".to_owned(),
        "/firm/companies/import".to_owned(),
        "/firm/companies/import/template.csv".to_owned(),
    ] {
        assert_eq!(julie.get(&path).await.status(), 404, "{path}");
    }
    // The company health page and the pictures cover the portfolio only.
    for page in ["/firm/companies", "/firm/charts"] {
        let (code, html) = text(&julie, page).await;
        assert_eq!(code, 200, "{page}");
        assert!(
            html.contains("ACME SAS"),
            "{page} shows the portfolio's company"
        );
        assert!(
            !html.contains("Globex"),
            "{page} shows nothing outside the portfolio"
        );
    }
    // POST outside the portfolio, and to the firm administrators' forms.
    assert_eq!(
        post(
            &julie,
            "/firm",
            "/t/globex/settings/email",
            &[("sender_name", "X"), ("reply_to", ""), ("signature", "")]
        )
        .await,
        404
    );
    assert_eq!(
        post(
            &julie,
            "/firm",
            "/firm/staff/invite",
            &[("email", "x@y.fr")]
        )
        .await,
        404
    );
    // Inside it, with the portfolio's role: a member, not an admin.
    assert_eq!(julie.get("/t/acme/").await.status(), 200);
    assert_eq!(
        julie
            .get(&format!("/t/acme/invoices/{acme_invoice}"))
            .await
            .status(),
        200
    );
    assert_eq!(julie.get("/t/acme/settings/users").await.status(), 403);

    // The export of the current view: UTF-8 with a BOM, `;`, the portfolio's rows only.
    let response = julie.get("/firm/export.csv").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "a BOM first");
    let csv = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("Entreprise;Type;Facture;Client")
    );
    let row = lines.next().unwrap();
    assert!(row.starts_with("ACME SAS;"), "{row}");
    assert!(
        row.contains(";F-ACME-1;Alpha SARL;208 · Suspendue;"),
        "{row}"
    );
    assert!(lines.next().is_none(), "one row: {csv}");

    // Entering the company as the firm is audited once per session, and entries say "as the firm".
    let entries = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("firm.enter"))
        .all(&app.test_db.db)
        .await
        .unwrap();
    assert_eq!(
        entries.len(),
        1,
        "once per session and company: {entries:?}"
    );
    assert_eq!(entries[0].tenant_id, Some(world.acme.id.as_uuid()));
    assert_eq!(entries[0].acting_as.as_deref(), Some("firm"));
    let again = Visitor::signed_in(&app, JULIE, PASSWORD).await;
    assert_eq!(again.get("/t/acme/invoices").await.status(), 200);
    let entries = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("firm.enter"))
        .all(&app.test_db.db)
        .await
        .unwrap();
    assert_eq!(entries.len(), 2, "a new session is a new entry");

    // A company's own user acting there is recorded as the company's.
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    assert_eq!(
        post(
            &admin,
            "/t/acme/settings/email",
            "/t/acme/settings/email",
            &[("sender_name", "ACME"), ("reply_to", ""), ("signature", "")]
        )
        .await,
        303
    );
    let own = audit_log::Entity::find()
        .filter(audit_log::Column::TenantId.eq(world.acme.id.as_uuid()))
        .filter(audit_log::Column::Action.ne("firm.enter"))
        .all(&app.test_db.db)
        .await
        .unwrap();
    assert!(
        own.iter()
            .any(|entry| entry.acting_as.as_deref() == Some("company")),
        "{own:?}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn company_users_get_404_on_every_firm_route() {
    let app = TestApp::spawn().await;
    let world = app.world().await;
    let accountant_id = accountant(&app, JULIE, &[]).await;
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    // A company user keeps landing on their company.
    assert_eq!(admin.get("/").await.headers()["location"], "/t/acme/");
    for path in ["/firm", "/firm/export.csv", "/firm/live", "/firm/staff"] {
        assert_eq!(admin.get(path).await.status(), 404, "{path}");
    }
    let page = "/t/acme/";
    for (action, form) in [
        ("/firm/staff/invite".to_owned(), vec![("email", "x@y.fr")]),
        (
            format!("/firm/staff/{accountant_id}/portfolio"),
            vec![("tenant", &*world.acme.id.to_string()), ("role", "admin")],
        ),
        (
            format!(
                "/firm/staff/{accountant_id}/portfolio/{}/remove",
                world.acme.id
            ),
            vec![],
        ),
    ] {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(post(&admin, page, &action, &form).await, 404, "{action}");
    }
    assert!(
        FirmRepository::new(app.test_db.db.clone())
            .portfolio(accountant_id)
            .await
            .unwrap()
            .is_empty(),
        "nothing changed"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn firm_admins_invite_accountants_and_fill_their_portfolios() {
    let app = TestApp::spawn().await;
    let world = app.world().await;
    app.firm_admin("boss@cabinet.fr").await;
    let boss = Visitor::signed_in(&app, "boss@cabinet.fr", PASSWORD).await;
    assert_eq!(
        post(
            &boss,
            "/firm/staff",
            "/firm/staff/invite",
            &[("email", "not an email")]
        )
        .await,
        422
    );
    assert_eq!(
        post(
            &boss,
            "/firm/staff",
            "/firm/staff/invite",
            &[("email", JULIE), ("language", "fr")]
        )
        .await,
        303
    );
    // The invitation's link, as the outbox holds it.
    let outbox = portal_persistence::entities::outbox::Entity::find()
        .all(&app.test_db.db)
        .await
        .unwrap();
    let body = &outbox.last().unwrap().text_body;
    let link = body
        .split("/invitations/")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let julie = Visitor::new(&app);
    let accepted = julie
        .submit(
            &format!("/invitations/{link}"),
            &format!("/invitations/{link}"),
            &[
                ("name", "Julie Fabre"),
                ("password", PASSWORD),
                ("password_confirmation", PASSWORD),
            ],
        )
        .await;
    assert_eq!(accepted.status(), 303, "{}", accepted.text().await.unwrap());
    let julie_id = portal_persistence::users::UserRepository::new(app.test_db.db.clone())
        .find_by_email(JULIE)
        .await
        .unwrap()
        .unwrap()
        .id;
    // An accountant with an empty portfolio sees an empty console, and no company.
    assert_eq!(julie.get("/firm").await.status(), 200);
    assert_eq!(julie.get("/t/acme/").await.status(), 404);

    let add = format!("/firm/staff/{julie_id}/portfolio");
    let acme = world.acme.id.to_string();
    assert_eq!(
        post(
            &boss,
            "/firm/staff",
            &add,
            &[("tenant", &acme), ("role", "viewer")]
        )
        .await,
        422,
        "member or admin only"
    );
    assert_eq!(
        post(
            &boss,
            "/firm/staff",
            &add,
            &[
                ("tenant", &uuid::Uuid::now_v7().to_string()),
                ("role", "admin")
            ]
        )
        .await,
        404
    );
    let stranger = app.user("someone@else.fr", None, TenantRole::Viewer).await;
    assert_eq!(
        post(
            &boss,
            "/firm/staff",
            &format!("/firm/staff/{stranger}/portfolio"),
            &[("tenant", &acme), ("role", "admin")]
        )
        .await,
        404,
        "only firm accountants get a portfolio"
    );
    assert_eq!(
        post(
            &boss,
            "/firm/staff",
            &add,
            &[("tenant", &acme), ("role", "admin")]
        )
        .await,
        303
    );
    assert_eq!(
        julie.get("/t/acme/settings/users").await.status(),
        200,
        "admin there"
    );
    // The company's users list shows her, marked as the firm's.
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let (_, users) = text(&admin, "/t/acme/settings/users").await;
    assert!(users.contains("Julie Fabre"), "listed");
    assert!(
        users.contains("Collaborateur du cabinet"),
        "marked as the firm's"
    );
    // And the company cannot change her: she is no member of it.
    assert_eq!(
        post(
            &admin,
            "/t/acme/settings/users",
            &format!("/t/acme/settings/users/{julie_id}"),
            &[("role", "viewer"), ("active", "true")]
        )
        .await,
        404
    );
    let (_, staff) = text(&boss, "/firm/staff").await;
    assert!(staff.contains("Julie Fabre") && staff.contains("ACME SAS"));
    let remove = format!("/firm/staff/{julie_id}/portfolio/{acme}/remove");
    assert_eq!(post(&boss, "/firm/staff", &remove, &[]).await, 303);
    assert_eq!(
        post(&boss, "/firm/staff", &remove, &[]).await,
        404,
        "not in it any more"
    );
    assert_eq!(julie.get("/t/acme/").await.status(), 404);
    app.shutdown().await;
}

/// The rows of the inbox page, as `(kind, number)` in order.
fn rows(html: &str) -> Vec<(String, String)> {
    html.split("<tr class=\"firm-row\"")
        .skip(1)
        .map(|row| {
            let attr = |name: &str| {
                row.split(&format!("{name}=\""))
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap()
                    .to_owned()
            };
            (attr("data-kind"), attr("data-number"))
        })
        .collect()
}

#[tokio::test]
async fn the_inbox_lists_what_needs_someone_across_companies_oldest_first() {
    let app = TestApp::spawn().await;
    let world = app.world().await;
    app.firm_admin("boss@cabinet.fr").await;
    let now = Utc::now();
    invoice(
        &app,
        "admin@acme.fr",
        "acme",
        "A-208",
        "Alpha",
        601,
        vec![request(
            208,
            "JUSTIF_ABS",
            "PIN",
            now - Duration::days(40),
            "a208",
        )],
    )
    .await;
    invoice(
        &app,
        "admin@acme.fr",
        "acme",
        "A-207",
        "Beta",
        602,
        vec![request(
            207,
            "TX_TVA_ERR",
            "NIN",
            now - Duration::days(1),
            "a207",
        )],
    )
    .await;
    invoice(
        &app,
        "admin@globex.fr",
        "globex",
        "G-210",
        "Gamma",
        603,
        vec![
            status(210, Source::Buyer, now - Duration::days(5), "g210")
                .with_reasons(["CONTRAT_TERM"]),
        ],
    )
    .await;
    invoice(
        &app,
        "admin@globex.fr",
        "globex",
        "G-251",
        "Delta",
        604,
        vec![status(251, Source::Ppf, now - Duration::days(12), "g251")],
    )
    .await;
    // An invoice answered (209) is no longer waiting; a delivered one never was.
    invoice(
        &app,
        "admin@globex.fr",
        "globex",
        "G-DONE",
        "Epsilon",
        605,
        vec![
            request(208, "JUSTIF_ABS", "PIN", now - Duration::days(3), "g208"),
            status(209, Source::Supplier, now - Duration::days(2), "g209"),
        ],
    )
    .await;
    invoice(
        &app,
        "admin@globex.fr",
        "globex",
        "G-OK",
        "Zeta",
        606,
        vec![],
    )
    .await;
    // A submission Billit refused after creating the order.
    let globex = scope(&app, "admin@globex.fr", "globex").await;
    let repo = InvoiceRepository::new(app.test_db.db.clone());
    let failed = repo
        .create_draft(
            &globex,
            &content("G-FAIL", "Eta", None, 5_000, day(2026, 11, 20)),
            None,
        )
        .await
        .unwrap();
    repo.set_order_id(&globex, failed, 607).await.unwrap();
    repo.mark_failed(&globex, failed, "billit.refused:AmountOutOfRange: too big")
        .await
        .unwrap();

    let boss = Visitor::signed_in(&app, "boss@cabinet.fr", PASSWORD).await;
    assert_eq!(boss.get("/").await.headers()["location"], "/firm");
    let (code, html) = text(&boss, "/firm").await;
    assert_eq!(code, 200);
    let listed = rows(&html);
    let numbers: Vec<&str> = listed.iter().map(|(_, number)| number.as_str()).collect();
    // Oldest first; the failed submission waits since it failed (now), the newest.
    assert_eq!(
        numbers,
        ["A-208", "G-251", "G-210", "A-207", "G-FAIL"],
        "{listed:?}"
    );
    let kinds: Vec<&str> = listed.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["request", "tax", "refused", "request", "submission"]
    );
    assert!(
        html.contains("Sans réponse"),
        "requests say whether they were answered"
    );
    assert!(
        html.contains("La commande existe chez Billit mais n’a pas été envoyée"),
        "an order created but not sent says so"
    );
    assert!(html.contains("Demandes ouvertes (207, 208) <span class=\"chip__count\">2</span>"));
    assert!(html.contains("Refus (210) <span class=\"chip__count\">1</span>"));

    // Filters: kind, company, age; an unknown value is a 400 in words, nothing else.
    let (_, only) = text(&boss, "/firm?kind=request").await;
    assert_eq!(rows(&only).len(), 2);
    let (_, globex_only) = text(&boss, "/firm?company=globex").await;
    let numbers: Vec<String> = rows(&globex_only).into_iter().map(|(_, n)| n).collect();
    assert_eq!(numbers, ["G-251", "G-210", "G-FAIL"]);
    let (_, old) = text(&boss, "/firm?age=30%2B").await;
    let numbers: Vec<String> = rows(&old).into_iter().map(|(_, n)| n).collect();
    assert_eq!(numbers, ["A-208"]);
    let (_, week) = text(&boss, "/firm?age=3-7").await;
    let numbers: Vec<String> = rows(&week).into_iter().map(|(_, n)| n).collect();
    assert_eq!(numbers, ["G-210"]);
    for bad in [
        "/firm?kind=everything",
        "/firm?age=old",
        "/firm?after=garbage",
        "/firm?accountant=x",
    ] {
        assert_eq!(boss.get(bad).await.status(), 400, "{bad}");
    }
    // The accountant filter: a firm administrator sees one accountant's portfolio.
    let julie = accountant(&app, JULIE, &[(&world.globex, TenantRole::Member)]).await;
    let (_, hers) = text(&boss, &format!("/firm?accountant={julie}")).await;
    let numbers: Vec<String> = rows(&hers).into_iter().map(|(_, n)| n).collect();
    assert_eq!(numbers, ["G-251", "G-210", "G-FAIL"]);
    assert_eq!(
        boss.get(&format!("/firm?accountant={}", UserId::new()))
            .await
            .status(),
        404
    );
    app.shutdown().await;
}

#[tokio::test]
async fn the_live_stream_opens_for_firm_staff_only() {
    let app = TestApp::spawn().await;
    let world = app.world().await;
    accountant(&app, JULIE, &[(&world.acme, TenantRole::Member)]).await;
    let julie = Visitor::signed_in(&app, JULIE, PASSWORD).await;
    let response = julie.get("/firm/live").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    drop(response);
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    assert_eq!(member.get("/firm/live").await.status(), 404);
    app.shutdown().await;
}
