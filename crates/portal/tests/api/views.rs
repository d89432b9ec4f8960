//! The invoice list, the invoice page, its file downloads and the dashboard, over real HTTP, with invoices and
//! events written through the repository as the editor and the status ingestion would.

use crate::helpers::{TestApp, Visitor};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use portal_domain::ids::{CustomerId, InvoiceId};
use portal_domain::invoice::{BuyerDraft, DocumentType, InvoiceDraft, LineDraft};
use portal_domain::lifecycle::{EventKind, Source, StatusEvent};
use portal_domain::status::StatusCode;
use portal_persistence::TenantScope;
use portal_persistence::entities::customers;
use portal_persistence::invoices::{
    DetailCharacteristic, DetailNote, EventDetails, InvoiceContent, InvoiceRepository, TotalsCents,
};
use portal_persistence::tenants::TenantRepository;
use portal_persistence::users::UserRepository;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

const NNBSP: char = '\u{202f}';
const NBSP: char = '\u{a0}';

pub(crate) async fn scope(app: &TestApp, email: &str, slug: &str) -> TenantScope {
    let user = UserRepository::new(app.test_db.db.clone())
        .find_by_email(email)
        .await
        .unwrap()
        .unwrap();
    TenantRepository::new(app.test_db.db.clone())
        .scope_for_member(user.id, slug)
        .await
        .unwrap()
        .unwrap()
        .1
}

fn repo(app: &TestApp) -> InvoiceRepository {
    InvoiceRepository::new(app.test_db.db.clone())
}

