//! Invoices and credit notes, and the check that runs before submission.
//!
//! A form or an API call fills an [`InvoiceDraft`] (text as typed); [`check_before_submission`]
//! either turns it into an [`Invoice`] whose every part is a parsed domain type, or returns
//! *every* [`Problem`], each tied to its business term (BT-1, BT-48…) with a French and an
//! English message.

use crate::identifiers::{
    ElectronicAddress, Email, InvoiceNumber, Siren, Siret, SiretError, VatNumber, VatNumberError,
    country_code,
};
pub use crate::lang::Language;
use crate::lang::Localized;
use crate::money::{
    Amount, Currency, ExemptionReason, LineAmounts, MoneyError, Quantity, Totals, UnitPrice,
    VatRate, VatRateSet, compute_totals,
};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Invoice or credit note, as typed (see [`InvoiceKind`] for the checked form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    /// An invoice (type code 380).
    #[default]
    Invoice,
    /// A credit note (type code 381).
    CreditNote,
}

/// Invoice, or credit note naming the invoice it corrects (BT-3, BT-25).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum InvoiceKind {
    /// An invoice.
    Invoice,
    /// A credit note.
    CreditNote {
        /// The invoice it corrects (BT-25; Billit's `AboutInvoiceNumber`).
        corrects: InvoiceNumber,
    },
}

impl InvoiceKind {
    /// The UNTDID 1001 type code (BT-3): 380 or 381.
    pub const fn type_code(&self) -> u16 {
        match self {
            Self::Invoice => 380,
            Self::CreditNote { .. } => 381,
        }
    }
}

/// A postal address (BG-8), as typed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Address {
    /// Street and number (BT-50).
    pub street: String,
    /// Additional line (BT-51).
    pub additional: String,
    /// Post code (BT-53).
    pub postcode: String,
    /// City (BT-52).
    pub city: String,
    /// Country, ISO 3166-1 alpha-2 (BT-55); `FR` when empty.
    pub country_code: String,
}

/// The buyer, as typed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BuyerDraft {
    /// Legal name (BT-44).
    pub legal_name: String,
    /// SIREN (BT-47).
    pub siren: String,
    /// SIRET, optional (BT-46).
    pub siret: String,
    /// VAT number, optional (BT-48).
    pub vat_number: String,
    /// Electronic address, `scheme:value` (BT-49).
    pub electronic_address: String,
    /// Contact emails, for the invoice by email and notifications.
    pub contact_emails: Vec<String>,
    /// Postal address (BG-8).
    pub address: Address,
    /// Language of documents and emails.
    pub language: Language,
}

/// A line, as typed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LineDraft {
    /// Item name / description (BT-153).
    pub description: String,
    /// Quantity (BT-129).
    pub quantity: String,
    /// Unit code (BT-130), e.g. `C62`, `HUR`; optional.
    pub unit: String,
    /// Unit price excl. VAT (BT-146).
    pub unit_price: String,
    /// VAT rate in percent (BT-152).
    pub vat_rate: String,
    /// Exemption reason, required with 0 % (BT-121).
    pub exemption: Option<ExemptionReason>,
}

impl LineDraft {
    /// The line's quantity, unit price, VAT rate and exemption reason read as numbers, or `None` while one of
    /// the three numbers does not read (a line still being typed). The one reading of a typed line used for
    /// its amount: [`LineDraft::net`], [`totals_so_far`] and [`totals_if_complete`] all go through it.
    pub fn amounts(&self) -> Option<LineAmounts> {
        Some(LineAmounts {
            quantity: Quantity::parse(&self.quantity).ok()?,
            unit_price: UnitPrice::parse(&self.unit_price).ok()?,
            vat_rate: VatRate::parse(&self.vat_rate).ok()?,
            exemption: self.exemption,
        })
    }

