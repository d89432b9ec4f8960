//! Payments: which invoices can be paid, which payments count, what remains, and the check of a new payment.

use portal_domain::Localized;
use portal_domain::invoice::DocumentType;
use portal_domain::payments::*;
use portal_domain::submission::SubmissionState;

#[test]
fn payment_states_round_trip_through_their_stored_text() {
    let texts: Vec<&str> = PaymentState::ALL
        .iter()
        .map(|state| state.as_str())
        .collect();
    assert_eq!(
        texts,
        ["queued", "reported", "accepted", "failed", "cancelled"]
    );
    for state in PaymentState::ALL {
        assert_eq!(PaymentState::parse(state.as_str()), Some(state));
        assert_eq!(state.to_string(), state.as_str());
        assert_eq!(
            serde_json::to_value(state).unwrap(),
            serde_json::json!(state.as_str())
        );
    }
    for text in ["", "Queued", "canceled", "paid", " failed"] {
        assert_eq!(PaymentState::parse(text), None, "{text:?}");
    }
}

#[test]
fn every_payment_counts_but_a_cancelled_one_failed_included() {
    use PaymentState::*;
    for (state, counts) in [
        (Queued, true),
        (Reported, true),
        (Accepted, true),
        // Received but not reported: it counts until a user cancels it.
        (Failed, true),
        (Cancelled, false),
    ] {
        assert_eq!(state.counts_towards_paid(), counts, "{state}");
    }
}

#[test]
fn only_a_failed_payment_can_be_retried_or_cancelled() {
    for state in PaymentState::ALL {
        let failed = state == PaymentState::Failed;
        assert_eq!(state.can_be_retried(), failed, "{state}");
        assert_eq!(state.can_be_cancelled(), failed, "{state}");
    }
}

#[test]
fn only_a_sent_invoice_with_its_billit_order_is_payable() {
    use DocumentType::{CreditNote, Invoice};
    assert!(is_payable(Invoice, SubmissionState::Sent, true));
    // Billit has no order to report to.
    assert!(!is_payable(Invoice, SubmissionState::Sent, false));
    // A credit note is never paid.
    assert!(!is_payable(CreditNote, SubmissionState::Sent, true));
    for state in SubmissionState::ALL
        .into_iter()
        .filter(|state| *state != SubmissionState::Sent)
    {
        assert!(!is_payable(Invoice, state, true), "{state}");
    }
}

#[test]
fn paid_adds_up_the_payments_that_count() {
    use PaymentState::*;
    let payments = [
        (Queued, 100),
        (Reported, 200),
        (Accepted, 400),
        (Failed, 800),
        (Cancelled, 1_600),
    ];
    assert_eq!(paid_cents(payments), 1_500);
    assert_eq!(paid_cents([]), 0);
    assert_eq!(paid_cents([(Cancelled, 5_000)]), 0);
    // A corrupt row saturates instead of overflowing.
    assert_eq!(paid_cents([(Accepted, i64::MAX), (Queued, 1)]), i64::MAX);
}

#[test]
fn what_remains_is_the_total_minus_what_was_paid_never_below_zero() {
    assert_eq!(remaining_cents(48_000, 0), 48_000);
    assert_eq!(remaining_cents(48_000, 12_000), 36_000);
    assert_eq!(remaining_cents(48_000, 48_000), 0);
    assert_eq!(remaining_cents(48_000, 50_000), 0);
    assert_eq!(remaining_cents(0, 0), 0);
    assert_eq!(remaining_cents(i64::MIN, i64::MAX), 0);
    assert!(is_fully_paid(remaining_cents(48_000, 48_000)));
    assert!(!is_fully_paid(remaining_cents(48_000, 47_999)));
}

#[test]
fn exactly_what_remains_is_accepted() {
    assert_eq!(check_payment(36_000, 36_000), Ok(()));
    assert_eq!(check_payment(1, 36_000), Ok(()));
    assert_eq!(check_payment(1, 1), Ok(()));
}

#[test]
fn one_cent_more_than_what_remains_is_refused() {
    assert_eq!(
        check_payment(36_001, 36_000),
        Err(PaymentRefusal::Exceeds {
            remaining_cents: 36_000
        })
    );
    assert_eq!(
        check_payment(i64::MAX, 1),
        Err(PaymentRefusal::Exceeds { remaining_cents: 1 })
    );
}

#[test]
fn zero_and_negative_amounts_are_refused() {
    assert_eq!(check_payment(0, 36_000), Err(PaymentRefusal::NotPositive));
    assert_eq!(check_payment(-1, 36_000), Err(PaymentRefusal::NotPositive));
    assert_eq!(
        check_payment(i64::MIN, 36_000),
        Err(PaymentRefusal::NotPositive)
    );
}

#[test]
fn nothing_can_be_recorded_when_nothing_remains_whatever_the_amount() {
    for amount in [-1, 0, 1, 36_000] {
        assert_eq!(
            check_payment(amount, 0),
            Err(PaymentRefusal::NothingDue),
            "{amount}"
        );
    }
    assert_eq!(check_payment(1, -5), Err(PaymentRefusal::NothingDue));
}

#[test]
fn marking_as_fully_paid_records_what_remains() {
    // "Mark as fully paid" passes what remains as the amount.
    let remaining = remaining_cents(48_000, paid_cents([(PaymentState::Accepted, 12_000)]));
    assert_eq!(check_payment(remaining, remaining), Ok(()));
    let nothing = remaining_cents(48_000, 48_000);
    assert_eq!(
        check_payment(nothing, nothing),
        Err(PaymentRefusal::NothingDue)
    );
}

#[test]
fn refusals_explain_themselves_in_both_languages() {
    for refusal in [
        PaymentRefusal::NothingDue,
        PaymentRefusal::NotPositive,
        PaymentRefusal::Exceeds { remaining_cents: 1 },
    ] {
        assert!(!refusal.message_fr().is_empty());
        assert_eq!(refusal.message_en(), refusal.to_string());
        assert_ne!(refusal.message_fr(), refusal.message_en());
    }
}
