//! Helpers shared by the tests.

use std::path::PathBuf;

/// The repository's fixtures folder.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Reads a fixture's bytes.
pub fn fixture(relative: &str) -> Vec<u8> {
    let path = fixtures().join(relative);
    std::fs::read(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// Every file of a fixtures sub-folder with an extension, sorted.
pub fn fixture_files(folder: &str, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures().join(folder))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == extension))
        .collect();
    files.sort();
    files
}

/// Reads a file of this crate's tests/data folder.
pub fn test_data(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// A status file that references two invoices, built from the official 207 sample (UC4, invoice F202500006):
/// its reference is kept, and a second one is added for invoice `F202500099`, approved (205) without reasons.
pub fn two_invoice_cdar() -> Vec<u8> {
    const OPEN: &str = "<ram:ReferenceReferencedDocument>";
    const CLOSE: &str = "</ram:ReferenceReferencedDocument>";
    let text = String::from_utf8(fixture("cdar/UC4_F202500006_04-CDV-207_En_litige.xml")).unwrap();
    let start = text.find(OPEN).unwrap();
    let end = text.find(CLOSE).unwrap() + CLOSE.len();
    let first = &text[start..end];
    let status_start = first.find("<ram:SpecifiedDocumentStatus>").unwrap();
    let status_end = first.find("</ram:SpecifiedDocumentStatus>").unwrap()
        + "</ram:SpecifiedDocumentStatus>".len();
    let second = format!("{}{}", &first[..status_start], &first[status_end..])
        .replace("F202500006", "F202500099")
        .replace(
            "<ram:ProcessConditionCode>207</ram:ProcessConditionCode>",
            "<ram:ProcessConditionCode>205</ram:ProcessConditionCode>",
        )
        .replace(
            "<ram:ProcessCondition>En_litige</ram:ProcessCondition>",
            "<ram:ProcessCondition>Approuvée</ram:ProcessCondition>",
        );
    let both = format!("{}{first}\n{second}{}", &text[..start], &text[end..]).replace(
        "<udt:Indicator>false</udt:Indicator>",
        "<udt:Indicator>true</udt:Indicator>",
    );
    both.into_bytes()
}
