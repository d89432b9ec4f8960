//! French and banking identifiers as parse-don't-validate newtypes.
//!
//! Each type can only be built through its `parse`, which normalises the input (spaces removed,
//! letters upper-cased where relevant) and returns a typed error that explains itself in French and
//! English (see [`Localized`]). No parser panics, whatever the input.

use crate::lang::Localized;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The SIREN of La Poste, whose SIRETs use a digit sum modulo 5 instead of the Luhn key.
pub const LA_POSTE_SIREN: &str = "356000000";

fn compact(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fn shorten(text: &str) -> String {
    text.chars().take(40).collect()
}

/// The Luhn check on a string of ASCII digits.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (index, byte) in digits.bytes().rev().enumerate() {
        if !byte.is_ascii_digit() {
            return false;
        }
        let mut digit = u32::from(byte - b'0');
        if index % 2 == 1 {
            digit *= 2;
            if digit > 9 {
                digit -= 9;
            }
        }
        sum += digit;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

fn digits_of_length(text: &str, length: usize) -> Result<(), DigitsProblem> {
    if text.is_empty() {
        Err(DigitsProblem::Empty)
    } else if !text.bytes().all(|b| b.is_ascii_digit()) {
        Err(DigitsProblem::NotDigits)
    } else if text.len() != length {
        Err(DigitsProblem::WrongLength(text.len()))
    } else {
        Ok(())
    }
}

enum DigitsProblem {
    Empty,
    NotDigits,
    WrongLength(usize),
}

// ---------------------------------------------------------------------------------------------
// SIREN
// ---------------------------------------------------------------------------------------------

/// Why a SIREN was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SirenError {
    /// Nothing was entered.
    #[error("the SIREN is missing")]
    Empty,
    /// Something other than digits.
    #[error("a SIREN contains digits only")]
    NotDigits,
    /// Not 9 digits.
    #[error("a SIREN has 9 digits ({0} given)")]
    WrongLength(usize),
    /// The Luhn key does not match.
    #[error("this SIREN is not valid (its check digit does not match)")]
    Checksum,
}

