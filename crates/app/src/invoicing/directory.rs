//! The directory check before sending: can the buyer's electronic address receive e-invoices?
//!
//! Billit's Peppol participant lookup answers it. Sending with `StrictTransportType: true` already keeps Billit from
//! falling back to email, but only when the order is sent, after it was created; asking first lets the portal say
//! so in plain words and create nothing. The answer is kept per customer for a day (`directory_checks`), so a day's
//! sends to one customer ask Billit once; a changed address is asked again. A lookup that fails (Billit unreachable,
//! a refusal) blocks the send with what happened: it never passes silently.

use crate::App;
use chrono::{DateTime, Duration, Utc};
use portal_billit::client::{BillitClient, BillitError};
use portal_billit::wire::ParticipantInformation;
use portal_persistence::TenantScope;
use portal_persistence::directory::DirectoryCheck;
use portal_persistence::invoices::InvoiceRecord;

/// How long the directory's answer about a customer is trusted (the domain's rule).
pub const CACHE_FOR: Duration = portal_domain::connection::DIRECTORY_ANSWER_FRESH_FOR;

/// Why the buyer cannot be sent to, or could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The directory knows no participant at this address able to receive invoices.
    #[error("the buyer's address {address} cannot receive e-invoices")]
    Unreachable { address: String },
    /// Billit could not be asked (unreachable, busy, or it refused the lookup).
    #[error("the directory could not be asked")]
    Unavailable(#[source] BillitError),
    #[error("the directory's answer could not be read or kept")]
    Database(#[from] portal_persistence::DbErr),
}

/// Whether Billit's answer says the participant can receive invoices: `Registered`, or, when Billit leaves it out,
/// document types it accepts.
pub fn can_receive(answer: &ParticipantInformation) -> bool {
    answer.registered.unwrap_or_else(|| {
        answer
            .document_types
            .as_ref()
            .is_some_and(|types| !types.is_empty())
    })
}

/// Checks that the invoice's buyer can receive it, asking `client` (the tenant's Billit) unless the customer's
/// answer of the last day is kept for the same address. An invoice without an address is left to the checks
/// before submission.
pub async fn check_buyer(
    state: &App,
    scope: &TenantScope,
    client: &dyn BillitClient,
    invoice: &InvoiceRecord,
    now: DateTime<Utc>,
) -> Result<(), DirectoryError> {
    let address = invoice.draft.buyer.electronic_address.trim().to_owned();
    if address.is_empty() {
        return Ok(());
    }
    let kept = match invoice.customer_id {
        Some(customer) => state.directory.get(scope, customer).await?,
        None => None,
    };
    let registered = match kept {
        Some(check)
            if portal_domain::connection::directory_answer_fresh(
                &check.address,
                check.checked_at,
                &address,
                now,
            ) =>
        {
            check.registered
        }
        _ => {
            let registered = match client.peppol_participant(&address).await {
                Ok(answer) => can_receive(&answer),
                // The lookup's resource is the participant itself: Billit knows none at this address.
                Err(BillitError::NotFound) => false,
                Err(error) => {
                    tracing::debug!(error = %error, "the directory lookup failed");
                    return Err(DirectoryError::Unavailable(error));
                }
            };
            if let Some(customer) = invoice.customer_id {
                let check = DirectoryCheck {
                    address: address.clone(),
                    registered,
                    checked_at: now,
                };
                state.directory.save(scope, customer, &check).await?;
            }
            registered
        }
    };
    if registered {
        Ok(())
    } else {
        Err(DirectoryError::Unreachable { address })
    }
}
