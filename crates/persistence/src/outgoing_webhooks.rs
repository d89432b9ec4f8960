//! Outgoing webhooks to a company's own systems: its endpoints, one message per event and endpoint, and every
//! attempt at delivering one.
//!
//! Messages are produced inside the transaction that records what they tell ([`emit_in`]), with one delivery job
//! each, so an event is announced if and only if it was recorded. Per endpoint and invoice they go out in `seq`
//! order: a message waits while an earlier one of the same invoice is pending, and the message that ends (delivered
//! or given up) wakes the next one. Producing locks the tenant's active endpoints (the `seq` counter's update), and
//! ending a message locks its endpoint first, so a message produced while the previous one ends is either seen by
//! that end or finds the previous one ended: none is left waiting.

use crate::entities::{webhook_attempts, webhook_endpoints, webhook_messages};
use crate::jobs::{JobQueue, JobQueueError, NewJob};
use crate::scope::TenantScope;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

/// Whether an endpoint receives deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointState {
    Active,
    /// Failing for too long: nothing is sent until an admin resumes it.
    Paused,
}

impl EndpointState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
        }
    }

    fn parse(text: &str) -> Self {
        if text == "paused" {
            Self::Paused
        } else {
            Self::Active
        }
    }
}

/// Where a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageState {
    Pending,
    Delivered,
    /// Every attempt failed; the next message of its invoice went on.
    GivenUp,
}

impl MessageState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::GivenUp => "given_up",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "delivered" => Self::Delivered,
            "given_up" => Self::GivenUp,
            _ => Self::Pending,
        }
    }
}

/// An endpoint as stored (its secret still encrypted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub encrypted_secret: String,
    pub state: EndpointState,
    pub failing_since: Option<DateTime<Utc>>,
    pub paused_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub invoice_id: Option<Uuid>,
    pub seq: i64,
    pub event_type: String,
    pub body: String,
    pub state: MessageState,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One attempt at delivering a message, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub id: Uuid,
    pub message_id: Uuid,
    pub event_type: String,
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status; `None` when no answer came (refused connection, timeout, TLS).
    pub status_code: Option<i32>,
    /// The start of the answer's body, or why there was none.
    pub excerpt: String,
}

/// An event to announce, the same body for every endpoint that chose its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEvent {
    pub event_type: String,
    /// The invoice it is about (messages of one invoice go out in order).
    pub invoice_id: Option<Uuid>,
    pub body: String,
}

