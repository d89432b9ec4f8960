//! The Billit calls of issue #16, over real HTTP with the embedded sandbox and the portal's own workers: the
//! directory lookup before sending (blocking, cached per customer for a day), an invoice paid at issue, a status
//! file that speaks of two invoices, and the embedded sandbox chosen from the settings page alone.

use crate::editor::{
    BUYER_SIREN, PARTY_ID, acme_scope, billit_app, connect_billit, good_invoice, id_in, location,
    post, row, sandbox_client, today, wait_for, with,
};
use crate::helpers::{PASSWORD, TestApp, Visitor};
use crate::statuses::{ACME, Setup, wait_until};
use billit_sandbox::{Faults, Sandbox, SandboxConfig};
use portal_billit::client::BillitClient;
use portal_domain::Language;
use portal_domain::identifiers::{ElectronicAddress, Email, Siren};
use portal_domain::ids::CustomerId;
use portal_domain::invoice::Address;
use portal_domain::status::StatusCode;
use portal_persistence::customers::CustomerInput;
use portal_persistence::entities::{directory_checks, jobs};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

/// A customer of acme at `address` (Globex's SIREN), through the repository.
pub(crate) async fn customer(app: &TestApp, suffix: &str) -> CustomerId {
    let siren = Siren::parse(BUYER_SIREN).unwrap();
    app.state
        .customers
        .create(
            &acme_scope(app).await,
            &CustomerInput {
                legal_name: "Globex SARL".into(),
                siren,
                siret: None,
                vat_number: None,
                electronic_address: ElectronicAddress::default_for_with_suffix(siren, suffix)
                    .unwrap(),
                contact_emails: vec![Email::parse("compta@globex.fr").unwrap()],
                address: Address {
                    street: "1 rue de la Paix".into(),
                    additional: String::new(),
                    postcode: "75002".into(),
                    city: "Paris".into(),
                    country_code: "FR".into(),
                },
                language: Language::Fr,
            },
            |_| None,
        )
        .await
        .unwrap()
        .id
}

/// The editor's form for an invoice to this customer at `address`.
pub(crate) fn invoice_to(
    number: &str,
    customer: CustomerId,
    address: &str,
) -> Vec<(&'static str, String)> {
    with(
        with(good_invoice(number), "customer_id", &customer.to_string()),
        "buyer_electronic_address",
        address,
    )
}