impl Localized for SirenError {
    fn message_fr(&self) -> String {
        match self {
            Self::Empty => "le SIREN est manquant".to_owned(),
            Self::NotDigits => "un SIREN ne contient que des chiffres".to_owned(),
            Self::WrongLength(found) => format!("un SIREN compte 9 chiffres ({found} saisis)"),
            Self::Checksum => {
                "ce SIREN n'est pas valide (la clé de contrôle ne correspond pas)".to_owned()
            }
        }
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// A SIREN: the 9-digit identifier of a French company, with a valid Luhn key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Siren(u32);

impl Siren {
    /// Parses 9 digits (spaces ignored) with a valid Luhn key.
    pub fn parse(text: &str) -> Result<Self, SirenError> {
        let digits = compact(text);
        digits_of_length(&digits, 9).map_err(|problem| match problem {
            DigitsProblem::Empty => SirenError::Empty,
            DigitsProblem::NotDigits => SirenError::NotDigits,
            DigitsProblem::WrongLength(found) => SirenError::WrongLength(found),
        })?;
        if !luhn_valid(&digits) {
            return Err(SirenError::Checksum);
        }
        digits.parse().map(Self).map_err(|_| SirenError::NotDigits)
    }

    /// The 9 digits.
    pub fn as_string(&self) -> String {
        format!("{:09}", self.0)
    }

    /// The number itself (used for the VAT key).
    pub const fn as_u32(&self) -> u32 {
        self.0
    }

    /// Whether this is La Poste.
    pub fn is_la_poste(&self) -> bool {
        self.as_string() == LA_POSTE_SIREN
    }

    /// The French VAT number derived from this SIREN.
    pub fn vat_number(&self) -> VatNumber {
        VatNumber::from_siren(*self)
    }

    /// The company's default electronic address, `0225:<SIREN>` (see [`ElectronicAddress::default_for`]).
    pub fn default_electronic_address(&self) -> ElectronicAddress {
        ElectronicAddress::default_for(*self)
    }
}

// ---------------------------------------------------------------------------------------------
// SIRET
// ---------------------------------------------------------------------------------------------

/// Why a SIRET was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiretError {
    /// Nothing was entered.
    #[error("the SIRET is missing")]
    Empty,
    /// Something other than digits.
    #[error("a SIRET contains digits only")]
    NotDigits,
    /// Not 14 digits.
    #[error("a SIRET has 14 digits ({0} given)")]
    WrongLength(usize),
    /// Its first 9 digits are not a valid SIREN.
    #[error("the first 9 digits of this SIRET are not a valid SIREN")]
    BadSiren,
    /// The key does not match.
    #[error("this SIRET is not valid (its check digit does not match)")]
    Checksum,
    /// The SIRET belongs to another company than the SIREN given.
    #[error("this SIRET does not start with the company's SIREN")]
    NotOfSiren,
}

impl Localized for SiretError {
    fn message_fr(&self) -> String {
        match self {
            Self::Empty => "le SIRET est manquant".to_owned(),
            Self::NotDigits => "un SIRET ne contient que des chiffres".to_owned(),
            Self::WrongLength(found) => format!("un SIRET compte 14 chiffres ({found} saisis)"),
            Self::BadSiren => {
                "les 9 premiers chiffres de ce SIRET ne forment pas un SIREN valide".to_owned()
            }
            Self::Checksum => {
                "ce SIRET n'est pas valide (la clé de contrôle ne correspond pas)".to_owned()
            }
            Self::NotOfSiren => "ce SIRET ne commence pas par le SIREN de l'entreprise".to_owned(),
        }
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// A SIRET: the 14-digit identifier of an establishment, starting with its company's SIREN.
///
/// The key is Luhn over the 14 digits, except for La Poste (SIREN 356000000) whose establishments'
/// SIRETs have a digit sum that is a multiple of 5 instead (its head office is Luhn-valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Siret(u64);

impl Siret {
    /// Parses 14 digits (spaces ignored) with a valid key and a valid SIREN prefix.
    pub fn parse(text: &str) -> Result<Self, SiretError> {
        let digits = compact(text);
        digits_of_length(&digits, 14).map_err(|problem| match problem {
            DigitsProblem::Empty => SiretError::Empty,
            DigitsProblem::NotDigits => SiretError::NotDigits,
            DigitsProblem::WrongLength(found) => SiretError::WrongLength(found),
        })?;
        let prefix = digits.get(..9).unwrap_or_default();
        if Siren::parse(prefix).is_err() {
            return Err(SiretError::BadSiren);
        }
        // La Poste's establishments use a digit sum that is a multiple of 5; its head office
        // (35600000000048) has a regular Luhn key, so either is accepted for La Poste.
        let valid = luhn_valid(&digits)
            || (prefix == LA_POSTE_SIREN
                && digits
                    .bytes()
                    .map(|b| u32::from(b - b'0'))
                    .sum::<u32>()
                    .is_multiple_of(5));
        if !valid {
            return Err(SiretError::Checksum);
        }
        digits.parse().map(Self).map_err(|_| SiretError::NotDigits)
    }

    /// Parses a SIRET and checks that it belongs to `siren`.
    pub fn parse_for(text: &str, siren: Siren) -> Result<Self, SiretError> {
        let siret = Self::parse(text)?;
        if siret.siren() == siren {
            Ok(siret)
        } else {
            Err(SiretError::NotOfSiren)
        }
    }

    /// The 14 digits.
    pub fn as_string(&self) -> String {
        format!("{:014}", self.0)
    }

    /// The company's SIREN (the first 9 digits).
    pub fn siren(&self) -> Siren {
        // The first 9 digits were checked to be a valid SIREN when parsing.
        Siren(u32::try_from(self.0 / 100_000).unwrap_or_default())
    }

    /// The establishment's number (NIC, the last 5 digits).
    pub fn nic(&self) -> String {
        format!("{:05}", self.0 % 100_000)
    }
}

// ---------------------------------------------------------------------------------------------
// VAT number
// ---------------------------------------------------------------------------------------------

/// Why a French VAT number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VatNumberError {
    /// Nothing was entered.
    #[error("the VAT number is missing")]
    Empty,
    /// Not a French VAT number.
    #[error("a French VAT number starts with FR")]
    NotFrench,
    /// Not FR + 11 characters.
    #[error("a French VAT number is FR followed by 11 digits")]
    BadFormat,
    /// The last 9 digits are not a valid SIREN.
    #[error("the last 9 digits of this VAT number are not a valid SIREN")]
    BadSiren,
    /// The key does not match the SIREN.
    #[error("the key of this VAT number does not match its SIREN (expected FR{expected:02})")]
    WrongKey {
        /// The key the SIREN gives.
        expected: u8,
    },
    /// The VAT number is valid but belongs to another SIREN.
    #[error("this VAT number does not match the SIREN")]
    NotOfSiren,
}

impl Localized for VatNumberError {
    fn message_fr(&self) -> String {
        match self {
            Self::Empty => "le numéro de TVA est manquant".to_owned(),
            Self::NotFrench => "un numéro de TVA français commence par FR".to_owned(),
            Self::BadFormat => "un numéro de TVA français est FR suivi de 11 chiffres".to_owned(),
            Self::BadSiren => {
                "les 9 derniers chiffres de ce numéro de TVA ne forment pas un SIREN valide"
                    .to_owned()
            }
            Self::WrongKey { expected } => {
                format!(
                    "la clé de ce numéro de TVA ne correspond pas à son SIREN (attendu FR{expected:02})"
                )
            }
            Self::NotOfSiren => "ce numéro de TVA ne correspond pas au SIREN".to_owned(),
        }
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// A French intra-community VAT number: `FR` + a 2-digit key + the SIREN,
/// with key = (12 + 3 × (SIREN mod 97)) mod 97.
///
/// Only numeric keys are supported (the alphabetic keys given to entities without a SIREN are refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VatNumber {
    key: u8,
    siren: Siren,
}

impl VatNumber {
    /// Derives the VAT number of a SIREN.
    pub fn from_siren(siren: Siren) -> Self {
        Self {
            key: Self::key_for(siren),
            siren,
        }
    }

