//! Billit's side coming in: every signed webhook delivery as received (kept raw, processed by a job), and what the
//! poller needs (which tenants to poll, when the last slow check of open invoices ran).

use crate::entities::{billit_connections, billit_sync, tenants, webhook_deliveries};
use crate::jobs::{JobQueue, JobQueueError, NewJob};
use crate::scope::{ScopeOrigin, TenantRole, TenantScope};
use chrono::{DateTime, Utc};
use portal_domain::ids::TenantId;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Value,
};
use uuid::Uuid;

/// Where a delivery is in its processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Stored; its job has not finished yet.
    Received,
    /// Read and applied (or knowingly ignored, with a note).
    Processed,
    /// Unreadable, or its processing failed for good.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Processed => "processed",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "received" => Some(Self::Received),
            "processed" => Some(Self::Processed),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A webhook delivery as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub received_at: DateTime<Utc>,
    /// The raw body, exactly as signed (lossless when it was UTF-8, which Billit's JSON is).
    pub body: String,
    pub state: DeliveryState,
    /// Why it failed, or a note on why it was ignored.
    pub error: Option<String>,
    pub processed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Database(#[from] DbErr),
    #[error(transparent)]
    Queue(#[from] JobQueueError),
}

fn to_delivery(row: webhook_deliveries::Model) -> WebhookDelivery {
    WebhookDelivery {
        id: row.id,
        received_at: row.received_at,
        body: row.body,
        state: DeliveryState::parse(&row.state).unwrap_or(DeliveryState::Received),
        error: row.error,
        processed_at: row.processed_at,
    }
}

#[derive(Debug, Clone)]
pub struct WebhookDeliveryRepository {
    db: DatabaseConnection,
}

impl WebhookDeliveryRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Stores a verified delivery and enqueues `job_kind` `{"delivery_id"}` in the same transaction: the delivery
    /// is processed if and only if it was stored.
    pub async fn record(
        &self,
        scope: &TenantScope,
        body: String,
        job_kind: &str,
    ) -> Result<Uuid, DeliveryError> {
        // Without a signature nothing can conflict: the delivery is stored.
        self.store(vec![(scope.clone(), body, None)], job_kind)
            .await?
            .into_iter()
            .next()
            .flatten()
            .ok_or_else(|| DbErr::Custom("the delivery was not stored".to_owned()).into())
    }

    /// Like [`Self::record`], for a delivery identified by its signature (`<t>:<hex HMAC>`): a replay of one
    /// already stored for the tenant stores nothing and queues nothing (`None`).
    pub async fn record_unless_replayed(
        &self,
        scope: &TenantScope,
        body: String,
        signature: &str,
        job_kind: &str,
    ) -> Result<Option<Uuid>, DeliveryError> {
        Ok(self
            .store(
                vec![(scope.clone(), body, Some(signature.to_owned()))],
                job_kind,
            )
            .await?
            .into_iter()
            .next()
            .flatten())
    }

    /// Stores many verified deliveries (each `(scope, body, signature)`) and their jobs in one transaction: what
    /// [`Self::record_unless_replayed`] does for each, at the cost of one commit. Returns, for each, its id or
    /// `None` when it replays one already stored (or one earlier in the same list).
    pub async fn record_many_unless_replayed(
        &self,
        deliveries: Vec<(TenantScope, String, String)>,
        job_kind: &str,
    ) -> Result<Vec<Option<Uuid>>, DeliveryError> {
        self.store(
            deliveries
                .into_iter()
                .map(|(scope, body, signature)| (scope, body, Some(signature)))
                .collect(),
            job_kind,
        )
        .await
    }

    /// Every way a delivery is stored: `(scope, body, signature)` rows and their jobs in one transaction, the
    /// rows from one JSON array so that the statement's text does not depend on how many there are (see
    /// `JobQueue::enqueue_all_in`). A row whose signature the tenant has already (or an earlier row has) is left
    /// out (`None`); a row without a signature is always stored.
    async fn store(
        &self,
        deliveries: Vec<(TenantScope, String, Option<String>)>,
        job_kind: &str,
    ) -> Result<Vec<Option<Uuid>>, DeliveryError> {
        let now = Utc::now();
        let ids: Vec<Uuid> = deliveries.iter().map(|_| Uuid::now_v7()).collect();
        if deliveries.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<serde_json::Value> = ids
            .iter()
            .zip(&deliveries)
            .map(|(id, (scope, body, signature))| {
                serde_json::json!([
                    id.simple().to_string(),
                    scope.tenant_id().as_uuid().simple().to_string(),
                    body,
                    signature,
                ])
            })
            .collect();
        let backend = self.db.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => {
                "INSERT INTO webhook_deliveries (id, tenant_id, received_at, body, state, signature) \
                 SELECT (delivery->>0)::uuid, (delivery->>1)::uuid, ?, delivery->>2, ?, delivery->>3 \
                 FROM json_array_elements(?::json) AS delivery \
                 ON CONFLICT (tenant_id, signature) DO NOTHING RETURNING id"
            }
            // `WHERE true` tells SQLite's parser that `ON CONFLICT` belongs to the insert, not to a join.
            _ => {
                "INSERT INTO webhook_deliveries (id, tenant_id, received_at, body, state, signature) \
                 SELECT unhex(value->>0), unhex(value->>1), ?, value->>2, ?, value->>3 \
                 FROM json_each(?) WHERE true \
                 ON CONFLICT (tenant_id, signature) DO NOTHING RETURNING id"
            }
        };
        let values: Vec<Value> = vec![
            now.into(),
            DeliveryState::Received.as_str().into(),
            serde_json::Value::Array(rows).to_string().into(),
        ];
        let txn = crate::db::begin_write_promptly(&self.db).await?;
        let mut stored = std::collections::HashSet::new();
        for row in txn
            .query_all_raw(crate::jobs::statement(backend, sql, values))
            .await?
        {
            stored.insert(row.try_get::<Uuid>("", "id")?);
        }
        let jobs = ids
            .iter()
            .zip(&deliveries)
            .filter(|(id, _)| stored.contains(id))
            .map(|(id, (scope, _, _))| {
                NewJob::for_tenant(scope, job_kind, serde_json::json!({ "delivery_id": id }))
                    .unique_key(format!("webhook:{id}"))
            })
            .collect();
        JobQueue::enqueue_all_in(&txn, now.timestamp_millis(), jobs).await?;
        txn.commit().await?;
        Ok(ids
            .into_iter()
            .map(|id| stored.contains(&id).then_some(id))
            .collect())
    }

    /// The tenant's deliveries among `ids` (in no particular order; unknown ids are left out).
    pub async fn get_many(
        &self,
        scope: &TenantScope,
        ids: &[Uuid],
    ) -> Result<Vec<WebhookDelivery>, DbErr> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            found.extend(
                webhook_deliveries::Entity::find()
                    .filter(webhook_deliveries::Column::TenantId.eq(scope.tenant_id().as_uuid()))
                    .filter(
                        webhook_deliveries::Column::Id
                            .is_in(crate::db::in_list(chunk.iter().copied())),
                    )
                    .all(&self.db)
                    .await?
                    .into_iter()
                    .map(to_delivery),
            );
        }
        Ok(found)
    }

    pub async fn get(
        &self,
        scope: &TenantScope,
        id: Uuid,
    ) -> Result<Option<WebhookDelivery>, DbErr> {
        Ok(webhook_deliveries::Entity::find_by_id(id)
            .filter(webhook_deliveries::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .one(&self.db)
            .await?
            .map(to_delivery))
    }

    /// The tenant's latest deliveries, newest first.
    pub async fn recent(
        &self,
        scope: &TenantScope,
        limit: u64,
    ) -> Result<Vec<WebhookDelivery>, DbErr> {
        Ok(webhook_deliveries::Entity::find()
            .filter(webhook_deliveries::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .order_by_desc(webhook_deliveries::Column::ReceivedAt)
            .order_by_desc(webhook_deliveries::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_delivery)
            .collect())
    }

    /// Forgets the tenant's processed deliveries received before `before` (their events are in the invoices' logs).
    /// Failed ones stay, for people to look at.
    pub async fn purge_processed(
        &self,
        scope: &TenantScope,
        before: chrono::DateTime<Utc>,
    ) -> Result<u64, DbErr> {
        Ok(webhook_deliveries::Entity::delete_many()
            .filter(webhook_deliveries::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(webhook_deliveries::Column::State.eq(DeliveryState::Processed.as_str()))
            .filter(webhook_deliveries::Column::ReceivedAt.lt(before))
            .exec(&self.db)
            .await?
            .rows_affected)
    }

    /// Done with it; `note` says why nothing was applied, if so.
    pub async fn mark_processed(
        &self,
        scope: &TenantScope,
        id: Uuid,
        note: Option<&str>,
    ) -> Result<(), DbErr> {
        self.finish(scope, id, DeliveryState::Processed, note).await
    }

    pub async fn mark_failed(
        &self,
        scope: &TenantScope,
        id: Uuid,
        error: &str,
    ) -> Result<(), DbErr> {
        self.finish(scope, id, DeliveryState::Failed, Some(error))
            .await
    }

    async fn finish(
        &self,
        scope: &TenantScope,
        id: Uuid,
        state: DeliveryState,
        note: Option<&str>,
    ) -> Result<(), DbErr> {
        webhook_deliveries::Entity::update_many()
            .col_expr(
                webhook_deliveries::Column::State,
                Expr::value(state.as_str()),
            )
            .col_expr(
                webhook_deliveries::Column::Error,
                Expr::value(note.map(str::to_owned)),
            )
            .col_expr(
                webhook_deliveries::Column::ProcessedAt,
                Expr::value(Some(Utc::now())),
            )
            .filter(webhook_deliveries::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(webhook_deliveries::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    // ---- polling ----

    /// A scope for each active tenant whose Billit connection can be used (an API key and a PartyID), for the
    /// firm-wide sweep that hands each tenant its own job.
    /// Every tenant that has stored deliveries, connected or not, active or not (their retention applies all the
    /// same).
    pub async fn tenants_with_deliveries(&self) -> Result<Vec<TenantScope>, DbErr> {
        let ids: Vec<Uuid> = webhook_deliveries::Entity::find()
            .select_only()
            .column(webhook_deliveries::Column::TenantId)
            .distinct()
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(ids
            .into_iter()
            .map(|id| {
                TenantScope::new(TenantId::from_uuid(id), TenantRole::Admin, ScopeOrigin::Job)
            })
            .collect())
    }

    pub async fn tenants_to_poll(&self) -> Result<Vec<TenantScope>, DbErr> {
        let connected: Vec<Uuid> = billit_connections::Entity::find()
            .select_only()
            .column(billit_connections::Column::TenantId)
            .filter(billit_connections::Column::ApiKeyEncrypted.is_not_null())
            .filter(billit_connections::Column::PartyId.is_not_null())
            .into_tuple()
            .all(&self.db)
            .await?;
        if connected.is_empty() {
            return Ok(Vec::new());
        }
        let active: Vec<Uuid> = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::Id)
            .filter(tenants::Column::Id.is_in(connected))
            .filter(tenants::Column::Status.eq("active"))
            .order_by_asc(tenants::Column::Id)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(active
            .into_iter()
            .map(|id| {
                TenantScope::new(TenantId::from_uuid(id), TenantRole::Admin, ScopeOrigin::Job)
            })
            .collect())
    }

    /// When the slow check of every open invoice last ran for the tenant.
    pub async fn last_full_check(
        &self,
        scope: &TenantScope,
    ) -> Result<Option<DateTime<Utc>>, DbErr> {
        Ok(billit_sync::Entity::find_by_id(scope.tenant_id().as_uuid())
            .one(&self.db)
            .await?
            .and_then(|row| row.last_full_check_at))
    }

    pub async fn set_last_full_check(
        &self,
        scope: &TenantScope,
        at: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        billit_sync::Entity::insert(billit_sync::ActiveModel {
            tenant_id: Set(scope.tenant_id().as_uuid()),
            last_sweep_at: Set(None),
            last_full_check_at: Set(Some(at)),
        })
        .on_conflict(
            OnConflict::column(billit_sync::Column::TenantId)
                .update_column(billit_sync::Column::LastFullCheckAt)
                .to_owned(),
        )
        .exec(&self.db)
        .await?;
        Ok(())
    }
}

/// Marks the tenant's deliveries `ids` with `state` and `note` inside the caller's transaction (a batch's).
pub(crate) async fn finish_many_in<C: sea_orm::ConnectionTrait>(
    conn: &C,
    scope: &TenantScope,
    ids: &[Uuid],
    state: DeliveryState,
    note: Option<&str>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    for chunk in ids.chunks(500) {
        webhook_deliveries::Entity::update_many()
            .col_expr(
                webhook_deliveries::Column::State,
                Expr::value(state.as_str()),
            )
            .col_expr(
                webhook_deliveries::Column::Error,
                Expr::value(note.map(str::to_owned)),
            )
            .col_expr(
                webhook_deliveries::Column::ProcessedAt,
                Expr::value(Some(now)),
            )
            .filter(webhook_deliveries::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(webhook_deliveries::Column::Id.is_in(crate::db::in_list(chunk.iter().copied())))
            .exec(conn)
            .await?;
    }
    Ok(())
}
