//! A tenant's Billit client, built from its stored connection (the API key decrypted only here, in memory).

use crate::App;
use crate::billit_health::RecordingClient;
use crate::crypto;
use portal_billit::client::{BillitCredentials, ClientConfig, HttpBillitClient};
use portal_persistence::TenantScope;
use portal_persistence::audit::AuditEntry;
use portal_persistence::billit_connections::{
    BillitConnection, BillitEnvironment, EncryptedSecrets,
};

/// Why no client can be built; each has a sentence for the settings page.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionProblem {
    #[error("no Billit connection is configured")]
    NotConfigured,
    #[error("the API key or the PartyID is missing")]
    Incomplete,
    #[error("the embedded sandbox is not running in this deployment")]
    NoEmbeddedSandbox,
    #[error("the stored API key cannot be decrypted: {0}")]
    Undecryptable(#[from] crypto::CryptoError),
    #[error("the client cannot be built: {0}")]
    Client(#[from] portal_billit::client::BillitError),
    #[error(transparent)]
    Database(#[from] portal_persistence::DbErr),
}

impl ConnectionProblem {
    pub fn message_key(&self) -> &'static str {
        match self {
            Self::NotConfigured | Self::Incomplete => "billit.test_incomplete",
            Self::NoEmbeddedSandbox => "billit.test_no_embedded",
            _ => "billit.test_internal",
        }
    }
}

/// The address Billit posts this tenant's webhooks to (its token makes it unguessable).
pub fn webhook_url(state: &App, token: &str) -> String {
    format!("{}/hooks/billit/{token}", state.base_url)
}

pub fn base_url(state: &App, environment: BillitEnvironment) -> Option<String> {
    let billit = &state.settings.billit;
    match environment {
        BillitEnvironment::Production => Some(billit.production_url.clone()),
        BillitEnvironment::Sandbox => Some(billit.sandbox_url.clone()),
        BillitEnvironment::Embedded => billit.embedded_url.clone(),
    }
}

/// Binds every secret stored before secrets were bound to their company to the company whose row holds it (run at
/// start-up, before anything reads them; a no-op once done). Returns how many connections were upgraded.
pub async fn bind_legacy_secrets(state: &App) -> anyhow::Result<usize> {
    use anyhow::Context as _;
    let unbound = state
        .billit
        .unbound_secrets(crypto::BOUND_PREFIX)
        .await
        .context("reading the secrets to bind")?;
    let count = unbound.len();
    for (scope, secrets) in unbound {
        let owner = scope.tenant_id();
        let bind = |stored: Option<String>| -> anyhow::Result<Option<String>> {
            let Some(stored) = stored else {
                return Ok(None);
            };
            Ok(Some(
                crypto::bind_legacy(&state.master_key, owner, &stored)
                    .with_context(|| format!("a secret of tenant {owner} cannot be read"))?
                    .unwrap_or(stored),
            ))
        };
        let bound = EncryptedSecrets {
            api_key: bind(secrets.api_key)?,
            webhook_secret: bind(secrets.webhook_secret)?,
        };
        state
            .billit
            .replace_secrets(&scope, bound)
            .await
            .context("storing the bound secrets")?;
    }
    if count > 0 {
        tracing::info!(connections = count, "Billit secrets bound to their company");
    }
    Ok(count)
}

/// Whether saving `party_id` / `context_party_id` needs the API key typed again: a stored key may open several
/// companies (an accountant's), so pointing it at another party or context without knowing it would send invoices
/// as another company.
/// The rule is the domain's ([`portal_domain::connection::key_needed_again`]).
pub fn key_needed_again(
    stored: Option<&BillitConnection>,
    party_id: Option<i64>,
    context_party_id: Option<i64>,
) -> bool {
    use portal_domain::connection::Parties;
    portal_domain::connection::key_needed_again(
        stored.map(|stored| {
            (
                stored.has_api_key,
                Parties {
                    party_id: stored.party_id,
                    context_party_id: stored.context_party_id,
                },
            )
        }),
        Parties {
            party_id,
            context_party_id,
        },
    )
}

/// The client for this tenant's Billit account, and the connection it was built from. Every call it makes is
/// recorded for the firm's console ([`crate::billit_health`]), and so is a stored connection that cannot give a
/// client (a key that cannot be decrypted, the embedded sandbox missing).
pub async fn client_for(
    state: &App,
    scope: &TenantScope,
) -> Result<(RecordingClient, BillitConnection), ConnectionProblem> {
    match unrecorded_client_for(state, scope).await {
        Ok((client, connection)) => Ok((RecordingClient::new(client, state, scope), connection)),
        Err(problem) => {
            record_problem(state, scope, &problem).await;
            Err(problem)
        }
    }
}

async fn unrecorded_client_for(
    state: &App,
    scope: &TenantScope,
) -> Result<(HttpBillitClient, BillitConnection), ConnectionProblem> {
    let (connection, secrets) = state
        .billit
        .with_secrets(scope)
        .await?
        .ok_or(ConnectionProblem::NotConfigured)?;
    let (Some(encrypted), Some(party_id)) = (secrets.api_key, connection.party_id) else {
        return Err(ConnectionProblem::Incomplete);
    };
    let base =
        base_url(state, connection.environment).ok_or(ConnectionProblem::NoEmbeddedSandbox)?;
    let credentials = BillitCredentials {
        api_key: crypto::decrypt(&state.master_key, scope.tenant_id(), &encrypted)?,
        party_id: party_id.to_string(),
        context_party_id: connection.context_party_id.map(|id| id.to_string()),
    };
    let client = HttpBillitClient::new(&base, &credentials, &ClientConfig::default())?;
    Ok((client, connection))
}

/// Why the webhooks could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationProblem {
    #[error(transparent)]
    Connection(#[from] ConnectionProblem),
    #[error("Billit refused the webhook: {0}")]
    Billit(#[from] portal_billit::client::BillitError),
    #[error("Billit gave no signing secret")]
    NoSecret,
    #[error("the secrets cannot be stored: {0}")]
    Storage(#[from] anyhow::Error),
}

/// Registers the tenant's webhook endpoint with Billit for new messages and order updates, and stores the signing
/// secrets (encrypted) with the audit entry `audit` makes of Billit's webhook ids, if any (the demo records none),
/// in one transaction. Returns those ids.
pub async fn register_webhooks(
    state: &App,
    scope: &TenantScope,
    audit: impl FnOnce(&[String]) -> Option<AuditEntry>,
) -> Result<Vec<String>, RegistrationProblem> {
    use portal_billit::client::BillitClient;
    use portal_billit::wire::WebhookRegistration;
    let (client, connection) = client_for(state, scope).await?;
    let url = webhook_url(state, &connection.webhook_token);
    let mut secrets = Vec::new();
    let mut ids = Vec::new();
    for (entity, update) in [("Message", "I"), ("Order", "U")] {
        let registration = WebhookRegistration {
            entity_type: Some(entity.to_owned()),
            entity_update_type: Some(update.to_owned()),
            webhook_url: Some(url.clone()),
            ..WebhookRegistration::default()
        };
        let webhook = match client.create_webhook(&registration).await {
            Ok(webhook) => webhook,
            Err(error) => {
                // Half a registration would keep calling with a secret nobody stored.
                delete_webhooks(&client, &ids).await;
                return Err(error.into());
            }
        };
        if let Some(secret) = webhook.secret {
            secrets.push(secret);
        }
        if let Some(id) = webhook.webhook_id {
            ids.push(id.to_string());
        }
    }
    if secrets.is_empty() {
        delete_webhooks(&client, &ids).await;
        return Err(RegistrationProblem::NoSecret);
    }
    let encrypted = crypto::encrypt(
        &state.master_key,
        scope.tenant_id(),
        &serde_json::to_string(&secrets).map_err(anyhow::Error::from)?,
    )
    .map_err(anyhow::Error::from)?;
    state
        .billit
        .set_webhook(scope, encrypted, &ids, audit(&ids))
        .await
        .map_err(anyhow::Error::from)?;
    // The previous registration's secrets are gone: its webhooks would only be refused from now on.
    let replaced: Vec<String> = connection
        .webhook_ids
        .into_iter()
        .filter(|id| !ids.contains(id))
        .collect();
    delete_webhooks(&client, &replaced).await;
    Ok(ids)
}

/// Removes webhooks at Billit, as far as it can: one that cannot be removed is logged and left.
async fn delete_webhooks(client: &RecordingClient, ids: &[String]) {
    use portal_billit::client::BillitClient;
    for id in ids {
        let Ok(number) = id.parse::<i64>() else {
            continue;
        };
        if let Err(error) = client.delete_webhook(number).await {
            tracing::warn!(webhook = number, error = %error, "an old webhook could not be removed at Billit");
        }
    }
}

/// Why the connection test did not reach Billit's account.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionTestError {
    /// No client could be built from the stored connection.
    #[error(transparent)]
    Connection(#[from] ConnectionProblem),
    /// Billit refused or could not answer.
    #[error(transparent)]
    Billit(#[from] portal_billit::client::BillitError),
}

/// "Test the connection": asks Billit who the stored key is, and gives the name of the company it knows for the
/// stored PartyID (or its first company; `None` when it has no name).
pub async fn test(app: &App, scope: &TenantScope) -> Result<Option<String>, ConnectionTestError> {
    use portal_billit::client::BillitClient;
    let (client, connection) = client_for(app, scope).await?;
    let account = client.account_information().await?;
    let party = connection.party_id;
    let companies = account.companies.unwrap_or_default();
    let company = companies
        .iter()
        .find(|company| company.party_id.is_some() && company.party_id == party)
        .or_else(|| companies.first());
    Ok(company.and_then(|company| company.name.clone()))
}

/// Billit settings typed on the settings page with a new API key, before they are saved.
#[derive(Debug, Clone, Copy)]
pub struct ProposedConnection<'a> {
    pub environment: BillitEnvironment,
    /// The key as typed (never logged).
    pub api_key: &'a str,
    pub party_id: Option<i64>,
    pub context_party_id: Option<i64>,
}

impl ProposedConnection<'_> {
    /// The company the key would act for: the ContextPartyID if given, else the PartyID (the domain's rule).
    pub fn acted_for(&self) -> Option<i64> {
        portal_domain::connection::Parties {
            party_id: self.party_id,
            context_party_id: self.context_party_id,
        }
        .acted_for()
    }
}

/// Why a new Billit key, PartyID and ContextPartyID are not saved: each has a sentence for the settings page, and
/// nothing is saved.
#[derive(Debug, thiserror::Error)]
pub enum PairRefusal {
    /// A key without a PartyID cannot be checked (nor used).
    #[error("an API key was given without a PartyID")]
    NoParty,
    /// The embedded sandbox was chosen but does not run here.
    #[error("the embedded sandbox is not running in this deployment")]
    NoEmbeddedSandbox,
    /// The key cannot even be sent (characters a header cannot carry).
    #[error("the API key cannot be sent to Billit")]
    UnsendableKey(#[source] portal_billit::client::BillitError),
    /// Billit refused the key for this PartyID / ContextPartyID (401/403).
    #[error("Billit refused the key for this PartyID/ContextPartyID (HTTP {status})")]
    KeyRefused { status: u16 },
    /// The company acted for is not among the companies the key opens.
    #[error("company {party} is not among the companies the key opens")]
    NotAmongCompanies { party: i64 },
    /// The company acted for is another company than the tenant (its VAT number is of another SIREN, or missing).
    #[error("company {party}'s VAT number ({vat:?}) is not of the tenant's SIREN {siren}")]
    OtherCompany {
        party: i64,
        vat: Option<String>,
        siren: String,
    },
    /// Billit could not be asked (network, timeout, 5xx, rate limit): an unchecked pair is not saved.
    #[error("Billit cannot be reached to check the key")]
    Unreachable(#[source] portal_billit::client::BillitError),
    /// Billit answered something that does not allow the check.
    #[error("Billit's answer does not allow checking the key")]
    Unexpected(#[source] portal_billit::client::BillitError),
}

impl PairRefusal {
    /// The sentence for the person saving the settings (it ends saying that nothing was saved).
    pub fn message(&self, t: &crate::i18n::Tr) -> String {
        use portal_domain::Localized;
        match self {
            Self::NoParty => t.get("billit.check_no_party").to_owned(),
            Self::NoEmbeddedSandbox => t.get("billit.embedded_unavailable").to_owned(),
            Self::UnsendableKey(_) => t.get("billit.check_unsendable_key").to_owned(),
            Self::KeyRefused { .. } => t.get("billit.check_key_refused").to_owned(),
            Self::NotAmongCompanies { party } => t.fill(
                "billit.check_not_among_companies",
                &[("party", &party.to_string())],
            ),
            Self::OtherCompany { party, vat, .. } => t.fill(
                "billit.check_other_company",
                &[
                    ("party", &party.to_string()),
                    ("vat", vat.as_deref().unwrap_or("—")),
                ],
            ),
            Self::Unreachable(_) => t.get("billit.check_unreachable").to_owned(),
            Self::Unexpected(error) => t.fill(
                "billit.check_unexpected",
                &[("reason", &error.message(t.lang))],
            ),
        }
    }
}

/// The client settings of the check: the person waits for it, so it retries once and gives up sooner than the jobs.
fn check_client_config() -> ClientConfig {
    use std::time::Duration;
    ClientConfig {
        timeout: Duration::from_secs(15),
        connect_timeout: Duration::from_secs(5),
        retry: portal_billit::client::RetryPolicy {
            max_retries: 1,
            ..portal_billit::client::RetryPolicy::default()
        },
    }
}

/// Before new Billit credentials are saved: asks Billit's account information with them, at the chosen
/// environment's URL, and accepts them only if the company acted for (the ContextPartyID if given, else the
/// PartyID) is among the account's companies and its VAT number is of the tenant's SIREN. A key that opens several
/// companies (an accountant's) can thus only be saved for the tenant's own company. Billit unreachable refuses too.
pub async fn check_pair(
    app: &App,
    tenant_siren: &str,
    proposed: &ProposedConnection<'_>,
) -> Result<(), PairRefusal> {
    use portal_billit::client::{BillitClient, BillitError};
    let (Some(party_id), Some(acted_for)) = (proposed.party_id, proposed.acted_for()) else {
        return Err(PairRefusal::NoParty);
    };
    let base = base_url(app, proposed.environment).ok_or(PairRefusal::NoEmbeddedSandbox)?;
    let credentials = BillitCredentials {
        api_key: proposed.api_key.to_owned(),
        party_id: party_id.to_string(),
        context_party_id: proposed.context_party_id.map(|id| id.to_string()),
    };
    let client = HttpBillitClient::new(&base, &credentials, &check_client_config())
        .map_err(PairRefusal::UnsendableKey)?;
    let account = client
        .account_information()
        .await
        .map_err(|error| match error {
            BillitError::Unauthorized { status } => PairRefusal::KeyRefused { status },
            error if error.is_transient() => PairRefusal::Unreachable(error),
            error => PairRefusal::Unexpected(error),
        })?;
    company_of_tenant(&account, acted_for, tenant_siren).map(|_| ())
}

/// The company `acted_for` among the account's companies, if its VAT number is the French one of `tenant_siren`
/// (the domain decides: [`portal_domain::connection::tenant_company`]).
pub fn company_of_tenant<'a>(
    account: &'a portal_billit::wire::AccountInformation,
    acted_for: i64,
    tenant_siren: &str,
) -> Result<&'a portal_billit::wire::Company, PairRefusal> {
    use portal_domain::connection::{KeyCompany, PairProblem, tenant_company};
    let companies = account.companies.iter().flatten().map(|company| {
        (
            company,
            KeyCompany {
                party_id: company.party_id,
                vat_number: company.vat_number.as_deref(),
            },
        )
    });
    tenant_company(companies, acted_for, tenant_siren).map_err(|problem| match problem {
        PairProblem::NotAmongCompanies => PairRefusal::NotAmongCompanies { party: acted_for },
        PairProblem::OtherCompany { vat } => PairRefusal::OtherCompany {
            party: acted_for,
            vat,
            siren: tenant_siren.to_owned(),
        },
    })
}

/// Why Billit could not be asked about a participant of the Peppol network.
#[derive(Debug, thiserror::Error)]
pub enum NetworkLookupError {
    #[error(transparent)]
    Connection(#[from] ConnectionProblem),
    #[error(transparent)]
    Billit(portal_billit::client::BillitError),
}

/// Asks Billit whether `identifier` (an electronic address) is registered on Peppol: `None` when Billit knows no
/// participant at this identifier.
pub async fn peppol_participant(
    app: &App,
    scope: &TenantScope,
    identifier: &str,
) -> Result<Option<portal_billit::wire::ParticipantInformation>, NetworkLookupError> {
    use portal_billit::client::{BillitClient, BillitError};
    let (client, _) = client_for(app, scope).await?;
    match client.peppol_participant(identifier).await {
        Ok(answer) => Ok(Some(answer)),
        // The lookup's resource is the participant itself: Billit knows none at this identifier.
        Err(BillitError::NotFound) => Ok(None),
        Err(error) => Err(NetworkLookupError::Billit(error)),
    }
}

/// Why the embedded sandbox could not be set up for a company.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// No embedded sandbox runs in this deployment (the choice is not offered then).
    #[error("the embedded sandbox is not running in this deployment")]
    NoEmbeddedSandbox,
    /// The sandbox did not open the account.
    #[error("the embedded sandbox did not open the account")]
    Sandbox(#[source] anyhow::Error),
    /// The account was opened and saved, but the webhooks could not be registered.
    #[error("the webhooks could not be registered")]
    Webhooks(#[source] RegistrationProblem),
    #[error("the connection could not be stored")]
    Storage(#[source] anyhow::Error),
}

impl crate::Failure for ProvisionError {
    fn kind(&self) -> crate::FailureKind {
        match self {
            Self::NoEmbeddedSandbox => crate::FailureKind::Refused,
            Self::Sandbox(_) | Self::Webhooks(_) | Self::Storage(_) => crate::FailureKind::Internal,
        }
    }
}

/// The company's party id at the embedded sandbox: the same for a tenant every time (choosing the embedded
/// environment again gives it a new key for the same account, its orders kept), and distinct between tenants.
pub fn embedded_party_id(scope: &TenantScope) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(scope.tenant_id().as_uuid().as_bytes());
    let mut first = [0_u8; 8];
    first.copy_from_slice(&digest[..8]);
    // Ten digits, never below the demo's and the tests' small ids.
    1_000_000_000 + i64::try_from(u64::from_be_bytes(first) % 8_000_000_000).unwrap_or(0)
}

/// "Bac à sable intégré" chosen on a company that has no account there: opens the company's account at the
/// embedded sandbox (its party id and a new API key), stores the connection (the key encrypted) with the entry
/// `audit`, and registers the portal's webhooks there, so that invoices can be sent without a Billit account.
/// Returns the party id.
pub async fn provision_embedded(
    app: &App,
    scope: &TenantScope,
    company_name: &str,
    vat_number: &str,
    audit: Option<AuditEntry>,
    webhooks_audit: impl FnOnce(&[String]) -> Option<AuditEntry>,
) -> Result<i64, ProvisionError> {
    use portal_persistence::billit_connections::ConnectionSettings;
    use rand::distr::{Alphanumeric, SampleString};
    let sandbox = app
        .embedded_sandbox
        .as_ref()
        .filter(|_| base_url(app, BillitEnvironment::Embedded).is_some())
        .ok_or(ProvisionError::NoEmbeddedSandbox)?;
    let party_id = embedded_party_id(scope);
    let api_key = Alphanumeric.sample_string(&mut rand::rng(), 32);
    sandbox
        .add_party(crate::demo::DemoParty {
            party_id,
            api_key: api_key.clone(),
            name: company_name.to_owned(),
            vat_number: vat_number.to_owned(),
        })
        .await
        .map_err(ProvisionError::Sandbox)?;
    let encrypted = crypto::encrypt(&app.master_key, scope.tenant_id(), &api_key)
        .map_err(|error| ProvisionError::Storage(error.into()))?;
    app.billit
        .save(
            scope,
            ConnectionSettings {
                environment: BillitEnvironment::Embedded,
                api_key_encrypted: Some(encrypted),
                party_id: Some(party_id),
                context_party_id: None,
            },
            audit,
        )
        .await
        .map_err(|error| ProvisionError::Storage(error.into()))?;
    register_webhooks(app, scope, webhooks_audit)
        .await
        .map_err(ProvisionError::Webhooks)?;
    Ok(party_id)
}

// ---- what the firm's console shows of each connection ----

/// Records how a call to the company's Billit account went, for the firm's console (see
/// [`crate::billit_health`]; the clients of [`client_for`] record their calls themselves). A call that Billit
/// answered with a refusal of its content (404, 4xx) still reached the account: it counts as a working connection.
pub async fn record_call(
    app: &App,
    scope: &TenantScope,
    outcome: Result<(), &portal_billit::client::BillitError>,
) {
    let failure = outcome.err().and_then(crate::billit_health::failure_kind);
    crate::billit_health::record(app, scope, failure).await;
}

/// Records that no client could be built from a stored connection (a key that cannot be decrypted, the embedded
/// sandbox missing); a connection not configured or incomplete is shown as such and not recorded.
pub async fn record_problem(app: &App, scope: &TenantScope, problem: &ConnectionProblem) {
    if matches!(
        problem,
        ConnectionProblem::NotConfigured
            | ConnectionProblem::Incomplete
            | ConnectionProblem::Database(_)
    ) {
        return;
    }
    crate::billit_health::record(app, scope, Some("configuration")).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_billit::wire::{AccountInformation, Company};

    const ACME_SIREN: &str = "732829320";

    /// An accountant's account: acme (twice spelled), globex, and a company without a VAT number.
    fn accountant() -> AccountInformation {
        let company = |party: i64, vat: Option<&str>| Company {
            party_id: Some(party),
            name: Some(format!("Company {party}")),
            vat_number: vat.map(str::to_owned),
            ..Company::default()
        };
        AccountInformation {
            companies: Some(vec![
                company(10, Some("FR44732829320")),
                company(11, Some("fr 44 732 829 320")),
                company(20, Some("FR64443061841")),
                company(30, None),
                company(40, Some("FR45732829320")),
                company(50, Some("BE0123456749")),
            ]),
            ..AccountInformation::default()
        }
    }

    #[test]
    fn the_company_acted_for_must_be_the_tenants_own_among_the_keys_companies() {
        let account = accountant();
        for party in [10, 11] {
            let company = company_of_tenant(&account, party, ACME_SIREN).unwrap();
            assert_eq!(company.party_id, Some(party));
        }
        assert!(matches!(
            company_of_tenant(&account, 99, ACME_SIREN),
            Err(PairRefusal::NotAmongCompanies { party: 99 })
        ));
        // Another SIREN, no VAT number, a key that does not match its SIREN, a foreign number: not this tenant.
        for party in [20, 30, 40, 50] {
            assert!(
                matches!(
                    company_of_tenant(&account, party, ACME_SIREN),
                    Err(PairRefusal::OtherCompany { party: refused, .. }) if refused == party
                ),
                "party {party}"
            );
        }
        assert!(company_of_tenant(&account, 20, "443061841").is_ok());
        // An account listing no companies opens none.
        assert!(matches!(
            company_of_tenant(&AccountInformation::default(), 10, ACME_SIREN),
            Err(PairRefusal::NotAmongCompanies { party: 10 })
        ));
    }

    #[test]
    fn the_company_acted_for_is_the_context_party_if_given() {
        let proposed = ProposedConnection {
            environment: BillitEnvironment::Sandbox,
            api_key: "k",
            party_id: Some(1),
            context_party_id: Some(2),
        };
        assert_eq!(proposed.acted_for(), Some(2));
        let own = ProposedConnection {
            context_party_id: None,
            ..proposed
        };
        assert_eq!(own.acted_for(), Some(1));
    }

    #[test]
    fn every_refusal_has_a_sentence_in_both_languages_saying_nothing_was_saved() {
        use portal_billit::client::BillitError;
        let refusals = [
            PairRefusal::NoParty,
            PairRefusal::NoEmbeddedSandbox,
            PairRefusal::UnsendableKey(BillitError::Invalid("ApiKey".into())),
            PairRefusal::KeyRefused { status: 401 },
            PairRefusal::NotAmongCompanies { party: 7 },
            PairRefusal::OtherCompany {
                party: 7,
                vat: Some("FR64443061841".into()),
                siren: ACME_SIREN.into(),
            },
            PairRefusal::Unreachable(BillitError::Transport("refused".into())),
            PairRefusal::Unexpected(BillitError::NotFound),
        ];
        for (language, nothing_saved) in [
            (portal_domain::Language::Fr, "Rien n’a été enregistré"),
            (portal_domain::Language::En, "Nothing was saved"),
        ] {
            let t = crate::i18n::Tr::new(language);
            for refusal in &refusals {
                let message = refusal.message(&t);
                assert!(!message.contains("billit."), "{refusal:?}: {message}");
                assert!(!message.contains('{'), "{refusal:?}: {message}");
                if !matches!(refusal, PairRefusal::NoEmbeddedSandbox) {
                    assert!(message.contains(nothing_saved), "{refusal:?}: {message}");
                }
            }
        }
        let t = crate::i18n::Tr::new(portal_domain::Language::Fr);
        assert!(
            refusals[5].message(&t).contains("FR64443061841"),
            "the number Billit gave is shown"
        );
        assert!(refusals[6].message(&t).contains("injoignable"));
    }
}