    /// The key of a SIREN: (12 + 3 × (SIREN mod 97)) mod 97.
    pub fn key_for(siren: Siren) -> u8 {
        let key = (12 + 3 * (siren.as_u32() % 97)) % 97;
        u8::try_from(key).unwrap_or_default()
    }

    /// Parses `FR40303265045`, `fr 40 303 265 045`.
    pub fn parse(text: &str) -> Result<Self, VatNumberError> {
        let compacted = compact(text).to_ascii_uppercase();
        if compacted.is_empty() {
            return Err(VatNumberError::Empty);
        }
        let rest = compacted
            .strip_prefix("FR")
            .ok_or(VatNumberError::NotFrench)?;
        if rest.len() != 11 || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return Err(VatNumberError::BadFormat);
        }
        let (key_text, siren_text) = rest.split_at(2);
        let siren = Siren::parse(siren_text).map_err(|_| VatNumberError::BadSiren)?;
        let key: u8 = key_text.parse().map_err(|_| VatNumberError::BadFormat)?;
        let expected = Self::key_for(siren);
        if key != expected {
            return Err(VatNumberError::WrongKey { expected });
        }
        Ok(Self { key, siren })
    }

    /// Parses a VAT number and checks that it is the one of `siren`.
    pub fn parse_for(text: &str, siren: Siren) -> Result<Self, VatNumberError> {
        let vat = Self::parse(text)?;
        if vat.siren == siren {
            Ok(vat)
        } else {
            Err(VatNumberError::NotOfSiren)
        }
    }

    /// The SIREN it contains.
    pub const fn siren(&self) -> Siren {
        self.siren
    }

    /// The 2-digit key.
    pub const fn key(&self) -> u8 {
        self.key
    }

