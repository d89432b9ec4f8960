//! Payments received (status 212) over real HTTP: a member writes and sends an invoice through the editor to the
//! embedded Billit sandbox, records payments on its page, and the portal's workers report each one to Billit,
//! which answers with `CashCollected` then `CashCollected: Recevable` once the scenario moves on.

use crate::editor::{good_invoice, id_in, location, post, today_date, wait_for, year};
use crate::helpers::{PASSWORD, Visitor, csrf_of};
use crate::statuses::{ACME, Setup, party_account, wait_until};
use billit_sandbox::Faults;
use portal_billit::client::BillitClient;
use portal_domain::Language;
use portal_domain::ids::InvoiceId;
use portal_domain::lifecycle::Payment;
use portal_domain::status::StatusCode;
use portal_persistence::TenantScope;
use portal_persistence::entities::{audit_log, payments as payment_rows};
use portal_persistence::payments::{PaymentMethod, PaymentRecord, PaymentRepository, PaymentState};
use rust_decimal::Decimal;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

/// The total of `good_invoice`: 3 × 100 at 20 % and 50,50 at 5,5 % → 360,00 + 53,28.
const TOTAL_CENTS: i64 = 41_328;

/// An invoice sent to Billit (the plain scenario, so it is delivered), and its order there.
pub(crate) struct Sent {
    pub(crate) invoice: InvoiceId,
    pub(crate) order: i64,
}

impl Sent {
    pub(crate) fn page(&self) -> String {
        format!("/t/acme/invoices/{}", self.invoice)
    }

    pub(crate) fn payments(&self) -> String {
        format!("{}/payments", self.page())
    }
}

pub(crate) async fn send_invoice(setup: &Setup, member: &Visitor<'_>, index: u32) -> Sent {
    let number = format!("F{}-{index:05}", year());
    let response = post(member, "/t/acme/invoices", &good_invoice(&number), "send").await;
    assert_eq!(response.status(), 303, "{number} is accepted for sending");
    let id = id_in(&location(&response));
    let row = wait_for(&setup.app, id, "sent to Billit", |row| {
        row.submission_state == "sent"
    })
    .await;
    assert_eq!(row.total_incl_cents, TOTAL_CENTS);
    setup.settle().await;
    Sent {
        invoice: InvoiceId::from_uuid(id),
        order: row.billit_order_id.expect("an order id"),
    }
}

fn repository(setup: &Setup) -> PaymentRepository {
    PaymentRepository::new(setup.app.test_db.db.clone())
}

pub(crate) async fn payments_of(
    setup: &Setup,
    scope: &TenantScope,
    sent: &Sent,
) -> Vec<PaymentRecord> {
    repository(setup).list(scope, sent.invoice).await.unwrap()
}

/// Posts the payment form from the invoice's page.
pub(crate) async fn record(
    visitor: &Visitor<'_>,
    sent: &Sent,
    amount: &str,
    paid_on: &str,
    method: &str,
    reference: &str,
) -> reqwest::Response {
    visitor
        .submit(
            &sent.page(),
            &sent.payments(),
            &[
                ("amount", amount),
                ("paid_on", paid_on),
                ("method", method),
                ("reference", reference),
            ],
        )
        .await
}

pub(crate) fn today() -> String {
    today_date().format("%Y-%m-%d").to_string()
}

/// The `CashCollected` messages the portal's reports produced on the order at Billit (one per payment).
async fn cash_collected(setup: &Setup, sent: &Sent) -> usize {
    let order = setup.client(ACME).get_order(sent.order).await.unwrap();
    order
        .messages
        .unwrap_or_default()
        .iter()
        .filter(|message| {
            message.description.as_deref() == Some("CashCollected")
                && message.message_direction.as_deref() == Some("Outgoing")
        })
        .count()
}

pub(crate) async fn wait_for_states(
    setup: &Setup,
    scope: &TenantScope,
    sent: &Sent,
    what: &str,
    done: impl Fn(&[PaymentRecord]) -> bool,
) {
    wait_until(what, async || done(&payments_of(setup, scope, sent).await)).await;
}

