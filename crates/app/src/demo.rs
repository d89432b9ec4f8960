//! The embedded demonstration: on an empty database, `portal serve` (with its embedded Billit sandbox) creates a
//! firm administrator, two companies with their users, customers for every sandbox scenario and about thirty
//! invoices sent through the normal path, so that their statuses keep arriving over the next minutes.

use crate::App;
use crate::invoicing::drafts::{totals_cents, totals_of};
use crate::invoicing::submit::{QueueError, queue};
use anyhow::Context;
use chrono::Duration;
use portal_domain::Language;
use portal_domain::identifiers::{ElectronicAddress, Email, Siren, VatNumber};
use portal_domain::invoice::{Address, DocumentType, InvoiceDraft};
use portal_persistence::TenantRole;
use portal_persistence::billit_connections::{BillitEnvironment, ConnectionSettings};
use portal_persistence::customers::CustomerInput;
use portal_persistence::invoices::InvoiceContent;
use portal_persistence::tenants::{TenantAddress, TenantProfile};
use rand::distr::{Alphanumeric, SampleString};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The embedded Billit sandbox's accounts: it opens an account for each demo company, and for a company whose
/// admin chooses the embedded environment (the program plugs in its running sandbox; the application does not
/// depend on the sandbox's HTTP server).
pub trait DemoSandbox: Send + Sync {
    /// Opens (or replaces) the account `party` at the sandbox.
    fn add_party(&self, party: DemoParty) -> SandboxFuture<'_>;
}

/// What [`DemoSandbox::add_party`] answers, once done.
pub type SandboxFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + 'a>>;

/// A demo company's account at the sandbox.
#[derive(Debug, Clone)]
pub struct DemoParty {
    pub party_id: i64,
    pub api_key: String,
    pub name: String,
    pub vat_number: String,
}

/// A login printed on the console.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub who: String,
    pub email: String,
    pub password: String,
}

struct Company {
    slug: &'static str,
    name: &'static str,
    siren: &'static str,
    city: (&'static str, &'static str),
    users: [(&'static str, &'static str, TenantRole); 2],
    party_id: i64,
}

const COMPANIES: [Company; 2] = [
    Company {
        slug: "atelier-martin",
        name: "Atelier Martin SARL",
        siren: "732829320",
        city: ("69003", "Lyon"),
        users: [
            (
                "Claire Martin",
                "claire@atelier-martin.fr",
                TenantRole::Admin,
            ),
            ("Paul Roux", "paul@atelier-martin.fr", TenantRole::Member),
        ],
        party_id: 910_001,
    },
    Company {
        slug: "boulangerie-dupont",
        name: "Boulangerie Dupont SAS",
        siren: "443061841",
        city: ("44000", "Nantes"),
        users: [
            (
                "Sophie Dupont",
                "sophie@boulangerie-dupont.fr",
                TenantRole::Admin,
            ),
            (
                "Luc Bernard",
                "luc@boulangerie-dupont.fr",
                TenantRole::Member,
            ),
        ],
        party_id: 910_002,
    },
];

/// The customers: one per sandbox scenario (the suffix of their electronic address), and how many invoices each.
const CUSTOMERS: [(&str, &str, usize); 8] = [
    ("Librairie du Rhône", "", 3),
    ("Garage des Alpes", "_DEMO", 2),
    ("Transports du Nord", "_PAID", 2),
    ("Cabinet Lefèvre", "_DISPUTE", 2),
    ("Pépinière Moreau", "_SUSPEND", 2),
    ("Imprimerie Bernard", "_REFUSE", 1),
    ("Studio Lumière", "_REJECT", 1),
    ("Maison Girard", "_ERROR", 1),
];

fn password() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 16)
}

/// Creates the demonstration when the database has no company yet. Returns the logins to print, or `None` when
/// the database was not empty.
pub async fn create_if_empty(
    state: &App,
    sandbox: &dyn DemoSandbox,
) -> anyhow::Result<Option<Vec<DemoLogin>>> {
    if !state.tenants.list_all().await?.is_empty() {
        return Ok(None);
    }
    let mut logins = Vec::new();
    let admin_password = password();
    let hash = crate::password::hash(admin_password.clone()).await?;
    state
        .users
        .upsert_firm_admin("admin@cabinet-demo.fr", "Cabinet Démo", &hash, |_| None)
        .await
        .context("creating the demo firm administrator")?;
    logins.push(DemoLogin {
        who: "Cabinet (administrateur)".to_owned(),
        email: "admin@cabinet-demo.fr".to_owned(),
        password: admin_password,
    });
    let mut rng = StdRng::seed_from_u64(2026);
    for company in &COMPANIES {
        logins.extend(create_company(state, sandbox, company, &mut rng).await?);
    }
    Ok(Some(logins))
}

