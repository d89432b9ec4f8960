//! Money and VAT: exact decimals, the French VAT rates, exemption reasons and invoice totals.
//!
//! Rules (the way Billit reports `VatGroups`):
//! - quantities and unit prices carry at most 5 decimals, amounts exactly 2;
//! - a line's net amount is quantity × unit price rounded half-up (away from zero) to the cent;
//! - VAT is computed once per VAT group (same rate and same exemption reason): the sum of the group's
//!   line nets × rate, rounded half-up to the cent;
//! - the total including VAT is the sum of the nets plus the sum of the groups' VAT.
//!
//! Amounts are never negative in this crate: a credit note is a document of kind credit note with
//! positive amounts (as Billit's `OrderType: "CreditNote"`), so quantities must be positive and unit
//! prices non-negative. Discount lines with negative prices are refused for now.

use crate::lang::Localized;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Decimals allowed on a quantity.
pub const QUANTITY_SCALE: u32 = 5;
/// Decimals allowed on a unit price.
pub const UNIT_PRICE_SCALE: u32 = 5;
/// Decimals of an amount (cents).
pub const AMOUNT_SCALE: u32 = 2;

/// The largest quantity or unit price accepted (one billion), which keeps every product exact.
const MAX_FACTOR: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);
/// The largest amount accepted: 10^18 (the largest line net; sums stay far from the decimal's limits).
const MAX_AMOUNT: Decimal = Decimal::from_parts(2_808_348_672, 232_830_643, 0, false, 0);

/// Why a number could not be accepted as money, a quantity, a price or a VAT rate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Nothing was entered.
    #[error("no number was given")]
    Empty,
    /// The text is not a decimal number.
    #[error("\"{0}\" is not a number")]
    NotANumber(String),
    /// Too many decimals.
    #[error("at most {max} decimals are allowed")]
    TooManyDecimals {
        /// The decimals allowed.
        max: u32,
    },
    /// A negative value where it is not allowed.
    #[error("the value must not be negative")]
    Negative,
    /// A zero quantity.
    #[error("the quantity must be greater than zero")]
    Zero,
    /// A value beyond the accepted range.
    #[error("the value is too large")]
    TooLarge,
    /// A VAT rate outside 0–100 %.
    #[error("a VAT rate must be between 0 and 100 %")]
    RateOutOfRange,
    /// A currency code that is not three capital letters.
    #[error("\"{0}\" is not an ISO 4217 currency code")]
    BadCurrency(String),
}

impl Localized for MoneyError {
    fn message_fr(&self) -> String {
        match self {
            Self::Empty => "aucun nombre n'a été saisi".to_owned(),
            Self::NotANumber(text) => format!("« {text} » n'est pas un nombre"),
            Self::TooManyDecimals { max } => format!("au plus {max} décimales sont permises"),
            Self::Negative => "la valeur ne doit pas être négative".to_owned(),
            Self::Zero => "la quantité doit être supérieure à zéro".to_owned(),
            Self::TooLarge => "la valeur est trop grande".to_owned(),
            Self::RateOutOfRange => "un taux de TVA doit être compris entre 0 et 100 %".to_owned(),
            Self::BadCurrency(text) => format!("« {text} » n'est pas un code devise ISO 4217"),
        }
    }

    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// Parses user or API text into a decimal: trims, accepts a decimal comma (`12,50`) and
/// spaces as thousands separators, refuses exponents and anything else.
pub fn parse_decimal(text: &str) -> Result<Decimal, MoneyError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(MoneyError::Empty);
    }
    let not_a_number = || MoneyError::NotANumber(shorten(trimmed));
    let mut cleaned: String = trimmed
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
        .collect();
    if cleaned.contains(',') {
        if cleaned.contains('.') || cleaned.matches(',').count() > 1 {
            return Err(not_a_number());
        }
        cleaned = cleaned.replace(',', ".");
    }
    let body = cleaned.strip_prefix(['-', '+']).unwrap_or(&cleaned);
    let valid_shape = !body.is_empty()
        && body.chars().all(|c| c.is_ascii_digit() || c == '.')
        && body.matches('.').count() <= 1
        && body.chars().any(|c| c.is_ascii_digit());
    if !valid_shape || cleaned.len() > 40 {
        return Err(if valid_shape {
            MoneyError::TooLarge
        } else {
            not_a_number()
        });
    }
    Decimal::from_str_exact(&cleaned).map_err(|_| MoneyError::TooLarge)
}