pub(crate) fn all_in(payments: &[PaymentRecord], state: PaymentState) -> bool {
    !payments.is_empty() && payments.iter().all(|payment| payment.state == state)
}

/// The rows of the payment track, as `(data-state, row html)`.
fn track_rows(html: &str) -> Vec<String> {
    html.split("data-payment=\"")
        .skip(1)
        .map(|row| {
            row.split("data-state=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

async fn audit_count(setup: &Setup, action: &str) -> usize {
    audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq(action))
        .all(&setup.app.test_db.db)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn partial_payments_then_the_rest_reach_billit_and_the_invoice_ends_paid_and_accepted() {
    let setup = Setup::start().await;
    let scope = setup.connect("acme", ACME).await;
    let member = Visitor::signed_in(&setup.app, "member@acme.fr", PASSWORD).await;
    let sent = send_invoice(&setup, &member, 1).await;

    // The invoice page offers the payment track with what remains.
    let page = member.get(&sent.page()).await.text().await.unwrap();
    assert!(
        page.contains("id=\"payments\""),
        "the payment track is shown"
    );
    assert!(page.contains("413,28"), "the total and what remains");
    assert!(page.contains(&format!("action=\"{}\"", sent.payments())));
    assert!(page.contains(&format!("action=\"{}/full\"", sent.payments())));

    // Two partial payments, typed the French way and the plain way.
    let first = record(&member, &sent, "100,00", &today(), "transfer", "VIR-2026-1").await;
    assert_eq!(first.status(), 303);
    assert_eq!(location(&first), format!("{}#payments", sent.page()));
    let second = record(&member, &sent, "150.28", &today(), "cheque", "CHQ 0042").await;
    assert_eq!(second.status(), 303);

    // More than what remains (413,28 − 250,28 = 163,00) is refused, saying what remains; nothing is stored.
    let too_much = record(&member, &sent, "1 000", &today(), "card", "").await;
    assert_eq!(too_much.status(), 422);
    let html = too_much.text().await.unwrap();
    assert!(
        html.contains("Ce montant dépasse ce qui reste à payer : 163,00\u{a0}€"),
        "the refusal says what remains"
    );
    assert_eq!(payments_of(&setup, &scope, &sent).await.len(), 2);

    // The rest in one click: a transfer of what remains, dated today.
    let rest = member
        .submit(&sent.page(), &format!("{}/full", sent.payments()), &[])
        .await;
    assert_eq!(rest.status(), 303);
    let payments = payments_of(&setup, &scope, &sent).await;
    let amounts: Vec<i64> = payments.iter().map(|p| p.amount_cents).collect();
    assert_eq!(amounts, vec![10_000, 15_028, 16_300]);
    assert_eq!(payments[1].method, PaymentMethod::Cheque);
    assert_eq!(payments[1].reference.as_deref(), Some("CHQ 0042"));
    assert_eq!(payments[2].method, PaymentMethod::Transfer);
    assert_eq!(payments[2].paid_on, today_date());

    // Nothing remains: another payment, or another click, is refused.
    let again = member
        .submit(&sent.page(), &format!("{}/full", sent.payments()), &[])
        .await;
    assert_eq!(again.status(), 409);
    assert_eq!(payments_of(&setup, &scope, &sent).await.len(), 3);

    // Each payment reaches Billit exactly once.
    wait_for_states(&setup, &scope, &sent, "every payment reported", |p| {
        all_in(p, PaymentState::Reported)
    })
    .await;
    setup.settle().await;
    assert_eq!(cash_collected(&setup, &sent).await, 3);
    let order = setup.client(ACME).get_order(sent.order).await.unwrap();
    assert_eq!(order.to_pay.unwrap_or(Decimal::ONE), Decimal::ZERO);
    assert_eq!(order.paid, Some(true));
    let page = member.get(&sent.page()).await.text().await.unwrap();
    assert_eq!(track_rows(&page), vec!["reported"; 3]);
    assert!(page.contains("Transmis à Billit"));
    assert!(page.contains("La facture est entièrement payée."));
    assert!(!page.contains(&format!("action=\"{}/full\"", sent.payments())));

    // The scenario moves on: the tax authority acknowledges every payment.
    setup.sandbox.advance();
    wait_for_states(&setup, &scope, &sent, "every payment accepted", |p| {
        all_in(p, PaymentState::Accepted)
    })
    .await;
    portal_app::statuses::sweep_tenant_now(&setup.app.state, &scope)
        .await
        .expect("a sweep");
    setup.settle().await;
    let summary = setup.summary(&scope, sent.invoice).await;
    assert_eq!(summary.payment, Payment::Paid);
    assert_eq!(summary.amount_paid_cents, TOTAL_CENTS);
    assert_eq!(summary.headline, Some(StatusCode(212)));
    let page = member.get(&sent.page()).await.text().await.unwrap();
    assert_eq!(track_rows(&page), vec!["accepted"; 3]);
    assert!(page.contains("Accepté par l’administration fiscale"));
    let headline = StatusCode(212);
    assert!(page.contains(&format!(
        "{} · {}",
        headline.0,
        headline.label(Language::Fr)
    )));
    assert_eq!(cash_collected(&setup, &sent).await, 3);

    // In English too, on the track's own page.
    let switched = member
        .submit(&sent.page(), "/account/language", &[("language", "en")])
        .await;
    assert!(switched.status().is_redirection());
    let english = member.get(&sent.payments()).await;
    assert_eq!(english.status(), 200);
    let english = english.text().await.unwrap();
    assert_eq!(track_rows(&english), vec!["accepted"; 3]);
    assert!(english.contains("Accepted by the tax authority"));
    assert!(english.contains("€413.28"));

    // Every payment recorded and every report is in the audit log.
    assert_eq!(audit_count(&setup, "payment.recorded").await, 3);
    assert_eq!(audit_count(&setup, "payment.reported").await, 3);
    setup.stop().await;
}

#[tokio::test]
async fn two_payments_posted_at_once_cannot_together_pay_more_than_the_total() {
    let setup = Setup::start().await;
    let scope = setup.connect("acme", ACME).await;
    let member = Visitor::signed_in(&setup.app, "member@acme.fr", PASSWORD).await;
    let sent = send_invoice(&setup, &member, 1).await;
    let token = csrf_of(&member.get(&sent.page()).await.text().await.unwrap());
    let date = today();
    let post = || {
        member
            .client
            .post(format!("{}{}", setup.app.address, sent.payments()))
            .form(&[
                ("amount", "300"),
                ("paid_on", date.as_str()),
                ("method", "transfer"),
                ("reference", ""),
                ("csrf_token", token.as_str()),
            ])
            .send()
    };
    let (one, two) = tokio::join!(post(), post());
    let mut statuses = vec![
        one.unwrap().status().as_u16(),
        two.unwrap().status().as_u16(),
    ];
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        vec![303, 422],
        "one is recorded, the other refused"
    );
    let payments = payments_of(&setup, &scope, &sent).await;
    assert_eq!(payments.len(), 1);
    wait_for_states(&setup, &scope, &sent, "the payment reported", |p| {
        all_in(p, PaymentState::Reported)
    })
    .await;
    setup.settle().await;
    assert_eq!(cash_collected(&setup, &sent).await, 1);
    setup.stop().await;
}

#[tokio::test]
async fn bad_amounts_and_dates_are_field_errors_and_nothing_is_stored_or_sent() {
    let setup = Setup::start().await;
    let scope = setup.connect("acme", ACME).await;
    let member = Visitor::signed_in(&setup.app, "member@acme.fr", PASSWORD).await;
    let sent = send_invoice(&setup, &member, 1).await;
    let tomorrow = (today_date() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    // The invoice is issued today (`good_invoice`): yesterday is before its issue date.
    let yesterday = (today_date() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let cases: [(&str, &str, &str, &str, &str); 7] = [
        (
            "",
            &today(),
            "transfer",
            "payment-amount-error",
            "Indiquez le montant reçu.",
        ),
        (
            "abc",
            &today(),
            "transfer",
            "payment-amount-error",
            "n’est pas valable",
        ),
        (
            "0",
            &today(),
            "transfer",
            "payment-amount-error",
            "supérieur à zéro",
        ),
        (
            "12,345",
            &today(),
            "transfer",
            "payment-amount-error",
            "n’est pas valable",
        ),
        (
            "10",
            &tomorrow,
            "transfer",
            "payment-date-error",
            "dans le futur",
        ),
        (
            "10",
            &yesterday,
            "transfer",
            "payment-date-error",
            "date d’émission",
        ),
        (
            "10",
            &today(),
            "bitcoin",
            "payment-method-error",
            "moyen de paiement",
        ),
    ];
    for (amount, date, method, field, message) in cases {
        let response = record(&member, &sent, amount, date, method, "").await;
        assert_eq!(response.status(), 422, "{amount} {date} {method}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains(&format!("id=\"{field}\"")),
            "{field} for {amount} {date} {method}"
        );
        assert!(html.contains(message), "{message}");
        // The form comes back with what was typed.
        assert!(html.contains(&format!("value=\"{amount}\"")));
    }
    let long = "x".repeat(141);
    let response = record(&member, &sent, "10", &today(), "transfer", &long).await;
    assert_eq!(response.status(), 422);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("payment-reference-error")
    );
    assert!(payments_of(&setup, &scope, &sent).await.is_empty());
    setup.settle().await;
    assert_eq!(cash_collected(&setup, &sent).await, 0);
    setup.stop().await;
}

#[tokio::test]
async fn viewers_cannot_record_drafts_cannot_be_paid_and_other_tenants_see_nothing() {
    let setup = Setup::start().await;
    let scope = setup.connect("acme", ACME).await;
    let member = Visitor::signed_in(&setup.app, "member@acme.fr", PASSWORD).await;
    let sent = send_invoice(&setup, &member, 1).await;
    let recorded = record(&member, &sent, "10", &today(), "transfer", "").await;
    assert_eq!(recorded.status(), 303);
    let payment = payments_of(&setup, &scope, &sent).await[0].id;
    let retry = format!("{}/{payment}/retry", sent.payments());
    let full = format!("{}/full", sent.payments());

    // A viewer sees the track but no form, and cannot post.
    let viewer = Visitor::signed_in(&setup.app, "viewer@acme.fr", PASSWORD).await;
    let page = viewer.get(&sent.page()).await.text().await.unwrap();
    assert!(page.contains("id=\"payments\""));
    assert!(!page.contains(&format!("action=\"{full}\"")));
    assert_eq!(viewer.get(&sent.payments()).await.status(), 200);
    let form = [
        ("amount", "10"),
        ("paid_on", &today() as &str),
        ("method", "transfer"),
        ("reference", ""),
    ];
    for action in [sent.payments(), full.clone(), retry.clone()] {
        let response = viewer.submit(&sent.page(), &action, &form).await;
        assert_eq!(response.status(), 403, "viewer posting to {action}");
    }

    // A draft is not paid.
    let draft = post(
        &member,
        "/t/acme/invoices",
        &good_invoice(&format!("F{}-00002", year())),
        "save",
    )
    .await;
    assert_eq!(draft.status(), 303);
    let draft = Sent {
        invoice: InvoiceId::from_uuid(id_in(&location(&draft))),
        order: 0,
    };
    let draft_page = member.get(&draft.page()).await.text().await.unwrap();
    assert!(
        !draft_page.contains("id=\"payments\""),
        "no payment track on a draft"
    );
    let refused = record(&member, &draft, "10", &today(), "transfer", "").await;
    assert_eq!(refused.status(), 409);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("le document n’a pas encore été envoyé")
    );
    let refused = member
        .submit(&draft.page(), &format!("{}/full", draft.payments()), &[])
        .await;
    assert_eq!(refused.status(), 409);
    assert!(payments_of(&setup, &scope, &draft).await.is_empty());

    // Globex's admin gets 404 on every payment URL of acme's invoice, under either tenant's address.
    let globex = Visitor::signed_in(&setup.app, "admin@globex.fr", PASSWORD).await;
    for tenant in ["acme", "globex"] {
        let base = format!("/t/{tenant}/invoices/{}/payments", sent.invoice);
        assert_eq!(globex.get(&base).await.status(), 404, "GET {base}");
        for action in [
            base.clone(),
            format!("{base}/full"),
            format!("{base}/{payment}/retry"),
        ] {
            let response = globex.submit("/t/globex/", &action, &form).await;
            assert_eq!(response.status(), 404, "POST {action}");
        }
    }
    // The repository itself, with globex's scope, neither finds nor changes acme's payments.
    let globex_scope = setup.scope("admin@globex.fr", "globex").await;
    let payments = repository(&setup);
    assert!(
        payments
            .get(&globex_scope, payment)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        payments
            .list(&globex_scope, sent.invoice)
            .await
            .unwrap()
            .is_empty()
    );
    let foreign = payments
        .record(
            &globex_scope,
            sent.invoice,
            &portal_app::payments::remaining_today(),
            Default::default(),
            0,
            |id| portal_app::payments::report_job(&globex_scope, sent.invoice, id, 0),
        )
        .await;
    assert!(matches!(
        foreign,
        Err(portal_persistence::payments::PaymentError::NotFound)
    ));
    assert_eq!(
        payments
            .accept_reported(&globex_scope, sent.invoice, 5)
            .await
            .unwrap(),
        0
    );
    // Unknown ids are 404 for acme's member too.
    let unknown = format!("{}/{}/retry", sent.payments(), uuid::Uuid::now_v7());
    assert_eq!(
        member.submit(&sent.page(), &unknown, &[]).await.status(),
        404
    );
    // A payment that did not fail has nothing to retry.
    wait_for_states(&setup, &scope, &sent, "the payment reported", |p| {
        all_in(p, PaymentState::Reported)
    })
    .await;
    assert_eq!(member.submit(&sent.page(), &retry, &[]).await.status(), 409);
    assert_eq!(payments_of(&setup, &scope, &sent).await.len(), 1);
    setup.settle().await;
    assert_eq!(cash_collected(&setup, &sent).await, 1);
    setup.stop().await;
}

#[tokio::test]
async fn billit_failures_show_retrying_or_failed_and_retry_reports_each_payment_once() {
    let setup = Setup::start().await;
    let scope = setup.connect("acme", ACME).await;
    let member = Visitor::signed_in(&setup.app, "member@acme.fr", PASSWORD).await;
    let admin = Visitor::signed_in(&setup.app, "admin@acme.fr", PASSWORD).await;
    let sent = send_invoice(&setup, &member, 1).await;

    // Billit failing: the payment waits and says it will be tried again; once Billit is back, it is reported.
    setup
        .sandbox
        .set_faults(Faults {
            error_rate: 1.0,
            ..Faults::default()
        })
        .unwrap();
    let response = record(&member, &sent, "100", &today(), "transfer", "VIR-1").await;
    assert_eq!(response.status(), 303);
    wait_for_states(&setup, &scope, &sent, "the report being retried", |p| {
        p.len() == 1
            && p[0].state == PaymentState::Queued
            && p[0].error_code.as_deref() == Some("unreachable")
    })
    .await;
    let page = member.get(&sent.page()).await.text().await.unwrap();
    assert_eq!(track_rows(&page), vec!["retrying"]);
    assert!(page.contains("la transmission sera retentée automatiquement"));
    setup.sandbox.set_faults(Faults::default()).unwrap();
    wait_for_states(&setup, &scope, &sent, "the payment reported", |p| {
        all_in(p, PaymentState::Reported)
    })
    .await;

    // Billit refusing the account's credentials: the payment fails with a sentence and a Retry button.
    let settings = "/t/acme/settings/billit";
    let party = ACME.0.to_string();
    let billit_settings = |key: &'static str| {
        [
            ("environment", "embedded"),
            ("api_key", key),
            ("party_id", party.as_str()),
            ("context_party_id", ""),
        ]
    };
    // A wrong key is no longer saved (Billit is asked first); the stored key stops working when Billit revokes it.
    let refused = admin
        .submit(settings, settings, &billit_settings("a-wrong-key"))
        .await;
    assert_eq!(refused.status(), 422);
    setup
        .sandbox
        .add_party(party_account((ACME.0, "revoked-at-billit")))
        .unwrap();
    let response = record(&member, &sent, "50", &today(), "cheque", "CHQ 7").await;
    assert_eq!(response.status(), 303);
    wait_for_states(&setup, &scope, &sent, "the second payment failed", |p| {
        p.len() == 2 && p[1].state == PaymentState::Failed
    })
    .await;
    let failed = payments_of(&setup, &scope, &sent).await[1].clone();
    assert_eq!(failed.error_code.as_deref(), Some("unauthorized"));
    let retry = format!("{}/{}/retry", sent.payments(), failed.id);
    let page = member.get(&sent.page()).await.text().await.unwrap();
    assert_eq!(track_rows(&page), vec!["reported", "failed"]);
    assert!(page.contains("Billit a refusé les identifiants du compte"));
    assert!(page.contains(&format!("action=\"{retry}\"")));

    // Billit issues the key again and the admin saves it; Retry reports it.
    setup.sandbox.add_party(party_account(ACME)).unwrap();
    let saved = admin
        .submit(settings, settings, &billit_settings(ACME.1))
        .await;
    assert_eq!(saved.status(), 303);
    let retried = member.submit(&sent.page(), &retry, &[]).await;
    assert_eq!(retried.status(), 303);
    wait_for_states(&setup, &scope, &sent, "both payments reported", |p| {
        all_in(p, PaymentState::Reported)
    })
    .await;
    assert_eq!(payments_of(&setup, &scope, &sent).await[1].retries, 1);

    // A report that reached Billit but was not recorded (a crash in between) is sent again with the same key:
    // Billit answers with a replay and still has one payment per row.
    let first = payments_of(&setup, &scope, &sent).await[0].clone();
    payment_rows::ActiveModel {
        id: Set(first.id),
        state: Set("queued".to_owned()),
        ..Default::default()
    }
    .update(&setup.app.test_db.db)
    .await
    .unwrap();
    setup
        .app
        .state
        .jobs
        .enqueue(portal_app::payments::report_job(
            &scope,
            sent.invoice,
            first.id,
            99,
        ))
        .await
        .unwrap();
    wait_for_states(&setup, &scope, &sent, "the replay reported", |p| {
        all_in(p, PaymentState::Reported)
    })
    .await;
    setup.settle().await;
    assert_eq!(cash_collected(&setup, &sent).await, 2);
    let order = setup.client(ACME).get_order(sent.order).await.unwrap();
    assert_eq!(
        order.to_pay,
        Some(Decimal::new(TOTAL_CENTS - 15_000, 2)),
        "Billit counted 100 + 50"
    );
    setup.stop().await;
}

