//! Billit's signals turned into the domain's status events ("observations"), exactly per the
//! signal table of the domain guide ("How the portal reads Billit's signals").
//!
//! A message is classified in layers, the first that applies wins:
//! 1. the CDAR status file of the message, when the caller has it ([`classify_message`] with
//!    `Some(cdar)`): its `ProcessConditionCode`, its reasons, the source from its issuer's role;
//! 2. a description that starts with a known status number (`207 …`) or is a status label
//!    (`En litige`, `En_litige`): that code, from the code's usual emitter;
//! 3. a Peppol response code (`AB:` … `PD:`) on an incoming Peppol message ([`PEPPOL_RESPONSES`]);
//! 4. the known Billit descriptions ([`KNOWN_DESCRIPTIONS`], the one table of them), including
//!    "Peppol outgoing with `Success: true`" → 201;
//! 5. the webhook's `EInvoiceFlowState` ([`FLOW_STATES`]);
//! 6. anything else: an unclassified event (no code, source unknown), kept and shown.
//!
//! Order-level signals ([`classify_order`]): `DocumentDeliveryStatus: Delivered` → 203
//! (buyer platform, at `DocumentDeliveryDate`); `TaxReportingStatusTC: Failed` → 251 (PPF).
//! `Paid`/`ToPay`, the delivery and tax-reporting statuses also go into [`InvoiceFacts`].
//!
//! Dedup keys (stable across webhook and poll, and across repeats):
//! - a message with a `FileID`: `billit:file:<FileID>` (Billit's file ids are GUIDs, one per
//!   message, and both the order's `Messages[]` and the webhook carry them);
//! - a message without one: `billit:msg:<OrderID>:<transport>:<direction>:<description>:<local
//!   date>` (lower-cased; the date only, because webhooks may carry the date without the time);
//! - order-level signals: `billit:order:<OrderID>:delivered`, `billit:order:<OrderID>:tax-failed`;
//! - a CDAR on its own: `cdar:<ExchangedDocument/ID>`; a CDAR that explains a message keeps the
//!   message's key (it is the same event, better understood).

use crate::cdar::{CdarDocument, DocumentStatus, ReferencedDocument};
use crate::wire::{Message, Order, WebhookPayload};
use chrono::{DateTime, Utc};
use portal_domain::lifecycle::{
    Delivery, EventKind, InvoiceFacts, Source, StatusEvent, TaxReporting,
};
use portal_domain::status::{Emitter, ReasonCode, StatusCode};
use rust_decimal::Decimal;
use std::str::FromStr;

/// The events of an order and what the fold needs besides them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// One event per message, plus the order-level ones.
    pub events: Vec<StatusEvent>,
    /// Total, `Paid`/`ToPay`, delivery and tax-reporting hints.
    pub facts: InvoiceFacts,
}

/// A transport, as far as the table cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `Peppol`.
    Peppol,
    /// `FrenchTaxAuthority`.
    FrenchTaxAuthority,
}

/// A message direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `Incoming`.
    Incoming,
    /// `Outgoing`.
    Outgoing,
}

/// What a known description means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// A status code from a source.
    Status(u16, Source),
    /// An informational step (no code).
    Step(EventKind, Source),
    /// The tax authority's acknowledgement of a payment the supplier reported: a 212 from the supplier, like
    /// the report itself, marked as an acknowledgement ([`StatusEvent::acknowledges_payment`]) so that it is
    /// not taken for a payment of its own.
    PaymentAcknowledged,
}

/// A known Billit description (matched case-insensitively, trimmed).
#[derive(Debug, Clone, Copy)]
pub struct KnownDescription {
    /// The texts that mean it.
    pub texts: &'static [&'static str],
    /// The transport it must come on (`None`: any).
    pub transport: Option<Transport>,
    /// The direction it must have (`None`: any; a message without direction matches any).
    pub direction: Option<Direction>,
    /// `Some(b)`: the message's `Success` must be `b`.
    pub success: Option<bool>,
    /// What it means.
    pub meaning: Meaning,
}

