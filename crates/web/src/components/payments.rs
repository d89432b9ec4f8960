//! The payment form and the payment panel of the invoice page (the use cases are `portal_app::payments`).

use crate::components::actions::{Action, Decisions};
use crate::format;
use crate::forms::parse_date;
use crate::i18n::Tr;
use chrono::NaiveDate;
use portal_app::payments::failure_sentence;
pub use portal_app::payments::{
    REFERENCE_MAX, is_payable, publish, remaining_today, report_job, repository, today,
};
use portal_domain::Localized;
use portal_domain::actions::Reason;
use portal_domain::money::Amount;
use portal_persistence::invoices::InvoiceRecord;
use portal_persistence::payments::{
    NewPayment, PaymentAmount, PaymentMethod, PaymentRecord, PaymentState,
};
use rust_decimal::prelude::ToPrimitive;
use serde::Deserialize;

// ---- the form ----

/// The payment form as posted.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PaymentForm {
    pub amount: String,
    pub paid_on: String,
    pub method: String,
    pub reference: String,
}

impl PaymentForm {
    /// A blank form: today, by transfer.
    pub fn blank() -> Self {
        Self {
            paid_on: today().format("%Y-%m-%d").to_string(),
            method: PaymentMethod::Transfer.as_str().to_owned(),
            ..Self::default()
        }
    }
}

/// What is wrong with each field, in the user's language.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormErrors {
    pub amount: Option<String>,
    pub paid_on: Option<String>,
    pub method: Option<String>,
    pub reference: Option<String>,
}

impl FormErrors {
    pub fn is_empty(&self) -> bool {
        self.amount.is_none()
            && self.paid_on.is_none()
            && self.method.is_none()
            && self.reference.is_none()
    }
}

/// An amount typed in French (`1 234,56`) or with a decimal point (`1234.56`), in cents.
fn parse_cents(text: &str, t: Tr) -> Result<i64, String> {
    if text.trim().is_empty() {
        return Err(t.get("payments.error.amount_missing").to_owned());
    }
    let amount = Amount::parse(text).map_err(|error| {
        t.fill(
            "payments.error.amount_invalid",
            &[("reason", &error.message(t.lang))],
        )
    })?;
    if amount.is_zero() {
        return Err(t.get("payments.error.amount_zero").to_owned());
    }
    (amount.value() * rust_decimal::Decimal::ONE_HUNDRED)
        .to_i64()
        .ok_or_else(|| t.get("payments.error.amount_too_large").to_owned())
}

/// Checks the form against the invoice: a positive amount, a date neither in the future nor before the invoice's
/// issue date, a known method, a reference Billit accepts.
pub fn check(
    form: &PaymentForm,
    issued_on: Option<NaiveDate>,
    today: NaiveDate,
    t: Tr,
) -> Result<NewPayment, FormErrors> {
    let mut errors = FormErrors::default();
    let amount = parse_cents(&form.amount, t)
        .map_err(|error| errors.amount = Some(error))
        .ok();
    let paid_on = match parse_date(&form.paid_on) {
        None if form.paid_on.trim().is_empty() => {
            errors.paid_on = Some(t.get("payments.error.date_missing").to_owned());
            None
        }
        None => {
            errors.paid_on = Some(t.get("payments.error.date_invalid").to_owned());
            None
        }
        Some(date) if date > today => {
            errors.paid_on = Some(t.get("payments.error.date_future").to_owned());
            None
        }
        Some(date) if issued_on.is_some_and(|issued| date < issued) => {
            let issued = issued_on
                .map(|issued| format::date(issued, t.lang))
                .unwrap_or_default();
            errors.paid_on = Some(t.fill(
                "payments.error.date_before_issue",
                &[("date", issued.as_str())],
            ));
            None
        }
        Some(date) => Some(date),
    };
    let method = PaymentMethod::parse(&form.method);
    if method.is_none() {
        errors.method = Some(t.get("payments.error.method_invalid").to_owned());
    }
    let reference = form.reference.trim();
    if reference.chars().count() > REFERENCE_MAX {
        errors.reference = Some(t.fill(
            "payments.error.reference_too_long",
            &[("max", &REFERENCE_MAX.to_string())],
        ));
    }
    match (amount, paid_on, method) {
        (Some(cents), Some(paid_on), Some(method)) if errors.is_empty() => Ok(NewPayment {
            amount: PaymentAmount::Cents(cents),
            paid_on,
            method,
            reference: (!reference.is_empty()).then(|| reference.to_owned()),
        }),
        _ => Err(errors),
    }
}

