//! An invoice's files as Billit gives them (its PDF, the UBL that went over the network, the status files), with a
//! name and a type safe to serve or attach (made so by [`crate::files`]).

use crate::App;
use crate::billit_connection::client_for;
use crate::files::{safe_file_name, safe_mime};
use portal_billit::client::BillitClient;
use portal_persistence::invoices::{InvoiceRecord, StoredEvent};

/// The file route's name for the order's PDF, whose Billit id is only known by asking Billit for the order.
pub const ORDER_PDF: &str = "pdf";

/// Why one of an invoice's files could not be had.
#[derive(Debug)]
pub enum FileProblem {
    /// Not one of this invoice's files (or it has none of that kind).
    NotFound,
    /// The tenant has no working Billit connection.
    NotConfigured,
    /// Billit did not give it.
    Billit,
    Internal(anyhow::Error),
}

/// One of an invoice's files as Billit gives it, with a name and a type that are safe to serve or attach.
#[derive(Debug, Clone)]
pub struct InvoiceFile {
    pub name: String,
    pub mime: String,
    pub content: Vec<u8>,
}

/// The file of the Peppol send (201): the invoice as it went over the network (its UBL).
pub fn sent_file_id(events: &[StoredEvent]) -> Option<String> {
    file_of(events, &[201])
}

pub fn file_of(events: &[StoredEvent], codes: &[u16]) -> Option<String> {
    events.iter().find_map(|stored| {
        let code = stored.event.effective_code()?;
        if codes.contains(&code.0) {
            stored.event.file_id.clone()
        } else {
            None
        }
    })
}

/// Fetches one of this invoice's files from Billit: `ORDER_PDF` (`pdf`) for the order's PDF, or a file named
/// by one of its events. Any other id is `NotFound` before Billit is asked anything, so a tenant cannot use the
/// portal to read arbitrary Billit files.
pub async fn fetch_invoice_file(
    state: &App,
    scope: &portal_persistence::TenantScope,
    record: &InvoiceRecord,
    file_id: &str,
) -> Result<InvoiceFile, FileProblem> {
    let named = if file_id == ORDER_PDF {
        if record.billit_order_id.is_none() {
            return Err(FileProblem::NotFound);
        }
        None
    } else {
        let stored = state
            .invoices
            .event_with_file(scope, record.id, file_id)
            .await
            .map_err(|error| FileProblem::Internal(error.into()))?
            .ok_or(FileProblem::NotFound)?;
        Some(stored)
    };
    let client = match client_for(state, scope).await {
        Ok((client, _)) => client,
        Err(problem) => {
            tracing::warn!(error = %problem, "no Billit client for an invoice's file");
            return Err(FileProblem::NotConfigured);
        }
    };
    let billit_file_id = match (&named, record.billit_order_id) {
        (Some(_), _) => file_id.to_owned(),
        (None, None) => return Err(FileProblem::NotFound),
        (None, Some(order_id)) => {
            let order = client.get_order(order_id).await.map_err(|error| {
                tracing::warn!(error = %error, order_id, "Billit did not give the order");
                FileProblem::Billit
            })?;
            order
                .order_pdf
                .and_then(|pdf| pdf.file_id)
                .ok_or(FileProblem::NotFound)?
        }
    };
    let downloaded = client.get_file(&billit_file_id).await.map_err(|error| {
        tracing::warn!(error = %error, "Billit did not give the file");
        FileProblem::Billit
    })?;
    let stored_name = named
        .as_ref()
        .and_then(|stored| stored.details.as_ref())
        .and_then(|details| details.file_name.clone());
    let raw_name = downloaded.file_name.as_deref().or(stored_name.as_deref());
    let mime = safe_mime(
        downloaded.mime_type.as_deref(),
        raw_name.unwrap_or_default(),
    );
    let short: String = billit_file_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    let name = safe_file_name(raw_name, &mime, &format!("billit-{short}"));
    Ok(InvoiceFile {
        name,
        mime,
        content: downloaded.content,
    })
}