    /// The line's net amount (BT-131, see [`crate::money::line_net`]), or `None` while the quantity or the
    /// unit price (or the rate) does not read. The same amount the totals add up.
    pub fn net(&self) -> Option<Amount> {
        self.amounts().map(|amounts| amounts.net())
    }
}

/// The totals of the lines that read so far, as the editor shows them while the user types: a line whose
/// quantity, unit price or rate does not read counts for nothing (no lines at all give zero totals). `None`
/// only beyond the accepted range.
pub fn totals_so_far(lines: &[LineDraft]) -> Option<Totals> {
    compute_totals(lines.iter().filter_map(LineDraft::amounts)).ok()
}

/// The totals of the lines when every line reads and there is at least one, as an invoice's page shows its VAT
/// groups; `None` otherwise (the page then shows no groups rather than totals of part of the invoice).
pub fn totals_if_complete(lines: &[LineDraft]) -> Option<Totals> {
    if lines.is_empty() {
        return None;
    }
    let amounts: Option<Vec<LineAmounts>> = lines.iter().map(LineDraft::amounts).collect();
    compute_totals(amounts?).ok()
}

impl VatRateSet {
    /// The rates a draft is checked against, from its lines as typed: see [`VatRateSet::for_rates`] (the
    /// Corsican and overseas set when a line uses one of its own rates, the mainland set otherwise). A rate
    /// that does not read is ignored.
    pub fn inferred_from(lines: &[LineDraft]) -> Self {
        Self::for_rates(
            lines
                .iter()
                .filter_map(|line| VatRate::parse(&line.vat_rate).ok()),
        )
    }
}

/// An invoice or credit note as typed, before the check.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InvoiceDraft {
    /// Invoice or credit note (BT-3).
    pub document_type: DocumentType,
    /// The invoice a credit note corrects (BT-25).
    pub corrects: String,
    /// Number (BT-1).
    pub number: String,
    /// Issue date (BT-2).
    pub issue_date: Option<NaiveDate>,
    /// Due date (BT-9).
    pub due_date: Option<NaiveDate>,
    /// Delivery date (BT-72).
    pub delivery_date: Option<NaiveDate>,
    /// Currency (BT-5); `EUR` when empty.
    pub currency: String,
    /// The seller's (tenant's) SIREN, for uniqueness (G1.45).
    pub seller_siren: Option<Siren>,
    /// The seller's VAT rates (mainland by default).
    pub vat_rate_set: VatRateSet,
    /// The buyer.
    pub buyer: BuyerDraft,
    /// The lines.
    pub lines: Vec<LineDraft>,
    /// Purchase order reference (BT-13).
    pub purchase_order: String,
    /// Contract reference (BT-12).
    pub contract: String,
    /// Buyer reference (BT-10).
    pub buyer_reference: String,
    /// Notes (BT-22).
    pub notes: Vec<String>,
    /// Paid when issued (a cash sale, a prepaid order): the day it was paid. The order is then created `Paid`
    /// with this date, and Billit reports the payment (212) itself.
    #[serde(default)]
    pub paid_at_issue: Option<NaiveDate>,
}

