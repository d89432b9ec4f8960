//! CDAR (UN/CEFACT Cross Domain Acknowledgement and Response) status files.
//!
//! Elements are matched by namespace URI and local name, never by prefix. A leading UTF-8 BOM
//! is accepted. Hostile input is refused with an error, never a panic or a hang:
//! - at most [`MAX_CDAR_BYTES`] bytes, UTF-8 only;
//! - no `<!DOCTYPE …>` (so no entity definitions, no entity expansion);
//! - only the five predefined entities and character references;
//! - at most [`MAX_DEPTH`] nested elements, [`MAX_ELEMENTS`] elements, [`MAX_TEXT`] bytes of
//!   text in one element, [`MAX_STATUSES`] `SpecifiedDocumentStatus` blocks.

use crate::time::brussels_to_utc;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use portal_domain::Localized;
use portal_domain::status::StatusCode;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use serde::Serialize;

/// The largest CDAR accepted (real ones are a few KiB).
pub const MAX_CDAR_BYTES: usize = 4 * 1024 * 1024;
/// The deepest nesting accepted.
pub const MAX_DEPTH: usize = 48;
/// The most elements accepted.
pub const MAX_ELEMENTS: usize = 200_000;
/// The most text accepted in one element.
pub const MAX_TEXT: usize = 64 * 1024;
/// The most `SpecifiedDocumentStatus` blocks accepted.
pub const MAX_STATUSES: usize = 10_000;

const NS_RSM: &[u8] =
    b"urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse:100";
const NS_RAM: &[u8] =
    b"urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100";
const NS_UDT: &[u8] = b"urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100";
const NS_QDT: &[u8] = b"urn:un:unece:uncefact:data:standard:QualifiedDataType:100";

/// Why a CDAR could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CdarError {
    /// Larger than [`MAX_CDAR_BYTES`].
    #[error("CDAR too large ({0} bytes)")]
    TooLarge(usize),
    /// Not UTF-8 (or an unsupported encoding).
    #[error("CDAR is not UTF-8")]
    NotUtf8,
    /// A document type declaration (refused: entity definitions are a known attack).
    #[error("CDAR has a DOCTYPE, which is refused")]
    Doctype,
    /// An entity other than the five predefined ones, or a bad character reference.
    #[error("CDAR uses an unknown entity or a bad character reference: {0}")]
    Entity(String),
    /// A limit was exceeded.
    #[error("CDAR exceeds a limit: {0}")]
    Limit(&'static str),
    /// Not well-formed XML.
    #[error("CDAR is not well-formed XML: {0}")]
    Xml(String),
    /// Well-formed, but not a CrossDomainAcknowledgementAndResponse.
    #[error("not a CDAR (root element is {0})")]
    NotCdar(String),
    /// A required element is missing.
    #[error("CDAR has no {0}")]
    Missing(&'static str),
    /// An element has a value that cannot be read.
    #[error("CDAR has an invalid {field}: {value:?}")]
    Invalid {
        /// Which element.
        field: &'static str,
        /// Its text (cut).
        value: String,
    },
}

impl Localized for CdarError {
    fn message_fr(&self) -> String {
        match self {
            Self::TooLarge(size) => format!("Fichier CDAR trop volumineux ({size} octets)"),
            Self::NotUtf8 => "Le fichier CDAR n'est pas en UTF-8".to_owned(),
            Self::Doctype => "Le fichier CDAR contient un DOCTYPE, refusé".to_owned(),
            Self::Entity(detail) => format!("Entité inconnue dans le fichier CDAR : {detail}"),
            Self::Limit(what) => format!("Le fichier CDAR dépasse une limite : {what}"),
            Self::Xml(detail) => format!("Le fichier CDAR n'est pas un XML valide : {detail}"),
            Self::NotCdar(root) => format!("Ce n'est pas un fichier CDAR (racine {root})"),
            Self::Missing(what) => format!("Le fichier CDAR n'a pas de {what}"),
            Self::Invalid { field, value } => {
                format!("Le fichier CDAR a un {field} invalide : {value:?}")
            }
        }
    }

    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// A party (issuer, recipient, sender).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TradeParty {
    /// `GlobalID` (e.g. a SIREN).
    pub global_id: Option<String>,
    /// The `schemeID` of `GlobalID` (e.g. `0002` SIREN, `0238` platform).
    pub global_id_scheme: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `RoleCode`: `SE` seller, `BY` buyer, `WK` platform, `DFH` the PPF…
    pub role_code: Option<String>,
}

/// `IncludedNote`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Note {
    /// `ContentCode`: the rule, e.g. `G1.45`.
    pub content_code: Option<String>,
    /// `Content`: the message.
    pub content: Option<String>,
    /// `SubjectCode`: the business terms, e.g. `BT-1, BT-2`.
    pub subject_code: Option<String>,
}

