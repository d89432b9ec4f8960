//! Customers over real HTTP: the form's checks, the list's search, roles, tenancy, CSRF, deletion and the network
//! check against the embedded Billit sandbox.

use crate::helpers::{PASSWORD, TestApp, Visitor};
use portal_persistence::entities::{audit_log, customers};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

/// A valid customer form (Peugeot's SIREN), to be adjusted by each test.
fn dupont() -> Vec<(&'static str, &'static str)> {
    vec![
        ("legal_name", "Dupont Industrie"),
        ("siren", "552 100 554"),
        ("siret", ""),
        ("vat_number", ""),
        ("electronic_address", ""),
        ("contact_emails", "compta@dupont.fr\nachats@dupont.fr"),
        ("street", "12 rue des Forges"),
        ("additional", ""),
        ("postcode", "69002"),
        ("city", "Lyon"),
        ("country", "FR"),
        ("language", "fr"),
    ]
}

fn with(
    mut form: Vec<(&'static str, &'static str)>,
    field: &'static str,
    value: &'static str,
) -> Vec<(&'static str, &'static str)> {
    for entry in &mut form {
        if entry.0 == field {
            entry.1 = value;
        }
    }
    form
}

async fn customer_rows(app: &TestApp) -> Vec<customers::Model> {
    customers::Entity::find()
        .all(&app.test_db.db)
        .await
        .unwrap()
}

/// Creates a customer through the form and returns its page's path.
async fn create(visitor: &Visitor<'_>, form: &[(&str, &str)]) -> String {
    let response = visitor
        .submit("/t/acme/customers/new", "/t/acme/customers", form)
        .await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    location.split('?').next().unwrap().to_owned()
}

async fn page(visitor: &Visitor<'_>, path: &str) -> (u16, String) {
    let response = visitor.get(path).await;
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_member_creates_a_customer_whose_vat_number_and_address_follow_from_the_siren() {
    let app = TestApp::spawn().await;
    let world = app.world().await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;

    let (status, list) = page(&member, "/t/acme/customers").await;
    assert_eq!(status, 200);
    assert!(list.contains("Aucun client pour le moment."));
    assert!(list.contains("href=\"/t/acme/customers/new\""), "{list}");
    // The tenant's menu leads here.
    assert!(list.contains("<a href=\"/t/acme/customers\">Clients</a>"));

    let path = create(&member, &dupont()).await;
    let rows = customer_rows(&app).await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.tenant_id, world.acme.id.as_uuid());
    assert_eq!(row.legal_name, "Dupont Industrie");
    assert_eq!(row.siren, "552100554");
    assert_eq!(row.vat_number.as_deref(), Some("FR96552100554"));
    assert_eq!(row.electronic_address, "0225:552100554");
    assert_eq!(row.address_country, "FR");
    assert_eq!(path, format!("/t/acme/customers/{}", row.id));

    let (status, detail) = page(&member, &format!("{path}?notice=created")).await;
    assert_eq!(status, 200);
    assert!(detail.contains("Client enregistré."));
    assert!(detail.contains("FR96552100554"));
    assert!(detail.contains("0225:552100554"));
    assert!(detail.contains("achats@dupont.fr"));
    assert!(detail.contains("Pas encore vérifié."));
    assert!(detail.contains(&format!(
        "href=\"/t/acme/invoices/new?customer={}\"",
        row.id
    )));
    assert!(detail.contains("Nouvelle facture pour ce client"));

    let audited = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("customer.created"))
        .filter(audit_log::Column::Target.eq(format!("customer:{}", row.id)))
        .count(&app.test_db.db)
        .await
        .unwrap();
    assert_eq!(audited, 1);
    app.shutdown().await;
}

