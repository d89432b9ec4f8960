//! Reminder emails' wording: the defaults per language, the placeholders and how they are filled (in one pass,
//! so that a value containing `{amount}` — a customer's name, say — is written as it is).
//!
//! These are email texts in the customer's language, not the portal's UI, so they live here and not in the UI
//! catalogues.

use portal_domain::Language;

pub use crate::answers::templates::{MAX_BODY, MAX_SUBJECT, Template, html_document};

/// Every placeholder a reminder may use, with what it becomes (FR, EN), for the settings page.
pub const PLACEHOLDERS: [(&str, &str, &str); 9] = [
    (
        "invoice_number",
        "le numéro de la facture",
        "the invoice number",
    ),
    ("invoice_date", "sa date d'émission", "its issue date"),
    ("due_date", "sa date d'échéance", "its due date"),
    (
        "days_overdue",
        "le nombre de jours de retard",
        "the number of days overdue",
    ),
    ("amount", "son montant TTC", "its total including VAT"),
    (
        "amount_due",
        "ce qui reste à payer",
        "what remains to be paid",
    ),
    ("customer_name", "le nom du client", "the customer's name"),
    (
        "company_name",
        "le nom de votre société",
        "your company's name",
    ),
    (
        "signature",
        "votre signature (réglages e-mail), sinon le nom de la société",
        "your signature (email settings), or else the company's name",
    ),
];

/// The portal's wording in a language.
pub fn default_template(lang: Language) -> Template {
    let (subject, body) = match lang {
        Language::Fr => (
            "Relance : facture {invoice_number} échue le {due_date}",
            "Bonjour,\n\n\
             Sauf erreur de notre part, notre facture {invoice_number} du {invoice_date}, d'un montant de {amount}, \
             arrivée à échéance le {due_date}, reste impayée ({days_overdue} jours de retard). Reste à payer : \
             {amount_due}.\n\n\
             Vous la trouverez en pièce jointe. Si votre règlement est déjà parti, merci de ne pas tenir compte de ce \
             message.\n\n\
             Cordialement,\n\
             {signature}",
        ),
        Language::En => (
            "Reminder: invoice {invoice_number} was due on {due_date}",
            "Hello,\n\n\
             Unless we are mistaken, our invoice {invoice_number} of {invoice_date}, for {amount}, due on {due_date}, \
             remains unpaid ({days_overdue} days overdue). Amount due: {amount_due}.\n\n\
             Please find it attached. If your payment is already on its way, please disregard this message.\n\n\
             Kind regards,\n\
             {signature}",
        ),
    };
    Template {
        subject: subject.to_owned(),
        body: body.to_owned(),
    }
}

/// The values the placeholders take for one reminder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values {
    pub invoice_number: String,
    pub invoice_date: String,
    pub due_date: String,
    pub days_overdue: String,
    pub amount: String,
    pub amount_due: String,
    pub customer_name: String,
    pub company_name: String,
    pub signature: String,
}

impl Values {
    fn get(&self, name: &str) -> Option<&str> {
        Some(match name {
            "invoice_number" => &self.invoice_number,
            "invoice_date" => &self.invoice_date,
            "due_date" => &self.due_date,
            "days_overdue" => &self.days_overdue,
            "amount" => &self.amount,
            "amount_due" => &self.amount_due,
            "customer_name" => &self.customer_name,
            "company_name" => &self.company_name,
            "signature" => &self.signature,
            _ => return None,
        })
    }
}

/// Calls `found` with each `{name}` of the text and `text` with the rest, in order.
fn scan<'a>(text: &'a str, mut found: impl FnMut(&'a str), mut plain: impl FnMut(&'a str)) {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        plain(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(['}', '{']) {
            Some(close) if after.as_bytes().get(close) == Some(&b'}') => {
                found(&after[..close]);
                rest = &after[close + 1..];
            }
            _ => {
                plain("{");
                rest = after;
            }
        }
    }
    plain(rest);
}

/// The placeholders a template uses that do not exist, each once.
pub fn unknown_placeholders(template: &Template) -> Vec<String> {
    let known: Vec<&str> = PLACEHOLDERS.iter().map(|(name, _, _)| *name).collect();
    let mut unknown: Vec<String> = Vec::new();
    for text in [&template.subject, &template.body] {
        scan(
            text,
            |name| {
                let written = format!("{{{name}}}");
                if !known.contains(&name) && !unknown.contains(&written) {
                    unknown.push(written);
                }
            },
            |_| {},
        );
    }
    unknown
}

/// Fills the placeholders in one pass; an unknown one stays as written.
pub fn render(text: &str, values: &Values) -> String {
    let out = std::cell::RefCell::new(String::with_capacity(text.len()));
    scan(
        text,
        |name| {
            let mut out = out.borrow_mut();
            match values.get(name) {
                Some(value) => out.push_str(value.trim()),
                None => {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
            }
        },
        |plain| out.borrow_mut().push_str(plain),
    );
    out.into_inner().trim().to_owned()
}

/// A subject on one line.
pub fn render_subject(text: &str, values: &Values) -> String {
    render(text, values)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            invoice_number: "F2026-00042".into(),
            invoice_date: "01/09/2026".into(),
            due_date: "01/10/2026".into(),
            days_overdue: "8".into(),
            amount: "1 200,00 €".into(),
            amount_due: "700,00 €".into(),
            customer_name: "Globex {amount}".into(),
            company_name: "ACME SAS".into(),
            signature: "ACME SAS — Comptabilité".into(),
        }
    }

    #[test]
    fn the_defaults_say_what_is_due_in_both_languages() {
        for lang in [Language::Fr, Language::En] {
            let template = default_template(lang);
            assert!(unknown_placeholders(&template).is_empty(), "{lang:?}");
            let body = render(&template.body, &values());
            assert!(!body.contains('{'), "{body}");
            for expected in [
                "F2026-00042",
                "01/10/2026",
                "700,00 €",
                "ACME SAS — Comptabilité",
            ] {
                assert!(body.contains(expected), "{expected} in {body}");
            }
        }
        assert_eq!(
            render_subject(&default_template(Language::Fr).subject, &values()),
            "Relance : facture F2026-00042 échue le 01/10/2026"
        );
    }

    #[test]
    fn values_are_written_as_they_are_and_unknown_names_are_reported() {
        assert_eq!(
            render("{customer_name} {x} {", &values()),
            "Globex {amount} {x} {"
        );
        let template = Template {
            subject: "{montant} {invoice_number}".into(),
            body: "{montant} {autre}".into(),
        };
        assert_eq!(
            unknown_placeholders(&template),
            vec!["{montant}", "{autre}"]
        );
    }
}