#[tokio::test]
async fn a_buyer_outside_the_directory_blocks_the_send_and_nothing_is_created() {
    let (app, sandbox) = billit_app().await;
    app.world().await;
    connect_billit(&app).await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let unreachable = customer(&app, "_NOPEPPOL").await;
    let address = format!("0225:{BUYER_SIREN}_NOPEPPOL");

    let response = post(
        &member,
        "/t/acme/invoices",
        &invoice_to("F-DIR-1", unreachable, &address),
        "send",
    )
    .await;
    assert_eq!(response.status(), 409);
    let html = response.text().await.unwrap();
    assert!(
        html.contains(&format!(
            "ne peut pas recevoir de facture électronique à l’adresse {address}"
        )),
        "{html}"
    );
    assert_eq!(sandbox.participant_lookups(&address), 1);
    assert!(sandbox.orders_of(PARTY_ID).is_empty(), "no order created");
    let jobs_queued = jobs::Entity::find()
        .filter(jobs::Column::Kind.eq("invoice.submit"))
        .count(&app.test_db.db)
        .await
        .unwrap();
    assert_eq!(jobs_queued, 0, "nothing queued");
    let drafts = portal_persistence::entities::invoices::Entity::find()
        .all(&app.test_db.db)
        .await
        .unwrap();
    assert!(drafts.iter().all(|row| row.submission_state == "draft"));

    // The directory unreachable: blocked as well, with what happened; never a silent pass.
    let reachable = customer(&app, "").await;
    sandbox
        .set_faults(Faults {
            error_rate: 1.0,
            ..Faults::default()
        })
        .unwrap();
    let response = post(
        &member,
        "/t/acme/invoices",
        &invoice_to("F-DIR-2", reachable, &format!("0225:{BUYER_SIREN}")),
        "send",
    )
    .await;
    assert_eq!(response.status(), 409);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("L’annuaire n’a pas pu être consulté avant l’envoi"),
        "{html}"
    );
    sandbox.set_faults(Faults::default()).unwrap();
    assert!(sandbox.orders_of(PARTY_ID).is_empty(), "no order created");
    app.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_directory_is_asked_once_a_day_per_customer() {
    let (app, sandbox) = billit_app().await;
    app.world().await;
    connect_billit(&app).await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let globex = customer(&app, "").await;
    let address = format!("0225:{BUYER_SIREN}");
    for number in ["F-CACHE-1", "F-CACHE-2"] {
        let response = post(
            &member,
            "/t/acme/invoices",
            &invoice_to(number, globex, &address),
            "send",
        )
        .await;
        assert_eq!(response.status(), 303, "{number} is sent");
        let id = id_in(&location(&response));
        wait_for(&app, id, "sent", |row| row.submission_state == "sent").await;
    }
    assert_eq!(
        sandbox.participant_lookups(&address),
        1,
        "one lookup for two sends within a day"
    );
    // Every send was strict: Billit cannot fall back to email.
    for order in sandbox.orders_of(PARTY_ID) {
        assert_eq!(
            sandbox.sent_with(order.order_id.unwrap()),
            Some((true, "Peppol".to_owned()))
        );
    }
    // A day later, the directory is asked again.
    let stale = chrono::Utc::now() - chrono::Duration::hours(25);
    directory_checks::Entity::update_many()
        .col_expr(
            directory_checks::Column::CheckedAt,
            sea_orm::sea_query::Expr::value(stale),
        )
        .exec(&app.test_db.db)
        .await
        .unwrap();
    let response = post(
        &member,
        "/t/acme/invoices",
        &invoice_to("F-CACHE-3", globex, &address),
        "send",
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(sandbox.participant_lookups(&address), 2);
    app.shutdown().await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_invoice_paid_at_issue_is_created_paid_and_its_payment_reported_once() {
    let (app, sandbox) = billit_app().await;
    app.world().await;
    connect_billit(&app).await;
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let mut form = good_invoice("F-CASH-1");
    form.push(("paid_at_issue", today()));
    let response = post(&member, "/t/acme/invoices", &form, "send").await;
    assert_eq!(response.status(), 303);
    let id = id_in(&location(&response));
    let sent = wait_for(&app, id, "sent", |row| row.submission_state == "sent").await;
    assert_eq!(sent.paid_at_issue, Some(crate::editor::today_date()));
    let order_id = sent.billit_order_id.unwrap();
    let order = sandbox.order(order_id).unwrap();
    assert_eq!(order.paid, Some(true));
    assert_eq!(
        order
            .paid_date
            .as_ref()
            .map(|date| date.as_str().to_owned()),
        Some(format!("{}T00:00:00", today()))
    );

    // The portal keeps the payment as reported (read before the sandbox moves on: Billit's acknowledgement of
    // the 212, ingested at once since webhooks are applied in batches, would move it on to "accepted").
    let scope = acme_scope(&app).await;
    let payments = app
        .state
        .payments
        .list(&scope, portal_domain::ids::InvoiceId::from_uuid(id))
        .await
        .unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].amount_cents, sent.total_incl_cents);
    assert_eq!(
        payments[0].state,
        portal_persistence::payments::PaymentState::Reported
    );
    // Billit reports the payment itself, once, and the portal reports nothing.
    sandbox.advance();
    let order = sandbox_client(&sandbox).get_order(order_id).await.unwrap();
    let cash_collected = order
        .messages
        .unwrap_or_default()
        .iter()
        .filter(|message| message.description.as_deref() == Some("CashCollected"))
        .count();
    assert_eq!(cash_collected, 1);
    let reports = jobs::Entity::find()
        .filter(jobs::Column::Kind.eq("payment.report"))
        .count(&app.test_db.db)
        .await
        .unwrap();
    assert_eq!(reports, 0, "no second 212 from the portal");
    // Nothing remains to be recorded.
    let page = format!("/t/acme/invoices/{id}");
    let again = member
        .submit(&page, &format!("{page}/payments/full"), &[])
        .await;
    assert_eq!(again.status(), 409, "a second payment is refused");
    assert_eq!(
        app.state
            .payments
            .list(&scope, portal_domain::ids::InvoiceId::from_uuid(id))
            .await
            .unwrap()
            .len(),
        1
    );
    // Without the field, an invoice is created unpaid.
    let response = post(
        &member,
        "/t/acme/invoices",
        &good_invoice("F-CASH-2"),
        "send",
    )
    .await;
    let unpaid = id_in(&location(&response));
    let unpaid = wait_for(&app, unpaid, "sent", |row| row.submission_state == "sent").await;
    assert_eq!(
        sandbox.order(unpaid.billit_order_id.unwrap()).unwrap().paid,
        Some(false)
    );
    app.shutdown().await;
    sandbox.shutdown().await;
}