    /// `FR` + key + SIREN.
    pub fn as_string(&self) -> String {
        format!("FR{:02}{}", self.key, self.siren.as_string())
    }
}

// ---------------------------------------------------------------------------------------------
// IBAN and BIC
// ---------------------------------------------------------------------------------------------

/// Why an IBAN was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IbanError {
    /// Nothing was entered.
    #[error("the IBAN is missing")]
    Empty,
    /// Not two letters, two digits, then letters and digits.
    #[error("an IBAN is a country code, two check digits, then letters and digits")]
    BadFormat,
    /// The length is wrong for the country.
    #[error("an IBAN of {country} has {expected} characters ({found} given)")]
    WrongLength {
        /// The country code.
        country: String,
        /// The length that country uses.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// The mod-97 check fails.
    #[error("this IBAN is not valid (its check digits do not match)")]
    Checksum,
}

impl Localized for IbanError {
    fn message_fr(&self) -> String {
        match self {
            Self::Empty => "l'IBAN est manquant".to_owned(),
            Self::BadFormat => {
                "un IBAN est un code pays, deux chiffres de contrôle, puis des lettres et des chiffres".to_owned()
            }
            Self::WrongLength { country, expected, found } => {
                format!("un IBAN {country} compte {expected} caractères ({found} saisis)")
            }
            Self::Checksum => "cet IBAN n'est pas valide (les chiffres de contrôle ne correspondent pas)".to_owned(),
        }
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// IBAN lengths of the SEPA countries; other countries are accepted with 15 to 34 characters.
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AT", 20),
    ("BE", 16),
    ("BG", 22),
    ("CH", 21),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("EE", 20),
    ("ES", 24),
    ("FI", 18),
    ("FR", 27),
    ("GB", 22),
    ("GI", 23),
    ("GR", 27),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IS", 26),
    ("IT", 27),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MC", 27),
    ("MT", 31),
    ("NL", 18),
    ("NO", 15),
    ("PL", 28),
    ("PT", 25),
    ("RO", 24),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("VA", 22),
];

/// The ISO 7064 mod-97 remainder of an IBAN (country and check digits moved to the end).
fn iban_remainder(iban: &str) -> u32 {
    let rearranged = iban.bytes().skip(4).chain(iban.bytes().take(4));
    let mut remainder = 0u32;
    for byte in rearranged {
        let value = match byte {
            b'0'..=b'9' => u32::from(byte - b'0'),
            b'A'..=b'Z' => u32::from(byte - b'A') + 10,
            _ => return u32::MAX,
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder
}

/// An IBAN (International Bank Account Number), stored compact and upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iban(String);

impl Iban {
    /// Parses an IBAN (spaces ignored, any case) and checks mod 97 = 1.
    pub fn parse(text: &str) -> Result<Self, IbanError> {
        let iban = compact(text).to_ascii_uppercase();
        if iban.is_empty() {
            return Err(IbanError::Empty);
        }
        let bytes = iban.as_bytes();
        let well_formed = bytes.len() >= 5
            && bytes.iter().take(2).all(u8::is_ascii_uppercase)
            && bytes.iter().skip(2).take(2).all(u8::is_ascii_digit)
            && bytes.iter().all(u8::is_ascii_alphanumeric);
        if !well_formed {
            return Err(IbanError::BadFormat);
        }
        let country = iban.get(..2).unwrap_or_default();
        let expected = IBAN_LENGTHS
            .iter()
            .find(|(code, _)| *code == country)
            .map(|(_, length)| *length);
        match expected {
            Some(expected) if expected != iban.len() => {
                return Err(IbanError::WrongLength {
                    country: country.to_owned(),
                    expected,
                    found: iban.len(),
                });
            }
            None if !(15..=34).contains(&iban.len()) => return Err(IbanError::BadFormat),
            _ => {}
        }
        if iban_remainder(&iban) != 1 {
            return Err(IbanError::Checksum);
        }
        Ok(Self(iban))
    }

    /// The compact form, e.g. `FR7630006000011234567890189`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The country code.
    pub fn country(&self) -> &str {
        self.0.get(..2).unwrap_or_default()
    }

    /// Grouped by four for display: `FR76 3000 6000 0112 3456 7890 189`.
    pub fn formatted(&self) -> String {
        let mut out = String::with_capacity(self.0.len() + self.0.len() / 4);
        for (index, ch) in self.0.chars().enumerate() {
            if index > 0 && index % 4 == 0 {
                out.push(' ');
            }
            out.push(ch);
        }
        out
    }
}

/// Why a BIC was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BicError {
    /// Nothing was entered.
    #[error("the BIC is missing")]
    Empty,
    /// Not 8 or 11 characters of the right kinds.
    #[error(
        "a BIC has 8 or 11 characters: 4 letters (bank), 2 letters (country), 2 letters or digits (place), optionally 3 more (branch)"
    )]
    BadFormat,
}

impl Localized for BicError {
    fn message_fr(&self) -> String {
        match self {
            Self::Empty => "le BIC est manquant".to_owned(),
            Self::BadFormat => "un BIC compte 8 ou 11 caractères : 4 lettres (banque), 2 lettres (pays), 2 lettres ou chiffres (lieu), et éventuellement 3 de plus (agence)".to_owned(),
        }
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// A BIC (ISO 9362 bank identifier), upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Bic(String);

impl Bic {
    /// Parses 8 or 11 characters (spaces ignored, any case).
    pub fn parse(text: &str) -> Result<Self, BicError> {
        let bic = compact(text).to_ascii_uppercase();
        if bic.is_empty() {
            return Err(BicError::Empty);
        }
        let bytes = bic.as_bytes();
        let valid = matches!(bytes.len(), 8 | 11)
            && bytes.iter().take(6).all(u8::is_ascii_uppercase)
            && bytes.iter().skip(6).all(u8::is_ascii_alphanumeric);
        if valid {
            Ok(Self(bic))
        } else {
            Err(BicError::BadFormat)
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The country code (characters 5–6).
    pub fn country(&self) -> &str {
        self.0.get(4..6).unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------
// Email
// ---------------------------------------------------------------------------------------------

/// Why an email address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing was entered.
    #[error("the email address is missing")]
    Empty,
    /// Longer than 254 characters.
    #[error("this email address is too long")]
    TooLong,
    /// Not of the form name@domain.
    #[error("\"{0}\" is not a valid email address")]
    Invalid(String),
}

impl Localized for EmailError {
    fn message_fr(&self) -> String {
        match self {
            Self::Empty => "l'adresse e-mail est manquante".to_owned(),
            Self::TooLong => "cette adresse e-mail est trop longue".to_owned(),
            Self::Invalid(text) => format!("« {text} » n'est pas une adresse e-mail valide"),
        }
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// An email address: `local@domain`, ASCII, domain lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Parses a practical subset of RFC 5321 addresses (no quoted local parts, no IP literals).
    pub fn parse(text: &str) -> Result<Self, EmailError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let invalid = || EmailError::Invalid(shorten(trimmed));
        let (local, domain) = trimmed.split_once('@').ok_or_else(invalid)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let domain = domain.to_ascii_lowercase();
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
        if local_ok && domain_ok {
            Ok(Self(format!("{local}@{domain}")))
        } else {
            Err(invalid())
        }
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// ---------------------------------------------------------------------------------------------
// Country code
// ---------------------------------------------------------------------------------------------

/// An ISO 3166-1 alpha-2 country code, upper-cased (` fr ` → `FR`); `None` unless it is exactly two letters.
pub fn country_code(text: &str) -> Option<String> {
    let code = text.trim().to_ascii_uppercase();
    (code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase())).then_some(code)
}

// ---------------------------------------------------------------------------------------------
// Invoice number
// ---------------------------------------------------------------------------------------------

/// Why an invoice number (BT-1) breaks rule G1.05.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceNumberError {
    /// Nothing was entered.
    #[error("the invoice number is missing")]
    Empty,
    /// More than 35 characters.
    #[error("an invoice number has at most 35 characters ({0} given)")]
    TooLong(usize),
    /// A character outside letters, digits, space and - + _ /.
    #[error(
        "an invoice number may contain only letters, digits, spaces and - + _ / (found \"{0}\")"
    )]
    ForbiddenCharacter(char),
    /// Starts or ends with a space.
    #[error("an invoice number must not start or end with a space")]
    EdgeSpace,
    /// Two spaces in a row.
    #[error("an invoice number must not contain two spaces in a row")]
    DoubleSpace,
}

impl Localized for InvoiceNumberError {
    fn message_fr(&self) -> String {
        match self {
            Self::Empty => "le numéro de facture est manquant".to_owned(),
            Self::TooLong(found) => {
                format!("un numéro de facture compte au plus 35 caractères ({found} saisis)")
            }
            Self::ForbiddenCharacter(ch) => format!(
                "un numéro de facture ne peut contenir que des lettres, des chiffres, des espaces et - + _ / (trouvé « {ch} »)"
            ),
            Self::EdgeSpace => {
                "un numéro de facture ne doit ni commencer ni finir par une espace".to_owned()
            }
            Self::DoubleSpace => {
                "un numéro de facture ne doit pas contenir deux espaces de suite".to_owned()
            }
        }
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// An invoice number (BT-1) following rule G1.05: 1 to 35 characters among ASCII letters, digits,
/// space and `- + _ /`, with no leading, trailing or double space. Kept exactly as entered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InvoiceNumber(String);

impl InvoiceNumber {
    /// Checks rule G1.05 (the text is not trimmed: an edge space is an error).
    pub fn parse(text: &str) -> Result<Self, InvoiceNumberError> {
        if text.is_empty() {
            return Err(InvoiceNumberError::Empty);
        }
        if let Some(ch) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || " -+_/".contains(*c)))
        {
            return Err(InvoiceNumberError::ForbiddenCharacter(ch));
        }
        if text.len() > 35 {
            return Err(InvoiceNumberError::TooLong(text.len()));
        }
        if text.starts_with(' ') || text.ends_with(' ') {
            return Err(InvoiceNumberError::EdgeSpace);
        }
        if text.contains("  ") {
            return Err(InvoiceNumberError::DoubleSpace);
        }
        Ok(Self(text.to_owned()))
    }

    /// The number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// ---------------------------------------------------------------------------------------------
// Electronic address
// ---------------------------------------------------------------------------------------------

/// Why an electronic address (BT-49 / BT-34) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElectronicAddressError {
    /// Nothing was entered.
    #[error("the electronic address is missing")]
    Empty,
    /// A scheme other than 0225, 0002, 0009, 9957.
    #[error("unknown scheme \"{0}\" (expected 0225, 0002, 0009 or 9957)")]
    UnknownScheme(String),
    /// More than 100 characters.
    #[error("the electronic address is too long")]
    TooLong,
    /// A 0225 value that is not SIREN, SIREN_SIRET, SIREN_SIRET_ROUTINGCODE or SIREN_suffix.
    #[error(
        "a 0225 address is SIREN, SIREN_SIRET, SIREN_SIRET_ROUTINGCODE or SIREN_suffix (9 digits first)"
    )]
    BadCtc,
    /// A bad SIREN (scheme 0002).
    #[error("{0}")]
    Siren(SirenError),
    /// A bad SIRET (scheme 0009).
    #[error("{0}")]
    Siret(SiretError),
    /// A bad VAT number (scheme 9957).
    #[error("{0}")]
    Vat(VatNumberError),
}

impl Localized for ElectronicAddressError {
    fn message_fr(&self) -> String {
        match self {
            Self::Empty => "l'adresse électronique est manquante".to_owned(),
            Self::UnknownScheme(scheme) => {
                format!("schéma « {scheme} » inconnu (attendus : 0225, 0002, 0009 ou 9957)")
            }
            Self::TooLong => "l'adresse électronique est trop longue".to_owned(),
            Self::BadCtc => "une adresse 0225 s'écrit SIREN, SIREN_SIRET, SIREN_SIRET_CODEROUTAGE ou SIREN_suffixe (9 chiffres d'abord)".to_owned(),
            Self::Siren(error) => error.message_fr(),
            Self::Siret(error) => error.message_fr(),
            Self::Vat(error) => error.message_fr(),
        }
    }
    fn message_en(&self) -> String {
        self.to_string()
    }
}

/// The form of a scheme 0225 (CTC) address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CtcForm {
    /// `SIREN`.
    Siren,
    /// `SIREN_SIRET`.
    SirenSiret,
    /// `SIREN_SIRET_ROUTINGCODE`.
    SirenSiretRouting,
    /// `SIREN_suffix` (e.g. Billit's sandbox `127362116_DEMO`).
    SirenSuffix,
}

/// A scheme 0225 address as registered in the French directory.
///
/// The leading 9 digits are the company's SIREN. Its Luhn key is *not* enforced here, because
/// the platforms' test identifiers (`127362116_DEMO`, `227010068_ERROR`) do not have one;
/// [`CtcAddress::siren`] gives the SIREN when it is a valid one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CtcAddress {
    siren: String,
    siret: Option<String>,
    routing_code: Option<String>,
    suffix: Option<String>,
}

fn is_address_text(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
}

impl CtcAddress {
    /// The plain `SIREN` form of a company's address.
    pub fn of_siren(siren: Siren) -> Self {
        Self {
            siren: siren.as_string(),
            siret: None,
            routing_code: None,
            suffix: None,
        }
    }