#[tokio::test]
async fn bad_identifiers_and_emails_are_refused_next_to_their_field_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    app.world().await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;

    let cases: [(&str, &str, &str, &str); 4] = [
        (
            "siren",
            "552100555",
            "siren-error",
            "Ce SIREN n&#39;est pas valide (la clé de contrôle ne correspond pas)",
        ),
        (
            "siret",
            "73282932000074",
            "siret-error",
            "Ce SIRET ne commence pas par le SIREN de l&#39;entreprise",
        ),
        (
            "vat_number",
            "FR00552100554",
            "vat_number-error",
            "La clé de ce numéro de TVA ne correspond pas à son SIREN (attendu FR96)",
        ),
        (
            "contact_emails",
            "compta@dupont.fr, compta-at-dupont",
            "contact_emails-error",
            "« compta-at-dupont » n&#39;est pas une adresse e-mail valide",
        ),
    ];
    for (field, value, error_id, message) in cases {
        let response = member
            .submit(
                "/t/acme/customers/new",
                "/t/acme/customers",
                &with(dupont(), field, value),
            )
            .await;
        assert_eq!(response.status(), 422, "{field}");
        let body = response.text().await.unwrap();
        let error = body
            .split(&format!("id=\"{error_id}\">"))
            .nth(1)
            .unwrap_or_else(|| panic!("no message next to {field}: {body}"));
        let error = error.split("</p>").next().unwrap();
        assert_eq!(html_unescape(error), html_unescape(message), "{field}");
        // What was typed is still there.
        assert!(body.contains("value=\"Dupont Industrie\""));
        assert!(body.contains("Le client n’a pas été enregistré"));
    }
    assert!(customer_rows(&app).await.is_empty());

    // In English too.
    let english = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    english
        .submit("/account", "/account/language", &[("language", "en")])
        .await;
    let body = english
        .submit(
            "/t/acme/customers/new",
            "/t/acme/customers",
            &with(dupont(), "siren", "12345"),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("A SIREN has 9 digits (5 given)"), "{body}");
    assert!(customer_rows(&app).await.is_empty());
    app.shutdown().await;
}

/// The few entities askama writes, back to text.
fn html_unescape(text: &str) -> String {
    text.replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
}

