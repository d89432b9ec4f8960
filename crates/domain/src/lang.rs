//! Languages the portal speaks, and bilingual messages.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A language of the user interface and of documents (French is the default).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Français.
    #[default]
    Fr,
    /// English.
    En,
}

impl Language {
    /// The ISO 639-1 code: `fr` or `en`.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Fr => "fr",
            Self::En => "en",
        }
    }

    /// Parses `fr`/`en` in any case (also `fr-FR`, `en_GB`, `français`, `english`); `None` otherwise.
    pub fn parse(text: &str) -> Option<Self> {
        let lower = text.trim().to_lowercase();
        let head = lower.split(['-', '_']).next().unwrap_or_default();
        match head {
            "fr" | "fra" | "fre" | "français" | "francais" | "french" => Some(Self::Fr),
            "en" | "eng" | "english" | "anglais" => Some(Self::En),
            _ => None,
        }
    }

    /// Picks the French or English text.
    pub fn pick<'a>(self, fr: &'a str, en: &'a str) -> &'a str {
        match self {
            Self::Fr => fr,
            Self::En => en,
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Something that can explain itself to a user in French and in English.
///
/// Every error of this crate implements it; `Display` is always the English text.
pub trait Localized {
    /// The French message.
    fn message_fr(&self) -> String;
    /// The English message.
    fn message_en(&self) -> String;
    /// The message in the given language.
    fn message(&self, language: Language) -> String {
        match language {
            Language::Fr => self.message_fr(),
            Language::En => self.message_en(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_language_codes() {
        assert_eq!(Language::parse("FR"), Some(Language::Fr));
        assert_eq!(Language::parse("en-GB"), Some(Language::En));
        assert_eq!(Language::parse("de"), None);
        assert_eq!(Language::parse(""), None);
        assert_eq!(Language::default(), Language::Fr);
        assert_eq!(Language::En.pick("oui", "yes"), "yes");
    }
}
