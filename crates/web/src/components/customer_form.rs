//! The customer form: what was typed, kept as typed for the page, and its conversion into the repository's
//! [`CustomerInput`] by the domain's rules, with one message per field at fault.

use crate::i18n::Tr;
use portal_domain::identifiers::{ElectronicAddress, Email, Siren, Siret, VatNumber, country_code};
use portal_domain::invoice::Address;
use portal_domain::{Language, Localized};
use portal_persistence::customers::{Customer, CustomerInput};
use serde::Deserialize;

/// Longest legal name, street, additional line and city accepted (a long name is a typing accident).
const MAX_TEXT: usize = 200;
/// The column's width.
const MAX_POSTCODE: usize = 16;

/// The form as typed. Every field defaults to empty, so a field the browser left out is a validation message,
/// not a bare 400.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CustomerForm {
    pub legal_name: String,
    pub siren: String,
    pub siret: String,
    pub vat_number: String,
    pub electronic_address: String,
    /// One or more addresses, separated by commas, semicolons or new lines.
    pub contact_emails: String,
    pub street: String,
    pub additional: String,
    pub postcode: String,
    pub city: String,
    pub country: String,
    pub language: String,
    /// The "exclude from reminders" checkbox (`on` when ticked; absent otherwise).
    pub exclude_from_reminders: String,
}

/// One message per field, shown next to it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors {
    pub legal_name: Option<String>,
    pub siren: Option<String>,
    pub siret: Option<String>,
    pub vat_number: Option<String>,
    pub electronic_address: Option<String>,
    pub contact_emails: Option<String>,
    pub street: Option<String>,
    pub additional: Option<String>,
    pub postcode: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub language: Option<String>,
}

impl FieldErrors {
    pub fn any(&self) -> bool {
        [
            &self.legal_name,
            &self.siren,
            &self.siret,
            &self.vat_number,
            &self.electronic_address,
            &self.contact_emails,
            &self.street,
            &self.additional,
            &self.postcode,
            &self.city,
            &self.country,
            &self.language,
        ]
        .iter()
        .any(|error| error.is_some())
    }
}

/// Domain messages are sentence fragments; next to a field they start with a capital.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn message(error: &impl Localized, t: Tr) -> String {
    capitalized(&error.message(t.lang))
}

fn blank_to_none(text: &str) -> Option<&str> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then_some(trimmed)
}

/// The addresses of a comma, semicolon or newline separated list, in order, without repeats.
fn split_emails(text: &str) -> Vec<&str> {
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for part in text.split([',', ';', '\n', '\r']).map(str::trim) {
        if part.is_empty() || seen.contains(&part.to_lowercase()) {
            continue;
        }
        seen.push(part.to_lowercase());
        out.push(part);
    }
    out
}

impl CustomerForm {
    /// A new customer's form: France, French.
    pub fn blank() -> Self {
        Self {
            country: "FR".to_owned(),
            language: Language::Fr.code().to_owned(),
            ..Self::default()
        }
    }

    /// The form of a stored customer, for editing.
    pub fn from_customer(customer: &Customer) -> Self {
        Self {
            legal_name: customer.legal_name.clone(),
            siren: customer.siren.clone(),
            siret: customer.siret.clone().unwrap_or_default(),
            vat_number: customer.vat_number.clone().unwrap_or_default(),
            electronic_address: customer.electronic_address.clone(),
            contact_emails: customer.contact_emails.join("\n"),
            street: customer.address.street.clone(),
            additional: customer.address.additional.clone(),
            postcode: customer.address.postcode.clone(),
            city: customer.address.city.clone(),
            country: customer.address.country_code.clone(),
            language: customer.language.code().to_owned(),
            exclude_from_reminders: String::new(),
        }
    }

    /// The form of a stored customer with its reminders' exclusion.
    pub fn with_exclusion(mut self, excluded: bool) -> Self {
        self.exclude_from_reminders = if excluded {
            "on".to_owned()
        } else {
            String::new()
        };
        self
    }

    /// Whether the customer is to be excluded from reminders.
    pub fn excluded_from_reminders(&self) -> bool {
        !self.exclude_from_reminders.trim().is_empty()
    }

