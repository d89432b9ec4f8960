//! Status events and the fold that derives an invoice's lifecycle from all of them.
//!
//! Messages arrive late, twice and out of order, so the state is never "the last message":
//! [`Lifecycle::fold`] looks at the whole set of events. It does not depend on the order of the
//! events, ignores repeats (same [`StatusEvent::dedup_key`]), and keeps unclassified events.
//!
//! The headline status (domain guide) is, in this order:
//! 1. *(portal decision)* 220 Annulée when present: the lifecycle was cancelled (typically after a
//!    corrected invoice); it is final, closes any open request and needs no action;
//! 2. a final rejection or refusal (213, 501, 251, 210): the earliest;
//! 3. an open request: 207 or 208 with no 209, 205, 206 or 210 at the same time or later; the latest;
//! 4. 212 when fully paid;
//! 5. the latest of 211, 206, 205, 209, 204;
//! 6. the furthest transmission step 203 > 202 > 201 > 200;
//! 7. nothing (not sent yet).
//!
//! A 213 carrying the reason `DOUBLON` on an invoice that is known to be delivered (a 203, 204 or
//! any later buyer status, or Billit's delivery status) is a rejected *re-delivery*: it is ignored
//! for the outcome but stays in the timeline (and is listed in [`Lifecycle::ignored`]).

use crate::lang::Language;
use crate::status::{Emitter, StatusCode};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Who a status event comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The supplier (the tenant), e.g. 212.
    Supplier,
    /// The seller's platform (Billit).
    SellerPlatform,
    /// The government hub.
    Ppf,
    /// The buyer's platform.
    BuyerPlatform,
    /// The buyer.
    Buyer,
    /// Not known.
    Unknown,
}

impl Source {
    /// The serialized name: `supplier`, `seller_platform`, `ppf`, `buyer_platform`, `buyer`, `unknown`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Supplier => "supplier",
            Self::SellerPlatform => "seller_platform",
            Self::Ppf => "ppf",
            Self::BuyerPlatform => "buyer_platform",
            Self::Buyer => "buyer",
            Self::Unknown => "unknown",
        }
    }

    /// Who is speaking, in plain words.
    pub fn label(self, language: Language) -> &'static str {
        match self {
            Self::Supplier => language.pick("Vous", "You"),
            Self::SellerPlatform => {
                language.pick("Votre plateforme (Billit)", "Your platform (Billit)")
            }
            Self::Ppf => language.pick("Administration fiscale (PPF)", "Tax authority (PPF)"),
            Self::BuyerPlatform => language.pick("Plateforme du client", "Customer's platform"),
            Self::Buyer => language.pick("Client", "Customer"),
            Self::Unknown => language.pick("Inconnu", "Unknown"),
        }
    }
}

impl From<Emitter> for Source {
    /// The source of a status emitted by its usual emitter (213 from either platform: the buyer's).
    fn from(emitter: Emitter) -> Self {
        match emitter {
            Emitter::Supplier => Self::Supplier,
            Emitter::SellerPlatform => Self::SellerPlatform,
            Emitter::BuyerPlatform | Emitter::EitherPlatform => Self::BuyerPlatform,
            Emitter::Buyer => Self::Buyer,
            Emitter::Ppf => Self::Ppf,
        }
    }
}

/// What kind of event this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A lifecycle status (its [`StatusEvent::code`] is set).
    Status,
    /// Informational: the invoice's tax data was sent (`Document data` / `FFE0111A`).
    TaxDataSent,
    /// The tax authority accepted the reporting (`Accepted` / `ack`): tax reporting done, no code.
    TaxReportingDone,
    /// Not understood: kept and shown as it came.
    Unclassified,
}

