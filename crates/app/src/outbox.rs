//! "Send again" from the outbox pages: an email that failed for good, or that may have been sent (`uncertain`),
//! queued once more because a person decided so. The same rule as the answers' "send again" (one repository
//! function, [`OutboxRepository::retry_failed`](portal_persistence::outbox::OutboxRepository::retry_failed)):
//! only from `failed` or `uncertain`, a new sending job, the audit entry in the same transaction.

use crate::App;
use portal_domain::ids::UserId;
use portal_persistence::audit::AuditEntry;
use portal_persistence::outbox::OutboxError;
use portal_persistence::scope::TenantScope;
use uuid::Uuid;

/// Whose email it is: a tenant's (through its scope) or the firm's own (invitations of first and firm
/// administrators, which belong to no tenant; only firm administrators reach them).
#[derive(Debug, Clone, Copy)]
pub enum Owner<'a> {
    Tenant(&'a TenantScope),
    Firm,
}

/// Who asked, for the audit log.
#[derive(Debug, Clone)]
pub struct Asker {
    pub user: UserId,
    pub ip: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("no such email for this owner")]
    NotFound,
    #[error("the retry could not be stored")]
    Storage(#[source] OutboxError),
}

impl crate::Failure for RetryError {
    fn kind(&self) -> crate::FailureKind {
        match self {
            Self::NotFound => crate::FailureKind::NotFound,
            Self::Storage(_) => crate::FailureKind::Internal,
        }
    }
}

/// What "send again" did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retried {
    /// Queued again, with a new sending job.
    Queued,
    /// Neither failed nor uncertain (sent, or queued already, meanwhile): left as it is.
    Unchanged,
}

/// Queues the owner's email `id` again when it failed or may have been sent; another owner's email is
/// [`RetryError::NotFound`], whatever its state.
pub async fn retry(
    app: &App,
    owner: Owner<'_>,
    id: Uuid,
    asker: Asker,
) -> Result<Retried, RetryError> {
    let audit = AuditEntry::new("email.retried", format!("email:{id}"))
        .by(Some(asker.user))
        .from_ip(asker.ip);
    let retried = match owner {
        Owner::Tenant(scope) => app.outbox.retry_failed(scope, id, Some(audit)).await,
        Owner::Firm => app.outbox.retry_failed_for_firm(id, audit).await,
    }
    .map_err(RetryError::Storage)?;
    if retried {
        app.jobs.ring();
        return Ok(Retried::Queued);
    }
    let exists = match owner {
        Owner::Tenant(scope) => app.outbox.get_for_tenant(scope, id).await,
        Owner::Firm => app
            .outbox
            .get(id)
            .await
            .map(|email| email.filter(|email| email.tenant_id.is_none())),
    }
    .map_err(|error| RetryError::Storage(error.into()))?;
    match exists {
        Some(_) => Ok(Retried::Unchanged),
        None => Err(RetryError::NotFound),
    }
}
