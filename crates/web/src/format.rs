//! How amounts, numbers and dates read in each language: French `1 234,56 €` and `30/11/2026`, English
//! `€1,234.56` and `2026-11-30`. Times are shown in Paris time, whatever the server's zone, because every tenant
//! is a French company.

pub use portal_app::amounts::amount_cents;
/// Dates and times: the application's own functions (emails use them too), in Paris time.
pub use portal_app::dates::{date, date_or_dash, date_time, date_time_seconds, days_between};
use portal_domain::Language;
pub use portal_domain::money::cents_of;
use portal_domain::money::{Amount, VatRate};
use rust_decimal::Decimal;

/// French thousands separator (espace fine insécable), as the French typographic convention wants.
const NARROW_NBSP: &str = "\u{202f}";
/// Between a French amount and its currency sign, so the sign never wraps to the next line alone.
const NBSP: &str = "\u{a0}";

/// An exact amount of money (two decimals), e.g. `1 234,56 €`.
pub fn money(value: Amount, currency: &str, lang: Language) -> String {
    amount_cents(value.cents(), currency, lang)
}

/// A VAT rate of the catalogue, written as [`percent`] does.
pub fn rate(rate: VatRate, lang: Language) -> String {
    percent(rate.value(), lang)
}

/// An exact amount rounded half away from zero to cents, then written as [`amount_cents`] does.
pub fn amount(value: Decimal, currency: &str, lang: Language) -> String {
    amount_cents(cents_of(value), currency, lang)
}

/// A number with at least `min_fraction` decimals and no useless trailing zeros beyond them:
/// quantities (`1,5`), unit prices (`19,99999`), rates (`5,5`).
pub fn number(value: Decimal, min_fraction: usize, lang: Language) -> String {
    let text = value.normalize().abs().to_string();
    let (integer, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let mut fraction = fraction.to_owned();
    while fraction.len() < min_fraction {
        fraction.push('0');
    }
    let sign = if value.is_sign_negative() && !value.is_zero() {
        "-"
    } else {
        ""
    };
    let integer = group(integer, thousands(lang));
    if fraction.is_empty() {
        format!("{sign}{integer}")
    } else {
        let point = match lang {
            Language::Fr => ",",
            Language::En => ".",
        };
        format!("{sign}{integer}{point}{fraction}")
    }
}

/// A VAT rate: `20 %`, `5,5 %` / `20%`, `5.5%`.
pub fn percent(rate: Decimal, lang: Language) -> String {
    let number = number(rate, 0, lang);
    match lang {
        Language::Fr => format!("{number}{NBSP}%"),
        Language::En => format!("{number}%"),
    }
}

fn thousands(lang: Language) -> &'static str {
    match lang {
        Language::Fr => NARROW_NBSP,
        Language::En => ",",
    }
}

/// `1234567` → `1 234 567` with `separator` between groups of three digits.
fn group(digits: &str, separator: &str) -> String {
    let count = digits.chars().count();
    let mut out = String::with_capacity(digits.len() + count / 3 * separator.len());
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (count - position).is_multiple_of(3) {
            out.push_str(separator);
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn french_amounts_use_a_narrow_space_for_thousands_and_a_comma() {
        assert_eq!(
            amount_cents(123_456, "EUR", Language::Fr),
            "1\u{202f}234,56\u{a0}€"
        );
        assert_eq!(amount_cents(5, "EUR", Language::Fr), "0,05\u{a0}€");
        assert_eq!(amount_cents(0, "", Language::Fr), "0,00\u{a0}€");
        assert_eq!(
            amount_cents(-100_000_000, "EUR", Language::Fr),
            "-1\u{202f}000\u{202f}000,00\u{a0}€"
        );
        assert_eq!(amount_cents(48_000, "USD", Language::Fr), "480,00\u{a0}USD");
    }

    #[test]
    fn english_amounts_put_the_euro_first_with_commas() {
        assert_eq!(amount_cents(123_456, "EUR", Language::En), "€1,234.56");
        assert_eq!(amount_cents(-48_000, "eur", Language::En), "-€480.00");
        assert_eq!(amount_cents(99, "USD", Language::En), "USD\u{a0}0.99");
        assert_eq!(
            amount_cents(i64::MIN, "EUR", Language::En),
            "-€92,233,720,368,547,758.08"
        );
    }

    #[test]
    fn decimals_round_half_away_from_zero_to_cents() {
        assert_eq!(amount(dec("1234.565"), "EUR", Language::En), "€1,234.57");
        assert_eq!(cents_of(dec("-0.005")), -1);
        assert_eq!(cents_of(dec("400")), 40_000);
        assert_eq!(cents_of(Decimal::MAX), i64::MAX);
        assert_eq!(cents_of(Decimal::MIN), i64::MIN);
    }

    #[test]
    fn numbers_and_rates() {
        assert_eq!(number(dec("1.50000"), 0, Language::Fr), "1,5");
        assert_eq!(number(dec("2"), 2, Language::Fr), "2,00");
        assert_eq!(number(dec("19.99999"), 2, Language::En), "19.99999");
        assert_eq!(number(dec("12500"), 0, Language::Fr), "12\u{202f}500");
        assert_eq!(percent(dec("5.5"), Language::Fr), "5,5\u{a0}%");
        assert_eq!(percent(dec("20.00"), Language::En), "20%");
    }
}