    /// The checked customer, or the message of every field at fault.
    pub fn validate(&self, t: Tr) -> Result<CustomerInput, Box<FieldErrors>> {
        let mut errors = FieldErrors::default();

        let legal_name = self.legal_name.trim();
        if legal_name.is_empty() {
            errors.legal_name = Some(t.get("customers.error.legal_name_required").to_owned());
        } else if legal_name.chars().count() > MAX_TEXT {
            errors.legal_name = Some(t.get("customers.error.too_long").to_owned());
        }

        let siren = Siren::parse(&self.siren)
            .map_err(|error| errors.siren = Some(message(&error, t)))
            .ok();

        // Without a valid SIREN, the SIRET and VAT number are still checked on their own.
        let siret = blank_to_none(&self.siret).and_then(|text| {
            let parsed = match siren {
                Some(siren) => Siret::parse_for(text, siren),
                None => Siret::parse(text),
            };
            parsed
                .map_err(|error| errors.siret = Some(message(&error, t)))
                .ok()
        });

        let country = match blank_to_none(&self.country) {
            None => Some("FR".to_owned()),
            Some(text) => country_code(text),
        };
        if country.is_none() {
            errors.country = Some(t.get("customers.error.country_invalid").to_owned());
        }

        let vat_number = match blank_to_none(&self.vat_number) {
            Some(text) => {
                let parsed = match siren {
                    Some(siren) => VatNumber::parse_for(text, siren),
                    None => VatNumber::parse(text),
                };
                parsed
                    .map_err(|error| errors.vat_number = Some(message(&error, t)))
                    .ok()
            }
            // A French company's VAT number follows from its SIREN; for a company established elsewhere it
            // cannot be guessed, so none is recorded.
            None if country.as_deref() == Some("FR") => siren.map(VatNumber::from_siren),
            None => None,
        };

        let electronic_address = self.electronic_address(siren, t, &mut errors);

        let mut contact_emails = Vec::new();
        let typed = split_emails(&self.contact_emails);
        if typed.is_empty() {
            errors.contact_emails = Some(t.get("customers.error.emails_required").to_owned());
        }
        for text in typed {
            match Email::parse(text) {
                Ok(email) => contact_emails.push(email),
                Err(error) => {
                    errors.contact_emails = Some(message(&error, t));
                    break;
                }
            }
        }

        for (text, slot) in [
            (&self.street, &mut errors.street),
            (&self.additional, &mut errors.additional),
            (&self.city, &mut errors.city),
        ] {
            if text.trim().chars().count() > MAX_TEXT {
                *slot = Some(t.get("customers.error.too_long").to_owned());
            }
        }
        if self.postcode.trim().chars().count() > MAX_POSTCODE {
            errors.postcode = Some(t.get("customers.error.postcode_too_long").to_owned());
        }

        let language = Language::parse(&self.language);
        if language.is_none() {
            errors.language = Some(t.get("customers.error.language_invalid").to_owned());
        }

        match (siren, electronic_address, country, language) {
            (Some(siren), Some(electronic_address), Some(country_code), Some(language))
                if !errors.any() =>
            {
                Ok(CustomerInput {
                    legal_name: legal_name.to_owned(),
                    siren,
                    siret,
                    vat_number,
                    electronic_address,
                    contact_emails,
                    address: Address {
                        street: self.street.trim().to_owned(),
                        additional: self.additional.trim().to_owned(),
                        postcode: self.postcode.trim().to_owned(),
                        city: self.city.trim().to_owned(),
                        country_code,
                    },
                    language,
                })
            }
            _ => Err(Box::new(errors)),
        }
    }

