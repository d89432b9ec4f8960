//! CDAR status files, built to the structure of the official samples (`fixtures/cdar/`).

use chrono::{DateTime, Utc};

/// What a status file says.
#[derive(Debug, Clone)]
pub struct CdarStatus<'a> {
    /// The status (e.g. 207).
    pub code: u16,
    /// The invoice number (BT-1).
    pub invoice_number: &'a str,
    /// The seller's SIREN.
    pub seller_siren: &'a str,
    /// The buyer's SIREN.
    pub buyer_siren: &'a str,
    /// Issuer role: `BY` (buyer), `WK` (a platform), `DFH` (the PPF).
    pub issuer_role: &'a str,
    /// Reason codes.
    pub reasons: &'a [String],
    /// Requested action code (`NIN`, `PIN`…).
    pub action: Option<&'a str>,
    /// Free comment.
    pub comment: Option<&'a str>,
    /// When.
    pub at: DateTime<Utc>,
}

/// The official label of a status, as written in `ProcessCondition`.
pub fn process_condition(code: u16) -> &'static str {
    match code {
        200 => "Déposée",
        201 => "Émise_par_la_plateforme",
        202 => "Reçue_par_la_plateforme",
        203 => "Mise_à_disposition",
        204 => "Prise_en_charge",
        205 => "Approuvée",
        206 => "Approuvée_partiellement",
        207 => "En_litige",
        208 => "Suspendue",
        209 => "Complétée",
        210 => "Refusée",
        211 => "Paiement_transmis",
        212 => "Encaissée",
        213 => "Rejetée",
        250 => "Déposée",
        251 => "Rejetée",
        500 => "Recevable",
        501 => "Irrecevable",
        _ => "Statut",
    }
}

/// A label for a reason code (French).
pub fn reason_label(code: &str) -> &'static str {
    match code {
        "TX_TVA_ERR" => "Taux de TVA erroné",
        "JUSTIF_ABS" => "Justificatif absent",
        "CONTRAT_TERM" => "Contrat terminé",
        "DEST_INC" => "Destinataire inconnu",
        "REJ_UNI" => "Facture non unique",
        "REJ_SEMAN" => "Rejet sémantique",
        "DOUBLON" => "Doublon",
        _ => "Motif",
    }
}