#[tokio::test]
async fn a_customer_is_edited_searched_and_deleted_unless_invoiced() {
    let app = TestApp::spawn().await;
    app.world().await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let dupont_path = create(&member, &dupont()).await;
    let martin_path = create(
        &member,
        &with(
            with(
                with(dupont(), "legal_name", "Martin & Fils"),
                "siren",
                "542065479",
            ),
            "siret",
            "",
        ),
    )
    .await;

    // The edit form shows what is stored.
    let (status, edit) = page(&member, &format!("{dupont_path}/edit")).await;
    assert_eq!(status, 200);
    assert!(edit.contains("value=\"FR96552100554\""));
    assert!(edit.contains(&format!("action=\"{dupont_path}\"")));
    let edited = with(
        with(
            with(dupont(), "legal_name", "Dupont Industrie SA"),
            "siret",
            "55210055400005",
        ),
        "electronic_address",
        "0225:552100554_55210055400005",
    );
    let response = member
        .submit(&format!("{dupont_path}/edit"), &dupont_path, &edited)
        .await;
    assert_eq!(response.status(), 303);
    let (_, detail) = page(&member, &dupont_path).await;
    assert!(detail.contains("Dupont Industrie SA"));
    assert!(detail.contains("55210055400005"));
    assert!(detail.contains("0225:552100554_55210055400005"));

    // A refused edit changes nothing.
    let response = member
        .submit(
            &format!("{dupont_path}/edit"),
            &dupont_path,
            &with(edited.clone(), "vat_number", "FR44732829320"),
        )
        .await;
    assert_eq!(response.status(), 422);
    let rows = customer_rows(&app).await;
    let stored = rows.iter().find(|row| row.siren == "552100554").unwrap();
    assert_eq!(stored.vat_number.as_deref(), Some("FR96552100554"));
    assert_eq!(stored.legal_name, "Dupont Industrie SA");

    // Search by name (any case), SIREN with spaces, VAT number.
    for (search, expect_dupont, expect_martin) in [
        ("dupont", true, false),
        ("MARTIN", false, true),
        ("542+065", false, true),
        ("fr96", true, false),
        ("zzz", false, false),
    ] {
        let (status, list) = page(&member, &format!("/t/acme/customers?q={search}")).await;
        assert_eq!(status, 200);
        assert_eq!(
            list.contains("Dupont Industrie SA"),
            expect_dupont,
            "{search}"
        );
        assert_eq!(
            list.contains("Martin &#38; Fils"),
            expect_martin,
            "{search}"
        );
        if !expect_dupont && !expect_martin {
            assert!(list.contains("Aucun client ne correspond"));
        }
    }

    // A customer an invoice refers to stays.
    let dupont_id =
        portal_domain::ids::CustomerId::parse(dupont_path.rsplit('/').next().unwrap()).unwrap();
    let tenants = portal_persistence::tenants::TenantRepository::new(app.test_db.db.clone());
    let member_id = portal_persistence::users::UserRepository::new(app.test_db.db.clone())
        .find_by_email("member@acme.fr")
        .await
        .unwrap()
        .unwrap()
        .id;
    let (_, scope) = tenants
        .scope_for_member(member_id, "acme")
        .await
        .unwrap()
        .unwrap();
    portal_persistence::invoices::InvoiceRepository::new(app.test_db.db.clone())
        .create_draft(
            &scope,
            &portal_persistence::invoices::InvoiceContent {
                customer_id: Some(dupont_id),
                draft: Default::default(),
                totals: Default::default(),
            },
            None,
        )
        .await
        .unwrap();
    let refused = member
        .submit(&dupont_path, &format!("{dupont_path}/delete"), &[])
        .await;
    assert_eq!(refused.status(), 409);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Ce client ne peut pas être supprimé : 1 facture(s) le concernent.")
    );
    assert_eq!(customer_rows(&app).await.len(), 2);

    let deleted = member
        .submit(&martin_path, &format!("{martin_path}/delete"), &[])
        .await;
    assert_eq!(deleted.status(), 303);
    assert_eq!(
        deleted.headers()["location"],
        "/t/acme/customers?notice=deleted"
    );
    assert_eq!(customer_rows(&app).await.len(), 1);
    assert_eq!(page(&member, &martin_path).await.0, 404);

    for action in ["customer.updated", "customer.deleted"] {
        let count = audit_log::Entity::find()
            .filter(audit_log::Column::Action.eq(action))
            .count(&app.test_db.db)
            .await
            .unwrap();
        assert_eq!(count, 1, "{action}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_viewer_reads_but_cannot_create_or_change() {
    let app = TestApp::spawn().await;
    app.world().await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let path = create(&member, &dupont()).await;
    let viewer = Visitor::signed_in(&app, "viewer@acme.fr", PASSWORD).await;

    let (status, list) = page(&viewer, "/t/acme/customers").await;
    assert_eq!(status, 200);
    assert!(list.contains("Dupont Industrie"));
    assert!(!list.contains("/t/acme/customers/new"));
    let (status, detail) = page(&viewer, &path).await;
    assert_eq!(status, 200);
    assert!(detail.contains("Dupont Industrie"));
    assert!(!detail.contains("check-network"));
    assert!(!detail.contains("/edit\""));

    assert_eq!(page(&viewer, "/t/acme/customers/new").await.0, 403);
    assert_eq!(page(&viewer, &format!("{path}/edit")).await.0, 403);
    // The viewer's own page gives a valid token: the refusal is the role's, not the CSRF check's.
    for (action, form) in [
        (
            "/t/acme/customers".to_owned(),
            with(dupont(), "legal_name", "Autre"),
        ),
        (path.clone(), with(dupont(), "legal_name", "Renamed")),
        (format!("{path}/delete"), vec![]),
        (format!("{path}/check-network"), vec![]),
    ] {
        let response = viewer.submit("/t/acme/customers", &action, &form).await;
        assert_eq!(response.status(), 403, "{action}");
    }
    let rows = customer_rows(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].legal_name, "Dupont Industrie");
    assert!(rows[0].peppol_checked_at.is_none());
    app.shutdown().await;
}

