//! Reminders (relances) of unpaid invoices, end to end on the running portal with the Billit sandbox: the admins'
//! settings, the check that records due reminders, sending by hand (with the invoice's PDF from Billit) or
//! automatically through the job queue, skipping, the holds (207, 211, full payment, excluded customer), and that a
//! step is never sent twice, whatever runs twice.

use crate::editor::BUYER_SIREN;
use crate::helpers::{PASSWORD, Visitor, csrf_of};
use crate::statuses::{ACME, Setup};
use chrono::{Duration, NaiveDate, Utc};
use portal_app::reminders::{self as reminding, CheckReport};
use portal_domain::ids::{CustomerId, InvoiceId};
use portal_domain::invoice::{BuyerDraft, InvoiceDraft};
use portal_domain::lifecycle::{Source, StatusEvent};
use portal_domain::status::StatusCode;
use portal_persistence::TenantScope;
use portal_persistence::entities::{audit_log, outbox, outbox_attachments, reminders};
use portal_persistence::invoices::{InvoiceContent, TotalsCents};
use portal_persistence::jobs::NewJob;
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

const ADMIN: &str = "admin@acme.fr";
const MEMBER: &str = "member@acme.fr";
const VIEWER: &str = "viewer@acme.fr";

fn today() -> NaiveDate {
    portal_app::dates::today()
}

/// The admin turns reminders on through the settings page.
async fn turn_on(setup: &Setup, automatic: bool, schedule: &str) {
    let admin = Visitor::signed_in(&setup.app, ADMIN, PASSWORD).await;
    let mut form = vec![("enabled", "on"), ("schedule", schedule)];
    if automatic {
        form.push(("automatic", "on"));
    }
    let response = admin
        .submit(
            "/t/acme/settings/reminders",
            "/t/acme/settings/reminders",
            &form,
        )
        .await;
    assert_eq!(response.status(), 303, "the settings are saved");
}

/// A member creates a customer through the customers' form (optionally excluded from reminders).
async fn customer(setup: &Setup, excluded: bool) -> CustomerId {
    let member = Visitor::signed_in(&setup.app, MEMBER, PASSWORD).await;
    let mut form = vec![
        ("legal_name", "Globex SARL"),
        ("siren", BUYER_SIREN),
        ("siret", ""),
        ("vat_number", ""),
        ("electronic_address", "0225:443061841"),
        ("contact_emails", "compta@globex.fr, achats@globex.fr"),
        ("street", "1 rue de la Paix"),
        ("additional", ""),
        ("postcode", "75002"),
        ("city", "Paris"),
        ("country", "FR"),
        ("language", "fr"),
    ];
    if excluded {
        form.push(("exclude_from_reminders", "on"));
    }
    let response = member
        .submit("/t/acme/customers/new", "/t/acme/customers", &form)
        .await;
    assert_eq!(response.status(), 303, "the customer is created");
    let location = response
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let id = location
        .trim_start_matches("/t/acme/customers/")
        .split('?')
        .next()
        .unwrap();
    CustomerId::parse(id).unwrap()
}

/// An invoice of `customer`, sent at the sandbox, due `days_overdue` days ago (480,00 € incl. VAT).
async fn overdue_invoice(
    setup: &Setup,
    scope: &TenantScope,
    customer: CustomerId,
    number: &str,
    days_overdue: i64,
) -> InvoiceId {
    let state = &setup.app.state;
    let due = today() - Duration::days(days_overdue);
    let content = InvoiceContent {
        customer_id: Some(customer),
        draft: InvoiceDraft {
            number: number.to_owned(),
            issue_date: Some(due - Duration::days(30)),
            due_date: Some(due),
            buyer: BuyerDraft {
                legal_name: "Globex SARL".into(),
                contact_emails: vec!["compta@globex.fr".into()],
                ..BuyerDraft::default()
            },
            ..InvoiceDraft::default()
        },
        totals: TotalsCents {
            excl: 40_000,
            vat: 8_000,
            incl: 48_000,
        },
    };
    let id = state
        .invoices
        .create_draft(scope, &content, None)
        .await
        .unwrap();
    let order: portal_billit::wire::Order = serde_json::from_value(serde_json::json!({
        "OrderNumber": number,
        "OrderType": "Invoice",
        "OrderDirection": "Income",
        "OrderDate": "2026-09-01T00:00:00",
        "Customer": {
            "Name": "Client Démo SA",
            "VATNumber": "FR37127362116",
            "Identifiers": [{"IdentifierType": "CTC", "Identifier": "127362116", "SchemeID": "0225"}]
        },
        "OrderLines": [{"Quantity": 1, "UnitPriceExcl": 400, "VATPercentage": 20, "Description": "Conseil"}]
    }))
    .unwrap();
    use portal_billit::client::BillitClient;
    let client = setup.client(ACME);
    let order_id = client
        .create_order(&order, &format!("test-{id}"))
        .await
        .unwrap();
    state
        .invoices
        .set_order_id(scope, id, order_id)
        .await
        .unwrap();
    state
        .invoices
        .mark_sent(scope, id, Utc::now())
        .await
        .unwrap();
    id
}

