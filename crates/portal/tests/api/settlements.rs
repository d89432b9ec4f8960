//! Settling a dispute over real HTTP: a member writes and sends a `_DISPUTE` invoice through the editor, the
//! embedded Billit sandbox disputes it (207), the invoice page shows what the customer asked, and the member
//! settles it with a partial credit note (which reaches the sandbox linked to the invoice) and a corrected invoice,
//! both linked to the original and shown on each other's pages. Another tenant's invoice can never be referenced.

use crate::editor::{BUYER_SIREN, good_invoice, id_in, location, post, wait_for, with, year};
use crate::helpers::{PASSWORD, Visitor, csrf_of};
use crate::statuses::{ACME, Setup, wait_until};
use portal_billit::client::BillitClient;
use portal_domain::Language;
use portal_domain::ids::InvoiceId;
use portal_domain::invoice::{BuyerDraft, InvoiceDraft};
use portal_domain::status::{StatusCode, reason_label, requested_action_label};
use portal_persistence::entities::{audit_log, invoices};
use portal_persistence::invoices::{DetailCharacteristic, DetailNote, InvoiceContent, TotalsCents};
use portal_persistence::settlements::{CreditNoteQueue, InvoiceRelation};
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

const COMMENT: &str = "Le taux de TVA de la ligne 1 devrait être 10 %";

/// The original invoice's form with its lines replaced by `lines` (description, quantity, unit price, VAT rate),
/// as a credit note of `original` (or, with `document_type` "invoice", a corrected invoice).
fn linked_form(
    document_type: &str,
    number: &str,
    original: Uuid,
    corrects: &str,
    lines: &[(&str, &str, &str, &str)],
) -> Vec<(&'static str, String)> {
    let mut form: Vec<(&'static str, String)> = with(
        with(good_invoice(number), "document_type", document_type),
        "buyer_electronic_address",
        &format!("0225:{BUYER_SIREN}_DISPUTE"),
    )
    .into_iter()
    .filter(|(name, _)| !name.starts_with("line_"))
    .collect();
    form.push(("corrects", corrects.to_owned()));
    form.push(("related_invoice_id", original.to_string()));
    for (description, quantity, price, rate) in lines {
        form.extend([
            ("line_description", (*description).to_owned()),
            ("line_quantity", (*quantity).to_owned()),
            ("line_unit", "C62".to_owned()),
            ("line_unit_price", (*price).to_owned()),
            ("line_vat_rate", (*rate).to_owned()),
            ("line_exemption", String::new()),
        ]);
    }
    form
}

async fn page(visitor: &Visitor<'_>, path: &str) -> String {
    let response = visitor.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

async fn invoice_count(setup: &Setup) -> u64 {
    invoices::Entity::find()
        .count(&setup.app.test_db.db)
        .await
        .unwrap()
}

async fn audited(setup: &Setup, action: &str, target: Uuid) -> bool {
    audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq(action))
        .filter(audit_log::Column::Target.eq(format!("invoice:{target}")))
        .count(&setup.app.test_db.db)
        .await
        .unwrap()
        == 1
}

