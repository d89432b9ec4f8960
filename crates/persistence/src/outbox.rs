//! Every outgoing email is a row here first, and a `mail.send` job enqueued in the same transaction: SMTP being
//! down means queued and retried, never lost.

use crate::entities::{outbox, outbox_attachments};
use crate::jobs::{JobQueue, JobQueueError, NewJob};
use crate::scope::TenantScope;
use chrono::{DateTime, Utc};
use portal_domain::ids::TenantId;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::HashMap;
use uuid::Uuid;

pub const SEND_JOB: &str = "mail.send";
/// Tries of one sending job before the email is marked failed.
const MAX_ATTEMPTS: i32 = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEmail {
    pub to: Vec<String>,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub from: String,
    pub reply_to: Option<String>,
}

/// A file sent with an email.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewAttachment {
    pub file_name: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// What only some emails have: copies, the sender's display name, a Message-ID host, files. The portal's own
/// emails (invitations, resets, notifications) have none of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmailExtras {
    pub cc: Vec<String>,
    /// Put before the address of `from` (a tenant's name for its customers).
    pub from_name: Option<String>,
    /// The Message-ID becomes `<id@host>`, fixed once so that every retry sends the same one.
    pub message_host: Option<String>,
    pub attachments: Vec<NewAttachment>,
}

/// An attachment as pages list it (without its content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentInfo {
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailStatus {
    Queued,
    /// A try marked it before asking the SMTP server, and has not said how it ended yet.
    Sending,
    Sent,
    Failed,
    /// A try began and never said how it ended (its worker died or was stopped while sending): the email may
    /// have been sent. Never sent again automatically; a person decides ("send again").
    Uncertain,
}