const FTA: Option<Transport> = Some(Transport::FrenchTaxAuthority);
const IN: Option<Direction> = Some(Direction::Incoming);
const OUT: Option<Direction> = Some(Direction::Outgoing);

/// Every known Billit description (seeds 002–004), in the order they are tried.
pub static KNOWN_DESCRIPTIONS: [KnownDescription; 8] = [
    KnownDescription {
        texts: &["Submitted", "FFE0614A"],
        transport: FTA,
        direction: OUT,
        success: None,
        meaning: Meaning::Status(200, Source::SellerPlatform),
    },
    KnownDescription {
        texts: &["Submitted: Recevable", "CFE0614A"],
        transport: FTA,
        direction: IN,
        success: None,
        meaning: Meaning::Status(500, Source::Ppf),
    },
    KnownDescription {
        texts: &["Flux1: Recevable", "CFE0111A"],
        transport: FTA,
        direction: IN,
        success: None,
        meaning: Meaning::Status(250, Source::Ppf),
    },
    KnownDescription {
        texts: &["Accepted", "ack"],
        transport: FTA,
        direction: IN,
        success: None,
        meaning: Meaning::Step(EventKind::TaxReportingDone, Source::Ppf),
    },
    KnownDescription {
        texts: &["Document data", "FFE0111A"],
        transport: FTA,
        direction: OUT,
        success: None,
        meaning: Meaning::Step(EventKind::TaxDataSent, Source::SellerPlatform),
    },
    KnownDescription {
        texts: &["Reporting failed"],
        transport: None,
        direction: None,
        success: Some(false),
        meaning: Meaning::Status(251, Source::Ppf),
    },
    KnownDescription {
        texts: &["CashCollected"],
        transport: None,
        direction: OUT,
        success: None,
        meaning: Meaning::Status(212, Source::Supplier),
    },
    KnownDescription {
        texts: &["CashCollected: Recevable"],
        transport: None,
        direction: IN,
        success: None,
        meaning: Meaning::PaymentAcknowledged,
    },
];

/// Peppol response codes (`XX: …` on an incoming Peppol message).
pub static PEPPOL_RESPONSES: [(&str, u16, Source); 7] = [
    ("AB", 202, Source::BuyerPlatform),
    ("IP", 204, Source::Buyer),
    ("AP", 205, Source::Buyer),
    ("CA", 206, Source::Buyer),
    ("UQ", 208, Source::Buyer),
    ("RE", 210, Source::Buyer),
    ("PD", 211, Source::Buyer),
];

/// Webhook `EInvoiceFlowState`s (`Refused` depends on the transport, see [`flow_state`]).
pub static FLOW_STATES: [(&str, u16, Source); 3] = [
    ("Sent", 201, Source::SellerPlatform),
    ("Accepted", 202, Source::BuyerPlatform),
    ("Delivered", 203, Source::BuyerPlatform),
];

