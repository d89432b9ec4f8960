//! Answering a customer's request (207 dispute, 208 information) by email: each email written about an invoice,
//! the request it answers and who wrote it, and each tenant's own answer templates.

use crate::audit::{self, AuditEntry};
use crate::entities::{answer_templates, invoice_emails, invoices, users};
use crate::outbox::{
    AttachmentInfo, EmailExtras, NewEmail, OutboxError, OutboxRepository, StoredEmail,
};
use crate::scope::TenantScope;
use chrono::{DateTime, Utc};
use portal_domain::Language;
use portal_domain::ids::{InvoiceId, UserId};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use std::collections::HashMap;
use uuid::Uuid;

/// An answer about to be sent.
#[derive(Debug, Clone)]
pub struct NewInvoiceEmail {
    pub invoice: InvoiceId,
    /// 207 or 208.
    pub request_code: u16,
    /// The dedup key of the status event that opened the request.
    pub request_dedup_key: String,
    pub sent_by: Option<UserId>,
    pub email: NewEmail,
    pub extras: EmailExtras,
}

/// An email written about an invoice, with where its sending stands.
#[derive(Debug, Clone)]
pub struct InvoiceEmailRecord {
    pub id: Uuid,
    pub request_code: u16,
    pub request_dedup_key: String,
    pub sent_by: Option<UserId>,
    pub sent_by_email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub email: StoredEmail,
    pub attachments: Vec<AttachmentInfo>,
}

#[derive(Debug, Clone)]
pub struct InvoiceEmailRepository {
    db: DatabaseConnection,
}

impl InvoiceEmailRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// How many answers the tenant, and `user` among them, wrote since `since` (the hourly limits). Indexed on
    /// `(tenant_id, created_at)` and `(tenant_id, sent_by, created_at)`: bounded by the limit, not by history.
    pub async fn written_since(
        &self,
        scope: &TenantScope,
        user: UserId,
        since: DateTime<Utc>,
    ) -> Result<(u64, u64), DbErr> {
        use sea_orm::PaginatorTrait;
        let recent = || {
            invoice_emails::Entity::find()
                .filter(invoice_emails::Column::TenantId.eq(scope.tenant_id().as_uuid()))
                .filter(invoice_emails::Column::CreatedAt.gte(since))
        };
        let company = recent().count(&self.db).await?;
        let own = recent()
            .filter(invoice_emails::Column::SentBy.eq(user.as_uuid()))
            .count(&self.db)
            .await?;
        Ok((company, own))
    }

    /// Queues the answer: the outbox row, its attachments, this invoice's record of it, the sending job and the
    /// audit entry, all in one transaction. `None` when the invoice is not this tenant's.
    pub async fn send(
        &self,
        scope: &TenantScope,
        answer: NewInvoiceEmail,
        audit_entry: AuditEntry,
    ) -> Result<Option<Uuid>, OutboxError> {
        let tenant = scope.tenant_id().as_uuid();
        let txn = crate::db::begin_write(&self.db).await?;
        // Writing first (a no-op update of the invoice row) takes SQLite's write lock at once: a transaction that
        // reads first may not be allowed to write later. It also checks the invoice is this tenant's.
        let owned = invoices::Entity::update_many()
            .col_expr(
                invoices::Column::UpdatedAt,
                Expr::col(invoices::Column::UpdatedAt),
            )
            .filter(invoices::Column::TenantId.eq(tenant))
            .filter(invoices::Column::Id.eq(answer.invoice.as_uuid()))
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
        if !owned {
            return Ok(None);
        }
        let outbox_id = Uuid::now_v7();
        OutboxRepository::queue_in(&txn, Some(scope), outbox_id, answer.email, answer.extras)
            .await?;
        let id = Uuid::now_v7();
        invoice_emails::Entity::insert(invoice_emails::ActiveModel {
            id: Set(id),
            tenant_id: Set(tenant),
            invoice_id: Set(answer.invoice.as_uuid()),
            outbox_id: Set(outbox_id),
            request_code: Set(i32::from(answer.request_code)),
            request_dedup_key: Set(answer.request_dedup_key),
            sent_by: Set(answer.sent_by.map(|user| user.as_uuid())),
            created_at: Set(Utc::now()),
        })
        .exec(&txn)
        .await?;
        audit::record_for_tenant(&txn, scope, audit_entry).await?;
        txn.commit().await?;
        Ok(Some(id))
    }

    /// Every email of the invoice, newest first.
    pub async fn list(
        &self,
        scope: &TenantScope,
        invoice: InvoiceId,
    ) -> Result<Vec<InvoiceEmailRecord>, DbErr> {
        let rows = invoice_emails::Entity::find()
            .filter(invoice_emails::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoice_emails::Column::InvoiceId.eq(invoice.as_uuid()))
            .order_by_desc(invoice_emails::Column::CreatedAt)
            .order_by_desc(invoice_emails::Column::Id)
            .all(&self.db)
            .await?;
        let outbox_ids: Vec<Uuid> = rows.iter().map(|row| row.outbox_id).collect();
        let mut emails = OutboxRepository::new(self.db.clone())
            .for_tenant(scope, &outbox_ids)
            .await?;
        let mut senders: Vec<Uuid> = rows.iter().filter_map(|row| row.sent_by).collect();
        senders.sort_unstable();
        senders.dedup();
        let sender_emails: HashMap<Uuid, String> = if senders.is_empty() {
            HashMap::new()
        } else {
            users::Entity::find()
                .filter(users::Column::Id.is_in(senders))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|user| (user.id, user.email))
                .collect()
        };
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let (email, attachments) = emails.remove(&row.outbox_id)?;
                Some(InvoiceEmailRecord {
                    id: row.id,
                    request_code: u16::try_from(row.request_code).unwrap_or_default(),
                    request_dedup_key: row.request_dedup_key,
                    sent_by: row.sent_by.map(UserId::from_uuid),
                    sent_by_email: row
                        .sent_by
                        .and_then(|user| sender_emails.get(&user).cloned()),
                    created_at: row.created_at,
                    email,
                    attachments,
                })
            })
            .collect())
    }

    /// Sends a failed email of this invoice again. False when there is no such failed email.
    pub async fn retry(
        &self,
        scope: &TenantScope,
        invoice: InvoiceId,
        id: Uuid,
        audit: crate::audit::AuditEntry,
    ) -> Result<bool, OutboxError> {
        let row = invoice_emails::Entity::find_by_id(id)
            .filter(invoice_emails::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoice_emails::Column::InvoiceId.eq(invoice.as_uuid()))
            .one(&self.db)
            .await?;
        match row {
            Some(row) => {
                OutboxRepository::new(self.db.clone())
                    .retry_failed(scope, row.outbox_id, Some(audit))
                    .await
            }
            None => Ok(false),
        }
    }

    /// Whether the invoice has this email (any state).
    pub async fn exists(
        &self,
        scope: &TenantScope,
        invoice: InvoiceId,
        id: Uuid,
    ) -> Result<bool, DbErr> {
        Ok(invoice_emails::Entity::find_by_id(id)
            .filter(invoice_emails::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(invoice_emails::Column::InvoiceId.eq(invoice.as_uuid()))
            .one(&self.db)
            .await?
            .is_some())
    }
}

