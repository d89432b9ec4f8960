//! The firm's console, company side, over real HTTP: company health (`/firm/companies`), the pictures
//! (`/firm/charts`) and bulk onboarding (`/firm/companies/import`).

use crate::answers::{Part, post_multipart};
use crate::helpers::{PASSWORD, TestApp, Visitor, csrf_of};
use portal_persistence::billit_connections::{BillitEnvironment, ConnectionSettings};
use portal_persistence::entities::{invitations, invoices, outbox, tenants};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use std::collections::HashMap;

const FIRM_ADMIN: &str = "cabinet@firm.fr";

async fn tenant_count(app: &TestApp) -> u64 {
    tenants::Entity::find()
        .count(&app.test_db.db)
        .await
        .unwrap()
}

/// The rows of a table body marked `data-company="…"`, in page order, each with its `num` cells' text.
fn company_rows(html: &str) -> Vec<(String, Vec<String>)> {
    html.split("<tr data-company=\"")
        .skip(1)
        .map(|chunk| {
            let slug = chunk.split('"').next().unwrap().to_owned();
            let row = chunk.split("</tr>").next().unwrap();
            let numbers = row
                .split("<td class=\"num\">")
                .skip(1)
                .map(|cell| cell.split("</td>").next().unwrap().trim().to_owned())
                .collect();
            (slug, numbers)
        })
        .collect()
}

#[tokio::test]
async fn every_console_route_is_a_404_for_company_users_get_and_post() {
    let app = TestApp::spawn().await;
    app.world().await;
    let before = tenant_count(&app).await;
    let csv = "name;siren;address;postcode;city;admin_email;admin_name;billit_party_id;accountant_email\n\
               Intrus SAS;552100554;1 rue X;75001;Paris;x@intrus.fr;X;;\n";
    for email in [
        "admin@acme.fr",
        "member@acme.fr",
        "viewer@acme.fr",
        "admin@globex.fr",
    ] {
        let visitor = Visitor::signed_in(&app, email, PASSWORD).await;
        for path in [
            "/firm/companies",
            "/firm/companies?sort=open&dir=desc",
            "/firm/charts",
            "/firm/companies/import",
            "/firm/companies/import/template.csv",
        ] {
            assert_eq!(
                visitor.get(path).await.status(),
                404,
                "GET {path} by {email}"
            );
        }
        // With a valid CSRF token of their own session: refused for who they are, not for the token.
        let upload = post_multipart(
            &visitor,
            "/account",
            "/firm/companies/import",
            &[Part::File("file", "c.csv", "text/csv", csv.as_bytes())],
        )
        .await;
        assert_eq!(upload.status(), 404, "POST import by {email}");
        let confirm = visitor
            .submit(
                "/account",
                "/firm/companies/import/confirm",
                &[("content", "bmFtZQ"), ("mac", "00")],
            )
            .await;
        assert_eq!(confirm.status(), 404, "POST confirm by {email}");
    }
    assert_eq!(tenant_count(&app).await, before, "nothing was created");
    // Nobody signed in: the sign-in page.
    let anonymous = Visitor::new(&app);
    assert_eq!(anonymous.get("/firm/companies").await.status(), 303);
}

/// Seeds `count` companies of `invoices` invoices each through the seeding code (every scenario's history).
async fn seeded(app: &TestApp, count: usize, invoices: usize) -> Vec<String> {
    let plan = portal_app::seed::SeedPlan {
        tenants: count,
        invoices_per_tenant: invoices,
        customers_per_tenant: 3,
        prefix: "co".to_owned(),
        password: PASSWORD.to_owned(),
        seed: 7,
    };
    portal_app::seed::run(&app.test_db.db, &plan, |_| {})
        .await
        .unwrap()
        .tenants
        .into_iter()
        .map(|(slug, _)| slug)
        .collect()
}

/// A seed is a bulk load: it leaves the planner's statistics gathered, so that a server started right after it
/// (the load bench) plans with the tables' real sizes rather than as if they were empty.
#[tokio::test]
async fn a_seed_leaves_the_planners_statistics_gathered() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = TestApp::spawn().await;
    seeded(&app, 1, 40).await;
    let db = &app.test_db.db;
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Postgres => {
            "SELECT COUNT(*) AS n FROM pg_stats WHERE tablename = 'invoices'"
        }
        _ => "SELECT COUNT(*) AS n FROM sqlite_stat1 WHERE tbl = 'invoices'",
    };
    let row = db
        .query_one_raw(Statement::from_string(backend, sql))
        .await
        .expect("the statistics can be read")
        .expect("a count");
    let gathered: i64 = row.try_get("", "n").unwrap();
    assert!(gathered > 0, "the invoices' statistics after a seed");
    app.shutdown().await;
}

