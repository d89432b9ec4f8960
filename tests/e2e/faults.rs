//! Fault injection: the real `portal` binary is killed with SIGKILL at random moments while it submits invoices,
//! ingests the Billit sandbox's webhooks, records payments and emails answers to 207/208 requests; it is started
//! again at once (same data, same port), the work goes on, and after the last kill everything must converge to
//! the truth kept outside the portal: the Billit sandbox (run by this test's process, over real HTTP, so it
//! outlives every kill) and a real SMTP server (Python's aiosmtpd, one file per message received).
//!
//! The work: the demonstration (two companies, their customers, 26 invoices queued at the first start), plus
//! invoices typed in the editor and sent (`POST /t/{slug}/invoices`, action `send`) to customers of the plain,
//! `_DEMO`, `_DISPUTE` and `_SUSPEND` scenarios, "mark as fully paid" on sent invoices of the plain and `_DEMO`
//! scenarios, and an answer to every open 207/208 (the multipart answer form), all through the pages with the
//! session and CSRF token of each company's administrator. Each of these acts like a careful person: before
//! doing something again after a kill, it looks whether it was done (the invoice exists and was queued, the
//! invoice has a payment, the invoice has an answer).
//!
//! `PORTAL_FAULTS_KILLS` sets the number of kills (default 8: 25 to 45 s here), `PORTAL_FAULTS_SEED`
//! replays a run (the seed is printed first: it decides the delays before each kill and the invoices typed).
//! With `PORTAL_TEST_DATABASE_URL` the portal runs on a fresh PostgreSQL database, otherwise on a SQLite file.
//!
//! What is asserted, once the run converged (each condition is polled with a generous deadline, then asserted
//! with the details of what differs):
//! 1. **Every invoice exactly one order at Billit**: per company, Billit holds one order per invoice number, no
//!    more; every invoice the portal queued (the demonstration's and the ones typed here) ended `sent` with the
//!    id of that order.
//! 2. **No status lost**: for every sent invoice, every status observation classified from Billit's order
//!    (`portal_billit::classify::classify_order`: the dedup keys webhooks and polls share) is in the invoice's
//!    event log, and the stored headline is the fold of those observations.
//! 3. **Every payment reported once**: every payment recorded here ended `accepted` (reported, and Billit's
//!    `CashCollected: Recevable` came back), and each order carries exactly as many `CashCollected` reports as
//!    the invoice has payments.
//! 4. **Every email delivered at most once, and none lost without a trace**: every outbox row ended `sent` or
//!    `uncertain` (none left `queued`, `sending` or `failed`); no Message-ID reached the SMTP server twice; a
//!    `sent` row reached it exactly once; an `uncertain` row (its worker died after `begin_sending`, before or
//!    after the SMTP exchange: the portal cannot know which, so it never sends it again by itself) reached it at
//!    most once, and when it is an answer to a customer the invoice's page says "Peut-être envoyé" to the person
//!    who decides whether to send it again; every message the server received belongs to an outbox row. Every
//!    answer posted here has its outbox row, and every invoice that entered a 207/208 produced its "action
//!    required" email to each of the company's people (admin and member, both keep the alert on).
//! 5. No job is dead (a dead job is work the portal gave up on), except a periodic sweep (`billit.sweep`,
//!    `billit.sweep_tenant`) killed during its last attempt whose work a later sweep of the same company did.

