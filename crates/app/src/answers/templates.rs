//! Answer templates (207/208): the defaults per status and language, placeholders filled in one pass, and the
//! email's text and HTML bodies.
//!
//! These are email texts in the customer's language, not the portal's UI, so they live here and not in the UI
//! catalogues.

use portal_domain::Language;

/// The statuses an answer can be written for.
pub const ANSWERED_STATUSES: [u16; 2] = [208, 207];

/// Longest subject and body a template or an answer may have.
pub const MAX_SUBJECT: usize = 200;
pub const MAX_BODY: usize = 20_000;

/// Every placeholder a template may use, with what it becomes (FR, EN), for the settings page.
pub const PLACEHOLDERS: [(&str, &str, &str); 10] = [
    (
        "invoice_number",
        "le numéro de la facture",
        "the invoice number",
    ),
    ("invoice_date", "sa date d'émission", "its issue date"),
    ("amount", "son montant TTC", "its total including VAT"),
    ("customer_name", "le nom du client", "the customer's name"),
    (
        "reasons",
        "les motifs de la demande, en clair",
        "the request's reasons, in words",
    ),
    (
        "reason_sentence",
        "une phrase adaptée au premier motif",
        "a sentence suited to the first reason",
    ),
    (
        "comment",
        "le commentaire du client",
        "the customer's comment",
    ),
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
    ("sender_name", "le nom de l'expéditeur", "the sender's name"),
];

/// A subject and a body, with `{placeholders}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub subject: String,
    pub body: String,
}

/// The portal's wording for a status in a language.
pub fn default_template(status: u16, lang: Language) -> Template {
    let (subject, body) = match (status, lang) {
        (207, Language::Fr) => (
            "Facture {invoice_number} : réponse à votre contestation",
            "Bonjour,\n\n\
             Vous avez contesté notre facture {invoice_number} du {invoice_date} ({amount}) pour le motif suivant : \
             {reasons}.\n\
             Votre message : « {comment} »\n\n\
             {reason_sentence}\n\n\
             Nous restons à votre disposition pour en parler.\n\n\
             Cordialement,\n\
             {sender_name}\n\
             {signature}",
        ),
        (207, Language::En) => (
            "Invoice {invoice_number}: our answer to your dispute",
            "Hello,\n\n\
             You disputed our invoice {invoice_number} of {invoice_date} ({amount}) for the following reason: \
             {reasons}.\n\
             Your message: \"{comment}\"\n\n\
             {reason_sentence}\n\n\
             We remain at your disposal to discuss it.\n\n\
             Kind regards,\n\
             {sender_name}\n\
             {signature}",
        ),
        (_, Language::Fr) => (
            "Facture {invoice_number} : les informations demandées",
            "Bonjour,\n\n\
             Vous avez suspendu le traitement de notre facture {invoice_number} du {invoice_date} ({amount}) pour \
             le motif suivant : {reasons}.\n\
             Votre demande : « {comment} »\n\n\
             {reason_sentence}\n\n\
             Pourriez-vous reprendre le traitement de la facture ? Nous restons à votre disposition pour toute \
             question.\n\n\
             Cordialement,\n\
             {sender_name}\n\
             {signature}",
        ),
        (_, Language::En) => (
            "Invoice {invoice_number}: the information you requested",
            "Hello,\n\n\
             You suspended the processing of our invoice {invoice_number} of {invoice_date} ({amount}) for the \
             following reason: {reasons}.\n\
             Your request: \"{comment}\"\n\n\
             {reason_sentence}\n\n\
             Could you please resume the processing of the invoice? We remain at your disposal for any \
             question.\n\n\
             Kind regards,\n\
             {sender_name}\n\
             {signature}",
        ),
    };
    Template {
        subject: subject.to_owned(),
        body: body.to_owned(),
    }
}

/// What the answer says first, chosen by the request's status and its first reason code.
pub fn reason_sentence(status: u16, first_reason: Option<&str>, lang: Language) -> String {
    let (fr, en) = match first_reason.map(str::trim).unwrap_or_default() {
        "JUSTIF_ABS" => (
            "Vous trouverez en pièce jointe le justificatif demandé.",
            "Please find the requested supporting document attached.",
        ),
        "COORD_BANC_ERR" => (
            "Vous trouverez en pièce jointe nos coordonnées bancaires (RIB) à jour.",
            "Please find our up-to-date bank details attached.",
        ),
        "CMD_ERR" => (
            "Vous trouverez ci-dessous la référence de commande correspondant à cette facture.",
            "Please find below the purchase order reference of this invoice.",
        ),
        "SIRET_ERR" | "CODE_ROUTAGE_ERR" => (
            "Nous avons vérifié votre identification (SIRET, code de routage) : vous trouverez les précisions \
             ci-dessous.",
            "We have checked your identifiers (SIRET, routing code): please find the details below.",
        ),
        "REF_CT_ABSENT" | "REF_ERR" => (
            "Vous trouverez ci-dessous la référence attendue (contrat ou autre référence).",
            "Please find below the expected reference (contract or other reference).",
        ),
        "TX_TVA_ERR" | "PU_ERR" | "REM_ERR" | "QTE_ERR" | "MONTANTTOTAL_ERR" | "CALCUL_ERR" => (
            "Nous vérifions les montants contestés ; si l'erreur est confirmée, nous vous adresserons un avoir ou \
             une facture rectificative.",
            "We are checking the disputed amounts; if the error is confirmed, we will send you a credit note or a \
             corrected invoice.",
        ),
        "DOUBLON" | "DOUBLE_FACT" => (
            "Nous vérifions ce doublon ; si la facture a bien été émise deux fois, nous l'annulerons par un avoir.",
            "We are checking this duplicate; if the invoice was indeed issued twice, we will cancel it with a \
             credit note.",
        ),
        _ if status == 207 => (
            "Vous trouverez ci-dessous nos explications.",
            "Please find our explanations below.",
        ),
        _ => (
            "Vous trouverez ci-joint les informations demandées.",
            "Please find the requested information attached.",
        ),
    };
    lang.pick(fr, en).to_owned()
}

