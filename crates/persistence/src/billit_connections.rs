//! Each tenant's connection to Billit. Secrets arrive already encrypted (AES-256-GCM under the master key, done by
//! the web crate) and are stored as such; nothing here ever holds them in clear. A change someone makes writes
//! its audit entry in the same transaction.

use crate::audit::{self, AuditEntry};
use crate::auth_cache::AuthCache;
use crate::entities::billit_connections;
use crate::scope::{ScopeOrigin, TenantRole, TenantScope};
use crate::tokens::new_token;
use chrono::Utc;
use portal_domain::ids::TenantId;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter,
};

/// Where the tenant's Billit account lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillitEnvironment {
    Production,
    /// Billit's own sandbox (api.sandbox.billit.be).
    Sandbox,
    /// The sandbox embedded in the portal (development and demonstration).
    Embedded,
}

impl BillitEnvironment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Production => "production",
            Self::Sandbox => "sandbox",
            Self::Embedded => "embedded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "production" => Some(Self::Production),
            "sandbox" => Some(Self::Sandbox),
            "embedded" => Some(Self::Embedded),
            _ => None,
        }
    }
}

/// What pages may show of a connection: whether secrets are set, never the secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillitConnection {
    pub environment: BillitEnvironment,
    pub has_api_key: bool,
    pub party_id: Option<i64>,
    pub context_party_id: Option<i64>,
    /// The unguessable path segment of this tenant's webhook endpoint.
    pub webhook_token: String,
    pub webhook_registered: bool,
    /// Billit's ids of the webhooks registered for this endpoint.
    pub webhook_ids: Vec<String>,
}

/// The encrypted material, for the code that calls Billit or checks webhooks.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedSecrets {
    pub api_key: Option<String>,
    pub webhook_secret: Option<String>,
}

impl std::fmt::Debug for EncryptedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptedSecrets([redacted])")
    }
}

#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    pub environment: BillitEnvironment,
    /// `None` keeps the stored key (the form never shows it, so an empty field means "unchanged").
    pub api_key_encrypted: Option<String>,
    pub party_id: Option<i64>,
    pub context_party_id: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct BillitConnectionRepository {
    db: DatabaseConnection,
    /// Webhook tokens → company and secrets (read by every delivery); every change here invalidates its company.
    cache: AuthCache,
}