#[tokio::test]
async fn a_failed_payment_cancelled_no_longer_counts_and_only_failed_payments_can_be_cancelled() {
    let setup = Setup::start().await;
    let scope = setup.connect("acme", ACME).await;
    let member = Visitor::signed_in(&setup.app, "member@acme.fr", PASSWORD).await;
    let admin = Visitor::signed_in(&setup.app, "admin@acme.fr", PASSWORD).await;
    let sent = send_invoice(&setup, &member, 1).await;

    // Billit refuses the account's credentials: the whole amount is recorded, and its report fails.
    let settings = "/t/acme/settings/billit";
    let party = ACME.0.to_string();
    let billit_settings = |key: &'static str| {
        [
            ("environment", "embedded"),
            ("api_key", key),
            ("party_id", party.as_str()),
            ("context_party_id", ""),
        ]
    };
    let refused = admin
        .submit(settings, settings, &billit_settings("a-wrong-key"))
        .await;
    assert_eq!(refused.status(), 422);
    setup
        .sandbox
        .add_party(party_account((ACME.0, "revoked-at-billit")))
        .unwrap();
    let response = record(&member, &sent, "413,28", &today(), "transfer", "VIR-1").await;
    assert_eq!(response.status(), 303);
    wait_for_states(&setup, &scope, &sent, "the payment failed", |p| {
        all_in(p, PaymentState::Failed)
    })
    .await;
    let failed = payments_of(&setup, &scope, &sent).await[0].clone();
    let cancel = format!("{}/{}/cancel", sent.payments(), failed.id);
    let retry = format!("{}/{}/retry", sent.payments(), failed.id);
    let page = member.get(&sent.page()).await.text().await.unwrap();
    assert!(page.contains(&format!("action=\"{cancel}\"")));
    assert!(page.contains("Annuler ce paiement"));
    // While it counts, nothing remains to be paid.
    let refused = record(&member, &sent, "10", &today(), "transfer", "").await;
    assert_eq!(refused.status(), 409);

    // A viewer cannot cancel it; globex does not find it under either tenant's address.
    let viewer = Visitor::signed_in(&setup.app, "viewer@acme.fr", PASSWORD).await;
    let viewer_page = viewer.get(&sent.page()).await.text().await.unwrap();
    assert!(!viewer_page.contains(&format!("action=\"{cancel}\"")));
    assert_eq!(
        viewer.submit(&sent.page(), &cancel, &[]).await.status(),
        403
    );
    let globex = Visitor::signed_in(&setup.app, "admin@globex.fr", PASSWORD).await;
    for tenant in ["acme", "globex"] {
        let action = format!(
            "/t/{tenant}/invoices/{}/payments/{}/cancel",
            sent.invoice, failed.id
        );
        let response = globex.submit("/t/globex/", &action, &[]).await;
        assert_eq!(response.status(), 404, "POST {action}");
    }
    let unknown = format!("{}/{}/cancel", sent.payments(), uuid::Uuid::now_v7());
    assert_eq!(
        member.submit(&sent.page(), &unknown, &[]).await.status(),
        404
    );
    assert_eq!(
        payments_of(&setup, &scope, &sent).await[0].state,
        PaymentState::Failed
    );

    // The member cancels it: kept, struck out, with who and when, audited; it cannot be retried or cancelled again.
    let cancelled = member.submit(&sent.page(), &cancel, &[]).await;
    assert_eq!(cancelled.status(), 303);
    assert_eq!(location(&cancelled), format!("{}#payments", sent.page()));
    let stored = payments_of(&setup, &scope, &sent).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].state, PaymentState::Cancelled);
    assert!(stored[0].cancelled_by.is_some() && stored[0].cancelled_at.is_some());
    assert_eq!(audit_count(&setup, "payment.cancelled").await, 1);
    let page = member.get(&sent.page()).await.text().await.unwrap();
    assert_eq!(track_rows(&page), vec!["cancelled"]);
    assert!(page.contains("payments__cancelled"));
    assert!(page.contains("Annulé par "), "who cancelled it");
    assert!(!page.contains(&format!("action=\"{cancel}\"")));
    assert!(!page.contains(&format!("action=\"{retry}\"")));
    assert_eq!(member.submit(&sent.page(), &retry, &[]).await.status(), 409);
    let again = member.submit(&sent.page(), &cancel, &[]).await;
    assert_eq!(again.status(), 409);
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("Seul un paiement en échec")
    );
    assert_eq!(audit_count(&setup, "payment.cancelled").await, 1);

    // Its amount is free again: a new payment of the whole total is accepted and reported (Billit issued the key
    // again and the admin saved it).
    setup.sandbox.add_party(party_account(ACME)).unwrap();
    let saved = admin
        .submit(settings, settings, &billit_settings(ACME.1))
        .await;
    assert_eq!(saved.status(), 303);
    let response = record(&member, &sent, "413,28", &today(), "transfer", "VIR-2").await;
    assert_eq!(response.status(), 303);
    wait_for_states(&setup, &scope, &sent, "the new payment reported", |p| {
        p.len() == 2
            && p[0].state == PaymentState::Cancelled
            && p[1].state == PaymentState::Reported
    })
    .await;
    let page = member.get(&sent.page()).await.text().await.unwrap();
    assert!(page.contains("La facture est entièrement payée."));

    // A reported payment cannot be cancelled.
    let reported = payments_of(&setup, &scope, &sent).await[1].id;
    let refused = member
        .submit(
            &sent.page(),
            &format!("{}/{reported}/cancel", sent.payments()),
            &[],
        )
        .await;
    assert_eq!(refused.status(), 409);
    assert_eq!(
        payments_of(&setup, &scope, &sent).await[1].state,
        PaymentState::Reported
    );
    setup.settle().await;
    assert_eq!(cash_collected(&setup, &sent).await, 1);
    setup.stop().await;
}