/// The values the placeholders take for one answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values {
    pub invoice_number: String,
    pub invoice_date: String,
    pub amount: String,
    pub customer_name: String,
    pub reasons: String,
    pub reason_sentence: String,
    pub comment: String,
    pub company_name: String,
    pub signature: String,
    pub sender_name: String,
}

impl Values {
    fn get(&self, name: &str) -> Option<&str> {
        Some(match name {
            "invoice_number" => &self.invoice_number,
            "invoice_date" => &self.invoice_date,
            "amount" => &self.amount,
            "customer_name" => &self.customer_name,
            "reasons" => &self.reasons,
            "reason_sentence" => &self.reason_sentence,
            "comment" => &self.comment,
            "company_name" => &self.company_name,
            "signature" => &self.signature,
            "sender_name" => &self.sender_name,
            _ => return None,
        })
    }
}

/// The `{names}` of a text, in order (with repeats).
fn placeholders_in(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find(['}', '{']) {
            Some(close) if after.as_bytes().get(close) == Some(&b'}') => {
                out.push(&after[..close]);
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    out
}

/// The placeholders a template uses that do not exist.
pub fn unknown_placeholders(template: &Template) -> Vec<String> {
    let known: Vec<&str> = PLACEHOLDERS.iter().map(|(name, _, _)| *name).collect();
    let mut unknown: Vec<String> = placeholders_in(&template.subject)
        .into_iter()
        .chain(placeholders_in(&template.body))
        .filter(|name| !known.contains(name))
        .map(|name| format!("{{{name}}}"))
        .collect();
    let mut seen = std::collections::HashSet::new();
    unknown.retain(|name| seen.insert(name.clone()));
    unknown
}

/// Replaces each `{name}` of the line in one pass over the template, so that a value (a customer's comment,
/// say) that itself contains `{amount}` is written as it is and never expanded.
fn fill_line(line: &str, values: &Values) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(['}', '{']) {
            Some(close) if after.as_bytes().get(close) == Some(&b'}') => {
                let name = &after[..close];
                match values.get(name) {
                    Some(value) => out.push_str(value.trim()),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Fills the placeholders. A line that uses a placeholder with nothing to say (no comment from the customer,
/// say) is left out, so that no "Your message: ''" remains; text around it stays as written.
pub fn render(text: &str, values: &Values) -> String {
    let mut lines = Vec::new();
    for line in text.split('\n') {
        let names = placeholders_in(line);
        if names.iter().any(|name| {
            values
                .get(name)
                .is_some_and(|value| value.trim().is_empty())
        }) {
            continue;
        }
        lines.push(fill_line(line, values));
    }
    // Dropping lines may leave runs of blank lines: one is enough.
    let mut out = String::new();
    let mut blank_run = 0;
    for line in lines {
        if line.trim().is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.trim().to_owned()
}

/// A subject on one line: placeholders filled, line breaks removed.
pub fn render_subject(text: &str, values: &Values) -> String {
    render(text, values)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The body as HTML paragraphs (blank lines separate paragraphs, line breaks stay), every character of the
/// text escaped: what the sender typed is never markup.
pub fn html_fragment(text: &str) -> String {
    let normalized = text.replace("\r\n", "\n");
    normalized
        .split("\n\n")
        .map(str::trim)
        .filter(|paragraph| !paragraph.is_empty())
        .map(|paragraph| {
            let lines: Vec<String> = paragraph.lines().map(escape).collect();
            format!("<p>{}</p>", lines.join("<br>\n"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The HTML part of the email.
pub fn html_document(subject: &str, text: &str, lang: Language) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n</head>\n\
         <body>\n{}\n</body>\n</html>\n",
        lang.code(),
        escape(subject),
        html_fragment(text)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            invoice_number: "F2026-00042".into(),
            invoice_date: "30/11/2026".into(),
            amount: "1 234,56 €".into(),
            customer_name: "Globex SARL".into(),
            reasons: "JUSTIF_ABS (Justificatif absent)".into(),
            reason_sentence: reason_sentence(208, Some("JUSTIF_ABS"), Language::Fr),
            comment: "Merci d'envoyer le bon de livraison".into(),
            company_name: "ACME SAS".into(),
            signature: "ACME SAS — Service comptable".into(),
            sender_name: "Marie Martin".into(),
        }
    }

    #[test]
    fn a_value_that_looks_like_a_placeholder_is_written_as_it_is() {
        let mut values = values();
        values.comment = "Montant {amount} ? Signé {signature} {".into();
        let body = render(
            "Votre message : {comment}\nMontant : {amount} {inconnu}",
            &values,
        );
        assert_eq!(
            body,
            "Votre message : Montant {amount} ? Signé {signature} {\nMontant : 1 234,56 € {inconnu}"
        );
        let template = Template {
            subject: "{x} {x}".into(),
            body: "{y} {x}".into(),
        };
        assert_eq!(unknown_placeholders(&template), vec!["{x}", "{y}"]);
    }

    #[test]
    fn the_default_208_in_french_says_everything_the_customer_needs() {
        let template = default_template(208, Language::Fr);
        let values = values();
        let subject = render_subject(&template.subject, &values);
        assert_eq!(subject, "Facture F2026-00042 : les informations demandées");
        let body = render(&template.body, &values);
        for expected in [
            "F2026-00042 du 30/11/2026 (1 234,56 €)",
            "JUSTIF_ABS (Justificatif absent)",
            "« Merci d'envoyer le bon de livraison »",
            "Vous trouverez en pièce jointe le justificatif demandé.",
            "Marie Martin\nACME SAS — Service comptable",
        ] {
            assert!(body.contains(expected), "{expected:?} in {body}");
        }
        assert!(!body.contains('{'), "every placeholder is filled: {body}");
        assert!(body.starts_with("Bonjour,"));
    }

    #[test]
    fn templates_differ_by_status_language_and_first_reason() {
        let fr_207 = default_template(207, Language::Fr);
        let en_207 = default_template(207, Language::En);
        let en_208 = default_template(208, Language::En);
        assert!(fr_207.subject.contains("contestation"));
        assert!(en_207.subject.contains("dispute"));
        assert!(en_208.subject.contains("information"));
        assert_ne!(
            reason_sentence(207, Some("TX_TVA_ERR"), Language::Fr),
            reason_sentence(207, Some("AUTRE"), Language::Fr)
        );
        assert_ne!(
            reason_sentence(208, Some("COORD_BANC_ERR"), Language::En),
            reason_sentence(208, Some("JUSTIF_ABS"), Language::En)
        );
        assert_eq!(
            reason_sentence(208, None, Language::En),
            "Please find the requested information attached."
        );
        for status in ANSWERED_STATUSES {
            for lang in [Language::Fr, Language::En] {
                assert!(
                    unknown_placeholders(&default_template(status, lang)).is_empty(),
                    "{status} {lang}"
                );
            }
        }
    }

    #[test]
    fn a_line_about_a_missing_value_is_left_out() {
        let mut values = values();
        values.comment = "  ".into();
        let body = render(&default_template(208, Language::En).body, &values);
        assert!(!body.contains("Your request"), "{body}");
        assert!(!body.contains("\n\n\n"), "no run of blank lines: {body:?}");
        assert!(body.contains("following reason: JUSTIF_ABS"));
    }

    #[test]
    fn unknown_placeholders_are_named_and_stray_braces_are_text() {
        let template = Template {
            subject: "Facture {invoice_number} {numero}".into(),
            body: "Montant {amount} {montant} et { accolade seule".into(),
        };
        assert_eq!(
            unknown_placeholders(&template),
            vec!["{numero}".to_owned(), "{montant}".to_owned()]
        );
        assert_eq!(
            render("{ accolade {amount}", &values()),
            "{ accolade 1 234,56 €"
        );
    }

    #[test]
    fn the_html_part_escapes_what_was_typed_and_keeps_paragraphs() {
        let html = html_fragment("Bonjour <b>client</b>,\n\nLigne 1\nLigne 2 & co");
        assert_eq!(
            html,
            "<p>Bonjour &lt;b&gt;client&lt;/b&gt;,</p>\n<p>Ligne 1<br>\nLigne 2 &amp; co</p>"
        );
        let document = html_document("Facture <1>", "Texte", Language::Fr);
        assert!(document.contains("<html lang=\"fr\">"));
        assert!(document.contains("<title>Facture &lt;1&gt;</title>"));
        assert!(document.contains("<p>Texte</p>"));
    }

    #[test]
    fn a_subject_stays_on_one_line() {
        assert_eq!(
            render_subject("Facture\n{invoice_number}\r\n ok", &values()),
            "Facture F2026-00042 ok"
        );
    }
}