impl BillitConnectionRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            cache: AuthCache::disabled(),
        }
    }

    /// The same repository, its webhook look-ups kept in `cache`.
    #[must_use]
    pub fn with_cache(mut self, cache: AuthCache) -> Self {
        self.cache = cache;
        self
    }

    pub async fn get(&self, scope: &TenantScope) -> Result<Option<BillitConnection>, DbErr> {
        Ok(
            billit_connections::Entity::find_by_id(scope.tenant_id().as_uuid())
                .one(&self.db)
                .await?
                .map(public_view),
        )
    }

    /// The connection and its encrypted secrets, in one read (for the code that calls Billit).
    pub async fn with_secrets(
        &self,
        scope: &TenantScope,
    ) -> Result<Option<(BillitConnection, EncryptedSecrets)>, DbErr> {
        Ok(
            billit_connections::Entity::find_by_id(scope.tenant_id().as_uuid())
                .one(&self.db)
                .await?
                .map(|row| {
                    let secrets = EncryptedSecrets {
                        api_key: row.api_key_encrypted.clone(),
                        webhook_secret: row.webhook_secret_encrypted.clone(),
                    };
                    (public_view(row), secrets)
                }),
        )
    }

    /// The connections holding a secret not yet bound to its company (whose ciphertext does not start with
    /// `bound_prefix`), each with its own tenant's scope: the one-time upgrade at start-up re-encrypts them.
    pub async fn unbound_secrets(
        &self,
        bound_prefix: &str,
    ) -> Result<Vec<(TenantScope, EncryptedSecrets)>, DbErr> {
        let pattern = format!("{bound_prefix}%");
        Ok(billit_connections::Entity::find()
            .filter(
                Condition::any()
                    .add(billit_connections::Column::ApiKeyEncrypted.not_like(&pattern))
                    .add(billit_connections::Column::WebhookSecretEncrypted.not_like(&pattern)),
            )
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| {
                let scope = TenantScope::new(
                    TenantId::from_uuid(row.tenant_id),
                    TenantRole::Admin,
                    ScopeOrigin::Job,
                );
                let secrets = EncryptedSecrets {
                    api_key: row.api_key_encrypted,
                    webhook_secret: row.webhook_secret_encrypted,
                };
                (scope, secrets)
            })
            .collect())
    }

    /// Replaces the stored ciphertexts of the tenant's secrets (the same secrets, encrypted again).
    pub async fn replace_secrets(
        &self,
        scope: &TenantScope,
        secrets: EncryptedSecrets,
    ) -> Result<(), DbErr> {
        billit_connections::Entity::update_many()
            .col_expr(
                billit_connections::Column::ApiKeyEncrypted,
                Expr::value(secrets.api_key),
            )
            .col_expr(
                billit_connections::Column::WebhookSecretEncrypted,
                Expr::value(secrets.webhook_secret),
            )
            .filter(billit_connections::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .exec(&self.db)
            .await?;
        self.cache.invalidate_tenant(scope.tenant_id());
        Ok(())
    }

    /// Saves the connection's settings, with the tenant's entry `audit` when there is one (the demo and tests
    /// have none), in one transaction.
    pub async fn save(
        &self,
        scope: &TenantScope,
        settings: ConnectionSettings,
        audit: Option<AuditEntry>,
    ) -> Result<BillitConnection, DbErr> {
        let now = Utc::now();
        // Read inside the transaction that writes (SQLite's write lock taken at its start: `db::begin_write`).
        let txn = crate::db::begin_write(&self.db).await?;
        let existing = billit_connections::Entity::find_by_id(scope.tenant_id().as_uuid())
            .one(&txn)
            .await?;
        let row = match existing {
            Some(row) => {
                let mut active: billit_connections::ActiveModel = row.into();
                active.environment = Set(settings.environment.as_str().to_owned());
                if let Some(key) = settings.api_key_encrypted {
                    active.api_key_encrypted = Set(Some(key));
                }
                active.party_id = Set(settings.party_id);
                active.context_party_id = Set(settings.context_party_id);
                active.updated_at = Set(now);
                active.update(&txn).await?
            }
            None => {
                billit_connections::ActiveModel {
                    tenant_id: Set(scope.tenant_id().as_uuid()),
                    environment: Set(settings.environment.as_str().to_owned()),
                    api_key_encrypted: Set(settings.api_key_encrypted),
                    party_id: Set(settings.party_id),
                    context_party_id: Set(settings.context_party_id),
                    webhook_token: Set(new_token().0),
                    webhook_secret_encrypted: Set(None),
                    webhook_ids: Set(None),
                    updated_at: Set(now),
                }
                .insert(&txn)
                .await?
            }
        };
        if let Some(entry) = audit {
            audit::record_for_tenant(&txn, scope, entry).await?;
        }
        txn.commit().await?;
        self.cache.invalidate_tenant(scope.tenant_id());
        Ok(public_view(row))
    }

    /// Records the webhooks registered with Billit and their (encrypted) signing secret, with the tenant's entry
    /// `audit` when there is one, in one transaction.
    pub async fn set_webhook(
        &self,
        scope: &TenantScope,
        secret_encrypted: String,
        webhook_ids: &[String],
        audit: Option<AuditEntry>,
    ) -> Result<(), DbErr> {
        let Some(row) = billit_connections::Entity::find_by_id(scope.tenant_id().as_uuid())
            .one(&self.db)
            .await?
        else {
            return Err(DbErr::RecordNotFound("billit connection".to_owned()));
        };
        let mut active: billit_connections::ActiveModel = row.into();
        active.webhook_secret_encrypted = Set(Some(secret_encrypted));
        active.webhook_ids = Set(Some(
            serde_json::to_string(webhook_ids).unwrap_or_else(|_| "[]".to_owned()),
        ));
        active.updated_at = Set(Utc::now());
        let txn = crate::db::begin_write(&self.db).await?;
        active.update(&txn).await?;
        if let Some(entry) = audit {
            audit::record_for_tenant(&txn, scope, entry).await?;
        }
        txn.commit().await?;
        self.cache.invalidate_tenant(scope.tenant_id());
        Ok(())
    }

    /// The webhook endpoint's look-up: the token in the URL names the tenant; the caller must still check the
    /// signature with the returned secret before trusting anything. Kept in the cache for its lifetime (an unknown
    /// token is asked again each time, so a new connection works at once).
    pub async fn scope_for_webhook(
        &self,
        token: &str,
    ) -> Result<Option<(TenantScope, EncryptedSecrets)>, DbErr> {
        if let Some(found) = self.cache.webhook(token) {
            return Ok(Some(found));
        }
        let ticket = self.cache.ticket();
        let row = billit_connections::Entity::find()
            .filter(billit_connections::Column::WebhookToken.eq(token))
            .one(&self.db)
            .await?;
        let found = row.map(|row| {
            (
                TenantScope::new(
                    TenantId::from_uuid(row.tenant_id),
                    TenantRole::Member,
                    ScopeOrigin::Webhook,
                ),
                EncryptedSecrets {
                    api_key: row.api_key_encrypted,
                    webhook_secret: row.webhook_secret_encrypted,
                },
            )
        });
        if let Some(found) = &found {
            self.cache.put_webhook(ticket, token, found.clone());
        }
        Ok(found)
    }
}

fn public_view(row: billit_connections::Model) -> BillitConnection {
    BillitConnection {
        environment: BillitEnvironment::parse(&row.environment)
            .unwrap_or(BillitEnvironment::Production),
        has_api_key: row.api_key_encrypted.is_some(),
        party_id: row.party_id,
        context_party_id: row.context_party_id,
        webhook_token: row.webhook_token,
        webhook_registered: row.webhook_secret_encrypted.is_some(),
        webhook_ids: row
            .webhook_ids
            .as_deref()
            .and_then(|ids| serde_json::from_str(ids).ok())
            .unwrap_or_default(),
    }
}
