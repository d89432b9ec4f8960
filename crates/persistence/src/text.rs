//! Small text rules the repositories share.

/// A form field left empty (or only spaces) is stored as NULL.
pub(crate) fn blank_to_none(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// `text` without what LIKE would read as wildcards.
pub(crate) fn without_wildcards(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '%' | '_' | '\\'))
        .collect()
}
