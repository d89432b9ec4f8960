//! Deleting an invoice that was never sent: a draft, or a failed submission. When Billit had already created its
//! order (the send itself failed), the order is deleted at Billit first (`DELETE /v1/orders/{id}`), so that no
//! orphan order stays in the company's Billit account; if Billit cannot delete it, the invoice is kept and the
//! user is told why.

use crate::App;
use crate::billit_connection::{ConnectionProblem, client_for};
use crate::invoicing::drafts::left_draft;
use portal_billit::client::{BillitClient, BillitError};
use portal_domain::actions::{Action, Refusal, decide};
use portal_persistence::TenantScope;
use portal_persistence::audit::AuditEntry;
use portal_persistence::invoices::{InvoiceError, InvoiceRecord};

/// Why the invoice was not deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    #[error("no such invoice")]
    NotFound,
    /// The table of actions refuses it: on its way to Billit, or sent (a credit note cancels it instead).
    #[error(transparent)]
    Refused(Refusal),
    /// Billit sent the order after all: it cannot be deleted any more.
    #[error("Billit has already sent order {order_id}")]
    OrderSent { order_id: i64 },
    /// Billit could not be asked to delete the order (unreachable, busy, refused).
    #[error("Billit did not delete order {order_id}")]
    Billit {
        order_id: i64,
        #[source]
        error: BillitError,
    },
    /// No usable Billit connection to delete the order with.
    #[error("no Billit connection to delete order {order_id} with")]
    Connection {
        order_id: i64,
        #[source]
        problem: ConnectionProblem,
    },
    #[error("the invoice could not be deleted")]
    Storage(#[source] anyhow::Error),
}

impl crate::Failure for DeleteError {
    fn kind(&self) -> crate::FailureKind {
        match self {
            Self::NotFound => crate::FailureKind::NotFound,
            Self::Refused(_)
            | Self::OrderSent { .. }
            | Self::Billit { .. }
            | Self::Connection { .. } => crate::FailureKind::Refused,
            Self::Storage(_) => crate::FailureKind::Internal,
        }
    }

    fn refusal(&self) -> Option<Refusal> {
        match self {
            Self::Refused(refusal) => Some(*refusal),
            _ => None,
        }
    }
}

/// Deletes `invoice` with the entry `audit` (the order at Billit first, when it has one). Returns the id of the
/// order deleted at Billit, if any.
pub async fn delete(
    state: &App,
    scope: &TenantScope,
    invoice: &InvoiceRecord,
    audit: AuditEntry,
) -> Result<Option<i64>, DeleteError> {
    decide(Action::Delete, &crate::actions::without_amounts(invoice))
        .map_err(DeleteError::Refused)?;
    if let Some(order_id) = invoice.billit_order_id {
        let client = match client_for(state, scope).await {
            Ok((client, _)) => client,
            Err(ConnectionProblem::Database(error)) => {
                return Err(DeleteError::Storage(error.into()));
            }
            Err(problem) => return Err(DeleteError::Connection { order_id, problem }),
        };
        match client.delete_order(order_id).await {
            // Gone already (an earlier attempt got that far): nothing left at Billit.
            Ok(()) | Err(BillitError::NotFound) => {}
            Err(error)
                if crate::failures::errors_of(&error)
                    .iter()
                    .any(|detail| detail.code.as_deref() == Some("OrderAlreadySent")) =>
            {
                return Err(DeleteError::OrderSent { order_id });
            }
            Err(error) => {
                tracing::debug!(error = %error, order_id, "Billit did not delete the order");
                return Err(DeleteError::Billit { order_id, error });
            }
        }
        tracing::debug!(order_id, invoice = %invoice.id, "the unsent order was deleted at Billit");
    }
    match state.invoices.delete(scope, invoice.id, audit).await {
        Ok(true) => Ok(invoice.billit_order_id),
        Ok(false) => Err(DeleteError::NotFound),
        // Queued meanwhile (the repository checks the state again under its own condition): it stays.
        Err(InvoiceError::NotEditable) => Err(DeleteError::Refused(left_draft(Action::Delete))),
        Err(error) => Err(DeleteError::Storage(error.into())),
    }
}
