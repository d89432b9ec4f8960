//! What a search box finds: the text kept for each document and the typed query, folded the same way so that
//! both databases compare plain lower-case text without accents.
//!
//! - [`fold`]: lower case, accents and ligatures taken off (`Société` → `societe`, `Cœur` → `coeur`), every kind
//!   of space (the no-break and narrow no-break spaces of French number formatting included) as one plain space.
//! - [`amount_forms`]: an amount the ways people type it, French and English (`1234,50`, `1 234,50`, `1234.50`,
//!   `1,234.50`, `1.234,50`); shorter spellings (`1234,5`, `1 234`) are substrings of these, so a substring search
//!   finds them too.
//! - [`invoice_search`], [`customer_text`]: one line per searchable field (a query never holds a line break, so
//!   it never matches across two fields).
//! - [`Query`]: the typed text folded, and whether it is long enough for a trigram index (3 characters); a
//!   shorter one only matches the start of the number or name ([`prefix_key`]).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Shortest query the trigram indexes answer (FTS5's trigram tokenizer, PostgreSQL's `pg_trgm`).
pub const TRIGRAM: usize = 3;

/// `text` in lower case, without accents or ligatures, every run of spaces as one plain space, trimmed.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    // NFKD splits accented letters into letter + mark and turns compatibility forms (no-break spaces, the "ﬁ"
    // ligature, superscripts) into their plain letters; the marks are then dropped.
    for c in text.nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        // The ligatures French writes, and the European letters with a stroke, that NFKD keeps whole.
        match c {
            'œ' | 'Œ' => out.push_str("oe"),
            'æ' | 'Æ' => out.push_str("ae"),
            'ß' => out.push_str("ss"),
            'ø' | 'Ø' => out.push('o'),
            'ł' | 'Ł' => out.push('l'),
            'đ' | 'Đ' => out.push('d'),
            _ => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// An amount in cents written the ways people type it (the sign first when negative, then the same forms
/// without it). Forms are distinct.
pub fn amount_forms(cents: i64) -> Vec<String> {
    let mut forms = Vec::new();
    let units = cents.unsigned_abs() / 100;
    let hundredths = cents.unsigned_abs() % 100;
    let plain = units.to_string();
    let grouped = |separator: char| {
        let mut out = String::new();
        for (index, digit) in plain.chars().enumerate() {
            if index > 0 && (plain.len() - index).is_multiple_of(3) {
                out.push(separator);
            }
            out.push(digit);
        }
        out
    };
    let mut written = vec![
        format!("{plain},{hundredths:02}"),
        format!("{plain}.{hundredths:02}"),
    ];
    if units >= 1000 {
        written.push(format!("{},{hundredths:02}", grouped(' ')));
        written.push(format!("{}.{hundredths:02}", grouped(',')));
        written.push(format!("{},{hundredths:02}", grouped('.')));
    }
    if cents < 0 {
        forms.extend(written.iter().map(|form| format!("-{form}")));
    }
    forms.extend(written);
    forms
}

/// Longest folded invoice number found through its suffixes ([`InvoiceSearch::number_suffixes`]); G1.05 allows
/// 35 characters, so a longer number exists only in a draft, and stays in the text.
pub const SUFFIXED_NUMBER: usize = 35;

/// What an invoice is found by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceSearch {
    /// The customer's name, the references (buyer reference, purchase order, contract) and the amounts (with
    /// and without VAT), folded, one per line, for the trigram index.
    pub text: String,
    /// Every end of the folded number at least [`TRIGRAM`] characters long: a query is a substring of the number
    /// exactly when it starts one of them, an index range on `(tenant, suffix)`. The number is not in the text
    /// because its trigrams (`f20`, `202`, `000`…) are in nearly every invoice of every company: a trigram index
    /// answers a number with the intersection of lists as long as the database (2 ms on PostgreSQL for 51,000
    /// invoices), where the suffixes' range reads the matches.
    pub number_suffixes: Vec<String>,
}

/// The search fields of an invoice: its number (as suffixes, or in the text when too long for them), the
/// customer's name, its references and its amounts, in the text one per line.
pub fn invoice_search(
    number: &str,
    buyer_name: &str,
    references: &[&str],
    amounts_cents: &[i64],
) -> InvoiceSearch {
    let mut lines: Vec<String> = Vec::new();
    let number = fold(number);
    let number_suffixes = if number_in_text(&number) {
        lines.push(number);
        Vec::new()
    } else {
        suffixes(&number)
    };
    for field in [buyer_name].iter().chain(references) {
        let folded = fold(field);
        if !folded.is_empty() {
            lines.push(folded);
        }
    }
    let mut amounts: Vec<i64> = amounts_cents.to_vec();
    amounts.dedup();
    for cents in amounts {
        for form in amount_forms(cents) {
            if !lines.contains(&form) {
                lines.push(form);
            }
        }
    }
    InvoiceSearch {
        text: lines.join("\n"),
        number_suffixes,
    }
}

/// Whether a folded number is a line of the text rather than suffixes: when it is longer than
/// [`SUFFIXED_NUMBER`].
pub fn number_in_text(folded_number: &str) -> bool {
    folded_number.chars().count() > SUFFIXED_NUMBER
}

/// The ends of `text` at least [`TRIGRAM`] characters long, longest first.
fn suffixes(text: &str) -> Vec<String> {
    let length = text.chars().count();
    text.char_indices()
        .take(length.saturating_sub(TRIGRAM - 1))
        .map(|(start, _)| text[start..].to_owned())
        .collect()
}