/// One observation of an invoice's status, as the Billit crate produces it and persistence stores it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StatusEvent {
    /// The status code; `None` for informational or unclassified events.
    pub code: Option<StatusCode>,
    /// What kind of event.
    pub kind: EventKind,
    /// Who it comes from.
    pub source: Source,
    /// When it happened (UTC).
    pub at: DateTime<Utc>,
    /// The text as Billit gave it.
    pub description: String,
    /// Reason codes, as text (unknown ones are kept).
    pub reasons: Vec<String>,
    /// The requested-action code, as text.
    pub requested_action: Option<String>,
    /// A free comment (e.g. what a 208 asks for).
    pub comment: Option<String>,
    /// The Billit file explaining it (CDAR, proof of delivery…).
    pub file_id: Option<String>,
    /// The amount of a 212 payment. Put it on one event per payment only (not on its
    /// `Recevable` acknowledgement), since the fold adds up every 212 amount.
    pub amount: Option<Decimal>,
    /// A stable key: two events with the same key are the same event.
    pub dedup_key: String,
    /// The tax authority's acknowledgement of a payment the supplier reported (Billit's `CashCollected:
    /// Recevable`), as the classification recognised it: a 212 that is no payment of its own. See
    /// [`StatusEvent::is_payment_acknowledgement`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub acknowledges_payment: bool,
}

impl StatusEvent {
    fn base(
        kind: EventKind,
        source: Source,
        at: DateTime<Utc>,
        dedup_key: impl Into<String>,
    ) -> Self {
        Self {
            code: None,
            kind,
            source,
            at,
            description: String::new(),
            reasons: Vec::new(),
            requested_action: None,
            comment: None,
            file_id: None,
            amount: None,
            dedup_key: dedup_key.into(),
            acknowledges_payment: false,
        }
    }

    /// A status event.
    pub fn status(
        code: StatusCode,
        source: Source,
        at: DateTime<Utc>,
        dedup_key: impl Into<String>,
    ) -> Self {
        Self {
            code: Some(code),
            ..Self::base(EventKind::Status, source, at, dedup_key)
        }
    }

    /// An informational step (`TaxDataSent`, `TaxReportingDone`) without a code.
    pub fn step(
        kind: EventKind,
        source: Source,
        at: DateTime<Utc>,
        dedup_key: impl Into<String>,
    ) -> Self {
        Self::base(kind, source, at, dedup_key)
    }

    /// An event that could not be classified.
    pub fn unclassified(
        source: Source,
        at: DateTime<Utc>,
        description: impl Into<String>,
        dedup_key: impl Into<String>,
    ) -> Self {
        Self {
            description: description.into(),
            ..Self::base(EventKind::Unclassified, source, at, dedup_key)
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the reasons.
    #[must_use]
    pub fn with_reasons<I, S>(mut self, reasons: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.reasons = reasons.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the requested action.
    #[must_use]
    pub fn with_requested_action(mut self, action: impl Into<String>) -> Self {
        self.requested_action = Some(action.into());
        self
    }

    /// Sets the comment.
    #[must_use]
    pub fn with_comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    /// Sets the file.
    #[must_use]
    pub fn with_file_id(mut self, file_id: impl Into<String>) -> Self {
        self.file_id = Some(file_id.into());
        self
    }

    /// Sets the amount (212).
    #[must_use]
    pub fn with_amount(mut self, amount: Decimal) -> Self {
        self.amount = Some(amount);
        self
    }

    /// Marks the event as the tax authority's acknowledgement of a reported payment.
    #[must_use]
    pub fn acknowledging_payment(mut self) -> Self {
        self.acknowledges_payment = true;
        self
    }

    /// Whether the event acknowledges a reported payment: marked so by the classification, and still a 212 (a
    /// status file may say otherwise).
    pub fn is_payment_acknowledgement(&self) -> bool {
        self.acknowledges_payment && self.effective_code() == Some(StatusCode::CASHED)
    }

    /// The code the fold uses: the code of a `Status` event, `None` for any other kind.
    pub fn effective_code(&self) -> Option<StatusCode> {
        match self.kind {
            EventKind::Status => self.code,
            _ => None,
        }
    }

    /// Whether the event carries `reason` (case-insensitive).
    pub fn has_reason(&self, reason: &str) -> bool {
        self.reasons
            .iter()
            .any(|r| r.trim().eq_ignore_ascii_case(reason))
    }

    /// Whether the event could not be classified (unclassified, or a status without a code).
    pub fn is_unclassified(&self) -> bool {
        match self.kind {
            EventKind::Unclassified => true,
            EventKind::Status => self.code.is_none(),
            EventKind::TaxDataSent | EventKind::TaxReportingDone => false,
        }
    }

    /// The timeline order: time, then dedup key.
    fn timeline_cmp(&self, other: &Self) -> Ordering {
        self.at
            .cmp(&other.at)
            .then_with(|| self.dedup_key.cmp(&other.dedup_key))
    }

    /// A total order over every field, to choose deterministically between two different events
    /// that share a dedup key.
    fn canonical_cmp(&self, other: &Self) -> Ordering {
        self.timeline_cmp(other)
            .then_with(|| self.kind.cmp(&other.kind))
            .then_with(|| self.code.cmp(&other.code))
            .then_with(|| self.source.cmp(&other.source))
            .then_with(|| self.description.cmp(&other.description))
            .then_with(|| self.reasons.cmp(&other.reasons))
            .then_with(|| self.requested_action.cmp(&other.requested_action))
            .then_with(|| self.comment.cmp(&other.comment))
            .then_with(|| self.file_id.cmp(&other.file_id))
            .then_with(|| self.amount.cmp(&other.amount))
            .then_with(|| self.acknowledges_payment.cmp(&other.acknowledges_payment))
    }
}

/// Delivery to the buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// Not (yet) known to be delivered.
    #[default]
    Pending,
    /// Made available to the buyer (203 or any buyer status).
    Delivered,
    /// Could not be delivered (213, 221, or Billit's delivery error).
    Failed,
}

/// Reporting of the tax data to the tax authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaxReporting {
    /// Not confirmed yet.
    #[default]
    Pending,
    /// Confirmed (`Accepted` / `ack`).
    Done,
    /// Rejected (251 or 501).
    Failed,
}

/// Payment of the invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Payment {
    /// Nothing received.
    #[default]
    Unpaid,
    /// Some received.
    Partial,
    /// The total incl. VAT is covered.
    Paid,
}