impl Note {
    /// The business terms of `SubjectCode`, split on commas and spaces.
    pub fn business_terms(&self) -> Vec<String> {
        self.subject_code
            .as_deref()
            .unwrap_or_default()
            .split([',', ';', ' '])
            .map(str::trim)
            .filter(|term| !term.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// `SpecifiedDocumentCharacteristic`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Characteristic {
    /// `ID`: a business term, e.g. `BT-152`.
    pub id: Option<String>,
    /// `TypeCode`: e.g. `DIV` (wrong value), `DVA` (expected value), `MEN` (amount received).
    pub type_code: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `Location`: an XPath in the invoice.
    pub location: Option<String>,
    /// `ValueChangedIndicator`.
    pub value_changed: Option<String>,
    /// `ValueAmount`, as written.
    pub value_amount: Option<String>,
    /// The `currencyID` of `ValueAmount`.
    pub value_currency: Option<String>,
    /// `ValuePercent`, as written.
    pub value_percent: Option<String>,
    /// `Value` (free text value), as written.
    pub value: Option<String>,
}

/// `SpecifiedDocumentStatus`: one reason.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct DocumentStatus {
    /// `ReasonCode`, e.g. `REJ_UNI`.
    pub reason_code: Option<String>,
    /// `Reason`.
    pub reason: Option<String>,
    /// `RequestedActionCode`, e.g. `NIN`.
    pub requested_action_code: Option<String>,
    /// `RequestedAction`.
    pub requested_action: Option<String>,
    /// `SequenceNumeric`.
    pub sequence: Option<u32>,
    /// `IncludedNote`s.
    pub notes: Vec<Note>,
    /// `SpecifiedDocumentCharacteristic`s.
    pub characteristics: Vec<Characteristic>,
}

/// `ReferenceReferencedDocument`: the invoice the status is about.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ReferencedDocument {
    /// `IssuerAssignedID`: the invoice number (BT-1).
    pub invoice_number: Option<String>,
    /// `StatusCode` (the technical status, e.g. 46/47).
    pub status_code: Option<String>,
    /// `TypeCode` (BT-3, e.g. 380).
    pub type_code: Option<String>,
    /// `ProcessConditionCode`: the lifecycle status, e.g. 207.
    pub process_condition_code: Option<StatusCode>,
    /// `ProcessCondition`: its label as written (e.g. `En_litige`).
    pub process_condition: Option<String>,
    /// `ReceiptDateTime` as written.
    pub receipt_date_time: Option<String>,
    /// `FormattedIssueDateTime` (the invoice date, BT-2) as written.
    pub invoice_date: Option<String>,
    /// `IssuerTradeParty/GlobalID`: the seller's SIREN.
    pub seller_id: Option<String>,
    /// The reasons.
    pub statuses: Vec<DocumentStatus>,
}