#[tokio::test]
async fn a_disputed_invoice_is_settled_by_a_partial_credit_note_and_a_corrected_invoice() {
    let setup = Setup::start().await;
    let acme = setup.connect("acme", ACME).await;
    let member = Visitor::signed_in(&setup.app, "member@acme.fr", PASSWORD).await;

    // The member writes and sends an invoice to a customer who will dispute it (3 × 100 at 20 %, 1 × 50,50 at
    // 5,5 %: 413,28 € incl. VAT).
    let number = format!("F{}-00001", year());
    let form = with(
        good_invoice(&number),
        "buyer_electronic_address",
        &format!("0225:{BUYER_SIREN}_DISPUTE"),
    );
    let sent = post(&member, "/t/acme/invoices", &form, "send").await;
    assert_eq!(sent.status(), 303);
    let original = id_in(&location(&sent));
    let row = wait_for(&setup.app, original, "sent to Billit", |row| {
        row.submission_state == "sent"
    })
    .await;
    assert_eq!(row.total_incl_cents, 41_328);
    let original_order = row.billit_order_id.expect("an order");
    let invoice = InvoiceId::from_uuid(original);
    wait_until("the customer disputes it (207)", async || {
        setup.sandbox.advance();
        setup.summary(&acme, invoice).await.headline == Some(StatusCode(207))
    })
    .await;
    setup.settle().await;

    // A status file that names the disputed business term and the rule (the sandbox's file has neither).
    let state = &setup.app.state;
    let dispute = state
        .invoices
        .events(&acme, invoice)
        .await
        .unwrap()
        .into_iter()
        .find(|stored| stored.event.effective_code() == Some(StatusCode(207)))
        .expect("the 207 is stored");
    let mut details = dispute.details.clone().unwrap_or_default();
    details.characteristics.push(DetailCharacteristic {
        term: Some("BT-152".into()),
        name: Some("Taux de TVA de la ligne".into()),
        value: Some("20 %".into()),
    });
    details.notes.push(DetailNote {
        rule: Some("BR-FR-CDV-15".into()),
        message: "Le taux appliqué ne correspond pas à la prestation".into(),
        terms: Some("BT-152".into()),
        reason: Some("TX_TVA_ERR".into()),
    });
    assert!(
        state
            .invoices
            .enrich_event(
                &acme,
                invoice,
                &dispute.event.dedup_key,
                &dispute.event,
                &details
            )
            .await
            .unwrap()
    );

    // The request panel: the reason and the requested action with their labels, the comment, the disputed term
    // and its value, the rule, and since when; then the two ways to settle, the one asked for first.
    let original_page = format!("/t/acme/invoices/{original}");
    let html = page(&member, &original_page).await;
    for expected in [
        "TX_TVA_ERR".to_owned(),
        reason_label("TX_TVA_ERR", Language::Fr),
        "NIN".to_owned(),
        requested_action_label("NIN", Language::Fr),
        COMMENT.to_owned(),
        "<code>BT-152</code> Taux de TVA de la ligne — <strong>20 %</strong>".to_owned(),
        "<code>BR-FR-CDV-15</code> Le taux appliqué ne correspond pas à la prestation".to_owned(),
        "(aujourd’hui)".to_owned(),
        "Votre client conteste cette facture".to_owned(),
    ] {
        assert!(html.contains(&expected), "the page shows {expected}");
    }
    let credit_note_url = format!("/t/acme/invoices/new?from={original}&as=credit_note");
    let corrected_url = format!("/t/acme/invoices/new?from={original}&as=corrected");
    let corrected_button = html
        .find(&corrected_url.replace('&', "&#38;"))
        .expect("a corrected invoice button");
    let credit_note_button = html
        .find(&credit_note_url.replace('&', "&#38;"))
        .expect("a credit note button");
    assert!(
        corrected_button < credit_note_button,
        "the customer asked for a corrected invoice (NIN): it comes first"
    );
    // The dashboard lists the open request with its age.
    let dashboard = page(&member, "/t/acme/").await;
    let queue = dashboard.split("class=\"queue\"").nth(1).unwrap();
    assert!(queue.contains(&number) && queue.contains("aujourd’hui"));

    // The credit note editor, pre-filled from the invoice.
    let editor = page(&member, &credit_note_url).await;
    let credit_number = format!("AV{}-00001", year());
    for expected in [
        "value=\"credit_note\" data-document-type checked".to_owned(),
        format!("name=\"corrects\" type=\"text\" value=\"{number}\""),
        format!("name=\"number\" type=\"text\" value=\"{credit_number}\""),
        format!("name=\"related_invoice_id\" value=\"{original}\""),
        format!("value=\"0225:{BUYER_SIREN}_DISPUTE\""),
        "name=\"line_description\" value=\"Conseil\"".to_owned(),
        "name=\"line_description\" value=\"Livre\"".to_owned(),
        format!("Avoir lié à la facture <a href=\"{original_page}\">{number}</a>"),
        "L’avoir peut reprendre au plus 413,28\u{a0}€".to_owned(),
    ] {
        assert!(editor.contains(&expected), "the editor shows {expected}");
    }

    // Without JavaScript, adding a line shows the editor again: the link stays with the form.
    let before = invoice_count(&setup).await;
    let one_line = linked_form(
        "credit_note",
        &credit_number,
        original,
        &number,
        &[("Conseil", "1", "100", "20")],
    );
    let again = post(&member, "/t/acme/invoices", &one_line, "add_line").await;
    assert_eq!(again.status(), 200);
    let text = again.text().await.unwrap();
    assert!(text.contains(&format!("name=\"related_invoice_id\" value=\"{original}\"")));
    assert_eq!(invoice_count(&setup).await, before);

    // More than the invoice's total is refused, and nothing is saved.
    let too_much = linked_form(
        "credit_note",
        &credit_number,
        original,
        &number,
        &[
            ("Conseil", "4", "100", "20"),
            ("Livre", "1", "50,50", "5.5"),
        ],
    );
    let refused = post(&member, "/t/acme/invoices", &too_much, "send").await;
    assert_eq!(refused.status(), 422);
    let text = refused.text().await.unwrap();
    assert!(
        text.contains("Le total de cet avoir (533,28\u{a0}€) dépasse ce qui reste à créditer"),
        "a clear message"
    );
    assert_eq!(invoice_count(&setup).await, before);

    // A partial credit note: the book line removed, one hour of consulting instead of three (120,00 €).
    let partial = linked_form(
        "credit_note",
        &credit_number,
        original,
        &number,
        &[("Conseil", "1", "100", "20")],
    );
    let sent = post(&member, "/t/acme/invoices", &partial, "send").await;
    assert_eq!(sent.status(), 303, "{}", sent.text().await.unwrap());
    let credit_note = id_in(&location(&sent));
    let credit_row = wait_for(&setup.app, credit_note, "the credit note sent", |row| {
        row.submission_state == "sent"
    })
    .await;
    assert_eq!(credit_row.related_invoice_id, Some(original));
    assert_eq!(credit_row.relation.as_deref(), Some("credit_note_for"));
    assert_eq!(credit_row.corrects.as_deref(), Some(number.as_str()));
    assert!(audited(&setup, "invoice.credit_note_created", credit_note).await);

    // The sandbox has a second order: a credit note about the invoice, for the partial amount.
    let client = setup.client(ACME);
    let order = client
        .get_order(credit_row.billit_order_id.expect("an order"))
        .await
        .unwrap();
    assert_ne!(order.order_id, Some(original_order));
    assert_eq!(order.order_type.as_deref(), Some("CreditNote"));
    assert_eq!(order.about_invoice_number.as_deref(), Some(number.as_str()));
    assert_eq!(order.total_incl, Some(Decimal::new(120, 0)));
    let orders = client
        .list_orders_modified_since(chrono::Utc::now() - chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(orders.len(), 2);

    // The original shows how it was settled, and what is left; the credit note links back.
    let html = page(&member, &original_page).await;
    let credit_page = format!("/t/acme/invoices/{credit_note}");
    assert!(
        html.contains(&format!(
            "Avoir <a href=\"{credit_page}\">{credit_number}</a> (partiel, 120,00\u{a0}€) émis le"
        )),
        "the original names its credit note"
    );
    assert!(html.contains("Reste à créditer sur cette facture : 293,28\u{a0}€."));
    let html = page(&member, &credit_page).await;
    assert!(html.contains(&format!(
        "Avoir de la facture <a href=\"{original_page}\">{number}</a>"
    )));
    assert!(
        !html.contains("new?from="),
        "a credit note is not credited again"
    );

    // What is left is the new limit: the whole invoice again is too much.
    let again = linked_form(
        "credit_note",
        &format!("AV{}-00002", year()),
        original,
        &number,
        &[
            ("Conseil", "3", "100", "20"),
            ("Livre", "1", "50,50", "5.5"),
        ],
    );
    let refused = post(&member, "/t/acme/invoices", &again, "save").await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("293,28"));

    // A corrected invoice: a copy under a new number, with a note naming the original.
    let editor = page(&member, &corrected_url).await;
    let corrected_number = format!("F{}-00002", year());
    for expected in [
        "value=\"invoice\" data-document-type checked".to_owned(),
        format!("name=\"number\" type=\"text\" value=\"{corrected_number}\""),
        format!("name=\"related_invoice_id\" value=\"{original}\""),
        format!("annule et remplace la facture {number} du"),
        "name=\"line_description\" value=\"Livre\"".to_owned(),
    ] {
        assert!(editor.contains(&expected), "the editor shows {expected}");
    }
    let mut corrected_form = linked_form(
        "invoice",
        &corrected_number,
        original,
        "",
        &[
            ("Conseil", "3", "100", "10"),
            ("Livre", "1", "50,50", "5.5"),
        ],
    );
    corrected_form = with(
        corrected_form,
        "notes",
        &format!("Facture rectificative : annule et remplace la facture {number}."),
    );
    let saved = post(&member, "/t/acme/invoices", &corrected_form, "save").await;
    assert_eq!(saved.status(), 303, "{}", saved.text().await.unwrap());
    let corrected = id_in(&location(&saved));
    let record = state
        .invoices
        .get(&acme, InvoiceId::from_uuid(corrected))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record.related,
        Some((invoice, InvoiceRelation::Corrects)),
        "linked to the original"
    );
    assert_eq!(record.number(), corrected_number);
    assert!(audited(&setup, "invoice.corrected_created", corrected).await);
    let corrected_page = format!("/t/acme/invoices/{corrected}");
    let html = page(&member, &corrected_page).await;
    assert!(html.contains(&format!(
        "Facture rectificative de la facture <a href=\"{original_page}\">{number}</a>"
    )));
    let html = page(&member, &original_page).await;
    assert!(html.contains(&format!(
        "Remplacée par la facture <a href=\"{corrected_page}\">{corrected_number}</a>"
    )));
    // Its editor keeps the link (saved drafts carry it in the database, not in a hidden field).
    let editor = page(&member, &format!("{corrected_page}/edit")).await;
    assert!(editor.contains("Facture rectificative de la facture"));
    assert!(!editor.contains("name=\"related_invoice_id\""));

    // Only a sent invoice is settled: not a draft, not a credit note.
    for from in [corrected, credit_note] {
        let response = member
            .get(&format!("/t/acme/invoices/new?from={from}&as=credit_note"))
            .await;
        assert_eq!(response.status(), 409);
    }
    let unknown_kind = member
        .get(&format!("/t/acme/invoices/new?from={original}&as=refund"))
        .await;
    assert_eq!(unknown_kind.status(), 404);

    // A viewer sees the settlement but may not start one.
    let viewer = Visitor::signed_in(&setup.app, "viewer@acme.fr", PASSWORD).await;
    let html = page(&viewer, &original_page).await;
    assert!(html.contains(&credit_number) && !html.contains("new?from="));
    for url in [&credit_note_url, &corrected_url] {
        assert_eq!(viewer.get(url).await.status(), 403);
    }

    // Another tenant's invoice can never be referenced.
    let globex = setup.scope("admin@globex.fr", "globex").await;
    let foreign = state
        .invoices
        .create_draft(
            &globex,
            &InvoiceContent {
                customer_id: None,
                draft: InvoiceDraft {
                    number: "G-1".into(),
                    buyer: BuyerDraft {
                        legal_name: "Client".into(),
                        ..BuyerDraft::default()
                    },
                    ..InvoiceDraft::default()
                },
                totals: TotalsCents::default(),
            },
            None,
        )
        .await
        .unwrap();
    for settle_as in ["credit_note", "corrected"] {
        let response = member
            .get(&format!(
                "/t/acme/invoices/new?from={foreign}&as={settle_as}"
            ))
            .await;
        assert_eq!(response.status(), 404);
    }
    let before = invoice_count(&setup).await;
    let smuggled = linked_form(
        "credit_note",
        &format!("AV{}-00003", year()),
        foreign.as_uuid(),
        "G-1",
        &[("Conseil", "1", "10", "20")],
    );
    for button in ["save", "send"] {
        let response = post(&member, "/t/acme/invoices", &smuggled, button).await;
        assert_eq!(response.status(), 404);
    }
    assert_eq!(invoice_count(&setup).await, before, "nothing saved");

    // And a member of globex gets 404 on every new URL, in acme and in its own tenant with acme's invoice.
    let outsider = Visitor::signed_in(&setup.app, "admin@globex.fr", PASSWORD).await;
    for url in [
        credit_note_url.clone(),
        corrected_url.clone(),
        format!("/t/globex/invoices/new?from={original}&as=credit_note"),
        format!("/t/globex/invoices/new?from={original}&as=corrected"),
        original_page.clone(),
    ] {
        assert_eq!(outsider.get(&url).await.status(), 404, "{url}");
    }
    let fields: Vec<(&str, &str)> = partial.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = outsider
        .submit("/t/globex/", "/t/globex/invoices", &fields)
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(invoice_count(&setup).await, before, "nothing saved");

    setup.stop().await;
}