fn norm(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn transport_of(message: &Message) -> Option<Transport> {
    let transport = message.transport_type.as_deref()?;
    let compact: String = transport
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    match compact.as_str() {
        "peppol" => Some(Transport::Peppol),
        "frenchtaxauthority" => Some(Transport::FrenchTaxAuthority),
        _ => None,
    }
}

fn direction_of(message: &Message) -> Option<Direction> {
    let direction = message.message_direction.as_deref()?.trim();
    if direction.eq_ignore_ascii_case("incoming") {
        Some(Direction::Incoming)
    } else if direction.eq_ignore_ascii_case("outgoing") {
        Some(Direction::Outgoing)
    } else {
        None
    }
}

fn source_of_code(code: StatusCode) -> Source {
    code.info()
        .map_or(Source::Unknown, |info| Source::from(info.emitter))
}

/// The dedup key of a message (see the module).
pub fn message_dedup_key(message: &Message, order_id: Option<i64>) -> String {
    if let Some(file_id) = message.file_id.as_deref().map(str::trim)
        && !file_id.is_empty()
    {
        return format!("billit:file:{}", file_id.to_lowercase());
    }
    let order = order_id
        .or(message.order_id)
        .map_or_else(|| "-".to_owned(), |id| id.to_string());
    let transport = message
        .transport_type
        .as_deref()
        .map(norm)
        .unwrap_or_default();
    let direction = message
        .message_direction
        .as_deref()
        .map(norm)
        .unwrap_or_default();
    let description: String = message
        .description
        .as_deref()
        .map(norm)
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    let date = message
        .creation_date
        .as_ref()
        .and_then(|date| crate::time::local_date(date.as_str()))
        .unwrap_or_else(|| "-".to_owned());
    format!("billit:msg:{order}:{transport}:{direction}:{description}:{date}")
}

/// A status number at the start of a description (`207 …`, `207: …`), when the code is known.
fn leading_code(description: &str) -> Option<StatusCode> {
    let digits: String = description
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    if digits.len() != 3 {
        return None;
    }
    StatusCode::parse(&digits).filter(|code| code.is_known())
}

/// A description that is a status label (whole, or before a `:`), e.g. `En litige`, `En_litige`.
fn label_code(description: &str) -> Option<StatusCode> {
    let head = description.split(':').next().unwrap_or_default();
    [description, head].into_iter().find_map(|candidate| {
        let candidate = candidate.replace('_', " ");
        StatusCode::from_label(&candidate)
    })
}

/// Reason codes written in a description, kept when allowed on the code.
fn reasons_in(description: &str, code: StatusCode) -> Vec<String> {
    description
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|token| token.len() >= 3)
        .filter_map(ReasonCode::find)
        .filter(|reason| reason.allowed_on(code))
        .map(|reason| reason.code.to_owned())
        .collect()
}

fn table_meaning(message: &Message, description: &str) -> Option<Meaning> {
    let transport = transport_of(message);
    let direction = direction_of(message);
    let wanted = norm(description);
    KNOWN_DESCRIPTIONS
        .iter()
        .find(|known| {
            known.texts.iter().any(|text| norm(text) == wanted)
                && known.transport.is_none_or(|t| transport == Some(t))
                && (direction.is_none() || known.direction.is_none_or(|d| direction == Some(d)))
                && known.success.is_none_or(|s| message.success == Some(s))
        })
        .map(|known| known.meaning)
}

/// The meaning of a webhook flow state on a message.
pub fn flow_state(state: &str, message: &Message) -> Option<(StatusCode, Source)> {
    let state = state.trim();
    if state.eq_ignore_ascii_case("Refused") {
        return Some(match transport_of(message) {
            Some(Transport::FrenchTaxAuthority) => (StatusCode::TAX_DATA_REJECTED, Source::Ppf),
            _ => (StatusCode::REFUSED, Source::Buyer),
        });
    }
    FLOW_STATES
        .iter()
        .find(|(name, _, _)| name.eq_ignore_ascii_case(state))
        .map(|(_, code, source)| (StatusCode(*code), *source))
}

/// Classifies one message (layers 2–6), or with its CDAR (layer 1).
///
/// `fallback_at` is used when the message has no readable `CreationDate`.
pub fn classify_message(
    message: &Message,
    order_id: Option<i64>,
    cdar: Option<&CdarDocument>,
    fallback_at: DateTime<Utc>,
) -> StatusEvent {
    let key = message_dedup_key(message, order_id);
    let at = message
        .creation_date
        .as_ref()
        .and_then(|date| date.to_utc())
        .unwrap_or(fallback_at);
    let description = message.description.clone().unwrap_or_default();
    if let Some(cdar) = cdar {
        let mut event = classify_cdar(cdar, Some(&key), message.file_id.as_deref());
        event.at = at;
        // The file says what the status is; the message still says what it is about.
        event.acknowledges_payment =
            table_meaning(message, description.trim()) == Some(Meaning::PaymentAcknowledged);
        if !description.is_empty() {
            event.description = format!("{description} — {}", event.description);
        }
        return event;
    }
    let event = classify_text(message, &description, at, &key);
    match message.file_id.as_deref() {
        Some(file_id) if !file_id.trim().is_empty() => event.with_file_id(file_id.trim()),
        _ => event,
    }
}

