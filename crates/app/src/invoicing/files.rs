//! An invoice's files as Billit gives them (its PDF, the UBL that went over the network, the status files), with a
//! name and a type safe to serve or attach.

use crate::App;
use crate::billit_connection::client_for;
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
    let mime = safe_mime(downloaded.mime_type.as_deref());
    let stored_name = named
        .as_ref()
        .and_then(|stored| stored.details.as_ref())
        .and_then(|details| details.file_name.clone());
    let name = safe_file_name(
        downloaded.file_name.as_deref().or(stored_name.as_deref()),
        &mime,
        &billit_file_id,
    );
    Ok(InvoiceFile {
        name,
        mime,
        content: downloaded.content,
    })
}

/// A name safe in a `Content-Disposition` header and on any file system.
fn safe_file_name(name: Option<&str>, mime: &str, file_id: &str) -> String {
    let cleaned: String = name
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    let cleaned = cleaned.trim_start_matches(['.', '_']).to_owned();
    if cleaned.chars().any(|c| c.is_ascii_alphanumeric()) {
        return cleaned;
    }
    let extension = match mime {
        "application/pdf" => ".pdf",
        "application/xml" | "text/xml" => ".xml",
        "application/json" => ".json",
        _ => "",
    };
    let short: String = file_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    format!("billit-{short}{extension}")
}

/// The file's own type, unless a browser could run it as part of the portal (HTML, SVG, scripts): then it is
/// served as plain bytes.
fn safe_mime(mime: Option<&str>) -> String {
    let essence = mime
        .and_then(|text| text.split(';').next())
        .map(|text| text.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let well_formed = essence.split_once('/').is_some_and(|(kind, sub)| {
        let token = |part: &str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
        };
        token(kind) && token(sub)
    });
    if !well_formed {
        return "application/octet-stream".to_owned();
    }
    if ["html", "svg", "javascript", "ecmascript", "xhtml"]
        .iter()
        .any(|risky| essence.contains(risky))
    {
        "application/octet-stream".to_owned()
    } else {
        essence
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_and_types_are_made_safe() {
        assert_eq!(
            safe_file_name(Some("../../etc/pass\"wd.xml"), "application/xml", "x"),
            "etc_pass_wd.xml"
        );
        assert_eq!(
            safe_file_name(Some("Facture n°1.pdf"), "application/pdf", "x"),
            "Facture_n_1.pdf"
        );
        assert_eq!(
            safe_file_name(None, "application/pdf", "0b6c-4e1f-9a"),
            "billit-0b6c4e1f9a.pdf"
        );
        assert_eq!(safe_mime(Some("application/pdf")), "application/pdf");
        assert_eq!(
            safe_mime(Some("text/html; charset=utf-8")),
            "application/octet-stream"
        );
        assert_eq!(safe_mime(Some("image/svg+xml")), "application/octet-stream");
        assert_eq!(safe_mime(Some("not a type")), "application/octet-stream");
        assert_eq!(safe_mime(None), "application/octet-stream");
    }
}
