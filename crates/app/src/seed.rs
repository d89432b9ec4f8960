//! `portal dev seed`: fills a database with realistic companies, customers, invoices and status histories, for
//! benchmarks and demonstrations. Deterministic for a given `--seed`, so two runs give comparable databases.
//!
//! The histories follow the embedded sandbox's scenarios (accepted, approved, paid, disputed, suspended, refused,
//! rejected by a platform, rejected tax data), and each invoice's summary is computed by the same fold as live
//! ingestion.

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use portal_domain::Language;
use portal_domain::identifiers::VatNumber;
use portal_domain::ids::{CustomerId, InvoiceId};
use portal_domain::invoice::{Address, BuyerDraft, DocumentType, InvoiceDraft, LineDraft};
use portal_domain::lifecycle::{EventKind, Source, StatusEvent};
use portal_domain::status::StatusCode;
use portal_persistence::Db as DatabaseConnection;
use portal_persistence::invoices::{InvoiceContent, SubmissionState, TotalsCents};
use portal_persistence::scope::TenantRole;
use portal_persistence::seed::{SeedCustomer, SeedInvoice, insert_customers, insert_invoices};
use portal_persistence::tenants::{TenantProfile, TenantRepository};
use portal_persistence::users::UserRepository;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

/// What to create.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    pub tenants: usize,
    pub invoices_per_tenant: usize,
    pub customers_per_tenant: usize,
    /// Slugs are `<prefix>-001`, `<prefix>-002`…
    pub prefix: String,
    /// Every seeded user's password.
    pub password: String,
    pub seed: u64,
}

/// What was created.
#[derive(Debug, Clone, Default)]
pub struct SeedReport {
    pub tenants: Vec<(String, String)>,
    pub invoices: usize,
    pub events: usize,
}

/// The scenarios and their weights (per thousand).
const SCENARIOS: [(Scenario, u32); 9] = [
    (Scenario::Delivered, 330),
    (Scenario::Approved, 200),
    (Scenario::Paid, 150),
    (Scenario::Disputed, 80),
    (Scenario::Suspended, 70),
    (Scenario::Refused, 50),
    (Scenario::Rejected, 40),
    (Scenario::TaxRejected, 30),
    (Scenario::Draft, 50),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Draft,
    Delivered,
    Approved,
    Paid,
    Disputed,
    Suspended,
    Refused,
    Rejected,
    TaxRejected,
}

const COMPANY_WORDS: [&str; 16] = [
    "Atelier",
    "Boulangerie",
    "Transports",
    "Bureau",
    "Menuiserie",
    "Cabinet",
    "Garage",
    "Imprimerie",
    "Laboratoire",
    "Librairie",
    "Maison",
    "Pépinière",
    "Plomberie",
    "Studio",
    "Traiteur",
    "Verrerie",
];
const PLACE_WORDS: [&str; 12] = [
    "du Rhône",
    "de Provence",
    "Martin",
    "des Alpes",
    "Dupont",
    "de la Loire",
    "Bernard",
    "du Nord",
    "Lefèvre",
    "de Bretagne",
    "Moreau",
    "du Sud-Ouest",
];
const CITIES: [(&str, &str); 8] = [
    ("75011", "Paris"),
    ("69003", "Lyon"),
    ("13006", "Marseille"),
    ("31000", "Toulouse"),
    ("44000", "Nantes"),
    ("33000", "Bordeaux"),
    ("59000", "Lille"),
    ("67000", "Strasbourg"),
];
const ITEMS: [(&str, &str, i64); 8] = [
    ("Prestation de conseil", "HUR", 9_500),
    ("Maintenance mensuelle", "C62", 45_000),
    ("Formation (journée)", "DAY", 120_000),
    ("Licence logicielle annuelle", "C62", 89_900),
    ("Déplacement", "C62", 6_500),
    ("Fournitures de bureau", "C62", 1_250),
    ("Développement spécifique", "HUR", 11_000),
    ("Audit de conformité", "DAY", 150_000),
];

