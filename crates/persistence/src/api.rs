//! The JSON API's storage: each company's API tokens, and the first answer to each request sent with an
//! `Idempotency-Key`.
//!
//! A token is `pt_` followed by 64 hex characters (256 random bits); only its SHA-256 is stored, with its first
//! characters to recognise it in the list. A request names no company: the token's hash finds its row, and the
//! scope minted from it is the company's, with the viewer's role for a read token and the member's for a read and
//! write one. Creating and revoking a token write their audit entry in the same transaction.

use crate::audit::{self, AuditEntry};
use crate::customers::{Customer, CustomerError, to_customer};
use crate::entities::{api_idempotency, api_tokens, customers, invoice_events, invoices, tenants};
use crate::scope::{ScopeOrigin, TenantRole, TenantScope};
use crate::tenants::Tenant;
use crate::tokens::{hash_token, new_token};
use chrono::{DateTime, Utc};
use portal_domain::ids::{CustomerId, InvoiceId, TenantId, UserId};
use portal_domain::lifecycle::{EventKind, Source};
use portal_domain::status::StatusCode;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DbErr,
    EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScope {
    Read,
    ReadWrite,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::ReadWrite => "read_write",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "read" => Some(Self::Read),
            "read_write" => Some(Self::ReadWrite),
            _ => None,
        }
    }

    fn role(self) -> TenantRole {
        match self {
            Self::Read => TenantRole::Viewer,
            Self::ReadWrite => TenantRole::Member,
        }
    }
}

/// A token as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    pub scope: TokenScope,
    pub prefix: String,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A request's token, once checked: the company it acts for and the scope that proves it.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub token: ApiToken,
    pub tenant: Tenant,
    pub scope: TenantScope,
}

/// The prefix of every token, so that one pasted in the wrong place is recognised (secret scanners too).
pub const TOKEN_PREFIX: &str = "pt_";
/// How often a token's last use is written: at most once a minute, so that reading the API is not a write each.
const LAST_USE_EVERY_SECS: i64 = 60;

fn to_token(row: api_tokens::Model) -> ApiToken {
    ApiToken {
        id: row.id,
        name: row.name,
        scope: TokenScope::parse(&row.scope).unwrap_or(TokenScope::Read),
        prefix: row.prefix,
        created_by: UserId::from_uuid(row.created_by),
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        revoked_at: row.revoked_at,
    }
}

/// A stored first answer of an idempotent request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idempotent {
    /// The key is new: this request runs, and its answer is to be kept with [`ApiRepository::finish`].
    Started,
    /// The first request with this key is still running (or died less than a minute ago).
    InProgress,
    /// The key was used for another request.
    Mismatch,
    /// The first answer: status and JSON body.
    Done { status: u16, body: String },
}

/// A first request that has not answered within this long is taken to have died (a crash, a restart), and the key
/// may be used again.
const ABANDONED_AFTER_SECS: i64 = 60;

/// One status event in the company's feed.
#[derive(Debug, Clone)]
pub struct FeedEvent {
    pub id: Uuid,
    pub invoice_id: InvoiceId,
    pub number: String,
    pub code: Option<StatusCode>,
    pub kind: EventKind,
    pub source: Source,
    pub at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub description: String,
    pub reasons: Vec<String>,
}

/// Where the feed goes on: after this event (received at, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedCursor {
    pub received_at: DateTime<Utc>,
    pub id: Uuid,
}

