//! The invoice editor and the submission to Billit, over real HTTP, with the embedded Billit sandbox and the
//! application's own workers.

use crate::helpers::{PASSWORD, TestApp, Visitor, csrf_of};
use billit_sandbox::{Faults, PartyAccount, RunningSandbox, Sandbox, SandboxConfig};
use chrono::{Datelike, Utc};
use portal_app::invoicing::billit_order::order_for;
use portal_app::invoicing::submit::draft_for_check;
use portal_billit::client::{BillitClient, BillitCredentials, ClientConfig, HttpBillitClient};
use portal_billit::wire::Order;
use portal_persistence::entities::{audit_log, invoices, jobs};
use portal_persistence::invoices::InvoiceRecord;
use portal_persistence::tenants::TenantRepository;
use portal_persistence::users::UserRepository;
use portal_persistence::{TenantScope, invoices::InvoiceRepository};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use std::time::Duration;
use uuid::Uuid;

pub(crate) const API_KEY: &str = "acme-billit-key";
pub(crate) const PARTY_ID: i64 = 4242;
/// Globex's SIREN (Luhn-valid): the buyer of acme's invoices here.
pub(crate) const BUYER_SIREN: &str = "443061841";

/// Today as the portal sees it (French time).
pub(crate) fn today_date() -> chrono::NaiveDate {
    portal_billit::time::utc_to_brussels(Utc::now()).date()
}

pub(crate) fn year() -> i32 {
    today_date().year()
}

pub(crate) fn today() -> String {
    today_date().format("%Y-%m-%d").to_string()
}

/// An app without workers (pages only).
async fn pages_app() -> TestApp {
    TestApp::spawn().await
}

/// An app whose workers run the portal's own jobs, talking to an embedded sandbox where acme has an account.
pub(crate) async fn billit_app() -> (TestApp, RunningSandbox) {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    sandbox
        .add_party(PartyAccount {
            party_id: PARTY_ID,
            api_key: API_KEY.to_owned(),
            name: "ACME SAS".to_owned(),
            vat_number: "FR44732829320".to_owned(),
            email: None,
        })
        .unwrap();
    let url = sandbox.base_url();
    let app = TestApp::spawn_with(
        move |mut config| {
            config.billit.embedded_url = Some(url);
            config.jobs.workers = 1;
            config.jobs.poll_interval_ms = 20;
            config.jobs.retry_base_secs = 1;
            config
        },
        portal::startup::default_registry,
    )
    .await;
    (app, sandbox)
}

