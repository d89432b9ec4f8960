//! The table of actions over real HTTP: each rule's refused action posted directly (as a hand-made form would,
//! bypassing the page that does not offer it) is answered 409 with the reason in words and changes nothing, and
//! the invoice page offers only what the table opens. Invoices and their statuses are written through the
//! repositories as the editor and the status ingestion would.

use crate::answers::{Part, post_multipart};
use crate::editor::{good_invoice, post};
use crate::helpers::{PASSWORD, TestApp, Visitor};
use crate::views::{at, content, day, delivered, scope, sent, status as event};
use portal_domain::ids::InvoiceId;
use portal_domain::lifecycle::{Source, StatusEvent};
use portal_persistence::TenantScope;
use portal_persistence::entities::invoice_emails;
use portal_persistence::invoices::InvoiceRepository;
use portal_persistence::payments::{PaymentRecord, PaymentRepository};
use rust_decimal::Decimal;
use sea_orm::{EntityTrait, PaginatorTrait};

/// The total of every invoice here, incl. VAT.
const TOTAL_CENTS: i64 = 12_000;

struct World<'a> {
    app: &'a TestApp,
    scope: TenantScope,
    member: Visitor<'a>,
}

impl<'a> World<'a> {
    async fn new(app: &'a TestApp) -> Self {
        app.world().await;
        Self {
            scope: scope(app, "admin@acme.fr", "acme").await,
            member: Visitor::signed_in(app, "member@acme.fr", PASSWORD).await,
            app,
        }
    }

    /// A sent invoice (Billit order `order`) with these events folded into its summary.
    async fn invoice(&self, number: &str, order: i64, events: &[StatusEvent]) -> InvoiceId {
        sent(
            self.app,
            &self.scope,
            content(number, "Alpha SARL", None, TOTAL_CENTS, day(2026, 11, 30)),
            order,
            events,
        )
        .await
    }