/// What kind of problem the check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    /// BT-1 breaks G1.05.
    NumberInvalid,
    /// BT-1 already used this year by the seller (G1.45).
    NumberNotUnique,
    /// BT-2 missing.
    IssueDateMissing,
    /// BT-9 before BT-2.
    DueBeforeIssue,
    /// BT-5 invalid.
    CurrencyInvalid,
    /// The seller's SIREN is unknown.
    SellerSirenMissing,
    /// BT-44 missing.
    BuyerNameMissing,
    /// BT-47 missing.
    BuyerSirenMissing,
    /// BT-47 invalid.
    BuyerSirenInvalid,
    /// BT-46 invalid.
    BuyerSiretInvalid,
    /// BT-46 not of the buyer's SIREN.
    BuyerSiretMismatch,
    /// BT-48 invalid.
    BuyerVatInvalid,
    /// BT-48 not of the buyer's SIREN.
    BuyerVatMismatch,
    /// BT-49 missing.
    ElectronicAddressMissing,
    /// BT-49 invalid.
    ElectronicAddressInvalid,
    /// A contact email invalid.
    EmailInvalid,
    /// BT-55 invalid.
    CountryInvalid,
    /// No line.
    LinesMissing,
    /// BT-153 missing.
    LineDescriptionMissing,
    /// BT-129 invalid.
    QuantityInvalid,
    /// BT-146 invalid.
    UnitPriceInvalid,
    /// BT-152 invalid.
    VatRateInvalid,
    /// BT-152 not in the seller's rate set.
    VatRateNotAllowed,
    /// BT-121 missing on a 0 % line.
    ExemptionReasonMissing,
    /// BT-121 on a positive rate.
    ExemptionReasonUnexpected,
    /// BT-112 zero.
    TotalZero,
    /// BT-112 beyond the accepted range.
    TotalTooLarge,
    /// BT-25 missing on a credit note.
    CreditNoteReferenceMissing,
    /// BT-25 invalid.
    CreditNoteReferenceInvalid,
}

/// One problem found before submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The business term, e.g. `BT-1`.
    pub term: &'static str,
    /// What kind of problem.
    pub code: ProblemCode,
    /// The 0-based index of the line or contact email concerned.
    pub position: Option<usize>,
    /// In French.
    pub message_fr: String,
    /// In English.
    pub message_en: String,
}

impl Problem {
    fn new(
        term: &'static str,
        code: ProblemCode,
        fr: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        Self {
            term,
            code,
            position: None,
            message_fr: fr.into(),
            message_en: en.into(),
        }
    }

    fn from_error(term: &'static str, code: ProblemCode, error: &dyn Localized) -> Self {
        Self::new(term, code, error.message_fr(), error.message_en())
    }

    fn at(mut self, position: usize) -> Self {
        self.position = Some(position);
        self
    }

    /// The message in a language.
    pub fn message(&self, language: Language) -> &str {
        language.pick(&self.message_fr, &self.message_en)
    }
}

/// What makes an invoice number unique (G1.45): the number, the year of issue and the seller's SIREN.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UniquenessKey {
    /// The seller.
    pub seller_siren: Siren,
    /// The year of the issue date.
    pub year: i32,
    /// The number.
    pub number: InvoiceNumber,
}

/// Answers whether a number is already used; the caller implements it (e.g. with a database query
/// made beforehand). Implemented for closures and for sets of keys.
pub trait NumberUniqueness {
    /// Whether another invoice already uses this key.
    fn is_taken(&self, key: &UniquenessKey) -> bool;
}

impl<F: Fn(&UniquenessKey) -> bool> NumberUniqueness for F {
    fn is_taken(&self, key: &UniquenessKey) -> bool {
        self(key)
    }
}

impl NumberUniqueness for HashSet<UniquenessKey> {
    fn is_taken(&self, key: &UniquenessKey) -> bool {
        self.contains(key)
    }
}

/// The buyer, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Buyer {
    /// Legal name (BT-44).
    pub legal_name: String,
    /// SIREN (BT-47).
    pub siren: Siren,
    /// SIRET of the establishment (BT-46), which belongs to the SIREN.
    pub siret: Option<Siret>,
    /// VAT number (BT-48), which matches the SIREN.
    pub vat_number: Option<VatNumber>,
    /// Electronic address (BT-49).
    pub electronic_address: ElectronicAddress,
    /// Contact emails.
    pub contact_emails: Vec<Email>,
    /// Postal address, with `country_code` normalised to upper case.
    pub address: Address,
    /// Language.
    pub language: Language,
}

/// A line, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvoiceLine {
    /// Description (BT-153).
    pub description: String,
    /// Quantity (BT-129).
    pub quantity: Quantity,
    /// Unit code (BT-130).
    pub unit: Option<String>,
    /// Unit price excl. VAT (BT-146).
    pub unit_price: UnitPrice,
    /// VAT rate (BT-152).
    pub vat_rate: VatRate,
    /// Exemption reason (0 % lines only).
    pub exemption: Option<ExemptionReason>,
}

