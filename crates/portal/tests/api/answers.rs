//! Answering a customer's 208 by email, end to end: the member writes and sends an invoice through the editor,
//! the sandbox suspends it, the member answers from the composer (with the invoice's PDF from Billit and a file
//! of their own), a real SMTP server (aiosmtpd) receives the message, and the request closes when the customer's
//! platform says the information arrived (209) and then approves (205).

use crate::editor::{BUYER_SIREN, good_invoice, id_in, location, post, wait_for, with};
use crate::helpers::{PASSWORD, Visitor, csrf_of};
use crate::smtp::{SmtpServer, free_port, url_for};
use crate::statuses::{ACME, Setup, wait_until};
use mail_parser::{MessageParser, MimeHeaders};
use portal::secret::Secret;
use portal_domain::ids::InvoiceId;
use portal_domain::status::StatusCode;
use portal_persistence::TenantScope;
use portal_persistence::entities::{audit_log, invoice_emails, jobs, memberships, outbox, users};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

const MEMBER: &str = "member@acme.fr";
const CSV: &[u8] = b"date;montant\n2026-11-02;480,00\n";

/// The portal and the sandbox, with mail going to `smtp_url` and mail retries a second or two apart.
async fn setup_with_smtp(smtp_url: String) -> (Setup, TenantScope) {
    let setup = Setup::start_with(move |mut config| {
        config.mail.smtp_url = Some(Secret::new(smtp_url));
        config.jobs.retry_base_secs = 1;
        config.jobs.retry_cap_secs = 2;
        config
    })
    .await;
    let scope = setup.connect("acme", ACME).await;
    // The members' "action needed" alerts would reach the same SMTP server: these tests count only answers.
    memberships::Entity::update_many()
        .col_expr(memberships::Column::NotifyNeedsAction, Expr::value(false))
        .exec(&setup.app.test_db.db)
        .await
        .unwrap();
    (setup, scope)
}

/// An invoice written and sent through the editor to a `_SUSPEND` customer, once its 208 has arrived.
async fn suspended_invoice(
    setup: &Setup,
    scope: &TenantScope,
    member: &Visitor<'_>,
    number: &str,
) -> (Uuid, i64) {
    let form = with(
        with(
            good_invoice(number),
            "buyer_electronic_address",
            &format!("0225:{BUYER_SIREN}_SUSPEND"),
        ),
        "buyer_emails",
        "compta@globex.fr, achats@globex.fr",
    );
    let response = post(member, "/t/acme/invoices", &form, "send").await;
    assert_eq!(response.status(), 303, "{number} is accepted for sending");
    let id = id_in(&location(&response));
    let row = wait_for(&setup.app, id, "sent to Billit", |row| {
        row.submission_state == "sent"
    })
    .await;
    setup.sandbox.advance();
    wait_until("the 208 arrives", async || {
        setup
            .summary(scope, InvoiceId::from_uuid(id))
            .await
            .headline
            == Some(StatusCode(208))
    })
    .await;
    (id, row.billit_order_id.expect("an order id"))
}

/// One part of a multipart form: a text field, or a file (name, type).
pub(crate) enum Part<'a> {
    Text(&'a str, &'a str),
    File(&'a str, &'a str, &'a str, &'a [u8]),
}