    async fn payments(&self, invoice: InvoiceId) -> Vec<PaymentRecord> {
        PaymentRepository::new(self.app.test_db.db.clone())
            .list(&self.scope, invoice)
            .await
            .unwrap()
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response = self.member.get(path).await;
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Posts `form` to `action` with the CSRF token of the tenant's home page (not the invoice's page: a form the
    /// page does not show is posted anyway).
    async fn post(&self, action: &str, form: &[(&str, &str)]) -> (u16, String) {
        let response = self.member.submit("/t/acme/", action, form).await;
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn pay(&self, invoice: InvoiceId, amount: &str) -> (u16, String) {
        let today = portal_app::dates::today().format("%Y-%m-%d").to_string();
        self.post(
            &format!("{}/payments", page(invoice)),
            &[
                ("amount", amount),
                ("paid_on", &today),
                ("method", "transfer"),
                ("reference", "VIR 1"),
            ],
        )
        .await
    }

    async fn mark_paid(&self, invoice: InvoiceId) -> (u16, String) {
        self.post(&format!("{}/payments/full", page(invoice)), &[])
            .await
    }
}

fn page(invoice: InvoiceId) -> String {
    format!("/t/acme/invoices/{invoice}")
}

fn refused_by(
    source: Source,
    code: u16,
    when: chrono::DateTime<chrono::Utc>,
    key: &str,
    reason: &str,
) -> StatusEvent {
    event(code, source, when, key).with_reasons([reason])
}

/// The page offers a payment form, and "mark as fully paid".
fn offers_payment(html: &str, invoice: InvoiceId) -> bool {
    html.contains("class=\"form payments__form\"")
        || html.contains(&format!("action=\"{}/payments/full\"", page(invoice)))
}

#[tokio::test]
async fn a_refused_invoice_takes_no_payment_and_offers_a_credit_note_or_a_corrected_invoice() {
    let app = TestApp::spawn().await;
    let world = World::new(&app).await;
    let mut events = delivered("r");
    events.push(refused_by(
        Source::Buyer,
        210,
        at(2026, 12, 1, 9),
        "r-210",
        "CONTRAT_TERM",
    ));
    let refused = world.invoice("F2026-00210", 210, &events).await;

    // The page: a credit note and a corrected invoice, no payment form, and why.
    let (code, html) = world.get(&page(refused)).await;
    assert_eq!(code, 200);
    assert!(html.contains(&format!("new?from={refused}")));
    assert!(html.contains("as=credit_note"), "a credit note is offered");
    assert!(
        html.contains("as=corrected"),
        "a corrected invoice is offered"
    );
    assert!(
        !offers_payment(&html, refused),
        "no payment form on a refused invoice"
    );
    assert!(
        html.contains("le client a refusé la facture (210)"),
        "the page says why"
    );

    // Posted anyway: 409, the reason in words, nothing recorded.
    let (code, html) = world.pay(refused, "120,00").await;
    assert_eq!(code, 409);
    assert!(
        html.contains("Enregistrer un paiement : impossible, le client a refusé la facture (210)"),
        "{html}"
    );
    let (code, html) = world.mark_paid(refused).await;
    assert_eq!(code, 409);
    assert!(html.contains("Marquer comme payée : impossible, le client a refusé la facture (210)"));
    assert!(world.payments(refused).await.is_empty());

    // The credit note the page offers opens the editor, linked.
    let (code, html) = world
        .get(&format!(
            "/t/acme/invoices/new?from={refused}&as=credit_note"
        ))
        .await;
    assert_eq!(code, 200);
    assert!(html.contains(&format!("name=\"related_invoice_id\" value=\"{refused}\"")));
    app.shutdown().await;
}

#[tokio::test]
async fn a_rejected_invoice_takes_no_payment_but_a_doublon_after_delivery_does_not_reject_it() {
    let app = TestApp::spawn().await;
    let world = World::new(&app).await;
    // Rejected by the buyer's platform before delivery (213), and the tax data rejected by the PPF (251).
    let rejected = world
        .invoice(
            "F2026-00213",
            213,
            &[
                event(200, Source::SellerPlatform, at(2026, 11, 30, 10), "j-200"),
                refused_by(
                    Source::BuyerPlatform,
                    213,
                    at(2026, 11, 30, 11),
                    "j-213",
                    "DEST_INC",
                ),
            ],
        )
        .await;
    let tax_rejected = world
        .invoice(
            "F2026-00251",
            251,
            &[
                event(200, Source::SellerPlatform, at(2026, 11, 30, 10), "t-200"),
                refused_by(Source::Ppf, 251, at(2026, 11, 30, 11), "t-251", "REJ_SEMAN"),
            ],
        )
        .await;
    for (invoice, code) in [(rejected, 213), (tax_rejected, 251)] {
        let (status, html) = world.pay(invoice, "10").await;
        assert_eq!(status, 409, "{code}");
        assert!(
            html.contains(&format!("la facture a été rejetée ({code})")),
            "{code}: {html}"
        );
        let (status, _) = world.mark_paid(invoice).await;
        assert_eq!(status, 409, "{code}");
        assert!(world.payments(invoice).await.is_empty(), "{code}");
        let (_, html) = world.get(&page(invoice)).await;
        assert!(!offers_payment(&html, invoice), "{code}");
        assert!(
            html.contains("as=corrected"),
            "{code}: a corrected invoice instead"
        );
    }

    // A 213 DOUBLON after delivery is a rejected re-delivery: the invoice is still payable.
    let mut events = delivered("d");
    events.push(refused_by(
        Source::BuyerPlatform,
        213,
        at(2026, 12, 1, 9),
        "d-213",
        "DOUBLON",
    ));
    let delivered_twice = world.invoice("F2026-00214", 214, &events).await;
    let (_, html) = world.get(&page(delivered_twice)).await;
    assert!(
        offers_payment(&html, delivered_twice),
        "the payment form is offered"
    );
    let (status, _) = world.pay(delivered_twice, "10").await;
    assert_eq!(status, 303);
    let payments = world.payments(delivered_twice).await;
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].amount_cents, 1_000);
    app.shutdown().await;
}