pub(crate) async fn connect_billit(app: &TestApp) {
    let admin = Visitor::signed_in(app, "admin@acme.fr", PASSWORD).await;
    let saved = admin
        .submit(
            "/t/acme/settings/billit",
            "/t/acme/settings/billit",
            &[
                ("environment", "embedded"),
                ("api_key", API_KEY),
                ("party_id", &PARTY_ID.to_string()),
                ("context_party_id", ""),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
}

pub(crate) fn sandbox_client(sandbox: &RunningSandbox) -> HttpBillitClient {
    HttpBillitClient::new(
        &sandbox.base_url(),
        &BillitCredentials {
            api_key: API_KEY.to_owned(),
            party_id: PARTY_ID.to_string(),
            context_party_id: None,
        },
        &ClientConfig::default(),
    )
    .unwrap()
}

async fn sandbox_orders(sandbox: &RunningSandbox) -> Vec<Order> {
    sandbox_client(sandbox)
        .list_orders_modified_since(Utc::now() - chrono::Duration::days(2))
        .await
        .unwrap()
}

/// A complete invoice: two lines (3 × 100 at 20 %, 1 × 50.50 at 5.5 %), a buyer reachable on the network.
pub(crate) fn good_invoice(number: &str) -> Vec<(&'static str, String)> {
    vec![
        ("document_type", "invoice".into()),
        ("number", number.into()),
        ("issue_date", today()),
        ("due_date", String::new()),
        ("delivery_date", String::new()),
        ("currency", "EUR".into()),
        ("customer_id", String::new()),
        ("buyer_legal_name", "Globex SARL".into()),
        ("buyer_siren", BUYER_SIREN.into()),
        ("buyer_siret", String::new()),
        ("buyer_vat_number", String::new()),
        ("buyer_electronic_address", format!("0225:{BUYER_SIREN}")),
        ("buyer_emails", "compta@globex.fr".into()),
        ("buyer_street", "1 rue de la Paix".into()),
        ("buyer_additional", String::new()),
        ("buyer_postcode", "75002".into()),
        ("buyer_city", "Paris".into()),
        ("buyer_country", "FR".into()),
        ("buyer_language", "fr".into()),
        ("line_description", "Conseil".into()),
        ("line_quantity", "3".into()),
        ("line_unit", "HUR".into()),
        ("line_unit_price", "100".into()),
        ("line_vat_rate", "20".into()),
        ("line_exemption", String::new()),
        ("line_description", "Livre".into()),
        ("line_quantity", "1".into()),
        ("line_unit", "C62".into()),
        ("line_unit_price", "50,50".into()),
        ("line_vat_rate", "5.5".into()),
        ("line_exemption", String::new()),
        ("purchase_order", "PO-2026-17".into()),
        ("contract", String::new()),
        ("buyer_reference", String::new()),
        ("notes", String::new()),
    ]
}

pub(crate) fn with(
    mut form: Vec<(&'static str, String)>,
    key: &'static str,
    value: &str,
) -> Vec<(&'static str, String)> {
    for field in form.iter_mut().filter(|(name, _)| *name == key) {
        field.1 = value.to_owned();
    }
    form
}

pub(crate) async fn post(
    visitor: &Visitor<'_>,
    action: &str,
    form: &[(&'static str, String)],
    button: &str,
) -> reqwest::Response {
    let mut fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    fields.push(("action", button));
    visitor.submit("/t/acme/", action, &fields).await
}

pub(crate) fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The invoice id in `/t/acme/invoices/<id>` or `/t/acme/invoices/<id>/edit…`.
pub(crate) fn id_in(location: &str) -> Uuid {
    let rest = location
        .strip_prefix("/t/acme/invoices/")
        .unwrap_or_else(|| panic!("not an invoice URL: {location}"));
    Uuid::parse_str(rest.split(['/', '?']).next().unwrap()).unwrap()
}

pub(crate) async fn row(app: &TestApp, id: Uuid) -> Option<invoices::Model> {
    invoices::Entity::find_by_id(id)
        .one(&app.test_db.db)
        .await
        .unwrap()
}

async fn invoice_count(app: &TestApp) -> u64 {
    invoices::Entity::find()
        .count(&app.test_db.db)
        .await
        .unwrap()
}

/// Waits (with a deadline) until the invoice's row satisfies `done`.
pub(crate) async fn wait_for(
    app: &TestApp,
    id: Uuid,
    what: &str,
    done: impl Fn(&invoices::Model) -> bool,
) -> invoices::Model {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let current = row(app, id).await.expect("the invoice exists");
        if done(&current) {
            return current;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: state {} error {:?}",
            current.submission_state,
            current.submission_error
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn acme_scope(app: &TestApp) -> TenantScope {
    let user = UserRepository::new(app.test_db.db.clone())
        .find_by_email("member@acme.fr")
        .await
        .unwrap()
        .unwrap();
    TenantRepository::new(app.test_db.db.clone())
        .scope_for_member(user.id, "acme")
        .await
        .unwrap()
        .unwrap()
        .1
}

pub(crate) async fn record(app: &TestApp, id: Uuid) -> InvoiceRecord {
    InvoiceRepository::new(app.test_db.db.clone())
        .get(
            &acme_scope(app).await,
            portal_domain::ids::InvoiceId::from_uuid(id),
        )
        .await
        .unwrap()
        .unwrap()
}

/// Saves a draft through the editor and returns its id.
pub(crate) async fn save_draft(member: &Visitor<'_>, form: &[(&'static str, String)]) -> Uuid {
    let saved = post(member, "/t/acme/invoices", form, "save").await;
    assert_eq!(saved.status(), 303, "{}", saved.text().await.unwrap());
    let location = location(&saved);
    assert!(location.ends_with("/edit?saved=1"), "{location}");
    id_in(&location)
}

#[tokio::test]
async fn the_editor_keeps_what_was_typed_and_shows_problems_with_business_terms() {
    let app = pages_app().await;
    app.world().await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;

    let page = member.get("/t/acme/invoices/new").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("value=\"F{}-00001\"", year())),
        "proposed number"
    );
    assert!(
        html.contains(&format!("value=\"{}\"", today())),
        "today by default"
    );
    assert!(html.contains("name=\"line_description\""));
    assert!(html.contains("value=\"add_line\"") && html.contains("/static/js/editor.js?v="));
    let script = member.get("/static/js/editor.js").await;
    assert_eq!(script.status(), 200);

    // Without JavaScript, "add a line" posts the form and comes back with everything typed and one more line.
    let typed = with(
        good_invoice("F-TYPED-1"),
        "buyer_legal_name",
        "Client en cours",
    );
    let added = post(&member, "/t/acme/invoices", &typed, "add_line").await;
    assert_eq!(added.status(), 200);
    let html = added.text().await.unwrap();
    assert!(html.contains("value=\"Client en cours\""));
    assert_eq!(
        html.matches("name=\"line_description\"").count(),
        3 + 1,
        "2 typed, 1 added, 1 template"
    );
    let removed = post(&member, "/t/acme/invoices", &typed, "remove_line:0").await;
    let html = removed.text().await.unwrap();
    assert!(!html.contains("value=\"Conseil\"") && html.contains("value=\"Livre\""));
    assert_eq!(
        invoice_count(&app).await,
        0,
        "nothing saved by these buttons"
    );

    // A date that cannot be read: nothing saved, everything shown again with the problem.
    let unreadable = with(typed.clone(), "issue_date", "31/02/2026");
    let refused = post(&member, "/t/acme/invoices", &unreadable, "save").await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("BT-2 · Date illisible"), "{html}");
    assert!(html.contains("value=\"31/02/2026\"") && html.contains("value=\"Client en cours\""));
    assert_eq!(invoice_count(&app).await, 0);

    // Bad values are saved as typed (a draft may have problems) and shown next to their fields.
    let bad = with(
        with(with(typed, "buyer_siren", "12345"), "line_quantity", "abc"),
        "buyer_electronic_address",
        "",
    );
    let id = save_draft(&member, &bad).await;
    let stored = row(&app, id).await.unwrap();
    assert_eq!(stored.submission_state, "draft");
    assert!(stored.buyer.contains("12345") && stored.lines.contains("abc"));
    let html = member
        .get(&format!("/t/acme/invoices/{id}/edit?saved=1"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Brouillon enregistré."));
    assert!(html.contains("BT-47 · "), "the SIREN's problem: {html}");
    assert!(
        html.contains("BT-49 · L"),
        "the electronic address's problem: {html}"
    );
    assert!(html.contains("BT-129 · Ligne 1"), "{html}");
    assert!(html.contains("value=\"abc\"") && html.contains("value=\"12345\""));
    assert!(html.contains("aria-invalid=\"true\""));

    // "Send" is refused while problems remain; the content is saved.
    let send = post(&member, &format!("/t/acme/invoices/{id}"), &bad, "send").await;
    assert_eq!(send.status(), 303);
    assert!(location(&send).ends_with("/edit?notice=fix_first"));
    assert_eq!(row(&app, id).await.unwrap().submission_state, "draft");
    let submit = member
        .submit("/t/acme/", &format!("/t/acme/invoices/{id}/submit"), &[])
        .await;
    assert!(location(&submit).ends_with("/edit?notice=fix_first"));
    assert_eq!(
        jobs::Entity::find()
            .filter(jobs::Column::Kind.eq("invoice.submit"))
            .count(&app.test_db.db)
            .await
            .unwrap(),
        0
    );

    // The English catalogue speaks English.
    UserRepository::new(app.test_db.db.clone())
        .set_language(
            UserRepository::new(app.test_db.db.clone())
                .find_by_email("member@acme.fr")
                .await
                .unwrap()
                .unwrap()
                .id,
            "en",
        )
        .await
        .unwrap();
    let html = member
        .get(&format!("/t/acme/invoices/{id}/edit"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("BT-129 · Line 1"), "{html}");
    assert!(html.contains("Save and send"));
}

#[tokio::test]
async fn numbers_are_proposed_in_sequence_and_unique_per_year() {
    let app = pages_app().await;
    app.world().await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let first = format!("F{}-00001", year());
    save_draft(&member, &good_invoice(&first)).await;
    let html = member
        .get("/t/acme/invoices/new")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("value=\"F{}-00002\"", year())),
        "the next number"
    );
    let credit = member
        .get(&format!(
            "/t/acme/invoices/new?type=credit_note&corrects={first}"
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(credit.contains(&format!("value=\"AV{}-00001\"", year())));
    assert!(
        credit.contains(&format!("value=\"{first}\"")),
        "corrects prefilled"
    );
    assert!(
        credit.contains("value=\"Globex SARL\"") && credit.contains("value=\"Conseil\""),
        "taken from the invoice"
    );

    // The same number again in the same year: refused, nothing saved, the problem shown on the number.
    let again = post(&member, "/t/acme/invoices", &good_invoice(&first), "save").await;
    assert_eq!(again.status(), 422);
    let html = again.text().await.unwrap();
    assert!(
        html.contains(&format!(
            "BT-1 · Le numéro {first} est déjà utilisé cette année"
        )),
        "{html}"
    );
    assert_eq!(invoice_count(&app).await, 1);
    // Another year may use it.
    let last_year = with(
        good_invoice(&first),
        "issue_date",
        &format!("{}-06-01", year() - 1),
    );
    save_draft(&member, &last_year).await;
    assert_eq!(invoice_count(&app).await, 2);

    // Numbering settings: admins only, validated, audited, used by the next proposal.
    assert_eq!(member.get("/t/acme/settings/numbering").await.status(), 403);
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let page = admin
        .get("/t/acme/settings/numbering")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("F{YYYY}-") && page.contains(&first));
    let bad = admin
        .submit(
            "/t/acme/settings/numbering",
            "/t/acme/settings/numbering",
            &[
                ("invoice_prefix", "FACT€-"),
                ("credit_note_prefix", "AVOIR-{YYYY}-DE-TROP-LONG"),
                ("digits", "40"),
                ("yearly_reset", "on"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);
    let html = bad.text().await.unwrap();
    assert!(
        html.contains("ne peut contenir que des lettres") && html.contains("au plus 20 caractères")
    );
    assert!(html.contains("entre 1 et 12") && html.contains("value=\"FACT€-\""));
    let good = admin
        .submit(
            "/t/acme/settings/numbering",
            "/t/acme/settings/numbering",
            &[
                ("invoice_prefix", "INV-{YYYY}/"),
                ("credit_note_prefix", "CN-{YYYY}/"),
                ("digits", "4"),
            ],
        )
        .await;
    assert_eq!(good.status(), 303);
    let html = member
        .get("/t/acme/invoices/new")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(&format!("value=\"INV-{}/0001\"", year())),
        "{html}"
    );
    let audited = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("invoice.numbering_changed"))
        .one(&app.test_db.db)
        .await
        .unwrap()
        .expect("audited");
    assert!(audited.details.contains("INV-{YYYY}/"));
}

#[tokio::test]
async fn drafts_can_be_deleted() {
    let app = pages_app().await;
    app.world().await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let id = save_draft(&member, &good_invoice("F-DEL-1")).await;
    let deleted = member
        .submit("/t/acme/", &format!("/t/acme/invoices/{id}/delete"), &[])
        .await;
    assert_eq!(deleted.status(), 303);
    assert_eq!(location(&deleted), "/t/acme/invoices?deleted=1");
    assert!(row(&app, id).await.is_none());
}

#[tokio::test]
async fn viewers_cannot_edit_or_send_and_other_tenants_get_404_everywhere() {
    let app = pages_app().await;
    app.world().await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let id = save_draft(&member, &good_invoice("F-ROLE-1")).await;

    let viewer = Visitor::signed_in(&app, "viewer@acme.fr", PASSWORD).await;
    assert_eq!(viewer.get("/t/acme/invoices/new").await.status(), 403);
    assert_eq!(
        viewer
            .get(&format!("/t/acme/invoices/{id}/edit"))
            .await
            .status(),
        403
    );
    for action in ["submit", "retry", "delete"] {
        let refused = viewer
            .submit("/t/acme/", &format!("/t/acme/invoices/{id}/{action}"), &[])
            .await;
        assert_eq!(refused.status(), 403, "{action}");
    }
    let refused = post(
        &viewer,
        &format!("/t/acme/invoices/{id}"),
        &good_invoice("F-X"),
        "save",
    )
    .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(
        row(&app, id).await.unwrap().number.as_deref(),
        Some("F-ROLE-1")
    );

    let globex = Visitor::signed_in(&app, "admin@globex.fr", PASSWORD).await;
    let html = globex.get("/t/globex/").await.text().await.unwrap();
    let token = csrf_of(&html);
    for path in [
        "/t/acme/invoices/new".to_owned(),
        format!("/t/acme/invoices/{id}/edit"),
        format!("/t/globex/invoices/{id}/edit"),
        "/t/acme/settings/numbering".to_owned(),
    ] {
        assert_eq!(globex.get(&path).await.status(), 404, "GET {path}");
    }
    for slug in ["acme", "globex"] {
        for suffix in ["", "/submit", "/retry", "/delete"] {
            let path = format!("/t/{slug}/invoices/{id}{suffix}");
            let mut form: Vec<(&str, &str)> = vec![("csrf_token", &token), ("action", "save")];
            form.push(("number", "F-STOLEN"));
            let response = globex
                .client
                .post(format!("{}{path}", app.address))
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 404, "POST {path}");
        }
    }
    let response = globex
        .client
        .post(format!("{}/t/acme/invoices", app.address))
        .form(&[("csrf_token", token.as_str()), ("number", "F-STOLEN")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(invoice_count(&app).await, 1);
    let stored = row(&app, id).await.unwrap();
    assert_eq!(stored.number.as_deref(), Some("F-ROLE-1"));
    assert_eq!(stored.submission_state, "draft");
}

#[tokio::test]
async fn sending_creates_exactly_one_order_with_the_invoice_at_billit() {
    let (app, sandbox) = billit_app().await;
    app.world().await;
    connect_billit(&app).await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let number = format!("F{}-00001", year());
    let sent = post(&member, "/t/acme/invoices", &good_invoice(&number), "send").await;
    assert_eq!(sent.status(), 303);
    let location = location(&sent);
    let id = id_in(&location);
    assert_eq!(location, format!("/t/acme/invoices/{id}"));

    let stored = wait_for(&app, id, "sent", |row| row.submission_state == "sent").await;
    let orders = sandbox_orders(&sandbox).await;
    assert_eq!(orders.len(), 1, "exactly one order");
    let order = sandbox_client(&sandbox)
        .get_order(orders[0].order_id.unwrap())
        .await
        .unwrap();
    assert_eq!(stored.billit_order_id, order.order_id);
    assert_eq!(order.order_number.as_deref(), Some(number.as_str()));
    assert_eq!(order.order_type.as_deref(), Some("Invoice"));
    assert_eq!(order.reference.as_deref(), Some("PO-2026-17"));
    let customer = order.customer.as_ref().unwrap();
    assert_eq!(customer.name.as_deref(), Some("Globex SARL"));
    let ctc = customer
        .identifiers
        .as_deref()
        .unwrap()
        .iter()
        .find(|identifier| identifier.scheme_id.as_deref() == Some("0225"))
        .expect("the CTC identifier");
    assert_eq!(ctc.identifier.as_deref(), Some(BUYER_SIREN));
    let lines = order.order_lines.as_deref().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].description.as_deref(), Some("Conseil"));
    assert_eq!(lines[1].unit_price_excl.unwrap().to_string(), "50.5");
    assert_eq!(lines[1].vat_percentage.unwrap().to_string(), "5.5");
    // 300 + 50.50 excl.; VAT 60 + 2.78 (2.7775 rounded).
    assert_eq!(order.total_excl.unwrap().normalize().to_string(), "350.5");
    assert_eq!(order.total_vat.unwrap().normalize().to_string(), "62.78");
    assert_eq!(order.total_incl.unwrap().normalize().to_string(), "413.28");
    assert_eq!(stored.total_incl_cents, 41_328);
    assert!(stored.sent_at.is_some() && stored.submission_error.is_none());

    // The statuses area is asked to read the order back.
    let sync = jobs::Entity::find()
        .filter(jobs::Column::Kind.eq("billit.sync_order"))
        .all(&app.test_db.db)
        .await
        .unwrap();
    assert_eq!(sync.len(), 1);
    let payload: serde_json::Value = serde_json::from_str(&sync[0].payload).unwrap();
    assert_eq!(payload["invoice_id"], id.to_string());
    assert_eq!(payload["order_id"], order.order_id.unwrap());

    // A sent invoice is neither editable nor deletable, and sending it again does nothing.
    let edit = member.get(&format!("/t/acme/invoices/{id}/edit")).await;
    assert_eq!(edit.status(), 303);
    let delete = member
        .submit("/t/acme/", &format!("/t/acme/invoices/{id}/delete"), &[])
        .await;
    assert_eq!(delete.status(), 409);
    assert!(delete.text().await.unwrap().contains("émettez un avoir"));
    let again = member
        .submit("/t/acme/", &format!("/t/acme/invoices/{id}/submit"), &[])
        .await;
    assert_eq!(again.status(), 409);
    assert!(row(&app, id).await.is_some());
    assert_eq!(sandbox_orders(&sandbox).await.len(), 1);
    app.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn billit_faults_are_retried_and_the_invoice_is_sent_once() {
    let (app, sandbox) = billit_app().await;
    app.world().await;
    connect_billit(&app).await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    // The directory answered about this customer today (kept for a day), so the send is queued without asking it;
    // then every call to Billit fails.
    let globex = crate::billit_calls::customer(&app, "").await;
    app.state
        .directory
        .save(
            &acme_scope(&app).await,
            globex,
            &portal_persistence::directory::DirectoryCheck {
                address: format!("0225:{BUYER_SIREN}"),
                registered: true,
                checked_at: Utc::now(),
            },
        )
        .await
        .unwrap();
    sandbox
        .set_faults(Faults {
            error_rate: 1.0,
            ..Faults::default()
        })
        .unwrap();
    let sent = post(
        &member,
        "/t/acme/invoices",
        &crate::billit_calls::invoice_to("F-FAULT-1", globex, &format!("0225:{BUYER_SIREN}")),
        "send",
    )
    .await;
    let id = id_in(&location(&sent));
    let waiting = wait_for(&app, id, "the retry message", |row| {
        row.submission_error.is_some()
    })
    .await;
    assert_eq!(waiting.submission_state, "sending");
    // Kept as a code with its cause, put into words by the page.
    assert!(
        waiting
            .submission_error
            .as_deref()
            .unwrap()
            .starts_with("billit.unreachable:"),
        "{:?}",
        waiting.submission_error
    );
    let html = member
        .get(&format!("/t/acme/invoices/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("le portail réessaiera automatiquement"),
        "{html}"
    );
    assert!(waiting.billit_order_id.is_none());
    sandbox.set_faults(Faults::default()).unwrap();
    let stored = wait_for(&app, id, "sent", |row| row.submission_state == "sent").await;
    assert!(stored.submission_error.is_none());
    let orders = sandbox_orders(&sandbox).await;
    assert_eq!(orders.len(), 1);
    assert_eq!(stored.billit_order_id, orders[0].order_id);
    app.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_definitive_refusal_is_explained_and_sending_again_after_a_fix_works() {
    let (app, sandbox) = billit_app().await;
    app.world().await;
    connect_billit(&app).await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;

    // Billit already has this number (issued elsewhere than the portal).
    let draft_id = save_draft(&member, &good_invoice("F-TAKEN-1")).await;
    let elsewhere = {
        let record = record(&app, draft_id).await;
        let draft = draft_for_check(&record, "732829320");
        let invoice =
            portal_domain::invoice::check_before_submission(&draft, &|_: &_| false).unwrap();
        order_for(&invoice)
    };
    sandbox_client(&sandbox)
        .create_order(&elsewhere, "issued-outside-the-portal")
        .await
        .unwrap();

    let sent = member
        .submit(
            "/t/acme/",
            &format!("/t/acme/invoices/{draft_id}/submit"),
            &[],
        )
        .await;
    assert_eq!(location(&sent), format!("/t/acme/invoices/{draft_id}"));
    let failed = wait_for(&app, draft_id, "failed", |row| {
        row.submission_state == "failed"
    })
    .await;
    // Stored as a code with Billit's words; the page says it in the reader's language.
    assert!(
        failed
            .submission_error
            .as_deref()
            .unwrap()
            .starts_with("billit.refused:OrderNumberAlreadyExists"),
        "{:?}",
        failed.submission_error
    );
    let html = member
        .get(&format!("/t/acme/invoices/{draft_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(
            "Billit a déjà une facture numérotée F-TAKEN-1 cette année : changez le numéro, puis envoyez à nouveau."
        ),
        "{html}"
    );
    assert!(failed.needs_action && failed.billit_order_id.is_none());
    assert!(failed.action_reasons.contains("submission_failing"));
    // The editor shows why, and the fix is sent from it.
    let html = member
        .get(&format!("/t/acme/invoices/{draft_id}/edit"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Billit a déjà une facture numérotée F-TAKEN-1"),
        "{html}"
    );
    let fixed = post(
        &member,
        &format!("/t/acme/invoices/{draft_id}"),
        &good_invoice("F-TAKEN-2"),
        "send",
    )
    .await;
    assert_eq!(location(&fixed), format!("/t/acme/invoices/{draft_id}"));
    let stored = wait_for(&app, draft_id, "sent", |row| row.submission_state == "sent").await;
    assert!(!stored.needs_action && stored.submission_error.is_none());
    let orders = sandbox_orders(&sandbox).await;
    assert_eq!(orders.len(), 2, "the outside one and ours");
    let ours: Vec<_> = orders
        .iter()
        .filter(|order| order.order_number.as_deref() == Some("F-TAKEN-2"))
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(stored.billit_order_id, ours[0].order_id);
    app.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn without_a_billit_connection_it_fails_clearly_and_retry_sends_it() {
    let (app, sandbox) = billit_app().await;
    app.world().await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let sent = post(
        &member,
        "/t/acme/invoices",
        &good_invoice("F-NOCONN-1"),
        "send",
    )
    .await;
    let id = id_in(&location(&sent));
    let failed = wait_for(&app, id, "failed", |row| row.submission_state == "failed").await;
    assert_eq!(
        failed.submission_error.as_deref(),
        Some("connection.not_configured")
    );
    let html = member
        .get(&format!("/t/acme/invoices/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("configurer la connexion Billit"), "{html}");
    // Retry is for failed submissions only; a draft is refused.
    let draft = save_draft(&member, &good_invoice("F-NOCONN-2")).await;
    let refused = member
        .submit("/t/acme/", &format!("/t/acme/invoices/{draft}/retry"), &[])
        .await;
    assert_eq!(refused.status(), 409);

    connect_billit(&app).await;
    let retried = member
        .submit("/t/acme/", &format!("/t/acme/invoices/{id}/retry"), &[])
        .await;
    assert_eq!(location(&retried), format!("/t/acme/invoices/{id}"));
    let stored = wait_for(&app, id, "sent", |row| row.submission_state == "sent").await;
    assert!(!stored.needs_action);
    assert_eq!(sandbox_orders(&sandbox).await.len(), 1);
    app.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_order_created_before_a_crash_is_reused_not_created_twice() {
    let (app, sandbox) = billit_app().await;
    app.world().await;
    connect_billit(&app).await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let id = save_draft(&member, &good_invoice("F-CRASH-1")).await;

    // As if a worker had crashed after Billit created the order and before the portal kept its id.
    let stored = record(&app, id).await;
    let draft = draft_for_check(&stored, "732829320");
    let invoice = portal_domain::invoice::check_before_submission(&draft, &|_: &_| false).unwrap();
    let created = sandbox_client(&sandbox)
        .create_order(&order_for(&invoice), &stored.idempotency_key)
        .await
        .unwrap();

    let sent = member
        .submit("/t/acme/", &format!("/t/acme/invoices/{id}/submit"), &[])
        .await;
    assert_eq!(sent.status(), 303);
    let done = wait_for(&app, id, "sent", |row| row.submission_state == "sent").await;
    assert_eq!(done.billit_order_id, Some(created));
    let orders = sandbox_orders(&sandbox).await;
    assert_eq!(orders.len(), 1, "still exactly one order");
    assert_eq!(orders[0].order_id, Some(created));
    assert_eq!(
        sandbox_client(&sandbox)
            .get_order(created)
            .await
            .unwrap()
            .is_sent,
        Some(true)
    );
    app.shutdown().await;
    sandbox.shutdown().await;
}

/// A customer of `tenant`, written straight into the table (the customers area owns its pages).
async fn add_customer(app: &TestApp, tenant: Uuid, name: &str, address: &str) -> Uuid {
    use portal_persistence::entities::customers;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let id = Uuid::now_v7();
    customers::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant),
        legal_name: Set(name.to_owned()),
        siren: Set(BUYER_SIREN.to_owned()),
        siret: Set(Some(format!("{BUYER_SIREN}00015"))),
        vat_number: Set(None),
        electronic_address: Set(address.to_owned()),
        contact_emails: Set(r#"["achats@client.fr","compta@client.fr"]"#.to_owned()),
        address_street: Set(Some("2 place du Marché".to_owned())),
        address_additional: Set(None),
        address_postcode: Set(Some("69001".to_owned())),
        address_city: Set(Some("Lyon".to_owned())),
        address_country: Set("FR".to_owned()),
        language: Set("en".to_owned()),
        peppol_checked_at: Set(None),
        peppol_summary: Set(None),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(&app.test_db.db)
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn the_buyer_comes_from_a_customer_of_the_tenant_only() {
    let app = pages_app().await;
    let world = app.world().await;
    let ours = add_customer(
        &app,
        world.acme.id.as_uuid(),
        "Client Lyonnais",
        "0225:443061841",
    )
    .await;
    let theirs = add_customer(
        &app,
        world.globex.id.as_uuid(),
        "Client de Globex",
        "0225:443061841",
    )
    .await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;

    let html = member
        .get(&format!("/t/acme/invoices/new?customer={ours}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("value=\"Client Lyonnais\"") && html.contains("value=\"0225:443061841\"")
    );
    assert!(
        html.contains("value=\"achats@client.fr, compta@client.fr\"")
            && html.contains("value=\"Lyon\"")
    );
    assert!(html.contains(&format!(
        "<option value=\"{ours}\" selected>Client Lyonnais</option>"
    )));
    assert!(
        !html.contains("Client de Globex"),
        "another tenant's customers are not offered"
    );
    assert_eq!(
        member
            .get(&format!("/t/acme/invoices/new?customer={theirs}"))
            .await
            .status(),
        404
    );

    // Choosing a customer in the form (without JavaScript) fills the buyer and keeps the rest.
    let chosen = with(
        with(good_invoice("F-CUST-1"), "customer_id", &ours.to_string()),
        "line_description",
        "Audit",
    );
    let html = post(&member, "/t/acme/invoices", &chosen, "use_customer")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("value=\"Client Lyonnais\"") && html.contains("value=\"Audit\""));

    // The draft is linked to the customer; another tenant's customer id is not linked.
    let id = save_draft(&member, &chosen).await;
    assert_eq!(row(&app, id).await.unwrap().customer_id, Some(ours));
    let foreign = with(good_invoice("F-CUST-2"), "customer_id", &theirs.to_string());
    let id = save_draft(&member, &foreign).await;
    assert_eq!(row(&app, id).await.unwrap().customer_id, None);
}

#[tokio::test]
async fn a_failed_send_with_an_order_reuses_it_and_deleting_one_deletes_its_order_at_billit() {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
    let (app, sandbox) = billit_app().await;
    app.world().await;
    connect_billit(&app).await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let client = sandbox_client(&sandbox);

    // Billit created the order, then sending failed for good (the portal kept the order id).
    let mut created = Vec::new();
    for number in ["F-ORDER-1", "F-ORDER-2", "F-ORDER-3"] {
        let id = save_draft(&member, &good_invoice(number)).await;
        let stored = record(&app, id).await;
        let draft = draft_for_check(&stored, "732829320");
        let invoice =
            portal_domain::invoice::check_before_submission(&draft, &|_: &_| false).unwrap();
        let order_id = client
            .create_order(&order_for(&invoice), &stored.idempotency_key)
            .await
            .unwrap();
        let mut failed = row(&app, id).await.unwrap().into_active_model();
        failed.billit_order_id = Set(Some(order_id));
        failed.submission_state = Set("failed".to_owned());
        failed.submission_error = Set(Some("Billit était en maintenance.".to_owned()));
        failed.update(&app.test_db.db).await.unwrap();
        created.push((id, order_id));
    }
    let (retried, retried_order) = created[0];
    // The content of an invoice whose order exists cannot change any more.
    assert_eq!(
        member
            .get(&format!("/t/acme/invoices/{retried}/edit"))
            .await
            .status(),
        303
    );
    let refused = post(
        &member,
        &format!("/t/acme/invoices/{retried}"),
        &good_invoice("F-ORDER-9"),
        "save",
    )
    .await;
    assert_eq!(refused.status(), 409);
    // Even if the earlier send went through before the failure was recorded, retrying sends it once.
    client
        .send_orders(&[retried_order], "Peppol")
        .await
        .unwrap();
    let sent = member
        .submit(
            "/t/acme/",
            &format!("/t/acme/invoices/{retried}/retry"),
            &[],
        )
        .await;
    assert_eq!(location(&sent), format!("/t/acme/invoices/{retried}"));
    let done = wait_for(&app, retried, "sent", |row| row.submission_state == "sent").await;
    assert_eq!(done.billit_order_id, Some(retried_order));
    assert_eq!(
        sandbox_orders(&sandbox).await.len(),
        3,
        "no order created by the retry"
    );

    // Deleting one whose order was created but never sent: its order is deleted at Billit too.
    let (deleted, deleted_order) = created[1];
    assert!(sandbox.order(deleted_order).is_some());
    let response = member
        .submit(
            "/t/acme/",
            &format!("/t/acme/invoices/{deleted}/delete"),
            &[],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/t/acme/invoices?deleted=1");
    assert!(row(&app, deleted).await.is_none());
    assert!(
        sandbox.order(deleted_order).is_none(),
        "the unsent order is deleted at Billit"
    );
    let audit = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("invoice.deleted"))
        .one(&app.test_db.db)
        .await
        .unwrap()
        .expect("the deletion is audited");
    assert!(
        audit.details.contains(&deleted_order.to_string()),
        "{}",
        audit.details
    );

    // One whose order Billit sent after all (the portal did not hear of it): kept, and the user is told why.
    let (sent_meanwhile, sent_order) = created[2];
    client.send_orders(&[sent_order], "Peppol").await.unwrap();
    let refused = member
        .submit(
            "/t/acme/",
            &format!("/t/acme/invoices/{sent_meanwhile}/delete"),
            &[],
        )
        .await;
    assert_eq!(refused.status(), 409);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains(&format!("Billit a déjà envoyé sa commande n° {sent_order}")),
        "{html}"
    );
    assert!(row(&app, sent_meanwhile).await.is_some());
    assert!(sandbox.order(sent_order).is_some());

    // Billit unreachable: the invoice is kept, its order too, and the page says what happened.
    let (unreachable, unreachable_order) = {
        let id = save_draft(&member, &good_invoice("F-ORDER-4")).await;
        let stored = record(&app, id).await;
        let draft = draft_for_check(&stored, "732829320");
        let invoice =
            portal_domain::invoice::check_before_submission(&draft, &|_: &_| false).unwrap();
        let order_id = client
            .create_order(&order_for(&invoice), &stored.idempotency_key)
            .await
            .unwrap();
        let mut failed = row(&app, id).await.unwrap().into_active_model();
        failed.billit_order_id = Set(Some(order_id));
        failed.submission_state = Set("failed".to_owned());
        failed.update(&app.test_db.db).await.unwrap();
        (id, order_id)
    };
    sandbox
        .set_faults(Faults {
            error_rate: 1.0,
            ..Faults::default()
        })
        .unwrap();
    let refused = member
        .submit(
            "/t/acme/",
            &format!("/t/acme/invoices/{unreachable}/delete"),
            &[],
        )
        .await;
    assert_eq!(refused.status(), 409);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains(&format!(
            "Billit n’a pas supprimé sa commande n° {unreachable_order}"
        )),
        "{html}"
    );
    sandbox.set_faults(Faults::default()).unwrap();
    assert!(row(&app, unreachable).await.is_some());
    assert!(sandbox.order(unreachable_order).is_some());
    app.shutdown().await;
    sandbox.shutdown().await;
}