/// Posts a multipart form as a browser does, with the CSRF token taken from `page` first.
pub(crate) async fn post_multipart(
    visitor: &Visitor<'_>,
    page: &str,
    action: &str,
    parts: &[Part<'_>],
) -> reqwest::Response {
    let html = visitor.get(page).await.text().await.unwrap();
    let token = csrf_of(&html);
    let boundary = format!("----portal-test-{}", Uuid::now_v7().simple());
    let mut body = Vec::new();
    let mut add = |headers: String, content: &[u8]| {
        body.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    add(
        "Content-Disposition: form-data; name=\"csrf_token\"".to_owned(),
        token.as_bytes(),
    );
    for part in parts {
        match part {
            Part::Text(name, value) => add(
                format!("Content-Disposition: form-data; name=\"{name}\""),
                value.as_bytes(),
            ),
            Part::File(name, file_name, content_type, content) => add(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                     Content-Type: {content_type}"
                ),
                content,
            ),
        }
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    visitor
        .client
        .post(format!("{}{action}", visitor.app.address))
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

/// The outbox rows of the answers (not the members' own notifications), oldest first.
async fn outbox_rows(setup: &Setup) -> Vec<outbox::Model> {
    let ids: Vec<Uuid> = invoice_emails::Entity::find()
        .all(&setup.app.test_db.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.outbox_id)
        .collect();
    outbox::Entity::find()
        .filter(outbox::Column::Id.is_in(ids))
        .order_by_asc(outbox::Column::CreatedAt)
        .all(&setup.app.test_db.db)
        .await
        .unwrap()
}

async fn answers_count(setup: &Setup) -> u64 {
    invoice_emails::Entity::find()
        .count(&setup.app.test_db.db)
        .await
        .unwrap()
}

/// The text between `value="` and `"` after `marker` in a page (an input's value).
fn value_after<'a>(html: &'a str, marker: &str) -> &'a str {
    let rest = &html[html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in page"))..];
    let rest = &rest[rest.find("value=\"").unwrap() + 7..];
    &rest[..rest.find('"').unwrap()]
}

#[tokio::test]
async fn a_suspended_invoice_is_answered_by_email_and_closes_on_209_then_205() {
    let smtp = SmtpServer::start().await;
    let (setup, scope) = setup_with_smtp(smtp.url()).await;
    let member = Visitor::signed_in(&setup.app, MEMBER, PASSWORD).await;
    let number = format!("F{}-00101", crate::editor::year());
    let (id, order) = suspended_invoice(&setup, &scope, &member, &number).await;
    let page = format!("/t/acme/invoices/{id}");
    let composer = format!("{page}/answer");

    // The invoice page offers the answer.
    let html = member.get(&page).await.text().await.unwrap();
    assert!(html.contains(&format!("href=\"{composer}\"")), "{html}");

    // The composer is pre-filled from the customer, the request and the French 208 template.
    let response = member.get(&composer).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert_eq!(
        value_after(&html, "id=\"to\""),
        "compta@globex.fr, achats@globex.fr"
    );
    assert_eq!(
        value_after(&html, "id=\"subject\""),
        format!("Facture {number} : les informations demandées")
    );
    assert!(html.contains("name=\"cc_me\" value=\"on\" checked"));
    assert!(html.contains("Justificatif"), "the reason's label");
    assert!(html.contains("Vous trouverez en pièce jointe le justificatif demandé."));
    assert!(html.contains("Globex SARL") || html.contains("ACME SAS"));

    let subject = format!("Facture {number} : le justificatif demandé");
    let body = "Bonjour,\n\nVoici le relevé demandé & la facture.\n\nCordialement,\nACME SAS";
    let parts = [
        Part::Text("to", "compta@globex.fr, achats@globex.fr"),
        Part::Text("cc_me", "on"),
        Part::Text("subject", &subject),
        Part::Text("body", body),
        Part::Text("attach_pdf", "on"),
        Part::File("files", "releve.csv", "text/csv", CSV),
    ];

    // A preview shows the email as it will be sent, keeps the uploaded file, and sends nothing.
    let mut preview_parts: Vec<Part<'_>> = vec![Part::Text("action", "preview")];
    preview_parts.extend(parts.iter().map(|part| match part {
        Part::Text(name, value) => Part::Text(name, value),
        Part::File(name, file, kind, content) => Part::File(name, file, kind, content),
    }));
    let preview = post_multipart(&member, &composer, &composer, &preview_parts).await;
    assert_eq!(preview.status(), 200);
    let html = preview.text().await.unwrap();
    assert!(
        html.contains("<p>Voici le relevé demandé &amp; la facture.</p>"),
        "{html}"
    );
    assert!(html.contains("\"ACME SAS\" &lt;no-reply@localhost&gt;") || html.contains("ACME SAS"));
    assert!(html.contains("releve.csv (text/csv"));
    assert!(
        html.contains("name=\"kept_file\""),
        "the file is kept for sending"
    );
    assert_eq!(answers_count(&setup).await, 0, "a preview sends nothing");

    // Send.
    let mut send_parts: Vec<Part<'_>> = vec![Part::Text("action", "send")];
    send_parts.extend(parts.iter().map(|part| match part {
        Part::Text(name, value) => Part::Text(name, value),
        Part::File(name, file, kind, content) => Part::File(name, file, kind, content),
    }));
    let sent = post_multipart(&member, &composer, &composer, &send_parts).await;
    assert_eq!(sent.status(), 303, "{}", sent.text().await.unwrap());
    assert_eq!(location(&sent), page);

    // Exactly one message reaches the SMTP server, as it should look.
    smtp.wait_for_messages(1).await;
    setup.settle().await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "exactly one message");
    let row = outbox_rows(&setup).await.pop().expect("the outbox row");
    assert_eq!(row.status, "sent");
    let raw = &messages[0];
    let message = MessageParser::default()
        .parse(raw)
        .expect("a parsable message");
    let from = message.from().and_then(|from| from.first()).unwrap();
    assert_eq!(from.name(), Some("ACME SAS"));
    assert_eq!(from.address(), Some("no-reply@localhost"));
    let to: Vec<&str> = message
        .to()
        .unwrap()
        .iter()
        .filter_map(|addr| addr.address())
        .collect();
    assert_eq!(to, ["compta@globex.fr", "achats@globex.fr"]);
    let cc: Vec<&str> = message
        .cc()
        .unwrap()
        .iter()
        .filter_map(|addr| addr.address())
        .collect();
    assert_eq!(cc, [MEMBER]);
    let envelope = message
        .header_raw("X-RcptTo")
        .expect("aiosmtpd records the envelope");
    for recipient in ["compta@globex.fr", "achats@globex.fr", MEMBER] {
        assert!(envelope.contains(recipient), "{recipient} in {envelope}");
    }
    assert_eq!(
        message
            .reply_to()
            .and_then(|reply| reply.first())
            .and_then(|addr| addr.address()),
        Some(MEMBER)
    );
    assert_eq!(message.subject(), Some(subject.as_str()));
    assert_eq!(
        format!("<{}>", message.message_id().unwrap()),
        format!("<{}@127.0.0.1>", row.id)
    );
    assert_eq!(row.message_id, Some(format!("<{}@127.0.0.1>", row.id)));
    let date = message.date().expect("a Date header").to_timestamp();
    assert!(
        (chrono::Utc::now().timestamp() - date).abs() < 600,
        "a current Date"
    );
    let text = message.body_text(0).unwrap();
    assert!(
        text.contains("Voici le relevé demandé & la facture."),
        "{text}"
    );
    let html = message.body_html(0).unwrap();
    assert!(
        html.contains("<p>Voici le relevé demandé &amp; la facture.</p>"),
        "{html}"
    );
    let attachments: Vec<_> = message.attachments().collect();
    assert_eq!(
        attachments.len(),
        2,
        "the invoice's PDF and the uploaded file"
    );
    let pdf = &attachments[0];
    let pdf_type = pdf.content_type().unwrap();
    assert_eq!(
        (pdf_type.ctype(), pdf_type.subtype()),
        ("application", Some("pdf"))
    );
    assert!(pdf.attachment_name().unwrap().ends_with(".pdf"));
    assert!(pdf.contents().starts_with(b"%PDF"), "the PDF from Billit");
    let csv = &attachments[1];
    let csv_type = csv.content_type().unwrap();
    assert_eq!(
        (csv_type.ctype(), csv_type.subtype()),
        ("text", Some("csv"))
    );
    assert_eq!(csv.attachment_name(), Some("releve.csv"));
    assert_eq!(csv.contents(), CSV);

    // The invoice page shows the email, sent, and the request answered.
    let html = member.get(&page).await.text().await.unwrap();
    assert!(html.contains("data-email-state=\"sent\""), "{html}");
    assert!(html.contains("Répondu le"), "{html}");
    assert!(html.contains("en attente du client"));
    assert!(html.contains("compta@globex.fr, achats@globex.fr"));
    assert!(html.contains("releve.csv (text/csv"));
    assert!(html.contains(&subject));
    // And the audit log has it.
    let audited = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("invoice.email_sent"))
        .filter(audit_log::Column::Target.eq(format!("invoice:{id}")))
        .count(&setup.app.test_db.db)
        .await
        .unwrap();
    assert_eq!(audited, 1);

    // The customer's platform says the information arrived: the request closes on 209…
    setup
        .sandbox
        .inject(order, 209, None, Some("Justificatif reçu"))
        .unwrap();
    let invoice = InvoiceId::from_uuid(id);
    wait_until("the 209 closes the request", async || {
        let summary = setup.summary(&scope, invoice).await;
        summary.headline == Some(StatusCode(209)) && summary.open_request.is_none()
    })
    .await;
    assert!(!setup.summary(&scope, invoice).await.needs_action);
    let html = member.get(&page).await.text().await.unwrap();
    assert!(
        !html.contains("en attente du client"),
        "answered and closed"
    );
    assert!(!html.contains(&format!("href=\"{composer}\"")));
    assert_eq!(member.get(&composer).await.status(), 409);
    // … then the customer approves it.
    setup.sandbox.advance();
    wait_until("approved (205)", async || {
        setup.summary(&scope, invoice).await.headline == Some(StatusCode(205))
    })
    .await;
    let summary = setup.summary(&scope, invoice).await;
    assert!(!summary.needs_action);
    assert!(summary.open_request.is_none());
    setup.settle().await;
    assert_eq!(smtp.messages().len(), 1, "still exactly one message");
    setup.stop().await;
}