/// A parsed CDAR.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CdarDocument {
    /// `ExchangedDocument/ID`.
    pub id: Option<String>,
    /// `ExchangedDocument/Name`.
    pub name: Option<String>,
    /// `ExchangedDocument/IssueDateTime` as written.
    pub issue_date_time_raw: Option<String>,
    /// The same, in UTC (French local time).
    pub issued_at: Option<DateTime<Utc>>,
    /// `ExchangedDocument/IssuerTradeParty`: who issued the status.
    pub issuer: Option<TradeParty>,
    /// `ExchangedDocument/SenderTradeParty`.
    pub sender: Option<TradeParty>,
    /// `ExchangedDocument/RecipientTradeParty`s.
    pub recipients: Vec<TradeParty>,
    /// `AcknowledgementDocument/TypeCode`: 305 transmission, 23 processing.
    pub type_code: Option<String>,
    /// `AcknowledgementDocument/IssueDateTime` as written.
    pub status_date_time_raw: Option<String>,
    /// The same, in UTC: when the status was set.
    pub status_at: Option<DateTime<Utc>>,
    /// The referenced documents (usually one).
    pub references: Vec<ReferencedDocument>,
}

impl CdarDocument {
    fn first(&self) -> Option<&ReferencedDocument> {
        self.references.first()
    }

    /// The status (the first reference's `ProcessConditionCode`).
    pub fn status_code(&self) -> Option<StatusCode> {
        self.first()?.process_condition_code
    }

    /// The status label as written.
    pub fn status_label(&self) -> Option<&str> {
        self.first()?.process_condition.as_deref()
    }

    /// The invoice number.
    pub fn invoice_number(&self) -> Option<&str> {
        self.first()?.invoice_number.as_deref()
    }

    /// The seller's SIREN.
    pub fn seller_siren(&self) -> Option<&str> {
        self.first()?.seller_id.as_deref()
    }

    /// The reasons of the first reference.
    pub fn statuses(&self) -> &[DocumentStatus] {
        self.first().map_or(&[], |first| first.statuses.as_slice())
    }

    /// The reason codes, in sequence order (empty codes skipped).
    pub fn reason_codes(&self) -> Vec<String> {
        let mut statuses: Vec<&DocumentStatus> = self.statuses().iter().collect();
        statuses.sort_by_key(|status| status.sequence.unwrap_or(u32::MAX));
        statuses
            .iter()
            .filter_map(|status| status.reason_code.clone())
            .filter(|code| !code.is_empty())
            .collect()
    }

    /// When the status happened: the acknowledgement's date, else the document's.
    pub fn at(&self) -> Option<DateTime<Utc>> {
        self.status_at.or(self.issued_at)
    }
}