/// A status arrives for the invoice (through the same pass as webhooks and polls).
async fn status(
    setup: &Setup,
    scope: &TenantScope,
    invoice: InvoiceId,
    code: u16,
    amount: Option<i64>,
) {
    let mut event = StatusEvent::status(
        StatusCode(code),
        Source::Buyer,
        Utc::now(),
        format!("test:{code}:{}", Uuid::now_v7()),
    );
    if let Some(cents) = amount {
        event = event.with_amount(Decimal::new(cents, 2));
    }
    portal_app::statuses::ingest(&setup.app.state, scope, invoice, &[event], None, "test")
        .await
        .unwrap();
}

async fn check(setup: &Setup, scope: &TenantScope) -> CheckReport {
    reminding::check_tenant(&setup.app.state, scope, today())
        .await
        .unwrap()
}

async fn rows_of(setup: &Setup, invoice: InvoiceId) -> Vec<reminders::Model> {
    reminders::Entity::find()
        .filter(reminders::Column::InvoiceId.eq(invoice.as_uuid()))
        .all(&setup.app.test_db.db)
        .await
        .unwrap()
}

/// The reminder emails in the outbox (those the reminders point to).
async fn reminder_emails(setup: &Setup) -> Vec<outbox::Model> {
    let ids: Vec<Uuid> = reminders::Entity::find()
        .all(&setup.app.test_db.db)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|row| row.outbox_id)
        .collect();
    outbox::Entity::find()
        .filter(outbox::Column::Id.is_in(ids))
        .all(&setup.app.test_db.db)
        .await
        .unwrap()
}

async fn outbox_count(setup: &Setup) -> u64 {
    outbox::Entity::find()
        .count(&setup.app.test_db.db)
        .await
        .unwrap()
}