/// A valid SIREN: eight random digits and the Luhn check digit.
pub(crate) fn random_siren(rng: &mut StdRng) -> String {
    let mut digits: Vec<u32> = (0..8).map(|_| rng.random_range(0..10)).collect();
    if digits[0] == 0 {
        digits[0] = 1;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(index, &digit)| {
            // With the check digit appended, these positions are the doubled ones.
            if index % 2 == 0 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    digits.push((10 - sum % 10) % 10);
    digits
        .iter()
        .map(|digit| char::from(b'0' + digit.to_le_bytes()[0]))
        .collect()
}

fn company_name(rng: &mut StdRng) -> String {
    format!(
        "{} {}",
        COMPANY_WORDS[rng.random_range(0..COMPANY_WORDS.len())],
        PLACE_WORDS[rng.random_range(0..PLACE_WORDS.len())]
    )
}

fn buyer(rng: &mut StdRng, index: usize) -> BuyerDraft {
    let siren = random_siren(rng);
    let parsed = portal_domain::identifiers::Siren::parse(&siren).ok();
    let vat = parsed
        .map(|siren| VatNumber::from_siren(siren).to_string())
        .unwrap_or_default();
    let electronic_address = parsed.map_or_else(
        || format!("0225:{siren}"),
        |siren| portal_domain::identifiers::ElectronicAddress::default_for(siren).to_string(),
    );
    let (postcode, city) = CITIES[rng.random_range(0..CITIES.len())];
    let name = company_name(rng);
    BuyerDraft {
        legal_name: format!("{name} {}", index + 1),
        electronic_address,
        siren,
        siret: String::new(),
        vat_number: vat,
        contact_emails: vec![format!("factures+{}@client-{}.fr", index + 1, index + 1)],
        address: Address {
            street: format!("{} rue de la République", rng.random_range(1..200)),
            additional: String::new(),
            postcode: postcode.to_owned(),
            city: city.to_owned(),
            country_code: "FR".to_owned(),
        },
        language: if index % 10 == 9 {
            Language::En
        } else {
            Language::Fr
        },
    }
}

fn pick_scenario(rng: &mut StdRng) -> Scenario {
    let mut roll = rng.random_range(0..1000);
    for (scenario, weight) in SCENARIOS {
        if roll < weight {
            return scenario;
        }
        roll -= weight;
    }
    Scenario::Delivered
}

pub(crate) fn lines(rng: &mut StdRng) -> (Vec<LineDraft>, TotalsCents) {
    let count = rng.random_range(1..=4);
    let mut drafts = Vec::with_capacity(count);
    for _ in 0..count {
        let (description, unit, price_cents) = ITEMS[rng.random_range(0..ITEMS.len())];
        let quantity = rng.random_range(1..=20);
        let rate = if rng.random_range(0..10) == 0 {
            "10"
        } else {
            "20"
        };
        let unit_price = Decimal::new(price_cents, 2);
        drafts.push(LineDraft {
            description: description.to_owned(),
            quantity: quantity.to_string(),
            unit: unit.to_owned(),
            unit_price: unit_price.to_string(),
            vat_rate: rate.to_owned(),
            exemption: None,
        });
    }
    // The editor's own computation, so a seeded invoice's totals are what the editor would have saved.
    let totals = crate::invoicing::drafts::totals_cents(
        crate::invoicing::drafts::totals_of(&drafts).as_ref(),
    );
    (drafts, totals)
}

/// The events a scenario produces, one step every few minutes to hours after `sent`.
fn history(
    rng: &mut StdRng,
    scenario: Scenario,
    order_id: i64,
    sent: DateTime<Utc>,
    total_cents: i64,
) -> Vec<StatusEvent> {
    let mut at = sent;
    let mut step = |rng: &mut StdRng| {
        at += Duration::minutes(rng.random_range(2..240));
        at
    };
    let key = |name: &str| format!("seed:{order_id}:{name}");
    let status = |code: u16, source: Source, at: DateTime<Utc>, name: &str, text: &str| {
        StatusEvent::status(StatusCode(code), source, at, key(name)).with_description(text)
    };
    let mut events = vec![
        status(200, Source::SellerPlatform, step(rng), "200", "FFE0614A"),
        status(500, Source::Ppf, step(rng), "500", "CFE0614A"),
    ];
    if scenario == Scenario::TaxRejected {
        events.push(
            StatusEvent::step(
                EventKind::TaxDataSent,
                Source::SellerPlatform,
                step(rng),
                key("ffe0111a"),
            )
            .with_description("FFE0111A"),
        );
        events.push(
            status(251, Source::Ppf, step(rng), "251", "Reporting failed")
                .with_reasons(["REJ_SEMAN", "REJ_UNI"]),
        );
        return events;
    }
    if scenario == Scenario::Rejected {
        events.push(
            status(
                213,
                Source::BuyerPlatform,
                step(rng),
                "213",
                "213 Rejetée: DEST_INC",
            )
            .with_reasons(["DEST_INC"]),
        );
        return events;
    }
    events.push(status(250, Source::Ppf, step(rng), "250", "CFE0111A"));
    events.push(
        StatusEvent::step(
            EventKind::TaxReportingDone,
            Source::Ppf,
            step(rng),
            key("ack"),
        )
        .with_description("ack"),
    );
    events.push(status(
        201,
        Source::SellerPlatform,
        step(rng),
        "201",
        "Peppol",
    ));
    events.push(status(
        203,
        Source::BuyerPlatform,
        step(rng),
        "203",
        "AB: The document has been successfully received.",
    ));
    match scenario {
        Scenario::Approved => {
            events.push(status(205, Source::Buyer, step(rng), "205", "AP: Accepted"));
        }
        Scenario::Paid => {
            events.push(status(205, Source::Buyer, step(rng), "205", "AP: Accepted"));
            events.push(status(
                211,
                Source::Buyer,
                step(rng),
                "211",
                "PD: The document has been paid.",
            ));
            events.push(
                status(212, Source::Supplier, step(rng), "212", "CashCollected")
                    .with_amount(Decimal::new(total_cents, 2)),
            );
        }
        Scenario::Disputed => {
            events.push(
                status(
                    207,
                    Source::Buyer,
                    step(rng),
                    "207",
                    "207 En litige: TX_TVA_ERR",
                )
                .with_reasons(["TX_TVA_ERR"])
                .with_requested_action("NIN")
                .with_comment("Le taux de TVA appliqué ne correspond pas à notre commande."),
            );
        }
        Scenario::Suspended => {
            events.push(
                status(
                    208,
                    Source::Buyer,
                    step(rng),
                    "208",
                    "208 Suspendue: JUSTIF_ABS",
                )
                .with_reasons(["JUSTIF_ABS"])
                .with_requested_action("PIN")
                .with_comment("Merci de joindre le bon de livraison signé."),
            );
        }
        Scenario::Refused => {
            events.push(
                status(
                    210,
                    Source::Buyer,
                    step(rng),
                    "210",
                    "210 Refusée: CONTRAT_TERM",
                )
                .with_reasons(["CONTRAT_TERM"]),
            );
        }
        Scenario::Draft | Scenario::Delivered | Scenario::Rejected | Scenario::TaxRejected => {}
    }
    events
}

/// Creates the plan's tenants (each with an administrator `admin@<slug>.example.fr`), customers and invoices.
pub async fn run(
    db: &DatabaseConnection,
    plan: &SeedPlan,
    progress: impl Fn(&str),
) -> anyhow::Result<SeedReport> {
    let mut rng = StdRng::seed_from_u64(plan.seed);
    let tenants = TenantRepository::new(db.clone());
    let users = UserRepository::new(db.clone());
    let hash = crate::password::hash(plan.password.clone()).await?;
    let mut report = SeedReport::default();
    let today = crate::dates::today();
    let mut order_id = 1_000_000_i64;
    for index in 0..plan.tenants {
        let slug = format!("{}-{:03}", plan.prefix, index + 1);
        if tenants.slug_taken(&slug, None).await? {
            anyhow::bail!("a company with the address {slug} already exists: use another --prefix");
        }
        let siren = random_siren(&mut rng);
        let tenant = tenants
            .create(
                TenantProfile {
                    slug: slug.clone(),
                    legal_name: format!("{} SAS", company_name(&mut rng)),
                    vat_number: portal_domain::identifiers::Siren::parse(&siren)
                        .ok()
                        .map(|siren| VatNumber::from_siren(siren).to_string()),
                    siren,
                    address: Default::default(),
                },
                None,
            )
            .await
            .with_context(|| format!("creating {slug}"))?;
        let email = format!("admin@{slug}.example.fr");
        let user = users.create(&email, "Admin", "fr").await?;
        users.set_password_hash(user.id, &hash).await?;
        tenants
            .add_member(tenant.id, user.id, TenantRole::Admin)
            .await?;
        let (_, scope) = tenants
            .scope_for_member(user.id, &slug)
            .await?
            .context("the seeded administrator cannot enter the seeded company")?;

        let customers: Vec<SeedCustomer> = (0..plan.customers_per_tenant.max(1))
            .map(|index| SeedCustomer {
                id: CustomerId::new(),
                buyer: buyer(&mut rng, index),
            })
            .collect();
        insert_customers(db, &scope, &customers).await?;

        let mut batch = Vec::with_capacity(2_000);
        for number in 0..plan.invoices_per_tenant {
            let scenario = pick_scenario(&mut rng);
            let customer = &customers[rng.random_range(0..customers.len())];
            let days_ago = i64::try_from(
                (plan.invoices_per_tenant - number) * 365 / plan.invoices_per_tenant.max(1),
            )
            .unwrap_or(0);
            let issue: NaiveDate = today - Duration::days(days_ago);
            let (line_drafts, totals) = lines(&mut rng);
            let draft = InvoiceDraft {
                document_type: DocumentType::Invoice,
                number: format!("F{}-{:06}", issue.format("%Y"), number + 1),
                issue_date: Some(issue),
                due_date: Some(issue + Duration::days(30)),
                currency: "EUR".to_owned(),
                buyer: customer.buyer.clone(),
                lines: line_drafts,
                purchase_order: format!("BC-{}", rng.random_range(1000..99999)),
                ..InvoiceDraft::default()
            };
            let created_at = issue
                .and_hms_opt(9, 0, 0)
                .map_or_else(Utc::now, |time| time.and_utc());
            let (state, order, events) = if scenario == Scenario::Draft {
                (SubmissionState::Draft, None, Vec::new())
            } else {
                order_id += 1;
                let events = history(&mut rng, scenario, order_id, created_at, totals.incl);
                (SubmissionState::Sent, Some(order_id), events)
            };
            batch.push(SeedInvoice {
                id: InvoiceId::new(),
                content: InvoiceContent {
                    customer_id: Some(customer.id),
                    draft,
                    totals,
                },
                state,
                order_id: order,
                events,
                created_at,
            });
            if batch.len() == batch.capacity() {
                report.events += insert_invoices(db, &scope, &batch).await?;
                report.invoices += batch.len();
                batch.clear();
            }
        }
        report.events += insert_invoices(db, &scope, &batch).await?;
        report.invoices += batch.len();
        progress(&format!(
            "{slug}: {} invoices ({} of {} companies)",
            plan.invoices_per_tenant,
            index + 1,
            plan.tenants
        ));
        report.tenants.push((slug, email));
    }
    progress("gathering the planner's statistics (ANALYZE; VACUUM on PostgreSQL)");
    portal_persistence::seed::refresh_statistics(db)
        .await
        .context("gathering the planner's statistics after the seed")?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_sirens_are_valid() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..1_000 {
            let siren = random_siren(&mut rng);
            assert!(
                portal_domain::identifiers::Siren::parse(&siren).is_ok(),
                "{siren}"
            );
        }
    }

    #[test]
    fn histories_fold_to_the_scenario_headline() {
        use portal_domain::lifecycle::{InvoiceFacts, Lifecycle};
        let mut rng = StdRng::seed_from_u64(1);
        let expected = [
            (Scenario::Delivered, 203, false),
            (Scenario::Approved, 205, false),
            (Scenario::Paid, 212, false),
            (Scenario::Disputed, 207, true),
            (Scenario::Suspended, 208, true),
            (Scenario::Refused, 210, true),
            (Scenario::Rejected, 213, true),
            (Scenario::TaxRejected, 251, true),
        ];
        for (scenario, code, needs_action) in expected {
            let events = history(&mut rng, scenario, 1, Utc::now(), 12_000);
            let lifecycle = Lifecycle::fold(&events, &InvoiceFacts::new(Decimal::new(12_000, 2)));
            assert_eq!(lifecycle.current, Some(StatusCode(code)), "{scenario:?}");
            assert_eq!(lifecycle.needs_action, needs_action, "{scenario:?}");
        }
    }
}
