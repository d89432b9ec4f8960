//! Small text rules the repositories share.

use sea_orm::sea_query::LikeExpr;

/// A form field left empty (or only spaces) is stored as NULL.
pub(crate) fn blank_to_none(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// A LIKE pattern matching `text` anywhere, with `%` and `_` searched as themselves (invoice numbers and
/// electronic addresses contain `_`), escaped with `!`.
pub(crate) fn contains(text: &str) -> LikeExpr {
    let mut escaped = String::with_capacity(text.len() + 2);
    escaped.push('%');
    for c in text.chars() {
        if matches!(c, '!' | '%' | '_') {
            escaped.push('!');
        }
        escaped.push(c);
    }
    escaped.push('%');
    LikeExpr::new(escaped).escape('!')
}

/// `text` without what LIKE would read as wildcards.
pub(crate) fn without_wildcards(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '%' | '_' | '\\'))
        .collect()
}
