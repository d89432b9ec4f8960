//! A draft's computed parts: its totals (as shown and as stored), the rate set it is checked against, and the
//! domain's check before submission. Shared by the editor, the submission job, the demonstration and the seed.

use chrono::Datelike;
use portal_domain::invoice::{InvoiceDraft, LineDraft, Problem, check_before_submission};
use portal_domain::money::{Totals, VatRateSet};
use portal_persistence::invoices::TotalsCents;

/// The rates a draft is checked against: the overseas and Corsican set when the invoice uses one of its own
/// rates (the territory follows from the rates chosen), the mainland set otherwise.
pub fn rate_set_for(lines: &[LineDraft]) -> VatRateSet {
    VatRateSet::inferred_from(lines)
}

/// The totals of the lines that can be computed (a line still being typed counts for nothing).
pub fn totals_of(lines: &[LineDraft]) -> Option<Totals> {
    portal_domain::invoice::totals_so_far(lines)
}

/// The totals as stored on the invoice (for lists and filters).
pub fn totals_cents(totals: Option<&Totals>) -> TotalsCents {
    totals.map_or_else(TotalsCents::default, |totals| TotalsCents {
        excl: totals.total_excl.cents(),
        vat: totals.total_vat.cents(),
        incl: totals.total_incl.cents(),
    })
}

/// The domain's check of a draft, `number_taken` being the answer of the uniqueness query made beforehand.
pub fn problems_of(draft: &InvoiceDraft, number_taken: bool) -> Vec<Problem> {
    let uniqueness = |_key: &portal_domain::invoice::UniquenessKey| number_taken;
    match check_before_submission(draft, &uniqueness) {
        Ok(_) => Vec::new(),
        Err(problems) => problems,
    }
}

/// The year whose numbers a draft's number must not repeat (G1.45).
pub fn issue_year(draft: &InvoiceDraft) -> Option<i32> {
    draft.issue_date.map(|date| date.year())
}