#[tokio::test]
async fn another_tenants_user_gets_404_on_every_customer_page_and_post() {
    let app = TestApp::spawn().await;
    app.world().await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let path = create(&member, &dupont()).await;
    let id = path.rsplit('/').next().unwrap().to_owned();
    let globex = Visitor::signed_in(&app, "admin@globex.fr", PASSWORD).await;

    for get in [
        "/t/acme/customers".to_owned(),
        "/t/acme/customers/new".to_owned(),
        path.clone(),
        format!("{path}/edit"),
        // Acme's customer under globex's own address.
        format!("/t/globex/customers/{id}"),
        format!("/t/globex/customers/{id}/edit"),
    ] {
        assert_eq!(page(&globex, &get).await.0, 404, "GET {get}");
    }
    for post in [
        "/t/acme/customers".to_owned(),
        path.clone(),
        format!("{path}/delete"),
        format!("{path}/check-network"),
        format!("/t/globex/customers/{id}"),
        format!("/t/globex/customers/{id}/delete"),
        format!("/t/globex/customers/{id}/check-network"),
    ] {
        let response = globex
            .submit(
                "/t/globex/customers",
                &post,
                &with(dupont(), "legal_name", "Globex was here"),
            )
            .await;
        assert_eq!(response.status(), 404, "POST {post}");
    }
    let rows = customer_rows(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].legal_name, "Dupont Industrie");
    // Globex's own list does not show acme's customer.
    let (status, list) = page(&globex, "/t/globex/customers").await;
    assert_eq!(status, 200);
    assert!(!list.contains("Dupont"));
    app.shutdown().await;
}

#[tokio::test]
async fn a_post_without_the_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.world().await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let response = member
        .post_without_token("/t/acme/customers", &dupont())
        .await;
    assert_eq!(response.status(), 403);
    assert!(customer_rows(&app).await.is_empty());

    let path = create(&member, &dupont()).await;
    let response = member
        .post_without_token(&path, &with(dupont(), "legal_name", "Forged"))
        .await;
    assert_eq!(response.status(), 403);
    let response = member
        .post_without_token(&format!("{path}/delete"), &[])
        .await;
    assert_eq!(response.status(), 403);
    let rows = customer_rows(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].legal_name, "Dupont Industrie");
    app.shutdown().await;
}

#[tokio::test]
async fn the_network_check_asks_billit_and_keeps_the_answer() {
    let sandbox = billit_sandbox::Sandbox::start(billit_sandbox::SandboxConfig::default())
        .await
        .unwrap();
    sandbox
        .add_party(billit_sandbox::PartyAccount {
            party_id: 42,
            api_key: "key-for-acme".into(),
            name: "ACME SAS".into(),
            vat_number: "FR44732829320".into(),
            email: None,
        })
        .unwrap();
    let base_url = sandbox.base_url();
    let app = TestApp::spawn_with(
        move |mut config| {
            config.billit.embedded_url = Some(base_url);
            config
        },
        |_state| portal_app::worker::JobRegistry::new(),
    )
    .await;
    app.world().await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let registered = create(&member, &dupont()).await;
    let unregistered = create(
        &member,
        &with(
            with(dupont(), "legal_name", "Hors Réseau"),
            "electronic_address",
            "0225:552100554_NOPEPPOL",
        ),
    )
    .await;

    // Without a Billit connection: a clear message, nothing stored.
    let response = member
        .submit(&registered, &format!("{registered}/check-network"), &[])
        .await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("Billit n’est pas configuré pour cette entreprise"),
        "{body}"
    );
    assert!(body.contains("Rien n’a été enregistré."));
    assert!(
        customer_rows(&app)
            .await
            .iter()
            .all(|row| row.peppol_checked_at.is_none())
    );

    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let saved = admin
        .submit(
            "/t/acme/settings/billit",
            "/t/acme/settings/billit",
            &[
                ("environment", "embedded"),
                ("api_key", "key-for-acme"),
                ("party_id", "42"),
                ("context_party_id", ""),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);

    let response = member
        .submit(&registered, &format!("{registered}/check-network"), &[])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        format!("{registered}?notice=checked").as_str()
    );
    let (_, detail) = page(&member, &format!("{registered}?notice=checked")).await;
    assert!(detail.contains("Vérification effectuée."));
    assert!(detail.contains("Inscrit sur le réseau."), "{detail}");
    assert!(!detail.contains("Non inscrit sur le réseau."));
    assert!(detail.contains("<code>0225:552100554</code>"));
    assert!(detail.contains("Facture (UBL)"));
    assert!(detail.contains("Avoir (UBL)"));
    assert!(detail.contains("urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice"));

    let response = member
        .submit(&unregistered, &format!("{unregistered}/check-network"), &[])
        .await;
    assert_eq!(response.status(), 303);
    let (_, detail) = page(&member, &unregistered).await;
    assert!(detail.contains("Non inscrit sur le réseau."), "{detail}");
    assert!(detail.contains("<code>0225:552100554_NOPEPPOL</code>"));
    assert!(!detail.contains("Facture (UBL)"));

    let rows = customer_rows(&app).await;
    for row in &rows {
        let summary: serde_json::Value =
            serde_json::from_str(row.peppol_summary.as_deref().unwrap()).unwrap();
        assert!(row.peppol_checked_at.is_some());
        assert_eq!(
            summary["registered"],
            serde_json::Value::Bool(row.legal_name == "Dupont Industrie"),
            "{summary}"
        );
        assert_eq!(summary["identifier"], row.electronic_address.as_str());
    }

    // The list says it in a word; in English the page says it in English.
    let (_, list) = page(&member, "/t/acme/customers").await;
    assert!(list.contains(">Inscrit<"));
    assert!(list.contains(">Non inscrit<"));
    member
        .submit("/account", "/account/language", &[("language", "en")])
        .await;
    let (_, detail) = page(&member, &registered).await;
    assert!(detail.contains("Registered on the network."));
    assert!(detail.contains("Invoice (UBL)"));

    // Billit failing: a clear message, the last answer kept as it was.
    sandbox
        .set_faults(billit_sandbox::Faults {
            error_rate: 1.0,
            ..Default::default()
        })
        .unwrap();
    let before = customer_rows(&app).await;
    let response = member
        .submit(&registered, &format!("{registered}/check-network"), &[])
        .await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(body.contains("The check failed"), "{body}");
    assert!(body.contains("Nothing was stored."));
    assert_eq!(customer_rows(&app).await, before);

    app.shutdown().await;
    sandbox.shutdown().await;
}