// ---- the panel on the invoice page ----

pub fn method_key(method: PaymentMethod) -> &'static str {
    match method {
        PaymentMethod::Transfer => "payments.method.transfer",
        PaymentMethod::Cheque => "payments.method.cheque",
        PaymentMethod::Card => "payments.method.card",
        PaymentMethod::DirectDebit => "payments.method.direct_debit",
        PaymentMethod::Cash => "payments.method.cash",
        PaymentMethod::Other => "payments.method.other",
    }
}

/// One choice of the method's `<select>`.
#[derive(Debug, Clone)]
pub struct MethodChoice {
    pub value: &'static str,
    pub label: String,
    pub selected: bool,
}

/// The form as shown: what was typed and what is wrong with it.
#[derive(Debug, Clone)]
pub struct FormView {
    pub amount: String,
    pub paid_on: String,
    pub reference: String,
    pub methods: Vec<MethodChoice>,
    /// The latest date allowed (`max` of the date input).
    pub max_date: String,
    /// The earliest date allowed (the issue date), if known.
    pub min_date: Option<String>,
    pub reference_max: usize,
    pub errors: FormErrors,
    /// Why nothing was recorded, above the form.
    pub alert: Option<String>,
}

/// A payment as the track shows it.
#[derive(Debug, Clone)]
pub struct PaymentRow {
    pub id: String,
    pub amount: String,
    pub paid_on: String,
    pub method: String,
    pub reference: String,
    /// `queued`, `retrying`, `reported`, `accepted`, `failed` or `cancelled` (for styles and tests).
    pub state: &'static str,
    pub state_label: String,
    pub tone: &'static str,
    /// What went wrong, or what happens next.
    pub explanation: Option<String>,
    /// Where the Retry button posts, when the user may retry.
    pub retry: Option<String>,
    /// Where the Cancel button posts, when the user may cancel (a failed payment).
    pub cancel: Option<String>,
    /// Cancelled: shown struck out, and left out of what was paid.
    pub cancelled: bool,
}

/// The payment track of an invoice (`templates/components/invoice_payments.html`).
#[derive(Debug, Clone)]
pub struct PaymentPanel {
    /// `/t/{slug}/invoices/{id}/payments`.
    pub action: String,
    pub total: String,
    pub paid: String,
    pub remaining: String,
    pub fully_paid: bool,
    pub rows: Vec<PaymentRow>,
    /// The table of actions lets a member record a payment.
    pub can_record: bool,
    /// The table of actions lets a member mark it fully paid (something remains).
    pub can_mark_paid: bool,
    /// Why no payment can be recorded (a refused or rejected invoice…), when the panel has no form and is not
    /// simply fully paid.
    pub closed: Option<String>,
    /// What "mark as fully paid" will record.
    pub full_help: String,
    pub form: FormView,
}

fn state_key(state: &str) -> &'static str {
    match state {
        "retrying" => "payments.state.retrying",
        "reported" => "payments.state.reported",
        "accepted" => "payments.state.accepted",
        "failed" => "payments.state.failed",
        "cancelled" => "payments.state.cancelled",
        _ => "payments.state.queued",
    }
}