fn shorten(text: &str) -> String {
    text.chars().take(40).collect()
}

fn check_scale(value: Decimal, max: u32) -> Result<Decimal, MoneyError> {
    let normalized = value.normalize();
    if normalized.scale() > max {
        Err(MoneyError::TooManyDecimals { max })
    } else {
        Ok(normalized)
    }
}

/// Rounds half-up (away from zero on a midpoint) to cents.
pub fn round_to_cents(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(AMOUNT_SCALE, RoundingStrategy::MidpointAwayFromZero)
}

macro_rules! decimal_newtype_common {
    ($name:ident) => {
        impl $name {
            /// The exact decimal value.
            pub const fn value(self) -> Decimal {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = MoneyError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text)
            }
        }

        impl TryFrom<Decimal> for $name {
            type Error = MoneyError;
            fn try_from(value: Decimal) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for Decimal {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

/// An amount of money: non-negative, exactly two decimals (stored with scale 2, so it prints `400.00`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct Amount(Decimal);

impl Amount {
    /// Zero euros.
    pub const ZERO: Self = Self(Decimal::from_parts(0, 0, 0, false, 2));

    /// Accepts a non-negative value with at most 2 decimals.
    pub fn new(value: Decimal) -> Result<Self, MoneyError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(MoneyError::Negative);
        }
        let mut value = check_scale(value, AMOUNT_SCALE)?;
        if value > MAX_AMOUNT {
            return Err(MoneyError::TooLarge);
        }
        value.set_sign_positive(true);
        value.rescale(AMOUNT_SCALE);
        Ok(Self(value))
    }

    /// Parses text such as `480.00`, `480`, `1 234,56`.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        Self::new(parse_decimal(text)?)
    }

    /// Rounds any non-negative value half-up to cents.
    pub fn round(value: Decimal) -> Result<Self, MoneyError> {
        Self::new(round_to_cents(value))
    }

    /// An amount from a number of cents.
    pub fn from_cents(cents: u64) -> Result<Self, MoneyError> {
        Self::new(Decimal::new(
            i64::try_from(cents).map_err(|_| MoneyError::TooLarge)?,
            2,
        ))
    }

    /// `self + other`, or `None` beyond the accepted range.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0
            .checked_add(other.0)
            .and_then(|sum| Self::new(sum).ok())
    }

    /// Whether the amount is zero.
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// The amount in cents, as the storage keeps totals: exact (an amount always has two decimals) up to
    /// `i64::MAX` cents, about 9.2 × 10^16 euros, and saturating at `i64::MAX` beyond.
    pub fn cents(self) -> i64 {
        i64::try_from(self.0.mantissa()).unwrap_or(i64::MAX)
    }
}

/// Any decimal amount in cents, rounded half away from zero (the rounding of [`round_to_cents`]), saturating
/// at the bounds of `i64` instead of failing: for amounts read from Billit's files (which may carry more
/// decimals, or be negative) that must still be shown or stored.
pub fn cents_of(value: Decimal) -> i64 {
    let Some(scaled) = value.checked_mul(Decimal::ONE_HUNDRED) else {
        return if value.is_sign_negative() {
            i64::MIN
        } else {
            i64::MAX
        };
    };
    let cents = scaled.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(cents).unwrap_or(if cents.is_sign_negative() {
        i64::MIN
    } else {
        i64::MAX
    })
}

decimal_newtype_common!(Amount);

/// A quantity (BT-129): strictly positive, at most 5 decimals, at most one billion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct Quantity(Decimal);

