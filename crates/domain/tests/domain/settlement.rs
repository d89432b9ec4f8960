//! Settlements: what can be settled, what credit notes already take back, and the credit limit.

use portal_domain::Localized;
use portal_domain::invoice::DocumentType;
use portal_domain::settlement::*;
use portal_domain::submission::SubmissionState;

#[test]
fn only_a_sent_invoice_is_settleable() {
    assert!(is_settleable(DocumentType::Invoice, SubmissionState::Sent));
    for state in SubmissionState::ALL {
        // A credit note on a credit note: never.
        assert!(
            !is_settleable(DocumentType::CreditNote, state),
            "credit note {state}"
        );
        if state != SubmissionState::Sent {
            assert!(
                !is_settleable(DocumentType::Invoice, state),
                "invoice {state}"
            );
        }
    }
}

#[test]
fn relations_round_trip_and_follow_the_document_type() {
    for relation in [InvoiceRelation::CreditNoteFor, InvoiceRelation::Corrects] {
        assert_eq!(InvoiceRelation::parse(relation.as_str()), Some(relation));
        assert_eq!(
            serde_json::to_value(relation).unwrap(),
            serde_json::json!(relation.as_str())
        );
    }
    assert_eq!(InvoiceRelation::CreditNoteFor.as_str(), "credit_note_for");
    assert_eq!(InvoiceRelation::Corrects.as_str(), "corrects");
    assert_eq!(InvoiceRelation::parse("credit_note"), None);
    assert_eq!(
        InvoiceRelation::for_document(DocumentType::CreditNote),
        InvoiceRelation::CreditNoteFor
    );
    assert_eq!(
        InvoiceRelation::for_document(DocumentType::Invoice),
        InvoiceRelation::Corrects
    );
}

#[test]
fn only_issued_credit_notes_are_credited() {
    use SubmissionState::*;
    let notes = [
        (Draft, 1),
        (Queued, 10),
        (Sending, 100),
        (Sent, 1_000),
        (Failed, 10_000),
    ];
    assert_eq!(credited_cents(notes), 1_110);
    assert_eq!(credited_cents([]), 0);
    assert_eq!(credited_cents([(Draft, 48_000), (Failed, 48_000)]), 0);
    assert_eq!(credited_cents([(Sent, i64::MAX), (Queued, 1)]), i64::MAX);
}

#[test]
fn the_limit_is_the_total_minus_what_is_already_credited_never_below_zero() {
    assert_eq!(credit_limit(48_000, 0), 48_000);
    assert_eq!(credit_limit(48_000, 12_000), 36_000);
    assert_eq!(credit_limit(48_000, 48_000), 0);
    assert_eq!(credit_limit(48_000, 60_000), 0);
    assert_eq!(credit_limit(i64::MIN, i64::MAX), 0);
}

#[test]
fn a_credit_note_exactly_at_the_limit_is_accepted() {
    let limit = credit_limit(48_000, credited_cents([(SubmissionState::Sent, 12_000)]));
    assert_eq!(check_credit(36_000, limit), Ok(()));
    assert_eq!(check_credit(1, limit), Ok(()));
    // The whole invoice, when nothing was credited yet.
    assert_eq!(check_credit(48_000, credit_limit(48_000, 0)), Ok(()));
}

#[test]
fn one_cent_over_the_limit_is_refused() {
    assert_eq!(
        check_credit(36_001, 36_000),
        Err(OverLimit {
            limit_cents: 36_000
        })
    );
    // Nothing left to credit: any positive amount is refused.
    assert_eq!(check_credit(1, 0), Err(OverLimit { limit_cents: 0 }));
}

#[test]
fn draft_and_failed_credit_notes_leave_the_limit_untouched() {
    use SubmissionState::*;
    let limit = credit_limit(48_000, credited_cents([(Draft, 48_000), (Failed, 20_000)]));
    assert_eq!(check_credit(48_000, limit), Ok(()));
}

#[test]
fn full_and_partial_credit_notes() {
    assert!(is_full_credit(48_000, 48_000));
    assert!(is_full_credit(48_001, 48_000));
    assert!(!is_full_credit(47_999, 48_000));
}

#[test]
fn over_limit_explains_itself_in_both_languages() {
    let refusal = OverLimit { limit_cents: 1 };
    assert!(!refusal.message_fr().is_empty());
    assert_eq!(refusal.message_en(), refusal.to_string());
}
