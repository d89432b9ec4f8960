//! The editor's form: what was typed (kept as text, so that nothing is lost on a round trip), the button that was
//! pressed, and the draft, problems and totals it gives.

use chrono::NaiveDate;
pub use portal_app::invoicing::drafts::{
    issue_year, problems_of, rate_set_for, totals_cents, totals_of,
};
use portal_domain::Language;
use portal_domain::identifiers::Siren;
use portal_domain::ids::CustomerId;
use portal_domain::invoice::{
    Address, BuyerDraft, DocumentType, InvoiceDraft, LineDraft, Problem, ProblemCode,
};
use portal_domain::money::ExemptionReason;
use portal_persistence::invoices::InvoiceRecord;
use std::collections::HashMap;

/// Which button sent the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditorAction {
    /// Save the draft (also what Enter in a field does).
    Save,
    /// Save, then send to Billit if nothing is wrong.
    Send,
    /// One more empty line (without JavaScript).
    AddLine,
    /// Remove the line at this index (without JavaScript).
    RemoveLine(usize),
    /// Fill the buyer's fields from the chosen customer.
    UseCustomer,
}

impl EditorAction {
    fn parse(text: &str) -> Self {
        match text {
            "send" => Self::Send,
            "add_line" => Self::AddLine,
            "use_customer" => Self::UseCustomer,
            other => other
                .strip_prefix("remove_line:")
                .and_then(|index| index.parse().ok())
                .map_or(Self::Save, Self::RemoveLine),
        }
    }
}

/// One line as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineForm {
    pub description: String,
    pub quantity: String,
    pub unit: String,
    pub unit_price: String,
    pub vat_rate: String,
    pub exemption: String,
}

impl Default for LineForm {
    /// A new line: one unit at the standard rate.
    fn default() -> Self {
        Self {
            description: String::new(),
            quantity: "1".to_owned(),
            unit: "C62".to_owned(),
            unit_price: String::new(),
            vat_rate: "20".to_owned(),
            exemption: String::new(),
        }
    }
}

impl LineForm {
    fn is_blank(&self) -> bool {
        self.description.trim().is_empty() && self.unit_price.trim().is_empty()
    }
}

/// The whole form as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EditorForm {
    pub document_type: DocumentType,
    pub corrects: String,
    pub number: String,
    pub issue_date: String,
    pub due_date: String,
    pub delivery_date: String,
    /// The day an invoice paid when issued was paid (blank: not paid at issue).
    pub paid_at_issue: String,
    pub currency: String,
    pub customer_id: String,
    pub buyer_legal_name: String,
    pub buyer_siren: String,
    pub buyer_siret: String,
    pub buyer_vat_number: String,
    pub buyer_electronic_address: String,
    pub buyer_emails: String,
    pub buyer_street: String,
    pub buyer_additional: String,
    pub buyer_postcode: String,
    pub buyer_city: String,
    pub buyer_country: String,
    pub buyer_language: String,
    pub lines: Vec<LineForm>,
    pub purchase_order: String,
    pub contract: String,
    pub buyer_reference: String,
    pub notes: String,
    /// The invoice a new credit note or corrected invoice settles (hidden field; see `crate::invoices::settlements`).
    pub related_invoice: String,
}

/// The stable name of an exemption reason in forms.
pub fn exemption_value(reason: ExemptionReason) -> &'static str {
    match reason {
        ExemptionReason::FranchiseEnBase => "franchise_en_base",
        ExemptionReason::ExemptArticle261 => "exempt_article_261",
        ExemptionReason::ReverseCharge => "reverse_charge",
        ExemptionReason::IntraCommunitySupply => "intra_community_supply",
        ExemptionReason::Export => "export",
        ExemptionReason::OutsideScope => "outside_scope",
    }
}

fn parse_exemption(text: &str) -> Option<ExemptionReason> {
    let text = text.trim();
    ExemptionReason::ALL
        .into_iter()
        .find(|reason| exemption_value(*reason) == text)
        .or_else(|| ExemptionReason::from_vatex(text))
}