/// Why the supplier must act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionReason {
    /// An open dispute (207).
    OpenDispute,
    /// An open request for information (208).
    OpenSuspension,
    /// Refused by the buyer (210).
    Refused,
    /// Rejected by a platform (213).
    Rejected,
    /// A file refused by the PPF (501).
    NotReceivable,
    /// The tax data rejected by the PPF (251).
    TaxDataRejected,
    /// The submission to Billit keeps failing (a fact given by the caller).
    SubmissionFailing,
}

/// The final outcomes that ask the supplier to fix and issue again, in the order their reasons are listed.
const FINAL_ACTION_CODES: [u16; 4] = [210, 213, 501, 251];

impl ActionReason {
    /// The reason a status code gives the supplier to act (207, 208, 210, 213, 501, 251), if any. The fold lists
    /// 207/208 only while the request is open.
    pub fn for_code(code: StatusCode) -> Option<Self> {
        match code.0 {
            207 => Some(Self::OpenDispute),
            208 => Some(Self::OpenSuspension),
            210 => Some(Self::Refused),
            213 => Some(Self::Rejected),
            501 => Some(Self::NotReceivable),
            251 => Some(Self::TaxDataRejected),
            _ => None,
        }
    }

    /// What is wrong and what to do, in plain words.
    pub fn label(self, language: Language) -> &'static str {
        match self {
            Self::OpenDispute => language.pick(
                "Le client conteste la facture : répondez, ou émettez un avoir ou une facture rectificative",
                "The customer disputes the invoice: answer, or issue a credit note or a corrected invoice",
            ),
            Self::OpenSuspension => language.pick(
                "Le client demande des informations : envoyez-les (par exemple par e-mail)",
                "The customer asks for information: send it (for example by email)",
            ),
            Self::Refused => language.pick(
                "Le client a refusé la facture : corrigez-la et émettez-la à nouveau",
                "The customer refused the invoice: fix it and issue it again",
            ),
            Self::Rejected => language.pick(
                "Une plateforme a rejeté la facture : corrigez-la et émettez-la à nouveau",
                "A platform rejected the invoice: fix it and issue it again",
            ),
            Self::NotReceivable => language.pick(
                "Le PPF a déclaré le fichier irrecevable : corrigez-le et émettez à nouveau",
                "The PPF found the file not receivable: fix it and issue again",
            ),
            Self::TaxDataRejected => language.pick(
                "Le PPF a rejeté les données fiscales : corrigez la facture et émettez-la à nouveau",
                "The PPF rejected the tax data: fix the invoice and issue it again",
            ),
            Self::SubmissionFailing => language.pick(
                "L'envoi à Billit échoue : vérifiez la facture et réessayez",
                "Sending to Billit is failing: check the invoice and try again",
            ),
        }
    }
}

