//! The portal's words (pages and emails), in French (the default) and English, from two catalogues compiled into the binary.
//!
//! Templates ask `t.get("key")`. A test checks that both catalogues have the same keys and that every key a
//! template uses exists, so a missing translation fails the build's tests rather than showing a key to a user.

use portal_domain::Language;
use std::collections::HashMap;
use std::sync::LazyLock;

/// One file per area, so that areas grow without touching each other's catalogue.
const FR: &[&str] = &[
    include_str!("../i18n/fr.toml"),
    include_str!("../i18n/fr/answers.toml"),
    include_str!("../i18n/fr/console.toml"),
    include_str!("../i18n/fr/customers.toml"),
    include_str!("../i18n/fr/invoices.toml"),
    include_str!("../i18n/fr/outbox.toml"),
    include_str!("../i18n/fr/statuses.toml"),
    include_str!("../i18n/fr/settlements.toml"),
    include_str!("../i18n/fr/payments.toml"),
    include_str!("../i18n/fr/webhooks.toml"),
    include_str!("../i18n/fr/csv.toml"),
    include_str!("../i18n/fr/firm.toml"),
    include_str!("../i18n/fr/api.toml"),
];
const EN: &[&str] = &[
    include_str!("../i18n/en.toml"),
    include_str!("../i18n/en/answers.toml"),
    include_str!("../i18n/en/console.toml"),
    include_str!("../i18n/en/customers.toml"),
    include_str!("../i18n/en/invoices.toml"),
    include_str!("../i18n/en/outbox.toml"),
    include_str!("../i18n/en/statuses.toml"),
    include_str!("../i18n/en/settlements.toml"),
    include_str!("../i18n/en/payments.toml"),
    include_str!("../i18n/en/webhooks.toml"),
    include_str!("../i18n/en/csv.toml"),
    include_str!("../i18n/en/firm.toml"),
    include_str!("../i18n/en/api.toml"),
];

static CATALOGUES: LazyLock<(HashMap<String, String>, HashMap<String, String>)> =
    LazyLock::new(|| (flatten(FR), flatten(EN)));

fn flatten(texts: &[&str]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for text in texts {
        match text.parse::<toml::Table>() {
            Ok(table) => walk(&table, "", &mut out),
            Err(error) => tracing::error!(error = %error, "a catalogue does not parse"),
        }
    }
    out
}

fn walk(table: &toml::Table, prefix: &str, out: &mut HashMap<String, String>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => walk(inner, &path, out),
            toml::Value::String(text) => {
                out.insert(path, text.clone());
            }
            _ => {}
        }
    }
}

/// The translator a page carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tr {
    pub lang: Language,
}

impl Tr {
    pub fn new(lang: Language) -> Self {
        Self { lang }
    }

    /// The text for `key`; the key itself if missing (tests make sure none is).
    pub fn get<'a>(&self, key: &'a str) -> &'a str {
        let (fr, en) = &*CATALOGUES;
        let catalogue = match self.lang {
            Language::Fr => fr,
            Language::En => en,
        };
        match catalogue.get(key) {
            Some(text) => text.as_str(),
            None => {
                tracing::warn!(key, "missing translation");
                key
            }
        }
    }

    /// `get` with `{name}` placeholders filled in, in one pass over the catalogue's text: a value that itself
    /// contains `{other}` (a customer's name, Billit's words) is written as it is, never expanded. An unknown
    /// placeholder stays as written.
    pub fn fill(&self, key: &str, values: &[(&str, &str)]) -> String {
        fill_placeholders(self.get(key), values)
    }

    pub fn code(&self) -> &'static str {
        self.lang.code()
    }
}

fn fill_placeholders(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let name = &after[..close];
        match values.iter().find(|(candidate, _)| *candidate == name) {
            Some((_, value)) => out.push_str(value),
            None => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_in_one_pass() {
        let filled = fill_placeholders(
            "Facture {number} de {customer} pour {company} {unknown} {",
            &[
                ("number", "F-1"),
                ("customer", "Dupont {company}"),
                ("company", "ACME"),
            ],
        );
        assert_eq!(
            filled,
            "Facture F-1 de Dupont {company} pour ACME {unknown} {"
        );
    }
    use std::collections::BTreeSet;

    #[test]
    fn both_catalogues_have_the_same_keys() {
        let (fr, en) = &*CATALOGUES;
        assert!(!fr.is_empty() && !en.is_empty(), "catalogues parse");
        let fr_keys: BTreeSet<_> = fr.keys().collect();
        let en_keys: BTreeSet<_> = en.keys().collect();
        let only_fr: Vec<_> = fr_keys.difference(&en_keys).collect();
        let only_en: Vec<_> = en_keys.difference(&fr_keys).collect();
        assert!(only_fr.is_empty(), "missing in English: {only_fr:?}");
        assert!(only_en.is_empty(), "missing in French: {only_en:?}");
    }

    #[test]
    fn every_catalogue_file_parses_and_no_key_repeats_across_files() {
        for texts in [FR, EN] {
            let mut seen = BTreeSet::new();
            for text in texts {
                let table = text.parse::<toml::Table>().expect("a catalogue parses");
                let mut keys = HashMap::new();
                walk(&table, "", &mut keys);
                for key in keys.into_keys() {
                    assert!(seen.insert(key.clone()), "{key} is defined twice");
                }
            }
        }
    }

    /// Every `t.get("…")` and `t.fill("…"` in the templates and every `tr_key!`-style literal in the code names a
    /// key of the catalogues.
    #[test]
    fn every_key_used_exists() {
        let (fr, _) = &*CATALOGUES;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut missing = Vec::new();
        let mut files = Vec::new();
        collect(&root.join("../../templates"), &mut files);
        collect(&root.join("src"), &mut files);
        collect(&root.join("../web/src"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for marker in ["t.get(\"", "t.fill(\"", "tr.get(\"", "tr.fill(\""] {
                for part in text.split(marker).skip(1) {
                    let key = part.split('"').next().unwrap();
                    if !fr.contains_key(key) {
                        missing.push(format!("{}: {key}", file.display()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys missing from the catalogues: {missing:#?}"
        );
    }

    fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                collect(&path, out);
            } else if path
                .extension()
                .is_some_and(|ext| ext == "html" || ext == "txt" || ext == "rs")
            {
                if path.ends_with("i18n.rs") {
                    continue;
                }
                out.push(path);
            }
        }
    }
}