#[tokio::test]
async fn with_smtp_down_the_answer_waits_and_is_sent_when_it_comes_back() {
    let port = free_port();
    let (setup, scope) = setup_with_smtp(url_for(port)).await;
    let member = Visitor::signed_in(&setup.app, MEMBER, PASSWORD).await;
    let number = format!("F{}-00201", crate::editor::year());
    let (id, _) = suspended_invoice(&setup, &scope, &member, &number).await;
    let page = format!("/t/acme/invoices/{id}");
    let composer = format!("{page}/answer");
    let answer = |subject: &'static str| {
        vec![
            Part::Text("to", "compta@globex.fr"),
            Part::Text("subject", subject),
            Part::Text("body", "Bonjour,\n\nLe justificatif est joint."),
            Part::File(
                "files",
                "justificatif.txt",
                "text/plain",
                b"bon de livraison 42",
            ),
            Part::Text("action", "send"),
        ]
    };

    let sent = post_multipart(
        &member,
        &composer,
        &composer,
        &answer("Facture : premier envoi"),
    )
    .await;
    assert_eq!(sent.status(), 303);
    // Nothing listens: the email is queued, tried, and waits for a retry.
    wait_until("a failed try", async || {
        outbox_rows(&setup)
            .await
            .first()
            .is_some_and(|row| row.attempts >= 1 && row.last_error.is_some())
    })
    .await;
    let html = member.get(&page).await.text().await.unwrap();
    assert!(html.contains("data-email-state=\"queued\""), "{html}");
    assert!(html.contains("Envoi en échec, nouvel essai prévu"));
    assert!(html.contains("Répondu le"), "the answer is on its way");

    // The server comes back: the same email is delivered, once.
    let smtp = SmtpServer::start_on(port).await;
    let messages = smtp.wait_for_messages(1).await;
    wait_until("the email is marked sent", async || {
        outbox_rows(&setup).await[0].status == "sent"
    })
    .await;
    let message = MessageParser::default().parse(&messages[0]).unwrap();
    assert_eq!(message.subject(), Some("Facture : premier envoi"));
    assert_eq!(message.attachments().count(), 1);
    let html = member.get(&page).await.text().await.unwrap();
    assert!(html.contains("data-email-state=\"sent\""), "{html}");

    // Down for good this time: after its last try the email is failed, with its error and a Retry button.
    drop(smtp);
    let sent = post_multipart(
        &member,
        &composer,
        &composer,
        &answer("Facture : second envoi"),
    )
    .await;
    assert_eq!(sent.status(), 303);
    wait_until("the second email fails for good", async || {
        outbox_rows(&setup)
            .await
            .iter()
            .any(|row| row.status == "failed")
    })
    .await;
    let html = member.get(&page).await.text().await.unwrap();
    assert!(html.contains("data-email-state=\"failed\""), "{html}");
    assert!(html.contains("Échec de l’envoi"));
    let retry = html
        .split("action=\"")
        .filter_map(|rest| rest.split('"').next())
        .find(|action| action.ends_with("/retry"))
        .expect("a Retry button")
        .to_owned();
    let smtp = SmtpServer::start_on(port).await;
    let retried = member.submit(&page, &retry, &[]).await;
    assert_eq!(retried.status(), 303);
    let messages = smtp.wait_for_messages(1).await;
    let message = MessageParser::default().parse(&messages[0]).unwrap();
    assert_eq!(message.subject(), Some("Facture : second envoi"));
    wait_until("both emails sent", async || {
        outbox_rows(&setup)
            .await
            .iter()
            .all(|row| row.status == "sent")
    })
    .await;
    assert_eq!(
        answers_count(&setup).await,
        2,
        "nothing lost, nothing doubled"
    );
    setup.stop().await;
}