fn classify_text(
    message: &Message,
    description: &str,
    at: DateTime<Utc>,
    key: &str,
) -> StatusEvent {
    let trimmed = description.trim();
    let transport = transport_of(message);
    let direction = direction_of(message);

    // 2. A status number or label.
    if let Some(code) = leading_code(trimmed).or_else(|| label_code(trimmed)) {
        return StatusEvent::status(code, source_of_code(code), at, key)
            .with_description(description)
            .with_reasons(reasons_in(trimmed, code));
    }
    // 3. A Peppol response code.
    if transport == Some(Transport::Peppol)
        && direction != Some(Direction::Outgoing)
        && let Some((prefix, rest)) = trimmed.split_once(':')
        && let Some((_, code, source)) = PEPPOL_RESPONSES
            .iter()
            .find(|(name, _, _)| name.eq_ignore_ascii_case(prefix.trim()))
    {
        let event =
            StatusEvent::status(StatusCode(*code), *source, at, key).with_description(description);
        let rest = rest.trim();
        return if rest.is_empty() || *code != 208 {
            event
        } else {
            event.with_comment(rest)
        };
    }
    // 4. The known Billit descriptions.
    if let Some(meaning) = table_meaning(message, trimmed) {
        return match meaning {
            Meaning::Status(code, source) => {
                StatusEvent::status(StatusCode(code), source, at, key).with_description(description)
            }
            Meaning::Step(kind, source) => {
                StatusEvent::step(kind, source, at, key).with_description(description)
            }
            Meaning::PaymentAcknowledged => {
                StatusEvent::status(StatusCode::CASHED, Source::Supplier, at, key)
                    .with_description(description)
                    .acknowledging_payment()
            }
        };
    }
    if transport == Some(Transport::Peppol)
        && direction == Some(Direction::Outgoing)
        && message.success == Some(true)
    {
        return StatusEvent::status(StatusCode::ISSUED, Source::SellerPlatform, at, key)
            .with_description(description);
    }
    // 5. The webhook's flow state.
    if let Some(info) = &message.message_additional_information
        && let Some(state) = info.e_invoice_flow_state.as_deref()
        && let Some((code, source)) = flow_state(state, message)
    {
        let event = StatusEvent::status(code, source, at, key).with_description(description);
        return match info.additional_flow_state_information.as_deref() {
            Some(extra) if !extra.trim().is_empty() => event.with_comment(extra.trim()),
            _ => event,
        };
    }
    // 6. Unclassified.
    StatusEvent::unclassified(Source::Unknown, at, description, key)
}

/// The source of a CDAR's status, from its issuer's role (`SE`, `BY`, `WK`, `DFH`) and code.
pub fn cdar_source(doc: &CdarDocument) -> Source {
    source_for(doc, doc.status_code())
}

/// The source of a status `code` the CDAR `doc` gives: its issuer's role, else the code's usual emitter.
fn source_for(doc: &CdarDocument, code: Option<StatusCode>) -> Source {
    let code_source = code.map_or(Source::Unknown, source_of_code);
    let role = doc
        .issuer
        .as_ref()
        .and_then(|issuer| issuer.role_code.as_deref())
        .map(str::trim)
        .map(str::to_ascii_uppercase);
    match role.as_deref() {
        Some("SE") => Source::Supplier,
        Some("BY") => Source::Buyer,
        Some("DFH") => Source::Ppf,
        Some("WK") => match code.and_then(|code| code.info()).map(|info| info.emitter) {
            Some(Emitter::SellerPlatform | Emitter::Supplier) => Source::SellerPlatform,
            Some(Emitter::Ppf) => Source::Ppf,
            Some(Emitter::BuyerPlatform | Emitter::EitherPlatform | Emitter::Buyer) => {
                Source::BuyerPlatform
            }
            None => Source::Unknown,
        },
        _ => code_source,
    }
}