fn action_label(code: &str) -> &'static str {
    match code {
        "NIN" => "Créer une Facture Rectificative",
        "PIN" => "Fournir des informations",
        "CNF" => "Créer un avoir total",
        "CNP" => "Créer un avoir partiel",
        "NOA" => "Aucune action",
        _ => "Autre",
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The XML of a status file.
pub fn build(status: &CdarStatus<'_>) -> String {
    let stamp = status.at.format("%Y%m%d%H%M%S").to_string();
    let date = status.at.format("%Y%m%d").to_string();
    let number = escape(status.invoice_number);
    let type_code = if matches!(status.code, 200..=203 | 213 | 250 | 251 | 500 | 501) {
        "305"
    } else {
        "23"
    };
    let mut blocks = String::new();
    for (index, reason) in status.reasons.iter().enumerate() {
        let reason = escape(reason);
        blocks.push_str(&format!(
            "               <ram:SpecifiedDocumentStatus>\n                    <ram:ReasonCode>{reason}</ram:ReasonCode>\n                    <ram:Reason>{}</ram:Reason>\n",
            reason_label(&reason)
        ));
        if let Some(action) = status.action {
            let action = escape(action);
            blocks.push_str(&format!(
                "                    <ram:RequestedActionCode>{action}</ram:RequestedActionCode>\n                    <ram:RequestedAction>{}</ram:RequestedAction>\n",
                action_label(&action)
            ));
        }
        blocks.push_str(&format!(
            "                    <ram:SequenceNumeric>{}</ram:SequenceNumeric>\n",
            index + 1
        ));
        if let Some(comment) = status.comment.filter(|c| !c.trim().is_empty()) {
            blocks.push_str(&format!(
                "                    <ram:IncludedNote>\n                         <ram:Content>{}</ram:Content>\n                    </ram:IncludedNote>\n",
                escape(comment)
            ));
        }
        blocks.push_str("               </ram:SpecifiedDocumentStatus>\n");
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossDomainAcknowledgementAndResponse
 xmlns:qdt="urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
 xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
 xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
 xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossDomainAcknowledgementAndResponse:100">
     <rsm:ExchangedDocumentContext>
          <ram:BusinessProcessSpecifiedDocumentContextParameter>
               <ram:ID>REGULATED</ram:ID>
          </ram:BusinessProcessSpecifiedDocumentContextParameter>
          <ram:GuidelineSpecifiedDocumentContextParameter>
               <ram:ID>urn.cpro.gouv.fr:1p0:CDV:invoice</ram:ID>
          </ram:GuidelineSpecifiedDocumentContextParameter>
     </rsm:ExchangedDocumentContext>
     <rsm:ExchangedDocument>
          <ram:ID>{number}_{code}_{stamp}#380_{date}</ram:ID>
          <ram:Name>SANDBOX_{number}-CDV-{code}_{label}</ram:Name>
          <ram:IssueDateTime>
               <udt:DateTimeString format="204">{stamp}</udt:DateTimeString>
          </ram:IssueDateTime>
          <ram:SenderTradeParty>
               <ram:RoleCode>WK</ram:RoleCode>
          </ram:SenderTradeParty>
          <ram:IssuerTradeParty>
               <ram:GlobalID schemeID="0002">{issuer}</ram:GlobalID>
               <ram:RoleCode>{role}</ram:RoleCode>
          </ram:IssuerTradeParty>
          <ram:RecipientTradeParty>
               <ram:GlobalID schemeID="0002">{seller}</ram:GlobalID>
               <ram:RoleCode>SE</ram:RoleCode>
          </ram:RecipientTradeParty>
     </rsm:ExchangedDocument>
     <rsm:AcknowledgementDocument>
          <ram:MultipleReferencesIndicator>
               <udt:Indicator>false</udt:Indicator>
          </ram:MultipleReferencesIndicator>
          <ram:TypeCode>{type_code}</ram:TypeCode>
          <ram:IssueDateTime>
               <udt:DateTimeString format="204">{stamp}</udt:DateTimeString>
          </ram:IssueDateTime>
          <ram:ReferenceReferencedDocument>
               <ram:IssuerAssignedID>{number}</ram:IssuerAssignedID>
               <ram:StatusCode>46</ram:StatusCode>
               <ram:TypeCode>380</ram:TypeCode>
               <ram:FormattedIssueDateTime>
                    <qdt:DateTimeString format="102">{date}</qdt:DateTimeString>
               </ram:FormattedIssueDateTime>
               <ram:ProcessConditionCode>{code}</ram:ProcessConditionCode>
               <ram:ProcessCondition>{label}</ram:ProcessCondition>
               <ram:IssuerTradeParty>
                    <ram:GlobalID schemeID="0002">{seller}</ram:GlobalID>
               </ram:IssuerTradeParty>
{blocks}          </ram:ReferenceReferencedDocument>
     </rsm:AcknowledgementDocument>
</rsm:CrossDomainAcknowledgementAndResponse>
"#,
        code = status.code,
        label = process_condition(status.code),
        issuer = if status.issuer_role == "BY" {
            escape(status.buyer_siren)
        } else {
            "100000009".to_owned()
        },
        role = escape(status.issuer_role),
        seller = escape(status.seller_siren),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_parses_with_the_client_parser_and_keeps_the_reasons() {
        let reasons = vec!["TX_TVA_ERR".to_owned()];
        let xml = build(&CdarStatus {
            code: 207,
            invoice_number: "F<1>",
            seller_siren: "227010068",
            buyer_siren: "127362116",
            issuer_role: "BY",
            reasons: &reasons,
            action: Some("NIN"),
            comment: Some("Taux & montant"),
            at: Utc::now(),
        });
        let doc = portal_billit::cdar::parse_cdar(xml.as_bytes());
        assert!(doc.is_ok(), "{doc:?}");
        let event = portal_billit::classify::classify_cdar(&doc.unwrap(), None, None);
        assert_eq!(event.code.map(|c| c.0), Some(207));
        assert!(event.has_reason("TX_TVA_ERR"));
    }
}