impl FeedCursor {
    pub fn encode(&self) -> String {
        // Nanoseconds: SQLite keeps the time as written (to the nanosecond), so a cursor cut to the microsecond
        // would come before its own event and give it again.
        format!(
            "{}_{}",
            self.received_at.timestamp_nanos_opt().unwrap_or_default(),
            self.id.simple()
        )
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (nanos, id) = text.trim().split_once('_')?;
        Some(Self {
            received_at: DateTime::from_timestamp_nanos(nanos.parse().ok()?),
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

#[derive(Clone)]
pub struct ApiRepository {
    db: DatabaseConnection,
}

impl ApiRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    // ---- tokens ----

    /// A new token for the company, with its audit entry: the token as listed, and its secret (shown once).
    pub async fn create_token(
        &self,
        scope: &TenantScope,
        name: &str,
        token_scope: TokenScope,
        by: UserId,
        ip: Option<String>,
    ) -> Result<(ApiToken, String), DbErr> {
        let (random, _) = new_token();
        let secret = format!("{TOKEN_PREFIX}{random}");
        let prefix: String = secret.chars().take(TOKEN_PREFIX.len() + 8).collect();
        let now = Utc::now();
        let id = Uuid::now_v7();
        let row = api_tokens::ActiveModel {
            id: Set(id),
            tenant_id: Set(scope.tenant_id().as_uuid()),
            name: Set(name.trim().to_owned()),
            scope: Set(token_scope.as_str().to_owned()),
            prefix: Set(prefix.clone()),
            token_hash: Set(hash_token(&secret)),
            created_by: Set(by.as_uuid()),
            created_at: Set(now),
            last_used_at: Set(None),
            revoked_at: Set(None),
        };
        let txn = crate::db::begin_write(&self.db).await?;
        let row = row.insert(&txn).await?;
        audit::record_for_tenant(
            &txn,
            scope,
            AuditEntry::new("api_token.created", format!("api_token:{id}"))
                .by(Some(by))
                .from_ip(ip)
                .details(serde_json::json!({
                    "name": name.trim(),
                    "scope": token_scope.as_str(),
                    "prefix": prefix,
                })),
        )
        .await?;
        txn.commit().await?;
        Ok((to_token(row), secret))
    }

    /// The company's tokens, newest first (revoked ones too, marked).
    pub async fn tokens(&self, scope: &TenantScope) -> Result<Vec<ApiToken>, DbErr> {
        Ok(api_tokens::Entity::find()
            .filter(api_tokens::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .order_by(api_tokens::Column::CreatedAt, Order::Desc)
            .limit(200)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_token)
            .collect())
    }

    /// Revokes a token of the company, with its audit entry. False when there is no such (active) token.
    pub async fn revoke_token(
        &self,
        scope: &TenantScope,
        id: Uuid,
        by: UserId,
        ip: Option<String>,
    ) -> Result<bool, DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        let result = api_tokens::Entity::update_many()
            .col_expr(api_tokens::Column::RevokedAt, Expr::value(Utc::now()))
            .filter(api_tokens::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(api_tokens::Column::Id.eq(id))
            .filter(api_tokens::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        if result.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        audit::record_for_tenant(
            &txn,
            scope,
            AuditEntry::new("api_token.revoked", format!("api_token:{id}"))
                .by(Some(by))
                .from_ip(ip),
        )
        .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// The check of a request's token: an active token of an active company, or `None` (unknown, revoked,
    /// company suspended). Its last use is written when the stored one is over a minute old.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<ApiCaller>, DbErr> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let Some(row) = api_tokens::Entity::find()
            .filter(api_tokens::Column::TokenHash.eq(hash_token(secret)))
            .filter(api_tokens::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let Some(tenant) = tenants::Entity::find_by_id(row.tenant_id)
            .filter(tenants::Column::Status.eq("active"))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let now = Utc::now();
        let stale = row
            .last_used_at
            .is_none_or(|at| (now - at).num_seconds() >= LAST_USE_EVERY_SECS);
        if stale {
            api_tokens::Entity::update_many()
                .col_expr(api_tokens::Column::LastUsedAt, Expr::value(now))
                .filter(api_tokens::Column::Id.eq(row.id))
                .exec(&self.db)
                .await?;
        }
        let token = to_token(row);
        let scope = TenantScope::new(
            TenantId::from_uuid(tenant.id),
            token.scope.role(),
            ScopeOrigin::ApiToken,
        );
        Ok(Some(ApiCaller {
            token,
            tenant: Tenant::from(tenant),
            scope,
        }))
    }

    // ---- idempotency ----

    /// Takes `key` for `request`, or tells what became of its first use.
    pub async fn begin_idempotent(
        &self,
        scope: &TenantScope,
        key: &str,
        request: &str,
    ) -> Result<Idempotent, DbErr> {
        let tenant = scope.tenant_id().as_uuid();
        let now = Utc::now();
        let inserted = api_idempotency::Entity::insert(api_idempotency::ActiveModel {
            tenant_id: Set(tenant),
            key: Set(key.to_owned()),
            request: Set(request.to_owned()),
            status: Set(0),
            body: Set(String::new()),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([
                api_idempotency::Column::TenantId,
                api_idempotency::Column::Key,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        if inserted > 0 {
            return Ok(Idempotent::Started);
        }
        let Some(row) = api_idempotency::Entity::find_by_id((tenant, key.to_owned()))
            .one(&self.db)
            .await?
        else {
            // Deleted meanwhile: there is nothing to replay.
            return Ok(Idempotent::InProgress);
        };
        if row.request != request {
            return Ok(Idempotent::Mismatch);
        }
        if row.status > 0 {
            return Ok(Idempotent::Done {
                status: u16::try_from(row.status).unwrap_or(500),
                body: row.body,
            });
        }
        // A first request that never answered (its process died): this one takes the key over.
        let abandoned = now - chrono::Duration::seconds(ABANDONED_AFTER_SECS);
        let taken = api_idempotency::Entity::update_many()
            .col_expr(api_idempotency::Column::CreatedAt, Expr::value(now))
            .filter(api_idempotency::Column::TenantId.eq(tenant))
            .filter(api_idempotency::Column::Key.eq(key))
            .filter(api_idempotency::Column::Status.eq(0))
            .filter(api_idempotency::Column::CreatedAt.lt(abandoned))
            .exec(&self.db)
            .await?;
        Ok(if taken.rows_affected > 0 {
            Idempotent::Started
        } else {
            Idempotent::InProgress
        })
    }

    /// Keeps the answer of the request that took `key`.
    pub async fn finish_idempotent(
        &self,
        scope: &TenantScope,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), DbErr> {
        api_idempotency::Entity::update_many()
            .col_expr(
                api_idempotency::Column::Status,
                Expr::value(i32::from(status)),
            )
            .col_expr(api_idempotency::Column::Body, Expr::value(body.to_owned()))
            .filter(api_idempotency::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(api_idempotency::Column::Key.eq(key))
            .filter(api_idempotency::Column::Status.eq(0))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Lets the key go (the request failed inside the portal: trying again with it must run again).
    pub async fn abandon_idempotent(&self, scope: &TenantScope, key: &str) -> Result<(), DbErr> {
        api_idempotency::Entity::delete_many()
            .filter(api_idempotency::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(api_idempotency::Column::Key.eq(key))
            .filter(api_idempotency::Column::Status.eq(0))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    // ---- reading ----

    /// The company's customers in creation order after `after`, at most `limit` (keyset on the id, UUID v7, over
    /// the index `(tenant_id, id)`), `search` matching part of the name (any case, accents ignored) or of the SIREN, SIRET or VAT number.
    pub async fn customers_page(
        &self,
        scope: &TenantScope,
        search: Option<&str>,
        after: Option<CustomerId>,
        limit: u64,
    ) -> Result<Vec<Customer>, CustomerError> {
        let mut query = customers::Entity::find()
            .filter(customers::Column::TenantId.eq(scope.tenant_id().as_uuid()));
        if let Some(after) = after {
            query = query.filter(customers::Column::Id.gt(after.as_uuid()));
        }
        // The customers list's search, through its index (`customers::search`).
        if let Some(matches) = search.and_then(|typed| {
            crate::customers::search::condition(scope, typed, self.db.get_database_backend())
        }) {
            query = query.filter(matches);
        }
        query
            .order_by(customers::Column::Id, Order::Asc)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_customer)
            .collect()
    }

    /// The company's status events received after `after`, oldest first, at most `limit`.
    pub async fn feed(
        &self,
        scope: &TenantScope,
        after: Option<FeedCursor>,
        limit: u64,
    ) -> Result<Vec<FeedEvent>, DbErr> {
        let tenant = scope.tenant_id().as_uuid();
        let mut query =
            invoice_events::Entity::find().filter(invoice_events::Column::TenantId.eq(tenant));
        if let Some(cursor) = after {
            // `received_at >= t AND (received_at > t OR id > i)`, the same set as `(received_at, id) > (t, i)`,
            // with a plain range the index `(tenant_id, received_at)` starts at: a next page does not read the
            // company's feed from its beginning (the query-plan test's "next page" rule).
            query = query
                .filter(invoice_events::Column::ReceivedAt.gte(cursor.received_at))
                .filter(
                    Condition::any()
                        .add(invoice_events::Column::ReceivedAt.gt(cursor.received_at))
                        .add(invoice_events::Column::Id.gt(cursor.id)),
                );
        }
        let events = query
            .order_by(invoice_events::Column::ReceivedAt, Order::Asc)
            .order_by(invoice_events::Column::Id, Order::Asc)
            .limit(limit)
            .all(&self.db)
            .await?;
        let ids: Vec<Uuid> = events.iter().map(|event| event.invoice_id).collect();
        let numbers: std::collections::HashMap<Uuid, Option<String>> = invoices::Entity::find()
            .select_only()
            .column(invoices::Column::Id)
            .column(invoices::Column::Number)
            .filter(invoices::Column::TenantId.eq(tenant))
            .filter(invoices::Column::Id.is_in(ids))
            .into_tuple::<(Uuid, Option<String>)>()
            .all(&self.db)
            .await?
            .into_iter()
            .collect();
        Ok(events
            .into_iter()
            .map(|row| FeedEvent {
                id: row.id,
                invoice_id: InvoiceId::from_uuid(row.invoice_id),
                number: numbers
                    .get(&row.invoice_id)
                    .cloned()
                    .flatten()
                    .unwrap_or_default(),
                code: crate::invoices::code_of(row.code),
                kind: crate::invoices::parse_kind(&row.kind),
                source: crate::invoices::parse_source(&row.source),
                at: row.at,
                received_at: row.received_at,
                description: row.description,
                reasons: serde_json::from_str(&row.reasons).unwrap_or_default(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_cursors_round_trip() {
        let cursor = FeedCursor {
            received_at: DateTime::from_timestamp_nanos(1_764_000_000_123_456_789),
            id: Uuid::now_v7(),
        };
        assert_eq!(FeedCursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(FeedCursor::decode("nonsense"), None);
        assert_eq!(TokenScope::parse("read_write"), Some(TokenScope::ReadWrite));
        assert_eq!(TokenScope::parse("admin"), None);
    }
}