impl Quantity {
    /// Accepts a value in (0, 10^9] with at most 5 decimals.
    pub fn new(value: Decimal) -> Result<Self, MoneyError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(MoneyError::Negative);
        }
        if value.is_zero() {
            return Err(MoneyError::Zero);
        }
        let value = check_scale(value, QUANTITY_SCALE)?;
        if value > MAX_FACTOR {
            return Err(MoneyError::TooLarge);
        }
        Ok(Self(value))
    }

    /// Parses text such as `1`, `2.5`, `0,125`.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        Self::new(parse_decimal(text)?)
    }
}

decimal_newtype_common!(Quantity);

/// A unit price excluding VAT (BT-146): non-negative, at most 5 decimals, at most one billion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct UnitPrice(Decimal);

impl UnitPrice {
    /// Accepts a value in [0, 10^9] with at most 5 decimals.
    pub fn new(value: Decimal) -> Result<Self, MoneyError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(MoneyError::Negative);
        }
        let mut value = check_scale(value, UNIT_PRICE_SCALE)?;
        if value > MAX_FACTOR {
            return Err(MoneyError::TooLarge);
        }
        value.set_sign_positive(true);
        Ok(Self(value))
    }

    /// Parses text such as `400`, `19.99999`.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        Self::new(parse_decimal(text)?)
    }
}

decimal_newtype_common!(UnitPrice);

/// A currency (BT-5): three capital letters (ISO 4217). Euro by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// The euro.
    pub const EUR: Self = Self(*b"EUR");

    /// Parses a three-letter code in any case.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        let upper = text.trim().to_ascii_uppercase();
        match upper.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => Ok(Self([*a, *b, *c])),
            _ => Err(MoneyError::BadCurrency(shorten(text.trim()))),
        }
    }

    /// The code, e.g. `EUR`.
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("EUR")
    }
}

impl Default for Currency {
    fn default() -> Self {
        Self::EUR
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.code().to_owned()
    }
}

/// A VAT rate in percent (BT-152): between 0 and 100, at most 2 decimals (e.g. `5.5`, `1.05`).
///
/// Whether a rate may be used is a separate question, answered by [`VatRateSet::allows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct VatRate(Decimal);

impl VatRate {
    /// 20 %, the normal rate.
    pub const STANDARD: Self = Self(Decimal::from_parts(20, 0, 0, false, 0));
    /// 10 %, the intermediate rate.
    pub const INTERMEDIATE: Self = Self(Decimal::from_parts(10, 0, 0, false, 0));
    /// 5.5 %, the reduced rate.
    pub const REDUCED: Self = Self(Decimal::from_parts(55, 0, 0, false, 1));
    /// 2.1 %, the super-reduced rate.
    pub const SUPER_REDUCED: Self = Self(Decimal::from_parts(21, 0, 0, false, 1));
    /// 0 %: requires an [`ExemptionReason`].
    pub const ZERO: Self = Self(Decimal::from_parts(0, 0, 0, false, 0));
    /// 13 % (Corsica: petroleum products).
    pub const CORSICA_13: Self = Self(Decimal::from_parts(13, 0, 0, false, 0));
    /// 0.9 % (Corsica: some press and live shows).
    pub const CORSICA_0_9: Self = Self(Decimal::from_parts(9, 0, 0, false, 1));
    /// 8.5 % (Guadeloupe, Martinique, La Réunion: normal rate).
    pub const OVERSEAS_8_5: Self = Self(Decimal::from_parts(85, 0, 0, false, 1));
    /// 1.75 % (Guadeloupe, Martinique, La Réunion: reduced rate).
    pub const OVERSEAS_1_75: Self = Self(Decimal::from_parts(175, 0, 0, false, 2));
    /// 1.05 % (Guadeloupe, Martinique, La Réunion: press, medicines).
    pub const OVERSEAS_1_05: Self = Self(Decimal::from_parts(105, 0, 0, false, 2));