/// Posts a button's form of `page` (its CSRF token) to `action`.
async fn press(visitor: &Visitor<'_>, page: &str, action: &str) -> reqwest::Response {
    let html = visitor.get(page).await.text().await.unwrap();
    let token = csrf_of(&html);
    visitor
        .client
        .post(format!("{}{action}", visitor.app.address))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn settings_are_off_by_default_admins_only_and_a_bad_schedule_changes_nothing() {
    let setup = Setup::start().await;
    let scope = setup.connect("acme", ACME).await;
    let settings = setup.app.state.reminders.settings(&scope).await.unwrap();
    assert!(!settings.enabled, "off for a new company");
    assert_eq!(settings.schedule.steps(), &[7, 15, 30]);

    let member = Visitor::signed_in(&setup.app, MEMBER, PASSWORD).await;
    assert_eq!(member.get("/t/acme/settings/reminders").await.status(), 403);
    let admin = Visitor::signed_in(&setup.app, ADMIN, PASSWORD).await;
    let page = admin.get("/t/acme/settings/reminders").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("value=\"7, 15, 30\""), "{html}");
    assert!(
        html.contains("Relance : facture {invoice_number}"),
        "the French default"
    );
    assert!(
        html.contains("Reminder: invoice {invoice_number}"),
        "the English default"
    );

    let refused = admin
        .submit(
            "/t/acme/settings/reminders",
            "/t/acme/settings/reminders",
            &[("enabled", "on"), ("schedule", "7, quinze")],
        )
        .await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("« quinze » n&#39;est pas un nombre de jours entier.")
            || html.contains("« quinze » n'est pas un nombre de jours entier."),
        "{html}"
    );
    assert!(
        !setup
            .app
            .state
            .reminders
            .settings(&scope)
            .await
            .unwrap()
            .enabled
    );

    turn_on(&setup, false, "30 ; 10").await;
    let settings = setup.app.state.reminders.settings(&scope).await.unwrap();
    assert!(settings.enabled && !settings.automatic);
    assert_eq!(settings.schedule.steps(), &[10, 30]);
    let audited = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("tenant.reminders_changed"))
        .count(&setup.app.test_db.db)
        .await
        .unwrap();
    assert_eq!(audited, 1);

    // A template with an unknown placeholder is refused in words; a good one is used by the next reminder.
    let refused = admin
        .submit(
            "/t/acme/settings/reminders",
            "/t/acme/settings/reminders/templates",
            &[
                ("language", "fr"),
                ("subject", "Facture {numero}"),
                ("body", "Bonjour"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("{numero}"));
    assert!(
        setup
            .app
            .state
            .reminders
            .templates(&scope)
            .await
            .unwrap()
            .is_empty()
    );
    let saved = admin
        .submit(
            "/t/acme/settings/reminders",
            "/t/acme/settings/reminders/templates",
            &[
                ("language", "fr"),
                ("subject", "Rappel {invoice_number}"),
                ("body", "Reste {amount_due} depuis le {due_date}."),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let template = reminding::template_for(&setup.app.state, &scope, portal_domain::Language::Fr)
        .await
        .unwrap();
    assert_eq!(template.subject, "Rappel {invoice_number}");
    setup.stop().await;
}

#[tokio::test]
async fn a_due_reminder_is_sent_by_hand_with_the_pdf_once_and_shows_on_the_timeline() {
    let setup = Setup::start().await;
    let scope = setup.connect("acme", ACME).await;
    let globex_customer = customer(&setup, false).await;
    let invoice = overdue_invoice(&setup, &scope, globex_customer, "F2026-R001", 8).await;
    let not_yet = overdue_invoice(&setup, &scope, globex_customer, "F2026-R002", 3).await;

    // Off: nothing is recorded.
    assert_eq!(check(&setup, &scope).await, CheckReport::default());
    turn_on(&setup, false, "7, 15, 30").await;

    // The first step is due for the invoice 8 days overdue, nothing for the one 3 days overdue; checking again
    // records nothing more.
    let first = check(&setup, &scope).await;
    assert_eq!(first.recorded, 1);
    assert_eq!(check(&setup, &scope).await.recorded, 0);
    let rows = rows_of(&setup, invoice).await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].step_days, rows[0].state.as_str()), (7, "due"));
    assert!(rows_of(&setup, not_yet).await.is_empty());
    let reminder = rows[0].id;

    // Viewers read the list without buttons and cannot send; members see the buttons.
    let viewer = Visitor::signed_in(&setup.app, VIEWER, PASSWORD).await;
    let html = viewer.get("/t/acme/reminders").await.text().await.unwrap();
    assert!(
        html.contains("F2026-R001") && html.contains("J+7"),
        "{html}"
    );
    assert!(!html.contains(&format!("/reminders/{reminder}/send")));
    let forged = press(
        &viewer,
        "/t/acme/reminders",
        &format!("/t/acme/reminders/{reminder}/send"),
    )
    .await;
    assert_eq!(forged.status(), 403);

    let member = Visitor::signed_in(&setup.app, MEMBER, PASSWORD).await;
    let html = member.get("/t/acme/reminders").await.text().await.unwrap();
    assert!(
        html.contains(&format!("/t/acme/reminders/{reminder}/send")),
        "{html}"
    );
    let before = outbox_count(&setup).await;
    let sent = press(
        &member,
        "/t/acme/reminders",
        &format!("/t/acme/reminders/{reminder}/send"),
    )
    .await;
    assert_eq!(sent.status(), 303);

    let emails = reminder_emails(&setup).await;
    assert_eq!(emails.len(), 1);
    let email = &emails[0];
    let to: Vec<String> = serde_json::from_str(&email.to_addresses).unwrap();
    assert_eq!(
        to,
        vec!["compta@globex.fr", "achats@globex.fr"],
        "the customer's billing contacts"
    );
    assert!(
        email
            .subject
            .starts_with("Relance : facture F2026-R001 échue le"),
        "{}",
        email.subject
    );
    assert!(
        email.text_body.contains("8 jours de retard"),
        "{}",
        email.text_body
    );
    let attachments = outbox_attachments::Entity::find()
        .filter(outbox_attachments::Column::OutboxId.eq(email.id))
        .all(&setup.app.test_db.db)
        .await
        .unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0].content_type, "application/pdf");
    assert!(
        attachments[0].content.starts_with(b"%PDF"),
        "the PDF from Billit"
    );

    // Sending again is refused and writes nothing.
    let again = press(
        &member,
        "/t/acme/reminders",
        &format!("/t/acme/reminders/{reminder}/send"),
    )
    .await;
    assert_eq!(again.status(), 409);
    assert_eq!(outbox_count(&setup).await, before + 1);
    assert_eq!(check(&setup, &scope).await.recorded, 0, "the step is done");

    // The invoice's timeline shows it, with who sent it.
    let html = member
        .get(&format!("/t/acme/invoices/{invoice}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Relance J+7 envoyée"), "{html}");
    assert!(html.contains("par member@acme.fr"));
    setup.stop().await;
}