fn row_of(payment: &PaymentRecord, base: &str, currency: &str, can_act: bool, t: Tr) -> PaymentRow {
    let lang = t.lang;
    let (state, tone) = match payment.state {
        PaymentState::Queued if payment.error_code.is_some() => ("retrying", "warn"),
        PaymentState::Queued => ("queued", "neutral"),
        PaymentState::Reported => ("reported", "neutral"),
        PaymentState::Accepted => ("accepted", "good"),
        PaymentState::Failed => ("failed", "bad"),
        PaymentState::Cancelled => ("cancelled", "neutral"),
    };
    let explanation = match payment.state {
        PaymentState::Queued | PaymentState::Failed => failure_sentence(payment, t),
        PaymentState::Reported => payment.reported_at.map(|at| {
            t.fill(
                "payments.explain.reported",
                &[("at", &format::date_time(at, lang))],
            )
        }),
        PaymentState::Accepted => payment.accepted_at.map(|at| {
            t.fill(
                "payments.explain.accepted",
                &[("at", &format::date_time(at, lang))],
            )
        }),
        PaymentState::Cancelled => payment.cancelled_at.map(|at| {
            let who = payment
                .cancelled_by_name
                .clone()
                .unwrap_or_else(|| t.get("payments.cancelled_by_someone").to_owned());
            t.fill(
                "payments.explain.cancelled",
                &[("who", &who), ("at", &format::date_time(at, lang))],
            )
        }),
    };
    let can_retry = can_act && payment.state.can_be_retried();
    let can_cancel = can_act && payment.state.can_be_cancelled();
    PaymentRow {
        id: payment.id.to_string(),
        amount: format::amount_cents(payment.amount_cents, currency, lang),
        paid_on: format::date(payment.paid_on, lang),
        method: t.get(method_key(payment.method)).to_owned(),
        reference: payment.reference.clone().unwrap_or_default(),
        state,
        state_label: t.get(state_key(state)).to_owned(),
        tone,
        explanation,
        retry: can_retry.then(|| format!("{base}/{}/retry", payment.id)),
        cancel: can_cancel.then(|| format!("{base}/{}/cancel", payment.id)),
        cancelled: payment.state == PaymentState::Cancelled,
    }
}

/// The form as shown, from what was typed.
pub fn form_view(
    form: &PaymentForm,
    invoice: &InvoiceRecord,
    errors: FormErrors,
    alert: Option<String>,
    t: Tr,
) -> FormView {
    FormView {
        amount: form.amount.clone(),
        paid_on: form.paid_on.clone(),
        reference: form.reference.clone(),
        methods: PaymentMethod::ALL
            .into_iter()
            .map(|method| MethodChoice {
                value: method.as_str(),
                label: t.get(method_key(method)).to_owned(),
                selected: method.as_str() == form.method.trim(),
            })
            .collect(),
        max_date: today().format("%Y-%m-%d").to_string(),
        min_date: invoice
            .draft
            .issue_date
            .map(|date| date.format("%Y-%m-%d").to_string()),
        reference_max: REFERENCE_MAX,
        errors,
        alert,
    }
}