    /// Accepts a percentage between 0 and 100 with at most 2 decimals.
    pub fn new(value: Decimal) -> Result<Self, MoneyError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(MoneyError::RateOutOfRange);
        }
        let mut value = check_scale(value, 2)?;
        if value > Decimal::ONE_HUNDRED {
            return Err(MoneyError::RateOutOfRange);
        }
        value.set_sign_positive(true);
        Ok(Self(value))
    }

    /// Parses `20`, `5.5`, `5,5`, `20 %`.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        let text = text.trim();
        let text = text.strip_suffix('%').unwrap_or(text);
        Self::new(parse_decimal(text)?)
    }

    /// Whether this is 0 % (an exemption reason is then required).
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// The VAT on a base amount: base × rate / 100, rounded half-up to cents.
    pub fn vat_on(self, base: Amount) -> Option<Amount> {
        let product = base
            .0
            .checked_mul(self.0)?
            .checked_div(Decimal::ONE_HUNDRED)?;
        Amount::round(product).ok()
    }
}

decimal_newtype_common!(VatRate);

/// The sets of VAT rates a French supplier may use, by territory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VatRateSet {
    /// Mainland France: 20, 10, 5.5, 2.1 and 0 %.
    #[default]
    Mainland,
    /// Corsica and the overseas departments where VAT applies (Guadeloupe, Martinique, La Réunion):
    /// the mainland rates plus 13 and 0.9 % (Corsica) and 8.5, 1.75 and 1.05 % (overseas).
    CorsicaAndOverseas,
}

const MAINLAND_RATES: [VatRate; 5] = [
    VatRate::STANDARD,
    VatRate::INTERMEDIATE,
    VatRate::REDUCED,
    VatRate::SUPER_REDUCED,
    VatRate::ZERO,
];

const CORSICA_AND_OVERSEAS_RATES: [VatRate; 10] = [
    VatRate::STANDARD,
    VatRate::CORSICA_13,
    VatRate::INTERMEDIATE,
    VatRate::OVERSEAS_8_5,
    VatRate::REDUCED,
    VatRate::SUPER_REDUCED,
    VatRate::OVERSEAS_1_75,
    VatRate::OVERSEAS_1_05,
    VatRate::CORSICA_0_9,
    VatRate::ZERO,
];

impl VatRateSet {
    /// The rates of the set, highest first.
    pub fn rates(self) -> &'static [VatRate] {
        match self {
            Self::Mainland => &MAINLAND_RATES,
            Self::CorsicaAndOverseas => &CORSICA_AND_OVERSEAS_RATES,
        }
    }

    /// Whether the rate belongs to the set.
    pub fn allows(self, rate: VatRate) -> bool {
        self.rates().contains(&rate)
    }

    /// The set the rates of an invoice belong to: [`CorsicaAndOverseas`](Self::CorsicaAndOverseas) when one
    /// of them is a Corsican or overseas rate (not a mainland one), [`Mainland`](Self::Mainland) otherwise.
    ///
    /// The portal does not ask where the supplier is: the territory follows from the rates chosen. A rate of
    /// neither set (e.g. 7 %) does not decide anything; the check then refuses it against the mainland set.
    /// See also [`VatRateSet::inferred_from`] for lines as typed.
    pub fn for_rates<I>(rates: I) -> Self
    where
        I: IntoIterator<Item = VatRate>,
    {
        let overseas = rates
            .into_iter()
            .any(|rate| !Self::Mainland.allows(rate) && Self::CorsicaAndOverseas.allows(rate));
        if overseas {
            Self::CorsicaAndOverseas
        } else {
            Self::Mainland
        }
    }
}

/// The VAT category of a line or group (UNCL 5305, BT-151 / BT-118).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VatCategory {
    /// `S`: VAT at a positive rate.
    Standard,
    /// `E`: exempt from VAT.
    Exempt,
    /// `AE`: reverse charge (autoliquidation).
    ReverseCharge,
    /// `K`: intra-community supply.
    IntraCommunity,
    /// `G`: export outside the EU.
    Export,
    /// `O`: outside the scope of VAT.
    OutsideScope,
}

impl VatCategory {
    /// The UNCL 5305 code.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Standard => "S",
            Self::Exempt => "E",
            Self::ReverseCharge => "AE",
            Self::IntraCommunity => "K",
            Self::Export => "G",
            Self::OutsideScope => "O",
        }
    }
}

