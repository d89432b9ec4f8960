//! A tenant's Billit client, built from its stored connection (the API key decrypted only here, in memory).

use crate::App;
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
pub fn key_needed_again(
    stored: Option<&BillitConnection>,
    party_id: Option<i64>,
    context_party_id: Option<i64>,
) -> bool {
    stored.is_some_and(|stored| {
        stored.has_api_key
            && (stored.party_id != party_id || stored.context_party_id != context_party_id)
    })
}

/// The client for this tenant's Billit account, and the connection it was built from.
pub async fn client_for(
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
async fn delete_webhooks(client: &HttpBillitClient, ids: &[String]) {
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
