//! `billit.fetch_file`: the status file (CDAR) behind an event, downloaded and read. What it says wins over
//! Billit's wording: its code, its reasons, the requested action, and the rules and values it cites.

use super::{Brought, billit_failure, conclude, connection_failure, ingest, payload_of, scope_of};
use crate::App;
use crate::billit_connection::client_for;
use crate::worker::JobResult;
use portal_billit::cdar::{DocumentStatus, parse_cdar};
use portal_billit::classify::classify_cdar_all;
use portal_billit::client::{BillitClient, DownloadedFile};
use portal_domain::ids::InvoiceId;
use portal_persistence::TenantScope;
use portal_persistence::invoices::{DetailCharacteristic, DetailNote, EventDetails};
use portal_persistence::jobs::ClaimedJob;
use serde::Deserialize;

#[derive(Deserialize)]
struct FetchFileJob {
    invoice_id: InvoiceId,
    file_id: String,
}

pub(super) async fn run(state: App, job: ClaimedJob) -> JobResult {
    let scope = scope_of(&job)?;
    let payload: FetchFileJob = payload_of(&job)?;
    read_status_file(&state, &scope, payload.invoice_id, &payload.file_id).await
}

/// Downloads `file_id`, and when it is a status file, puts what it says on the invoice's event that carries it
/// and folds again. Doing it twice gives the same result (the notification job reads the file itself when it
/// comes first, so that the email gives the file's reasons).
pub(super) async fn read_status_file(
    state: &App,
    scope: &TenantScope,
    invoice: InvoiceId,
    file_id: &str,
) -> JobResult {
    let Some(stored) = state
        .invoices
        .event_with_file(scope, invoice, file_id)
        .await?
    else {
        tracing::debug!(file = %file_id, "no event of the invoice has this file any more");
        return Ok(());
    };
    let (client, _) = client_for(state, scope).await.map_err(connection_failure)?;
    let file = client
        .get_file(file_id)
        .await
        .map_err(|error| billit_failure(error, "cannot download the status file"))?;
    if !looks_like_xml(&file) {
        // A PDF or another proof: shown as a download, nothing to read in it.
        return Ok(());
    }
    let doc = match parse_cdar(&file.content) {
        Ok(doc) if doc.status_code().is_some() || !doc.statuses().is_empty() => doc,
        Ok(_) => return Ok(()),
        Err(error) => {
            // XML but not a status message (the invoice's own UBL, say): nothing to add.
            tracing::debug!(file = %file_id, error = %error, "the file is not a CDAR status");
            return Ok(());
        }
    };
    let key = stored.event.dedup_key;
    // One observation per invoice the file references (usually one).
    let mut observations = classify_cdar_all(&doc, Some(&key), Some(file_id));
    // What the file says, the fold and the notification it calls for, in one pass.
    let Some(mut pass) = state.invoices.begin_pass(scope, invoice, None).await? else {
        tracing::warn!(%invoice, "status events for an invoice that no longer exists");
        return Ok(());
    };
    let own_number = pass.record().number().trim().to_owned();
    let own = observations
        .iter()
        .position(|observation| observation.invoice_number.as_deref() == Some(own_number.as_str()))
        .unwrap_or(0);
    let mine = observations.remove(own);
    let mut from_file = mine.event;
    from_file.dedup_key.clone_from(&key);
    let statuses = doc
        .references
        .iter()
        .find(|reference| {
            reference.invoice_number.as_deref().map(str::trim) == mine.invoice_number.as_deref()
        })
        .or_else(|| doc.references.first())
        .map_or(&[][..], |reference| reference.statuses.as_slice());
    let details = details_of(statuses, file.file_name);
    pass.enrich(&key, &from_file, &details).await?;
    conclude(state, scope, pass, Brought::File(&from_file)).await?;
    // The other invoices the file speaks of: each gets its own observation, under the same key as the message
    // that brought the file (so the same file seen again on that invoice's own order is not counted twice).
    for observation in observations {
        let Some(number) = observation.invoice_number else {
            continue;
        };
        let Some(other) = state
            .invoices
            .find_by_number(scope, &number)
            .await
            .map_err(anyhow::Error::from)?
        else {
            tracing::debug!(file = %file_id, number = %number, "the status file names an invoice this company does not have");
            continue;
        };
        if other.id == invoice {
            continue;
        }
        let mut event = observation.event;
        event.dedup_key.clone_from(&key);
        ingest(state, scope, other.id, &[event], None, "file").await?;
    }
    Ok(())
}

fn looks_like_xml(file: &DownloadedFile) -> bool {
    if file
        .mime_type
        .as_deref()
        .is_some_and(|mime| mime.to_ascii_lowercase().contains("xml"))
    {
        return true;
    }
    let content = file
        .content
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(&file.content);
    content
        .iter()
        .find(|byte| !byte.is_ascii_whitespace())
        .is_some_and(|first| *first == b'<')
}

/// The rules broken and the values disputed, as the invoice page shows them.
fn details_of(statuses: &[DocumentStatus], file_name: Option<String>) -> EventDetails {
    let mut details = EventDetails {
        file_name,
        ..EventDetails::default()
    };
    for status in statuses {
        if status.notes.is_empty()
            && let Some(reason) = &status.reason
        {
            details.notes.push(DetailNote {
                rule: None,
                message: reason.clone(),
                terms: None,
                reason: status.reason_code.clone(),
            });
        }
        for note in &status.notes {
            details.notes.push(DetailNote {
                rule: note.content_code.clone(),
                message: note
                    .content
                    .clone()
                    .or_else(|| status.reason.clone())
                    .unwrap_or_default(),
                terms: note.subject_code.clone(),
                reason: status.reason_code.clone(),
            });
        }
        for characteristic in &status.characteristics {
            let value = match (
                &characteristic.value_amount,
                &characteristic.value_percent,
                &characteristic.value,
            ) {
                (Some(amount), _, _) => Some(match &characteristic.value_currency {
                    Some(currency) => format!("{amount} {currency}"),
                    None => amount.clone(),
                }),
                (None, Some(percent), _) => Some(format!("{percent} %")),
                (None, None, value) => value.clone(),
            };
            details.characteristics.push(DetailCharacteristic {
                term: characteristic.id.clone(),
                name: characteristic.name.clone(),
                value,
            });
        }
    }
    details
}
