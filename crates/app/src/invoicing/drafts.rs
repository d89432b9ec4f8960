//! A draft's computed parts: its totals (as shown and as stored), the rate set it is checked against, and the
//! domain's check before submission. Shared by the editor, the submission job, the demonstration and the seed.

use chrono::Datelike;
use portal_domain::invoice::{InvoiceDraft, LineDraft, Problem, check_before_submission};
use portal_domain::money::{
    Amount, LineAmounts, Quantity, Totals, UnitPrice, VatRate, VatRateSet, compute_totals,
};
use portal_persistence::invoices::TotalsCents;

/// The rates a draft is checked against: the overseas and Corsican set when the invoice uses one of its own
/// rates (the territory follows from the rates chosen), the mainland set otherwise.
pub fn rate_set_for(lines: &[LineDraft]) -> VatRateSet {
    let overseas = lines.iter().any(|line| {
        VatRate::parse(&line.vat_rate).is_ok_and(|rate| {
            !VatRateSet::Mainland.allows(rate) && VatRateSet::CorsicaAndOverseas.allows(rate)
        })
    });
    if overseas {
        VatRateSet::CorsicaAndOverseas
    } else {
        VatRateSet::Mainland
    }
}

/// The totals of the lines that can be computed (a line still being typed counts for nothing).
pub fn totals_of(lines: &[LineDraft]) -> Option<Totals> {
    let amounts: Vec<LineAmounts> = lines
        .iter()
        .filter_map(|line| {
            Some(LineAmounts {
                quantity: Quantity::parse(&line.quantity).ok()?,
                unit_price: UnitPrice::parse(&line.unit_price).ok()?,
                vat_rate: VatRate::parse(&line.vat_rate).ok()?,
                exemption: line.exemption,
            })
        })
        .collect();
    compute_totals(amounts).ok()
}

/// The amount in cents (an `Amount` is stored with exactly two decimals).
pub fn cents(amount: Amount) -> i64 {
    i64::try_from(amount.value().mantissa()).unwrap_or(i64::MAX)
}

/// The totals as stored on the invoice (for lists and filters).
pub fn totals_cents(totals: Option<&Totals>) -> TotalsCents {
    totals.map_or_else(TotalsCents::default, |totals| TotalsCents {
        excl: cents(totals.total_excl),
        vat: cents(totals.total_vat),
        incl: cents(totals.total_incl),
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