/// The event a CDAR says (layer 1) about its first referenced invoice. `dedup_key`: the key of the message it
/// explains, if any. A file that references several invoices says one thing of each: see [`classify_cdar_all`].
pub fn classify_cdar(
    doc: &CdarDocument,
    dedup_key: Option<&str>,
    file_id: Option<&str>,
) -> StatusEvent {
    let key = dedup_key.map_or_else(|| cdar_key(doc, doc.references.first()), str::to_owned);
    classify_reference(doc, doc.references.first(), key, file_id)
}

/// What a CDAR says of one invoice it references.
#[derive(Debug, Clone, PartialEq)]
pub struct CdarObservation {
    /// The invoice's number (`IssuerAssignedID`), when the file gives it.
    pub invoice_number: Option<String>,
    /// The status it gives that invoice.
    pub event: StatusEvent,
}

/// One observation per invoice the CDAR references (`ReferenceReferencedDocument`), in the file's order; a file
/// without any reference gives one observation without a number. With one reference, the event is the one of
/// [`classify_cdar`] (same key); with several, each key is the file's key followed by `:<invoice number>` (or
/// `:#<position>` when a reference has no number), so that the observations stay distinct.
pub fn classify_cdar_all(
    doc: &CdarDocument,
    dedup_key: Option<&str>,
    file_id: Option<&str>,
) -> Vec<CdarObservation> {
    if doc.references.len() <= 1 {
        return vec![CdarObservation {
            invoice_number: doc.invoice_number().map(str::to_owned),
            event: classify_cdar(doc, dedup_key, file_id),
        }];
    }
    let base = dedup_key.map_or_else(
        || {
            doc.id
                .as_deref()
                .map_or_else(|| cdar_key(doc, None), |id| format!("cdar:{id}"))
        },
        str::to_owned,
    );
    doc.references
        .iter()
        .enumerate()
        .map(|(index, reference)| {
            let number = reference
                .invoice_number
                .as_deref()
                .map(str::trim)
                .filter(|number| !number.is_empty());
            let key = match number {
                Some(number) => format!("{base}:{number}"),
                None => format!("{base}:#{}", index + 1),
            };
            CdarObservation {
                invoice_number: number.map(str::to_owned),
                event: classify_reference(doc, Some(reference), key, file_id),
            }
        })
        .collect()
}

/// The key of a CDAR read on its own: its document id, else what it is about.
fn cdar_key(doc: &CdarDocument, reference: Option<&ReferencedDocument>) -> String {
    doc.id.as_deref().map_or_else(
        || {
            format!(
                "cdar:{}:{}:{}",
                reference
                    .and_then(|r| r.invoice_number.as_deref())
                    .unwrap_or("-"),
                reference
                    .and_then(|r| r.process_condition_code)
                    .map_or(0, StatusCode::as_u16),
                doc.at().map_or(0, |at| at.timestamp())
            )
        },
        |id| format!("cdar:{id}"),
    )
}