use crate::demo::sign_in;
use crate::process::{Server, Setup};
use crate::smtp::SmtpServer;
use billit_sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use portal_persistence::entities::{
    invoice_emails, invoice_events, invoices, jobs, outbox, payments, tenants,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The demonstration's companies: slug, Billit party id (fixed by the demonstration), administrator's email.
const COMPANIES: [(&str, i64, &str); 2] = [
    ("atelier-martin", 910_001, "claire@atelier-martin.fr"),
    (
        "boulangerie-dupont",
        910_002,
        "sophie@boulangerie-dupont.fr",
    ),
];

/// The people of each company who get "action required" emails (the demonstration's admin and member).
const ALERTED: [(&str, [&str; 2]); 2] = [
    (
        "atelier-martin",
        ["claire@atelier-martin.fr", "paul@atelier-martin.fr"],
    ),
    (
        "boulangerie-dupont",
        ["sophie@boulangerie-dupont.fr", "luc@boulangerie-dupont.fr"],
    ),
];

/// Scenarios whose invoices get paid here: the buyer's own payment statuses (`_PAID`) would race with ours, and
/// disputed, refused or rejected invoices are not for paying.
const UNPAYABLE_SUFFIXES: [&str; 6] = [
    "_PAID", "_DISPUTE", "_SUSPEND", "_REFUSE", "_REJECT", "_ERROR",
];

/// Periodic jobs whose next run does the work of one that died.
const SWEEPS: [&str; 2] = ["billit.sweep", "billit.sweep_tenant"];

/// How long the run may take to converge after the last restart: the work the kills held back drains then
/// (100 kills leave a backlog of a few minutes on two shared cores).
fn convergence(kills: u64) -> Duration {
    Duration::from_secs(120 + 3 * kills)
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|value| {
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {value:?}"))
    })
}

/// A valid SIREN (Luhn) from eight random digits.
fn siren(rng: &mut StdRng) -> String {
    let mut digits: Vec<u32> = (0..8).map(|_| rng.random_range(0..10)).collect();
    let sum = |digits: &[u32]| -> u32 {
        digits
            .iter()
            .rev()
            .enumerate()
            .map(|(position, digit)| {
                if position % 2 == 1 {
                    let doubled = digit * 2;
                    doubled / 10 + doubled % 10
                } else {
                    *digit
                }
            })
            .sum()
    };
    let check = (0..10)
        .find(|check| {
            let mut all = digits.clone();
            all.push(*check);
            sum(&all) % 10 == 0
        })
        .unwrap();
    digits.push(check);
    digits.iter().map(|digit| digit.to_string()).collect()
}

/// An invoice this run types in the editor and sends.
#[derive(Debug, Clone)]
struct Planned {
    slug: &'static str,
    number: String,
    suffix: &'static str,
    siren: String,
}

/// A company's signed-in administrator: the cookie jar (the session survives restarts: it is in the database)
/// and the CSRF token of that session.
struct Person {
    client: reqwest::Client,
    csrf: String,
}

fn csrf_in(html: &str) -> String {
    html.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page has a form with a csrf_token")
        .to_owned()
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// What the test needs from the database (read only; every change goes through the portal's pages).
struct Store {
    db: DatabaseConnection,
    tenants: HashMap<&'static str, Uuid>,
}

impl Store {
    async fn open(setup: &Setup) -> Self {
        let db = match &setup.database {
            Some(database) => database.db.clone(),
            None => portal_persistence::db::connect(
                &portal_persistence::DatabaseTarget::SqliteFile(setup.data_dir.join("portal.db")),
                &portal_persistence::PoolSettings::default(),
            )
            .await
            .unwrap(),
        };
        let mut ids = HashMap::new();
        for row in tenants::Entity::find().all(&db).await.unwrap() {
            if let Some((slug, _, _)) = COMPANIES.iter().find(|(slug, _, _)| *slug == row.slug) {
                ids.insert(*slug, row.id);
            }
        }
        assert_eq!(ids.len(), 2, "the demonstration's companies exist");
        Self { db, tenants: ids }
    }

    fn slug_of(&self, tenant: Uuid) -> &'static str {
        self.tenants
            .iter()
            .find(|(_, id)| **id == tenant)
            .map(|(slug, _)| *slug)
            .unwrap()
    }

    /// The invoices of the two companies the run works in (the demonstration's other companies are left alone).
    async fn invoices(&self) -> Vec<invoices::Model> {
        invoices::Entity::find()
            .filter(invoices::Column::TenantId.is_in(self.tenants.values().copied()))
            .all(&self.db)
            .await
            .unwrap()
    }
}

/// The scenario suffix of an invoice's buyer (`""` for the plain one), read from its electronic address.
fn suffix_of(invoice: &invoices::Model) -> String {
    let buyer: serde_json::Value = serde_json::from_str(&invoice.buyer).unwrap_or_default();
    let address = buyer["electronic_address"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| buyer["electronic_address"].to_string());
    address
        .split_once('_')
        .map(|(_, suffix)| format!("_{}", suffix.trim_end_matches('"')))
        .unwrap_or_default()
}