pub use crate::forms::parse_date;

fn date_text(date: Option<NaiveDate>) -> String {
    date.map(|date| date.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// A problem the form itself finds before the domain check (a date that cannot be read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputProblem {
    pub field: &'static str,
    pub term: &'static str,
    /// A catalogue key.
    pub key: &'static str,
}

/// What the form gives: the draft to save, its customer, and what could not even be read.
#[derive(Debug, Clone)]
pub struct ParsedForm {
    pub draft: InvoiceDraft,
    pub customer_id: Option<CustomerId>,
    pub input_problems: Vec<InputProblem>,
    /// For each line of the draft, its index in the form (blank lines are left out).
    pub line_origin: Vec<usize>,
}

impl EditorForm {
    /// Reads a url-encoded body: repeated `line_*` fields make the lines, in order.
    pub fn from_body(body: &[u8]) -> (Self, EditorAction) {
        let mut form = Self::default();
        let mut action = EditorAction::Save;
        let mut columns: HashMap<String, Vec<String>> = HashMap::new();
        for (key, value) in form_urlencoded::parse(body) {
            let value = value.into_owned();
            match key.as_ref() {
                "action" => action = EditorAction::parse(&value),
                "document_type" => {
                    form.document_type = if value == "credit_note" {
                        DocumentType::CreditNote
                    } else {
                        DocumentType::Invoice
                    }
                }
                "corrects" => form.corrects = value,
                "number" => form.number = value,
                "issue_date" => form.issue_date = value,
                "due_date" => form.due_date = value,
                "delivery_date" => form.delivery_date = value,
                "paid_at_issue" => form.paid_at_issue = value,
                "currency" => form.currency = value,
                "customer_id" => form.customer_id = value,
                "buyer_legal_name" => form.buyer_legal_name = value,
                "buyer_siren" => form.buyer_siren = value,
                "buyer_siret" => form.buyer_siret = value,
                "buyer_vat_number" => form.buyer_vat_number = value,
                "buyer_electronic_address" => form.buyer_electronic_address = value,
                "buyer_emails" => form.buyer_emails = value,
                "buyer_street" => form.buyer_street = value,
                "buyer_additional" => form.buyer_additional = value,
                "buyer_postcode" => form.buyer_postcode = value,
                "buyer_city" => form.buyer_city = value,
                "buyer_country" => form.buyer_country = value,
                "buyer_language" => form.buyer_language = value,
                "purchase_order" => form.purchase_order = value,
                "contract" => form.contract = value,
                "buyer_reference" => form.buyer_reference = value,
                "notes" => form.notes = value,
                "related_invoice_id" => form.related_invoice = value,
                other if other.starts_with("line_") => {
                    columns.entry(other.to_owned()).or_default().push(value);
                }
                _ => {}
            }
        }
        let count = columns.values().map(Vec::len).max().unwrap_or(0);
        let cell = |name: &str, index: usize| {
            columns
                .get(name)
                .and_then(|values| values.get(index))
                .cloned()
                .unwrap_or_default()
        };
        form.lines = (0..count)
            .map(|index| LineForm {
                description: cell("line_description", index),
                quantity: cell("line_quantity", index),
                unit: cell("line_unit", index),
                unit_price: cell("line_unit_price", index),
                vat_rate: cell("line_vat_rate", index),
                exemption: cell("line_exemption", index),
            })
            .collect();
        (form, action)
    }

    /// A new invoice or credit note: today's date, due in 30 days, one empty line.
    pub fn new_document(document_type: DocumentType, number: String, today: NaiveDate) -> Self {
        Self {
            document_type,
            number,
            issue_date: date_text(Some(today)),
            due_date: date_text(today.checked_add_days(chrono::Days::new(30))),
            currency: "EUR".to_owned(),
            buyer_country: "FR".to_owned(),
            buyer_language: "fr".to_owned(),
            lines: vec![LineForm::default()],
            ..Self::default()
        }
    }

    /// The form of a stored invoice.
    pub fn from_record(record: &InvoiceRecord) -> Self {
        let mut form = Self::from_draft(&record.draft);
        form.customer_id = record
            .customer_id
            .map(|id| id.to_string())
            .unwrap_or_default();
        form
    }

    pub fn from_draft(draft: &InvoiceDraft) -> Self {
        let mut form = Self {
            document_type: draft.document_type,
            corrects: draft.corrects.clone(),
            number: draft.number.clone(),
            issue_date: date_text(draft.issue_date),
            due_date: date_text(draft.due_date),
            delivery_date: date_text(draft.delivery_date),
            paid_at_issue: date_text(draft.paid_at_issue),
            currency: draft.currency.clone(),
            lines: draft
                .lines
                .iter()
                .map(|line| LineForm {
                    description: line.description.clone(),
                    quantity: line.quantity.clone(),
                    unit: line.unit.clone(),
                    unit_price: line.unit_price.clone(),
                    vat_rate: line.vat_rate.clone(),
                    exemption: line
                        .exemption
                        .map(exemption_value)
                        .unwrap_or_default()
                        .to_owned(),
                })
                .collect(),
            purchase_order: draft.purchase_order.clone(),
            contract: draft.contract.clone(),
            buyer_reference: draft.buyer_reference.clone(),
            notes: draft.notes.join("\n\n"),
            ..Self::default()
        };
        form.set_buyer(&draft.buyer);
        if form.lines.is_empty() {
            form.lines.push(LineForm::default());
        }
        form
    }

    /// Replaces the buyer's fields (a customer was chosen).
    pub fn set_buyer(&mut self, buyer: &BuyerDraft) {
        self.buyer_legal_name = buyer.legal_name.clone();
        self.buyer_siren = buyer.siren.clone();
        self.buyer_siret = buyer.siret.clone();
        self.buyer_vat_number = buyer.vat_number.clone();
        self.buyer_electronic_address = buyer.electronic_address.clone();
        self.buyer_emails = buyer.contact_emails.join(", ");
        self.buyer_street = buyer.address.street.clone();
        self.buyer_additional = buyer.address.additional.clone();
        self.buyer_postcode = buyer.address.postcode.clone();
        self.buyer_city = buyer.address.city.clone();
        self.buyer_country = buyer.address.country_code.clone();
        self.buyer_language = buyer.language.code().to_owned();
    }

    pub fn customer(&self) -> Option<CustomerId> {
        CustomerId::parse(self.customer_id.trim())
    }

    /// The draft this form describes. Dates that cannot be read are reported, not guessed; blank lines are
    /// left out.
    pub fn parse(&self, seller_siren: Option<Siren>) -> ParsedForm {
        let mut input_problems = Vec::new();
        let mut date = |text: &str, field: &'static str, term: &'static str| {
            if text.trim().is_empty() {
                return None;
            }
            let parsed = parse_date(text);
            if parsed.is_none() {
                input_problems.push(InputProblem {
                    field,
                    term,
                    key: "editor.date_invalid",
                });
            }
            parsed
        };
        let issue_date = date(&self.issue_date, "issue_date", "BT-2");
        let due_date = date(&self.due_date, "due_date", "BT-9");
        let delivery_date = date(&self.delivery_date, "delivery_date", "BT-72");
        // The amount paid (BT-113) is then the whole total, on this day.
        let paid_at_issue = date(&self.paid_at_issue, "paid_at_issue", "BT-113");
        let mut lines = Vec::new();
        let mut line_origin = Vec::new();
        for (index, line) in self.lines.iter().enumerate() {
            if line.is_blank() {
                continue;
            }
            line_origin.push(index);
            lines.push(LineDraft {
                description: line.description.trim().to_owned(),
                quantity: line.quantity.trim().to_owned(),
                unit: line.unit.trim().to_owned(),
                unit_price: line.unit_price.trim().to_owned(),
                vat_rate: line.vat_rate.trim().to_owned(),
                exemption: parse_exemption(&line.exemption),
            });
        }
        let contact_emails = self
            .buyer_emails
            .split([',', ';', '\n', '\r', ' '])
            .map(str::trim)
            .filter(|email| !email.is_empty())
            .map(str::to_owned)
            .collect();
        let notes = self
            .notes
            .split("\n\n")
            .map(|note| note.trim().replace("\r\n", "\n"))
            .filter(|note| !note.is_empty())
            .collect();
        let draft = InvoiceDraft {
            document_type: self.document_type,
            corrects: match self.document_type {
                DocumentType::CreditNote => self.corrects.trim().to_owned(),
                DocumentType::Invoice => String::new(),
            },
            number: self.number.trim().to_owned(),
            issue_date,
            due_date,
            delivery_date,
            currency: self.currency.trim().to_ascii_uppercase(),
            seller_siren,
            vat_rate_set: rate_set_for(&lines),
            buyer: BuyerDraft {
                legal_name: self.buyer_legal_name.trim().to_owned(),
                siren: self.buyer_siren.trim().to_owned(),
                siret: self.buyer_siret.trim().to_owned(),
                vat_number: self.buyer_vat_number.trim().to_owned(),
                electronic_address: self.buyer_electronic_address.trim().to_owned(),
                contact_emails,
                address: Address {
                    street: self.buyer_street.trim().to_owned(),
                    additional: self.buyer_additional.trim().to_owned(),
                    postcode: self.buyer_postcode.trim().to_owned(),
                    city: self.buyer_city.trim().to_owned(),
                    country_code: self.buyer_country.trim().to_owned(),
                },
                language: Language::parse(&self.buyer_language).unwrap_or_default(),
            },
            lines,
            purchase_order: self.purchase_order.trim().to_owned(),
            contract: self.contract.trim().to_owned(),
            buyer_reference: self.buyer_reference.trim().to_owned(),
            notes,
            paid_at_issue,
        };
        ParsedForm {
            draft,
            customer_id: self.customer(),
            input_problems,
            line_origin,
        }
    }
}

/// Where a problem is shown: the name of the form field (`line3.quantity` for a line), or `""` for the page.
pub fn field_of(problem: &Problem, line_origin: &[usize]) -> String {
    let line = |name: &str| {
        let index = problem
            .position
            .map(|position| line_origin.get(position).copied().unwrap_or(position))
            .unwrap_or_default();
        format!("line{index}.{name}")
    };
    match problem.code {
        ProblemCode::NumberInvalid | ProblemCode::NumberNotUnique => "number".to_owned(),
        ProblemCode::IssueDateMissing => "issue_date".to_owned(),
        ProblemCode::DueBeforeIssue => "due_date".to_owned(),
        ProblemCode::CurrencyInvalid => "currency".to_owned(),
        ProblemCode::SellerSirenMissing => String::new(),
        ProblemCode::BuyerNameMissing => "buyer_legal_name".to_owned(),
        ProblemCode::BuyerSirenMissing | ProblemCode::BuyerSirenInvalid => "buyer_siren".to_owned(),
        ProblemCode::BuyerSiretInvalid | ProblemCode::BuyerSiretMismatch => {
            "buyer_siret".to_owned()
        }
        ProblemCode::BuyerVatInvalid | ProblemCode::BuyerVatMismatch => {
            "buyer_vat_number".to_owned()
        }
        ProblemCode::ElectronicAddressMissing | ProblemCode::ElectronicAddressInvalid => {
            "buyer_electronic_address".to_owned()
        }
        ProblemCode::EmailInvalid => "buyer_emails".to_owned(),
        ProblemCode::CountryInvalid => "buyer_country".to_owned(),
        ProblemCode::LinesMissing | ProblemCode::TotalZero | ProblemCode::TotalTooLarge => {
            "lines".to_owned()
        }
        ProblemCode::LineDescriptionMissing => line("description"),
        ProblemCode::QuantityInvalid => line("quantity"),
        ProblemCode::UnitPriceInvalid => line("unit_price"),
        ProblemCode::VatRateInvalid | ProblemCode::VatRateNotAllowed => line("vat_rate"),
        ProblemCode::ExemptionReasonMissing | ProblemCode::ExemptionReasonUnexpected => {
            line("exemption")
        }
        ProblemCode::CreditNoteReferenceMissing | ProblemCode::CreditNoteReferenceInvalid => {
            "corrects".to_owned()
        }
    }
}

/// A sentence starting with a capital letter.
pub fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Every problem, by the field it is shown next to, as `BT-1 · Message` in the user's language.
#[derive(Debug, Clone, Default)]
pub struct FieldProblems {
    by_field: HashMap<String, Vec<String>>,
    count: usize,
}

impl FieldProblems {
    pub fn new(
        problems: &[Problem],
        input: &[InputProblem],
        line_origin: &[usize],
        t: crate::i18n::Tr,
    ) -> Self {
        let mut out = Self::default();
        for problem in input {
            out.push(
                problem.field.to_owned(),
                format!("{} · {}", problem.term, t.get(problem.key)),
            );
        }
        for problem in problems {
            out.push(
                field_of(problem, line_origin),
                format!(
                    "{} · {}",
                    problem.term,
                    capitalised(problem.message(t.lang))
                ),
            );
        }
        out
    }

    fn push(&mut self, field: String, message: String) {
        self.count += 1;
        self.by_field.entry(field).or_default().push(message);
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// The messages shown next to `field` (`""`: at the top of the page).
    pub fn of(&self, field: &str) -> &[String] {
        self.by_field.get(field).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_domain::money::VatRateSet;

    fn body(pairs: &[(&str, &str)]) -> Vec<u8> {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
            .into_bytes()
    }

    #[test]
    fn repeated_line_fields_make_lines_in_order() {
        let (form, action) = EditorForm::from_body(&body(&[
            ("number", " F-1 "),
            ("line_description", "Conseil"),
            ("line_quantity", "2"),
            ("line_unit_price", "100"),
            ("line_vat_rate", "20"),
            ("line_exemption", ""),
            ("line_description", ""),
            ("line_quantity", "1"),
            ("line_unit_price", ""),
            ("line_vat_rate", "20"),
            ("line_exemption", ""),
            ("line_description", "Formation"),
            ("line_quantity", "1"),
            ("line_unit_price", "50"),
            ("line_vat_rate", "0"),
            ("line_exemption", "exempt_article_261"),
            ("action", "remove_line:1"),
        ]));
        assert_eq!(action, EditorAction::RemoveLine(1));
        assert_eq!(form.lines.len(), 3);
        let parsed = form.parse(None);
        assert_eq!(parsed.draft.number, "F-1");
        assert_eq!(parsed.draft.lines.len(), 2, "the blank line is left out");
        assert_eq!(parsed.line_origin, vec![0, 2]);
        assert_eq!(
            parsed.draft.lines[1].exemption,
            Some(ExemptionReason::ExemptArticle261)
        );
        let totals = totals_of(&parsed.draft.lines).unwrap();
        assert_eq!(totals_cents(Some(&totals)).incl, 29_000);
    }

    #[test]
    fn unreadable_dates_are_reported_and_overseas_rates_choose_their_set() {
        let form = EditorForm {
            issue_date: "31/02/2026".into(),
            lines: vec![LineForm {
                description: "x".into(),
                unit_price: "1".into(),
                vat_rate: "8.5".into(),
                ..LineForm::default()
            }],
            ..EditorForm::default()
        };
        let parsed = form.parse(None);
        assert_eq!(parsed.input_problems.len(), 1);
        assert_eq!(parsed.input_problems[0].field, "issue_date");
        assert_eq!(parsed.draft.vat_rate_set, VatRateSet::CorsicaAndOverseas);
        assert_eq!(
            parse_date("30/11/2026"),
            NaiveDate::from_ymd_opt(2026, 11, 30)
        );
    }
}