/// Sends a plain invoice (413,28 € incl. VAT) and waits until Billit has it; its id.
async fn send_original(setup: &Setup, member: &Visitor<'_>, number: &str) -> Uuid {
    let sent = post(member, "/t/acme/invoices", &good_invoice(number), "send").await;
    assert_eq!(sent.status(), 303);
    let original = id_in(&location(&sent));
    let row = wait_for(&setup.app, original, "sent to Billit", |row| {
        row.submission_state == "sent"
    })
    .await;
    assert_eq!(row.total_incl_cents, 41_328);
    original
}

/// How many credit notes of `original` are on their way to Billit or sent.
async fn issued_credit_notes(setup: &Setup, original: Uuid) -> usize {
    invoices::Entity::find()
        .filter(invoices::Column::RelatedInvoiceId.eq(original))
        .filter(invoices::Column::SubmissionState.is_in(["queued", "sending", "sent"]))
        .count(&setup.app.test_db.db)
        .await
        .unwrap() as usize
}

#[tokio::test]
async fn two_credit_notes_sent_at_once_cannot_together_take_back_more_than_the_invoice() {
    let setup = Setup::start().await;
    let acme = setup.connect("acme", ACME).await;
    let member = Visitor::signed_in(&setup.app, "member@acme.fr", PASSWORD).await;
    let number = format!("F{}-00001", year());
    let original = send_original(&setup, &member, &number).await;

    // Two drafts of 360,00 € each: either fits in 413,28 €, both do not.
    let mut drafts = Vec::new();
    for index in 1..=2 {
        let form = linked_form(
            "credit_note",
            &format!("AV{}-{index:05}", year()),
            original,
            &number,
            &[("Conseil", "3", "100", "20")],
        );
        let saved = post(&member, "/t/acme/invoices", &form, "save").await;
        assert_eq!(saved.status(), 303, "credit note {index} saved");
        drafts.push(id_in(&location(&saved)));
    }

    // Both sent at the same moment: one is queued, the other refused with the sentence.
    let token = csrf_of(&page(&member, &format!("/t/acme/invoices/{}/edit", drafts[0])).await);
    let submit = |id: Uuid| {
        member
            .client
            .post(format!("{}/t/acme/invoices/{id}/submit", setup.app.address))
            .form(&[("csrf_token", token.as_str())])
            .send()
    };
    let (one, two) = tokio::join!(submit(drafts[0]), submit(drafts[1]));
    let mut outcomes = Vec::new();
    for response in [one.unwrap(), two.unwrap()] {
        let status = response.status().as_u16();
        outcomes.push((status, response.text().await.unwrap()));
    }
    outcomes.sort_by_key(|(status, _)| *status);
    assert_eq!(outcomes[0].0, 303, "one is queued");
    assert_eq!(outcomes[1].0, 422, "the other is refused");
    assert!(
        outcomes[1]
            .1
            .contains("dépasse ce qui reste à créditer sur la facture"),
        "the refusal says why"
    );
    assert_eq!(issued_credit_notes(&setup, original).await, 1);

    // The repository itself, asked twice at once without the page's early check, queues only one of two
    // further credit notes (what remains is 53,28 €: each of these takes back 36,00 €).
    let state = &setup.app.state;
    let mut small = Vec::new();
    for index in 3..=4 {
        let form = linked_form(
            "credit_note",
            &format!("AV{}-{index:05}", year()),
            original,
            &number,
            &[("Conseil", "3", "10", "20")],
        );
        let saved = post(&member, "/t/acme/invoices", &form, "save").await;
        let status = saved.status();
        if status != 303 {
            panic!(
                "credit note {index} not saved: {status} {}",
                saved.text().await.unwrap()
            );
        }
        small.push(InvoiceId::from_uuid(id_in(&location(&saved))));
    }
    let invoice = InvoiceId::from_uuid(original);
    let scope = &acme;
    let queue = |id: InvoiceId| {
        state.invoices.queue_credit_note_submission(
            scope,
            id,
            invoice,
            0,
            move |attempts| {
                portal_persistence::jobs::NewJob::for_tenant(
                    scope,
                    "test.noop",
                    serde_json::json!({}),
                )
                .unique_key(format!("test:{id}:{attempts}"))
            },
            None,
        )
    };
    let (first, second) = tokio::join!(queue(small[0]), queue(small[1]));
    let outcomes = [first.unwrap(), second.unwrap()];
    let queued = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, CreditNoteQueue::Queued(_)))
        .count();
    let refused: Vec<i64> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            CreditNoteQueue::OverLimit { remaining_cents } => Some(*remaining_cents),
            _ => None,
        })
        .collect();
    assert_eq!(queued, 1);
    assert_eq!(refused, vec![41_328 - 36_000 - 3_600]);
    assert_eq!(issued_credit_notes(&setup, original).await, 2);
    setup.stop().await;
}

