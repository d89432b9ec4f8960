//! The embedded demonstration: on an empty database, `portal serve` (with its embedded Billit sandbox) creates a
//! firm administrator, seven companies with their users, customers for every sandbox scenario and about fourteen
//! invoices each sent through the normal path (so that their statuses keep arriving over the next minutes), and a
//! firm accountant whose portfolio holds six of the companies, so that the firm's console has something in every
//! kind of row.

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

const COMPANIES: [Company; 7] = [
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
    Company {
        slug: "menuiserie-leroy",
        name: "Menuiserie Leroy SARL",
        siren: "812345676",
        city: ("33000", "Bordeaux"),
        users: [
            (
                "Antoine Leroy",
                "antoine@menuiserie-leroy.fr",
                TenantRole::Admin,
            ),
            ("Emma Petit", "emma@menuiserie-leroy.fr", TenantRole::Member),
        ],
        party_id: 910_003,
    },
    Company {
        slug: "fromagerie-blanc",
        name: "Fromagerie Blanc SAS",
        siren: "523456788",
        city: ("74000", "Annecy"),
        users: [
            (
                "Hélène Blanc",
                "helene@fromagerie-blanc.fr",
                TenantRole::Admin,
            ),
            (
                "Marc Gauthier",
                "marc@fromagerie-blanc.fr",
                TenantRole::Member,
            ),
        ],
        party_id: 910_004,
    },
    Company {
        slug: "plomberie-garnier",
        name: "Plomberie Garnier EURL",
        siren: "398765438",
        city: ("13001", "Marseille"),
        users: [
            (
                "Yves Garnier",
                "yves@plomberie-garnier.fr",
                TenantRole::Admin,
            ),
            (
                "Inès Fontaine",
                "ines@plomberie-garnier.fr",
                TenantRole::Member,
            ),
        ],
        party_id: 910_005,
    },
    Company {
        slug: "imprimerie-morel",
        name: "Imprimerie Morel SA",
        siren: "601122336",
        city: ("67000", "Strasbourg"),
        users: [
            (
                "Nadia Morel",
                "nadia@imprimerie-morel.fr",
                TenantRole::Admin,
            ),
            (
                "Hugo Lambert",
                "hugo@imprimerie-morel.fr",
                TenantRole::Member,
            ),
        ],
        party_id: 910_006,
    },
    Company {
        slug: "traiteur-rousseau",
        name: "Traiteur Rousseau SAS",
        siren: "477889901",
        city: ("31000", "Toulouse"),
        users: [
            (
                "Camille Rousseau",
                "camille@traiteur-rousseau.fr",
                TenantRole::Admin,
            ),
            (
                "Louis Mercier",
                "louis@traiteur-rousseau.fr",
                TenantRole::Member,
            ),
        ],
        party_id: 910_007,
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
    logins.push(create_accountant(state).await?);
    Ok(Some(logins))
}

/// The firm accountant of the demonstration and their portfolio: every demo company but the last (so that one
/// company shows what "outside the portfolio" means), admin of the first two, member of the others.
async fn create_accountant(state: &App) -> anyhow::Result<DemoLogin> {
    let email = "julie@cabinet-demo.fr";
    let password = password();
    let user = state.users.create(email, "Julie Fabre", "fr").await?;
    state
        .users
        .set_password_hash(user.id, &crate::password::hash(password.clone()).await?)
        .await?;
    state.firm.add_accountant(user.id).await?;
    let tenants = state.tenants.list_all().await?;
    for (index, company) in COMPANIES.iter().take(COMPANIES.len() - 1).enumerate() {
        let Some(tenant) = tenants.iter().find(|tenant| tenant.slug == company.slug) else {
            continue;
        };
        let role = if index < 2 {
            TenantRole::Admin
        } else {
            TenantRole::Member
        };
        let entry = portal_persistence::audit::AuditEntry::new(
            "firm_portfolio.assigned",
            format!("user:{}", user.id),
        )
        .details(
            serde_json::json!({ "tenant": company.slug, "role": role.as_str(), "demo": true }),
        );
        state.firm.assign(user.id, tenant.id, role, entry).await?;
    }
    Ok(DemoLogin {
        who: "Cabinet (collaboratrice)".to_owned(),
        email: email.to_owned(),
        password,
    })
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
                Ok(_) => {}
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
