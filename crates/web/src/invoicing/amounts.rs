//! Amounts and dates as people read them: `1 234,56 €` and `30/11/2026` in French, `€1,234.56` and `2026-11-30`
//! in English.

use chrono::NaiveDate;
use portal_domain::Language;
use portal_domain::money::{Amount, VatRate};

/// Thousands separator of French amounts (narrow no-break space, as browsers' `Intl.NumberFormat` writes it).
const FR_THOUSANDS: char = '\u{202f}';
/// Between a French amount and its currency sign.
const FR_CURRENCY_SPACE: char = '\u{a0}';

fn grouped(digits: &str, separator: char) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(digit);
    }
    out
}

/// An amount with its currency, e.g. `1 234,56 €`.
pub fn money(amount: Amount, currency: &str, language: Language) -> String {
    // An `Amount` always carries exactly two decimals and no sign.
    let text = amount.to_string();
    let (units, cents) = text.split_once('.').unwrap_or((text.as_str(), "00"));
    let euro = currency.is_empty() || currency.eq_ignore_ascii_case("EUR");
    match language {
        Language::Fr => {
            let sign = if euro { "€" } else { currency };
            format!(
                "{},{cents}{FR_CURRENCY_SPACE}{sign}",
                grouped(units, FR_THOUSANDS)
            )
        }
        Language::En => {
            let number = format!("{}.{cents}", grouped(units, ','));
            if euro {
                format!("€{number}")
            } else {
                format!("{number} {currency}")
            }
        }
    }
}

/// A VAT rate, e.g. `5,5 %` in French.
pub fn rate(rate: VatRate, language: Language) -> String {
    let text = rate.to_string();
    match language {
        Language::Fr => format!("{}{FR_CURRENCY_SPACE}%", text.replace('.', ",")),
        Language::En => format!("{text}{FR_CURRENCY_SPACE}%"),
    }
}

/// A date, e.g. `30/11/2026` in French.
pub fn date(date: NaiveDate, language: Language) -> String {
    match language {
        Language::Fr => date.format("%d/%m/%Y").to_string(),
        Language::En => date.format("%Y-%m-%d").to_string(),
    }
}

/// The amount in cents (an `Amount` is stored with exactly two decimals).
pub fn cents(amount: Amount) -> i64 {
    i64::try_from(amount.value().mantissa()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_the_french_and_the_english_way() {
        let amount = Amount::parse("1234567.5").unwrap();
        assert_eq!(
            money(amount, "EUR", Language::Fr),
            "1\u{202f}234\u{202f}567,50\u{a0}€"
        );
        assert_eq!(money(amount, "EUR", Language::En), "€1,234,567.50");
        assert_eq!(money(Amount::ZERO, "EUR", Language::Fr), "0,00\u{a0}€");
        assert_eq!(money(amount, "USD", Language::En), "1,234,567.50 USD");
        assert_eq!(cents(amount), 123_456_750);
        assert_eq!(rate(VatRate::REDUCED, Language::Fr), "5,5\u{a0}%");
        assert_eq!(
            date(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(), Language::Fr),
            "30/11/2026"
        );
    }
}