/// A status file for two invoices, built from the official UC4 sample (207 on F202500006): the first reference
/// is renumbered `first`, a second one is added for `second`, approved (205) without reasons.
fn two_invoice_cdar(first: &str, second: &str) -> Vec<u8> {
    const OPEN: &str = "<ram:ReferenceReferencedDocument>";
    const CLOSE: &str = "</ram:ReferenceReferencedDocument>";
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let text =
        std::fs::read_to_string(fixtures.join("cdar/UC4_F202500006_04-CDV-207_En_litige.xml"))
            .unwrap();
    let (start, end) = (
        text.find(OPEN).unwrap(),
        text.find(CLOSE).unwrap() + CLOSE.len(),
    );
    let reference = &text[start..end];
    let (status_start, status_end) = (
        reference.find("<ram:SpecifiedDocumentStatus>").unwrap(),
        reference.find("</ram:SpecifiedDocumentStatus>").unwrap()
            + "</ram:SpecifiedDocumentStatus>".len(),
    );
    let approved = format!("{}{}", &reference[..status_start], &reference[status_end..])
        .replace("F202500006", second)
        .replace(
            "<ram:ProcessConditionCode>207<",
            "<ram:ProcessConditionCode>205<",
        )
        .replace("En_litige<", "Approuvée<");
    format!(
        "{}{}\n{approved}{}",
        &text[..start],
        reference.replace("F202500006", first),
        &text[end..]
    )
    .replace("F202500006", first)
    .into_bytes()
}

#[tokio::test]
async fn a_status_file_for_two_invoices_applies_to_each_of_them() {
    let setup = Setup::start().await;
    let scope = setup.connect("acme", ACME).await;
    let (disputed, disputed_order) = setup.send(&scope, ACME, "F-MULTI-1", "").await;
    let (approved, _) = setup.send(&scope, ACME, "F-MULTI-2", "").await;
    setup
        .sandbox
        .attach_status_file(
            disputed_order,
            "CDAR_multi.xml",
            &two_invoice_cdar("F-MULTI-1", "F-MULTI-2"),
        )
        .unwrap();
    wait_until(
        "both invoices have their status from the file",
        async || {
            let first = setup.summary(&scope, disputed).await;
            let second = setup.summary(&scope, approved).await;
            first.headline == Some(StatusCode(207)) && second.headline == Some(StatusCode(205))
        },
    )
    .await;
    let first = setup.summary(&scope, disputed).await;
    assert!(first.needs_action, "a dispute needs the supplier");
    let events = setup
        .app
        .state
        .invoices
        .events(&scope, disputed)
        .await
        .unwrap();
    let dispute = events
        .iter()
        .find(|stored| stored.event.code == Some(StatusCode(207)))
        .unwrap();
    assert_eq!(dispute.event.reasons, vec!["TX_TVA_ERR".to_owned()]);
    let events = setup
        .app
        .state
        .invoices
        .events(&scope, approved)
        .await
        .unwrap();
    let approval: Vec<_> = events
        .iter()
        .filter(|stored| stored.event.code == Some(StatusCode(205)))
        .collect();
    assert_eq!(
        approval.len(),
        1,
        "the approval is on the second invoice, once"
    );
    assert!(approval[0].event.reasons.is_empty());
    assert!(
        !events
            .iter()
            .any(|stored| stored.event.code == Some(StatusCode(207))),
        "the first invoice's dispute is not applied to the second"
    );
    setup.stop().await;
}

