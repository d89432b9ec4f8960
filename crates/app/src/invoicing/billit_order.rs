//! The Billit order for a checked invoice (`POST /v1/orders`), shaped like Billit's own orders
//! (fixtures `order-delivered*.json`).

use chrono::NaiveDate;
use portal_billit::wire::{Address, BillitDateTime, Identifier, Order, OrderLine, Party};
use portal_domain::Language;
use portal_domain::identifiers::ElectronicAddress;
use portal_domain::invoice::{Buyer, Invoice, InvoiceKind};

/// Billit's dates: local midnight, without a time zone.
fn billit_date(date: NaiveDate) -> BillitDateTime {
    BillitDateTime(format!("{}T00:00:00", date.format("%Y-%m-%d")))
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn identifier(kind: &str, scheme: &str, value: String) -> Identifier {
    Identifier {
        identifier_type: Some(kind.to_owned()),
        identifier_address: Some(format!("{scheme}:{value}")),
        identifier: Some(value),
        scheme_id: Some(scheme.to_owned()),
        preferred: None,
        extra: Default::default(),
    }
}

/// The buyer's identifiers: its electronic address first (a 0225 address is Billit's `CTC` identifier, the one
/// it routes on), then its SIREN.
fn identifiers(buyer: &Buyer) -> Vec<Identifier> {
    let address = &buyer.electronic_address;
    let kind = match address {
        ElectronicAddress::Ctc(_) => "CTC",
        ElectronicAddress::Siren(_) => "SIRENE",
        ElectronicAddress::Siret(_) => "SIRET",
        ElectronicAddress::Vat(_) => "VAT",
    };
    let mut identifiers = vec![Identifier {
        preferred: Some(true),
        ..identifier(kind, address.scheme(), address.value())
    }];
    if !matches!(address, ElectronicAddress::Siren(_)) {
        identifiers.push(identifier("SIRENE", "0002", buyer.siren.as_string()));
    }
    identifiers
}

fn customer(buyer: &Buyer) -> Party {
    let address = &buyer.address;
    let street = non_empty(&address.street);
    let postal = Address {
        address_type: Some("InvoiceAddress".to_owned()),
        name: Some(buyer.legal_name.clone()),
        street: street.clone(),
        zipcode: non_empty(&address.postcode),
        city: non_empty(&address.city),
        country_code: non_empty(&address.country_code),
        ..Address::default()
    };
    Party {
        name: Some(buyer.legal_name.clone()),
        party_type: Some("Customer".to_owned()),
        vat_number: buyer.vat_number.as_ref().map(|vat| vat.as_string()),
        email: buyer
            .contact_emails
            .first()
            .map(|email| email.as_str().to_owned()),
        language: Some(buyer.language.code().to_ascii_uppercase()),
        street,
        zipcode: postal.zipcode.clone(),
        city: postal.city.clone(),
        country_code: postal.country_code.clone(),
        addresses: Some(vec![postal]),
        identifiers: Some(identifiers(buyer)),
        ..Party::default()
    }
}

/// What the order's comments carry: the notes, the references Billit has no field for, and the legal mention of
/// every exemption used (BT-120), in the buyer's language.
fn comments(invoice: &Invoice) -> Option<String> {
    let language = invoice.buyer().language;
    let mut parts: Vec<String> = invoice.notes().to_vec();
    let references = invoice.references();
    if let Some(contract) = &references.contract {
        parts.push(format!(
            "{} : {contract}",
            language.pick("Contrat", "Contract")
        ));
    }
    if let Some(reference) = &references.buyer_reference {
        parts.push(format!(
            "{} : {reference}",
            language.pick("Référence acheteur", "Buyer reference")
        ));
    }
    let mut mentions: Vec<&str> = Vec::new();
    for line in invoice.lines() {
        if let Some(reason) = line.exemption {
            let mention = match language {
                Language::Fr => reason.mention_fr(),
                Language::En => reason.mention_en(),
            };
            if !mentions.contains(&mention) {
                mentions.push(mention);
            }
        }
    }
    parts.extend(mentions.into_iter().map(str::to_owned));
    (!parts.is_empty()).then(|| parts.join("\n"))
}

/// The order Billit creates for this invoice.
pub fn order_for(invoice: &Invoice) -> Order {
    let (order_type, about) = match invoice.kind() {
        InvoiceKind::Invoice => ("Invoice", None),
        InvoiceKind::CreditNote { corrects } => ("CreditNote", Some(corrects.as_str().to_owned())),
    };
    let lines = invoice
        .lines()
        .iter()
        .map(|line| OrderLine {
            quantity: Some(line.quantity.value()),
            unit_price_excl: Some(line.unit_price.value()),
            vat_percentage: Some(line.vat_rate.value()),
            description: Some(line.description.clone()),
            unit: line.unit.clone(),
            ..OrderLine::default()
        })
        .collect();
    Order {
        order_number: Some(invoice.number().as_str().to_owned()),
        order_type: Some(order_type.to_owned()),
        order_direction: Some("Income".to_owned()),
        about_invoice_number: about,
        customer: Some(customer(invoice.buyer())),
        order_date: Some(billit_date(invoice.issue_date())),
        expiry_date: invoice.due_date().map(billit_date),
        delivery_date: invoice.delivery_date().map(billit_date),
        currency: Some(invoice.currency().code().to_owned()),
        reference: invoice.references().purchase_order.clone(),
        comments: comments(invoice),
        order_lines: Some(lines),
        ..Order::default()
    }
}

/// An invoice paid when issued (a cash sale, a prepaid order): the order is created `Paid` with the day it was
/// paid, so that Billit reports its payment (212) itself when it is sent.
pub fn paid_at_issue(mut order: Order, paid_on: Option<NaiveDate>) -> Order {
    if let Some(date) = paid_on {
        order.paid = Some(true);
        order.paid_date = Some(billit_date(date));
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_domain::identifiers::Siren;
    use portal_domain::invoice::{
        Address as BuyerAddress, BuyerDraft, DocumentType, InvoiceDraft, LineDraft,
        check_before_submission,
    };
    use portal_domain::money::ExemptionReason;

    fn invoice() -> Invoice {
        let draft = InvoiceDraft {
            document_type: DocumentType::CreditNote,
            corrects: "F2026-00001".into(),
            number: "AV2026-00001".into(),
            issue_date: NaiveDate::from_ymd_opt(2026, 11, 30),
            due_date: NaiveDate::from_ymd_opt(2026, 12, 30),
            seller_siren: Siren::parse("732829320").ok(),
            buyer: BuyerDraft {
                legal_name: "Client SA".into(),
                siren: "443061841".into(),
                electronic_address: "0225:443061841_DEMO".into(),
                contact_emails: vec!["compta@client.fr".into()],
                address: BuyerAddress {
                    city: "Paris".into(),
                    ..BuyerAddress::default()
                },
                ..BuyerDraft::default()
            },
            lines: vec![
                LineDraft {
                    description: "Conseil".into(),
                    quantity: "1.5".into(),
                    unit: "HUR".into(),
                    unit_price: "100".into(),
                    vat_rate: "20".into(),
                    exemption: None,
                },
                LineDraft {
                    description: "Formation".into(),
                    quantity: "1".into(),
                    unit: String::new(),
                    unit_price: "10".into(),
                    vat_rate: "0".into(),
                    exemption: Some(ExemptionReason::ExemptArticle261),
                },
            ],
            purchase_order: "PO-7".into(),
            contract: "C-1".into(),
            ..InvoiceDraft::default()
        };
        check_before_submission(&draft, &|_: &_| false).unwrap()
    }

    #[test]
    fn an_invoice_paid_at_issue_is_created_paid_with_its_date() {
        let unpaid = serde_json::to_value(paid_at_issue(order_for(&invoice()), None)).unwrap();
        assert!(unpaid.get("Paid").is_none() && unpaid.get("PaidDate").is_none());
        let paid = serde_json::to_value(paid_at_issue(
            order_for(&invoice()),
            NaiveDate::from_ymd_opt(2026, 11, 29),
        ))
        .unwrap();
        assert_eq!(paid["Paid"], true);
        assert_eq!(paid["PaidDate"], "2026-11-29T00:00:00");
    }

    #[test]
    fn the_order_carries_the_invoice() {
        let order = order_for(&invoice());
        let json = serde_json::to_value(&order).unwrap();
        assert_eq!(json["OrderNumber"], "AV2026-00001");
        assert_eq!(json["OrderType"], "CreditNote");
        assert_eq!(json["AboutInvoiceNumber"], "F2026-00001");
        assert_eq!(json["OrderDirection"], "Income");
        assert_eq!(json["OrderDate"], "2026-11-30T00:00:00");
        assert_eq!(json["ExpiryDate"], "2026-12-30T00:00:00");
        assert_eq!(json["Reference"], "PO-7");
        let customer = &json["Customer"];
        assert_eq!(customer["Name"], "Client SA");
        assert_eq!(customer["Email"], "compta@client.fr");
        assert_eq!(customer["Identifiers"][0]["IdentifierType"], "CTC");
        assert_eq!(customer["Identifiers"][0]["SchemeID"], "0225");
        assert_eq!(customer["Identifiers"][0]["Identifier"], "443061841_DEMO");
        assert_eq!(customer["Identifiers"][1]["Identifier"], "443061841");
        let lines = json["OrderLines"].as_array().unwrap();
        assert_eq!(lines[0]["Quantity"].as_f64(), Some(1.5));
        assert_eq!(lines[0]["Unit"], "HUR");
        assert_eq!(lines[1]["VATPercentage"], 0);
        let comments = json["Comments"].as_str().unwrap();
        assert!(comments.contains("Contrat : C-1"), "{comments}");
        assert!(comments.contains("art. 261"), "{comments}");
    }
}