#[tokio::test]
async fn nothing_is_marked_fully_paid_when_nothing_remains() {
    let app = TestApp::spawn().await;
    let world = World::new(&app).await;
    let invoice = world.invoice("F2026-00300", 300, &delivered("p")).await;
    let (status, _) = world.mark_paid(invoice).await;
    assert_eq!(status, 303, "what remains is recorded");
    assert_eq!(world.payments(invoice).await.len(), 1);
    let (_, html) = world.get(&page(invoice)).await;
    assert!(!offers_payment(&html, invoice), "nothing remains: no form");
    // Posted again: nothing remains.
    let (status, html) = world.mark_paid(invoice).await;
    assert_eq!(status, 409);
    assert!(
        html.contains("Marquer comme payée : impossible, il ne reste rien à payer"),
        "{html}"
    );
    let (status, _) = world.pay(invoice, "1").await;
    assert_eq!(status, 409);
    assert_eq!(world.payments(invoice).await.len(), 1);

    // Paid according to the statuses (a 212 for the whole total) though nothing was recorded here: the payment
    // track decides too.
    let mut events = delivered("q");
    events.push(
        event(212, Source::Supplier, at(2026, 12, 1, 9), "q-212")
            .with_amount(Decimal::new(TOTAL_CENTS, 2)),
    );
    let paid = world.invoice("F2026-00301", 301, &events).await;
    let (status, html) = world.mark_paid(paid).await;
    assert_eq!(status, 409);
    assert!(html.contains("il ne reste rien à payer"));
    assert!(world.payments(paid).await.is_empty());
    app.shutdown().await;
}

#[tokio::test]
async fn answering_needs_an_open_dispute_or_request() {
    let app = TestApp::spawn().await;
    let world = World::new(&app).await;
    // Disputed, then approved: the dispute is closed.
    let mut events = delivered("a");
    events
        .push(event(207, Source::Buyer, at(2026, 12, 1, 9), "a-207").with_reasons(["TX_TVA_ERR"]));
    events.push(event(205, Source::Buyer, at(2026, 12, 1, 11), "a-205"));
    let answered = world.invoice("F2026-00400", 400, &events).await;
    let composer = format!("{}/answer", page(answered));
    let (_, html) = world.get(&page(answered)).await;
    assert!(
        !html.contains(&format!("href=\"{composer}\"")),
        "no answer offered"
    );
    let (status, html) = world.get(&composer).await;
    assert_eq!(status, 409);
    assert!(
        html.contains("aucun litige (207) ni demande d’information (208)"),
        "{html}"
    );
    let response = post_multipart(
        &world.member,
        &page(answered),
        &composer,
        &[
            Part::Text("to", "compta@alpha.fr"),
            Part::Text("subject", "Votre facture"),
            Part::Text("body", "Bonjour"),
            Part::Text("action", "send"),
        ],
    )
    .await;
    assert_eq!(response.status(), 409);
    assert_eq!(
        invoice_emails::Entity::find()
            .count(&app.test_db.db)
            .await
            .unwrap(),
        0,
        "nothing queued"
    );

    // While a 208 is open, the composer is offered and opens.
    let mut events = delivered("b");
    events
        .push(event(208, Source::Buyer, at(2026, 12, 1, 9), "b-208").with_reasons(["JUSTIF_ABS"]));
    let suspended = world.invoice("F2026-00401", 401, &events).await;
    let (_, html) = world.get(&page(suspended)).await;
    assert!(html.contains(&format!("href=\"{}/answer\"", page(suspended))));
    let (status, _) = world.get(&format!("{}/answer", page(suspended))).await;
    assert_eq!(status, 200);
    app.shutdown().await;
}

