//! What Billit's Peppol participant lookup says about a customer, in the shape stored on the customer and shown
//! on its page.

use crate::i18n::Tr;
use portal_billit::wire::ParticipantInformation;
use serde::{Deserialize, Serialize};

/// Enough to show a long answer without letting it grow without bound in the table.
const MAX_DETAILS: usize = 30;
const MAX_VALUE_CHARS: usize = 500;

/// The stored result of one lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkCheck {
    /// Whether the customer can receive invoices over the network at this identifier.
    pub registered: bool,
    /// The identifier asked about, e.g. `0225:732829320`.
    pub identifier: String,
    /// The identifier the answer names, when it gives one.
    #[serde(default)]
    pub answered_identifier: Option<String>,
    /// The document types the customer accepts, as the network names them.
    #[serde(default)]
    pub document_types: Vec<String>,
    /// Whatever else the answer says, as `(field, text)`.
    #[serde(default)]
    pub details: Vec<(String, String)>,
}

fn as_text(value: &serde_json::Value) -> Option<String> {
    let text = match value {
        serde_json::Value::Null => return None,
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    Some(text.chars().take(MAX_VALUE_CHARS).collect())
}

impl NetworkCheck {
    /// From Billit's answer. An answer that does not say `Registered` but lists document types is a registration.
    pub fn from_answer(asked: &str, answer: ParticipantInformation) -> Self {
        let document_types: Vec<String> = answer
            .document_types
            .unwrap_or_default()
            .iter()
            .filter_map(as_text)
            .take(MAX_DETAILS)
            .collect();
        Self {
            registered: answer.registered.unwrap_or(!document_types.is_empty()),
            identifier: asked.to_owned(),
            answered_identifier: answer.identifier,
            document_types,
            details: answer
                .extra
                .iter()
                .filter_map(|(key, value)| Some((key.clone(), as_text(value)?)))
                .take(MAX_DETAILS)
                .collect(),
        }
    }

    /// Billit knows no participant with this identifier (it answered 404).
    pub fn unknown_participant(asked: &str) -> Self {
        Self {
            registered: false,
            identifier: asked.to_owned(),
            answered_identifier: None,
            document_types: Vec::new(),
            details: Vec::new(),
        }
    }
}

/// A document type in words (`urn:…:Invoice-2::Invoice` is "Invoice (UBL)"), or `None` when unknown.
pub fn document_type_label(code: &str, t: Tr) -> Option<String> {
    let syntax = if code.contains("CrossIndustryInvoice") {
        "CII"
    } else if code.contains("ubl:schema")
        || code.contains("Invoice-2")
        || code.contains("CreditNote-2")
    {
        "UBL"
    } else {
        ""
    };
    let kind = if code.contains("CreditNote") {
        t.get("customers.network.credit_note")
    } else if code.contains("Invoice") {
        t.get("customers.network.invoice")
    } else {
        return None;
    };
    Some(if syntax.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind} ({syntax})")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_domain::Language;

    #[test]
    fn an_answer_is_kept_with_its_document_types_and_other_fields() {
        let answer: ParticipantInformation = serde_json::from_value(serde_json::json!({
            "Registered": true,
            "Identifier": "0225:552100554",
            "DocumentTypes": ["urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice", {"Id": 1}],
            "AccessPoint": "Billit",
            "Nothing": null
        }))
        .unwrap();
        let check = NetworkCheck::from_answer("0225:552100554", answer);
        assert!(check.registered);
        assert_eq!(check.answered_identifier.as_deref(), Some("0225:552100554"));
        assert_eq!(check.document_types.len(), 2);
        assert_eq!(check.document_types[1], "{\"Id\":1}");
        assert_eq!(
            check.details,
            vec![("AccessPoint".to_owned(), "Billit".to_owned())]
        );
        let back: NetworkCheck =
            serde_json::from_value(serde_json::to_value(&check).unwrap()).unwrap();
        assert_eq!(back, check);
    }

    #[test]
    fn document_types_read_in_words() {
        let fr = Tr::new(Language::Fr);
        assert_eq!(
            document_type_label(
                "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2::CreditNote",
                fr
            )
            .as_deref(),
            Some("Avoir (UBL)")
        );
        assert_eq!(
            document_type_label(
                "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
                Tr::new(Language::En)
            )
            .as_deref(),
            Some("Invoice (CII)")
        );
        assert_eq!(document_type_label("something", fr), None);
    }
}
