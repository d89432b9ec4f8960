//! The firm's exception inbox, kind by kind, over real HTTP: a failing Billit connection (the sandbox refusing the
//! company's key), a payment whose 212 report Billit refused, an email the mail server would not take, and paging
//! through the page's own "next" links; and bulk onboarding into accountants' portfolios.

use crate::editor::{API_KEY, PARTY_ID, billit_app, connect_billit};
use crate::helpers::{PASSWORD, TestApp, Visitor};
use billit_sandbox::PartyAccount;
use portal_persistence::TenantRole;
use portal_persistence::entities::{billit_health, firm_portfolios};
use portal_persistence::firm::FirmRepository;
use sea_orm::{EntityTrait, PaginatorTrait};

/// The rows of the inbox page, as `(kind, company, number)` in order.
pub(crate) fn rows(html: &str) -> Vec<(String, String, String)> {
    html.split("<tr class=\"firm-row\"")
        .skip(1)
        .map(|row| {
            let attr = |name: &str| {
                row.split(&format!("{name}=\""))
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap()
                    .to_owned()
            };
            (attr("data-kind"), attr("data-company"), attr("data-number"))
        })
        .collect()
}

/// The inbox row of `kind`, as HTML (the first one).
fn row_of<'h>(html: &'h str, kind: &str) -> Option<&'h str> {
    html.split("<tr class=\"firm-row\"")
        .skip(1)
        .find(|row| row.contains(&format!("data-kind=\"{kind}\"")))
        .and_then(|row| row.split("</tr>").next())
}

async fn text(visitor: &Visitor<'_>, path: &str) -> String {
    let response = visitor.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

/// The sandbox's account for acme, with `key`.
fn acme_account(key: &str) -> PartyAccount {
    PartyAccount {
        party_id: PARTY_ID,
        api_key: key.to_owned(),
        name: "ACME SAS".to_owned(),
        vat_number: "FR44732829320".to_owned(),
        email: None,
    }
}

#[tokio::test]
async fn a_billit_connection_that_fails_is_an_inbox_row_until_a_call_succeeds_again() {
    let (app, sandbox) = billit_app().await;
    app.world().await;
    connect_billit(&app).await;
    app.firm_admin("boss@cabinet.fr").await;
    let boss = Visitor::signed_in(&app, "boss@cabinet.fr", PASSWORD).await;
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let html = text(&boss, "/firm").await;
    assert!(
        row_of(&html, "connection").is_none(),
        "a working connection waits for nobody"
    );

    // Billit no longer knows acme's key: the connection test is answered 401.
    sandbox
        .add_party(acme_account("a-key-billit-forgot"))
        .unwrap();
    let tested = admin
        .submit(
            "/t/acme/settings/billit",
            "/t/acme/settings/billit/test",
            &[],
        )
        .await;
    assert!(!tested.status().is_server_error(), "{}", tested.status());

    let html = text(&boss, "/firm").await;
    let row = row_of(&html, "connection").expect("the failing connection is listed");
    assert!(row.contains("data-company=\"ACME SAS\""), "{row}");
    assert!(
        row.contains("Connexion Billit en échec : Billit refuse la clé d’API ou le PartyID."),
        "the error in words: {row}"
    );
    assert!(
        row.contains("vérifier la clé d’API et le PartyID dans les paramètres Billit"),
        "what to do: {row}"
    );
    assert!(
        row.contains("href=\"/t/acme/settings/billit\""),
        "a link to the company's Billit settings: {row}"
    );
    assert!(row.contains("0 j"), "since when: {row}");
    assert!(
        html.contains("Connexion Billit en échec <span class=\"chip__count\">1</span>"),
        "counted with its kind"
    );
    let only = text(&boss, "/firm?kind=connection").await;
    let listed = rows(&only);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].0, "connection");
    let csv = text(&boss, "/firm/export.csv?kind=connection").await;
    assert!(
        csv.contains("Connexion Billit en échec")
            && csv.contains("/t/acme/settings/billit")
            && csv.contains("Billit refuse la clé d’API ou le PartyID"),
        "{csv}"
    );

    // A second failure by another path (registering the webhooks) keeps the row where it was: it waits since the
    // first failure.
    let health = || async {
        billit_health::Entity::find_by_id(app.world_tenant_id("acme").await)
            .one(&app.test_db.db)
            .await
            .unwrap()
            .unwrap()
    };
    let first = health().await;
    let refused = admin
        .submit(
            "/t/acme/settings/billit",
            "/t/acme/settings/billit/webhook",
            &[],
        )
        .await;
    assert!(!refused.status().is_server_error(), "{}", refused.status());
    let second = health().await;
    assert!(second.last_error_at > first.last_error_at, "recorded again");
    assert_eq!(second.failing_since, first.failing_since);
    assert_eq!(second.failing_since, first.last_error_at);
    let html = text(&boss, "/firm").await;
    assert_eq!(
        rows(&html)
            .iter()
            .filter(|(kind, _, _)| kind == "connection")
            .count(),
        1,
        "one row per company"
    );

    // Billit knows the key again; the next call (the connection test) succeeds and the row leaves.
    sandbox.add_party(acme_account(API_KEY)).unwrap();
    let tested = admin
        .submit(
            "/t/acme/settings/billit",
            "/t/acme/settings/billit/test",
            &[],
        )
        .await;
    assert!(!tested.status().is_server_error(), "{}", tested.status());
    let html = text(&boss, "/firm").await;
    assert!(
        row_of(&html, "connection").is_none(),
        "a later success removes the row"
    );
    assert!(html.contains("Connexion Billit en échec <span class=\"chip__count\">0</span>"));
    app.shutdown().await;
    sandbox.shutdown().await;
}