/// The role is checked before the record is looked up: a viewer gets the same 403 for a customer that exists and
/// for one that does not (so a refusal tells nothing about what exists), while a member gets 404 for the missing
/// one; the same holds for an invoice's payment and answer routes.
#[tokio::test]
async fn a_viewer_is_refused_before_anything_is_looked_up() {
    let app = TestApp::spawn().await;
    app.world().await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let existing = create(&member, &dupont()).await;
    let missing = "/t/acme/customers/0190f3a1-7b2c-7d4e-8f50-123456789abc";
    let viewer = Visitor::signed_in(&app, "viewer@acme.fr", PASSWORD).await;

    for customer in [existing.as_str(), missing] {
        let (status, _) = page(&viewer, &format!("{customer}/edit")).await;
        assert_eq!(status, 403, "{customer}/edit for a viewer");
        let token =
            crate::helpers::csrf_of(&viewer.get("/t/acme/customers").await.text().await.unwrap());
        let deleted = viewer
            .post_without_token(&format!("{customer}/delete"), &[("csrf_token", &token)])
            .await;
        assert_eq!(deleted.status(), 403, "{customer}/delete for a viewer");
    }
    let (status, _) = page(&member, &format!("{missing}/edit")).await;
    assert_eq!(status, 404, "a member asking for a missing customer");
    assert_eq!(customer_rows(&app).await.len(), 1, "nothing was deleted");

    let invoice = "/t/acme/invoices/0190f3a1-7b2c-7d4e-8f50-123456789abd";
    assert_eq!(viewer.get(&format!("{invoice}/answer")).await.status(), 403);
    assert_eq!(member.get(&format!("{invoice}/answer")).await.status(), 404);
    let token =
        crate::helpers::csrf_of(&viewer.get("/t/acme/invoices").await.text().await.unwrap());
    let paid = viewer
        .post_without_token(
            &format!("{invoice}/payments"),
            &[("amount", "10"), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(
        paid.status(),
        403,
        "a viewer's payment on a missing invoice"
    );
    app.shutdown().await;
}