#[tokio::test]
async fn the_composer_refuses_what_it_must() {
    let smtp = SmtpServer::start().await;
    let (setup, scope) = setup_with_smtp(smtp.url()).await;
    let member = Visitor::signed_in(&setup.app, MEMBER, PASSWORD).await;
    let number = format!("F{}-00301", crate::editor::year());
    let (id, _) = suspended_invoice(&setup, &scope, &member, &number).await;
    let page = format!("/t/acme/invoices/{id}");
    let composer = format!("{page}/answer");

    // No open request: a draft has nothing to answer.
    let draft = post(
        &member,
        "/t/acme/invoices",
        &good_invoice(&format!("F{}-00302", crate::editor::year())),
        "save",
    )
    .await;
    assert_eq!(draft.status(), 303);
    let draft_page = format!("/t/acme/invoices/{}", id_in(&location(&draft)));
    let refused = member.get(&format!("{draft_page}/answer")).await;
    assert_eq!(refused.status(), 409);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Aucune demande en cours")
    );
    let refused = post_multipart(
        &member,
        &draft_page,
        &format!("{draft_page}/answer"),
        &[
            Part::Text("to", "compta@globex.fr"),
            Part::Text("subject", "x"),
            Part::Text("body", "y"),
            Part::Text("action", "send"),
        ],
    )
    .await;
    assert_eq!(refused.status(), 409);

    // A bad recipient: the field says which, what was typed stays, nothing is queued.
    let bad = post_multipart(
        &member,
        &composer,
        &composer,
        &[
            Part::Text("to", "compta@globex.fr, pas-une-adresse"),
            Part::Text("subject", "Facture : réponse"),
            Part::Text("body", "Mon texte soigneusement tapé"),
            Part::Text("action", "send"),
        ],
    )
    .await;
    assert_eq!(bad.status(), 422);
    let html = bad.text().await.unwrap();
    assert!(
        html.contains("Ces adresses ne sont pas valides : pas-une-adresse."),
        "{html}"
    );
    assert!(html.contains("Mon texte soigneusement tapé"));
    assert!(html.contains("value=\"Facture : réponse\""));
    assert_eq!(answers_count(&setup).await, 0);

    // Files over the limit: a clear message, the text kept, nothing queued.
    let big = vec![b'x'; 10 * 1024 * 1024 + 1];
    let over = post_multipart(
        &member,
        &composer,
        &composer,
        &[
            Part::Text("to", "compta@globex.fr"),
            Part::Text("subject", "Facture : gros fichier"),
            Part::Text("body", "Texte gardé malgré le fichier"),
            Part::Text("action", "send"),
            Part::File("files", "enorme.bin", "application/octet-stream", &big),
        ],
    )
    .await;
    assert_eq!(over.status(), 422);
    let html = over.text().await.unwrap();
    assert!(
        html.contains("la limite est de 10\u{a0}Mo au total"),
        "{html}"
    );
    assert!(html.contains("Texte gardé malgré le fichier"));
    assert!(!html.contains("name=\"kept_file\""));
    assert_eq!(answers_count(&setup).await, 0);

    // A file attached at preview time is kept in the page and sent without being chosen again.
    let photos: Vec<u8> = (0..6 * 1024 * 1024u32)
        .map(|i| u8::try_from(i % 251).unwrap())
        .collect();
    let preview = post_multipart(
        &member,
        &composer,
        &composer,
        &[
            Part::Text("to", "compta@globex.fr"),
            Part::Text("subject", "Facture : photos"),
            Part::Text("body", "Les photos de la livraison."),
            Part::Text("action", "preview"),
            Part::File("files", "photos.zip", "application/zip", &photos),
        ],
    )
    .await;
    assert_eq!(preview.status(), 200);
    let html = preview.text().await.unwrap();
    println!(
        "measured: a preview page keeping a {} byte file weighs {} bytes",
        photos.len(),
        html.len()
    );
    let kept = value_after(&html, "name=\"kept_file\"")
        .replace("&#x2f;", "/")
        .replace("&#43;", "+")
        .replace("&#61;", "=");
    let sent = post_multipart(
        &member,
        &composer,
        &composer,
        &[
            Part::Text("to", "compta@globex.fr"),
            Part::Text("subject", "Facture : photos"),
            Part::Text("body", "Les photos de la livraison."),
            Part::Text("kept_file", &kept),
            Part::Text("action", "send"),
        ],
    )
    .await;
    assert_eq!(sent.status(), 303);
    let messages = smtp.wait_for_messages(1).await;
    println!(
        "measured: the email with it weighs {} bytes",
        messages[0].len()
    );
    let message = MessageParser::default().parse(&messages[0]).unwrap();
    let attachment = message.attachments().next().expect("the kept file");
    assert_eq!(attachment.attachment_name(), Some("photos.zip"));
    assert_eq!(attachment.contents(), photos.as_slice());

    // A viewer reads the invoice but cannot answer.
    let viewer = Visitor::signed_in(&setup.app, "viewer@acme.fr", PASSWORD).await;
    let html = viewer.get(&page).await.text().await.unwrap();
    assert!(!html.contains(&format!("href=\"{composer}\"")));
    assert_eq!(viewer.get(&composer).await.status(), 403);
    let forbidden = post_multipart(
        &viewer,
        &page,
        &composer,
        &[
            Part::Text("to", "compta@globex.fr"),
            Part::Text("subject", "x"),
            Part::Text("body", "y"),
            Part::Text("action", "send"),
        ],
    )
    .await;
    assert_eq!(forbidden.status(), 403);

    // An answer is sent; its retry and every new URL are 404 for another tenant.
    let sent = post_multipart(
        &member,
        &composer,
        &composer,
        &[
            Part::Text("to", "compta@globex.fr"),
            Part::Text("subject", "Facture : réponse"),
            Part::Text("body", "Bonjour"),
            Part::Text("action", "send"),
        ],
    )
    .await;
    assert_eq!(sent.status(), 303);
    smtp.wait_for_messages(2).await;
    let email_id = invoice_emails::Entity::find()
        .one(&setup.app.test_db.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let retry = format!("{page}/emails/{email_id}/retry");
    assert_eq!(viewer.submit(&page, &retry, &[]).await.status(), 403);
    let globex = Visitor::signed_in(&setup.app, "admin@globex.fr", PASSWORD).await;
    let own = "/t/globex/";
    for path in [
        composer.clone(),
        composer.replace("/t/acme/", "/t/globex/"),
        "/t/acme/settings/answer-templates".to_owned(),
    ] {
        assert_eq!(globex.get(&path).await.status(), 404, "GET {path}");
    }
    for action in [
        retry.clone(),
        retry.replace("/t/acme/", "/t/globex/"),
        "/t/acme/settings/answer-templates".to_owned(),
    ] {
        let response = globex
            .submit(own, &action, &[("status", "208"), ("language", "fr")])
            .await;
        assert_eq!(response.status(), 404, "POST {action}");
    }
    for action in [composer.clone(), composer.replace("/t/acme/", "/t/globex/")] {
        let response = post_multipart(
            &globex,
            own,
            &action,
            &[
                Part::Text("to", "x@globex.fr"),
                Part::Text("subject", "x"),
                Part::Text("body", "y"),
                Part::Text("action", "send"),
            ],
        )
        .await;
        assert_eq!(response.status(), 404, "POST {action}");
    }
    assert_eq!(answers_count(&setup).await, 2);

    // The tenant's admin words the 208 in French; members only read it through the composer.
    let admin = Visitor::signed_in(&setup.app, "admin@acme.fr", PASSWORD).await;
    let settings = "/t/acme/settings/answer-templates";
    assert_eq!(member.get(settings).await.status(), 403);
    let html = admin.get(settings).await.text().await.unwrap();
    assert!(html.contains("Modèles de réponse"));
    assert!(html.contains("Facture {invoice_number} : les informations demandées"));
    let unknown = admin
        .submit(
            settings,
            settings,
            &[
                ("status", "208"),
                ("language", "fr"),
                ("subject", "Votre demande sur {numero}"),
                ("body", "Bonjour {customer_name}"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(unknown.status(), 422);
    let html = unknown.text().await.unwrap();
    assert!(html.contains("{numero}"), "{html}");
    assert!(
        html.contains("Votre demande sur {numero}"),
        "what was typed stays"
    );
    let saved = admin
        .submit(
            settings,
            settings,
            &[
                ("status", "208"),
                ("language", "fr"),
                ("subject", "Votre demande sur la facture {invoice_number}"),
                (
                    "body",
                    "Bonjour {customer_name},\n\n{reason_sentence}\n\n{signature}",
                ),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let html = member.get(&composer).await.text().await.unwrap();
    assert_eq!(
        value_after(&html, "id=\"subject\""),
        format!("Votre demande sur la facture {number}")
    );
    assert!(html.contains("Bonjour Globex SARL,"), "{html}");
    let reset = admin
        .submit(
            settings,
            settings,
            &[("status", "208"), ("language", "fr"), ("action", "reset")],
        )
        .await;
    assert_eq!(reset.status(), 303);
    let html = member.get(&composer).await.text().await.unwrap();
    assert_eq!(
        value_after(&html, "id=\"subject\""),
        format!("Facture {number} : les informations demandées")
    );
    setup.stop().await;
}

/// Posts an answer to `to` from the composer and returns the response.
async fn answer_to(visitor: &Visitor<'_>, composer: &str, to: &str) -> reqwest::Response {
    post_multipart(
        visitor,
        composer,
        composer,
        &[
            Part::Text("to", to),
            Part::Text("subject", "Facture : réponse"),
            Part::Text("body", "Bonjour, voici les informations demandées."),
            Part::Text("action", "send"),
        ],
    )
    .await
}

#[tokio::test]
async fn answers_go_to_the_customers_known_contacts_within_hourly_limits() {
    let smtp = SmtpServer::start().await;
    let smtp_url = smtp.url();
    let setup = Setup::start_with(move |mut config| {
        config.mail.smtp_url = Some(Secret::new(smtp_url));
        config.mail.answers_per_user_hour = 2;
        config.mail.answers_per_company_hour = 3;
        config
    })
    .await;
    let scope = setup.connect("acme", ACME).await;
    let member = Visitor::signed_in(&setup.app, MEMBER, PASSWORD).await;
    let number = format!("F{}-00401", crate::editor::year());
    let (id, _) = suspended_invoice(&setup, &scope, &member, &number).await;
    let composer = format!("/t/acme/invoices/{id}/answer");

    // A member writes only to the customer's known contacts (the invoice's, here): a stranger is refused.
    let stranger = answer_to(
        &member,
        &composer,
        "compta@globex.fr, boss@elsewhere.example",
    )
    .await;
    assert_eq!(stranger.status(), 422);
    let html = stranger.text().await.unwrap();
    assert!(
        html.contains("ne sont pas des contacts connus du client : boss@elsewhere.example"),
        "{html}"
    );
    assert_eq!(answers_count(&setup).await, 0, "nothing queued");

    // Two answers an hour for one person, then a clear refusal.
    for _ in 0..2 {
        assert_eq!(
            answer_to(&member, &composer, "COMPTA@globex.fr")
                .await
                .status(),
            303
        );
    }
    let limited = answer_to(&member, &composer, "compta@globex.fr").await;
    assert_eq!(limited.status(), 429);
    assert!(
        limited
            .text()
            .await
            .unwrap()
            .contains("La limite de 2 réponses par heure est atteinte")
    );
    assert_eq!(answers_count(&setup).await, 2);

    // A company admin may write to someone else (their answer is the approval), until the company's limit.
    let admin = Visitor::signed_in(&setup.app, "admin@acme.fr", PASSWORD).await;
    assert_eq!(
        answer_to(&admin, &composer, "boss@elsewhere.example")
            .await
            .status(),
        303
    );
    let company_limited = answer_to(&admin, &composer, "compta@globex.fr").await;
    assert_eq!(company_limited.status(), 429);
    assert!(
        company_limited
            .text()
            .await
            .unwrap()
            .contains("La limite de 3 réponses par heure est atteinte")
    );
    assert_eq!(answers_count(&setup).await, 3);
    setup.stop().await;
}

/// The jobs table row that sends the outbox email `id`.
async fn send_job_of(setup: &Setup, id: Uuid) -> jobs::Model {
    jobs::Entity::find()
        .filter(jobs::Column::UniqueKey.eq(format!("mail:{id}")))
        .one(&setup.app.test_db.db)
        .await
        .unwrap()
        .expect("the email's sending job")
}

/// An answer whose try died while talking to the SMTP server (the worker stopped after marking it `sending`) is
/// not sent again by the next try: it reads "may have been sent" with a "Send again" button, and only that button
/// sends it, once.
#[tokio::test]
async fn an_answer_whose_try_died_mid_send_waits_for_a_person() {
    let port = free_port();
    let (setup, scope) = setup_with_smtp(url_for(port)).await;
    let member = Visitor::signed_in(&setup.app, MEMBER, PASSWORD).await;
    let number = format!("F{}-00401", crate::editor::year());
    let (id, _) = suspended_invoice(&setup, &scope, &member, &number).await;
    let page = format!("/t/acme/invoices/{id}");
    let composer = format!("{page}/answer");
    let sent = post_multipart(
        &member,
        &composer,
        &composer,
        &[
            Part::Text("to", "compta@globex.fr"),
            Part::Text("subject", "Facture : envoi interrompu"),
            Part::Text("body", "Bonjour,\n\nLe justificatif est joint."),
            Part::Text("action", "send"),
        ],
    )
    .await;
    assert_eq!(sent.status(), 303);
    // Nothing listens yet: a first try fails and the job waits for its next one.
    wait_until("a failed try", async || {
        outbox_rows(&setup)
            .await
            .first()
            .is_some_and(|row| row.attempts >= 1 && row.last_error.is_some())
    })
    .await;
    let email = outbox_rows(&setup).await[0].id;
    let job = send_job_of(&setup, email).await;
    // A try of that job marks the email and its worker dies while the SMTP server is being asked (written here
    // between two tries: only a queued email changes, so no try is under way).
    wait_until("the email left as a dead try leaves it", async || {
        outbox::Entity::update_many()
            .col_expr(outbox::Column::Status, Expr::value("sending"))
            .col_expr(outbox::Column::SendingJobId, Expr::value(Some(job.id)))
            .filter(outbox::Column::Id.eq(email))
            .filter(outbox::Column::Status.eq("queued"))
            .exec(&setup.app.test_db.db)
            .await
            .unwrap()
            .rows_affected
            == 1
    })
    .await;

    let smtp = SmtpServer::start_on(port).await;
    wait_until("the next try marks it uncertain", async || {
        outbox_rows(&setup).await[0].status == "uncertain"
    })
    .await;
    wait_until("the job is over", async || {
        send_job_of(&setup, email).await.state == "done"
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(smtp.messages().is_empty(), "not sent again automatically");

    let html = member.get(&page).await.text().await.unwrap();
    assert!(html.contains("data-email-state=\"uncertain\""), "{html}");
    assert!(html.contains("Peut-être envoyé"), "{html}");
    let retry = html
        .split("action=\"")
        .filter_map(|rest| rest.split('"').next())
        .find(|action| action.ends_with("/retry"))
        .expect("a Send again button")
        .to_owned();
    let retried = member.submit(&page, &retry, &[]).await;
    assert_eq!(retried.status(), 303);
    let messages = smtp.wait_for_messages(1).await;
    let message = MessageParser::default().parse(&messages[0]).unwrap();
    assert_eq!(message.subject(), Some("Facture : envoi interrompu"));
    wait_until("the email is sent", async || {
        outbox_rows(&setup).await[0].status == "sent"
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(smtp.messages().len(), 1, "sent once, by hand");
    setup.stop().await;
}

/// The "needs action" email of one event is one email and one sending job per recipient, keyed by invoice, event
/// and recipient: a recipient whose copy fails does not make the others' go twice, and the notification job run
/// again (as after a worker that died once it had queued them) queues nothing new.
#[tokio::test]
async fn each_recipient_gets_one_needs_action_email_of_their_own() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let setup = Setup::start_with(move |mut config| {
        config.mail.smtp_url = Some(Secret::new(url));
        config.jobs.retry_base_secs = 1;
        config.jobs.retry_cap_secs = 2;
        config
    })
    .await;
    let scope = setup.connect("acme", ACME).await;
    let member = Visitor::signed_in(&setup.app, MEMBER, PASSWORD).await;
    // The member's address cannot be written in an email: their copy fails (and is tried again), the admin's goes.
    users::Entity::update_many()
        .col_expr(users::Column::Email, Expr::value("member-at-acme"))
        .filter(users::Column::Email.eq(MEMBER))
        .exec(&setup.app.test_db.db)
        .await
        .unwrap();
    let number = format!("F{}-00402", crate::editor::year());
    suspended_invoice(&setup, &scope, &member, &number).await;

    let notifications = async || {
        outbox::Entity::find()
            .filter(outbox::Column::Subject.contains(number.as_str()))
            .order_by_asc(outbox::Column::ToAddresses)
            .all(&setup.app.test_db.db)
            .await
            .unwrap()
    };
    wait_until(
        "the admin's email sent, the member's tried twice",
        async || {
            let rows = notifications().await;
            rows.len() == 2 && rows[0].status == "sent" && rows[1].attempts >= 2
        },
    )
    .await;
    let rows = notifications().await;
    assert!(rows[0].to_addresses.contains("admin@acme.fr"));
    assert!(rows[1].to_addresses.contains("member-at-acme"));
    let keys: Vec<String> = {
        let mut keys = Vec::new();
        for row in &rows {
            keys.push(send_job_of(&setup, row.id).await.unique_key.unwrap());
        }
        keys
    };
    assert_ne!(keys[0], keys[1], "one sending job per recipient");
    assert_eq!(smtp.wait_for_messages(1).await.len(), 1);

    // The notification job runs again.
    let notify = jobs::Entity::find()
        .filter(jobs::Column::Kind.eq("invoice.notify"))
        .all(&setup.app.test_db.db)
        .await
        .unwrap();
    assert_eq!(notify.len(), 1, "one notification job for the 208");
    let rerun = jobs::Entity::update_many()
        .col_expr(jobs::Column::State, Expr::value("queued"))
        .col_expr(jobs::Column::RunAtMs, Expr::value(0i64))
        .filter(jobs::Column::Id.eq(notify[0].id))
        .filter(jobs::Column::State.eq("done"))
        .exec(&setup.app.test_db.db)
        .await
        .unwrap();
    assert_eq!(rerun.rows_affected, 1);
    wait_until("the notification job ran again", async || {
        let job = jobs::Entity::find_by_id(notify[0].id)
            .one(&setup.app.test_db.db)
            .await
            .unwrap()
            .unwrap();
        job.state == "done" && job.attempts > notify[0].attempts
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let again = notifications().await;
    assert_eq!(
        again.iter().map(|row| row.id).collect::<Vec<_>>(),
        rows.iter().map(|row| row.id).collect::<Vec<_>>(),
        "nothing new queued"
    );
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "the admin's email went once");
    setup.stop().await;
}

/// A multipart body far above the form's limit (256 MiB of "file") is refused with 413 once the limit is passed:
/// the refusal arrives while the client is still sending, after at most the limit (40 MiB) and what the sockets
/// hold, so the portal never reads, let alone keeps, the rest. The body goes over a raw socket, so that nothing
/// on the client's side buffers it either.
#[tokio::test]
async fn a_body_far_above_the_limit_is_refused_before_it_was_all_sent() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const TOTAL: usize = 256 * 1024 * 1024;
    let smtp = SmtpServer::start().await;
    let (setup, scope) = setup_with_smtp(smtp.url()).await;
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let member = Visitor {
        app: &setup.app,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(jar.clone())
            .build()
            .unwrap(),
    };
    assert_eq!(member.login(MEMBER, PASSWORD).await.status(), 303);
    let number = format!("F{}-00901", crate::editor::year());
    let (id, _) = suspended_invoice(&setup, &scope, &member, &number).await;
    let composer = format!("/t/acme/invoices/{id}/answer");
    let token = csrf_of(&member.get(&composer).await.text().await.unwrap());
    let url: reqwest::Url = setup.app.address.parse().unwrap();
    let cookies = reqwest::cookie::CookieStore::cookies(&*jar, &url)
        .expect("signed in")
        .to_str()
        .unwrap()
        .to_owned();

    let boundary = "----portal-test-huge";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"huge.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let request = format!(
        "POST {composer} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookies}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\r\n{head}",
        host = url.authority(),
        length = head.len() + TOTAL + tail.len(),
    );
    let stream = tokio::net::TcpStream::connect(url.authority())
        .await
        .unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let written = Arc::new(AtomicUsize::new(0));
    let sender = {
        let written = written.clone();
        tokio::spawn(async move {
            writer.write_all(request.as_bytes()).await?;
            let chunk = vec![b'x'; 64 * 1024];
            while written.load(Ordering::SeqCst) < TOTAL {
                writer.write_all(&chunk).await?;
                written.fetch_add(chunk.len(), Ordering::SeqCst);
            }
            writer.write_all(tail.as_bytes()).await?;
            Ok::<(), std::io::Error>(())
        })
    };
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while !answer.windows(4).any(|window| window == b"\r\n\r\n") {
        let read =
            tokio::time::timeout(std::time::Duration::from_secs(60), reader.read(&mut buffer))
                .await
                .expect("an answer within a minute")
                .unwrap();
        assert!(read > 0, "the connection closed without an answer");
        answer.extend_from_slice(&buffer[..read]);
    }
    let sent_when_answered = written.load(Ordering::SeqCst);
    sender.abort();
    eprintln!("413 after {sent_when_answered} bytes of {TOTAL} sent");
    let status_line = String::from_utf8_lossy(&answer);
    assert!(status_line.starts_with("HTTP/1.1 413"), "{status_line}");
    assert!(
        sent_when_answered < 64 * 1024 * 1024,
        "refused after {sent_when_answered} bytes of {TOTAL}: the body was read past the limit"
    );
    assert_eq!(answers_count(&setup).await, 0);
}