/// A firm accountant named in the bulk onboarding file gets the company in their portfolio, with the file's role
/// (member unless it says admin), in the company's own transaction; the preview and the report say so, and an
/// email that is no accountant's creates the company outside any portfolio, in words.
#[tokio::test]
async fn bulk_onboarding_puts_each_company_in_the_portfolio_the_file_names() {
    let app = TestApp::spawn().await;
    app.firm_admin("boss@cabinet.fr").await;
    let julie = app.user("julie@cabinet.fr", None, TenantRole::Viewer).await;
    FirmRepository::new(app.test_db.db.clone())
        .add_accountant(julie)
        .await
        .unwrap();
    let boss = Visitor::signed_in(&app, "boss@cabinet.fr", PASSWORD).await;
    let csv = "\u{feff}name;siren;address;postcode;city;admin_email;admin_name;billit_party_id;accountant_email;accountant_role\r\n\
               Boulangerie Émile;552100554;1 rue du Four;75011;Paris;emile@boulangerie.fr;Émile Martin;;Julie@Cabinet.fr;\r\n\
               Garage Dupont;542065479;2 route de Lyon;69003;Lyon;dupont@garage.fr;Jean Dupont;;julie@cabinet.fr;admin\r\n\
               Hôtel Lune;380129866;3 rue X;13001;Marseille;a@lune.fr;A B;;nobody@cabinet.fr;\r\n\
               Mauvais rôle;443061841;4 rue Y;13001;Marseille;c@d.fr;C D;;julie@cabinet.fr;chef\r\n";
    let (status, html) = crate::console::preview(&boss, csv.as_bytes()).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("3 entreprise(s) prête(s) à créer, 1 ligne(s) à corriger"),
        "{html}"
    );
    assert!(
        html.contains("julie@cabinet.fr (Membre)") || html.contains("Julie@Cabinet.fr (Membre)")
    );
    assert!(html.contains("julie@cabinet.fr (Administrateur)"), "{html}");
    assert!(
        html.contains("aucun collaborateur actif du cabinet n’a cet e-mail"),
        "{html}"
    );
    assert!(
        html.contains("le rôle du collaborateur doit être"),
        "{html}"
    );
    assert!(
        firm_portfolios::Entity::find()
            .all(&app.test_db.db)
            .await
            .unwrap()
            .is_empty(),
        "a preview writes nothing"
    );

    let (status, report) = crate::console::confirm(&boss, &html).await;
    assert_eq!(status, 200, "{report}");
    assert!(
        report.contains("3 entreprise(s) créée(s), 1 ligne(s) ignorée(s)."),
        "{report}"
    );
    assert!(
        report.contains("Ajoutée au portefeuille de Julie@Cabinet.fr (Membre)"),
        "{report}"
    );
    assert!(report.contains("Ajoutée au portefeuille de julie@cabinet.fr (Administrateur)"));
    assert!(report.contains("Dans aucun portefeuille : aucun collaborateur actif du cabinet n’a l’e-mail nobody@cabinet.fr."));
    let held: Vec<(String, String)> = app
        .state
        .firm
        .portfolio(julie)
        .await
        .unwrap()
        .into_iter()
        .map(|(tenant, role)| (tenant.siren, role.as_str().to_owned()))
        .collect();
    let mut held = held;
    held.sort();
    assert_eq!(
        held,
        [
            ("542065479".to_owned(), "admin".to_owned()),
            ("552100554".to_owned(), "member".to_owned())
        ]
    );
    assert_eq!(
        firm_portfolios::Entity::find()
            .count(&app.test_db.db)
            .await
            .unwrap(),
        2,
        "the unknown email's company is in no portfolio"
    );
    // The accountant now sees the new companies on the console.
    let julie_visitor = Visitor::signed_in(&app, "julie@cabinet.fr", PASSWORD).await;
    let companies = text(&julie_visitor, "/firm/companies").await;
    assert!(companies.contains("Garage Dupont") && companies.contains("Boulangerie Émile"));
    assert!(!companies.contains("Hôtel Lune"));
    app.shutdown().await;
}