fn first_contact(invoice: &invoices::Model) -> String {
    let buyer: serde_json::Value = serde_json::from_str(&invoice.buyer).unwrap();
    buyer["contact_emails"][0]
        .as_str()
        .unwrap_or_else(|| panic!("a contact email in {}", invoice.buyer))
        .to_owned()
}

/// The person driving the portal: what was planned, and what is left to do (always decided from the database).
struct Driver {
    base: String,
    people: HashMap<&'static str, Person>,
    plan: Vec<Planned>,
    /// Invoices the portal refused to mark paid (not payable yet or any more): not asked again.
    refused_payments: HashSet<Uuid>,
    /// Answers posted (the invoice) that the portal refused: not asked again.
    refused_answers: HashSet<Uuid>,
    actions: BTreeMap<&'static str, usize>,
}

impl Driver {
    /// One round of work: the next typed invoices, payments and answers that are due. A kill may cut it anywhere
    /// (the future is dropped); the next round looks again at what was done.
    async fn round(&mut self, store: &Store, creations: usize) {
        let mut created = 0;
        for planned in self.plan.clone() {
            if created == creations {
                break;
            }
            if self.ensure_sent(store, &planned).await {
                created += 1;
            }
        }
        let all = store.invoices().await;
        let paid: HashSet<Uuid> = payments::Entity::find()
            .all(&store.db)
            .await
            .unwrap()
            .into_iter()
            .map(|payment| payment.invoice_id)
            .collect();
        let payable: Vec<&invoices::Model> = all
            .iter()
            .filter(|invoice| {
                invoice.submission_state == "sent"
                    && invoice.payment == "unpaid"
                    && invoice.document_type == "invoice"
                    && !paid.contains(&invoice.id)
                    && !self.refused_payments.contains(&invoice.id)
                    && !UNPAYABLE_SUFFIXES.contains(&suffix_of(invoice).as_str())
            })
            .collect();
        for invoice in payable.into_iter().take(3) {
            self.pay(store, invoice).await;
        }
        let answered: HashSet<Uuid> = invoice_emails::Entity::find()
            .all(&store.db)
            .await
            .unwrap()
            .into_iter()
            .map(|email| email.invoice_id)
            .collect();
        let open: Vec<&invoices::Model> = all
            .iter()
            .filter(|invoice| {
                matches!(invoice.open_request_code, Some(207 | 208))
                    && !answered.contains(&invoice.id)
                    && !self.refused_answers.contains(&invoice.id)
            })
            .collect();
        for invoice in open.into_iter().take(2) {
            self.answer(store, invoice).await;
        }
    }

    /// Whether there is anything left for a round to do.
    async fn idle(&self, store: &Store) -> bool {
        let all = store.invoices().await;
        let unsent = self.plan.iter().any(|planned| {
            !all.iter().any(|invoice| {
                invoice.number.as_deref() == Some(planned.number.as_str())
                    && invoice.tenant_id == store.tenants[planned.slug]
                    && invoice.submission_state != "draft"
            })
        });
        if unsent {
            return false;
        }
        let paid: HashSet<Uuid> = payments::Entity::find()
            .all(&store.db)
            .await
            .unwrap()
            .into_iter()
            .map(|payment| payment.invoice_id)
            .collect();
        let answered: HashSet<Uuid> = invoice_emails::Entity::find()
            .all(&store.db)
            .await
            .unwrap()
            .into_iter()
            .map(|email| email.invoice_id)
            .collect();
        !all.iter().any(|invoice| {
            (invoice.submission_state == "sent"
                && invoice.payment == "unpaid"
                && invoice.document_type == "invoice"
                && !paid.contains(&invoice.id)
                && !self.refused_payments.contains(&invoice.id)
                && !UNPAYABLE_SUFFIXES.contains(&suffix_of(invoice).as_str()))
                || (matches!(invoice.open_request_code, Some(207 | 208))
                    && !answered.contains(&invoice.id)
                    && !self.refused_answers.contains(&invoice.id))
        })
    }