    /// The customer's address in the French directory (scheme 0225); `0225:<SIREN>` when left empty.
    fn electronic_address(
        &self,
        siren: Option<Siren>,
        t: Tr,
        errors: &mut FieldErrors,
    ) -> Option<ElectronicAddress> {
        let text = match (blank_to_none(&self.electronic_address), siren) {
            (Some(text), _) => text.to_owned(),
            (None, Some(siren)) => ElectronicAddress::default_for(siren).to_string(),
            // Nothing to default to: the SIREN's own message says what to fix.
            (None, None) => return None,
        };
        let address = match ElectronicAddress::parse(&text) {
            Ok(address) => address,
            Err(error) => {
                errors.electronic_address = Some(message(&error, t));
                return None;
            }
        };
        let ElectronicAddress::Ctc(ctc) = &address else {
            errors.electronic_address = Some(t.get("customers.error.scheme_0225").to_owned());
            return None;
        };
        // Billit's test receivers (`127362116_DEMO`) start with digits that are not a real SIREN, so only an
        // address that names another real company is refused.
        if let (Some(own), Some(named)) = (siren, ctc.siren())
            && own != named
        {
            errors.electronic_address = Some(t.fill(
                "customers.error.address_other_siren",
                &[("siren", &own.to_string())],
            ));
            return None;
        }
        Some(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> CustomerForm {
        CustomerForm {
            legal_name: "  Dupont Industrie ".into(),
            siren: "552 100 554".into(),
            contact_emails: "compta@dupont.fr, Achats@Dupont.FR\n\ncompta@dupont.fr".into(),
            ..CustomerForm::blank()
        }
    }

    const FR: Tr = Tr { lang: Language::Fr };
    const EN: Tr = Tr { lang: Language::En };

    #[test]
    fn a_french_customer_gets_its_vat_number_and_0225_address_from_the_siren() {
        let input = valid().validate(FR).unwrap();
        assert_eq!(input.legal_name, "Dupont Industrie");
        assert_eq!(input.siren.to_string(), "552100554");
        assert_eq!(
            input.vat_number.map(|vat| vat.to_string()).as_deref(),
            Some("FR96552100554")
        );
        assert_eq!(input.electronic_address.to_string(), "0225:552100554");
        let emails: Vec<&str> = input.contact_emails.iter().map(Email::as_str).collect();
        assert_eq!(emails, vec!["compta@dupont.fr", "Achats@dupont.fr"]);
        assert_eq!(input.address.country_code, "FR");
        assert_eq!(input.language, Language::Fr);
    }

    #[test]
    fn a_customer_established_abroad_gets_no_guessed_vat_number() {
        let form = CustomerForm {
            country: "be".into(),
            ..valid()
        };
        let input = form.validate(FR).unwrap();
        assert_eq!(input.vat_number, None);
        assert_eq!(input.address.country_code, "BE");
    }

    #[test]
    fn identifiers_must_be_valid_and_of_the_siren() {
        let form = CustomerForm {
            siret: "73282932000074".into(),
            vat_number: "FR44732829320".into(),
            electronic_address: "0225:732829320".into(),
            ..valid()
        };
        let errors = form.validate(FR).unwrap_err();
        assert_eq!(
            errors.siret.as_deref(),
            Some("Ce SIRET ne commence pas par le SIREN de l'entreprise")
        );
        assert_eq!(
            errors.vat_number.as_deref(),
            Some("Ce numéro de TVA ne correspond pas au SIREN")
        );
        assert!(errors.electronic_address.is_some());
        assert!(errors.siren.is_none());

        let errors = CustomerForm {
            siren: "552100555".into(),
            siret: "123".into(),
            vat_number: "DE123".into(),
            ..valid()
        }
        .validate(EN)
        .unwrap_err();
        assert_eq!(
            errors.siren.as_deref(),
            Some("This SIREN is not valid (its check digit does not match)")
        );
        assert_eq!(
            errors.siret.as_deref(),
            Some("A SIRET has 14 digits (3 given)")
        );
        assert_eq!(
            errors.vat_number.as_deref(),
            Some("A French VAT number starts with FR")
        );
    }

    #[test]
    fn only_0225_addresses_and_test_receivers_are_accepted() {
        let with = |address: &str| {
            CustomerForm {
                electronic_address: address.into(),
                ..valid()
            }
            .validate(FR)
        };
        assert!(with("0225:552100554_55210055400005").is_ok());
        assert!(with("552100554_DEMO").is_ok());
        assert!(with("0225:127362116_DEMO").is_ok());
        assert!(
            with("0009:55210055400005")
                .unwrap_err()
                .electronic_address
                .is_some()
        );
        assert!(with("0225:55_x").unwrap_err().electronic_address.is_some());
    }

    #[test]
    fn emails_are_required_and_each_must_be_valid() {
        let errors = CustomerForm {
            contact_emails: " \n ,".into(),
            ..valid()
        }
        .validate(FR)
        .unwrap_err();
        assert!(errors.contact_emails.is_some());
        let errors = CustomerForm {
            contact_emails: "ok@dupont.fr, pas-une-adresse".into(),
            ..valid()
        }
        .validate(FR)
        .unwrap_err();
        assert_eq!(
            errors.contact_emails.as_deref(),
            Some("« pas-une-adresse » n'est pas une adresse e-mail valide")
        );
    }

    #[test]
    fn address_language_and_name_are_checked() {
        let errors = CustomerForm {
            legal_name: " ".into(),
            country: "France".into(),
            language: "de".into(),
            postcode: "1".repeat(17),
            ..valid()
        }
        .validate(FR)
        .unwrap_err();
        assert!(errors.legal_name.is_some());
        assert!(errors.country.is_some());
        assert!(errors.language.is_some());
        assert!(errors.postcode.is_some());
        assert!(errors.siren.is_none());
    }
}