/// Why a line carries 0 % VAT (BT-120 / BT-121). Required with a 0 % rate, refused otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExemptionReason {
    /// VAT-exempt small business (franchise en base, article 293 B of the CGI).
    FranchiseEnBase,
    /// Exempt operation under articles 261 and following of the CGI (health, teaching, …).
    ExemptArticle261,
    /// Reverse charge: the buyer pays the VAT (article 283 of the CGI).
    ReverseCharge,
    /// Intra-community supply of goods (article 262 ter I of the CGI).
    IntraCommunitySupply,
    /// Export outside the EU (article 262 I of the CGI).
    Export,
    /// Not subject to VAT (outside the scope).
    OutsideScope,
}

impl ExemptionReason {
    /// Every reason.
    pub const ALL: [Self; 6] = [
        Self::FranchiseEnBase,
        Self::ExemptArticle261,
        Self::ReverseCharge,
        Self::IntraCommunitySupply,
        Self::Export,
        Self::OutsideScope,
    ];

    /// The VATEX code (BT-121).
    pub const fn vatex_code(self) -> &'static str {
        match self {
            Self::FranchiseEnBase => "VATEX-FR-FRANCHISE",
            Self::ExemptArticle261 => "VATEX-EU-132",
            Self::ReverseCharge => "VATEX-EU-AE",
            Self::IntraCommunitySupply => "VATEX-EU-IC",
            Self::Export => "VATEX-EU-G",
            Self::OutsideScope => "VATEX-EU-O",
        }
    }

    /// The VAT category this reason implies.
    pub const fn category(self) -> VatCategory {
        match self {
            Self::FranchiseEnBase | Self::ExemptArticle261 => VatCategory::Exempt,
            Self::ReverseCharge => VatCategory::ReverseCharge,
            Self::IntraCommunitySupply => VatCategory::IntraCommunity,
            Self::Export => VatCategory::Export,
            Self::OutsideScope => VatCategory::OutsideScope,
        }
    }

    /// The legal mention printed on the invoice (BT-120), in French.
    pub const fn mention_fr(self) -> &'static str {
        match self {
            Self::FranchiseEnBase => "TVA non applicable, art. 293 B du CGI",
            Self::ExemptArticle261 => "Exonération de TVA, art. 261 du CGI",
            Self::ReverseCharge => "Autoliquidation",
            Self::IntraCommunitySupply => "Exonération de TVA, art. 262 ter I du CGI",
            Self::Export => "Exonération de TVA, art. 262 I du CGI",
            Self::OutsideScope => "Hors champ d'application de la TVA",
        }
    }

    /// The same mention in English.
    pub const fn mention_en(self) -> &'static str {
        match self {
            Self::FranchiseEnBase => "VAT not applicable, art. 293 B of the French tax code",
            Self::ExemptArticle261 => "VAT exempt, art. 261 of the French tax code",
            Self::ReverseCharge => "Reverse charge",
            Self::IntraCommunitySupply => "Intra-community supply, VAT exempt",
            Self::Export => "Export outside the EU, VAT exempt",
            Self::OutsideScope => "Outside the scope of VAT",
        }
    }

    /// Finds a reason by its VATEX code (any case).
    pub fn from_vatex(code: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|reason| reason.vatex_code().eq_ignore_ascii_case(code.trim()))
    }
}

/// What [`compute_totals`] needs of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineAmounts {
    /// The quantity.
    pub quantity: Quantity,
    /// The unit price excluding VAT.
    pub unit_price: UnitPrice,
    /// The VAT rate.
    pub vat_rate: VatRate,
    /// The exemption reason (0 % lines).
    pub exemption: Option<ExemptionReason>,
}

impl LineAmounts {
    /// The line's net amount (BT-131): see [`line_net`].
    pub fn net(&self) -> Amount {
        line_net(self.quantity, self.unit_price)
    }
}