    /// Parses the value part (after `0225:`).
    pub fn parse(value: &str) -> Result<Self, ElectronicAddressError> {
        let (siren, rest) = match value.split_once('_') {
            Some((siren, rest)) => (siren, Some(rest)),
            None => (value, None),
        };
        if siren.len() != 9 || !siren.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ElectronicAddressError::BadCtc);
        }
        let mut address = Self {
            siren: siren.to_owned(),
            siret: None,
            routing_code: None,
            suffix: None,
        };
        let Some(rest) = rest else {
            return Ok(address);
        };
        let (first, routing) = match rest.split_once('_') {
            Some((first, routing)) => (first, Some(routing)),
            None => (rest, None),
        };
        let is_siret = first.len() == 14
            && first.bytes().all(|b| b.is_ascii_digit())
            && first.starts_with(siren);
        if is_siret {
            address.siret = Some(first.to_owned());
            if let Some(routing) = routing {
                if !is_address_text(routing) {
                    return Err(ElectronicAddressError::BadCtc);
                }
                address.routing_code = Some(routing.to_owned());
            }
        } else {
            if !is_address_text(rest) {
                return Err(ElectronicAddressError::BadCtc);
            }
            address.suffix = Some(rest.to_owned());
        }
        Ok(address)
    }

    /// Which of the four forms this is.
    pub fn form(&self) -> CtcForm {
        match (&self.siret, &self.routing_code) {
            (Some(_), Some(_)) => CtcForm::SirenSiretRouting,
            (Some(_), None) => CtcForm::SirenSiret,
            (None, _) if self.suffix.is_some() => CtcForm::SirenSuffix,
            (None, _) => CtcForm::Siren,
        }
    }

    /// The leading 9 digits, as written.
    pub fn siren_digits(&self) -> &str {
        &self.siren
    }

    /// The SIREN, when the leading digits are a valid one.
    pub fn siren(&self) -> Option<Siren> {
        Siren::parse(&self.siren).ok()
    }

    /// The SIRET (forms with a SIRET), when valid.
    pub fn siret(&self) -> Option<Siret> {
        self.siret
            .as_deref()
            .and_then(|siret| Siret::parse(siret).ok())
    }

    /// The routing code (SIREN_SIRET_ROUTINGCODE form).
    pub fn routing_code(&self) -> Option<&str> {
        self.routing_code.as_deref()
    }

    /// The suffix (SIREN_suffix form), e.g. `DEMO`.
    pub fn suffix(&self) -> Option<&str> {
        self.suffix.as_deref()
    }

    /// The value as registered, e.g. `127362116_DEMO`.
    pub fn value(&self) -> String {
        let mut value = self.siren.clone();
        for part in [&self.siret, &self.routing_code, &self.suffix]
            .into_iter()
            .flatten()
        {
            value.push('_');
            value.push_str(part);
        }
        value
    }
}