/// The folded text a customer is found by: the legal name, then each identifier (SIREN, SIRET, VAT number)
/// without its spaces, one per line.
pub fn customer_text(legal_name: &str, identifiers: &[&str]) -> String {
    let mut lines = vec![fold(legal_name)];
    lines.extend(
        identifiers
            .iter()
            .map(|identifier| prefix_key(identifier))
            .filter(|identifier| !identifier.is_empty()),
    );
    lines.join("\n")
}

/// What one- and two-character queries match the start of (an invoice's number, a customer's name): folded,
/// without spaces.
pub fn prefix_key(text: &str) -> String {
    fold(text).replace(' ', "")
}

/// A typed search, folded as the stored text is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Nothing to search for (empty, spaces, or only a currency sign).
    Empty,
    /// Three characters or more: a substring of the stored text, through the trigram index.
    Text(String),
    /// One or two characters: the start of the number (or name), through its index (no trigram to look up).
    Prefix(String),
}

impl Query {
    pub fn parse(typed: &str) -> Self {
        // "1 234,50 €" is an amount: the currency sign is not in the stored text.
        let folded = fold(&typed.replace(['€', '$', '£'], " "));
        match folded.chars().count() {
            0 => Self::Empty,
            n if n < TRIGRAM => Self::Prefix(folded.replace(' ', "")),
            _ => Self::Text(folded),
        }
    }
}

/// The smallest string greater than every string starting with `prefix` (for an index range), if any.
pub fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        // Skip the surrogate range, which no `char` holds.
        if (0xD800..0xE000).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_accents_ligatures_and_spaces() {
        assert_eq!(fold("Société Générale"), "societe generale");
        assert_eq!(fold("SOCIÉTÉ"), "societe");
        assert_eq!(fold("  Cœur\u{a0}de\u{202f}Lion  "), "coeur de lion");
        assert_eq!(fold("Ærø Straße ﬁn"), "aero strasse fin");
        assert_eq!(fold("F2026-00012"), "f2026-00012");
    }

    #[test]
    fn amounts_as_typed_in_french_and_english() {
        let forms = amount_forms(123_450);
        for typed in ["1234,50", "1234.50", "1 234,50", "1,234.50", "1.234,50"] {
            assert!(forms.contains(&typed.to_owned()), "{typed}: {forms:?}");
        }
        assert_eq!(amount_forms(5), vec!["0,05", "0.05"]);
        assert_eq!(amount_forms(12_345_678_900)[2], "123 456 789,00");
        assert!(amount_forms(-1_000).contains(&"-10,00".to_owned()));
        let text = invoice_search("F-1", "Société", &["PO 7", ""], &[123_450, 123_450]).text;
        assert_eq!(text.lines().filter(|line| *line == "1234,50").count(), 1);
        for typed in ["1234,5", "1 234", "1234.5", "po 7", "societe"] {
            assert!(text.contains(typed), "{typed}");
        }
    }

    #[test]
    fn a_query_is_in_the_number_exactly_when_it_starts_one_of_its_suffixes() {
        for number in ["F2026-000123", "Fé 2026/7", "AB1"] {
            let search = invoice_search(number, "Client", &[], &[100]);
            assert!(
                !search.text.contains(&fold(number)),
                "{number}: {}",
                search.text
            );
            let folded: Vec<char> = fold(number).chars().collect();
            for start in 0..folded.len() {
                for end in start + TRIGRAM..=folded.len() {
                    let query: String = folded[start..end].iter().collect();
                    assert!(
                        search
                            .number_suffixes
                            .iter()
                            .any(|suffix| suffix.starts_with(&query)),
                        "{number}: {query}"
                    );
                }
            }
            for absent in ["2027", "f2026-0001234", "b1x"] {
                assert!(
                    !search
                        .number_suffixes
                        .iter()
                        .any(|suffix| suffix.starts_with(absent)),
                    "{number}: {absent}"
                );
            }
        }
        assert_eq!(
            invoice_search("F2026-7", "", &[], &[]).number_suffixes,
            vec!["f2026-7", "2026-7", "026-7", "26-7", "6-7"]
        );
        assert!(
            invoice_search("F1", "", &[], &[])
                .number_suffixes
                .is_empty()
        );
        // A draft's number too long to be valid: found through the text.
        let long = "N".repeat(SUFFIXED_NUMBER + 1);
        let search = invoice_search(&long, "Client", &[], &[]);
        assert!(search.number_suffixes.is_empty());
        assert!(search.text.starts_with(&fold(&long)));
    }

    #[test]
    fn queries_are_folded_and_short_ones_match_the_number_start() {
        assert_eq!(Query::parse("  "), Query::Empty);
        assert_eq!(Query::parse("€"), Query::Empty);
        assert_eq!(Query::parse("SOCIÉTÉ"), Query::Text("societe".into()));
        assert_eq!(
            Query::parse("1\u{202f}234,50 €"),
            Query::Text("1 234,50".into())
        );
        assert_eq!(Query::parse("F2"), Query::Prefix("f2".into()));
        assert_eq!(Query::parse("é"), Query::Prefix("e".into()));
        assert_eq!(prefix_end("f2").as_deref(), Some("f3"));
        assert_eq!(prefix_end("a\u{10ffff}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10ffff}"), None);
        assert_eq!(prefix_key("F 2026-1"), "f2026-1");
        assert_eq!(
            customer_text("Zéta Conseil", &["552100554", "", "FR 82 552100554"]),
            "zeta conseil\n552100554\nfr82552100554"
        );
    }
}