    /// Types and sends a planned invoice, unless it was; a draft left by a kill between saving and queueing is
    /// sent from its page. Returns whether it did something.
    async fn ensure_sent(&mut self, store: &Store, planned: &Planned) -> bool {
        let tenant = store.tenants[planned.slug];
        let existing = invoices::Entity::find()
            .filter(invoices::Column::TenantId.eq(tenant))
            .filter(invoices::Column::Number.eq(planned.number.as_str()))
            .one(&store.db)
            .await
            .unwrap();
        let person = &self.people[planned.slug];
        match existing {
            Some(invoice) if invoice.submission_state != "draft" => false,
            Some(draft) => {
                let response = person
                    .client
                    .post(format!(
                        "{}/t/{}/invoices/{}/submit",
                        self.base, planned.slug, draft.id
                    ))
                    .header("X-CSRF-Token", &person.csrf)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    response.status(),
                    303,
                    "sending the draft {} again: {}",
                    planned.number,
                    response.text().await.unwrap_or_default()
                );
                *self.actions.entry("draft sent again").or_default() += 1;
                true
            }
            None => {
                let address = format!("0225:{}{}", planned.siren, planned.suffix);
                let today = portal_app::dates::today().to_string();
                let form: Vec<(&str, &str)> = vec![
                    ("document_type", "invoice"),
                    ("number", &planned.number),
                    ("issue_date", &today),
                    ("due_date", ""),
                    ("currency", "EUR"),
                    ("customer_id", ""),
                    ("buyer_legal_name", "Client Panne SARL"),
                    ("buyer_siren", &planned.siren),
                    ("buyer_electronic_address", &address),
                    ("buyer_emails", "compta@client-panne.fr"),
                    ("buyer_street", "1 rue de la Paix"),
                    ("buyer_postcode", "75002"),
                    ("buyer_city", "Paris"),
                    ("buyer_country", "FR"),
                    ("buyer_language", "fr"),
                    ("line_description", "Conseil"),
                    ("line_quantity", "3"),
                    ("line_unit", "HUR"),
                    ("line_unit_price", "100"),
                    ("line_vat_rate", "20"),
                    ("line_exemption", ""),
                    ("purchase_order", "PO-PANNE"),
                    ("action", "send"),
                ];
                let response = person
                    .client
                    .post(format!("{}/t/{}/invoices", self.base, planned.slug))
                    .header("X-CSRF-Token", &person.csrf)
                    .form(&form)
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                let to = location(&response);
                assert!(
                    status == 303 && !to.contains("/edit"),
                    "typing and sending {}: {status} {to} {}",
                    planned.number,
                    response.text().await.unwrap_or_default()
                );
                *self.actions.entry("invoice typed and sent").or_default() += 1;
                true
            }
        }
    }

    async fn pay(&mut self, store: &Store, invoice: &invoices::Model) {
        let slug = store.slug_of(invoice.tenant_id);
        let person = &self.people[slug];
        let response = person
            .client
            .post(format!(
                "{}/t/{slug}/invoices/{}/payments/full",
                self.base, invoice.id
            ))
            .header("X-CSRF-Token", &person.csrf)
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            303 => *self.actions.entry("payment recorded").or_default() += 1,
            409 | 422 => {
                self.refused_payments.insert(invoice.id);
                *self.actions.entry("payment refused").or_default() += 1;
            }
            other => panic!(
                "marking {:?} paid: {other} {}",
                invoice.number,
                response.text().await.unwrap_or_default()
            ),
        }
    }

    async fn answer(&mut self, store: &Store, invoice: &invoices::Model) {
        let slug = store.slug_of(invoice.tenant_id);
        let person = &self.people[slug];
        let boundary = format!("faults{}", Uuid::now_v7().simple());
        let number = invoice.number.clone().unwrap_or_default();
        let fields = [
            ("to", first_contact(invoice)),
            ("subject", format!("Facture {number} : notre réponse")),
            (
                "body",
                "Bonjour,\nVoici les éléments demandés.\nCordialement".to_owned(),
            ),
            ("action", "send".to_owned()),
        ];
        let mut body = String::new();
        for (name, value) in &fields {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        let response = person
            .client
            .post(format!(
                "{}/t/{slug}/invoices/{}/answer",
                self.base, invoice.id
            ))
            .header("X-CSRF-Token", &person.csrf)
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            303 => *self.actions.entry("answer sent").or_default() += 1,
            // The request was closed meanwhile.
            409 => {
                self.refused_answers.insert(invoice.id);
                *self.actions.entry("answer refused").or_default() += 1;
            }
            other => panic!(
                "answering {number}: {other} {}",
                response.text().await.unwrap_or_default()
            ),
        }
    }
}