#[tokio::test]
async fn choosing_the_embedded_sandbox_opens_an_account_and_invoices_can_be_sent() {
    // Like `portal serve --no-demo`: a sandbox runs, no company has an account there.
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let url = sandbox.base_url();
    let app = TestApp::spawn_with(
        move |mut config| {
            config.billit.embedded_url = Some(url);
            config.jobs.workers = 1;
            config.jobs.poll_interval_ms = 20;
            config
        },
        portal::startup::default_registry,
    )
    .await;
    app.world().await;
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let settings = "/t/acme/settings/billit";
    let page = admin.get(settings).await.text().await.unwrap();
    assert!(
        page.contains("Sans compte Billit"),
        "the choice is explained"
    );
    let saved = admin
        .submit(
            settings,
            settings,
            &[
                ("environment", "embedded"),
                ("api_key", ""),
                ("party_id", ""),
                ("context_party_id", ""),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    assert_eq!(location(&saved), "/t/acme/settings/billit?saved=embedded");
    let scope = acme_scope(&app).await;
    let connection = app.state.billit.get(&scope).await.unwrap().unwrap();
    let party = connection.party_id.expect("a PartyID");
    assert!(connection.has_api_key && connection.webhook_registered);
    assert!(sandbox.has_party(party));
    let page = admin
        .get("/t/acme/settings/billit?saved=embedded")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!(
            "Compte ouvert dans le bac à sable intégré (PartyID {party})"
        )),
        "{page}"
    );
    // The connection works: the test says so, and an invoice goes all the way.
    let tested = admin
        .submit(settings, &format!("{settings}/test"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(tested.contains("Connexion réussie"), "{tested}");
    let member = Visitor::signed_in(&app, "member@acme.fr", PASSWORD).await;
    let response = post(
        &member,
        "/t/acme/invoices",
        &good_invoice("F-EMB-1"),
        "send",
    )
    .await;
    assert_eq!(response.status(), 303);
    let id = id_in(&location(&response));
    let sent = wait_for(&app, id, "sent", |row| row.submission_state == "sent").await;
    let orders = sandbox.orders_of(party);
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].order_id, sent.billit_order_id);
    // Saving the embedded environment again keeps the account.
    admin
        .submit(
            settings,
            settings,
            &[
                ("environment", "embedded"),
                ("api_key", ""),
                ("party_id", ""),
                ("context_party_id", ""),
            ],
        )
        .await;
    let again = app.state.billit.get(&scope).await.unwrap().unwrap();
    assert_eq!(again.party_id, Some(party));
    assert!(row(&app, id).await.is_some());
    // Another company gets an account of its own.
    let other = Visitor::signed_in(&app, "admin@globex.fr", PASSWORD).await;
    let saved = other
        .submit(
            "/t/globex/settings/billit",
            "/t/globex/settings/billit",
            &[
                ("environment", "embedded"),
                ("api_key", ""),
                ("party_id", ""),
                ("context_party_id", ""),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    assert_eq!(sandbox.orders_of(party).len(), 1);
    app.shutdown().await;
    sandbox.shutdown().await;
}