#[tokio::test]
async fn skipping_a_reminder_records_it_and_the_next_step_comes_later() {
    let setup = Setup::start().await;
    let scope = setup.connect("acme", ACME).await;
    let globex_customer = customer(&setup, false).await;
    let invoice = overdue_invoice(&setup, &scope, globex_customer, "F2026-R010", 8).await;
    turn_on(&setup, false, "7, 15").await;
    check(&setup, &scope).await;
    let reminder = rows_of(&setup, invoice).await[0].id;

    let member = Visitor::signed_in(&setup.app, MEMBER, PASSWORD).await;
    let skipped = press(
        &member,
        "/t/acme/reminders",
        &format!("/t/acme/reminders/{reminder}/skip"),
    )
    .await;
    assert_eq!(skipped.status(), 303);
    let rows = rows_of(&setup, invoice).await;
    assert_eq!(rows[0].state, "skipped");
    assert!(rows[0].decided_by.is_some());
    assert!(reminder_emails(&setup).await.is_empty());
    assert_eq!(
        check(&setup, &scope).await.recorded,
        0,
        "a skipped step is not proposed again"
    );
    let html = member
        .get(&format!("/t/acme/invoices/{invoice}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Relance J+7 écartée"), "{html}");

    // With a schedule whose next step has come (edited), that step is due.
    turn_on(&setup, false, "7, 8").await;
    assert_eq!(check(&setup, &scope).await.recorded, 1);
    let steps: Vec<i32> = rows_of(&setup, invoice)
        .await
        .iter()
        .map(|row| row.step_days)
        .collect();
    assert!(steps.contains(&8), "{steps:?}");
    setup.stop().await;
}

#[tokio::test]
async fn automatic_sending_goes_through_the_job_once_even_when_the_job_runs_again() {
    let setup = Setup::start().await;
    let scope = setup.connect("acme", ACME).await;
    let globex_customer = customer(&setup, false).await;
    let invoice = overdue_invoice(&setup, &scope, globex_customer, "F2026-R020", 16).await;
    turn_on(&setup, true, "7, 15, 30").await;

    // Two steps have passed: only the latest goes out.
    assert_eq!(check(&setup, &scope).await.recorded, 1);
    setup.settle().await;
    let rows = rows_of(&setup, invoice).await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].step_days, rows[0].state.as_str()), (15, "sent"));
    assert!(rows[0].decided_by.is_none(), "sent by the portal");
    assert_eq!(reminder_emails(&setup).await.len(), 1);

    // The same sending job queued again (a crash after the email was written, say) sends nothing more.
    let job = NewJob::for_tenant(
        &scope,
        reminding::SEND_JOB,
        serde_json::json!({ "reminder": rows[0].id }),
    )
    .unique_key(format!("test-requeue:{}", rows[0].id));
    setup.app.state.jobs.enqueue(job).await.unwrap();
    setup.settle().await;
    assert_eq!(check(&setup, &scope).await.recorded, 0);
    setup.settle().await;
    assert_eq!(reminder_emails(&setup).await.len(), 1);
    let sent_audits = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("invoice.reminder_sent"))
        .count(&setup.app.test_db.db)
        .await
        .unwrap();
    assert_eq!(sent_audits, 1);
    let html = Visitor::signed_in(&setup.app, MEMBER, PASSWORD)
        .await
        .get(&format!("/t/acme/invoices/{invoice}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Relance J+15 envoyée") && html.contains("envoi automatique"),
        "{html}"
    );
    setup.stop().await;
}