/// A payment whose 212 report Billit refused is a row of the inbox (its sentence, the invoice's link) until a
/// member deals with it (here: cancels it).
#[tokio::test]
async fn a_refused_payment_report_is_listed_until_the_payment_is_dealt_with() {
    use crate::payments::{all_in, payments_of, record, send_invoice, today, wait_for_states};
    use crate::statuses::{ACME, Setup, party_account};
    use portal_persistence::payments::PaymentState;
    let setup = Setup::start().await;
    let scope = setup.connect("acme", ACME).await;
    setup.app.firm_admin("boss@cabinet.fr").await;
    let member = Visitor::signed_in(&setup.app, "member@acme.fr", PASSWORD).await;
    let boss = Visitor::signed_in(&setup.app, "boss@cabinet.fr", PASSWORD).await;
    let sent = send_invoice(&setup, &member, 1).await;
    let number = format!("F{}-00001", crate::editor::year());

    // Billit no longer takes the company's key: the payment's report is refused.
    setup
        .sandbox
        .add_party(party_account((ACME.0, "revoked-at-billit")))
        .unwrap();
    let response = record(&member, &sent, "100", &today(), "transfer", "VIR-9").await;
    assert_eq!(response.status(), 303);
    wait_for_states(&setup, &scope, &sent, "the payment failed", |p| {
        all_in(p, PaymentState::Failed)
    })
    .await;

    let html = text(&boss, "/firm?kind=payment").await;
    let row = row_of(&html, "payment").expect("the refused report is listed");
    assert!(row.contains(&format!("data-number=\"{number}\"")), "{row}");
    assert!(row.contains("212"), "the official code: {row}");
    assert!(
        row.contains(
            "Billit a refusé le paiement déclaré (212) : le vérifier puis le renvoyer ou l’annuler."
        ),
        "what to do: {row}"
    );
    assert!(
        row.contains(&format!("href=\"{}\"", sent.page())),
        "a link to the invoice inside its company: {row}"
    );
    assert!(
        html.contains("Paiements refusés (212) <span class=\"chip__count\">1</span>"),
        "counted"
    );

    // The member cancels the payment: nothing waits any more.
    let failed = payments_of(&setup, &scope, &sent).await[0].clone();
    let cancel = format!("{}/{}/cancel", sent.payments(), failed.id);
    assert_eq!(
        member.submit(&sent.page(), &cancel, &[]).await.status(),
        303
    );
    let html = text(&boss, "/firm").await;
    assert!(row_of(&html, "payment").is_none(), "resolved, it leaves");
    assert!(html.contains("Paiements refusés (212) <span class=\"chip__count\">0</span>"));
    setup.app.shutdown().await;
}