/// What the fold needs to know besides the events.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InvoiceFacts {
    /// The invoice's total including VAT.
    pub total_incl: Decimal,
    /// Billit's `Paid` flag, if known.
    pub paid: Option<bool>,
    /// Billit's `ToPay` (the amount still due), if known.
    pub to_pay: Option<Decimal>,
    /// Billit's `DocumentDeliveryStatus` (Pending / Delivered / Error → Failed), if known.
    pub delivery_hint: Option<Delivery>,
    /// Billit's `TaxReportingStatusTC` (Done / Failed), if known.
    pub tax_reporting_hint: Option<TaxReporting>,
    /// The invoice was submitted but keeps failing at Billit.
    pub submission_failing: bool,
}

impl InvoiceFacts {
    /// Facts with only the total.
    pub fn new(total_incl: Decimal) -> Self {
        Self {
            total_incl,
            ..Self::default()
        }
    }
}

/// A request from the buyer that awaits the supplier (207 or 208).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenRequest {
    /// 207 or 208.
    pub code: StatusCode,
    /// When it was made.
    pub since: DateTime<Utc>,
    /// Its reasons.
    pub reasons: Vec<String>,
    /// The requested action code.
    pub requested_action: Option<String>,
    /// The buyer's comment.
    pub comment: Option<String>,
    /// The event's dedup key.
    pub dedup_key: String,
}

/// The lifecycle of an invoice, derived from all its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// The headline status (`None`: not sent yet).
    pub current: Option<StatusCode>,
    /// Whether the outcome is final (210, 213, 251, 501 or 220).
    #[serde(rename = "final")]
    pub is_final: bool,
    /// Whether the lifecycle was cancelled (220).
    pub cancelled: bool,
    /// Whether the supplier must act.
    pub needs_action: bool,
    /// Why.
    pub action_reasons: Vec<ActionReason>,
    /// The open 207/208, if any.
    pub open_request: Option<OpenRequest>,
    /// Delivery to the buyer.
    pub delivery: Delivery,
    /// Tax reporting.
    pub tax_reporting: TaxReporting,
    /// Payment.
    pub payment: Payment,
    /// The amount known to be paid.
    pub amount_paid: Decimal,
    /// How many events could not be classified.
    pub unclassified: usize,
    /// Dedup keys of events kept in the timeline but ignored for the outcome (213 DOUBLON after delivery).
    pub ignored: Vec<String>,
    /// Every distinct event, by time then dedup key.
    pub timeline: Vec<StatusEvent>,
}

const FINAL_REJECTIONS: [u16; 4] = [210, 213, 251, 501];
const ANSWERS: [u16; 4] = [205, 206, 209, 210];
const PROCESSING_HEADLINES: [u16; 5] = [204, 205, 206, 209, 211];
const TRANSMISSION_STEPS: [u16; 4] = [203, 202, 201, 200];
/// Statuses that prove the buyer has the invoice.
const DELIVERY_PROOF: [u16; 10] = [203, 204, 205, 206, 207, 208, 209, 210, 211, 214];

fn code_in(event: &StatusEvent, codes: &[u16]) -> bool {
    event
        .effective_code()
        .is_some_and(|code| codes.contains(&code.0))
}

impl Lifecycle {
    /// When the headline status first arrived: the earliest event that counts for the outcome (not an ignored
    /// re-delivery) and carries the headline's code. `None` before any status.
    pub fn headline_since(&self) -> Option<DateTime<Utc>> {
        let headline = self.current?;
        self.timeline
            .iter()
            .filter(|event| !self.ignored.contains(&event.dedup_key))
            .find(|event| event.effective_code() == Some(headline))
            .map(|event| event.at)
    }