#[tokio::test]
async fn the_older_corrects_address_links_the_credit_note_and_limits_it() {
    let setup = Setup::start().await;
    let acme = setup.connect("acme", ACME).await;
    let member = Visitor::signed_in(&setup.app, "member@acme.fr", PASSWORD).await;
    let number = format!("F{}-00001", year());
    let original = send_original(&setup, &member, &number).await;

    // The editor opened with `corrects=<number>` is the linked one: banner, limit, hidden link.
    let editor = page(
        &member,
        &format!("/t/acme/invoices/new?type=credit_note&corrects={number}"),
    )
    .await;
    assert!(editor.contains("Avoir lié à la facture"));
    assert!(editor.contains(&format!("name=\"related_invoice_id\" value=\"{original}\"")));
    assert!(editor.contains("value=\"Conseil\""), "its lines are copied");

    // What it posts is limited to the invoice's total, and linked once saved.
    let too_much = linked_form(
        "credit_note",
        &format!("AV{}-00001", year()),
        original,
        &number,
        &[("Conseil", "5", "100", "20")],
    );
    let refused = post(&member, "/t/acme/invoices", &too_much, "send").await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("dépasse ce qui reste à créditer sur la facture")
    );
    let within = linked_form(
        "credit_note",
        &format!("AV{}-00001", year()),
        original,
        &number,
        &[("Conseil", "1", "100", "20")],
    );
    let saved = post(&member, "/t/acme/invoices", &within, "save").await;
    assert_eq!(saved.status(), 303);
    let record = setup
        .app
        .state
        .invoices
        .get(&acme, InvoiceId::from_uuid(id_in(&location(&saved))))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record.related,
        Some((
            InvoiceId::from_uuid(original),
            InvoiceRelation::CreditNoteFor
        ))
    );

    // A number that is not one of this tenant's sent invoices leaves the credit note unlinked, as before.
    let unknown = page(
        &member,
        "/t/acme/invoices/new?type=credit_note&corrects=NOT-A-NUMBER",
    )
    .await;
    assert!(!unknown.contains("name=\"related_invoice_id\""));
    assert!(unknown.contains("value=\"NOT-A-NUMBER\""));
    // Globex's member naming acme's number gets nothing of acme's.
    let outsider = Visitor::signed_in(&setup.app, "admin@globex.fr", PASSWORD).await;
    let foreign = page(
        &outsider,
        &format!("/t/globex/invoices/new?type=credit_note&corrects={number}"),
    )
    .await;
    assert!(!foreign.contains("name=\"related_invoice_id\""));
    assert!(!foreign.contains(&original.to_string()));
    setup.stop().await;
}