fn classify_reference(
    doc: &CdarDocument,
    reference: Option<&ReferencedDocument>,
    key: String,
    file_id: Option<&str>,
) -> StatusEvent {
    let code = reference.and_then(|r| r.process_condition_code);
    let statuses: &[DocumentStatus] = reference.map_or(&[], |r| r.statuses.as_slice());
    let at = doc.at().unwrap_or(DateTime::UNIX_EPOCH);
    let label = reference
        .and_then(|r| r.process_condition.as_deref())
        .map(|label| label.replace('_', " "))
        .unwrap_or_default();
    let description = match code {
        Some(code) => format!("CDAR {code} {label}").trim_end().to_owned(),
        None => "CDAR".to_owned(),
    };
    let source = source_for(doc, code);
    let mut event = match code {
        Some(code) => StatusEvent::status(code, source, at, key),
        None => StatusEvent::unclassified(source, at, "", key),
    }
    .with_description(description)
    .with_reasons(reason_codes(statuses));
    if let Some(action) = statuses
        .iter()
        .find_map(|status| status.requested_action_code.clone())
    {
        event = event.with_requested_action(action);
    }
    let comment = cdar_comment(statuses);
    if !comment.is_empty() {
        event = event.with_comment(comment);
    }
    if code == Some(StatusCode::CASHED)
        && let Some(amount) = statuses
            .iter()
            .flat_map(|status| &status.characteristics)
            .filter(|c| {
                c.type_code
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case("MEN"))
            })
            .find_map(|c| c.value_amount.as_deref())
            .and_then(|amount| Decimal::from_str(amount.trim()).ok())
    {
        event = event.with_amount(amount);
    }
    match file_id {
        Some(file_id) if !file_id.trim().is_empty() => event.with_file_id(file_id.trim()),
        _ => event,
    }
}

/// The reason codes of a reference's statuses, in sequence order (empty codes skipped).
fn reason_codes(statuses: &[DocumentStatus]) -> Vec<String> {
    let mut sorted: Vec<&DocumentStatus> = statuses.iter().collect();
    sorted.sort_by_key(|status| status.sequence.unwrap_or(u32::MAX));
    sorted
        .iter()
        .filter_map(|status| status.reason_code.clone())
        .filter(|code| !code.is_empty())
        .collect()
}

