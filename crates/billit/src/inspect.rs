//! `portal billit inspect FILE [--format json]`: what the portal understands of a Billit order,
//! a webhook payload or a CDAR status file (see contracts.md).
//!
//! The JSON has the contract's two keys (`observations`, `lifecycle`) plus two extensions:
//! `kind` (`order`, `webhook`, `cdar`) and `notes` (plain-English remarks, e.g. for a webhook
//! with an empty `EntityDetail`).

use crate::cdar::{CdarError, parse_cdar};
use crate::classify::{classify_cdar_all, classify_order, classify_webhook};
use crate::wire::{DetailShape, Order, WebhookPayload};
use chrono::SecondsFormat;
use portal_domain::Language;
use portal_domain::Localized;
use portal_domain::lifecycle::{
    Delivery, EventKind, InvoiceFacts, Lifecycle, Payment, Source, StatusEvent, TaxReporting,
};
use portal_domain::status::reason_label;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write as _;

/// The largest file inspected.
pub const MAX_INSPECT_BYTES: usize = 16 * 1024 * 1024;

/// What kind of file it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    /// A Billit order (`GET /v1/orders/{id}`).
    Order,
    /// A Billit webhook payload.
    Webhook,
    /// A CDAR status file.
    Cdar,
}

/// One observation, as the contract shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observation {
    /// The status code, `null` when not classified (or informational).
    pub code: Option<u16>,
    /// The official French label (or what the event is, when it has no code).
    pub label: String,
    /// Who it comes from.
    pub source: Source,
    /// When (UTC, RFC 3339 with `Z`).
    pub at: String,
    /// Billit's text.
    pub description: String,
    /// Reason codes.
    pub reasons: Vec<String>,
    /// The Billit file explaining it.
    pub file_id: Option<String>,
    /// The invoice it is about (extension of the contract): a CDAR's `IssuerAssignedID` (one observation per
    /// referenced invoice), an order's `OrderNumber`; `null` when the input does not say.
    pub invoice_number: Option<String>,
}

/// The lifecycle, as the contract shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LifecycleSummary {
    /// The headline status.
    pub current: Option<u16>,
    /// Whether the outcome is final.
    #[serde(rename = "final")]
    pub is_final: bool,
    /// Whether the supplier must act.
    pub needs_action: bool,
    /// The open 207/208.
    pub open_request: Option<u16>,
    /// `pending`, `delivered` or `failed`.
    pub delivery: Delivery,
    /// `pending`, `done` or `failed`.
    pub tax_reporting: TaxReporting,
    /// `unpaid`, `partial` or `paid`.
    pub payment: Payment,
}

/// What `inspect` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InspectReport {
    /// What kind of file it was (extension of the contract).
    pub kind: InputKind,
    /// Every distinct observation, by time.
    pub observations: Vec<Observation>,
    /// The folded lifecycle.
    pub lifecycle: LifecycleSummary,
    /// Remarks (extension of the contract).
    pub notes: Vec<String>,
    /// The domain's full lifecycle (not serialized).
    #[serde(skip)]
    pub full: Lifecycle,
}

/// Why a file could not be inspected (its `Display` is one line).
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// Empty file.
    #[error("the file is empty")]
    Empty,
    /// Too large.
    #[error("the file is too large ({0} bytes)")]
    TooLarge(usize),
    /// Not JSON nor XML.
    #[error("not a Billit order, webhook payload or CDAR file (neither JSON nor XML)")]
    Unrecognized,
    /// JSON, but not an order nor a webhook.
    #[error("JSON, but neither a Billit order nor a webhook payload")]
    UnknownJson,
    /// Invalid JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A bad CDAR.
    #[error("{0}")]
    Cdar(#[from] CdarError),
}

impl Localized for InspectError {
    fn message_fr(&self) -> String {
        match self {
            Self::Empty => "Le fichier est vide".to_owned(),
            Self::TooLarge(size) => format!("Le fichier est trop volumineux ({size} octets)"),
            Self::Unrecognized => {
                "Ni une commande Billit, ni un webhook, ni un fichier CDAR".to_owned()
            }
            Self::UnknownJson => "JSON, mais ni une commande Billit ni un webhook".to_owned(),
            Self::Json(detail) => format!("JSON invalide : {detail}"),
            Self::Cdar(error) => error.message_fr(),
        }
    }