async fn create_company(
    state: &App,
    sandbox: &dyn DemoSandbox,
    company: &Company,
    rng: &mut StdRng,
) -> anyhow::Result<Vec<DemoLogin>> {
    let siren = Siren::parse(company.siren).context("a demo SIREN")?;
    let tenant = state
        .tenants
        .create(
            TenantProfile {
                slug: company.slug.to_owned(),
                legal_name: company.name.to_owned(),
                siren: company.siren.to_owned(),
                vat_number: Some(VatNumber::from_siren(siren).to_string()),
                address: TenantAddress {
                    street: Some("12 rue de la République".to_owned()),
                    postal_code: Some(company.city.0.to_owned()),
                    city: Some(company.city.1.to_owned()),
                    country: Some("FR".to_owned()),
                },
            },
            None,
        )
        .await
        .with_context(|| format!("creating {}", company.slug))?;
    let mut logins = Vec::new();
    let mut scope = None;
    for (name, email, role) in &company.users {
        let password = password();
        let user = state.users.create(email, name, "fr").await?;
        state
            .users
            .set_password_hash(user.id, &crate::password::hash(password.clone()).await?)
            .await?;
        state.tenants.add_member(tenant.id, user.id, *role).await?;
        if scope.is_none() {
            scope = state
                .tenants
                .scope_for_member(user.id, company.slug)
                .await?
                .map(|(_, scope)| scope);
        }
        logins.push(DemoLogin {
            who: format!("{} ({})", company.name, role.as_str()),
            email: (*email).to_owned(),
            password,
        });
    }
    let scope = scope.context("the demo administrator cannot enter the demo company")?;

    // The company's own account at the embedded Billit, and the portal's webhooks there.
    let api_key = password();
    sandbox
        .add_party(DemoParty {
            party_id: company.party_id,
            api_key: api_key.clone(),
            name: company.name.to_owned(),
            vat_number: VatNumber::from_siren(siren).to_string(),
        })
        .await
        .context("the sandbox refused the demo party")?;
    state
        .billit
        .save(
            &scope,
            ConnectionSettings {
                environment: BillitEnvironment::Embedded,
                api_key_encrypted: Some(crate::crypto::encrypt(
                    &state.master_key,
                    scope.tenant_id(),
                    &api_key,
                )?),
                party_id: Some(company.party_id),
                context_party_id: None,
            },
            None,
        )
        .await?;
    crate::billit_connection::register_webhooks(state, &scope, |_| None)
        .await
        .context("registering the demo webhooks")?;

    let customers = state.customers.clone();
    let today = crate::dates::today();
    let mut index = 0;
    for (name, suffix, invoices) in CUSTOMERS {
        let buyer_siren = crate::seed::random_siren(rng);
        let parsed = Siren::parse(&buyer_siren).context("a generated SIREN")?;
        let slug: String = name
            .to_lowercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let customer = customers
            .create(
                &scope,
                &CustomerInput {
                    legal_name: name.to_owned(),
                    siren: parsed,
                    siret: None,
                    vat_number: Some(VatNumber::from_siren(parsed)),
                    electronic_address: ElectronicAddress::default_for_with_suffix(parsed, suffix)
                        .context("a demo electronic address")?,
                    contact_emails: vec![
                        Email::parse(&format!("comptabilite@{slug}.fr")).context("a demo email")?,
                    ],
                    address: Address {
                        street: format!("{} avenue Jean Jaurès", rng.random_range(1..120)),
                        additional: String::new(),
                        postcode: "75011".to_owned(),
                        city: "Paris".to_owned(),
                        country_code: "FR".to_owned(),
                    },
                    language: Language::Fr,
                },
                |_| None,
            )
            .await?;
        for _ in 0..invoices {
            index += 1;
            let issue = today - Duration::days(i64::from(rng.random_range(0..20_u8)));
            // The first invoice is overdue by ten days, so the reminders have something to show.
            let issue = if index == 1 {
                today - Duration::days(40)
            } else {
                issue
            };
            let (lines, _) = crate::seed::lines(rng);
            let number = state
                .invoices
                .propose_number(&scope, DocumentType::Invoice, issue)
                .await?;
            let draft = InvoiceDraft {
                document_type: DocumentType::Invoice,
                number,
                issue_date: Some(issue),
                due_date: Some(issue + Duration::days(30)),
                currency: "EUR".to_owned(),
                buyer: customer.buyer_draft(),
                purchase_order: format!("BC-{}", 4_000 + index),
                lines,
                ..InvoiceDraft::default()
            };
            let totals = totals_cents(totals_of(&draft.lines).as_ref());
            let id = state
                .invoices
                .create_draft(
                    &scope,
                    &InvoiceContent {
                        customer_id: Some(customer.id),
                        draft,
                        totals,
                    },
                    None,
                )
                .await?;
            let record = state
                .invoices
                .get(&scope, id)
                .await?
                .context("the demo invoice just saved")?;
            // The last invoice of the first customer stays a draft, to show the editor.
            if suffix.is_empty() && index == invoices {
                continue;
            }
            match queue(state, &scope, company.siren, &record, None).await {
                Ok(()) => {}
                Err(QueueError::Storage(error)) => return Err(error),
                Err(refused) => tracing::warn!(outcome = ?refused, "a demo invoice was not queued"),
            }
        }
    }
    // Reminders are on in the demonstration, sent by hand from the "reminders due" page.
    state
        .reminders
        .save_settings(
            &scope,
            &portal_persistence::reminders::ReminderSettings {
                enabled: true,
                automatic: false,
                schedule: portal_domain::reminders::Schedule::default(),
            },
            portal_persistence::audit::AuditEntry::new(
                "tenant.reminders_changed",
                format!("tenant:{}", company.slug),
            )
            .details(serde_json::json!({ "demo": true })),
        )
        .await
        .context("turning the demo reminders on")?;
    Ok(logins)
}