/// A line's net amount (BT-131): quantity × unit price, rounded half away from zero to the cent.
///
/// This is the one computation of a line amount: the page's line amounts, the editor's, and the totals
/// ([`compute_totals`]: the VAT base of each group is the sum of these rounded nets, and the total excluding VAT
/// too) all use it, so a page's lines always add up to its totals. EN 16931 defines BT-131 as quantity ×
/// (price / base quantity) + line charges − line allowances, with at most 2 decimals (BR-DEC-23); the portal has
/// no base quantity (always 1) and no line allowances or charges, so it is the rounded product. Rounding each
/// line first and then adding (rather than adding the exact products and rounding once) is what the standard
/// asks: BT-106 is the sum of the BT-131s as they are printed.
pub fn line_net(quantity: Quantity, unit_price: UnitPrice) -> Amount {
    // Both factors are at most 10^9 with 5 decimals, so the product is exact and at most 10^18.
    let product = quantity
        .0
        .checked_mul(unit_price.0)
        .unwrap_or(Decimal::ZERO);
    Amount::round(product).unwrap_or(Amount::ZERO)
}

/// The totals of one VAT group (BG-23), as Billit's `VatGroups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VatGroup {
    /// The rate.
    pub rate: VatRate,
    /// The category (from the exemption reason; `Standard` for positive rates).
    pub category: VatCategory,
    /// The exemption reason, for 0 % groups.
    pub exemption: Option<ExemptionReason>,
    /// The taxable base: the sum of the group's line nets (BT-116).
    pub base: Amount,
    /// The group's VAT: base × rate rounded half-up (BT-117).
    pub vat: Amount,
}

impl VatGroup {
    /// base + VAT.
    pub fn total_incl(&self) -> Amount {
        self.base.checked_add(self.vat).unwrap_or(self.base)
    }
}

/// The totals of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Each line's net amount, in line order (BT-131).
    pub lines: Vec<Amount>,
    /// The VAT groups, highest rate first.
    pub vat_groups: Vec<VatGroup>,
    /// The sum of line nets (BT-106 / BT-109).
    pub total_excl: Amount,
    /// The sum of the groups' VAT (BT-110).
    pub total_vat: Amount,
    /// total excl. + VAT (BT-112).
    pub total_incl: Amount,
}

/// Computes line nets, VAT groups and totals. Fails only beyond 10^18 (`MoneyError::TooLarge`).
pub fn compute_totals<I>(lines: I) -> Result<Totals, MoneyError>
where
    I: IntoIterator<Item = LineAmounts>,
{
    let mut nets = Vec::new();
    let mut groups: BTreeMap<(std::cmp::Reverse<VatRate>, Option<ExemptionReason>), Amount> =
        BTreeMap::new();
    let mut total_excl = Amount::ZERO;
    for line in lines {
        let net = line.net();
        nets.push(net);
        total_excl = total_excl.checked_add(net).ok_or(MoneyError::TooLarge)?;
        let exemption = if line.vat_rate.is_zero() {
            line.exemption
        } else {
            None
        };
        let base = groups
            .entry((std::cmp::Reverse(line.vat_rate), exemption))
            .or_insert(Amount::ZERO);
        *base = base.checked_add(net).ok_or(MoneyError::TooLarge)?;
    }
    let mut vat_groups = Vec::with_capacity(groups.len());
    let mut total_vat = Amount::ZERO;
    for ((std::cmp::Reverse(rate), exemption), base) in groups {
        let vat = rate.vat_on(base).ok_or(MoneyError::TooLarge)?;
        total_vat = total_vat.checked_add(vat).ok_or(MoneyError::TooLarge)?;
        let category = exemption.map_or(VatCategory::Standard, ExemptionReason::category);
        vat_groups.push(VatGroup {
            rate,
            category,
            exemption,
            base,
            vat,
        });
    }
    let total_incl = total_excl
        .checked_add(total_vat)
        .ok_or(MoneyError::TooLarge)?;
    Ok(Totals {
        lines: nets,
        vat_groups,
        total_excl,
        total_vat,
        total_incl,
    })
}