#[tokio::test]
async fn holds_stop_reminders_and_a_held_step_resumes_when_the_request_closes() {
    let setup = Setup::start().await;
    let scope = setup.connect("acme", ACME).await;
    let globex_customer = customer(&setup, false).await;
    let excluded_customer = customer(&setup, true).await;
    let disputed = overdue_invoice(&setup, &scope, globex_customer, "F2026-R030", 8).await;
    let announced = overdue_invoice(&setup, &scope, globex_customer, "F2026-R031", 8).await;
    let paid = overdue_invoice(&setup, &scope, globex_customer, "F2026-R032", 8).await;
    let partly = overdue_invoice(&setup, &scope, globex_customer, "F2026-R033", 8).await;
    let excluded = overdue_invoice(&setup, &scope, excluded_customer, "F2026-R034", 8).await;
    turn_on(&setup, false, "7").await;

    status(&setup, &scope, disputed, 207, None).await;
    status(&setup, &scope, announced, 211, None).await;
    status(&setup, &scope, paid, 212, Some(48_000)).await;
    status(&setup, &scope, partly, 212, Some(10_000)).await;

    let report = check(&setup, &scope).await;
    assert_eq!(report.recorded, 1, "only the partly paid invoice");
    assert_eq!(rows_of(&setup, partly).await.len(), 1);
    for held in [disputed, announced, paid, excluded] {
        assert!(rows_of(&setup, held).await.is_empty(), "{held} is held");
    }

    // The dispute closes (209): the held step is due now.
    status(&setup, &scope, disputed, 209, None).await;
    assert_eq!(check(&setup, &scope).await.recorded, 1);
    assert_eq!(rows_of(&setup, disputed).await[0].step_days, 7);

    // A 208 arrives on a due reminder: the list says why and sending is refused.
    status(&setup, &scope, disputed, 208, None).await;
    let member = Visitor::signed_in(&setup.app, MEMBER, PASSWORD).await;
    let html = member.get("/t/acme/reminders").await.text().await.unwrap();
    assert!(
        html.contains("Suspendue : demande d&#39;information ouverte (208)")
            || html.contains("Suspendue : demande d'information ouverte (208)"),
        "{html}"
    );
    let reminder = rows_of(&setup, disputed).await[0].id;
    let refused = press(
        &member,
        "/t/acme/reminders",
        &format!("/t/acme/reminders/{reminder}/send"),
    )
    .await;
    assert_eq!(refused.status(), 409);
    assert_eq!(rows_of(&setup, disputed).await[0].state, "due");

    // Including the customer again (through its form) brings its invoice's reminder.
    let form = [
        ("legal_name", "Globex SARL"),
        ("siren", BUYER_SIREN),
        ("siret", ""),
        ("vat_number", ""),
        ("electronic_address", "0225:443061841"),
        ("contact_emails", "compta@globex.fr"),
        ("street", "1 rue de la Paix"),
        ("additional", ""),
        ("postcode", "75002"),
        ("city", "Paris"),
        ("country", "FR"),
        ("language", "fr"),
    ];
    let edit = format!("/t/acme/customers/{excluded_customer}/edit");
    let html = member.get(&edit).await.text().await.unwrap();
    assert!(
        html.contains("name=\"exclude_from_reminders\" value=\"on\" checked"),
        "{html}"
    );
    let saved = member
        .submit(
            &edit,
            &format!("/t/acme/customers/{excluded_customer}"),
            &form,
        )
        .await;
    assert_eq!(saved.status(), 303);
    assert_eq!(check(&setup, &scope).await.recorded, 1);
    assert_eq!(rows_of(&setup, excluded).await.len(), 1);
    setup.stop().await;
}

#[tokio::test]
async fn another_company_gets_404_on_every_reminder_route() {
    let setup = Setup::start().await;
    let scope = setup.connect("acme", ACME).await;
    let globex_customer = customer(&setup, false).await;
    let invoice = overdue_invoice(&setup, &scope, globex_customer, "F2026-R040", 8).await;
    turn_on(&setup, false, "7").await;
    check(&setup, &scope).await;
    let reminder = rows_of(&setup, invoice).await[0].id;

    let outsider = Visitor::signed_in(&setup.app, "admin@globex.fr", PASSWORD).await;
    for page in ["/t/acme/reminders", "/t/acme/settings/reminders"] {
        assert_eq!(outsider.get(page).await.status(), 404, "GET {page}");
    }
    // Posts with the outsider's own valid token (from its own company's page).
    for action in [
        format!("/t/acme/reminders/{reminder}/send"),
        format!("/t/acme/reminders/{reminder}/skip"),
        "/t/acme/reminders/check".to_owned(),
        "/t/acme/settings/reminders".to_owned(),
        "/t/acme/settings/reminders/templates".to_owned(),
        // Acme's reminder through the outsider's own company.
        format!("/t/globex/reminders/{reminder}/send"),
        format!("/t/globex/reminders/{reminder}/skip"),
    ] {
        let response = press(&outsider, "/t/globex/reminders", &action).await;
        assert_eq!(response.status(), 404, "POST {action}");
    }
    let rows = rows_of(&setup, invoice).await;
    assert_eq!(rows[0].state, "due", "nothing changed");
    assert!(reminder_emails(&setup).await.is_empty());
    setup.stop().await;
}