#[tokio::test]
async fn company_health_counts_each_companys_invoices_and_sorts_by_the_query_string() {
    let app = TestApp::spawn().await;
    app.firm_admin(FIRM_ADMIN).await;
    let slugs = seeded(&app, 3, 60).await;
    let state = &app.state;
    let admin = state
        .users
        .find_by_email(FIRM_ADMIN)
        .await
        .unwrap()
        .unwrap();
    let scopes: HashMap<String, portal_persistence::TenantScope> = state
        .firm
        .visible_scopes(&admin)
        .await
        .unwrap()
        .into_iter()
        .map(|(tenant, scope)| (tenant.slug, scope))
        .collect();
    // The first company's Billit key is refused; the second one works; the third has no connection.
    for slug in &slugs[..2] {
        state
            .billit
            .save(
                &scopes[slug],
                ConnectionSettings {
                    environment: BillitEnvironment::Sandbox,
                    api_key_encrypted: Some("sealed".to_owned()),
                    party_id: Some(42),
                    context_party_id: None,
                },
                None,
            )
            .await
            .unwrap();
    }
    let now = chrono::Utc::now();
    let console = &state.firm_console;
    console
        .record_billit_success(&scopes[&slugs[0]], now - chrono::Duration::hours(2))
        .await
        .unwrap();
    console
        .record_billit_failure(&scopes[&slugs[0]], now, "credentials")
        .await
        .unwrap();
    console
        .record_billit_success(&scopes[&slugs[1]], now)
        .await
        .unwrap();

    // What the page must say, counted here from the invoices themselves.
    let mut open = HashMap::new();
    let mut failures = HashMap::new();
    for slug in &slugs {
        let id = scopes[slug].tenant_id().as_uuid();
        let rows = invoices::Entity::find()
            .filter(invoices::Column::TenantId.eq(id))
            .all(&app.test_db.db)
            .await
            .unwrap();
        open.insert(
            slug.clone(),
            rows.iter()
                .filter(|row| row.open_request_code.is_some())
                .count(),
        );
        failures.insert(
            slug.clone(),
            rows.iter()
                .filter(|row| row.submission_state == "failed")
                .count(),
        );
    }
    assert!(open.values().any(|n| *n > 0), "the seed has open requests");

    let visitor = Visitor::signed_in(&app, FIRM_ADMIN, PASSWORD).await;
    let response = visitor.get("/firm/companies?sort=open&dir=desc").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    let rows = company_rows(&html);
    assert_eq!(rows.len(), 3, "every company, once");
    for (slug, numbers) in &rows {
        // Columns: sent this month, open requests, overdue, failures.
        assert_eq!(
            numbers[1],
            open[slug].to_string(),
            "open requests of {slug}"
        );
        assert_eq!(numbers[3], failures[slug].to_string(), "failures of {slug}");
    }
    let shown: Vec<usize> = rows.iter().map(|(slug, _)| open[slug]).collect();
    let mut sorted = shown.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(shown, sorted, "most open requests first");
    assert!(html.contains("aria-sort=\"descending\""));
    // Connection states in words, and each company's settings one click away.
    assert!(html.contains("En échec : Billit refuse la clé d’API ou le PartyID"));
    assert!(html.contains("Fonctionne"));
    assert!(html.contains("Non configurée"));
    assert!(html.contains(&format!("/t/{}/settings/billit", slugs[2])));

    // The other way round, by the query string alone (no script).
    let html = visitor
        .get("/firm/companies?sort=open&dir=asc")
        .await
        .text()
        .await
        .unwrap();
    let ascending: Vec<usize> = company_rows(&html)
        .iter()
        .map(|(slug, _)| open[slug])
        .collect();
    let mut expected = shown.clone();
    expected.reverse();
    assert_eq!(
        ascending.iter().sum::<usize>(),
        expected.iter().sum::<usize>()
    );
    assert!(
        ascending.windows(2).all(|pair| pair[0] <= pair[1]),
        "{ascending:?}"
    );
    // Failing connections first.
    let html = visitor
        .get("/firm/companies?sort=connection")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(company_rows(&html)[0].0, slugs[0]);
    // A sort it does not know is the default one, not an error.
    assert_eq!(
        visitor
            .get("/firm/companies?sort=%27;drop&dir=up")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn the_charts_draw_labelled_pictures_with_their_figures_in_a_table() {
    let app = TestApp::spawn().await;
    app.firm_admin(FIRM_ADMIN).await;
    seeded(&app, 2, 80).await;
    let open_total = invoices::Entity::find()
        .filter(invoices::Column::OpenRequestCode.is_not_null())
        .count(&app.test_db.db)
        .await
        .unwrap();
    let visitor = Visitor::signed_in(&app, FIRM_ADMIN, PASSWORD).await;
    let response = visitor.get("/firm/charts").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert_eq!(html.matches("role=\"img\"").count(), 4, "four pictures");
    for id in [
        "chart-ages",
        "chart-statuses",
        "chart-amounts",
        "chart-sent",
    ] {
        assert!(
            html.contains(&format!("aria-labelledby=\"{id}-title {id}-desc\"")),
            "{id}"
        );
    }
    assert_eq!(html.matches("<details>").count(), 4, "each with its table");
    // The age table's totals add up to every open request.
    let ages = html.split("id=\"chart-ages-figure\"").nth(1).unwrap();
    let table = ages
        .split("<tbody>")
        .nth(1)
        .unwrap()
        .split("</tbody>")
        .next()
        .unwrap();
    let total: u64 = table
        .split("</tr>")
        .filter_map(|row| {
            row.rsplit("<td class=\"num\">")
                .next()?
                .split("</td>")
                .next()?
                .trim()
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert_eq!(total, open_total);
}

const HEADER: &str =
    "name;siren;address;postcode;city;admin_email;admin_name;billit_party_id;accountant_email";

/// Uploads `csv` for a preview, as a browser does.
pub(crate) async fn preview(visitor: &Visitor<'_>, csv: &[u8]) -> (u16, String) {
    let response = post_multipart(
        visitor,
        "/firm/companies/import",
        "/firm/companies/import",
        &[Part::File("file", "entreprises.csv", "text/csv", csv)],
    )
    .await;
    (response.status().as_u16(), response.text().await.unwrap())
}

fn hidden(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned()
}

pub(crate) async fn confirm(visitor: &Visitor<'_>, preview_html: &str) -> (u16, String) {
    let response = visitor
        .client
        .post(format!(
            "{}/firm/companies/import/confirm",
            visitor.app.address
        ))
        .form(&[
            ("csrf_token", csrf_of(preview_html)),
            ("content", hidden(preview_html, "content")),
            ("mac", hidden(preview_html, "mac")),
        ])
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn bulk_onboarding_previews_every_row_then_creates_the_valid_ones_once() {
    let app = TestApp::spawn().await;
    app.firm_admin(FIRM_ADMIN).await;
    app.world().await; // ACME has SIREN 732829320 already.
    let visitor = Visitor::signed_in(&app, FIRM_ADMIN, PASSWORD).await;
    let before = tenant_count(&app).await;
    // As Excel in French saves it: BOM, semicolons, CRLF.
    let csv = format!(
        "\u{feff}{HEADER}\r\n\
         Boulangerie Émile;552100554;1 rue du Four;75011;Paris;emile@boulangerie.fr;Émile Martin;123;compta@firm.fr\r\n\
         Garage Dupont;542065479;2 route de Lyon;69003;Lyon;dupont@garage.fr;Jean Dupont;;\r\n\
         Mauvais SIREN;552100555;3 rue X;13001;Marseille;a@b.fr;A B;;\r\n\
         Doublon;552100554;4 rue Y;13001;Marseille;c@d.fr;C D;;\r\n\
         ACME encore;732829320;5 rue Z;31000;Toulouse;e@f.fr;E F;;\r\n\
         Courriel faux;380129866;6 rue W;33000;Bordeaux;pas-un-email;G H;;mauvais\r\n"
    );
    let (status, html) = preview(&visitor, csv.as_bytes()).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("2 entreprise(s) prête(s) à créer, 4 ligne(s) à corriger"),
        "{html}"
    );
    assert!(
        html.contains("clé de contrôle")
            || html.contains("check digit")
            || html.contains("SIREN :")
    );
    assert!(html.contains("ce SIREN figure déjà à la ligne 2 du fichier"));
    assert!(html.contains("une entreprise avec ce SIREN existe déjà"));
    assert!(html.contains("e-mail de l’administrateur"));
    assert!(html.contains("e-mail du collaborateur"));
    assert!(
        html.contains("compta@firm.fr"),
        "the accountant's email is kept"
    );
    assert_eq!(tenant_count(&app).await, before, "a preview writes nothing");

    // A preview whose file was changed on the way is refused, and writes nothing.
    let tampered = visitor
        .client
        .post(format!("{}/firm/companies/import/confirm", app.address))
        .form(&[
            ("csrf_token", csrf_of(&html)),
            ("content", "bmFtZTtzaXJlbgo".to_owned()),
            ("mac", hidden(&html, "mac")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 422);
    assert_eq!(tenant_count(&app).await, before);

    let (status, report) = confirm(&visitor, &html).await;
    assert_eq!(status, 200, "{report}");
    assert!(
        report.contains("2 entreprise(s) créée(s), 4 ligne(s) ignorée(s)."),
        "{report}"
    );
    assert_eq!(tenant_count(&app).await, before + 2);
    let created = tenants::Entity::find()
        .filter(tenants::Column::Siren.eq("552100554"))
        .one(&app.test_db.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(created.legal_name, "Boulangerie Émile");
    assert_eq!(created.slug, "boulangerie-emile");
    assert_eq!(created.address_postal_code.as_deref(), Some("75011"));
    assert_eq!(created.vat_number.as_deref(), Some("FR96552100554"));
    // Each company's first administrator is invited, and the email is queued with it.
    let invited = invitations::Entity::find()
        .filter(invitations::Column::TenantId.eq(created.id))
        .all(&app.test_db.db)
        .await
        .unwrap();
    assert_eq!(invited.len(), 1);
    assert_eq!(invited[0].email, "emile@boulangerie.fr");
    assert_eq!(invited[0].role, "admin");
    let emails = outbox::Entity::find().all(&app.test_db.db).await.unwrap();
    assert_eq!(emails.len(), 2);
    assert!(
        emails
            .iter()
            .any(|email| email.to_addresses.contains("emile@boulangerie.fr")
                && email.text_body.contains("/invitations/"))
    );
    // Its PartyID is kept, waiting for the company's API key.
    let connection = app
        .state
        .billit
        .get(
            &app.state
                .firm
                .visible_scopes(
                    &app.state
                        .users
                        .find_by_email(FIRM_ADMIN)
                        .await
                        .unwrap()
                        .unwrap(),
                )
                .await
                .unwrap()
                .into_iter()
                .find(|(tenant, _)| tenant.id.as_uuid() == created.id)
                .unwrap()
                .1,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(connection.party_id, Some(123));
    assert!(!connection.has_api_key);

    // The same preview confirmed again (a double click, a back button), then the same file uploaded again:
    // nothing twice.
    let (_, again) = confirm(&visitor, &html).await;
    assert!(
        again.contains("0 entreprise(s) créée(s), 6 ligne(s) ignorée(s)."),
        "{again}"
    );
    let (_, second_preview) = preview(&visitor, csv.as_bytes()).await;
    assert!(second_preview.contains("0 entreprise(s) prête(s) à créer"));
    assert!(
        !second_preview.contains("import-confirm"),
        "nothing to confirm"
    );
    assert_eq!(tenant_count(&app).await, before + 2);
    assert_eq!(
        outbox::Entity::find().count(&app.test_db.db).await.unwrap(),
        2
    );
}

#[tokio::test]
async fn unreadable_files_are_refused_in_words_and_the_template_is_ready_to_fill() {
    let app = TestApp::spawn().await;
    app.firm_admin(FIRM_ADMIN).await;
    let visitor = Visitor::signed_in(&app, FIRM_ADMIN, PASSWORD).await;
    let before = tenant_count(&app).await;
    // Latin-1 (not UTF-8), empty, too large.
    let cases: [(&[u8], &str); 2] = [
        (
            b"name;siren\nSoci\xe9t\xe9;552100554\n",
            "n’est pas en UTF-8",
        ),
        (b"\xEF\xBB\xBF", "Le fichier est vide"),
    ];
    for (content, message) in cases {
        let (status, html) = preview(&visitor, content).await;
        assert_eq!(status, 422, "{message}");
        assert!(html.contains(message), "{message}: {html}");
    }
    // An unclosed quote swallows the rest of the file into one cell: that row's problems say so.
    let (status, html) = preview(&visitor, b"name;siren\nX;552100554;\"1 rue\n").await;
    assert_eq!(status, 200);
    assert!(html.contains("colonne(s) au lieu de 9"), "{html}");
    assert!(!html.contains("import-confirm"));
    let big = vec![b'a'; 200 * 1024];
    let (status, html) = preview(&visitor, &big).await;
    assert_eq!(status, 422);
    assert!(html.contains("dépasse 160 Kio"));
    assert_eq!(tenant_count(&app).await, before);

    let template = visitor.get("/firm/companies/import/template.csv").await;
    assert_eq!(template.status(), 200);
    assert!(
        template.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let bytes = template.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "with a BOM, for Excel");
    // The template itself previews as one valid company.
    let (status, html) = preview(&visitor, &bytes).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("1 entreprise(s) prête(s) à créer, 0 ligne(s) à corriger"),
        "{html}"
    );
}