    /// Folds an invoice's events into its lifecycle. Never panics; the result does not depend on
    /// the order of `events` nor on repeated events.
    pub fn fold(events: &[StatusEvent], facts: &InvoiceFacts) -> Self {
        let timeline = dedup_and_sort(events);

        // Delivery first: it decides whether a 213 DOUBLON is a rejected re-delivery.
        let delivered = is_delivered(&timeline, facts);
        let ignored = ignored_redeliveries(&timeline, delivered);
        let counting = counting(&timeline, &ignored);
        let has = |codes: &[u16]| counting.iter().any(|event| code_in(event, codes));

        let delivery = if delivered {
            Delivery::Delivered
        } else if has(&[213, 221]) || facts.delivery_hint == Some(Delivery::Failed) {
            Delivery::Failed
        } else {
            Delivery::Pending
        };

        let tax_reporting =
            if has(&[251, 501]) || facts.tax_reporting_hint == Some(TaxReporting::Failed) {
                TaxReporting::Failed
            } else if counting
                .iter()
                .any(|event| event.kind == EventKind::TaxReportingDone)
                || facts.tax_reporting_hint == Some(TaxReporting::Done)
            {
                TaxReporting::Done
            } else {
                TaxReporting::Pending
            };

        let (payment, amount_paid) = payment_of(&counting, facts);

        let cancelled_by = cancellation(&counting);
        let first_final = counting
            .iter()
            .find(|event| code_in(event, &FINAL_REJECTIONS));
        let open = if cancelled_by.is_some() {
            None
        } else {
            open_request(&counting)
        };

        let current = if let Some(cancel) = cancelled_by {
            cancel.effective_code()
        } else if let Some(rejection) = first_final {
            rejection.effective_code()
        } else if let Some(request) = &open {
            Some(request.code)
        } else if payment == Payment::Paid {
            Some(StatusCode::CASHED)
        } else if let Some(latest) = counting
            .iter()
            .rev()
            .find(|event| code_in(event, &PROCESSING_HEADLINES))
        {
            latest.effective_code()
        } else {
            TRANSMISSION_STEPS
                .iter()
                .find(|step| has(&[**step]))
                .map(|step| StatusCode(*step))
        };

        let mut action_reasons = Vec::new();
        if cancelled_by.is_none() {
            if let Some(reason) = open
                .as_ref()
                .and_then(|request| ActionReason::for_code(request.code))
            {
                action_reasons.push(reason);
            }
            for code in FINAL_ACTION_CODES {
                if has(&[code])
                    && let Some(reason) = ActionReason::for_code(StatusCode(code))
                {
                    action_reasons.push(reason);
                }
            }
        }
        if facts.submission_failing {
            action_reasons.push(ActionReason::SubmissionFailing);
        }

        let unclassified = timeline
            .iter()
            .filter(|event| event.is_unclassified())
            .count();
        Self {
            current,
            is_final: cancelled_by.is_some() || first_final.is_some(),
            cancelled: cancelled_by.is_some(),
            needs_action: !action_reasons.is_empty(),
            action_reasons,
            open_request: open,
            delivery,
            tax_reporting,
            payment,
            amount_paid,
            unclassified,
            ignored,
            timeline,
        }
    }
}

/// What a page shows of an invoice's history besides its stored summary (headline, tracks, reasons): which
/// events the outcome ignores, the open request with what it asks, and the latest decision. The same rules as
/// [`Lifecycle::fold`], without the rest of the fold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    /// Dedup keys of events kept in the timeline but ignored for the outcome (see [`Lifecycle::ignored`]).
    pub ignored: Vec<String>,
    /// The open 207/208, if any (see [`Lifecycle::open_request`]).
    pub open_request: Option<OpenRequest>,
    /// The latest of the buyer's decisions (204 to 210) in the timeline, with its time.
    pub decision: Option<(StatusCode, DateTime<Utc>)>,
}

impl History {
    /// Reads an invoice's events as the fold would for these three things. Never panics; the result does not
    /// depend on the order of `events` nor on repeated events.
    pub fn read(events: &[StatusEvent], facts: &InvoiceFacts) -> Self {
        let timeline = dedup_and_sort(events);
        let ignored = ignored_redeliveries(&timeline, is_delivered(&timeline, facts));
        let counting = counting(&timeline, &ignored);
        let open_request = if cancellation(&counting).is_some() {
            None
        } else {
            open_request(&counting)
        };
        let decision = timeline.iter().rev().find_map(|event| {
            event
                .effective_code()
                .filter(|code| (204..=210).contains(&code.0))
                .map(|code| (code, event.at))
        });
        Self {
            ignored,
            open_request,
            decision,
        }
    }
}