/// Everything the portal must agree with at the end; each check says what differs.
struct Truth<'a> {
    store: &'a Store,
    sandbox: &'a RunningSandbox,
    smtp: &'a SmtpServer,
    plan: &'a [Planned],
}

impl Truth<'_> {
    async fn check(&self) -> Result<String, String> {
        let all = self.store.invoices().await;
        let mut problems = Vec::new();
        let mut orders = HashMap::new();
        for (slug, party, _) in COMPANIES {
            let tenant = self.store.tenants[slug];
            let mut by_number: BTreeMap<String, Vec<portal_billit::wire::Order>> = BTreeMap::new();
            for order in self.sandbox.orders_of(party) {
                by_number
                    .entry(order.order_number.clone().unwrap_or_default())
                    .or_default()
                    .push(order);
            }
            for (number, found) in &by_number {
                if found.len() > 1 {
                    problems.push(format!(
                        "DUPLICATE ORDER: {slug} {number} has {} orders at Billit",
                        found.len()
                    ));
                }
            }
            for invoice in all.iter().filter(|invoice| invoice.tenant_id == tenant) {
                if invoice.submission_state == "draft" {
                    continue;
                }
                let number = invoice.number.clone().unwrap_or_default();
                let order = by_number.get(&number).and_then(|found| found.first());
                match (
                    invoice.submission_state.as_str(),
                    invoice.billit_order_id,
                    order,
                ) {
                    ("sent", Some(id), Some(order)) if order.order_id == Some(id) => {
                        orders.insert(invoice.id, order.clone());
                    }
                    (state, id, order) => problems.push(format!(
                        "{slug} {number}: {state}, order {id:?}, Billit's {:?}",
                        order.and_then(|order| order.order_id)
                    )),
                }
            }
        }
        for planned in self.plan {
            let tenant = self.store.tenants[planned.slug];
            if !all.iter().any(|invoice| {
                invoice.tenant_id == tenant
                    && invoice.number.as_deref() == Some(planned.number.as_str())
            }) {
                problems.push(format!("{} was never created", planned.number));
            }
        }

        // No status lost.
        let events = invoice_events::Entity::find()
            .all(&self.store.db)
            .await
            .unwrap();
        let mut keys: HashMap<Uuid, HashSet<String>> = HashMap::new();
        for event in &events {
            keys.entry(event.invoice_id)
                .or_default()
                .insert(event.dedup_key.clone());
        }
        let mut statuses = 0;
        for invoice in &all {
            let Some(order) = orders.get(&invoice.id) else {
                continue;
            };
            let classified = portal_billit::classify::classify_order(order);
            let known = keys.get(&invoice.id).cloned().unwrap_or_default();
            let missing: Vec<&str> = classified
                .events
                .iter()
                .map(|event| event.dedup_key.as_str())
                .filter(|key| !known.contains(*key))
                .collect();
            statuses += classified.events.len();
            if !missing.is_empty() {
                problems.push(format!(
                    "LOST STATUS: {:?} misses {missing:?}",
                    invoice.number
                ));
            }
            let folded =
                portal_domain::lifecycle::Lifecycle::fold(&classified.events, &classified.facts);
            let expected = folded.current.map(|code| i32::from(code.0));
            if invoice.headline_code != expected {
                problems.push(format!(
                    "{:?}: headline {:?}, Billit's order folds to {expected:?}",
                    invoice.number, invoice.headline_code
                ));
            }
        }

        // Payments.
        let recorded = payments::Entity::find().all(&self.store.db).await.unwrap();
        let mut per_invoice: HashMap<Uuid, usize> = HashMap::new();
        for payment in &recorded {
            *per_invoice.entry(payment.invoice_id).or_default() += 1;
            if payment.state != "accepted" {
                problems.push(format!(
                    "payment {} of {} is {}",
                    payment.id, payment.invoice_id, payment.state
                ));
            }
        }
        for (invoice, order) in &orders {
            let reports = order
                .messages()
                .iter()
                .filter(|message| message.description.as_deref() == Some("CashCollected"))
                .count();
            let expected = per_invoice.get(invoice).copied().unwrap_or_default();
            // An order paid by the buyer's own scenario reports nothing of ours.
            if reports != expected {
                problems.push(format!(
                    "PAYMENT: invoice {invoice} has {expected} payment(s), Billit got {reports} report(s)"
                ));
            }
        }

        // Emails.
        let rows = outbox::Entity::find().all(&self.store.db).await.unwrap();
        let mut delivered: HashMap<String, usize> = HashMap::new();
        for raw in self.smtp.messages() {
            let parsed = mail_parser::MessageParser::default()
                .parse(&raw)
                .expect("a parsable message");
            let id = parsed.message_id().unwrap_or_default().to_owned();
            *delivered.entry(id).or_default() += 1;
        }
        let mut ids = HashSet::new();
        let mut uncertain = 0;
        for row in &rows {
            // The mailer's header: the row's own Message-ID, or `<row id@portal>` (what `mailer::send` writes).
            let id = row
                .message_id
                .clone()
                .unwrap_or_else(|| format!("<{}@portal>", row.id))
                .trim_matches(['<', '>'])
                .to_owned();
            let count = delivered.get(&id).copied().unwrap_or_default();
            ids.insert(id.clone());
            match (row.status.as_str(), count) {
                ("sent", 1) => {}
                ("uncertain", 0 | 1) => uncertain += 1,
                (status, count) => problems.push(format!(
                    "EMAIL {} ({}) is {status}, delivered {count} time(s)",
                    row.id, row.subject
                )),
            }
        }
        for (id, count) in &delivered {
            if *count > 1 {
                problems.push(format!("DUPLICATE EMAIL: {id} delivered {count} times"));
            }
            if !ids.contains(id) {
                problems.push(format!("an email nobody queued: {id}"));
            }
        }
        let answers = invoice_emails::Entity::find()
            .all(&self.store.db)
            .await
            .unwrap();
        for answer in &answers {
            if !rows.iter().any(|row| row.id == answer.outbox_id) {
                problems.push(format!("the answer {} has no email", answer.id));
            }
        }
        for invoice in &all {
            let entered: bool = events.iter().any(|event| {
                event.invoice_id == invoice.id && matches!(event.code, Some(207 | 208))
            });
            if !entered {
                continue;
            }
            let number = invoice.number.clone().unwrap_or_default();
            let slug = self.store.slug_of(invoice.tenant_id);
            let people = ALERTED
                .iter()
                .find(|(company, _)| *company == slug)
                .unwrap()
                .1;
            for person in people {
                let alerted = rows.iter().any(|row| {
                    row.to_addresses.contains(person)
                        && row.subject.contains(&format!("Facture {number} "))
                });
                if !alerted {
                    problems.push(format!(
                        "LOST EMAIL: {person} was not alerted about {number}"
                    ));
                }
            }
        }

        // Work given up on. A job killed during its last attempt is dead (so a job that crashes the process
        // cannot crash it forever); a periodic sweep is then done again by the next period's sweep of the same
        // company, which is what matters.
        let all_jobs = jobs::Entity::find().all(&self.store.db).await.unwrap();
        let mut swept_again = 0;
        for job in all_jobs.iter().filter(|job| job.state == "dead") {
            let redone = SWEEPS.contains(&job.kind.as_str())
                && all_jobs.iter().any(|later| {
                    later.kind == job.kind
                        && later.tenant_id == job.tenant_id
                        && later.state == "done"
                        && later.created_at_ms > job.created_at_ms
                });
            if redone {
                swept_again += 1;
            } else {
                problems.push(format!(
                    "DEAD JOB {} {}: {:?}",
                    job.kind, job.payload, job.last_error
                ));
            }
        }

        if problems.is_empty() {
            Ok(format!(
                "{} invoices sent ({} orders), {statuses} statuses, {} payments, {} emails ({} delivered, \
                 {uncertain} uncertain), {} answers, {swept_again} dead sweep(s) done again later",
                orders.len(),
                orders.len(),
                recorded.len(),
                rows.len(),
                delivered.len(),
                answers.len()
            ))
        } else {
            Err(problems.join("\n"))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_nothing_and_does_nothing_twice() {
    let kills = env_number("PORTAL_FAULTS_KILLS").unwrap_or(8);
    let seed = env_number("PORTAL_FAULTS_SEED").unwrap_or_else(rand::random);
    println!(
        "fault injection: {kills} kills, seed {seed} (replay with PORTAL_FAULTS_SEED={seed} PORTAL_FAULTS_KILLS={kills})"
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();

    let smtp = SmtpServer::start().await;
    let setup = Setup::new().await;
    // The port is chosen once: the webhooks registered at Billit name it.
    let bind = format!("127.0.0.1:{}", crate::smtp::free_port());
    let settings = |command: &mut std::process::Command| {
        command
            .env("PORTAL_MAIL__SMTP_URL", smtp.url())
            .env("PORTAL_MAIL__ANSWERS_PER_COMPANY_HOUR", "10000")
            .env("PORTAL_MAIL__ANSWERS_PER_USER_HOUR", "10000")
            .env("PORTAL_BILLIT__POLL_INTERVAL_SECS", "2")
            .env("PORTAL_BILLIT__FULL_CHECK_INTERVAL_SECS", "5")
            // A dead worker's jobs come back after its lease: short, so the run converges quickly.
            .env("PORTAL_JOBS__LEASE_SECS", "4")
            .env("PORTAL_JOBS__POLL_INTERVAL_MS", "200")
            .env("PORTAL_JOBS__RETRY_BASE_SECS", "1")
            .env("PORTAL_JOBS__RETRY_CAP_SECS", "4");
    };

    // The first start creates the demonstration with the sandbox the portal embeds (the demonstration is made
    // only there), with no worker, so nothing reaches Billit yet; it is stopped cleanly, which saves that
    // sandbox's state (the companies' accounts and the webhooks the portal registered) into the data dir.
    let lines = tokio::task::block_in_place(|| {
        let mut first = setup.command();
        settings(&mut first);
        first.env("PORTAL_JOBS__WORKERS", "0");
        let server = Server::start_on(first, &bind, &[]);
        let lines = server.lines_until("passwords are shown once");
        assert!(server.terminate().success());
        lines
    });
    // Billit and the mail server live outside the portal from now on (this process runs the sandbox, from the
    // saved state): they are the truth the portal must agree with, and no kill touches them.
    let billit_state = setup.data_dir.with_file_name("billit-truth.json");
    std::fs::copy(setup.data_dir.join("billit-sandbox.json"), &billit_state).unwrap();
    let sandbox = Sandbox::start(SandboxConfig {
        step_ms: 400,
        state_file: Some(billit_state),
        // Webhooks are retried for about half a minute; a portal down longer catches up by polling.
        webhook_max_attempts: 8,
        webhook_retry_base_ms: 250,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let command = || {
        let mut command = setup.command();
        settings(&mut command);
        command.env("PORTAL_BILLIT__EMBEDDED_URL", sandbox.base_url());
        command
    };
    let server = tokio::task::block_in_place(|| Server::start_on(command(), &bind, &[]));
    let base = server.base_url.clone();
    let mut people = HashMap::new();
    for (slug, _, email) in COMPANIES {
        let line = lines
            .iter()
            .find(|line| line.contains(email))
            .unwrap_or_else(|| panic!("{email}'s login is printed: {lines:#?}"));
        let password = line.rsplit(" / ").next().unwrap().trim().to_owned();
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        sign_in(&client, &base, email, &password).await;
        let page = client
            .get(format!("{base}/t/{slug}/invoices/new"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = csrf_in(&page);
        people.insert(slug, Person { client, csrf });
    }
    let store = Store::open(&setup).await;

    let suffixes = ["", "_DEMO", "_DISPUTE", "_SUSPEND"];
    let planned_count = usize::try_from(kills).unwrap() + 4;
    // Numbers unique per run and short enough for Billit (G1.05): a prefix of the seed, then the index.
    let plan: Vec<Planned> = (0..planned_count)
        .map(|index| Planned {
            slug: COMPANIES[index % 2].0,
            number: format!("P{:06x}-{index:04}", seed & 0xff_ffff),
            suffix: suffixes[rng.random_range(0..suffixes.len())],
            siren: siren(&mut rng),
        })
        .collect();
    let mut driver = Driver {
        base: base.clone(),
        people,
        plan: plan.clone(),
        refused_payments: HashSet::new(),
        refused_answers: HashSet::new(),
        actions: BTreeMap::new(),
    };

    let mut server = server;
    for kill in 0..kills {
        let delay = Duration::from_millis(rng.random_range(100..3_000));
        let creations = rng.random_range(1..=2);
        // The work goes on until the kill; a round that finishes early waits for it (the jobs still run).
        let _cut = tokio::time::timeout(delay, async {
            driver.round(&store, creations).await;
            std::future::pending::<()>().await;
        })
        .await;
        tokio::task::block_in_place(|| server.kill());
        println!(
            "kill {}/{kills} after {} ms ({:.0} s in)",
            kill + 1,
            delay.as_millis(),
            started.elapsed().as_secs_f64()
        );
        server = tokio::task::block_in_place(|| Server::start_on(command(), &bind, &[]));
    }
    let killed_at = Instant::now();

    // The last start runs undisturbed: the remaining work, then convergence.
    let deadline = Instant::now() + convergence(kills);
    let truth = Truth {
        store: &store,
        sandbox: &sandbox,
        smtp: &smtp,
        plan: &plan,
    };
    let mut last_report = Instant::now();
    let outcome = loop {
        driver.round(&store, usize::MAX).await;
        // Billit's clock runs every scheduled step now (the payments' acknowledgements come one step later).
        sandbox.advance();
        let outcome = if driver.idle(&store).await {
            truth.check().await
        } else {
            Err("work left to do".to_owned())
        };
        match outcome {
            Ok(summary) => break Ok(summary),
            Err(problems) if Instant::now() > deadline => break Err(problems),
            Err(problems) => {
                // What is still missing, now and then: a slow convergence says where it waits.
                if last_report.elapsed() > Duration::from_secs(20) {
                    last_report = Instant::now();
                    let first: Vec<&str> = problems.lines().take(5).collect();
                    println!(
                        "converging ({:.0} s after the last kill): {}",
                        killed_at.elapsed().as_secs_f64(),
                        first.join(" | ")
                    );
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    println!("actions: {:?}", driver.actions);
    match outcome {
        Ok(summary) => println!(
            "converged {:.0} s after the last kill, {:.0} s in all: {summary}",
            killed_at.elapsed().as_secs_f64(),
            started.elapsed().as_secs_f64()
        ),
        Err(problems) => panic!(
            "not converged {} s after the last of {kills} kills (seed {seed}):\n{problems}",
            convergence(kills).as_secs()
        ),
    }
    let uncertain_answers: Vec<(Uuid, Uuid)> = {
        let rows = outbox::Entity::find()
            .filter(outbox::Column::Status.eq("uncertain"))
            .all(&store.db)
            .await
            .unwrap();
        let answers = invoice_emails::Entity::find().all(&store.db).await.unwrap();
        answers
            .iter()
            .filter(|answer| rows.iter().any(|row| row.id == answer.outbox_id))
            .map(|answer| (answer.tenant_id, answer.invoice_id))
            .collect()
    };
    // An answer that may have gone is said so where it was written, for a person to decide.
    for (tenant, invoice) in uncertain_answers {
        let slug = store.slug_of(tenant);
        let page = driver.people[slug]
            .client
            .get(format!("{base}/t/{slug}/invoices/{invoice}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Peut-être envoyé"),
            "the invoice {invoice} shows its uncertain answer"
        );
    }
}