impl InvoiceLine {
    /// What the totals need.
    pub fn amounts(&self) -> LineAmounts {
        LineAmounts {
            quantity: self.quantity,
            unit_price: self.unit_price,
            vat_rate: self.vat_rate,
            exemption: self.exemption,
        }
    }

    /// The line's net amount.
    pub fn net(&self) -> Amount {
        self.amounts().net()
    }
}

/// Buyer references.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct BuyerReferences {
    /// Purchase order (BT-13).
    pub purchase_order: Option<String>,
    /// Contract (BT-12).
    pub contract: Option<String>,
    /// Buyer reference (BT-10).
    pub buyer_reference: Option<String>,
}

/// An invoice or credit note that passed [`check_before_submission`]. Built only by it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invoice {
    kind: InvoiceKind,
    number: InvoiceNumber,
    issue_date: NaiveDate,
    due_date: Option<NaiveDate>,
    delivery_date: Option<NaiveDate>,
    currency: Currency,
    seller_siren: Siren,
    buyer: Buyer,
    lines: Vec<InvoiceLine>,
    references: BuyerReferences,
    notes: Vec<String>,
    totals: Totals,
}

/// The result of a successful check.
pub type ValidInvoice = Invoice;

impl Invoice {
    /// Invoice or credit note.
    pub fn kind(&self) -> &InvoiceKind {
        &self.kind
    }
    /// Number (BT-1).
    pub fn number(&self) -> &InvoiceNumber {
        &self.number
    }
    /// Issue date (BT-2).
    pub fn issue_date(&self) -> NaiveDate {
        self.issue_date
    }
    /// Due date (BT-9).
    pub fn due_date(&self) -> Option<NaiveDate> {
        self.due_date
    }
    /// Delivery date (BT-72).
    pub fn delivery_date(&self) -> Option<NaiveDate> {
        self.delivery_date
    }
    /// Currency (BT-5).
    pub fn currency(&self) -> Currency {
        self.currency
    }
    /// The seller's SIREN.
    pub fn seller_siren(&self) -> Siren {
        self.seller_siren
    }
    /// The buyer.
    pub fn buyer(&self) -> &Buyer {
        &self.buyer
    }
    /// The lines.
    pub fn lines(&self) -> &[InvoiceLine] {
        &self.lines
    }
    /// Buyer references.
    pub fn references(&self) -> &BuyerReferences {
        &self.references
    }
    /// Notes (BT-22).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
    /// Totals and VAT groups.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }
    /// The uniqueness key (G1.45).
    pub fn uniqueness_key(&self) -> UniquenessKey {
        UniquenessKey {
            seller_siren: self.seller_siren,
            year: self.issue_date.year(),
            number: self.number.clone(),
        }
    }
}