/// What the end of a failed attempt did to the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureOutcome {
    /// The endpoint was paused now (failing since longer than allowed): tell its company's admins.
    pub paused: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum OutgoingError {
    #[error(transparent)]
    Database(#[from] DbErr),
    #[error(transparent)]
    Queue(#[from] JobQueueError),
}

/// The longest excerpt of an answer kept in the log (characters).
pub const EXCERPT_CHARS: usize = 500;

fn to_endpoint(row: webhook_endpoints::Model) -> Endpoint {
    Endpoint {
        id: row.id,
        url: row.url,
        events: row
            .events
            .split(',')
            .filter(|event| !event.is_empty())
            .map(str::to_owned)
            .collect(),
        encrypted_secret: row.secret,
        state: EndpointState::parse(&row.state),
        failing_since: row.failing_since,
        paused_at: row.paused_at,
        created_at: row.created_at,
    }
}

fn to_message(row: webhook_messages::Model) -> Message {
    Message {
        id: row.id,
        endpoint_id: row.endpoint_id,
        invoice_id: row.invoice_id,
        seq: row.seq,
        event_type: row.event_type,
        body: row.body,
        state: MessageState::parse(&row.state),
        attempts: row.attempts,
        last_status: row.last_status,
        last_attempt_at: row.last_attempt_at,
        created_at: row.created_at,
        delivered_at: row.delivered_at,
    }
}

/// The delivery job of a message (`{"message_id"}`), under a key of its own (`why` tells a wake-up from the first
/// run, so that each is a job).
pub fn delivery_job(scope: &TenantScope, kind: &str, message: Uuid, why: &str) -> NewJob {
    NewJob::for_tenant(scope, kind, serde_json::json!({ "message_id": message }))
        .unique_key(format!("webhook-out:{message}:{why}"))
        .max_attempts(MAX_ATTEMPTS)
}

/// How many times a message is tried before it is given up (with the queue's default exponential backoff, 5 s
/// doubling to at most an hour, with jitter: one to two and a half hours).
pub const MAX_ATTEMPTS: i32 = 12;

/// Announces `events` to the tenant's active endpoints that chose their type: one message per event and endpoint,
/// numbered in the order given, each with its delivery job (`job_kind`), inside the caller's transaction.
/// Returns how many messages were written.
pub async fn emit_in<C: ConnectionTrait>(
    conn: &C,
    scope: &TenantScope,
    events: &[OutgoingEvent],
    job_kind: &str,
    now: DateTime<Utc>,
) -> Result<u64, OutgoingError> {
    if events.is_empty() {
        return Ok(0);
    }
    let count = i64::try_from(events.len()).unwrap_or(i64::MAX);
    // Numbers the messages and locks the endpoints in one statement (see the module's comment).
    let endpoints = webhook_endpoints::Entity::update_many()
        .col_expr(
            webhook_endpoints::Column::NextSeq,
            Expr::col(webhook_endpoints::Column::NextSeq).add(count),
        )
        .filter(webhook_endpoints::Column::TenantId.eq(scope.tenant_id().as_uuid()))
        .filter(webhook_endpoints::Column::State.eq(EndpointState::Active.as_str()))
        .exec_with_returning(conn)
        .await?;
    let mut rows = Vec::new();
    let mut jobs = Vec::new();
    for endpoint in endpoints {
        let chosen = to_endpoint(endpoint.clone()).events;
        let first = endpoint.next_seq - count + 1;
        for (offset, event) in (0_i64..).zip(events) {
            if !chosen.contains(&event.event_type) {
                continue;
            }
            let id = Uuid::now_v7();
            rows.push(webhook_messages::ActiveModel {
                id: Set(id),
                tenant_id: Set(scope.tenant_id().as_uuid()),
                endpoint_id: Set(endpoint.id),
                invoice_id: Set(event.invoice_id),
                seq: Set(first + offset),
                event_type: Set(event.event_type.clone()),
                body: Set(event.body.clone()),
                state: Set(MessageState::Pending.as_str().to_owned()),
                attempts: Set(0),
                lease_until_ms: Set(0),
                last_status: Set(None),
                last_attempt_at: Set(None),
                created_at: Set(now),
                delivered_at: Set(None),
            });
            jobs.push(delivery_job(scope, job_kind, id, "new"));
        }
    }
    if rows.is_empty() {
        return Ok(0);
    }
    let written = u64::try_from(rows.len()).unwrap_or(u64::MAX);
    webhook_messages::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await?;
    JobQueue::enqueue_all_in(conn, now.timestamp_millis(), jobs).await?;
    Ok(written)
}

#[derive(Debug, Clone)]
pub struct OutgoingWebhookRepository {
    db: DatabaseConnection,
}

impl OutgoingWebhookRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Registers an endpoint (active); its secret comes encrypted.
    pub async fn create(
        &self,
        scope: &TenantScope,
        url: &str,
        events: &[String],
        encrypted_secret: String,
        created_by: Option<Uuid>,
    ) -> Result<Endpoint, DbErr> {
        let row = webhook_endpoints::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(scope.tenant_id().as_uuid()),
            url: Set(url.to_owned()),
            events: Set(events.join(",")),
            secret: Set(encrypted_secret),
            state: Set(EndpointState::Active.as_str().to_owned()),
            next_seq: Set(0),
            failing_since: Set(None),
            paused_at: Set(None),
            created_at: Set(Utc::now()),
            created_by: Set(created_by),
        }
        .insert(&self.db)
        .await?;
        Ok(to_endpoint(row))
    }

    /// The tenant's endpoints, oldest first (a company has a handful).
    pub async fn list(&self, scope: &TenantScope) -> Result<Vec<Endpoint>, DbErr> {
        Ok(webhook_endpoints::Entity::find()
            .filter(webhook_endpoints::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .order_by_asc(webhook_endpoints::Column::CreatedAt)
            .order_by_asc(webhook_endpoints::Column::Id)
            .limit(100)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_endpoint)
            .collect())
    }

    pub async fn get(&self, scope: &TenantScope, id: Uuid) -> Result<Option<Endpoint>, DbErr> {
        Ok(webhook_endpoints::Entity::find_by_id(id)
            .filter(webhook_endpoints::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .one(&self.db)
            .await?
            .map(to_endpoint))
    }

    /// Removes an endpoint with its messages and log. False when the tenant has no such endpoint.
    pub async fn delete(&self, scope: &TenantScope, id: Uuid) -> Result<bool, DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        let tenant = scope.tenant_id().as_uuid();
        let found = webhook_endpoints::Entity::find_by_id(id)
            .filter(webhook_endpoints::Column::TenantId.eq(tenant))
            .count(&txn)
            .await?;
        if found == 0 {
            return Ok(false);
        }
        webhook_attempts::Entity::delete_many()
            .filter(webhook_attempts::Column::TenantId.eq(tenant))
            .filter(webhook_attempts::Column::EndpointId.eq(id))
            .exec(&txn)
            .await?;
        webhook_messages::Entity::delete_many()
            .filter(webhook_messages::Column::TenantId.eq(tenant))
            .filter(webhook_messages::Column::EndpointId.eq(id))
            .exec(&txn)
            .await?;
        webhook_endpoints::Entity::delete_many()
            .filter(webhook_endpoints::Column::TenantId.eq(tenant))
            .filter(webhook_endpoints::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Sets since when an endpoint has been failing (how operators and tests move its clock).
    pub async fn set_failing_since(
        &self,
        scope: &TenantScope,
        id: Uuid,
        since: Option<DateTime<Utc>>,
    ) -> Result<bool, DbErr> {
        let updated = webhook_endpoints::Entity::update_many()
            .col_expr(webhook_endpoints::Column::FailingSince, Expr::value(since))
            .filter(webhook_endpoints::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(webhook_endpoints::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected > 0)
    }

    /// Makes a paused endpoint active again, with a delivery job for each of its pending messages (each waits for
    /// its invoice's earlier ones, so the order holds). False when the tenant has no such endpoint.
    pub async fn resume(
        &self,
        scope: &TenantScope,
        id: Uuid,
        job_kind: &str,
    ) -> Result<bool, OutgoingError> {
        let tenant = scope.tenant_id().as_uuid();
        let now = Utc::now();
        let txn = crate::db::begin_write(&self.db).await?;
        let updated = webhook_endpoints::Entity::update_many()
            .col_expr(
                webhook_endpoints::Column::State,
                Expr::value(EndpointState::Active.as_str()),
            )
            .col_expr(
                webhook_endpoints::Column::PausedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                webhook_endpoints::Column::FailingSince,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(webhook_endpoints::Column::TenantId.eq(tenant))
            .filter(webhook_endpoints::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        if updated.rows_affected == 0 {
            return Ok(false);
        }
        let pending: Vec<Uuid> = webhook_messages::Entity::find()
            .select_only()
            .column(webhook_messages::Column::Id)
            .filter(webhook_messages::Column::TenantId.eq(tenant))
            .filter(webhook_messages::Column::EndpointId.eq(id))
            .filter(webhook_messages::Column::State.eq(MessageState::Pending.as_str()))
            .into_tuple()
            .all(&txn)
            .await?;
        let why = format!("resume-{}", now.timestamp_millis());
        let jobs = pending
            .into_iter()
            .map(|message| delivery_job(scope, job_kind, message, &why))
            .collect();
        JobQueue::enqueue_all_in(&txn, now.timestamp_millis(), jobs).await?;
        txn.commit().await?;
        Ok(true)
    }

    pub async fn message(&self, scope: &TenantScope, id: Uuid) -> Result<Option<Message>, DbErr> {
        Ok(webhook_messages::Entity::find_by_id(id)
            .filter(webhook_messages::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .one(&self.db)
            .await?
            .map(to_message))
    }

    /// An endpoint's latest messages, newest first.
    pub async fn messages(
        &self,
        scope: &TenantScope,
        endpoint: Uuid,
        limit: u64,
    ) -> Result<Vec<Message>, DbErr> {
        Ok(webhook_messages::Entity::find()
            .filter(webhook_messages::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(webhook_messages::Column::EndpointId.eq(endpoint))
            .order_by_desc(webhook_messages::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(to_message)
            .collect())
    }

    /// An endpoint's latest attempts, newest first, with their message's event type.
    pub async fn attempts(
        &self,
        scope: &TenantScope,
        endpoint: Uuid,
        limit: u64,
    ) -> Result<Vec<Attempt>, DbErr> {
        let tenant = scope.tenant_id().as_uuid();
        let rows = webhook_attempts::Entity::find()
            .filter(webhook_attempts::Column::TenantId.eq(tenant))
            .filter(webhook_attempts::Column::EndpointId.eq(endpoint))
            .order_by_desc(webhook_attempts::Column::At)
            .order_by_desc(webhook_attempts::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        let ids: Vec<Uuid> = rows.iter().map(|row| row.message_id).collect();
        let types: Vec<(Uuid, String)> = if ids.is_empty() {
            Vec::new()
        } else {
            webhook_messages::Entity::find()
                .select_only()
                .column(webhook_messages::Column::Id)
                .column(webhook_messages::Column::EventType)
                .filter(webhook_messages::Column::TenantId.eq(tenant))
                .filter(webhook_messages::Column::Id.is_in(ids))
                .into_tuple()
                .all(&self.db)
                .await?
        };
        Ok(rows
            .into_iter()
            .map(|row| Attempt {
                id: row.id,
                message_id: row.message_id,
                event_type: types
                    .iter()
                    .find(|(id, _)| *id == row.message_id)
                    .map(|(_, kind)| kind.clone())
                    .unwrap_or_default(),
                at: row.at,
                status_code: row.status_code,
                excerpt: row.excerpt,
            })
            .collect())
    }

    /// Whether an earlier message of the same endpoint and invoice is still pending (this one must wait).
    pub async fn waits_for_earlier(
        &self,
        scope: &TenantScope,
        message: &Message,
    ) -> Result<bool, DbErr> {
        let Some(invoice) = message.invoice_id else {
            return Ok(false);
        };
        let earlier = webhook_messages::Entity::find()
            .filter(webhook_messages::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(webhook_messages::Column::EndpointId.eq(message.endpoint_id))
            .filter(webhook_messages::Column::InvoiceId.eq(invoice))
            .filter(webhook_messages::Column::State.eq(MessageState::Pending.as_str()))
            .filter(webhook_messages::Column::Seq.lt(message.seq))
            .count(&self.db)
            .await?;
        Ok(earlier > 0)
    }

    /// Takes a pending message for one attempt until `until_ms` (two jobs of one message never send it at once).
    /// False when it is not pending or another attempt holds it.
    pub async fn take(
        &self,
        scope: &TenantScope,
        id: Uuid,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, DbErr> {
        let updated = webhook_messages::Entity::update_many()
            .col_expr(
                webhook_messages::Column::LeaseUntilMs,
                Expr::value(until_ms),
            )
            .filter(webhook_messages::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(webhook_messages::Column::Id.eq(id))
            .filter(webhook_messages::Column::State.eq(MessageState::Pending.as_str()))
            .filter(webhook_messages::Column::LeaseUntilMs.lt(now_ms))
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected > 0)
    }

    /// Records an attempt and its outcome in one transaction. Delivered: the message is done and the endpoint no
    /// longer failing. Failed: the endpoint is failing since its first failure, and paused when that is older than
    /// `pause_after`; with `give_up` the message is given up. A message that ends wakes the next pending one of
    /// its invoice (a job of kind `job_kind`).
    #[expect(
        clippy::too_many_arguments,
        reason = "one attempt's facts, recorded together"
    )]
    pub async fn record_attempt(
        &self,
        scope: &TenantScope,
        message: &Message,
        status_code: Option<i32>,
        excerpt: &str,
        delivered: bool,
        give_up: bool,
        pause_after: chrono::Duration,
        job_kind: &str,
    ) -> Result<FailureOutcome, OutgoingError> {
        let tenant = scope.tenant_id().as_uuid();
        let now = Utc::now();
        let txn = crate::db::begin_write(&self.db).await?;
        // The endpoint's lock first (see the module's comment), and its state as it is now.
        let endpoint = webhook_endpoints::Entity::update_many()
            .col_expr(
                webhook_endpoints::Column::NextSeq,
                Expr::col(webhook_endpoints::Column::NextSeq),
            )
            .filter(webhook_endpoints::Column::TenantId.eq(tenant))
            .filter(webhook_endpoints::Column::Id.eq(message.endpoint_id))
            .exec_with_returning(&txn)
            .await?
            .into_iter()
            .next();
        let Some(endpoint) = endpoint else {
            txn.rollback().await?;
            return Ok(FailureOutcome { paused: false });
        };
        webhook_attempts::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(tenant),
            endpoint_id: Set(message.endpoint_id),
            message_id: Set(message.id),
            at: Set(now),
            status_code: Set(status_code),
            excerpt: Set(excerpt.chars().take(EXCERPT_CHARS).collect()),
        }
        .insert(&txn)
        .await?;
        let state = if delivered {
            MessageState::Delivered
        } else if give_up {
            MessageState::GivenUp
        } else {
            MessageState::Pending
        };
        webhook_messages::Entity::update_many()
            .col_expr(webhook_messages::Column::State, Expr::value(state.as_str()))
            .col_expr(
                webhook_messages::Column::Attempts,
                Expr::col(webhook_messages::Column::Attempts).add(1),
            )
            .col_expr(webhook_messages::Column::LeaseUntilMs, Expr::value(0_i64))
            .col_expr(
                webhook_messages::Column::LastStatus,
                Expr::value(status_code),
            )
            .col_expr(webhook_messages::Column::LastAttemptAt, Expr::value(now))
            .col_expr(
                webhook_messages::Column::DeliveredAt,
                Expr::value(delivered.then_some(now)),
            )
            .filter(webhook_messages::Column::TenantId.eq(tenant))
            .filter(webhook_messages::Column::Id.eq(message.id))
            .exec(&txn)
            .await?;
        let mut paused = false;
        if delivered {
            if endpoint.failing_since.is_some() {
                self::set_failing(&txn, tenant, endpoint.id, None).await?;
            }
        } else {
            let since = endpoint.failing_since.unwrap_or(now);
            if endpoint.failing_since.is_none() {
                self::set_failing(&txn, tenant, endpoint.id, Some(now)).await?;
            }
            if now - since >= pause_after && endpoint.state == EndpointState::Active.as_str() {
                webhook_endpoints::Entity::update_many()
                    .col_expr(
                        webhook_endpoints::Column::State,
                        Expr::value(EndpointState::Paused.as_str()),
                    )
                    .col_expr(webhook_endpoints::Column::PausedAt, Expr::value(now))
                    .filter(webhook_endpoints::Column::TenantId.eq(tenant))
                    .filter(webhook_endpoints::Column::Id.eq(endpoint.id))
                    .exec(&txn)
                    .await?;
                paused = true;
            }
        }
        if state != MessageState::Pending
            && let Some(invoice) = message.invoice_id
        {
            let next: Option<Uuid> = webhook_messages::Entity::find()
                .select_only()
                .column(webhook_messages::Column::Id)
                .filter(webhook_messages::Column::TenantId.eq(tenant))
                .filter(webhook_messages::Column::EndpointId.eq(message.endpoint_id))
                .filter(webhook_messages::Column::InvoiceId.eq(invoice))
                .filter(webhook_messages::Column::State.eq(MessageState::Pending.as_str()))
                .order_by_asc(webhook_messages::Column::Seq)
                .into_tuple()
                .one(&txn)
                .await?;
            if let Some(next) = next {
                let job = delivery_job(scope, job_kind, next, &format!("after-{}", message.id));
                JobQueue::enqueue_in(&txn, now.timestamp_millis(), job).await?;
            }
        }
        txn.commit().await?;
        Ok(FailureOutcome { paused })
    }

    /// Sends a message's event again: a new message with the same body, after the endpoint's others, with its
    /// delivery job. `None` when the tenant has no such message.
    pub async fn send_again(
        &self,
        scope: &TenantScope,
        endpoint: Uuid,
        message: Uuid,
        job_kind: &str,
    ) -> Result<Option<Uuid>, OutgoingError> {
        let tenant = scope.tenant_id().as_uuid();
        let now = Utc::now();
        let txn = crate::db::begin_write(&self.db).await?;
        let original = webhook_messages::Entity::find_by_id(message)
            .filter(webhook_messages::Column::TenantId.eq(tenant))
            .filter(webhook_messages::Column::EndpointId.eq(endpoint))
            .one(&txn)
            .await?;
        let Some(original) = original else {
            txn.rollback().await?;
            return Ok(None);
        };
        let numbered = webhook_endpoints::Entity::update_many()
            .col_expr(
                webhook_endpoints::Column::NextSeq,
                Expr::col(webhook_endpoints::Column::NextSeq).add(1),
            )
            .filter(webhook_endpoints::Column::TenantId.eq(tenant))
            .filter(webhook_endpoints::Column::Id.eq(endpoint))
            .exec_with_returning(&txn)
            .await?
            .into_iter()
            .next();
        let Some(numbered) = numbered else {
            txn.rollback().await?;
            return Ok(None);
        };
        let id = Uuid::now_v7();
        webhook_messages::ActiveModel {
            id: Set(id),
            tenant_id: Set(tenant),
            endpoint_id: Set(endpoint),
            invoice_id: Set(original.invoice_id),
            seq: Set(numbered.next_seq),
            event_type: Set(original.event_type),
            body: Set(original.body),
            state: Set(MessageState::Pending.as_str().to_owned()),
            attempts: Set(0),
            lease_until_ms: Set(0),
            last_status: Set(None),
            last_attempt_at: Set(None),
            created_at: Set(now),
            delivered_at: Set(None),
        }
        .insert(&txn)
        .await?;
        JobQueue::enqueue_in(
            &txn,
            now.timestamp_millis(),
            delivery_job(scope, job_kind, id, "new"),
        )
        .await?;
        txn.commit().await?;
        Ok(Some(id))
    }
}

async fn set_failing<C: ConnectionTrait>(
    conn: &C,
    tenant: Uuid,
    endpoint: Uuid,
    since: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    webhook_endpoints::Entity::update_many()
        .col_expr(webhook_endpoints::Column::FailingSince, Expr::value(since))
        .filter(webhook_endpoints::Column::TenantId.eq(tenant))
        .filter(webhook_endpoints::Column::Id.eq(endpoint))
        .exec(conn)
        .await?;
    Ok(())
}
