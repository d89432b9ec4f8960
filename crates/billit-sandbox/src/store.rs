//! The sandbox's state and everything Billit does to it (no I/O here).

use crate::cdar::{self, CdarStatus};
use crate::json::normalize_keys;
use base64::Engine as _;
use chrono::{DateTime, Datelike, Duration as TimeDelta, NaiveDateTime, TimeZone, Utc};
use portal_billit::time::{format_billit, parse_local, utc_to_brussels};
use portal_billit::wire::{
    BillitDateTime, DeliveryDetails, ExternalProviderReference, FileRef, Message, Order, OrderLine,
    PaidPatch, Party, PaymentRequest, SendCommand, WebhookRegistration,
};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A Billit-style failure: HTTP status plus `{"errors":[{"Code","Description"}]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    /// HTTP status.
    pub status: u16,
    /// Billit's error code.
    pub code: String,
    /// Billit's description.
    pub description: String,
    /// `Retry-After` seconds (429).
    pub retry_after: Option<u64>,
}

impl ApiFailure {
    /// A failure with a status, code and description.
    pub fn new(status: u16, code: &str, description: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            description: description.into(),
            retry_after: None,
        }
    }

    /// A 400 with a code.
    pub fn bad(code: &str, description: impl Into<String>) -> Self {
        Self::new(400, code, description)
    }

    /// A 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(404, "NotFound", format!("{what} not found"))
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({"errors": [{"Code": self.code, "Description": self.description}]})
    }
}

/// A company known to the sandbox (its credentials and identity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PartyAccount {
    /// `PartyID`.
    #[serde(rename = "PartyID")]
    pub party_id: i64,
    /// `ApiKey`.
    pub api_key: String,
    /// Company name.
    #[serde(default)]
    pub name: String,
    /// `VATNumber` (FR…).
    #[serde(rename = "VATNumber", default)]
    pub vat_number: String,
    /// Contact e-mail (account information).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl PartyAccount {
    /// The SIREN inside the French VAT number (or nine zeros).
    pub fn siren(&self) -> String {
        let digits: String = self
            .vat_number
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        if digits.len() == 11 {
            digits[2..].to_owned()
        } else {
            "000000000".to_owned()
        }
    }
}

/// A stored file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    /// Owner.
    pub party_id: i64,
    /// `FileName`.
    pub file_name: String,
    /// `MimeType`.
    pub mime_type: String,
    /// Base64 content.
    pub content_base64: String,
}

/// A registered webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredWebhook {
    /// `WebhookID`.
    pub id: i64,
    /// Owner.
    pub party_id: i64,
    /// `Message` or `Order`.
    pub entity_type: String,
    /// `I`, `U` or `D`.
    pub update_type: String,
    /// Target URL.
    pub url: String,
    /// Signing secret.
    pub secret: String,
}

/// One step of an order's life after sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum StepKind {
    /// The invoice goes out over Peppol (201).
    PeppolSent,
    /// `FFE0614A` (200).
    TaxSubmitted,
    /// `CFE0614A` (500).
    TaxSubmittedAnswer,
    /// `FFE0111A` (tax data sent).
    TaxDataSent,
    /// `CFE0111A` (250).
    TaxDataAnswer,
    /// `ack`: tax reporting done.
    TaxAck,
    /// `Reporting failed` (251), `TaxReportingStatusTC: Failed`.
    ReportingFailed,
    /// `AB:` (202) and `DocumentDeliveryStatus: Delivered` (203).
    Delivered,
    /// A buyer status (204–211, and any injected code).
    Status {
        /// The code.
        code: u16,
        /// Reason codes.
        #[serde(default)]
        reasons: Vec<String>,
        /// Requested action.
        #[serde(default)]
        action: Option<String>,
        /// Comment.
        #[serde(default)]
        comment: Option<String>,
    },
    /// 213 by the buyer's platform.
    PlatformRejected {
        /// Reason code.
        reason: String,
    },
    /// `CashCollected: Recevable`.
    CashCollectedAnswer,
}

impl StepKind {
    /// A short name for the timeline.
    pub fn name(&self) -> String {
        match self {
            Self::PeppolSent => "PeppolSent (201)".to_owned(),
            Self::TaxSubmitted => "FFE0614A (200)".to_owned(),
            Self::TaxSubmittedAnswer => "CFE0614A (500)".to_owned(),
            Self::TaxDataSent => "FFE0111A".to_owned(),
            Self::TaxDataAnswer => "CFE0111A (250)".to_owned(),
            Self::TaxAck => "ack".to_owned(),
            Self::ReportingFailed => "Reporting failed (251)".to_owned(),
            Self::Delivered => "AB: delivered (202/203)".to_owned(),
            Self::Status { code, reasons, .. } if reasons.is_empty() => format!("status {code}"),
            Self::Status { code, reasons, .. } => format!("status {code} ({})", reasons.join(",")),
            Self::PlatformRejected { reason } => format!("status 213 ({reason})"),
            Self::CashCollectedAnswer => "CashCollected: Recevable".to_owned(),
        }
    }
}

/// A scheduled step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// When it is due (Unix milliseconds).
    pub due_ms: i64,
    /// What it does.
    pub kind: StepKind,
    /// Whether it ran.
    pub done: bool,
}

/// An order with what the sandbox keeps beside Billit's JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredOrder {
    /// Owner.
    pub party_id: i64,
    /// Billit's JSON.
    pub order: Order,
    /// Message ids, parallel to `order.messages`.
    pub message_ids: Vec<i64>,
    /// The scenario suffix (`""`, `_DEMO`, …).
    pub scenario: String,
    /// The timeline.
    pub steps: Vec<Step>,
    /// Whether the send carried `StrictTransportType: true` (`None` before it was sent).
    #[serde(default)]
    pub strict_transport: Option<bool>,
    /// The transport the order actually went by (`Peppol`, or `Email` when Billit fell back to it).
    #[serde(default)]
    pub sent_with: Option<String>,
}

/// The fault knobs (`PUT /_sandbox/faults`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Probability that a webhook is not sent.
    pub webhook_drop: f64,
    /// Probability that a webhook is sent twice.
    pub webhook_duplicate: f64,
    /// Send the webhooks of a batch in random order.
    pub webhook_shuffle: bool,
    /// Probability that an API call answers 500.
    pub error_rate: f64,
    /// Every Nth API call answers 429 with `Retry-After` (0: never).
    pub rate_limit_every: u64,
    /// Delay before every API answer.
    pub latency_ms: u64,
    /// `old` or `new` webhook payload shape (default `new`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_shape: Option<String>,
}

impl Faults {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), ApiFailure> {
        for (name, value) in [
            ("webhook_drop", self.webhook_drop),
            ("webhook_duplicate", self.webhook_duplicate),
            ("error_rate", self.error_rate),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(ApiFailure::bad(
                    "InvalidFault",
                    format!("{name} must be between 0 and 1"),
                ));
            }
        }
        if self.latency_ms > 60_000 {
            return Err(ApiFailure::bad(
                "InvalidFault",
                "latency_ms must be at most 60000",
            ));
        }
        if let Some(shape) = &self.webhook_shape
            && !matches!(shape.as_str(), "old" | "new")
        {
            return Err(ApiFailure::bad(
                "InvalidFault",
                "webhook_shape must be old or new",
            ));
        }
        Ok(())
    }
}

/// Something that happened, for webhooks.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A message was inserted.
    MessageInserted {
        /// Owner.
        party_id: i64,
        /// Order.
        order_id: i64,
        /// Message id.
        message_id: i64,
        /// The message.
        message: Box<Message>,
        /// `EInvoiceFlowState`, when there is one.
        flow_state: Option<String>,
    },
    /// An order changed.
    OrderUpdated {
        /// Owner.
        party_id: i64,
        /// Order.
        order_id: i64,
    },
}

/// One webhook delivery attempt, for the control API and tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// Target.
    pub url: String,
    /// Entity type.
    pub entity_type: String,
    /// Entity id.
    pub entity_id: i64,
    /// `sent`, `failed`, `dropped`.
    pub outcome: String,
    /// HTTP status when there was an answer.
    pub status: Option<u16>,
    /// Attempt number (1-based).
    pub attempt: u32,
}

/// Everything the sandbox knows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Store {
    /// Companies.
    pub parties: BTreeMap<i64, PartyAccount>,
    /// Orders.
    pub orders: BTreeMap<i64, StoredOrder>,
    /// Files.
    pub files: BTreeMap<String, StoredFile>,
    /// Webhooks.
    pub webhooks: BTreeMap<i64, StoredWebhook>,
    /// Used idempotency keys (`party:scope:key` → order id).
    pub idempotency: BTreeMap<String, i64>,
    /// Faults.
    pub faults: Faults,
    next_order_id: i64,
    next_message_id: i64,
    next_webhook_id: i64,
    next_line_id: i64,
    next_customer_id: i64,
    #[serde(skip)]
    last_clock_ms: i64,
    /// Delivery log (not persisted).
    #[serde(skip)]
    pub deliveries: Vec<DeliveryRecord>,
    /// API calls seen (for `rate_limit_every`).
    #[serde(skip)]
    pub api_calls: u64,
    /// Peppol participant lookups per identifier (`GET /v1/peppol/participantInformation/…`), not persisted.
    #[serde(skip)]
    pub participant_lookups: BTreeMap<String, u64>,
}

/// French VAT rates (mainland, Corsica, overseas departments).
const FRENCH_RATES: [(i64, u32); 10] = [
    (20, 0),
    (13, 0),
    (10, 0),
    (85, 1),
    (55, 1),
    (21, 1),
    (175, 2),
    (105, 2),
    (9, 1),
    (0, 0),
];

fn is_french_rate(rate: Decimal) -> bool {
    FRENCH_RATES
        .iter()
        .any(|(mantissa, scale)| Decimal::new(*mantissa, *scale) == rate)
}

fn money(value: Decimal) -> Decimal {
    let mut rounded = value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    if rounded.scale() == 0 {
        rounded.rescale(1);
    }
    rounded
}

fn json_number(value: Decimal) -> Value {
    value
        .to_f64()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

fn valid_order_number(number: &str) -> bool {
    !number.is_empty()
        && number.chars().count() <= 35
        && number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '+' | '_' | '/'))
        && !number.starts_with(' ')
        && !number.ends_with(' ')
        && !number.contains("  ")
}

/// The scenario suffixes, in the contract's order.
pub const SCENARIOS: [&str; 7] = [
    "_DEMO", "_ERROR", "_DISPUTE", "_SUSPEND", "_REFUSE", "_REJECT", "_PAID",
];

/// The CTC identifier (scheme 0225) of a party, if any.
fn ctc_identifier(party: &Party) -> Option<String> {
    party
        .identifiers
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|id| {
            id.scheme_id.as_deref() == Some("0225")
                || id
                    .identifier_type
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case("CTC"))
        })
        .and_then(|id| id.identifier.clone())
        .filter(|id| !id.trim().is_empty())
}

/// A network address of the customer (`scheme:identifier`), preferring CTC.
fn network_address(party: &Party) -> Option<String> {
    if let Some(ctc) = ctc_identifier(party) {
        return Some(format!("0225:{ctc}"));
    }
    party
        .identifiers
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find_map(|id| {
            let value = id.identifier.as_deref()?.trim();
            if value.is_empty() {
                return None;
            }
            let scheme = id.scheme_id.clone().unwrap_or_else(|| "0002".to_owned());
            Some(format!("{scheme}:{value}"))
        })
}

/// Whether an electronic address (`scheme:value`) is a participant of the network: the French and Peppol schemes,
/// unless the value ends with `_NOPEPPOL` (the sandbox's receiver that cannot take e-invoices).
pub fn is_registered(identifier: &str) -> bool {
    let (scheme, value) = identifier.split_once(':').unwrap_or(("", identifier));
    matches!(scheme.trim(), "0225" | "0002" | "0009" | "9957" | "0208")
        && !value.trim().is_empty()
        && !value.trim().to_ascii_uppercase().ends_with("_NOPEPPOL")
}

/// The scenario of an order, by its customer's CTC identifier suffix.
pub fn scenario_of(order: &Order) -> String {
    let Some(ctc) = order.customer.as_ref().and_then(ctc_identifier) else {
        return String::new();
    };
    let upper = ctc.to_ascii_uppercase();
    SCENARIOS
        .iter()
        .find(|suffix| upper.ends_with(*suffix))
        .map_or_else(String::new, |suffix| (*suffix).to_owned())
}

fn status(code: u16, reasons: &[&str], action: Option<&str>, comment: Option<&str>) -> StepKind {
    StepKind::Status {
        code,
        reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
        action: action.map(str::to_owned),
        comment: comment.map(str::to_owned),
    }
}

/// The steps of a scenario after sending.
pub fn timeline(scenario: &str) -> Vec<StepKind> {
    use StepKind::{
        Delivered, PeppolSent, PlatformRejected, ReportingFailed, TaxAck, TaxDataAnswer,
        TaxDataSent, TaxSubmitted, TaxSubmittedAnswer,
    };
    let reported = [
        PeppolSent,
        TaxSubmitted,
        TaxSubmittedAnswer,
        TaxDataSent,
        TaxDataAnswer,
        TaxAck,
    ];
    let mut steps: Vec<StepKind> = Vec::new();
    match scenario {
        "_ERROR" => {
            steps.extend([
                TaxSubmitted,
                TaxSubmittedAnswer,
                TaxDataSent,
                ReportingFailed,
            ]);
        }
        "_REJECT" => {
            steps.extend([PeppolSent, TaxSubmitted, TaxSubmittedAnswer]);
            steps.push(PlatformRejected {
                reason: "DEST_INC".to_owned(),
            });
        }
        _ => {
            steps.extend(reported);
            steps.push(Delivered);
            match scenario {
                "_DEMO" => {
                    steps.extend([status(204, &[], None, None), status(205, &[], None, None)])
                }
                "_DISPUTE" => steps.push(status(
                    207,
                    &["TX_TVA_ERR"],
                    Some("NIN"),
                    Some("Le taux de TVA de la ligne 1 devrait être 10 %"),
                )),
                "_SUSPEND" => steps.push(status(
                    208,
                    &["JUSTIF_ABS"],
                    Some("PIN"),
                    Some("Merci de joindre le bon de commande signé"),
                )),
                "_REFUSE" => steps.push(status(210, &["CONTRAT_TERM"], None, None)),
                "_PAID" => {
                    steps.extend([status(205, &[], None, None), status(211, &[], None, None)])
                }
                _ => {}
            }
        }
    }
    steps
}

fn french_label(code: u16) -> &'static str {
    match code {
        200 => "Déposée",
        201 => "Émise par la plateforme",
        202 => "Reçue par la plateforme",
        203 => "Mise à disposition",
        204 => "Prise en charge",
        205 => "Approuvée",
        206 => "Approuvée partiellement",
        207 => "En litige",
        208 => "Suspendue",
        209 => "Complétée",
        210 => "Refusée",
        211 => "Paiement transmis",
        212 => "Encaissée",
        213 => "Rejetée",
        _ => "Statut",
    }
}

/// The description Billit would give a buyer status: the Peppol response code when there is one
/// and no reason to carry, otherwise the status number, label, reasons and comment.
pub fn status_description(code: u16, reasons: &[String], comment: Option<&str>) -> String {
    let peppol = match code {
        204 => Some("IP: The document is being processed."),
        205 => Some("AP: The document has been accepted."),
        206 => Some("CA: The document has been conditionally accepted."),
        208 => Some("UQ: The document is under query."),
        210 => Some("RE: The document has been rejected."),
        211 => Some("PD: The document has been paid."),
        _ => None,
    };
    if reasons.is_empty()
        && comment.is_none()
        && let Some(text) = peppol
    {
        return text.to_owned();
    }
    let mut text = format!("{code} {}", french_label(code));
    if !reasons.is_empty() {
        text.push_str(": ");
        text.push_str(&reasons.join(", "));
    }
    if let Some(comment) = comment.filter(|c| !c.trim().is_empty()) {
        text.push_str(" — ");
        text.push_str(comment.trim());
    }
    text
}

/// Reads a JSON body into a wire type after normalising property names.
pub fn parse_body<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, ApiFailure> {
    let value: Value = serde_json::from_slice(raw).map_err(|error| {
        ApiFailure::bad(
            "InvalidJson",
            format!("The body is not valid JSON: {error}"),
        )
    })?;
    serde_json::from_value(normalize_keys(value)).map_err(|error| {
        ApiFailure::bad(
            "InvalidModel",
            format!("The body does not match the model: {error}"),
        )
    })
}

/// A parsed `$filter` clause.
#[derive(Debug, Clone, PartialEq)]
struct Clause {
    field: String,
    op: String,
    value: Literal,
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    DateTime(NaiveDateTime),
    Text(String),
    Number(i64),
}

fn bad_filter(detail: &str) -> ApiFailure {
    ApiFailure::bad(
        "InvalidFilter",
        format!("The $filter is not valid: {detail}"),
    )
}

/// Parses an OData `$filter` of clauses joined by `and`.
fn parse_filter(filter: &str) -> Result<Vec<Clause>, ApiFailure> {
    let chars: Vec<char> = filter.chars().collect();
    let mut at = 0;
    let mut clauses = Vec::new();
    let skip_ws = |at: &mut usize| {
        while *at < chars.len() && chars[*at].is_whitespace() {
            *at += 1;
        }
    };
    let word = |at: &mut usize| {
        let start = *at;
        while *at < chars.len() && (chars[*at].is_ascii_alphanumeric() || chars[*at] == '_') {
            *at += 1;
        }
        chars[start..*at].iter().collect::<String>()
    };
    loop {
        skip_ws(&mut at);
        let field = word(&mut at);
        if field.is_empty() {
            return Err(bad_filter("a property name is expected"));
        }
        skip_ws(&mut at);
        let op = word(&mut at).to_ascii_lowercase();
        if !matches!(op.as_str(), "eq" | "ne" | "gt" | "ge" | "lt" | "le") {
            return Err(bad_filter(
                "an operator (eq, ne, gt, ge, lt, le) is expected",
            ));
        }
        skip_ws(&mut at);
        let rest: String = chars[at..].iter().collect();
        let value = if rest
            .get(..9)
            .is_some_and(|head| head.eq_ignore_ascii_case("DateTime'"))
        {
            at += 9;
            let start = at;
            while at < chars.len() && chars[at] != '\'' {
                at += 1;
            }
            if at >= chars.len() {
                return Err(bad_filter("unterminated DateTime literal"));
            }
            let text: String = chars[start..at].iter().collect();
            at += 1;
            Literal::DateTime(parse_local(&text).ok_or_else(|| bad_filter("invalid DateTime"))?)
        } else if rest.starts_with('\'') {
            at += 1;
            let mut text = String::new();
            loop {
                match chars.get(at) {
                    None => return Err(bad_filter("unterminated string")),
                    Some('\'') if chars.get(at + 1) == Some(&'\'') => {
                        text.push('\'');
                        at += 2;
                    }
                    Some('\'') => {
                        at += 1;
                        break;
                    }
                    Some(c) => {
                        text.push(*c);
                        at += 1;
                    }
                }
            }
            Literal::Text(text)
        } else {
            let start = at;
            while at < chars.len() && (chars[at].is_ascii_digit() || chars[at] == '-') {
                at += 1;
            }
            let text: String = chars[start..at].iter().collect();
            Literal::Number(
                text.parse()
                    .map_err(|_| bad_filter("a value is expected"))?,
            )
        };
        clauses.push(Clause { field, op, value });
        skip_ws(&mut at);
        if at >= chars.len() {
            return Ok(clauses);
        }
        let joiner = word(&mut at);
        if !joiner.eq_ignore_ascii_case("and") {
            return Err(bad_filter("only `and` joins clauses"));
        }
        if clauses.len() > 16 {
            return Err(bad_filter("too many clauses"));
        }
    }
}

fn compare<T: PartialOrd>(left: &T, op: &str, right: &T) -> bool {
    match op {
        "eq" => left == right,
        "ne" => left != right,
        "gt" => left > right,
        "ge" => left >= right,
        "lt" => left < right,
        _ => left <= right,
    }
}

fn matches(order: &Order, clause: &Clause) -> Result<bool, ApiFailure> {
    let field = clause.field.to_ascii_lowercase();
    let date =
        |value: &Option<BillitDateTime>| value.as_ref().and_then(|d| parse_local(d.as_str()));
    match (&clause.value, field.as_str()) {
        (Literal::DateTime(right), "lastmodified" | "created" | "orderdate" | "expirydate") => {
            let left = match field.as_str() {
                "lastmodified" => date(&order.last_modified),
                "created" => date(&order.created),
                "orderdate" => date(&order.order_date),
                _ => date(&order.expiry_date),
            };
            Ok(left.is_some_and(|left| compare(&left, &clause.op, right)))
        }
        (Literal::Text(right), "ordernumber" | "ordertype" | "orderdirection" | "orderstatus") => {
            let left = match field.as_str() {
                "ordernumber" => order.order_number.clone(),
                "ordertype" => order.order_type.clone(),
                "orderdirection" => order.order_direction.clone(),
                _ => order.order_status.clone(),
            };
            Ok(left.is_some_and(|left| compare(&left.as_str(), &clause.op, &right.as_str())))
        }
        (Literal::Number(right), "orderid") => Ok(order
            .order_id
            .is_some_and(|left| compare(&left, &clause.op, right))),
        _ => Err(bad_filter(&format!(
            "unsupported property or value for {}",
            clause.field
        ))),
    }
}

/// A page of orders.
pub struct OrderPage {
    /// The orders.
    pub items: Vec<Order>,
    /// Whether there are more after `skip + top`.
    pub more: bool,
}

impl Store {
    /// A fresh store.
    pub fn new() -> Self {
        Self {
            next_order_id: 1_000_001,
            next_message_id: 5_000_001,
            next_webhook_id: 1,
            next_line_id: 20_000_001,
            next_customer_id: 3_000_001,
            ..Self::default()
        }
    }

    /// A strictly increasing clock (milliseconds), so events never share an instant.
    pub fn now(&mut self) -> DateTime<Utc> {
        let real = Utc::now().timestamp_millis();
        let ms = real.max(self.last_clock_ms + 1);
        self.last_clock_ms = ms;
        Utc.timestamp_millis_opt(ms)
            .single()
            .unwrap_or_else(Utc::now)
    }

    fn stamp(&mut self) -> BillitDateTime {
        BillitDateTime(format_billit(self.now()))
    }

    /// The party for these credentials.
    pub fn authenticate(
        &self,
        api_key: Option<&str>,
        party_id: Option<&str>,
        context_party_id: Option<&str>,
    ) -> Result<i64, ApiFailure> {
        let unauthorized = || {
            ApiFailure::new(
                401,
                "Unauthorized",
                "A valid ApiKey and PartyID are required",
            )
        };
        let party_id: i64 = party_id
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(unauthorized)?;
        let key = api_key.map(str::trim).ok_or_else(unauthorized)?;
        match self.parties.get(&party_id) {
            Some(account) if !key.is_empty() && account.api_key == key => {}
            _ => return Err(unauthorized()),
        }
        // An accountant acts for another company its key also opens (same ApiKey).
        let Some(context) = context_party_id.map(str::trim).filter(|c| !c.is_empty()) else {
            return Ok(party_id);
        };
        let forbidden = || {
            ApiFailure::new(
                403,
                "Forbidden",
                "The ApiKey may not act for this ContextPartyID",
            )
        };
        let context: i64 = context.parse().map_err(|_| forbidden())?;
        match self.parties.get(&context) {
            Some(account) if account.api_key == key => Ok(context),
            _ => Err(forbidden()),
        }
    }

    /// Adds or replaces a company.
    pub fn upsert_party(&mut self, account: PartyAccount) -> Result<(), ApiFailure> {
        if account.party_id <= 0 || account.api_key.trim().is_empty() {
            return Err(ApiFailure::bad(
                "InvalidParty",
                "PartyID and ApiKey are required",
            ));
        }
        self.parties.insert(account.party_id, account);
        Ok(())
    }

    fn add_file(&mut self, party_id: i64, name: &str, mime: &str, content: &[u8]) -> String {
        let id = uuid::Uuid::now_v7().to_string();
        self.files.insert(
            id.clone(),
            StoredFile {
                party_id,
                file_name: name.to_owned(),
                mime_type: mime.to_owned(),
                content_base64: base64::engine::general_purpose::STANDARD.encode(content),
            },
        );
        id
    }

    /// `GET /v1/files/{id}`.
    pub fn file(&self, party_id: i64, file_id: &str) -> Result<FileRef, ApiFailure> {
        let file = self
            .files
            .get(file_id)
            .filter(|file| file.party_id == party_id)
            .ok_or_else(|| ApiFailure::not_found("File"))?;
        Ok(FileRef {
            file_id: Some(file_id.to_owned()),
            file_name: Some(file.file_name.clone()),
            mime_type: Some(file.mime_type.clone()),
            file_content: Some(file.content_base64.clone()),
            extra: BTreeMap::new(),
        })
    }

    fn check_idempotency(
        &self,
        party_id: i64,
        scope: &str,
        key: Option<&str>,
    ) -> Result<(), ApiFailure> {
        if let Some(key) = key
            && self
                .idempotency
                .contains_key(&format!("{party_id}:{scope}:{key}"))
        {
            // Billit's own words for a replay, which the client recognises exactly.
            return Err(ApiFailure::new(
                409,
                "Conflict",
                "Idempotent token already exists",
            ));
        }
        Ok(())
    }

    /// `POST /v1/orders`: validates, computes totals, stores; returns the OrderID.
    pub fn create_order(
        &mut self,
        party_id: i64,
        raw: &[u8],
        idempotency_key: Option<&str>,
    ) -> Result<i64, ApiFailure> {
        self.check_idempotency(party_id, "order", idempotency_key)?;
        let input: Order = parse_body(raw)?;
        let account = self
            .parties
            .get(&party_id)
            .cloned()
            .ok_or_else(|| ApiFailure::new(401, "Unauthorized", "Unknown party"))?;
        let number = input.order_number.clone().unwrap_or_default();
        if number.trim().is_empty() {
            return Err(ApiFailure::bad(
                "OrderNumberIsRequired",
                "OrderNumber is required",
            ));
        }
        if !valid_order_number(&number) {
            return Err(ApiFailure::bad(
                "InvalidOrderNumber",
                "OrderNumber: at most 35 letters, digits, spaces or - + _ /",
            ));
        }
        let order_type = input
            .order_type
            .clone()
            .unwrap_or_else(|| "Invoice".to_owned());
        if order_type != "Invoice" && order_type != "CreditNote" {
            return Err(ApiFailure::bad(
                "InvalidOrderType",
                "OrderType must be Invoice or CreditNote",
            ));
        }
        if order_type == "CreditNote"
            && input
                .about_invoice_number
                .as_deref()
                .is_none_or(|n| n.trim().is_empty())
        {
            return Err(ApiFailure::bad(
                "AboutInvoiceNumberIsRequired",
                "A credit note must reference the invoice it corrects (AboutInvoiceNumber)",
            ));
        }
        let Some(mut customer) = input.customer.clone() else {
            return Err(ApiFailure::bad(
                "CustomerIsRequired",
                "Customer is required",
            ));
        };
        if customer.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
            return Err(ApiFailure::bad(
                "CustomerNameIsRequired",
                "Customer.Name is required",
            ));
        }
        let lines_in = input.order_lines.clone().unwrap_or_default();
        if lines_in.is_empty() {
            return Err(ApiFailure::bad(
                "OrderLinesAreRequired",
                "At least one order line is required",
            ));
        }
        if lines_in.len() > 10_000 {
            return Err(ApiFailure::bad(
                "TooManyOrderLines",
                "At most 10000 order lines",
            ));
        }
        let now = self.now();
        let order_date = input.order_date.clone().unwrap_or_else(|| {
            BillitDateTime(utc_to_brussels(now).format("%Y-%m-%dT00:00:00").to_string())
        });
        let Some(order_day) = parse_local(order_date.as_str()) else {
            return Err(ApiFailure::bad(
                "InvalidOrderDate",
                "OrderDate is not a date",
            ));
        };
        let year = order_day.year();
        let duplicate = self.orders.values().any(|stored| {
            stored.party_id == party_id
                && stored.order.order_type.as_deref() == Some(order_type.as_str())
                && stored.order.order_number.as_deref() == Some(number.as_str())
                && stored
                    .order
                    .order_date
                    .as_ref()
                    .and_then(|d| parse_local(d.as_str()))
                    .is_some_and(|d| d.year() == year)
        });
        if duplicate {
            return Err(ApiFailure::bad(
                "OrderNumberAlreadyExists",
                format!("The number {number} is already used in {year}"),
            ));
        }

        // Lines and totals, computed like Billit: line totals rounded to cents, VAT per group.
        let mut lines = Vec::with_capacity(lines_in.len());
        let mut groups: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
        for (index, line) in lines_in.into_iter().enumerate() {
            let position = index + 1;
            let Some(rate) = line.vat_percentage else {
                return Err(ApiFailure::bad(
                    "VATPercentageIsRequired",
                    format!("Order line {position}: VATPercentage is required"),
                ));
            };
            if !is_french_rate(rate) {
                return Err(ApiFailure::bad(
                    "InvalidVATPercentage",
                    format!(
                        "Order line {position}: the VAT rate {rate} % does not exist in France"
                    ),
                ));
            }
            let quantity = line.quantity.unwrap_or(Decimal::ONE);
            let limit = Decimal::new(1_000_000_000, 0);
            if [Some(quantity), line.unit_price_excl, line.unit_price_incl]
                .into_iter()
                .flatten()
                .any(|value| value.abs() > limit)
            {
                return Err(ApiFailure::bad(
                    "AmountOutOfRange",
                    format!("Order line {position}: quantity and prices are at most 1000000000"),
                ));
            }
            let unit_excl = match (line.unit_price_excl, line.unit_price_incl) {
                (Some(excl), _) => excl,
                (None, Some(incl)) => {
                    (incl / (Decimal::ONE + rate / Decimal::ONE_HUNDRED)).round_dp(5)
                }
                (None, None) => {
                    return Err(ApiFailure::bad(
                        "UnitPriceIsRequired",
                        format!("Order line {position}: UnitPriceExcl is required"),
                    ));
                }
            };
            let Some(raw_excl) = quantity.checked_mul(unit_excl) else {
                return Err(ApiFailure::bad(
                    "AmountOutOfRange",
                    format!("Order line {position}: amount out of range"),
                ));
            };
            let total_excl = money(raw_excl);
            let total_vat = money(total_excl * rate / Decimal::ONE_HUNDRED);
            let entry = groups
                .entry(rate.normalize().to_string())
                .or_insert((Decimal::ZERO, rate));
            entry.0 += total_excl;
            let mut extra = line.extra.clone();
            extra.insert("VentilationCode".to_owned(), json!("4"));
            extra.entry("CustomFields".to_owned()).or_insert(json!({}));
            extra.insert("InclLeading".to_owned(), json!(false));
            self.next_line_id += 1;
            lines.push(OrderLine {
                order_line_id: Some(self.next_line_id),
                quantity: Some(quantity),
                unit_price_excl: Some(unit_excl),
                unit_price_incl: line.unit_price_incl,
                description: line.description.clone(),
                description_extended: line.description_extended.clone(),
                unit: line.unit.clone().or_else(|| Some("PCE".to_owned())),
                vat_percentage: Some(rate),
                total_excl: Some(total_excl),
                total_vat: Some(total_vat),
                total_incl: Some(money(total_excl + total_vat)),
                extra,
            });
        }
        let mut vat_groups = Vec::new();
        let (mut total_excl, mut total_vat) = (Decimal::ZERO, Decimal::ZERO);
        for (excl, rate) in groups.values() {
            let vat = money(*excl * *rate / Decimal::ONE_HUNDRED);
            total_excl += *excl;
            total_vat += vat;
            vat_groups.push(json!({
                "VentilationCode": "4",
                "VATPercentage": json_number(*rate),
                "TotalExcl": json_number(money(*excl)),
                "TotalVAT": json_number(vat),
                "TotalIncl": json_number(money(*excl + vat)),
                "Mtvh": json_number(money(*excl)),
                "FinancialReductionAmount": 0.0,
            }));
        }
        let total_incl = money(total_excl + total_vat);
        // An invoice paid at issue (a cash sale, a prepaid order) is created `Paid`, with its date.
        let paid_at_issue = input.paid == Some(true);
        if let Some(date) = &input.paid_date
            && paid_at_issue
            && parse_local(date.as_str()).is_none()
            && date.to_utc().is_none()
        {
            return Err(ApiFailure::bad("InvalidPaidDate", "PaidDate is not a date"));
        }

        self.next_customer_id += 1;
        customer.party_id = customer.party_id.or(Some(self.next_customer_id));
        customer.party_type = Some("Customer".to_owned());
        let supplier = input.supplier.clone().unwrap_or_else(|| Party {
            name: Some(account.name.clone()),
            vat_number: Some(account.vat_number.clone()),
            ..Party::default()
        });
        let supplier = Party {
            party_id: Some(party_id),
            party_type: Some("Supplier".to_owned()),
            ..supplier
        };

        self.next_order_id += 1;
        let order_id = self.next_order_id;
        let pdf_name = format!("Invoice_{}.pdf", number.replace(['/', ' '], "_"));
        let pdf = self.add_file(
            party_id,
            &pdf_name,
            "application/pdf",
            &pdf_bytes(&number, total_incl),
        );
        let mut attachments = Vec::new();
        for attachment in input.attachments.clone().unwrap_or_default() {
            let name = attachment
                .file_name
                .clone()
                .unwrap_or_else(|| "attachment".to_owned());
            let content = attachment
                .file_content
                .as_deref()
                .and_then(|c| {
                    base64::engine::general_purpose::STANDARD
                        .decode(c.trim())
                        .ok()
                })
                .unwrap_or_default();
            let mime = attachment
                .mime_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".to_owned());
            let id = self.add_file(party_id, &name, &mime, &content);
            attachments.push(FileRef {
                file_id: Some(id),
                file_name: Some(name),
                ..FileRef::default()
            });
        }
        let stamp = BillitDateTime(format_billit(now));
        let expiry = input.expiry_date.clone().unwrap_or_else(|| {
            BillitDateTime(
                (order_day + TimeDelta::days(30))
                    .format("%Y-%m-%dT00:00:00")
                    .to_string(),
            )
        });
        let mut extra = input.extra.clone();
        for (key, value) in [
            ("PaymentDiscountPercentage", json!(0.0)),
            ("PaymentDiscountAmount", json!(0.0)),
            ("VatGroups", Value::Array(vat_groups)),
            ("VentilationCode", json!("4")),
            ("Tags", json!([])),
            ("ExternalProvider", json!("APIFeed")),
            ("Invoiced", json!(false)),
            ("CustomFields", json!({})),
            ("RemindersSent", json!(0)),
            ("Overdue", json!(false)),
            ("DaysOverdue", json!(0)),
            ("FXRateToForeign", json!(1.0)),
            ("AccountantVerificationNeeded", json!(false)),
        ] {
            extra.insert(key.to_owned(), value);
        }
        let order = Order {
            order_id: Some(order_id),
            company_id: Some(party_id),
            order_pdf: Some(FileRef {
                file_id: Some(pdf),
                file_name: Some(pdf_name),
                ..FileRef::default()
            }),
            attachments: Some(attachments),
            order_number: Some(number),
            order_type: Some(order_type),
            order_direction: Some(
                input
                    .order_direction
                    .clone()
                    .unwrap_or_else(|| "Income".to_owned()),
            ),
            about_invoice_number: input.about_invoice_number.clone(),
            customer: Some(customer),
            supplier: Some(supplier),
            order_date: Some(order_date),
            expiry_date: Some(expiry),
            delivery_date: input.delivery_date.clone(),
            last_modified: Some(stamp.clone()),
            created: Some(stamp),
            order_title: input.order_title.clone(),
            order_lines: Some(lines),
            total_excl: Some(money(total_excl)),
            total_vat: Some(money(total_vat)),
            total_incl: Some(total_incl),
            currency: Some(input.currency.clone().unwrap_or_else(|| "EUR".to_owned())),
            reference: input.reference.clone(),
            payment_reference: input.payment_reference.clone(),
            comments: input.comments.clone(),
            paid: Some(paid_at_issue),
            paid_date: paid_at_issue.then(|| {
                input
                    .paid_date
                    .clone()
                    .unwrap_or_else(|| BillitDateTime(format_billit(now)))
            }),
            to_pay: Some(if paid_at_issue {
                Decimal::new(0, 1)
            } else {
                total_incl
            }),
            order_status: Some("ToSend".to_owned()),
            is_sent: Some(false),
            external_provider_references: Some(Vec::new()),
            current_document_delivery_details: None,
            messages: Some(Vec::new()),
            tax_reporting_status_tc: None,
            extra,
        };
        let scenario = scenario_of(&order);
        self.orders.insert(
            order_id,
            StoredOrder {
                party_id,
                order,
                message_ids: Vec::new(),
                scenario,
                steps: Vec::new(),
                strict_transport: None,
                sent_with: None,
            },
        );
        if let Some(key) = idempotency_key {
            self.idempotency
                .insert(format!("{party_id}:order:{key}"), order_id);
        }
        Ok(order_id)
    }

    fn owned(&self, party_id: i64, order_id: i64) -> Result<&StoredOrder, ApiFailure> {
        self.orders
            .get(&order_id)
            .filter(|stored| stored.party_id == party_id)
            .ok_or_else(|| ApiFailure::not_found("Order"))
    }

    /// `GET /v1/orders/{id}`.
    pub fn order(&self, party_id: i64, order_id: i64) -> Result<Order, ApiFailure> {
        self.owned(party_id, order_id)
            .map(|stored| stored.order.clone())
    }

    /// `GET /v1/orders` with `$filter`, `$top`, `$skip`.
    pub fn list(
        &self,
        party_id: i64,
        filter: Option<&str>,
        top: usize,
        skip: usize,
    ) -> Result<OrderPage, ApiFailure> {
        let clauses = match filter.map(str::trim) {
            Some(text) if !text.is_empty() => parse_filter(text)?,
            _ => Vec::new(),
        };
        let mut selected = Vec::new();
        for stored in self
            .orders
            .values()
            .filter(|stored| stored.party_id == party_id)
        {
            let mut keep = true;
            for clause in &clauses {
                keep = keep && matches(&stored.order, clause)?;
            }
            if keep {
                selected.push(&stored.order);
            }
        }
        let more = selected.len() > skip.saturating_add(top);
        let items = selected.into_iter().skip(skip).take(top).cloned().collect();
        Ok(OrderPage { items, more })
    }

    /// `DELETE /v1/orders/{id}` (only before sending).
    pub fn delete_order(&mut self, party_id: i64, order_id: i64) -> Result<(), ApiFailure> {
        let stored = self.owned(party_id, order_id)?;
        if stored.order.is_sent == Some(true) {
            return Err(ApiFailure::bad(
                "OrderAlreadySent",
                "A sent order cannot be deleted",
            ));
        }
        self.orders.remove(&order_id);
        Ok(())
    }

    /// `POST /v1/orders/commands/send`: schedules each order's timeline. `strict`: the call carried
    /// `StrictTransportType: true`, so an order whose customer is not on the network is refused rather than sent
    /// by email (without it, such an order is "sent" by email and plays no scenario). An order created `Paid` reports
    /// its payment (`CashCollected`) once, when it is sent.
    pub fn send(
        &mut self,
        party_id: i64,
        raw: &[u8],
        step_ms: u64,
        strict: bool,
    ) -> Result<Vec<Change>, ApiFailure> {
        let command: SendCommand = parse_body(raw)?;
        let transport = command.transport_type.clone().unwrap_or_default();
        if !transport.eq_ignore_ascii_case("Peppol") {
            return Err(ApiFailure::bad(
                "InvalidTransportType",
                "TransportType must be Peppol for France",
            ));
        }
        if command.order_ids.is_empty() {
            return Err(ApiFailure::bad(
                "OrderIDsAreRequired",
                "OrderIDs is required",
            ));
        }
        for order_id in &command.order_ids {
            let stored = self.owned(party_id, *order_id)?;
            if stored.order.is_sent == Some(true) {
                return Err(ApiFailure::bad(
                    "OrderAlreadySent",
                    format!("Order {order_id} was already sent"),
                ));
            }
            let address = stored.order.customer.as_ref().and_then(network_address);
            if address.is_none() {
                return Err(ApiFailure::bad(
                    "TheCustomerIsNotActiveOnPeppol",
                    "The customer has no network identifier and is not active on Peppol",
                ));
            }
            // Billit falls back to email for a customer not on the network, unless the send is strict.
            if strict && !address.as_deref().is_some_and(is_registered) {
                return Err(ApiFailure::bad(
                    "TheCustomerIsNotActiveOnPeppol",
                    "The customer is not active on Peppol and StrictTransportType forbids another transport",
                ));
            }
        }
        let mut changes = Vec::new();
        let mut paid = Vec::new();
        let now = self.now();
        let step = i64::try_from(step_ms).unwrap_or(i64::MAX / 1024);
        for order_id in command.order_ids {
            let stamp = BillitDateTime(format_billit(now));
            let Some(stored) = self.orders.get_mut(&order_id) else {
                continue;
            };
            stored.order.is_sent = Some(true);
            stored.order.order_status = Some("ToPay".to_owned());
            stored.order.last_modified = Some(stamp);
            stored.order.current_document_delivery_details = Some(DeliveryDetails {
                is_document_delivered: Some(false),
                document_delivery_status: Some("Pending".to_owned()),
                ..DeliveryDetails::default()
            });
            let on_network = stored
                .order
                .customer
                .as_ref()
                .and_then(network_address)
                .as_deref()
                .is_some_and(is_registered);
            stored.strict_transport = Some(strict);
            stored.sent_with = Some(if on_network { "Peppol" } else { "Email" }.to_owned());
            if stored.order.paid == Some(true) {
                stored.order.order_status = Some("Paid".to_owned());
                paid.push(order_id);
            }
            stored.steps = if on_network {
                timeline(&stored.scenario)
                    .into_iter()
                    .enumerate()
                    .map(|(index, kind)| Step {
                        due_ms: now.timestamp_millis().saturating_add(
                            step.saturating_mul(i64::try_from(index).unwrap_or(0) + 1),
                        ),
                        kind,
                        done: false,
                    })
                    .collect()
            } else {
                Vec::new()
            };
            changes.push(Change::OrderUpdated { party_id, order_id });
        }
        for order_id in paid {
            changes.extend(self.record_cash_collected(order_id, step_ms));
        }
        Ok(changes)
    }

    /// Runs every step due at `now_ms` (all pending steps with `None`); returns what changed and
    /// how many steps ran.
    pub fn run_steps(&mut self, now_ms: Option<i64>) -> (Vec<Change>, usize) {
        let mut changes = Vec::new();
        let mut ran = 0;
        for _ in 0..10_000 {
            let next = self
                .orders
                .iter()
                .flat_map(|(id, stored)| {
                    stored
                        .steps
                        .iter()
                        .enumerate()
                        .filter(|(_, step)| !step.done)
                        .map(move |(index, step)| (step.due_ms, *id, index))
                })
                .filter(|(due, _, _)| now_ms.is_none_or(|now| *due <= now))
                .min();
            let Some((_, order_id, index)) = next else {
                break;
            };
            let kind = match self
                .orders
                .get_mut(&order_id)
                .and_then(|stored| stored.steps.get_mut(index))
            {
                Some(step) => {
                    step.done = true;
                    step.kind.clone()
                }
                None => break,
            };
            changes.extend(self.apply(order_id, &kind));
            ran += 1;
        }
        (changes, ran)
    }

    /// Applies one step to an order now.
    pub fn apply(&mut self, order_id: i64, kind: &StepKind) -> Vec<Change> {
        let now = self.now();
        let stamp = BillitDateTime(format_billit(now));
        let Some(stored) = self.orders.get(&order_id) else {
            return Vec::new();
        };
        let party_id = stored.party_id;
        let number = stored.order.order_number.clone().unwrap_or_default();
        let destination = stored
            .order
            .customer
            .as_ref()
            .and_then(network_address)
            .unwrap_or_default();
        let seller_siren = self
            .parties
            .get(&party_id)
            .map(PartyAccount::siren)
            .unwrap_or_default();
        let buyer_siren: String = destination
            .split(':')
            .nth(1)
            .unwrap_or_default()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let fta = |description: &str, outgoing: bool| Message {
            description: Some(description.to_owned()),
            transport_type: Some("FrenchTaxAuthority".to_owned()),
            success: Some(true),
            trials: Some(0),
            destination: outgoing.then(|| "FrenchTaxAuthority".to_owned()),
            message_direction: Some(if outgoing { "Outgoing" } else { "Incoming" }.to_owned()),
            ..Message::default()
        };
        let peppol = |description: Option<&str>, outgoing: bool, success: bool| Message {
            description: description.map(str::to_owned),
            transport_type: Some("Peppol".to_owned()),
            success: Some(success),
            trials: Some(if outgoing { 1 } else { 0 }),
            destination: Some(destination.clone()),
            message_direction: Some(if outgoing { "Outgoing" } else { "Incoming" }.to_owned()),
            ..Message::default()
        };
        let cdar_file = |store: &mut Self,
                         code: u16,
                         role: &str,
                         reasons: &[String],
                         action: Option<&str>,
                         comment: Option<&str>| {
            let xml = cdar::build(&CdarStatus {
                code,
                invoice_number: &number,
                seller_siren: &seller_siren,
                buyer_siren: &buyer_siren,
                issuer_role: role,
                reasons,
                action,
                comment,
                at: now,
            });
            let name = format!("CDAR_{}_{code}.xml", number.replace(['/', ' '], "_"));
            store.add_file(party_id, &name, "application/xml", xml.as_bytes())
        };
        let mut reference: Option<(String, String)> = None;
        let mut flow: Option<&str> = None;
        let mut tax_status: Option<&str> = None;
        let mut delivery: Option<DeliveryDetails> = None;
        let (mut message, file_kind) = match kind {
            StepKind::PeppolSent => {
                flow = Some("Sent");
                (peppol(None, true, true), Some(("ubl", 0u16)))
            }
            StepKind::TaxSubmitted => {
                reference = Some((
                    "FFE0614A".to_owned(),
                    format!("FFE0614A_PPF176_PPF176{order_id:019}"),
                ));
                (fta("FFE0614A", true), Some(("xml", 0)))
            }
            StepKind::TaxSubmittedAnswer => (fta("CFE0614A", false), Some(("xml", 0))),
            StepKind::TaxDataSent => {
                reference = Some((
                    "FFE0111A".to_owned(),
                    format!("FFE0111A_PPF176_PPF176{order_id:019}"),
                ));
                (fta("FFE0111A", true), Some(("xml", 0)))
            }
            StepKind::TaxDataAnswer => (fta("CFE0111A", false), Some(("xml", 0))),
            StepKind::TaxAck => {
                reference = Some((
                    "ack".to_owned(),
                    format!("{seller_siren}_{seller_siren}_{number}"),
                ));
                tax_status = Some("Done");
                (fta("ack", false), Some(("xml", 0)))
            }
            StepKind::ReportingFailed => {
                tax_status = Some("Failed");
                (
                    peppol(Some("Reporting failed"), true, false),
                    Some(("cdar", 251)),
                )
            }
            StepKind::Delivered => {
                flow = Some("Delivered");
                delivery = Some(DeliveryDetails {
                    document_delivery_date: Some(stamp.clone()),
                    document_delivery_info: Some("Received".to_owned()),
                    is_document_delivered: Some(true),
                    document_delivery_status: Some("Delivered".to_owned()),
                    ..DeliveryDetails::default()
                });
                (
                    peppol(
                        Some("AB: The document has been successfully received."),
                        false,
                        true,
                    ),
                    Some(("cdar", 202)),
                )
            }
            StepKind::Status {
                code,
                reasons,
                comment,
                ..
            } => {
                if *code == 210 {
                    flow = Some("Refused");
                }
                let text = status_description(*code, reasons, comment.as_deref());
                (peppol(Some(&text), false, true), Some(("cdar", *code)))
            }
            StepKind::PlatformRejected { reason } => {
                delivery = Some(DeliveryDetails {
                    document_delivery_info: Some("Rejected".to_owned()),
                    is_document_delivered: Some(false),
                    document_delivery_status: Some("Error".to_owned()),
                    document_refused_reason_tc: Some(reason.clone()),
                    document_refused_info: Some(cdar::reason_label(reason).to_owned()),
                    ..DeliveryDetails::default()
                });
                let text = status_description(213, std::slice::from_ref(reason), None);
                (peppol(Some(&text), false, true), Some(("cdar", 213)))
            }
            StepKind::CashCollectedAnswer => {
                let mut message = fta("CashCollected: Recevable", false);
                message.subject = Some("CashCollected: Recevable".to_owned());
                (message, Some(("xml", 0)))
            }
        };
        let file_id = match file_kind {
            Some(("ubl", _)) => {
                let name = format!("{}.xml", number.replace(['/', ' '], "_"));
                let ubl = ubl_bytes(&number);
                Some(self.add_file(party_id, &name, "application/xml", &ubl))
            }
            Some(("cdar", code)) => {
                let (role, reasons, action, comment) = match kind {
                    StepKind::Status {
                        reasons,
                        action,
                        comment,
                        ..
                    } => ("BY", reasons.clone(), action.clone(), comment.clone()),
                    StepKind::PlatformRejected { reason } => {
                        ("WK", vec![reason.clone()], None, None)
                    }
                    StepKind::ReportingFailed => (
                        "DFH",
                        vec!["REJ_SEMAN".to_owned(), "REJ_UNI".to_owned()],
                        None,
                        Some(
                            "G1.45 : le numéro de facture est déjà utilisé cette année".to_owned(),
                        ),
                    ),
                    _ => ("WK", Vec::new(), None, None),
                };
                Some(cdar_file(
                    self,
                    code,
                    role,
                    &reasons,
                    action.as_deref(),
                    comment.as_deref(),
                ))
            }
            Some((_, _)) => {
                let description = message.description.clone().unwrap_or_default();
                let body = format!(
                    "<Message><Description>{}</Description><Invoice>{}</Invoice></Message>",
                    description.replace('<', ""),
                    number.replace('<', "")
                );
                Some(self.add_file(
                    party_id,
                    &format!("{description}.xml"),
                    "application/xml",
                    body.as_bytes(),
                ))
            }
            None => None,
        };
        message.file_id = file_id;
        message.creation_date = Some(stamp.clone());
        self.next_message_id += 1;
        let message_id = self.next_message_id;
        let Some(stored) = self.orders.get_mut(&order_id) else {
            return Vec::new();
        };
        stored
            .order
            .messages
            .get_or_insert_with(Vec::new)
            .push(message.clone());
        stored.message_ids.push(message_id);
        if let Some((category, value)) = reference {
            stored
                .order
                .external_provider_references
                .get_or_insert_with(Vec::new)
                .push(ExternalProviderReference {
                    external_provider: Some("FrenchTaxAuthority".to_owned()),
                    category: Some(category),
                    value: Some(value),
                    entity_id: Some(0),
                    extra: BTreeMap::new(),
                });
        }
        if let Some(status) = tax_status {
            stored.order.tax_reporting_status_tc = Some(status.to_owned());
        }
        if let Some(details) = delivery {
            stored.order.current_document_delivery_details = Some(details);
        }
        stored.order.last_modified = Some(stamp);
        let mut message_for_hook = message;
        message_for_hook.order_id = Some(order_id);
        message_for_hook.message_id = Some(message_id);
        vec![
            Change::MessageInserted {
                party_id,
                order_id,
                message_id,
                message: Box::new(message_for_hook),
                flow_state: flow.map(str::to_owned),
            },
            Change::OrderUpdated { party_id, order_id },
        ]
    }

    /// A status file of the buyer's platform received for an order now, as it is (e.g. a CDAR that references
    /// several invoices): an incoming Peppol message carrying the file.
    pub fn attach_status_file(
        &mut self,
        order_id: i64,
        file_name: &str,
        content: &[u8],
    ) -> Result<Vec<Change>, ApiFailure> {
        let now = self.now();
        let stamp = BillitDateTime(format_billit(now));
        let stored = self
            .orders
            .get(&order_id)
            .ok_or_else(|| ApiFailure::not_found("Order"))?;
        let party_id = stored.party_id;
        let destination = stored.order.customer.as_ref().and_then(network_address);
        let file_id = self.add_file(party_id, file_name, "application/xml", content);
        self.next_message_id += 1;
        let message_id = self.next_message_id;
        let message = Message {
            description: Some("Status".to_owned()),
            file_id: Some(file_id),
            creation_date: Some(stamp.clone()),
            transport_type: Some("Peppol".to_owned()),
            success: Some(true),
            trials: Some(0),
            destination,
            message_direction: Some("Incoming".to_owned()),
            ..Message::default()
        };
        let Some(stored) = self.orders.get_mut(&order_id) else {
            return Err(ApiFailure::not_found("Order"));
        };
        stored
            .order
            .messages
            .get_or_insert_with(Vec::new)
            .push(message.clone());
        stored.message_ids.push(message_id);
        stored.order.last_modified = Some(stamp);
        let mut message_for_hook = message;
        message_for_hook.order_id = Some(order_id);
        message_for_hook.message_id = Some(message_id);
        Ok(vec![
            Change::MessageInserted {
                party_id,
                order_id,
                message_id,
                message: Box::new(message_for_hook),
                flow_state: None,
            },
            Change::OrderUpdated { party_id, order_id },
        ])
    }

    /// `POST /_sandbox/orders/{id}/events`: a status now; a 209 that answers a 208 in the
    /// `_SUSPEND` scenario schedules the approval (205) one step later.
    pub fn inject(
        &mut self,
        order_id: i64,
        code: u16,
        reason: Option<String>,
        comment: Option<String>,
        action: Option<String>,
        step_ms: u64,
    ) -> Result<Vec<Change>, ApiFailure> {
        if !(100..=999).contains(&code) {
            return Err(ApiFailure::bad(
                "InvalidStatusCode",
                "code must be a three-digit status",
            ));
        }
        for text in [&reason, &action] {
            if let Some(text) = text
                && (text.is_empty()
                    || text.len() > 32
                    || !text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            {
                return Err(ApiFailure::bad(
                    "InvalidReason",
                    "reason and action are codes like JUSTIF_ABS",
                ));
            }
        }
        if comment.as_ref().is_some_and(|c| c.len() > 4096) {
            return Err(ApiFailure::bad(
                "InvalidComment",
                "comment is at most 4096 bytes",
            ));
        }
        let stored = self
            .orders
            .get(&order_id)
            .ok_or_else(|| ApiFailure::not_found("Order"))?;
        let schedule_approval = code == 209 && stored.scenario == "_SUSPEND";
        let kind = match code {
            213 => StepKind::PlatformRejected {
                reason: reason.unwrap_or_else(|| "DEST_INC".to_owned()),
            },
            251 => StepKind::ReportingFailed,
            203 => StepKind::Delivered,
            _ => StepKind::Status {
                code,
                reasons: reason.into_iter().collect(),
                action,
                comment,
            },
        };
        let changes = self.apply(order_id, &kind);
        if schedule_approval {
            let due = self
                .now()
                .timestamp_millis()
                .saturating_add(i64::try_from(step_ms).unwrap_or(i64::MAX / 2));
            if let Some(stored) = self.orders.get_mut(&order_id) {
                stored.steps.push(Step {
                    due_ms: due,
                    kind: status(205, &[], None, None),
                    done: false,
                });
            }
        }
        Ok(changes)
    }

    fn record_cash_collected(&mut self, order_id: i64, step_ms: u64) -> Vec<Change> {
        let now = self.now();
        let stamp = BillitDateTime(format_billit(now));
        let Some(stored) = self.orders.get(&order_id) else {
            return Vec::new();
        };
        let party_id = stored.party_id;
        let number = stored.order.order_number.clone().unwrap_or_default();
        let body = format!(
            "<CashCollected><Invoice>{}</Invoice></CashCollected>",
            number.replace('<', "")
        );
        let file_id = self.add_file(
            party_id,
            "CashCollected.xml",
            "application/xml",
            body.as_bytes(),
        );
        self.next_message_id += 1;
        let message_id = self.next_message_id;
        let message = Message {
            description: Some("CashCollected".to_owned()),
            file_id: Some(file_id),
            creation_date: Some(stamp.clone()),
            transport_type: Some("FrenchTaxAuthority".to_owned()),
            success: Some(true),
            trials: Some(0),
            destination: Some("French tax authority".to_owned()),
            message_direction: Some("Outgoing".to_owned()),
            subject: Some("CashCollected".to_owned()),
            ..Message::default()
        };
        let due = now
            .timestamp_millis()
            .saturating_add(i64::try_from(step_ms).unwrap_or(i64::MAX / 2));
        let Some(stored) = self.orders.get_mut(&order_id) else {
            return Vec::new();
        };
        stored
            .order
            .messages
            .get_or_insert_with(Vec::new)
            .push(message.clone());
        stored.message_ids.push(message_id);
        stored.order.last_modified = Some(stamp);
        stored.steps.push(Step {
            due_ms: due,
            kind: StepKind::CashCollectedAnswer,
            done: false,
        });
        let mut hook = message;
        hook.order_id = Some(order_id);
        hook.message_id = Some(message_id);
        vec![Change::MessageInserted {
            party_id,
            order_id,
            message_id,
            message: Box::new(hook),
            flow_state: None,
        }]
    }

    fn settle(&mut self, order_id: i64, paid_date: Option<BillitDateTime>) {
        let stamp = self.stamp();
        if let Some(stored) = self.orders.get_mut(&order_id) {
            stored.order.paid = Some(true);
            stored.order.to_pay = Some(Decimal::new(0, 1));
            stored.order.order_status = Some("Paid".to_owned());
            stored.order.paid_date = Some(paid_date.unwrap_or_else(|| stamp.clone()));
            stored.order.last_modified = Some(stamp);
        }
    }

    /// `POST /v1/orders/{id}/payments`.
    pub fn pay(
        &mut self,
        party_id: i64,
        order_id: i64,
        raw: &[u8],
        idempotency_key: Option<&str>,
        step_ms: u64,
    ) -> Result<Vec<Change>, ApiFailure> {
        self.check_idempotency(party_id, &format!("payment:{order_id}"), idempotency_key)?;
        let payment: PaymentRequest = parse_body(raw)?;
        let stored = self.owned(party_id, order_id)?;
        if stored.order.is_sent != Some(true) {
            return Err(ApiFailure::bad(
                "OrderNotSent",
                "Payments can be reported on sent orders only",
            ));
        }
        if payment.amount <= Decimal::ZERO {
            return Err(ApiFailure::bad("InvalidAmount", "Amount must be positive"));
        }
        let to_pay = stored.order.to_pay.unwrap_or_default();
        if payment.amount > to_pay {
            return Err(ApiFailure::bad(
                "AmountExceedsToPay",
                format!("Amount {} exceeds the open amount {to_pay}", payment.amount),
            ));
        }
        if let Some(date) = &payment.payment_date
            && parse_local(date.as_str()).is_none()
            && date.to_utc().is_none()
        {
            return Err(ApiFailure::bad(
                "InvalidPaymentDate",
                "PaymentDate is not a date",
            ));
        }
        let remaining = money(to_pay - payment.amount);
        let mut changes = self.record_cash_collected(order_id, step_ms);
        if remaining.is_zero() {
            self.settle(order_id, payment.payment_date.clone());
        } else if let Some(stored) = self.orders.get_mut(&order_id) {
            stored.order.to_pay = Some(remaining);
        }
        if let Some(key) = idempotency_key {
            self.idempotency
                .insert(format!("{party_id}:payment:{order_id}:{key}"), order_id);
        }
        changes.push(Change::OrderUpdated { party_id, order_id });
        Ok(changes)
    }

    /// `PATCH /v1/orders/{id}` (`Paid`, `PaidDate`).
    pub fn patch(
        &mut self,
        party_id: i64,
        order_id: i64,
        raw: &[u8],
        step_ms: u64,
    ) -> Result<Vec<Change>, ApiFailure> {
        let value: Value = serde_json::from_slice(raw).map_err(|error| {
            ApiFailure::bad(
                "InvalidJson",
                format!("The body is not valid JSON: {error}"),
            )
        })?;
        let value = normalize_keys(value);
        if value.get("Paid").is_none() {
            return Err(ApiFailure::bad(
                "PaidIsRequired",
                "Only Paid and PaidDate can be patched",
            ));
        }
        let patch: PaidPatch = serde_json::from_value(value).map_err(|error| {
            ApiFailure::bad(
                "InvalidModel",
                format!("The body does not match the model: {error}"),
            )
        })?;
        let stored = self.owned(party_id, order_id)?;
        let was_paid = stored.order.paid == Some(true);
        let sent = stored.order.is_sent == Some(true);
        let total = stored.order.total_incl.unwrap_or_default();
        let mut changes = Vec::new();
        if patch.paid {
            if !was_paid {
                if sent {
                    changes.extend(self.record_cash_collected(order_id, step_ms));
                }
                self.settle(order_id, patch.paid_date.clone());
            }
        } else {
            let stamp = self.stamp();
            if let Some(stored) = self.orders.get_mut(&order_id) {
                stored.order.paid = Some(false);
                stored.order.paid_date = None;
                stored.order.to_pay = Some(total);
                stored.order.order_status = Some(if sent { "ToPay" } else { "ToSend" }.to_owned());
                stored.order.last_modified = Some(stamp);
            }
        }
        changes.push(Change::OrderUpdated { party_id, order_id });
        Ok(changes)
    }

    /// `POST /v1/webhooks`.
    pub fn create_webhook(
        &mut self,
        party_id: i64,
        raw: &[u8],
    ) -> Result<StoredWebhook, ApiFailure> {
        let registration: WebhookRegistration = parse_body(raw)?;
        let entity = registration.entity_type.unwrap_or_default();
        let entity = match entity.to_ascii_lowercase().as_str() {
            "message" => "Message",
            "order" => "Order",
            _ => {
                return Err(ApiFailure::bad(
                    "InvalidEntityType",
                    "EntityType must be Message or Order",
                ));
            }
        };
        let update = registration
            .entity_update_type
            .unwrap_or_default()
            .to_ascii_uppercase();
        if !matches!(update.as_str(), "I" | "U" | "D") {
            return Err(ApiFailure::bad(
                "InvalidEntityUpdateType",
                "EntityUpdateType must be I, U or D",
            ));
        }
        let url = registration.webhook_url.unwrap_or_default();
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 2048 {
            return Err(ApiFailure::bad(
                "InvalidWebhookURL",
                "WebhookURL must be an http(s) URL",
            ));
        }
        self.next_webhook_id += 1;
        let webhook = StoredWebhook {
            id: self.next_webhook_id,
            party_id,
            entity_type: entity.to_owned(),
            update_type: update,
            url,
            secret: new_secret(),
        };
        self.webhooks.insert(webhook.id, webhook.clone());
        Ok(webhook)
    }

    /// `POST /v1/webhooks/refresh/{id}`: a new secret.
    pub fn refresh_webhook(&mut self, party_id: i64, id: i64) -> Result<StoredWebhook, ApiFailure> {
        let webhook = self
            .webhooks
            .get_mut(&id)
            .filter(|w| w.party_id == party_id)
            .ok_or_else(|| ApiFailure::not_found("Webhook"))?;
        webhook.secret = new_secret();
        Ok(webhook.clone())
    }

    /// `DELETE /v1/webhooks/{id}`.
    pub fn delete_webhook(&mut self, party_id: i64, id: i64) -> Result<(), ApiFailure> {
        match self.webhooks.get(&id) {
            Some(webhook) if webhook.party_id == party_id => {
                self.webhooks.remove(&id);
                Ok(())
            }
            _ => Err(ApiFailure::not_found("Webhook")),
        }
    }
}

impl Store {
    /// Keeps the latest delivery records (at most 10,000).
    pub fn record_deliveries(&mut self, records: Vec<DeliveryRecord>) {
        self.deliveries.extend(records);
        let excess = self.deliveries.len().saturating_sub(10_000);
        if excess > 0 {
            self.deliveries.drain(..excess);
        }
    }
}

fn new_secret() -> String {
    let bytes: [u8; 24] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A minimal valid PDF naming the invoice.
fn pdf_bytes(number: &str, total: Decimal) -> Vec<u8> {
    let text: String = format!("Invoice {number} - total {total} EUR")
        .chars()
        .filter(|c| c.is_ascii() && !matches!(c, '(' | ')' | '\\'))
        .collect();
    format!(
        "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R>>endobj\n4 0 obj<</Length {}>>stream\nBT /F1 12 Tf 50 800 Td ({text}) Tj ET\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
        text.len() + 30
    )
    .into_bytes()
}

/// A minimal UBL invoice naming the invoice.
fn ubl_bytes(number: &str) -> Vec<u8> {
    let number = number.replace('&', "&amp;").replace('<', "&lt;");
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\" xmlns:cbc=\"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2\"><cbc:CustomizationID>urn:cen.eu:en16931:2017</cbc:CustomizationID><cbc:ID>{number}</cbc:ID></Invoice>\n"
    )
    .into_bytes()
}