/// An electronic address (BT-34 seller / BT-49 buyer): a scheme and a value.
///
/// Billit's routing preference is CTC (0225) > SIRET > SIREN > VAT.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ElectronicAddress {
    /// Scheme 0225: the French directory's CTC address.
    Ctc(CtcAddress),
    /// Scheme 0002: a SIREN.
    Siren(Siren),
    /// Scheme 0009: a SIRET.
    Siret(Siret),
    /// Scheme 9957: a French VAT number.
    Vat(VatNumber),
}

impl ElectronicAddress {
    /// Parses `scheme:value`, e.g. `0225:127362116_DEMO`, `0009:73282932000074`.
    /// Without a scheme, the value is read as a 0225 address.
    pub fn parse(text: &str) -> Result<Self, ElectronicAddressError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ElectronicAddressError::Empty);
        }
        if text.chars().count() > 100 {
            return Err(ElectronicAddressError::TooLong);
        }
        let (scheme, value) = text.split_once(':').unwrap_or(("0225", text));
        let value = value.trim();
        if value.is_empty() {
            return Err(ElectronicAddressError::Empty);
        }
        match scheme.trim() {
            "0225" => CtcAddress::parse(value).map(Self::Ctc),
            "0002" => Siren::parse(value)
                .map(Self::Siren)
                .map_err(ElectronicAddressError::Siren),
            "0009" => Siret::parse(value)
                .map(Self::Siret)
                .map_err(ElectronicAddressError::Siret),
            "9957" => VatNumber::parse(value)
                .map(Self::Vat)
                .map_err(ElectronicAddressError::Vat),
            other => Err(ElectronicAddressError::UnknownScheme(shorten(other))),
        }
    }

    /// A company's default electronic address: `0225:<SIREN>`, its entry in the French directory (the form
    /// Billit routes first). What a customer gets when no address is typed.
    pub fn default_for(siren: Siren) -> Self {
        Self::Ctc(CtcAddress::of_siren(siren))
    }

    /// `0225:<SIREN>_<suffix>`, e.g. Billit's sandbox receivers `…_DEMO`, `…_PAID`; the default address
    /// ([`ElectronicAddress::default_for`]) when `suffix` is empty. Fails when the suffix is not made of
    /// letters, digits, `-`, `.` and `_`, or makes the address too long.
    pub fn default_for_with_suffix(
        siren: Siren,
        suffix: &str,
    ) -> Result<Self, ElectronicAddressError> {
        let suffix = suffix.trim().trim_start_matches('_');
        if suffix.is_empty() {
            return Ok(Self::default_for(siren));
        }
        Self::parse(&format!("0225:{siren}_{suffix}"))
    }

    /// The scheme identifier: `0225`, `0002`, `0009` or `9957`.
    pub const fn scheme(&self) -> &'static str {
        match self {
            Self::Ctc(_) => "0225",
            Self::Siren(_) => "0002",
            Self::Siret(_) => "0009",
            Self::Vat(_) => "9957",
        }
    }

    /// The value without the scheme.
    pub fn value(&self) -> String {
        match self {
            Self::Ctc(address) => address.value(),
            Self::Siren(siren) => siren.as_string(),
            Self::Siret(siret) => siret.as_string(),
            Self::Vat(vat) => vat.as_string(),
        }
    }

    /// The company's SIREN, when the address names a valid one.
    pub fn siren(&self) -> Option<Siren> {
        match self {
            Self::Ctc(address) => address.siren(),
            Self::Siren(siren) => Some(*siren),
            Self::Siret(siret) => Some(siret.siren()),
            Self::Vat(vat) => Some(vat.siren()),
        }
    }

    /// Billit's routing preference, lower is preferred: CTC 0, SIRET 1, SIREN 2, VAT 3.
    pub const fn routing_rank(&self) -> u8 {
        match self {
            Self::Ctc(_) => 0,
            Self::Siret(_) => 1,
            Self::Siren(_) => 2,
            Self::Vat(_) => 3,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Common trait implementations
// ---------------------------------------------------------------------------------------------

macro_rules! text_identifier {
    ($name:ident, $error:ident, $to_string:expr) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let to_string: fn(&$name) -> String = $to_string;
                f.write_str(&to_string(self))
            }
        }

        impl FromStr for $name {
            type Err = $error;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $error;
            fn try_from(text: String) -> Result<Self, Self::Error> {
                Self::parse(&text)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = $error;
            fn try_from(text: &str) -> Result<Self, Self::Error> {
                Self::parse(text)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.to_string()
            }
        }
    };
}

text_identifier!(Siren, SirenError, |v| v.as_string());
text_identifier!(Siret, SiretError, |v| v.as_string());
text_identifier!(VatNumber, VatNumberError, |v| v.as_string());
text_identifier!(Iban, IbanError, |v| v.0.clone());
text_identifier!(Bic, BicError, |v| v.0.clone());
text_identifier!(Email, EmailError, |v| v.0.clone());
text_identifier!(InvoiceNumber, InvoiceNumberError, |v| v.0.clone());
text_identifier!(ElectronicAddress, ElectronicAddressError, |v| format!(
    "{}:{}",
    v.scheme(),
    v.value()
));