/// The reasons in words: `REJ_UNI: Échec … (G1.45; BT-1, BT-2) | …`.
fn cdar_comment(statuses: &[DocumentStatus]) -> String {
    statuses
        .iter()
        .filter_map(|status| {
            let mut parts = Vec::new();
            if let Some(reason) = &status.reason {
                parts.push(reason.clone());
            }
            for note in &status.notes {
                let mut text = note.content.clone().unwrap_or_default();
                let refs: Vec<&str> = [note.content_code.as_deref(), note.subject_code.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect();
                if !refs.is_empty() {
                    text = format!("{text} ({})", refs.join("; ")).trim().to_owned();
                }
                if !text.is_empty() {
                    parts.push(text);
                }
            }
            if parts.is_empty() {
                return None;
            }
            Some(match &status.reason_code {
                Some(code) => format!("{code}: {}", parts.join(" — ")),
                None => parts.join(" — "),
            })
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

fn lower_eq(value: Option<&str>, wanted: &str) -> bool {
    value.is_some_and(|value| value.trim().eq_ignore_ascii_case(wanted))
}

/// Classifies an order: every message, the order-level signals, and the facts.
pub fn classify_order(order: &Order) -> Classified {
    let order_id = order.order_id;
    let order_key = order_id.map_or_else(|| "-".to_owned(), |id| id.to_string());
    let fallback_at = order
        .last_modified
        .as_ref()
        .or(order.created.as_ref())
        .and_then(|date| date.to_utc())
        .unwrap_or(DateTime::UNIX_EPOCH);
    let mut events: Vec<StatusEvent> = order
        .messages()
        .iter()
        .map(|message| classify_message(message, order_id, None, fallback_at))
        .collect();

    let details = order.current_document_delivery_details.as_ref();
    let delivery_status = details.and_then(|d| d.document_delivery_status.as_deref());
    let delivery_hint = if lower_eq(delivery_status, "Delivered") {
        Some(Delivery::Delivered)
    } else if lower_eq(delivery_status, "Error") || lower_eq(delivery_status, "Failed") {
        Some(Delivery::Failed)
    } else if lower_eq(delivery_status, "Pending") {
        Some(Delivery::Pending)
    } else if details.and_then(|d| d.is_document_delivered) == Some(true) {
        Some(Delivery::Delivered)
    } else {
        None
    };
    if delivery_hint == Some(Delivery::Delivered) {
        let at = details
            .and_then(|d| d.document_delivery_date.as_ref())
            .and_then(|date| date.to_utc())
            .unwrap_or(fallback_at);
        let info = details
            .and_then(|d| d.document_delivery_info.clone())
            .unwrap_or_default();
        let description = format!("DocumentDeliveryStatus: Delivered {info}")
            .trim_end()
            .to_owned();
        events.push(
            StatusEvent::status(
                StatusCode::MADE_AVAILABLE,
                Source::BuyerPlatform,
                at,
                format!("billit:order:{order_key}:delivered"),
            )
            .with_description(description),
        );
    }

    let tax = order.tax_reporting_status_tc.as_deref();
    let tax_reporting_hint = if lower_eq(tax, "Done") {
        Some(TaxReporting::Done)
    } else if lower_eq(tax, "Failed") {
        Some(TaxReporting::Failed)
    } else {
        None
    };
    if tax_reporting_hint == Some(TaxReporting::Failed) {
        // No date on the flag: the latest tax-authority message, else the order's last change.
        let at = order
            .messages()
            .iter()
            .filter(|m| transport_of(m) == Some(Transport::FrenchTaxAuthority))
            .filter_map(|m| m.creation_date.as_ref().and_then(|d| d.to_utc()))
            .max()
            .unwrap_or(fallback_at);
        events.push(
            StatusEvent::status(
                StatusCode::TAX_DATA_REJECTED,
                Source::Ppf,
                at,
                format!("billit:order:{order_key}:tax-failed"),
            )
            .with_description("TaxReportingStatusTC: Failed"),
        );
    }

    // Failing at Billit: an outgoing Peppol message that failed (other than the reporting
    // failure, which is a 251) and no later successful one.
    let peppol_out: Vec<(&Message, Option<DateTime<Utc>>)> = order
        .messages()
        .iter()
        .filter(|m| {
            transport_of(m) == Some(Transport::Peppol)
                && direction_of(m) == Some(Direction::Outgoing)
        })
        .map(|m| (m, m.creation_date.as_ref().and_then(|d| d.to_utc())))
        .collect();
    let last_failure = peppol_out
        .iter()
        .filter(|(m, _)| {
            m.success == Some(false) && !lower_eq(m.description.as_deref(), "Reporting failed")
        })
        .map(|(_, at)| *at)
        .max();
    let submission_failing = last_failure.is_some_and(|failed_at| {
        !peppol_out
            .iter()
            .any(|(m, at)| m.success == Some(true) && *at >= failed_at)
    });

    Classified {
        events,
        facts: InvoiceFacts {
            total_incl: order.total_incl.unwrap_or_default(),
            paid: order.paid,
            to_pay: order.to_pay,
            delivery_hint,
            tax_reporting_hint,
            submission_failing,
        },
    }
}

/// Classifies a webhook payload. An empty `EntityDetail` gives nothing (fetch the order).
/// A message without a readable date is dated at the Unix epoch; use
/// [`classify_webhook_received`] to date it at reception instead.
pub fn classify_webhook(payload: &WebhookPayload) -> Vec<StatusEvent> {
    classify_webhook_received(payload, DateTime::UNIX_EPOCH)
}

/// [`classify_webhook`], dating messages without a readable date at `received_at`.
pub fn classify_webhook_received(
    payload: &WebhookPayload,
    received_at: DateTime<Utc>,
) -> Vec<StatusEvent> {
    let Some(detail) = &payload.entity_detail else {
        return Vec::new();
    };
    let is_order = lower_eq(payload.updated_entity_type.as_deref(), "Order");
    if is_order
        && let Ok(value) = serde_json::to_value(&detail.message)
        && let Ok(mut order) = serde_json::from_value::<Order>(value)
        && order.messages.is_some()
    {
        if order.order_id.is_none() {
            order.order_id = payload.updated_entity_id;
        }
        return classify_order(&order).events;
    }
    match detail.effective_message() {
        Some(message) => {
            let order_id = message.order_id.or_else(|| payload.order_id());
            vec![classify_message(&message, order_id, None, received_at)]
        }
        None => Vec::new(),
    }
}