impl EmailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Uncertain => "uncertain",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "sending" => Self::Sending,
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            "uncertain" => Self::Uncertain,
            _ => Self::Queued,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEmail {
    pub id: Uuid,
    pub tenant_id: Option<TenantId>,
    pub email: NewEmail,
    pub cc: Vec<String>,
    pub from_name: Option<String>,
    pub message_id: Option<String>,
    pub status: EmailStatus,
    pub attempts: i32,
    /// Why the last try failed: a code with its technical detail (`portal_app::mailer`); rows written before
    /// the codes hold the technical text.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// What a sending job found when it came to send its email ([`OutboxRepository::begin_sending`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendingStart {
    /// Marked `sending` by this job: ask the SMTP server, then say how it went.
    Send(Box<StoredEmail>),
    /// Sent already (a late job after a retry asked by hand).
    AlreadySent,
    /// Another job's try is under way and its lease is alive: left alone.
    InFlight,
    /// An earlier try began and never said how it ended: the email may have gone. It is `uncertain` now, for a
    /// person to decide.
    Uncertain,
    /// Not this job's tenant's email, or gone.
    NotFound,
    /// Changed by someone else between the two reads (queued again by hand): the job should try later.
    Changed,
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

    /// Queues a tenant's emails, each under its own key (a notification's invoice, event and recipient), in one
    /// transaction: an email whose key was queued before is left out, so a job that runs again after a crash
    /// neither loses the emails it had not queued nor queues the others twice. The email's id (and so its sending
    /// job's unique key, `mail:<id>`) is derived from the tenant and the key. Returns how many were new.
    pub async fn queue_keyed_for_tenant(
        &self,
        scope: &TenantScope,
        emails: Vec<(String, NewEmail)>,
    ) -> Result<u64, OutboxError> {
        if emails.is_empty() {
            return Ok(0);
        }
        let mut rows = Vec::with_capacity(emails.len());
        let mut jobs = Vec::with_capacity(emails.len());
        let now = Utc::now();
        for (key, email) in emails {
            let id = keyed_id(scope.tenant_id(), &key);
            rows.push(Self::row(
                Some(scope),
                id,
                email,
                EmailExtras::default(),
                now,
            ));
            jobs.push(Self::send_job(Some(scope), id));
        }
        let txn = crate::db::begin_write(&self.db).await?;
        // Two statements for all of them: the new emails, then their sending jobs (whose keys follow the ids).
        let added = outbox::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(outbox::Column::Id)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        JobQueue::enqueue_all_in(&txn, now.timestamp_millis(), jobs).await?;
        txn.commit().await?;
        Ok(added)
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
        let id = Uuid::now_v7();
        let txn = crate::db::begin_write(&self.db).await?;
        Self::queue_in(&txn, scope, id, email, EmailExtras::default()).await?;
        txn.commit().await?;
        Ok(id)
    }

    /// Writes the email `id` (with its attachments) and its sending job inside the caller's transaction, so
    /// that it exists, and is sent, iff the caller's change commits.
    pub async fn queue_in<C: ConnectionTrait>(
        conn: &C,
        scope: Option<&TenantScope>,
        id: Uuid,
        email: NewEmail,
        mut extras: EmailExtras,
    ) -> Result<(), OutboxError> {
        let now = Utc::now();
        let tenant_id = scope.map(|scope| scope.tenant_id().as_uuid());
        let attachments = std::mem::take(&mut extras.attachments);
        Self::row(scope, id, email, extras, now)
            .insert(conn)
            .await?;
        for (position, attachment) in attachments.into_iter().enumerate() {
            outbox_attachments::ActiveModel {
                id: Set(Uuid::now_v7()),
                outbox_id: Set(id),
                tenant_id: Set(tenant_id),
                position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
                file_name: Set(attachment.file_name),
                content_type: Set(attachment.content_type),
                size_bytes: Set(i64::try_from(attachment.content.len()).unwrap_or(i64::MAX)),
                content: Set(attachment.content),
            }
            .insert(conn)
            .await?;
        }
        JobQueue::enqueue_in(conn, now.timestamp_millis(), Self::send_job(scope, id)).await?;
        Ok(())
    }

    /// The stored form of a queued email (without its attachments).
    fn row(
        scope: Option<&TenantScope>,
        id: Uuid,
        email: NewEmail,
        extras: EmailExtras,
        now: DateTime<Utc>,
    ) -> outbox::ActiveModel {
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
            cc_addresses: Set((!extras.cc.is_empty())
                .then(|| serde_json::to_string(&extras.cc).unwrap_or_else(|_| "[]".to_owned()))),
            from_name: Set(extras.from_name),
            message_id: Set(extras.message_host.map(|host| format!("<{id}@{host}>"))),
            sending_job_id: Set(None),
            sending_at: Set(None),
        }
    }

    /// The job that sends the email `id`.
    fn send_job(scope: Option<&TenantScope>, id: Uuid) -> NewJob {
        match scope {
            Some(scope) => {
                NewJob::for_tenant(scope, SEND_JOB, serde_json::json!({ "email_id": id }))
            }
            None => NewJob::firm_wide(SEND_JOB, serde_json::json!({ "email_id": id })),
        }
        .unique_key(format!("mail:{id}"))
        .max_attempts(MAX_ATTEMPTS)
    }

    /// Sends a tenant's email that failed for good, or that may have been sent (`uncertain`), once more (someone
    /// fixed the cause, or checked that it did not arrive): queued again with a new sending job. False when it is
    /// not this tenant's, or neither failed nor uncertain.
    pub async fn retry_failed(
        &self,
        scope: &TenantScope,
        id: Uuid,
        audit: Option<crate::audit::AuditEntry>,
    ) -> Result<bool, OutboxError> {
        self.retry(Some(scope), id, audit).await
    }

    /// [`Self::retry_failed`] for one of the firm's own emails (no tenant: a first administrator's or a firm
    /// administrator's invitation), asked by a firm administrator; audited at the firm's level. False when the
    /// email is a tenant's, or neither failed nor uncertain.
    pub async fn retry_failed_for_firm(
        &self,
        id: Uuid,
        audit: crate::audit::AuditEntry,
    ) -> Result<bool, OutboxError> {
        self.retry(None, id, Some(audit)).await
    }

    /// The one rule of "send again" (the answers' list, both outbox pages): only from `failed` or `uncertain`,
    /// only the scope's email (`None`: the firm's own, `tenant_id IS NULL`), a new sending job and the audit
    /// entry in the same transaction.
    async fn retry(
        &self,
        scope: Option<&TenantScope>,
        id: Uuid,
        audit: Option<crate::audit::AuditEntry>,
    ) -> Result<bool, OutboxError> {
        let owner = || match scope {
            Some(scope) => outbox::Column::TenantId.eq(scope.tenant_id().as_uuid()),
            None => outbox::Column::TenantId.is_null(),
        };
        let txn = crate::db::begin_write(&self.db).await?;
        // The guarded update comes first: only a failed or uncertain email of this owner changes, so two
        // concurrent "send again" queue one job.
        let changed = outbox::Entity::update_many()
            .col_expr(
                outbox::Column::Status,
                Expr::value(EmailStatus::Queued.as_str()),
            )
            .filter(outbox::Column::Id.eq(id))
            .filter(owner())
            .filter(outbox::Column::Status.is_in([
                EmailStatus::Failed.as_str(),
                EmailStatus::Uncertain.as_str(),
            ]))
            .exec(&txn)
            .await?
            .rows_affected;
        if changed != 1 {
            return Ok(false);
        }
        let attempts = outbox::Entity::find_by_id(id)
            .filter(owner())
            .one(&txn)
            .await?
            .map_or(0, |row| row.attempts);
        let job = match scope {
            Some(scope) => {
                NewJob::for_tenant(scope, SEND_JOB, serde_json::json!({ "email_id": id }))
            }
            None => NewJob::firm_wide(SEND_JOB, serde_json::json!({ "email_id": id })),
        }
        // A new key per retry: the first job's key is taken by its dead row.
        .unique_key(format!("mail:{id}:retry:{attempts}"))
        .max_attempts(MAX_ATTEMPTS);
        JobQueue::enqueue_in(&txn, Utc::now().timestamp_millis(), job).await?;
        match (audit, scope) {
            (Some(entry), Some(scope)) => {
                crate::audit::record_for_tenant(&txn, scope, entry).await?;
            }
            (Some(entry), None) => crate::audit::record_for_firm(&txn, entry).await?,
            (None, _) => {}
        }
        txn.commit().await?;
        Ok(true)
    }

    /// The files of the email a sending job is about, in their order.
    pub async fn attachments_for_job(
        &self,
        scope: Option<&TenantScope>,
        id: Uuid,
    ) -> Result<Vec<NewAttachment>, DbErr> {
        let tenant = match scope {
            Some(scope) => outbox_attachments::Column::TenantId.eq(scope.tenant_id().as_uuid()),
            None => outbox_attachments::Column::TenantId.is_null(),
        };
        Ok(outbox_attachments::Entity::find()
            .filter(tenant)
            .filter(outbox_attachments::Column::OutboxId.eq(id))
            .order_by_asc(outbox_attachments::Column::Position)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| NewAttachment {
                file_name: row.file_name,
                content_type: row.content_type,
                content: row.content,
            })
            .collect())
    }

    /// A tenant's emails by id, with what their attachments are (never their content).
    pub async fn for_tenant(
        &self,
        scope: &TenantScope,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, (StoredEmail, Vec<AttachmentInfo>)>, DbErr> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let tenant = scope.tenant_id().as_uuid();
        let mut out: HashMap<Uuid, (StoredEmail, Vec<AttachmentInfo>)> = outbox::Entity::find()
            .filter(outbox::Column::TenantId.eq(tenant))
            .filter(outbox::Column::Id.is_in(ids.to_vec()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| (row.id, (stored(row), Vec::new())))
            .collect();
        let infos: Vec<(Uuid, String, String, i64)> = outbox_attachments::Entity::find()
            .select_only()
            .column(outbox_attachments::Column::OutboxId)
            .column(outbox_attachments::Column::FileName)
            .column(outbox_attachments::Column::ContentType)
            .column(outbox_attachments::Column::SizeBytes)
            .filter(outbox_attachments::Column::TenantId.eq(tenant))
            .filter(outbox_attachments::Column::OutboxId.is_in(ids.to_vec()))
            .order_by_asc(outbox_attachments::Column::Position)
            .into_tuple()
            .all(&self.db)
            .await?;
        for (outbox_id, file_name, content_type, size_bytes) in infos {
            if let Some((_, list)) = out.get_mut(&outbox_id) {
                list.push(AttachmentInfo {
                    file_name,
                    content_type,
                    size_bytes,
                });
            }
        }
        Ok(out)
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

    /// The start of a sending job's try: the email is marked `sending` by `job` (one guarded update, only from
    /// `queued` or `failed`) before anyone asks the SMTP server. When it is `sending` already, an earlier try
    /// began and never said how it ended: unless that try's job still holds a live lease (then it is left alone),
    /// the email is marked `uncertain` and not sent again. `now_ms` is the queue's clock (for leases).
    pub async fn begin_sending(
        &self,
        scope: Option<&TenantScope>,
        id: Uuid,
        job: Uuid,
        now_ms: i64,
    ) -> Result<SendingStart, DbErr> {
        let tenant = match scope {
            Some(scope) => outbox::Column::TenantId.eq(scope.tenant_id().as_uuid()),
            None => outbox::Column::TenantId.is_null(),
        };
        let now = DateTime::<Utc>::from_timestamp_millis(now_ms).unwrap_or_else(Utc::now);
        let started = outbox::Entity::update_many()
            .col_expr(
                outbox::Column::Status,
                Expr::value(EmailStatus::Sending.as_str()),
            )
            .col_expr(outbox::Column::SendingJobId, Expr::value(Some(job)))
            .col_expr(outbox::Column::SendingAt, Expr::value(Some(now)))
            .filter(outbox::Column::Id.eq(id))
            .filter(tenant.clone())
            .filter(
                outbox::Column::Status
                    .is_in([EmailStatus::Queued.as_str(), EmailStatus::Failed.as_str()]),
            )
            .exec_with_returning(&self.db)
            .await?;
        if let Some(row) = started.into_iter().next() {
            return Ok(SendingStart::Send(Box::new(stored(row))));
        }
        let Some(row) = outbox::Entity::find_by_id(id)
            .filter(tenant)
            .one(&self.db)
            .await?
        else {
            return Ok(SendingStart::NotFound);
        };
        match EmailStatus::parse(&row.status) {
            EmailStatus::Sent => Ok(SendingStart::AlreadySent),
            EmailStatus::Uncertain => Ok(SendingStart::Uncertain),
            EmailStatus::Queued | EmailStatus::Failed => Ok(SendingStart::Changed),
            EmailStatus::Sending => {
                let earlier = row.sending_job_id;
                if let Some(other) = earlier.filter(|other| *other != job)
                    && JobQueue::holds_live_lease_in(&self.db, other, now_ms).await?
                {
                    return Ok(SendingStart::InFlight);
                }
                // This job's own earlier try (this try holds the lease now, so that one is over), or another job
                // that is no longer running: it may have been sent. The try counts as an attempt (and so gives a
                // retry asked by hand a new job key).
                outbox::Entity::update_many()
                    .col_expr(
                        outbox::Column::Status,
                        Expr::value(EmailStatus::Uncertain.as_str()),
                    )
                    .col_expr(
                        outbox::Column::Attempts,
                        Expr::col(outbox::Column::Attempts).add(1),
                    )
                    .filter(outbox::Column::Id.eq(id))
                    .filter(outbox::Column::Status.eq(EmailStatus::Sending.as_str()))
                    .filter(match earlier {
                        Some(earlier) => outbox::Column::SendingJobId.eq(earlier),
                        None => outbox::Column::SendingJobId.is_null(),
                    })
                    .exec(&self.db)
                    .await?;
                Ok(SendingStart::Uncertain)
            }
        }
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
        // One statement: the attempt is counted by the database (nothing changes when the email is gone).
        let mut update = outbox::Entity::update_many()
            .col_expr(outbox::Column::Status, Expr::value(status.as_str()))
            .col_expr(
                outbox::Column::Attempts,
                Expr::col(outbox::Column::Attempts).add(1),
            )
            .col_expr(outbox::Column::LastError, Expr::value(error));
        if sent_at.is_some() {
            update = update.col_expr(outbox::Column::SentAt, Expr::value(sent_at));
        }
        update
            .filter(outbox::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
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

/// The id of a keyed email: the same tenant and key always give the same id (a version 8 UUID from SHA-256).
fn keyed_id(tenant: TenantId, key: &str) -> Uuid {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(tenant.as_uuid().as_bytes());
    hasher.update(b":");
    hasher.update(key.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
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
        cc: row
            .cc_addresses
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default(),
        from_name: row.from_name,
        message_id: row.message_id,
        status: EmailStatus::parse(&row.status),
        attempts: row.attempts,
        last_error: row.last_error,
        created_at: row.created_at,
        sent_at: row.sent_at,
    }
}