#[tokio::test]
async fn a_sent_invoice_is_neither_edited_nor_deleted() {
    let app = TestApp::spawn().await;
    let world = World::new(&app).await;
    let invoice = world.invoice("F2026-00500", 500, &delivered("e")).await;
    let (_, html) = world.get(&page(invoice)).await;
    assert!(!html.contains(&format!("href=\"{}/edit\"", page(invoice))));
    assert!(!html.contains(&format!("action=\"{}/delete\"", page(invoice))));

    let changed = good_invoice("F2026-09999");
    let response = post(&world.member, &page(invoice), &changed, "save").await;
    assert_eq!(response.status(), 409);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("Modifier : impossible, le document a été envoyé"),
        "{html}"
    );
    let (status, html) = world.post(&format!("{}/delete", page(invoice)), &[]).await;
    assert_eq!(status, 409);
    assert!(
        html.contains("Supprimer : impossible, le document a été envoyé"),
        "{html}"
    );
    let (status, _) = world.post(&format!("{}/submit", page(invoice)), &[]).await;
    assert_eq!(status, 409);

    let stored = InvoiceRepository::new(app.test_db.db.clone())
        .get(&world.scope, invoice)
        .await
        .unwrap()
        .expect("still there");
    assert_eq!(stored.number(), "F2026-00500", "unchanged");
    app.shutdown().await;
}

#[tokio::test]
async fn the_list_links_only_the_open_actions_a_row_needs() {
    let app = TestApp::spawn().await;
    let world = World::new(&app).await;
    let mut events = delivered("l");
    events.push(refused_by(
        Source::Buyer,
        210,
        at(2026, 12, 1, 9),
        "l-210",
        "CONTRAT_TERM",
    ));
    let refused = world.invoice("F2026-00600", 600, &events).await;
    let mut events = delivered("m");
    events.push(event(207, Source::Buyer, at(2026, 12, 1, 9), "m-207").with_reasons(["PU_ERR"]));
    let disputed = world.invoice("F2026-00601", 601, &events).await;
    let quiet = world.invoice("F2026-00602", 602, &delivered("n")).await;
    let draft = InvoiceRepository::new(app.test_db.db.clone())
        .create_draft(
            &world.scope,
            &content(
                "F2026-00603",
                "Alpha SARL",
                None,
                TOTAL_CENTS,
                day(2026, 11, 30),
            ),
            None,
        )
        .await
        .unwrap();

    let (code, html) = world.get("/t/acme/invoices").await;
    assert_eq!(code, 200);
    let row_of = |id: InvoiceId| -> String {
        html.split("<tr class=\"invoice-row\">")
            .find(|row| row.contains(&format!("href=\"/t/acme/invoices/{id}\"")))
            .map(|row| row.split("</tr>").next().unwrap_or_default().to_owned())
            .expect("the invoice's row")
    };
    let refused_row = row_of(refused);
    assert!(refused_row.contains("Émettre une facture rectificative"));
    assert!(refused_row.contains(&format!("new?from={refused}")));
    assert!(!refused_row.contains("/answer"), "nothing to answer");
    let disputed_row = row_of(disputed);
    assert!(disputed_row.contains(&format!("href=\"/t/acme/invoices/{disputed}/answer\"")));
    assert!(disputed_row.contains("Répondre au client"));
    assert!(
        !row_of(quiet).contains("data-row-actions"),
        "nothing it needs"
    );
    let draft_row = row_of(draft);
    assert!(draft_row.contains(&format!("href=\"/t/acme/invoices/{draft}/edit\"")));

    // A viewer is offered nothing.
    let viewer = Visitor::signed_in(&app, "viewer@acme.fr", PASSWORD).await;
    let html = viewer.get("/t/acme/invoices").await.text().await.unwrap();
    assert!(!html.contains("data-row-actions"));
    app.shutdown().await;
}