async fn customer(app: &TestApp, scope: &TenantScope, name: &str) -> CustomerId {
    let id = CustomerId::new();
    customers::ActiveModel {
        id: Set(id.as_uuid()),
        tenant_id: Set(scope.tenant_id().as_uuid()),
        legal_name: Set(name.to_owned()),
        siren: Set("127362116".to_owned()),
        siret: Set(None),
        vat_number: Set(None),
        electronic_address: Set("0225:127362116_DEMO".to_owned()),
        contact_emails: Set("[]".to_owned()),
        address_street: Set(None),
        address_additional: Set(None),
        address_postcode: Set(None),
        address_city: Set(None),
        address_country: Set("FR".to_owned()),
        language: Set("fr".to_owned()),
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

pub(crate) fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub(crate) fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

/// An invoice of one line at 20 % whose total incl. VAT is `incl_cents` (its excl. and VAT split as 1/1.2).
pub(crate) fn content(
    number: &str,
    buyer: &str,
    customer: Option<CustomerId>,
    incl_cents: i64,
    issued: NaiveDate,
) -> InvoiceContent {
    let excl = incl_cents * 10 / 12;
    let unit_price = format!("{}.{:02}", excl / 100, excl % 100);
    InvoiceContent {
        customer_id: customer,
        draft: InvoiceDraft {
            document_type: DocumentType::Invoice,
            number: number.to_owned(),
            issue_date: Some(issued),
            due_date: Some(issued + Duration::days(30)),
            currency: "EUR".to_owned(),
            buyer: BuyerDraft {
                legal_name: buyer.to_owned(),
                siren: "127362116".to_owned(),
                electronic_address: "0225:127362116_DEMO".to_owned(),
                ..BuyerDraft::default()
            },
            lines: vec![LineDraft {
                description: "Conseil".to_owned(),
                quantity: "1".to_owned(),
                unit: String::new(),
                unit_price,
                vat_rate: "20".to_owned(),
                exemption: None,
            }],
            ..InvoiceDraft::default()
        },
        totals: TotalsCents {
            excl,
            vat: incl_cents - excl,
            incl: incl_cents,
        },
    }
}

pub(crate) fn status(code: u16, source: Source, when: DateTime<Utc>, key: &str) -> StatusEvent {
    StatusEvent::status(StatusCode(code), source, when, key)
}

/// An invoice sent to Billit as order `order_id`, with these events folded into its summary.
pub(crate) async fn sent(
    app: &TestApp,
    scope: &TenantScope,
    content: InvoiceContent,
    order_id: i64,
    events: &[StatusEvent],
) -> InvoiceId {
    let repo = repo(app);
    let id = repo.create_draft(scope, &content, None).await.unwrap();
    repo.set_order_id(scope, id, order_id).await.unwrap();
    repo.mark_sent(scope, id, at(2026, 11, 30, 9))
        .await
        .unwrap();
    repo.append_events(scope, id, events, "poll").await.unwrap();
    repo.refold(scope, id).await.unwrap();
    id
}

pub(crate) fn delivered(prefix: &str) -> Vec<StatusEvent> {
    delivered_from(prefix, at(2026, 11, 30, 10))
}

/// Deposited, sent on and made available, an hour apart from `start`.
fn delivered_from(prefix: &str, start: DateTime<Utc>) -> Vec<StatusEvent> {
    vec![
        status(200, Source::SellerPlatform, start, &format!("{prefix}-200")),
        status(
            201,
            Source::SellerPlatform,
            start + Duration::hours(1),
            &format!("{prefix}-201"),
        ),
        status(
            203,
            Source::BuyerPlatform,
            start + Duration::hours(2),
            &format!("{prefix}-203"),
        ),
    ]
}

fn disputed(prefix: &str, when: DateTime<Utc>) -> StatusEvent {
    status(207, Source::Buyer, when, &format!("{prefix}-207"))
        .with_description("207 En litige: TX_TVA_ERR")
        .with_reasons(["TX_TVA_ERR"])
        .with_requested_action("NIN")
        .with_comment("Le taux devrait être de 10 %")
}

/// The invoice ids of a list page's rows, in order.
fn row_ids(html: &str) -> Vec<String> {
    html.split("<tr class=\"invoice-row\">")
        .skip(1)
        .map(|row| {
            row.split("href=\"/t/acme/invoices/")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn unescape(href: &str) -> String {
    href.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#x2f;", "/")
}

fn next_link(html: &str) -> Option<String> {
    html.split("rel=\"next\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(unescape)
}

async fn page(visitor: &Visitor<'_>, path: &str) -> (u16, String) {
    let response = visitor.get(path).await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn the_list_shows_french_amounts_dates_and_status_labels() {
    let app = TestApp::spawn().await;
    app.world().await;
    let scope = scope(&app, "admin@acme.fr", "acme").await;
    let mut events = delivered("a");
    events.push(disputed("a", at(2026, 12, 1, 9)));
    let acme = customer(&app, &scope, "Alpha SARL").await;
    sent(
        &app,
        &scope,
        content(
            "F2026-00001",
            "Alpha SARL",
            Some(acme),
            123_456,
            day(2026, 11, 30),
        ),
        101,
        &events,
    )
    .await;
    let repo = repo(&app);
    repo.create_draft(
        &scope,
        &content("F2026-00002", "Beta SA", None, 48_000, day(2026, 11, 29)),
        None,
    )
    .await
    .unwrap();
    let failing = repo
        .create_draft(
            &scope,
            &content("F2026-00003", "Gamma SAS", None, 1_000, day(2026, 11, 28)),
            None,
        )
        .await
        .unwrap();
    repo.mark_failed(&scope, failing, "Billit refuse le numéro.")
        .await
        .unwrap();

    let member = Visitor::signed_in(&app, "member@acme.fr", crate::helpers::PASSWORD).await;
    let (code, html) = page(&member, "/t/acme/invoices").await;
    assert_eq!(code, 200);
    assert!(
        html.contains(&format!("1{NNBSP}234,56{NBSP}€")),
        "French amount"
    );
    assert!(html.contains(&format!("480,00{NBSP}€")));
    assert!(
        html.contains("30/11/2026") && html.contains("30/12/2026"),
        "issue and due dates"
    );
    assert!(html.contains("207 · En litige"), "official code and label");
    assert!(
        html.contains(">Brouillon<") && html.contains(">Échec<"),
        "submission states"
    );
    assert!(html.contains("Action requise"));
    assert!(
        html.contains("Le client conteste la facture"),
        "the reason of the badge"
    );
    assert!(html.contains("Non payée"), "payment of the sent invoice");
    assert!(
        html.contains("href=\"/t/acme/invoices/new\""),
        "members may create"
    );
    assert!(html.contains("data-live=\"/t/acme/live\""));
    assert!(html.contains("<script src=\"/static/js/live.js"));
    assert!(
        html.contains("href=\"/t/acme/invoices\">Factures</a>"),
        "nav link"
    );
    assert_eq!(row_ids(&html).len(), 3);
    assert!(!html.contains("style=\""), "no inline style");

    // Viewers read the same list, without the button.
    let viewer = Visitor::signed_in(&app, "viewer@acme.fr", crate::helpers::PASSWORD).await;
    let (code, html) = page(&viewer, "/t/acme/invoices").await;
    assert_eq!(code, 200);
    assert_eq!(row_ids(&html).len(), 3);
    assert!(!html.contains("href=\"/t/acme/invoices/new\""));
    app.shutdown().await;
}

#[tokio::test]
async fn each_filter_narrows_the_list_and_the_counts_are_right() {
    let app = TestApp::spawn().await;
    app.world().await;
    let scope = scope(&app, "admin@acme.fr", "acme").await;
    let repo = repo(&app);
    let alpha = customer(&app, &scope, "Alpha SARL").await;
    let beta = customer(&app, &scope, "Beta SA").await;

    let mut a_events = delivered("a");
    a_events.push(disputed("a", at(2026, 12, 1, 9)));
    let a = sent(
        &app,
        &scope,
        content(
            "F2026-00001",
            "Alpha SARL",
            Some(alpha),
            10_000,
            day(2026, 1, 10),
        ),
        1,
        &a_events,
    )
    .await;
    let mut b_events = delivered("b");
    b_events.push(status(205, Source::Buyer, at(2026, 12, 2, 9), "b-205"));
    let b = sent(
        &app,
        &scope,
        content(
            "F2026-00002",
            "Beta SA",
            Some(beta),
            30_000,
            day(2026, 2, 10),
        ),
        2,
        &b_events,
    )
    .await;
    let c = repo
        .create_draft(
            &scope,
            &content(
                "F2026-00003",
                "Alpha SARL",
                Some(alpha),
                20_000,
                day(2026, 3, 10),
            ),
            None,
        )
        .await
        .unwrap();
    let d = repo
        .create_draft(
            &scope,
            &content("F2026-00004", "Delta SAS", None, 40_000, day(2026, 4, 10)),
            None,
        )
        .await
        .unwrap();
    repo.mark_failed(&scope, d, "Billit refuse.").await.unwrap();
    let e = sent(
        &app,
        &scope,
        content("F2026-00005", "Epsilon", None, 50_000, day(2026, 5, 10)),
        5,
        &[],
    )
    .await;

    let visitor = Visitor::signed_in(&app, "viewer@acme.fr", crate::helpers::PASSWORD).await;
    let ids = |list: &[InvoiceId]| {
        let mut ids: Vec<String> = list.iter().map(ToString::to_string).collect();
        ids.sort();
        ids
    };
    let cases: Vec<(String, Vec<InvoiceId>)> = vec![
        ("status=207".into(), vec![a]),
        ("status=205".into(), vec![b]),
        ("status=none".into(), vec![c, d, e]),
        ("state=draft".into(), vec![c]),
        ("state=failed".into(), vec![d]),
        ("state=sent".into(), vec![a, b, e]),
        ("status=none&state=sent".into(), vec![e]),
        ("action=1".into(), vec![a, d]),
        (format!("customer={alpha}"), vec![a, c]),
        ("from=2026-02-01&to=2026-03-31".into(), vec![b, c]),
        ("from=01%2F02%2F2026&to=31%2F03%2F2026".into(), vec![b, c]),
        ("from=2026-04-01".into(), vec![d, e]),
        ("q=alpha".into(), vec![a, c]),
        ("q=00002".into(), vec![b]),
        ("q=f2026-0000".into(), vec![a, b, c, d, e]),
        ("q=nobody".into(), vec![]),
        // LIKE's wildcards are searched as themselves.
        ("q=_".into(), vec![]),
        ("q=%25".into(), vec![]),
        ("status=207&action=1&q=alpha".into(), vec![a]),
        // An empty field of the form means "any".
        (
            "status=&state=&q=&from=&to=&sort=".into(),
            vec![a, b, c, d, e],
        ),
    ];
    for (query, expected) in cases {
        let (code, html) = page(&visitor, &format!("/t/acme/invoices?{query}")).await;
        assert_eq!(code, 200, "{query}");
        let mut got = row_ids(&html);
        got.sort();
        assert_eq!(got, ids(&expected), "{query}");
    }

    // Sorting by amount.
    let (_, html) = page(&visitor, "/t/acme/invoices?sort=total_desc").await;
    assert_eq!(
        row_ids(&html),
        [e, d, b, c, a].map(|id| id.to_string()).to_vec()
    );
    let (_, html) = page(&visitor, "/t/acme/invoices?sort=total_asc").await;
    assert_eq!(
        row_ids(&html),
        [a, c, b, d, e].map(|id| id.to_string()).to_vec()
    );

    // The chips count every state, and link to the matching filter.
    let (_, html) = page(&visitor, "/t/acme/invoices").await;
    let chips = unescape(
        html.split("class=\"chips\"")
            .nth(1)
            .and_then(|rest| rest.split("</nav>").next())
            .unwrap(),
    );
    for (href, label, count) in [
        ("/t/acme/invoices\"", "Toutes", 5),
        ("/t/acme/invoices?action=1\"", "Action requise", 2),
        ("/t/acme/invoices?status=207\"", "207 · En litige", 1),
        ("/t/acme/invoices?status=205\"", "205 · Approuvée", 1),
        ("/t/acme/invoices?status=none&state=draft\"", "Brouillon", 1),
        ("/t/acme/invoices?status=none&state=failed\"", "Échec", 1),
        ("/t/acme/invoices?status=none&state=sent\"", "Envoyée", 1),
    ] {
        let chip = chips
            .split(&format!("href=\"{href}"))
            .nth(1)
            .unwrap_or_else(|| panic!("a chip for {href}"));
        let chip = chip.split("</a>").next().unwrap();
        assert!(
            chip.contains(label) && chip.contains(&format!("chip__count\">{count}<")),
            "{href}: {chip}"
        );
    }
    let (_, html) = page(&visitor, "/t/acme/invoices?status=207").await;
    assert!(html.contains("chip--active\" href=\"/t/acme/invoices?status=207\""));
    app.shutdown().await;
}

#[tokio::test]
async fn bad_filters_get_a_clear_400_never_a_500() {
    let app = TestApp::spawn().await;
    app.world().await;
    let visitor = Visitor::signed_in(&app, "member@acme.fr", crate::helpers::PASSWORD).await;
    for (query, message) in [
        ("status=abc", "n’est pas un statut"),
        ("state=lost", "n’est pas un état d’envoi"),
        ("action=maybe", "Action requise"),
        ("customer=42", "n’est pas un identifiant de client"),
        ("from=yesterday", "n’est pas une date valide"),
        ("to=2026-13-45", "n’est pas une date valide"),
        (
            "from=2026-02-01&to=2026-01-01",
            "La date de début est après la date de fin",
        ),
        ("sort=random", "n’est pas un ordre de tri connu"),
        ("after=garbage", "Le lien de page n’est plus valide"),
        ("status=99999999", "n’est pas un statut"),
        ("q=%FF%FE", ""),
    ] {
        let (code, html) = page(&visitor, &format!("/t/acme/invoices?{query}")).await;
        if message.is_empty() {
            assert_eq!(code, 200, "{query}: an odd search is only a search");
            continue;
        }
        assert_eq!(code, 400, "{query}");
        assert!(html.contains(message), "{query}: {message}");
        assert!(html.contains("alert--error"));
    }
    let long = "x".repeat(300);
    let (code, html) = page(&visitor, &format!("/t/acme/invoices?q={long}")).await;
    assert_eq!(code, 400);
    assert!(html.contains("La recherche est trop longue"));
    app.shutdown().await;
}

#[tokio::test]
async fn pagination_visits_every_invoice_exactly_once_in_every_order() {
    let app = TestApp::spawn().await;
    app.world().await;
    let scope = scope(&app, "admin@acme.fr", "acme").await;
    let repo = repo(&app);
    let mut invoices = Vec::new();
    for n in 0..120_i64 {
        // Few distinct totals, so amounts tie across page boundaries.
        let total = (n % 7) * 1_000;
        let id = repo
            .create_draft(
                &scope,
                &content(
                    &format!("F2026-{n:05}"),
                    "Client",
                    None,
                    total,
                    day(2026, 1, 1),
                ),
                None,
            )
            .await
            .unwrap();
        invoices.push((id, total));
    }
    let visitor = Visitor::signed_in(&app, "viewer@acme.fr", crate::helpers::PASSWORD).await;
    for sort in ["recent", "oldest", "total_desc", "total_asc"] {
        let mut expected = invoices.clone();
        match sort {
            "recent" => expected.sort_by_key(|(id, _)| std::cmp::Reverse(*id)),
            "oldest" => expected.sort_by_key(|(id, _)| *id),
            "total_desc" => expected.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0))),
            _ => expected.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0))),
        }
        let expected: Vec<String> = expected.iter().map(|(id, _)| id.to_string()).collect();
        let mut seen = Vec::new();
        let mut path = Some(format!("/t/acme/invoices?sort={sort}&state=draft"));
        let mut pages = 0;
        while let Some(current) = path {
            let (code, html) = page(&visitor, &current).await;
            assert_eq!(code, 200, "{current}");
            let rows = row_ids(&html);
            assert!(rows.len() <= 50, "{sort}: 50 per page");
            seen.extend(rows);
            pages += 1;
            path = next_link(&html);
            if let Some(next) = &path {
                assert!(
                    next.contains(&format!("sort={sort}")) && next.contains("state=draft"),
                    "the next page keeps the filters: {next}"
                );
            }
            assert!(pages <= 3, "{sort}: no endless paging");
        }
        assert_eq!(pages, 3, "{sort}");
        assert_eq!(seen, expected, "{sort}: every row once, in order");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn the_invoice_page_tells_the_whole_story() {
    let app = TestApp::spawn().await;
    app.world().await;
    let scope = scope(&app, "admin@acme.fr", "acme").await;
    let mut content = content(
        "F2026-00042",
        "Alpha SARL",
        None,
        123_456,
        day(2026, 11, 30),
    );
    content.draft.lines[0].unit_price = "1028.80".to_owned();
    let events = vec![
        status(200, Source::SellerPlatform, at(2026, 11, 30, 10), "e-200")
            .with_description("FFE0614A"),
        StatusEvent::step(
            EventKind::TaxDataSent,
            Source::SellerPlatform,
            at(2026, 11, 30, 10),
            "e-data",
        )
        .with_description("Document data"),
        StatusEvent::step(
            EventKind::TaxReportingDone,
            Source::Ppf,
            at(2026, 11, 30, 11),
            "e-ack",
        )
        .with_description("ack"),
        status(201, Source::SellerPlatform, at(2026, 11, 30, 12), "e-201")
            .with_file_id("file-ubl-201"),
        status(203, Source::BuyerPlatform, at(2026, 11, 30, 13), "e-203"),
        disputed("e", at(2026, 12, 1, 9)).with_file_id("file-cdar-207"),
        StatusEvent::unclassified(
            Source::Unknown,
            at(2026, 12, 1, 10),
            "ZZ: something odd",
            "e-odd",
        ),
    ];
    let id = sent(&app, &scope, content, 4242, &events).await;
    repo(&app)
        .enrich_event(
            &scope,
            id,
            "e-207",
            &disputed("e", at(2026, 12, 1, 9)),
            &EventDetails {
                notes: vec![DetailNote {
                    rule: Some("BR-FR-12".into()),
                    message: "Le taux ne correspond pas".into(),
                    terms: Some("BT-152".into()),
                    reason: Some("TX_TVA_ERR".into()),
                }],
                characteristics: vec![DetailCharacteristic {
                    term: Some("BT-152".into()),
                    name: Some("Taux de TVA".into()),
                    value: Some("20".into()),
                }],
                file_name: Some("statut-207.xml".into()),
            },
        )
        .await
        .unwrap();

    let member = Visitor::signed_in(&app, "member@acme.fr", crate::helpers::PASSWORD).await;
    let (code, html) = page(&member, &format!("/t/acme/invoices/{id}")).await;
    assert_eq!(code, 200);
    for expected in [
        "F2026-00042",
        "Alpha SARL",
        &format!("1{NNBSP}028,80{NBSP}€"),
        &format!("205,76{NBSP}€"),
        &format!("1{NNBSP}234,56{NBSP}€"),
        "30/11/2026",
        "207 · En litige",
        // The needs-action box.
        "Le client conteste la facture : répondez, ou émettez un avoir ou une facture rectificative",
        "<code>TX_TVA_ERR</code> Taux de TVA erroné",
        "<code>NIN</code> Émettre une facture rectificative",
        "Le taux devrait être de 10 %",
        // The customer's endpoint in plain words.
        "0225:127362116_DEMO",
        "annuaire français de la facturation électronique",
        // The tracks.
        "acceptées par l’administration fiscale",
        "Mise à disposition de votre client",
        "Réponse du client",
        "Non payée",
        // The timeline: codes, labels, sources, informational steps, the unclassified, rule notes.
        "<span class=\"timeline__code\">200</span> · Déposée",
        "<span class=\"timeline__code\">201</span> · Émise par la plateforme",
        "<span class=\"timeline__code\">203</span> · Mise à disposition",
        "<span class=\"timeline__code\">207</span> · En litige",
        "Données fiscales envoyées",
        "Déclaration fiscale acceptée",
        "Non classé",
        "ZZ: something odd",
        "Votre plateforme (Billit)",
        "Plateforme du client",
        "Administration fiscale (PPF)",
        ">Client<",
        "<code>BR-FR-12</code> Le taux ne correspond pas",
        "BT-152",
        "statut-207.xml",
        // Files and the documents box.
        &format!("/t/acme/invoices/{id}/files/file-cdar-207"),
        &format!("/t/acme/invoices/{id}/files/file-ubl-201"),
        &format!("/t/acme/invoices/{id}/files/pdf"),
        "La facture telle qu’envoyée (XML)",
        "data-live=\"/t/acme/live\"",
    ] {
        assert!(html.contains(expected), "missing {expected:?}");
    }
    // In time order.
    let position = |text: &str| html.find(text).unwrap();
    assert!(position("· Déposée") < position("· Émise par la plateforme"));
    assert!(position("· Mise à disposition</span>") < position("Non classé"));
    // Sent: no editing or sending forms.
    assert!(!html.contains("/submit\"") && !html.contains("/delete\""));

    // The same page in English once the user switches.
    let switched = member
        .submit("/t/acme/", "/account/language", &[("language", "en")])
        .await;
    assert_eq!(switched.status(), 303);
    let (_, html) = page(&member, &format!("/t/acme/invoices/{id}")).await;
    for expected in [
        "<html lang=\"en\">",
        "207 · Disputed",
        "Wrong VAT rate",
        "Issue a corrective invoice",
        "The customer disputes the invoice",
        "€1,234.56",
        "2026-11-30",
        "Your platform (Billit)",
        "Not classified",
        "Tax data sent",
        "History",
    ] {
        assert!(html.contains(expected), "missing {expected:?} in English");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_stored_failure_reads_in_the_readers_language_and_an_old_sentence_as_it_was() {
    let app = TestApp::spawn().await;
    app.world().await;
    let scope = scope(&app, "admin@acme.fr", "acme").await;
    let repo = repo(&app);
    let coded = repo
        .create_draft(
            &scope,
            &content("F2026-00007", "Alpha", None, 12_000, day(2026, 11, 30)),
            None,
        )
        .await
        .unwrap();
    repo.mark_failed(
        &scope,
        coded,
        "billit.refused:OrderNumberAlreadyExists: Order number already exists",
    )
    .await
    .unwrap();
    let old = repo
        .create_draft(
            &scope,
            &content("F2026-00008", "Beta", None, 12_000, day(2026, 11, 30)),
            None,
        )
        .await
        .unwrap();
    repo.mark_failed(&scope, old, "Billit était en maintenance.")
        .await
        .unwrap();

    let member = Visitor::signed_in(&app, "member@acme.fr", crate::helpers::PASSWORD).await;
    let french = "Billit a déjà une facture numérotée F2026-00007 cette année : changez le numéro, puis envoyez à nouveau.";
    let english = "Billit already has an invoice numbered F2026-00007 this year: change the number, then send again.";
    for path in [
        format!("/t/acme/invoices/{coded}"),
        format!("/t/acme/invoices/{coded}/edit"),
    ] {
        let (code, html) = page(&member, &path).await;
        assert_eq!(code, 200);
        assert!(html.contains(french), "{path}: {html}");
        assert!(!html.contains("billit.refused"), "{path}: no code shown");
    }
    let (_, html) = page(&member, &format!("/t/acme/invoices/{old}")).await;
    assert!(html.contains("Billit était en maintenance."));

    let switched = member
        .submit("/t/acme/", "/account/language", &[("language", "en")])
        .await;
    assert_eq!(switched.status(), 303);
    for path in [
        format!("/t/acme/invoices/{coded}"),
        format!("/t/acme/invoices/{coded}/edit"),
    ] {
        let (_, html) = page(&member, &path).await;
        assert!(html.contains(english), "{path}: {html}");
        assert!(!html.contains(french), "{path}");
    }
    // A row written before the codes keeps its sentence, whatever the reader's language.
    let (_, html) = page(&member, &format!("/t/acme/invoices/{old}")).await;
    assert!(html.contains("Billit était en maintenance."));
    app.shutdown().await;
}

#[tokio::test]
async fn drafts_and_failed_submissions_offer_their_forms_to_members_only() {
    let app = TestApp::spawn().await;
    app.world().await;
    let scope = scope(&app, "admin@acme.fr", "acme").await;
    let repo = repo(&app);
    let draft = repo
        .create_draft(
            &scope,
            &content("F2026-00001", "Alpha", None, 12_000, day(2026, 11, 30)),
            None,
        )
        .await
        .unwrap();
    let failed = repo
        .create_draft(
            &scope,
            &content("F2026-00002", "Beta", None, 12_000, day(2026, 11, 30)),
            None,
        )
        .await
        .unwrap();
    repo.mark_failed(&scope, failed, "Billit a refusé le numéro de facture.")
        .await
        .unwrap();

    let member = Visitor::signed_in(&app, "member@acme.fr", crate::helpers::PASSWORD).await;
    let (code, html) = page(&member, &format!("/t/acme/invoices/{draft}")).await;
    assert_eq!(code, 200);
    assert!(html.contains(&format!("href=\"/t/acme/invoices/{draft}/edit\"")));
    assert!(html.contains(&format!("action=\"/t/acme/invoices/{draft}/submit\"")));
    assert!(html.contains(&format!("action=\"/t/acme/invoices/{draft}/delete\"")));
    assert!(html.contains("name=\"csrf_token\""));
    assert!(html.contains("Le suivi commence quand la facture est envoyée"));

    let (_, html) = page(&member, &format!("/t/acme/invoices/{failed}")).await;
    assert!(html.contains("Billit a refusé le numéro de facture."));
    assert!(html.contains(&format!("action=\"/t/acme/invoices/{failed}/retry\"")));
    assert!(html.contains("L’envoi à Billit a échoué") || html.contains("envoi à Billit échoue"));

    let viewer = Visitor::signed_in(&app, "viewer@acme.fr", crate::helpers::PASSWORD).await;
    let (code, html) = page(&viewer, &format!("/t/acme/invoices/{failed}")).await;
    assert_eq!(code, 200, "viewers read");
    assert!(!html.contains("/retry\"") && !html.contains("/delete\"") && !html.contains("/edit\""));
    app.shutdown().await;
}

#[tokio::test]
async fn other_tenants_get_404_on_every_view() {
    let app = TestApp::spawn().await;
    app.world().await;
    let scope = scope(&app, "admin@acme.fr", "acme").await;
    let events = vec![
        status(201, Source::SellerPlatform, at(2026, 11, 30, 12), "x-201")
            .with_file_id("acme-file"),
    ];
    let id = sent(
        &app,
        &scope,
        content("F2026-00001", "Alpha", None, 12_000, day(2026, 11, 30)),
        7,
        &events,
    )
    .await;

    let globex = Visitor::signed_in(&app, "admin@globex.fr", crate::helpers::PASSWORD).await;
    for path in [
        "/t/acme/invoices".to_owned(),
        format!("/t/acme/invoices/{id}"),
        format!("/t/acme/invoices/{id}/files/acme-file"),
        format!("/t/acme/invoices/{id}/files/pdf"),
        // Through their own tenant's URL, acme's invoice does not exist either.
        format!("/t/globex/invoices/{id}"),
        format!("/t/globex/invoices/{id}/files/acme-file"),
        format!("/t/globex/invoices/{id}/files/pdf"),
        "/t/globex/invoices/not-a-uuid".to_owned(),
    ] {
        assert_eq!(globex.get(&path).await.status(), 404, "{path}");
    }
    let (code, html) = page(&globex, "/t/globex/invoices").await;
    assert_eq!(code, 200);
    assert!(row_ids(&html).is_empty() && !html.contains("F2026-00001"));
    let (_, home) = page(&globex, "/t/globex/").await;
    assert!(!home.contains("F2026-00001"), "nor on their dashboard");

    // Not signed in: the sign-in page.
    let anonymous = Visitor::new(&app);
    assert_eq!(
        anonymous
            .get(&format!("/t/acme/invoices/{id}"))
            .await
            .status(),
        303
    );
    app.shutdown().await;
}

#[tokio::test]
async fn the_dashboard_lists_what_needs_action_oldest_request_first_and_the_latest_events() {
    let app = TestApp::spawn().await;
    app.world().await;
    let scope = scope(&app, "admin@acme.fr", "acme").await;
    let repo = repo(&app);

    // A refusal, then two open requests (the 208 older than the 207), a failed submission and a quiet one.
    let start = Utc::now() - Duration::days(20);
    let mut refused = delivered_from("r", start);
    refused.push(
        status(210, Source::Buyer, start + Duration::days(1), "r-210")
            .with_reasons(["CONTRAT_TERM"]),
    );
    let refused_content = content("F2026-00001", "Refus SA", None, 1_000, day(2026, 11, 1));
    sent(&app, &scope, refused_content, 1, &refused).await;
    let mut newer = delivered_from("n", start);
    newer.push(disputed("n", Utc::now() - Duration::days(2)));
    let newer_content = content("F2026-00002", "Recent SA", None, 2_000, day(2026, 11, 2));
    sent(&app, &scope, newer_content, 2, &newer).await;
    let mut older = delivered_from("o", start);
    older.push(
        status(208, Source::Buyer, Utc::now() - Duration::days(9), "o-208")
            .with_reasons(["JUSTIF_ABS"]),
    );
    let older_content = content("F2026-00003", "Ancien SA", None, 3_000, day(2026, 11, 3));
    sent(&app, &scope, older_content, 3, &older).await;
    let failed_content = content("F2026-00004", "Echec SA", None, 4_000, day(2026, 11, 4));
    let failed = repo
        .create_draft(&scope, &failed_content, None)
        .await
        .unwrap();
    repo.mark_failed(&scope, failed, "refusé").await.unwrap();
    let quiet_content = content("F2026-00005", "Calme SA", None, 5_000, day(2026, 11, 5));
    sent(&app, &scope, quiet_content, 5, &delivered_from("q", start)).await;

    let viewer = Visitor::signed_in(&app, "viewer@acme.fr", crate::helpers::PASSWORD).await;
    let (code, html) = page(&viewer, "/t/acme/").await;
    assert_eq!(code, 200);
    assert!(
        html.contains("La connexion à Billit n’est pas encore configurée"),
        "the alert stays"
    );
    let queue = html
        .split("class=\"queue\"")
        .nth(1)
        .unwrap()
        .split("</ul>")
        .next()
        .unwrap();
    let position = |number: &str| {
        queue
            .find(number)
            .unwrap_or_else(|| panic!("{number} in the queue"))
    };
    assert!(
        position("F2026-00003") < position("F2026-00002"),
        "the oldest request first"
    );
    assert!(position("F2026-00002") < position("F2026-00001"));
    assert!(position("F2026-00002") < position("F2026-00004"));
    assert!(
        !queue.contains("F2026-00005"),
        "nothing to do on a quiet invoice"
    );
    assert!(
        queue.contains("il y a 9 jours") && queue.contains("il y a 2 jours"),
        "ages"
    );
    assert!(queue.contains("208 · Suspendue") && queue.contains("210 · Refusée"));
    assert!(
        queue.contains("L’envoi à Billit échoue") || queue.contains("L&#39;envoi à Billit échoue")
    );

    // Counts, the latest events with their invoice, quick links, live updates.
    assert!(html.contains("href=\"/t/acme/invoices?action=1\""));
    assert!(html.contains("chip__count\">5<"), "all five");
    let recent = html.split("Derniers événements").nth(1).unwrap();
    assert_eq!(
        recent.matches("<li class=\"timeline__entry").count(),
        10,
        "the ten latest"
    );
    assert!(recent.contains("F2026-00005") && recent.contains("· Mise à disposition"));
    assert!(html.contains("href=\"/t/acme/invoices\""));
    assert!(
        !html.contains("href=\"/t/acme/invoices/new\""),
        "viewers cannot create"
    );
    assert!(html.contains("data-live=\"/t/acme/live\""));

    let member = Visitor::signed_in(&app, "member@acme.fr", crate::helpers::PASSWORD).await;
    let (_, html) = page(&member, "/t/acme/").await;
    assert!(html.contains("href=\"/t/acme/invoices/new\""));
    app.shutdown().await;
}

mod files {
    use super::*;
    use billit_sandbox::{PartyAccount, Sandbox, SandboxConfig};
    use portal_billit::classify::classify_order;
    use portal_billit::client::{BillitClient, BillitCredentials, ClientConfig, HttpBillitClient};
    use portal_billit::wire::{Identifier, Order, OrderLine, Party};
    use portal_persistence::billit_connections::{
        BillitConnectionRepository, BillitEnvironment, ConnectionSettings,
    };

    const PARTY: i64 = 1_079_374;
    const KEY: &str = "views-test-key";

    fn order(number: &str) -> Order {
        Order {
            order_number: Some(number.to_owned()),
            order_type: Some("Invoice".to_owned()),
            order_direction: Some("Income".to_owned()),
            order_date: Some(portal_billit::wire::BillitDateTime(
                "2026-11-30T00:00:00".to_owned(),
            )),
            customer: Some(Party {
                name: Some("FR demo receive".to_owned()),
                vat_number: Some("FR37127362116".to_owned()),
                identifiers: Some(vec![Identifier {
                    identifier_type: Some("CTC".to_owned()),
                    identifier: Some("127362116_DEMO".to_owned()),
                    scheme_id: Some("0225".to_owned()),
                    ..Identifier::default()
                }]),
                ..Party::default()
            }),
            order_lines: Some(vec![OrderLine {
                quantity: Some("1".parse().unwrap()),
                unit_price_excl: Some("100".parse().unwrap()),
                description: Some("Conseil".to_owned()),
                vat_percentage: Some("20".parse().unwrap()),
                ..OrderLine::default()
            }]),
            ..Order::default()
        }
    }

    #[tokio::test]
    async fn only_this_invoices_files_are_served_from_billit() {
        let sandbox = Sandbox::start(SandboxConfig {
            step_ms: 3_600_000,
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        sandbox
            .add_party(PartyAccount {
                party_id: PARTY,
                api_key: KEY.to_owned(),
                name: "ACME SAS".to_owned(),
                vat_number: "FR44732829320".to_owned(),
                email: None,
            })
            .unwrap();
        let sandbox_url = sandbox.base_url();
        let app = TestApp::spawn_with(
            move |mut config| {
                config.billit.sandbox_url = sandbox_url;
                config
            },
            |_| portal_app::worker::JobRegistry::new(),
        )
        .await;
        app.world().await;
        let scope = scope(&app, "admin@acme.fr", "acme").await;
        BillitConnectionRepository::new(app.test_db.db.clone())
            .save(
                &scope,
                ConnectionSettings {
                    environment: BillitEnvironment::Sandbox,
                    api_key_encrypted: Some(
                        portal_app::crypto::encrypt(&app.state.master_key, scope.tenant_id(), KEY)
                            .unwrap(),
                    ),
                    party_id: Some(PARTY),
                    context_party_id: None,
                },
                None,
            )
            .await
            .unwrap();

        // A real order, sent and advanced through its scenario; its messages become the invoice's events.
        let client = HttpBillitClient::new(
            &sandbox.base_url(),
            &BillitCredentials {
                api_key: KEY.to_owned(),
                party_id: PARTY.to_string(),
                context_party_id: None,
            },
            &ClientConfig::default(),
        )
        .unwrap();
        let order_id = client
            .create_order(&order("F2026-00001"), "views-test-1")
            .await
            .unwrap();
        client.send_orders(&[order_id], "Peppol").await.unwrap();
        sandbox.advance();
        let classified = classify_order(&client.get_order(order_id).await.unwrap());
        let file_id = classified
            .events
            .iter()
            .find_map(|event| event.file_id.clone())
            .expect("the scenario has files");
        let repo = repo(&app);
        let id = repo
            .create_draft(
                &scope,
                &content(
                    "F2026-00001",
                    "FR demo receive",
                    None,
                    12_000,
                    day(2026, 11, 30),
                ),
                None,
            )
            .await
            .unwrap();
        repo.set_order_id(&scope, id, order_id).await.unwrap();
        repo.mark_sent(&scope, id, Utc::now()).await.unwrap();
        repo.append_events(&scope, id, &classified.events, "poll")
            .await
            .unwrap();
        repo.refold(&scope, id).await.unwrap();
        // Another invoice of the same tenant, whose file must not be reachable through the first one.
        let other = sent(
            &app,
            &scope,
            content("F2026-00002", "Other", None, 1_000, day(2026, 11, 30)),
            999_999,
            &[
                status(201, Source::SellerPlatform, at(2026, 11, 30, 9), "o-201")
                    .with_file_id("other-invoices-file"),
            ],
        )
        .await;

        let viewer = Visitor::signed_in(&app, "viewer@acme.fr", crate::helpers::PASSWORD).await;
        let (code, html) = page(&viewer, &format!("/t/acme/invoices/{id}")).await;
        assert_eq!(code, 200);
        assert!(
            html.contains(&format!("/files/{file_id}\"")),
            "the file is linked"
        );

        let served = viewer
            .get(&format!("/t/acme/invoices/{id}/files/{file_id}"))
            .await;
        assert_eq!(served.status(), 200);
        let disposition = served.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            disposition.starts_with("attachment; filename=\""),
            "{disposition}"
        );
        assert!(
            !served.headers()["content-type"]
                .to_str()
                .unwrap()
                .contains("html")
        );
        assert!(!served.bytes().await.unwrap().is_empty());

        let pdf = viewer
            .get(&format!("/t/acme/invoices/{id}/files/pdf"))
            .await;
        assert_eq!(pdf.status(), 200, "the order's PDF, looked up at Billit");
        assert!(
            pdf.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment;")
        );

        for refused in [
            format!("/t/acme/invoices/{id}/files/some-other-billit-file"),
            format!("/t/acme/invoices/{id}/files/other-invoices-file"),
            format!("/t/acme/invoices/{other}/files/{file_id}"),
        ] {
            assert_eq!(viewer.get(&refused).await.status(), 404, "{refused}");
        }
        let globex = Visitor::signed_in(&app, "admin@globex.fr", crate::helpers::PASSWORD).await;
        assert_eq!(
            globex
                .get(&format!("/t/acme/invoices/{id}/files/{file_id}"))
                .await
                .status(),
            404
        );
        app.shutdown().await;
        sandbox.shutdown().await;
    }
}