/// A tenant's own wording for one status in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerTemplate {
    pub status: u16,
    pub language: Language,
    pub subject: String,
    pub body: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct AnswerTemplateRepository {
    db: DatabaseConnection,
}

impl AnswerTemplateRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Every template the tenant has customised.
    pub async fn all(&self, scope: &TenantScope) -> Result<Vec<AnswerTemplate>, DbErr> {
        Ok(answer_templates::Entity::find()
            .filter(answer_templates::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|row| {
                Some(AnswerTemplate {
                    status: u16::try_from(row.status_code).ok()?,
                    language: Language::parse(&row.language)?,
                    subject: row.subject,
                    body: row.body,
                    updated_at: row.updated_at,
                })
            })
            .collect())
    }

    /// The tenant's template for a status and language, if customised.
    pub async fn get(
        &self,
        scope: &TenantScope,
        status: u16,
        language: Language,
    ) -> Result<Option<AnswerTemplate>, DbErr> {
        Ok(self
            .all(scope)
            .await?
            .into_iter()
            .find(|template| template.status == status && template.language == language))
    }

    pub async fn save(
        &self,
        scope: &TenantScope,
        status: u16,
        language: Language,
        subject: &str,
        body: &str,
        audit_entry: AuditEntry,
    ) -> Result<(), DbErr> {
        // The template is signed by whoever the audit entry names.
        let by = audit_entry.actor;
        let txn = crate::db::begin_write(&self.db).await?;
        answer_templates::Entity::insert(answer_templates::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(scope.tenant_id().as_uuid()),
            status_code: Set(i32::from(status)),
            language: Set(language.code().to_owned()),
            subject: Set(subject.to_owned()),
            body: Set(body.to_owned()),
            updated_by: Set(by.map(|user| user.as_uuid())),
            updated_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::columns([
                answer_templates::Column::TenantId,
                answer_templates::Column::StatusCode,
                answer_templates::Column::Language,
            ])
            .update_columns([
                answer_templates::Column::Subject,
                answer_templates::Column::Body,
                answer_templates::Column::UpdatedBy,
                answer_templates::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec(&txn)
        .await?;
        audit::record_for_tenant(&txn, scope, audit_entry).await?;
        txn.commit().await
    }

    /// Back to the portal's default wording (with its audit entry, in one transaction).
    pub async fn reset(
        &self,
        scope: &TenantScope,
        status: u16,
        language: Language,
        audit_entry: AuditEntry,
    ) -> Result<(), DbErr> {
        let txn = crate::db::begin_write(&self.db).await?;
        answer_templates::Entity::delete_many()
            .filter(answer_templates::Column::TenantId.eq(scope.tenant_id().as_uuid()))
            .filter(answer_templates::Column::StatusCode.eq(i32::from(status)))
            .filter(answer_templates::Column::Language.eq(language.code()))
            .exec(&txn)
            .await?;
        audit::record_for_tenant(&txn, scope, audit_entry).await?;
        txn.commit().await
    }
}
