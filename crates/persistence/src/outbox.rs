//! Every outgoing email is a row here first, and a `mail.send` job enqueued in the same transaction: SMTP being
//! down means queued and retried, never lost.

use crate::entities::outbox;
use crate::jobs::{JobQueue, JobQueueError, NewJob};
use crate::scope::TenantScope;
use chrono::{DateTime, Utc};
use portal_domain::ids::TenantId;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

pub const SEND_JOB: &str = "mail.send";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEmail {
    pub to: Vec<String>,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub from: String,
    pub reply_to: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailStatus {
    Queued,
    Sent,
    Failed,
}

impl EmailStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            _ => Self::Queued,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEmail {
    pub id: Uuid,
    pub tenant_id: Option<TenantId>,
    pub email: NewEmail,
    pub status: EmailStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Database(#[from] DbErr),
    #[error(transparent)]
    Queue(#[from] JobQueueError),
}

#[derive(Debug, Clone)]
pub struct OutboxRepository {
    db: DatabaseConnection,
}

impl OutboxRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Queues a tenant's email (its sending job carries the tenant).
    pub async fn queue_for_tenant(
        &self,
        scope: &TenantScope,
        email: NewEmail,
    ) -> Result<Uuid, OutboxError> {
        self.queue(Some(scope), email).await
    }

    /// Queues a firm-level email (an invitation of a firm administrator, a password reset).
    pub async fn queue_for_firm(&self, email: NewEmail) -> Result<Uuid, OutboxError> {
        self.queue(None, email).await
    }

    async fn queue(
        &self,
        scope: Option<&TenantScope>,
        email: NewEmail,
    ) -> Result<Uuid, OutboxError> {
        let now = Utc::now();
        let id = Uuid::now_v7();
        let txn = self.db.begin().await?;
        outbox::ActiveModel {
            id: Set(id),
            tenant_id: Set(scope.map(|scope| scope.tenant_id().as_uuid())),
            to_addresses: Set(serde_json::to_string(&email.to).unwrap_or_else(|_| "[]".to_owned())),
            subject: Set(email.subject),
            text_body: Set(email.text_body),
            html_body: Set(email.html_body),
            from_address: Set(email.from),
            reply_to: Set(email.reply_to),
            status: Set(EmailStatus::Queued.as_str().to_owned()),
            attempts: Set(0),
            last_error: Set(None),
            created_at: Set(now),
            sent_at: Set(None),
        }
        .insert(&txn)
        .await?;
        let payload = serde_json::json!({ "email_id": id });
        let job = match scope {
            Some(scope) => NewJob::for_tenant(scope, SEND_JOB, payload),
            None => NewJob::firm_wide(SEND_JOB, payload),
        }
        .unique_key(format!("mail:{id}"))
        .max_attempts(8);
        JobQueue::enqueue_in(&txn, now.timestamp_millis(), job).await?;
        txn.commit().await?;
        Ok(id)
    }

    /// The email a sending job is about; the job's own tenant must match the row's.
    pub async fn get_for_job(
        &self,
        scope: Option<&TenantScope>,
        id: Uuid,
    ) -> Result<Option<StoredEmail>, DbErr> {
        let row = outbox::Entity::find_by_id(id).one(&self.db).await?;
        Ok(row
            .filter(|row| row.tenant_id == scope.map(|scope| scope.tenant_id().as_uuid()))
            .map(stored))
    }

    pub async fn mark_sent(&self, id: Uuid, now: DateTime<Utc>) -> Result<(), DbErr> {
        self.update(id, EmailStatus::Sent, None, Some(now)).await
    }

    /// Records a failed try; `final_failure` when no retry is left.
    pub async fn mark_attempt_failed(
        &self,
        id: Uuid,
        error: &str,
        final_failure: bool,
    ) -> Result<(), DbErr> {
        let status = if final_failure {
            EmailStatus::Failed
        } else {
            EmailStatus::Queued
        };
        self.update(id, status, Some(error.to_owned()), None).await
    }

    async fn update(
        &self,
        id: Uuid,
        status: EmailStatus,
        error: Option<String>,
        sent_at: Option<DateTime<Utc>>,
    ) -> Result<(), DbErr> {
        let Some(row) = outbox::Entity::find_by_id(id).one(&self.db).await? else {
            return Ok(());
        };
        let attempts = row.attempts.saturating_add(1);
        let mut active: outbox::ActiveModel = row.into();
        active.status = Set(status.as_str().to_owned());
        active.attempts = Set(attempts);
        active.last_error = Set(error);
        if sent_at.is_some() {
            active.sent_at = Set(sent_at);
        }
        active.update(&self.db).await?;
        Ok(())
    }

    /// The newest emails of the whole deployment (the firm's view of the outbox).
    pub async fn recent(&self, limit: u64) -> Result<Vec<StoredEmail>, DbErr> {
        Ok(outbox::Entity::find()
            .order_by_desc(outbox::Column::CreatedAt)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(stored)
            .collect())
    }

    /// A tenant's emails, newest first.
    pub async fn recent_for_tenant(
        &self,
        scope: &TenantScope,
        limit: u64,
    ) -> Result<Vec<StoredEmail>, DbErr> {
        Ok(outbox::Entity::find()
            .filter(outbox::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .order_by_desc(outbox::Column::CreatedAt)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(stored)
            .collect())
    }

    /// One email of the deployment (the firm's view of the outbox).
    pub async fn get(&self, id: Uuid) -> Result<Option<StoredEmail>, DbErr> {
        Ok(outbox::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(stored))
    }

    /// One email of a tenant; another tenant's (or a firm-level one) is `None`.
    pub async fn get_for_tenant(
        &self,
        scope: &TenantScope,
        id: Uuid,
    ) -> Result<Option<StoredEmail>, DbErr> {
        Ok(outbox::Entity::find_by_id(id)
            .filter(outbox::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .one(&self.db)
            .await?
            .map(stored))
    }
}

fn stored(row: outbox::Model) -> StoredEmail {
    StoredEmail {
        id: row.id,
        tenant_id: row.tenant_id.map(TenantId::from_uuid),
        email: NewEmail {
            to: serde_json::from_str(&row.to_addresses).unwrap_or_default(),
            subject: row.subject,
            text_body: row.text_body,
            html_body: row.html_body,
            from: row.from_address,
            reply_to: row.reply_to,
        },
        status: EmailStatus::parse(&row.status),
        attempts: row.attempts,
        last_error: row.last_error,
        created_at: row.created_at,
        sent_at: row.sent_at,
    }
}