/// Whether the buyer has the invoice: a status that proves it, or Billit's delivery status.
fn is_delivered(timeline: &[StatusEvent], facts: &InvoiceFacts) -> bool {
    timeline.iter().any(|event| code_in(event, &DELIVERY_PROOF))
        || facts.delivery_hint == Some(Delivery::Delivered)
}

/// The 213 DOUBLON of a delivered invoice: rejected re-deliveries, ignored for the outcome.
fn ignored_redeliveries(timeline: &[StatusEvent], delivered: bool) -> Vec<String> {
    timeline
        .iter()
        .filter(|event| delivered && code_in(event, &[213]) && event.has_reason("DOUBLON"))
        .map(|event| event.dedup_key.clone())
        .collect()
}

/// The events that count for the outcome.
fn counting<'a>(timeline: &'a [StatusEvent], ignored: &[String]) -> Vec<&'a StatusEvent> {
    timeline
        .iter()
        .filter(|event| !ignored.contains(&event.dedup_key))
        .collect()
}

/// The 220 that cancelled the lifecycle, if any.
fn cancellation<'a>(counting: &[&'a StatusEvent]) -> Option<&'a StatusEvent> {
    counting
        .iter()
        .copied()
        .find(|event| code_in(event, &[220]))
}

/// Keeps one event per dedup key (the canonically smallest, so the choice does not depend on
/// order) and sorts them by time, then dedup key.
fn dedup_and_sort(events: &[StatusEvent]) -> Vec<StatusEvent> {
    let mut by_key: BTreeMap<&str, &StatusEvent> = BTreeMap::new();
    for event in events {
        by_key
            .entry(event.dedup_key.as_str())
            .and_modify(|kept| {
                if event.canonical_cmp(kept) == Ordering::Less {
                    *kept = event;
                }
            })
            .or_insert(event);
    }
    let mut timeline: Vec<StatusEvent> = by_key.into_values().cloned().collect();
    timeline.sort_by(StatusEvent::timeline_cmp);
    timeline
}

/// The latest 207/208 that no 205, 206, 209 or 210 at the same time or later answers.
fn open_request(counting: &[&StatusEvent]) -> Option<OpenRequest> {
    counting
        .iter()
        .rev()
        .filter(|event| code_in(event, &[207, 208]))
        .find(|request| {
            !counting.iter().any(|answer| {
                code_in(answer, &ANSWERS)
                    && answer.at >= request.at
                    && answer.dedup_key != request.dedup_key
            })
        })
        .and_then(|request| {
            Some(OpenRequest {
                code: request.effective_code()?,
                since: request.at,
                reasons: request.reasons.clone(),
                requested_action: request.requested_action.clone(),
                comment: request.comment.clone(),
                dedup_key: request.dedup_key.clone(),
            })
        })
}

/// Payment from the 212 amounts and Billit's `Paid` / `ToPay`.
fn payment_of(counting: &[&StatusEvent], facts: &InvoiceFacts) -> (Payment, Decimal) {
    let payments: Vec<&&StatusEvent> = counting
        .iter()
        .filter(|event| code_in(event, &[212]))
        .collect();
    let from_events = payments
        .iter()
        .filter_map(|event| event.amount)
        .fold(Decimal::ZERO, Decimal::saturating_add);
    let total = facts.total_incl;
    let from_billit = if facts.paid == Some(true) {
        total
    } else if let Some(to_pay) = facts.to_pay {
        total
            .saturating_sub(to_pay)
            .clamp(Decimal::ZERO, total.max(Decimal::ZERO))
    } else {
        Decimal::ZERO
    };
    let amount_paid = from_events.max(from_billit).max(Decimal::ZERO);
    let payment = if total > Decimal::ZERO {
        if amount_paid >= total {
            Payment::Paid
        } else if amount_paid > Decimal::ZERO || !payments.is_empty() {
            Payment::Partial
        } else {
            Payment::Unpaid
        }
    } else if facts.paid == Some(true) || !payments.is_empty() {
        Payment::Paid
    } else {
        Payment::Unpaid
    };
    (payment, amount_paid)
}