/// An email the mail server refused is a row of the inbox (the server's answer in words, a link to the
/// company's sent emails) until someone sends it again.
#[tokio::test]
async fn an_undelivered_email_is_listed_until_it_is_sent_again() {
    use crate::outbox::{demo_app, email, queue_for};
    let app = demo_app().await;
    app.world().await;
    app.firm_admin("boss@cabinet.fr").await;
    let id = queue_for(
        &app,
        "admin@acme.fr",
        "acme",
        email("compta@globex.fr", "Votre facture", "<p>Bonjour</p>"),
    )
    .await;
    app.state
        .outbox
        .mark_attempt_failed(id, "mail.refused:550 5.1.1 mailbox unavailable", true)
        .await
        .unwrap();
    let boss = Visitor::signed_in(&app, "boss@cabinet.fr", PASSWORD).await;
    let html = text(&boss, "/firm").await;
    let row = row_of(&html, "email").expect("the undelivered email is listed");
    assert!(
        row.contains("data-company=\"ACME SAS\"") || row.contains("ACME"),
        "{row}"
    );
    assert!(
        row.contains(
            "Un e-mail n’a pas pu être remis : vérifier l’adresse du destinataire puis le renvoyer."
        ),
        "what to do: {row}"
    );
    assert!(row.contains("550"), "the server's answer: {row}");
    assert!(
        row.contains("href=\"/t/acme/settings/outbox\""),
        "a link to the company's sent emails: {row}"
    );

    // The company's admin sends it again: it waits for nobody any more.
    let admin = Visitor::signed_in(&app, "admin@acme.fr", PASSWORD).await;
    let page = format!("/t/acme/settings/outbox/{id}");
    let retried = admin.submit(&page, &format!("{page}/retry"), &[]).await;
    assert_eq!(retried.status(), 303);
    let html = text(&boss, "/firm").await;
    assert!(row_of(&html, "email").is_none(), "sent again, it leaves");
    app.shutdown().await;
}

/// More rows than a page holds: following the page's own "next" links lists every row once, oldest first, and
/// the last page has no "next".
#[tokio::test]
async fn the_next_links_page_through_every_row_once_oldest_first() {
    use crate::outbox::{demo_app, email, queue_for};
    let app = demo_app().await;
    app.world().await;
    app.firm_admin("boss@cabinet.fr").await;
    let total = usize::try_from(portal_app::firm::PAGE_SIZE).unwrap() + 7;
    for (index, slug) in
        (0..total).map(|index| (index, if index % 2 == 0 { "acme" } else { "globex" }))
    {
        let admin = format!("admin@{slug}.fr");
        let id = queue_for(
            &app,
            &admin,
            slug,
            email(
                "compta@client.fr",
                &format!("Relance {index}"),
                "<p>Bonjour</p>",
            ),
        )
        .await;
        app.state
            .outbox
            .mark_attempt_failed(id, "mail.refused:550 no", true)
            .await
            .unwrap();
    }
    let boss = Visitor::signed_in(&app, "boss@cabinet.fr", PASSWORD).await;
    let mut seen: Vec<String> = Vec::new();
    let mut since: Vec<String> = Vec::new();
    // The emails' view (the filter is kept by the links).
    let mut next = Some("/firm?kind=email".to_owned());
    let mut pages = 0;
    while let Some(path) = next {
        pages += 1;
        assert!(pages <= 3, "the links end: {path}");
        let html = text(&boss, &path).await;
        for row in html.split("<tr class=\"firm-row\"").skip(1) {
            let row = row.split("</tr>").next().unwrap();
            let link = row
                .split("data-item=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or(row)
                .to_owned();
            seen.push(link);
            since.push(
                row.split("data-since=\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap()
                    .to_owned(),
            );
        }
        next = html
            .split("rel=\"next\" href=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(|href| href.replace("&#38;", "&").replace("&amp;", "&"));
    }
    assert_eq!(pages, 2);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "each row once: {seen:?}");
    assert_eq!(seen.len(), total, "every row");
    let mut sorted = since.clone();
    sorted.sort();
    assert_eq!(since, sorted, "oldest first across pages");
    app.shutdown().await;
}