fn optional(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// Checks a draft and returns the invoice, or every problem found.
///
/// Checked: number format (G1.05) and uniqueness (G1.45, through `uniqueness`), issue date,
/// due date not before it, currency, the buyer's name, SIREN (required), SIRET and VAT number
/// (valid and of that SIREN), electronic address (required), contact emails, country, lines
/// present with description, quantity, unit price, a VAT rate of the seller's set and an
/// exemption reason exactly when the rate is 0 %, a non-zero total, and a credit note's reference.
pub fn check_before_submission(
    draft: &InvoiceDraft,
    uniqueness: &dyn NumberUniqueness,
) -> Result<Invoice, Vec<Problem>> {
    let mut problems = Vec::new();

    let number = InvoiceNumber::parse(&draft.number)
        .map_err(|error| {
            problems.push(Problem::from_error(
                "BT-1",
                ProblemCode::NumberInvalid,
                &error,
            ))
        })
        .ok();

    let issue_date = draft.issue_date;
    if issue_date.is_none() {
        problems.push(Problem::new(
            "BT-2",
            ProblemCode::IssueDateMissing,
            "la date d'émission est manquante",
            "the issue date is missing",
        ));
    }
    if let (Some(issue), Some(due)) = (issue_date, draft.due_date)
        && due < issue
    {
        problems.push(Problem::new(
            "BT-9",
            ProblemCode::DueBeforeIssue,
            "la date d'échéance précède la date d'émission",
            "the due date is before the issue date",
        ));
    }

    let currency = if draft.currency.trim().is_empty() {
        Some(Currency::EUR)
    } else {
        Currency::parse(&draft.currency)
            .map_err(|error| {
                problems.push(Problem::from_error(
                    "BT-5",
                    ProblemCode::CurrencyInvalid,
                    &error,
                ))
            })
            .ok()
    };

    if draft.seller_siren.is_none() {
        problems.push(Problem::new(
            "BT-30",
            ProblemCode::SellerSirenMissing,
            "le SIREN du vendeur n'est pas renseigné",
            "the seller's SIREN is not set",
        ));
    }

    if let (Some(number), Some(issue), Some(seller)) = (&number, issue_date, draft.seller_siren) {
        let key = UniquenessKey {
            seller_siren: seller,
            year: issue.year(),
            number: number.clone(),
        };
        if uniqueness.is_taken(&key) {
            problems.push(Problem::new(
                "BT-1",
                ProblemCode::NumberNotUnique,
                format!(
                    "le numéro {} est déjà utilisé cette année ({})",
                    number.as_str(),
                    issue.year()
                ),
                format!(
                    "number {} is already used this year ({})",
                    number.as_str(),
                    issue.year()
                ),
            ));
        }
    }

    let kind = match draft.document_type {
        DocumentType::Invoice => Some(InvoiceKind::Invoice),
        DocumentType::CreditNote if draft.corrects.trim().is_empty() => {
            problems.push(Problem::new(
                "BT-25",
                ProblemCode::CreditNoteReferenceMissing,
                "un avoir doit indiquer la facture qu'il corrige",
                "a credit note must name the invoice it corrects",
            ));
            None
        }
        DocumentType::CreditNote => InvoiceNumber::parse(draft.corrects.trim())
            .map(|corrects| InvoiceKind::CreditNote { corrects })
            .map_err(|error| {
                problems.push(Problem::from_error(
                    "BT-25",
                    ProblemCode::CreditNoteReferenceInvalid,
                    &error,
                ));
            })
            .ok(),
    };

    let buyer = check_buyer(&draft.buyer, &mut problems);
    let lines = check_lines(&draft.lines, draft.vat_rate_set, &mut problems);

    let totals = lines.as_ref().and_then(|lines| {
        match compute_totals(lines.iter().map(InvoiceLine::amounts)) {
            Ok(totals) if totals.total_incl.is_zero() => {
                problems.push(Problem::new(
                    "BT-112",
                    ProblemCode::TotalZero,
                    "le montant total de la facture est nul",
                    "the invoice's total is zero",
                ));
                None
            }
            Ok(totals) => Some(totals),
            Err(error) => {
                problems.push(Problem::from_error(
                    "BT-112",
                    ProblemCode::TotalTooLarge,
                    &error,
                ));
                None
            }
        }
    });

    match (
        kind,
        number,
        issue_date,
        currency,
        draft.seller_siren,
        buyer,
        lines,
        totals,
    ) {
        (
            Some(kind),
            Some(number),
            Some(issue_date),
            Some(currency),
            Some(seller_siren),
            Some(buyer),
            Some(lines),
            Some(totals),
        ) if problems.is_empty() => Ok(Invoice {
            kind,
            number,
            issue_date,
            due_date: draft.due_date,
            delivery_date: draft.delivery_date,
            currency,
            seller_siren,
            buyer,
            lines,
            references: BuyerReferences {
                purchase_order: optional(&draft.purchase_order),
                contract: optional(&draft.contract),
                buyer_reference: optional(&draft.buyer_reference),
            },
            notes: draft
                .notes
                .iter()
                .filter_map(|note| optional(note))
                .collect(),
            totals,
        }),
        _ => Err(problems),
    }
}

fn check_buyer(draft: &BuyerDraft, problems: &mut Vec<Problem>) -> Option<Buyer> {
    let before = problems.len();
    let legal_name = draft.legal_name.trim().to_owned();
    if legal_name.is_empty() {
        problems.push(Problem::new(
            "BT-44",
            ProblemCode::BuyerNameMissing,
            "la raison sociale du client est manquante",
            "the customer's legal name is missing",
        ));
    }

    let siren = if draft.siren.trim().is_empty() {
        problems.push(Problem::new(
            "BT-47",
            ProblemCode::BuyerSirenMissing,
            "le SIREN du client est manquant",
            "the customer's SIREN is missing",
        ));
        None
    } else {
        Siren::parse(&draft.siren)
            .map_err(|error| {
                problems.push(Problem::from_error(
                    "BT-47",
                    ProblemCode::BuyerSirenInvalid,
                    &error,
                ))
            })
            .ok()
    };

    let siret = if draft.siret.trim().is_empty() {
        None
    } else {
        match Siret::parse(&draft.siret) {
            Ok(siret) if siren.is_some_and(|siren| siret.siren() != siren) => {
                problems.push(Problem::from_error(
                    "BT-46",
                    ProblemCode::BuyerSiretMismatch,
                    &SiretError::NotOfSiren,
                ));
                None
            }
            Ok(siret) => Some(siret),
            Err(error) => {
                problems.push(Problem::from_error(
                    "BT-46",
                    ProblemCode::BuyerSiretInvalid,
                    &error,
                ));
                None
            }
        }
    };

    let vat_number = if draft.vat_number.trim().is_empty() {
        None
    } else {
        match VatNumber::parse(&draft.vat_number) {
            Ok(vat) if siren.is_some_and(|siren| vat.siren() != siren) => {
                problems.push(Problem::from_error(
                    "BT-48",
                    ProblemCode::BuyerVatMismatch,
                    &VatNumberError::NotOfSiren,
                ));
                None
            }
            Ok(vat) => Some(vat),
            Err(error) => {
                problems.push(Problem::from_error(
                    "BT-48",
                    ProblemCode::BuyerVatInvalid,
                    &error,
                ));
                None
            }
        }
    };

    let electronic_address = if draft.electronic_address.trim().is_empty() {
        problems.push(Problem::new(
            "BT-49",
            ProblemCode::ElectronicAddressMissing,
            "l'adresse électronique du client est manquante",
            "the customer's electronic address is missing",
        ));
        None
    } else {
        ElectronicAddress::parse(&draft.electronic_address)
            .map_err(|error| {
                problems.push(Problem::from_error(
                    "BT-49",
                    ProblemCode::ElectronicAddressInvalid,
                    &error,
                ));
            })
            .ok()
    };

    let mut contact_emails = Vec::new();
    for (index, text) in draft.contact_emails.iter().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        match Email::parse(text) {
            Ok(email) => contact_emails.push(email),
            Err(error) => problems
                .push(Problem::from_error("BT-58", ProblemCode::EmailInvalid, &error).at(index)),
        }
    }

    let mut address = draft.address.clone();
    let typed = if address.country_code.trim().is_empty() {
        "FR"
    } else {
        address.country_code.as_str()
    };
    match country_code(typed) {
        Some(code) => address.country_code = code,
        None => problems.push(Problem::new(
            "BT-55",
            ProblemCode::CountryInvalid,
            "le code pays doit compter deux lettres (ISO 3166), par exemple FR",
            "the country code must be two letters (ISO 3166), e.g. FR",
        )),
    }

    if problems.len() != before {
        return None;
    }
    Some(Buyer {
        legal_name,
        siren: siren?,
        siret,
        vat_number,
        electronic_address: electronic_address?,
        contact_emails,
        address,
        language: draft.language,
    })
}