/// The payment track of an invoice, with `form` in its form and its `payments` as read with its situation
/// (`portal_app::actions::known`); the form and the buttons are those the table of actions opens (`decisions`).
/// `None` when the invoice cannot be paid and has no payment (a draft, a credit note).
pub fn panel(
    slug: &str,
    invoice: &InvoiceRecord,
    payments: &[PaymentRecord],
    decisions: &Decisions,
    form: FormView,
    t: Tr,
) -> Option<PaymentPanel> {
    let payable = is_payable(invoice);
    if !payable && payments.is_empty() {
        return None;
    }
    let currency = invoice.draft.currency.as_str();
    // A cancelled payment stays listed but was never received.
    let paid = portal_domain::payments::paid_cents(
        payments
            .iter()
            .map(|payment| (payment.state, payment.amount_cents)),
    );
    let total = invoice.totals.incl;
    let remaining = portal_domain::payments::remaining_cents(total, paid);
    let member = decisions.is_member();
    let action = format!("/t/{slug}/invoices/{}/payments", invoice.id);
    let can_record = decisions.offers(Action::RecordPayment);
    let closed = decisions
        .refusal(Action::RecordPayment)
        .filter(|refusal| member && payable && refusal.reason != Reason::NothingRemains)
        .map(|refusal| refusal.message(t.lang));
    Some(PaymentPanel {
        total: format::amount_cents(total, currency, t.lang),
        paid: format::amount_cents(paid, currency, t.lang),
        remaining: format::amount_cents(remaining, currency, t.lang),
        fully_paid: remaining == 0,
        rows: payments
            .iter()
            .map(|payment| row_of(payment, &action, currency, member, t))
            .collect(),
        can_record,
        can_mark_paid: decisions.offers(Action::MarkFullyPaid),
        closed,
        full_help: t.fill(
            "payments.full_help",
            &[(
                "remaining",
                &format::amount_cents(remaining, currency, t.lang),
            )],
        ),
        form,
        action,
    })
}

/// The panel of the invoice page, with a blank form.
pub fn panel_for_page(
    slug: &str,
    invoice: &InvoiceRecord,
    payments: &[PaymentRecord],
    decisions: &Decisions,
    t: Tr,
) -> Option<PaymentPanel> {
    let form = form_view(
        &PaymentForm::blank(),
        invoice,
        FormErrors::default(),
        None,
        t,
    );
    panel(slug, invoice, payments, decisions, form, t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_domain::Language;

    fn form(amount: &str, paid_on: &str) -> PaymentForm {
        PaymentForm {
            amount: amount.to_owned(),
            paid_on: paid_on.to_owned(),
            method: "cheque".to_owned(),
            reference: " CHQ 123 ".to_owned(),
        }
    }

    fn date(text: &str) -> NaiveDate {
        parse_date(text).unwrap()
    }

    #[test]
    fn french_and_plain_amounts_are_read_in_cents() {
        let t = Tr::new(Language::Fr);
        let today = date("2026-11-30");
        for (typed, cents) in [("1 234,56", 123_456), ("1234.56", 123_456), ("12", 1_200)] {
            let payment = check(&form(typed, "2026-11-30"), None, today, t).unwrap();
            assert_eq!(payment.amount, PaymentAmount::Cents(cents), "{typed}");
            assert_eq!(payment.method, PaymentMethod::Cheque);
            assert_eq!(payment.reference.as_deref(), Some("CHQ 123"));
        }
        assert_eq!(
            check(&form("1,5", "30/11/2026"), None, today, t)
                .unwrap()
                .paid_on,
            today
        );
    }

    #[test]
    fn bad_amounts_and_dates_name_their_field() {
        let t = Tr::new(Language::En);
        let today = date("2026-11-30");
        let issued = Some(date("2026-11-01"));
        for typed in ["", "abc", "0", "-5", "1.234"] {
            let errors = check(&form(typed, "2026-11-30"), issued, today, t).unwrap_err();
            assert!(errors.amount.is_some(), "{typed}");
            assert!(errors.paid_on.is_none());
        }
        for typed in ["", "yesterday", "2026-12-01", "2026-10-31"] {
            let errors = check(&form("10", typed), issued, today, t).unwrap_err();
            assert!(errors.paid_on.is_some(), "{typed}");
            assert!(errors.amount.is_none());
        }
        let mut unknown = form("10", "2026-11-30");
        unknown.method = "bitcoin".to_owned();
        assert!(
            check(&unknown, issued, today, t)
                .unwrap_err()
                .method
                .is_some()
        );
        let mut long = form("10", "2026-11-30");
        long.reference = "x".repeat(REFERENCE_MAX + 1);
        assert!(
            check(&long, issued, today, t)
                .unwrap_err()
                .reference
                .is_some()
        );
    }
}
