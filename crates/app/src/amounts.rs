//! Amounts as people read them in each language, for pages and emails alike: French `1 234,56 €`, English
//! `€1,234.56`.

use portal_domain::Language;

/// An amount given in cents, e.g. `123456` → `1 234,56 €` / `€1,234.56`. Other currencies keep their code.
pub fn amount_cents(cents: i64, currency: &str, lang: Language) -> String {
    let magnitude = cents.unsigned_abs();
    let digits = (magnitude / 100).to_string();
    // French thousands are separated by a narrow no-break space, English ones by a comma.
    let separator = lang.pick("\u{202f}", ",");
    let mut units = String::new();
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (digits.len() - position).is_multiple_of(3) {
            units.push_str(separator);
        }
        units.push(digit);
    }
    let sign = if cents < 0 { "-" } else { "" };
    let fraction = magnitude % 100;
    let currency = currency.trim();
    let euro = currency.is_empty() || currency.eq_ignore_ascii_case("EUR");
    // A no-break space keeps the currency on the amount's line.
    match (lang, euro) {
        (Language::Fr, true) => format!("{sign}{units},{fraction:02}\u{a0}€"),
        (Language::Fr, false) => format!("{sign}{units},{fraction:02}\u{a0}{currency}"),
        (Language::En, true) => format!("{sign}€{units}.{fraction:02}"),
        (Language::En, false) => format!("{sign}{currency}\u{a0}{units}.{fraction:02}"),
    }
}