    fn message_en(&self) -> String {
        self.to_string()
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Detects the kind of file, classifies it, folds the lifecycle.
pub fn inspect_bytes(bytes: &[u8]) -> Result<InspectReport, InspectError> {
    if bytes.len() > MAX_INSPECT_BYTES {
        return Err(InspectError::TooLarge(bytes.len()));
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let Some(first) = body.iter().find(|b| !b.is_ascii_whitespace()) else {
        return Err(InspectError::Empty);
    };
    match first {
        b'<' => {
            let doc = parse_cdar(bytes)?;
            let observations = classify_cdar_all(&doc, None, None);
            let numbers: Vec<&str> = observations
                .iter()
                .filter_map(|observation| observation.invoice_number.as_deref())
                .collect();
            let mut notes = Vec::new();
            match numbers.as_slice() {
                [] => {}
                [number] => notes.push(format!("Status file for invoice {number}.")),
                several => notes.push(format!(
                    "Status file for {} invoices: {} (the lifecycle folds them together).",
                    several.len(),
                    several.join(", ")
                )),
            }
            let by_key: HashMap<String, String> = observations
                .iter()
                .filter_map(|observation| {
                    let number = observation.invoice_number.clone()?;
                    Some((observation.event.dedup_key.clone(), number))
                })
                .collect();
            let events: Vec<StatusEvent> = observations
                .into_iter()
                .map(|observation| observation.event)
                .collect();
            Ok(report(
                InputKind::Cdar,
                &events,
                &InvoiceFacts::default(),
                notes,
                &|event: &StatusEvent| by_key.get(&event.dedup_key).cloned(),
            ))
        }
        b'{' => {
            let value: serde_json::Value = serde_json::from_slice(body)
                .map_err(|error| InspectError::Json(one_line(&error.to_string())))?;
            let Some(object) = value.as_object() else {
                return Err(InspectError::UnknownJson);
            };
            let has = |key: &str| object.keys().any(|k| k.eq_ignore_ascii_case(key));
            if has("UpdatedEntityID")
                || has("UpdatedEntityType")
                || has("WebhookUpdateTypeTC")
                || has("EntityDetail")
            {
                let payload: WebhookPayload = serde_json::from_value(value)
                    .map_err(|error| InspectError::Json(one_line(&error.to_string())))?;
                let events = classify_webhook(&payload);
                let mut notes = Vec::new();
                if payload.shape() == DetailShape::Empty {
                    notes.push(
                        "The webhook's EntityDetail is empty: nothing to classify; fetch the \
                         order to know its statuses."
                            .to_owned(),
                    );
                }
                if let Some(order_id) = payload.order_id() {
                    notes.push(format!("Order {order_id}."));
                }
                notes.push(
                    "A webhook payload alone: the lifecycle only reflects this message.".to_owned(),
                );
                Ok(report(
                    InputKind::Webhook,
                    &events,
                    &InvoiceFacts::default(),
                    notes,
                    &|_: &StatusEvent| None,
                ))
            } else if has("OrderID") || has("Messages") || has("OrderNumber") {
                let order: Order = serde_json::from_value(value)
                    .map_err(|error| InspectError::Json(one_line(&error.to_string())))?;
                let classified = classify_order(&order);
                let mut notes = Vec::new();
                if let Some(number) = &order.order_number {
                    notes.push(format!("Order {number}."));
                }
                let number = order.order_number.clone();
                Ok(report(
                    InputKind::Order,
                    &classified.events,
                    &classified.facts,
                    notes,
                    &|_: &StatusEvent| number.clone(),
                ))
            } else {
                Err(InspectError::UnknownJson)
            }
        }
        _ => Err(InspectError::Unrecognized),
    }
}

fn event_label(event: &StatusEvent, language: Language) -> String {
    match (event.kind, event.code) {
        (EventKind::Status, Some(code)) => code.label(language),
        (EventKind::TaxDataSent, _) => language
            .pick("Données fiscales envoyées", "Tax data sent")
            .to_owned(),
        (EventKind::TaxReportingDone, _) => language
            .pick("Déclaration fiscale acceptée", "Tax reporting accepted")
            .to_owned(),
        _ => language.pick("Non classé", "Unclassified").to_owned(),
    }
}

fn report(
    kind: InputKind,
    events: &[StatusEvent],
    facts: &InvoiceFacts,
    mut notes: Vec<String>,
    invoice_number: &dyn Fn(&StatusEvent) -> Option<String>,
) -> InspectReport {
    let full = Lifecycle::fold(events, facts);
    let observations: Vec<Observation> = full
        .timeline
        .iter()
        .map(|event| Observation {
            code: event.effective_code().map(|code| code.as_u16()),
            label: event_label(event, Language::Fr),
            source: event.source,
            at: event.at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            description: event.description.clone(),
            reasons: event.reasons.clone(),
            file_id: event.file_id.clone(),
            invoice_number: invoice_number(event),
        })
        .collect();
    if full.unclassified > 0 {
        notes.push(format!(
            "{} observation(s) could not be classified (code null).",
            full.unclassified
        ));
    }
    if !full.ignored.is_empty() {
        notes.push(format!(
            "{} observation(s) ignored for the outcome (213 DOUBLON after delivery).",
            full.ignored.len()
        ));
    }
    InspectReport {
        kind,
        observations,
        lifecycle: LifecycleSummary {
            current: full.current.map(|code| code.as_u16()),
            is_final: full.is_final,
            needs_action: full.needs_action,
            open_request: full
                .open_request
                .as_ref()
                .map(|request| request.code.as_u16()),
            delivery: full.delivery,
            tax_reporting: full.tax_reporting,
            payment: full.payment,
        },
        notes,
        full,
    }
}

fn yes_no(value: bool, language: Language) -> &'static str {
    if value {
        language.pick("oui", "yes")
    } else {
        language.pick("non", "no")
    }
}

fn cell(text: &str, width: usize) -> String {
    let mut out: String = text.chars().take(width).collect();
    if text.chars().count() > width {
        out.pop();
        out.push('…');
    }
    format!("{out:<width$}")
}

/// The readable table printed by default.
pub fn render_table(report: &InspectReport, language: Language) -> String {
    let mut out = String::new();
    let headers = [
        language.pick("Date (UTC)", "Date (UTC)"),
        language.pick("Code", "Code"),
        language.pick("Statut", "Status"),
        language.pick("Source", "Source"),
        language.pick("Description", "Description"),
        language.pick("Motifs", "Reasons"),
    ];
    let widths = [20, 4, 30, 28, 44, 24];
    let line: Vec<String> = headers
        .iter()
        .zip(widths)
        .map(|(header, width)| cell(header, width))
        .collect();
    let _ = writeln!(out, "{}", line.join("  ").trim_end());
    let _ = writeln!(out, "{}", widths.map(|width| "-".repeat(width)).join("  "));
    if report.full.timeline.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            language.pick("(aucune observation)", "(no observations)")
        );
    }
    for event in &report.full.timeline {
        let at = event.at.format("%Y-%m-%d %H:%M:%S").to_string();
        let code = event
            .effective_code()
            .map_or_else(|| "-".to_owned(), |code| code.to_string());
        let reasons: Vec<String> = event
            .reasons
            .iter()
            .map(|reason| {
                let label = reason_label(reason, language);
                if label == *reason {
                    reason.clone()
                } else {
                    format!("{reason} ({label})")
                }
            })
            .collect();
        let row = [
            at,
            code,
            event_label(event, language),
            event.source.label(language).to_owned(),
            one_line(&event.description),
            reasons.join(", "),
        ];
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(text, width)| cell(text, width))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    let life = &report.full;
    let _ = writeln!(out);
    let current = life.current.map_or_else(
        || {
            language
                .pick("aucun (pas encore envoyée)", "none (not sent yet)")
                .to_owned()
        },
        |code| format!("{code} {}", code.label(language)),
    );
    let _ = writeln!(
        out,
        "{} : {current}",
        language.pick("Statut actuel", "Current status")
    );
    let _ = writeln!(
        out,
        "{} : {}",
        language.pick("Définitif", "Final"),
        yes_no(life.is_final, language)
    );
    let action = if life.needs_action {
        let reasons: Vec<&str> = life
            .action_reasons
            .iter()
            .map(|reason| reason.label(language))
            .collect();
        format!("{} — {}", yes_no(true, language), reasons.join(" ; "))
    } else {
        yes_no(false, language).to_owned()
    };
    let _ = writeln!(
        out,
        "{} : {action}",
        language.pick("Action requise", "Action needed")
    );
    if let Some(request) = &life.open_request {
        let _ = writeln!(
            out,
            "{} : {} {}",
            language.pick("Demande ouverte", "Open request"),
            request.code,
            request.code.label(language)
        );
    }
    let delivery = match life.delivery {
        Delivery::Pending => language.pick("en attente", "pending"),
        Delivery::Delivered => language.pick("livrée", "delivered"),
        Delivery::Failed => language.pick("échec", "failed"),
    };
    let tax = match life.tax_reporting {
        TaxReporting::Pending => language.pick("en attente", "pending"),
        TaxReporting::Done => language.pick("faite", "done"),
        TaxReporting::Failed => language.pick("échec", "failed"),
    };
    let payment = match life.payment {
        Payment::Unpaid => language.pick("non payée", "unpaid"),
        Payment::Partial => language.pick("partiellement payée", "partially paid"),
        Payment::Paid => language.pick("payée", "paid"),
    };
    let _ = writeln!(
        out,
        "{} : {delivery}",
        language.pick("Livraison", "Delivery")
    );
    let _ = writeln!(
        out,
        "{} : {tax}",
        language.pick("Déclaration fiscale", "Tax reporting")
    );
    let _ = writeln!(out, "{} : {payment}", language.pick("Paiement", "Payment"));
    for note in &report.notes {
        let _ = writeln!(out, "{} : {note}", language.pick("Note", "Note"));
    }
    out
}