fn check_lines(
    drafts: &[LineDraft],
    rates: VatRateSet,
    problems: &mut Vec<Problem>,
) -> Option<Vec<InvoiceLine>> {
    if drafts.is_empty() {
        problems.push(Problem::new(
            "BG-25",
            ProblemCode::LinesMissing,
            "la facture doit compter au moins une ligne",
            "the invoice must have at least one line",
        ));
        return None;
    }
    let before = problems.len();
    let mut lines = Vec::with_capacity(drafts.len());
    for (index, draft) in drafts.iter().enumerate() {
        let description = draft.description.trim().to_owned();
        if description.is_empty() {
            problems.push(
                Problem::new(
                    "BT-153",
                    ProblemCode::LineDescriptionMissing,
                    format!("ligne {} : la désignation est manquante", index + 1),
                    format!("line {}: the description is missing", index + 1),
                )
                .at(index),
            );
        }
        let line_error = |term, code, error: MoneyError| {
            Problem::new(
                term,
                code,
                format!("ligne {} : {}", index + 1, error.message_fr()),
                format!("line {}: {}", index + 1, error.message_en()),
            )
            .at(index)
        };
        let quantity = Quantity::parse(&draft.quantity)
            .map_err(|error| {
                problems.push(line_error("BT-129", ProblemCode::QuantityInvalid, error))
            })
            .ok();
        let unit_price = UnitPrice::parse(&draft.unit_price)
            .map_err(|error| {
                problems.push(line_error("BT-146", ProblemCode::UnitPriceInvalid, error))
            })
            .ok();
        let vat_rate = VatRate::parse(&draft.vat_rate)
            .map_err(|error| {
                problems.push(line_error("BT-152", ProblemCode::VatRateInvalid, error))
            })
            .ok();
        if let Some(rate) = vat_rate {
            if !rates.allows(rate) {
                let allowed: Vec<String> = rates.rates().iter().map(ToString::to_string).collect();
                problems.push(
                    Problem::new(
                        "BT-152",
                        ProblemCode::VatRateNotAllowed,
                        format!("ligne {} : le taux de TVA {rate} % n'est pas permis (taux permis : {} %)", index + 1, allowed.join(", ")),
                        format!("line {}: the VAT rate {rate} % is not allowed (allowed rates: {} %)", index + 1, allowed.join(", ")),
                    )
                    .at(index),
                );
            }
            if rate.is_zero() && draft.exemption.is_none() {
                problems.push(
                    Problem::new(
                        "BT-121",
                        ProblemCode::ExemptionReasonMissing,
                        format!(
                            "ligne {} : un taux de 0 % exige un motif d'exonération",
                            index + 1
                        ),
                        format!(
                            "line {}: a 0 % rate requires an exemption reason",
                            index + 1
                        ),
                    )
                    .at(index),
                );
            }
            if !rate.is_zero() && draft.exemption.is_some() {
                problems.push(
                    Problem::new(
                        "BT-121",
                        ProblemCode::ExemptionReasonUnexpected,
                        format!(
                            "ligne {} : un motif d'exonération n'est permis qu'avec un taux de 0 %",
                            index + 1
                        ),
                        format!(
                            "line {}: an exemption reason is allowed only with a 0 % rate",
                            index + 1
                        ),
                    )
                    .at(index),
                );
            }
        }
        if let (Some(quantity), Some(unit_price), Some(vat_rate)) = (quantity, unit_price, vat_rate)
        {
            lines.push(InvoiceLine {
                description,
                quantity,
                unit: optional(&draft.unit),
                unit_price,
                vat_rate,
                exemption: draft.exemption,
            });
        }
    }
    (problems.len() == before).then_some(lines)
}