/// Parses a CDAR date-time (`format="204"` `YYYYMMDDHHMMSS`, `102` `YYYYMMDD`, or ISO 8601),
/// read as French local time (same rules as Brussels).
pub fn parse_cdar_datetime(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    if let Ok(local) = NaiveDateTime::parse_from_str(text, "%Y%m%d%H%M%S") {
        return Some(brussels_to_utc(local));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y%m%d") {
        return Some(brussels_to_utc(date.and_time(chrono::NaiveTime::MIN)));
    }
    crate::time::parse_billit(text)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ns {
    Rsm,
    Ram,
    Udt,
    Qdt,
    Other,
}

fn cut(text: &str) -> String {
    text.chars().take(80).collect()
}

fn set(slot: &mut Option<String>, text: &str) {
    let text = text.trim();
    if !text.is_empty() {
        *slot = Some(text.to_owned());
    }
}

/// Parses a CDAR.
pub fn parse_cdar(bytes: &[u8]) -> Result<CdarDocument, CdarError> {
    if bytes.len() > MAX_CDAR_BYTES {
        return Err(CdarError::TooLarge(bytes.len()));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| CdarError::NotUtf8)?;
    let mut reader = NsReader::from_str(text);
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.check_end_names = true;
    config.trim_text(false);

    let mut doc = CdarDocument::default();
    // The path of local names (namespace-qualified) from the root.
    let mut path: Vec<(Ns, String)> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    let mut elements = 0usize;
    let mut saw_root = false;
    // The attribute of interest of the current element (currencyID / schemeID).
    let mut attrs: Vec<Option<String>> = Vec::new();

    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|error| CdarError::Xml(cut(&error.to_string())))?;
        match event {
            Event::Start(start) => {
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(CdarError::Limit("too many elements"));
                }
                if path.len() >= MAX_DEPTH {
                    return Err(CdarError::Limit("nesting too deep"));
                }
                let namespace = match ns {
                    ResolveResult::Bound(namespace) if namespace.as_ref() == NS_RSM => Ns::Rsm,
                    ResolveResult::Bound(namespace) if namespace.as_ref() == NS_RAM => Ns::Ram,
                    ResolveResult::Bound(namespace) if namespace.as_ref() == NS_UDT => Ns::Udt,
                    ResolveResult::Bound(namespace) if namespace.as_ref() == NS_QDT => Ns::Qdt,
                    ResolveResult::Unknown(prefix) => {
                        return Err(CdarError::Xml(format!(
                            "unknown namespace prefix {}",
                            cut(&String::from_utf8_lossy(&prefix))
                        )));
                    }
                    _ => Ns::Other,
                };
                let local = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                if path.is_empty() {
                    if saw_root {
                        return Err(CdarError::Xml("several root elements".to_owned()));
                    }
                    saw_root = true;
                    if namespace != Ns::Rsm || local != "CrossDomainAcknowledgementAndResponse" {
                        return Err(CdarError::NotCdar(cut(&local)));
                    }
                }
                let mut wanted = None;
                for attribute in start.attributes() {
                    let attribute =
                        attribute.map_err(|error| CdarError::Xml(cut(&error.to_string())))?;
                    let key = attribute.key.local_name();
                    if key.as_ref() == b"currencyID" || key.as_ref() == b"schemeID" {
                        let value = attribute
                            .decode_and_unescape_value(reader.decoder())
                            .map_err(|error| CdarError::Entity(cut(&error.to_string())))?;
                        wanted = Some(value.trim().to_owned());
                    }
                }
                path.push((namespace, local));
                texts.push(String::new());
                attrs.push(wanted);
                open(&mut doc, &path)?;
            }
            Event::End(_) => {
                let text = texts.pop().unwrap_or_default();
                let attr = attrs.pop().flatten();
                close(&mut doc, &path, &text, attr)?;
                path.pop();
            }
            Event::Text(content) => {
                let decoded = content
                    .decode()
                    .map_err(|error| CdarError::Xml(cut(&error.to_string())))?;
                push_text(&mut texts, &decoded)?;
            }
            Event::CData(content) => {
                let decoded = content
                    .decode()
                    .map_err(|error| CdarError::Xml(cut(&error.to_string())))?;
                push_text(&mut texts, &decoded)?;
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference
                    .resolve_char_ref()
                    .map_err(|error| CdarError::Entity(cut(&error.to_string())))?
                {
                    Some(character) => character,
                    None => {
                        let name = reference
                            .decode()
                            .map_err(|error| CdarError::Xml(cut(&error.to_string())))?;
                        match name.as_ref() {
                            "amp" => '&',
                            "lt" => '<',
                            "gt" => '>',
                            "quot" => '"',
                            "apos" => '\'',
                            other => return Err(CdarError::Entity(cut(other))),
                        }
                    }
                };
                push_text(&mut texts, resolved.encode_utf8(&mut [0; 4]))?;
            }
            Event::DocType(_) => return Err(CdarError::Doctype),
            Event::Empty(_) => {
                // Not produced with `expand_empty_elements`; nothing to do.
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !saw_root {
        return Err(CdarError::Xml("no root element".to_owned()));
    }
    if !path.is_empty() {
        return Err(CdarError::Xml("unclosed element".to_owned()));
    }
    if doc.references.is_empty() {
        return Err(CdarError::Missing("ReferenceReferencedDocument"));
    }
    if doc.status_code().is_none() {
        return Err(CdarError::Missing("ProcessConditionCode"));
    }
    Ok(doc)
}

fn push_text(texts: &mut [String], text: &str) -> Result<(), CdarError> {
    if let Some(current) = texts.last_mut() {
        if current.len().saturating_add(text.len()) > MAX_TEXT {
            return Err(CdarError::Limit("text too long"));
        }
        current.push_str(text);
    }
    Ok(())
}

/// The local names of the path below the root, when every element is in a CDAR namespace.
fn names(path: &[(Ns, String)]) -> Option<Vec<&str>> {
    path.iter()
        .skip(1)
        .map(|(ns, name)| (*ns != Ns::Other).then_some(name.as_str()))
        .collect()
}

/// The path of the current element within `ReferenceReferencedDocument`, if it is in one.
fn within_reference<'a>(names: &'a [&'a str]) -> Option<&'a [&'a str]> {
    match names {
        [
            "AcknowledgementDocument",
            "ReferenceReferencedDocument",
            rest @ ..,
        ] => Some(rest),
        _ => None,
    }
}

/// Creates the records an opening element starts.
fn open(doc: &mut CdarDocument, path: &[(Ns, String)]) -> Result<(), CdarError> {
    let Some(names) = names(path) else {
        return Ok(());
    };
    match names.as_slice() {
        ["ExchangedDocument", "IssuerTradeParty"] => doc.issuer = Some(TradeParty::default()),
        ["ExchangedDocument", "SenderTradeParty"] => doc.sender = Some(TradeParty::default()),
        ["ExchangedDocument", "RecipientTradeParty"] => {
            if doc.recipients.len() >= MAX_STATUSES {
                return Err(CdarError::Limit("too many recipients"));
            }
            doc.recipients.push(TradeParty::default());
        }
        _ => {}
    }
    if let Some(rest) = within_reference(&names) {
        match rest {
            [] => {
                if doc.references.len() >= MAX_STATUSES {
                    return Err(CdarError::Limit("too many referenced documents"));
                }
                doc.references.push(ReferencedDocument::default());
            }
            ["SpecifiedDocumentStatus"] => {
                let reference = current_reference(doc)?;
                if reference.statuses.len() >= MAX_STATUSES {
                    return Err(CdarError::Limit("too many SpecifiedDocumentStatus"));
                }
                reference.statuses.push(DocumentStatus::default());
            }
            ["SpecifiedDocumentStatus", "IncludedNote"] => {
                let status = current_status(doc)?;
                if status.notes.len() >= MAX_STATUSES {
                    return Err(CdarError::Limit("too many IncludedNote"));
                }
                status.notes.push(Note::default());
            }
            ["SpecifiedDocumentStatus", "SpecifiedDocumentCharacteristic"] => {
                let status = current_status(doc)?;
                if status.characteristics.len() >= MAX_STATUSES {
                    return Err(CdarError::Limit("too many SpecifiedDocumentCharacteristic"));
                }
                status.characteristics.push(Characteristic::default());
            }
            _ => {}
        }
    }
    Ok(())
}

fn current_reference(doc: &mut CdarDocument) -> Result<&mut ReferencedDocument, CdarError> {
    doc.references
        .last_mut()
        .ok_or(CdarError::Missing("ReferenceReferencedDocument"))
}

fn current_status(doc: &mut CdarDocument) -> Result<&mut DocumentStatus, CdarError> {
    current_reference(doc)?
        .statuses
        .last_mut()
        .ok_or(CdarError::Missing("SpecifiedDocumentStatus"))
}

fn party_field(party: Option<&mut TradeParty>, field: &str, text: &str, attr: Option<String>) {
    let Some(party) = party else { return };
    match field {
        "GlobalID" => {
            set(&mut party.global_id, text);
            party.global_id_scheme = attr;
        }
        "Name" => set(&mut party.name, text),
        "RoleCode" => set(&mut party.role_code, text),
        _ => {}
    }
}

/// Stores the text of a closing element.
fn close(
    doc: &mut CdarDocument,
    path: &[(Ns, String)],
    text: &str,
    attr: Option<String>,
) -> Result<(), CdarError> {
    let Some(names) = names(path) else {
        return Ok(());
    };
    match names.as_slice() {
        ["ExchangedDocument", "ID"] => set(&mut doc.id, text),
        ["ExchangedDocument", "Name"] => set(&mut doc.name, text),
        ["ExchangedDocument", "IssueDateTime", "DateTimeString"] => {
            set(&mut doc.issue_date_time_raw, text);
            doc.issued_at = parse_cdar_datetime(text);
        }
        ["ExchangedDocument", "IssuerTradeParty", field] => {
            party_field(doc.issuer.as_mut(), field, text, attr);
        }
        ["ExchangedDocument", "SenderTradeParty", field] => {
            party_field(doc.sender.as_mut(), field, text, attr);
        }
        ["ExchangedDocument", "RecipientTradeParty", field] => {
            party_field(doc.recipients.last_mut(), field, text, attr);
        }
        ["AcknowledgementDocument", "TypeCode"] => set(&mut doc.type_code, text),
        ["AcknowledgementDocument", "IssueDateTime", "DateTimeString"] => {
            set(&mut doc.status_date_time_raw, text);
            doc.status_at = parse_cdar_datetime(text);
        }
        _ => {
            if let Some(rest) = within_reference(&names) {
                close_reference(doc, rest, text, attr)?;
            }
        }
    }
    Ok(())
}

fn close_reference(
    doc: &mut CdarDocument,
    rest: &[&str],
    text: &str,
    attr: Option<String>,
) -> Result<(), CdarError> {
    match rest {
        ["IssuerAssignedID"] => set(&mut current_reference(doc)?.invoice_number, text),
        ["StatusCode"] => set(&mut current_reference(doc)?.status_code, text),
        ["TypeCode"] => set(&mut current_reference(doc)?.type_code, text),
        ["ProcessConditionCode"] => {
            let code = StatusCode::parse(text).ok_or_else(|| CdarError::Invalid {
                field: "ProcessConditionCode",
                value: cut(text),
            })?;
            current_reference(doc)?.process_condition_code = Some(code);
        }
        ["ProcessCondition"] => set(&mut current_reference(doc)?.process_condition, text),
        ["ReceiptDateTime", "DateTimeString"] => {
            set(&mut current_reference(doc)?.receipt_date_time, text);
        }
        ["FormattedIssueDateTime", "DateTimeString"] => {
            set(&mut current_reference(doc)?.invoice_date, text);
        }
        ["IssuerTradeParty", "GlobalID"] => set(&mut current_reference(doc)?.seller_id, text),
        ["SpecifiedDocumentStatus", field] => {
            let status = current_status(doc)?;
            match *field {
                "ReasonCode" => set(&mut status.reason_code, text),
                "Reason" => set(&mut status.reason, text),
                "RequestedActionCode" => set(&mut status.requested_action_code, text),
                "RequestedAction" => set(&mut status.requested_action, text),
                "SequenceNumeric" => {
                    let trimmed = text.trim();
                    if !trimmed.is_empty() {
                        status.sequence =
                            Some(trimmed.parse().map_err(|_| CdarError::Invalid {
                                field: "SequenceNumeric",
                                value: cut(trimmed),
                            })?);
                    }
                }
                _ => {}
            }
        }
        ["SpecifiedDocumentStatus", "IncludedNote", field] => {
            if let Some(note) = current_status(doc)?.notes.last_mut() {
                match *field {
                    "ContentCode" => set(&mut note.content_code, text),
                    "Content" => set(&mut note.content, text),
                    "SubjectCode" => set(&mut note.subject_code, text),
                    _ => {}
                }
            }
        }
        [
            "SpecifiedDocumentStatus",
            "SpecifiedDocumentCharacteristic",
            rest @ ..,
        ] => {
            if let Some(characteristic) = current_status(doc)?.characteristics.last_mut() {
                match rest {
                    ["ID"] => set(&mut characteristic.id, text),
                    ["TypeCode"] => set(&mut characteristic.type_code, text),
                    ["Name"] => set(&mut characteristic.name, text),
                    ["Location"] => set(&mut characteristic.location, text),
                    ["Value"] => set(&mut characteristic.value, text),
                    ["ValueChangedIndicator", _] => set(&mut characteristic.value_changed, text),
                    ["ValueAmount"] => {
                        set(&mut characteristic.value_amount, text);
                        characteristic.value_currency = attr;
                    }
                    ["ValuePercent"] => set(&mut characteristic.value_percent, text),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    Ok(())
}
