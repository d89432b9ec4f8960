//! JSON helpers: Billit matches property names case-insensitively on input and writes PascalCase.

use serde_json::{Map, Value};

/// Every property name the sandbox reads, spelled as Billit writes it.
const CANONICAL: &[&str] = &[
    "OrderID",
    "CompanyID",
    "OrderPDF",
    "Attachments",
    "OrderNumber",
    "OrderType",
    "OrderDirection",
    "AboutInvoiceNumber",
    "Customer",
    "Supplier",
    "OrderDate",
    "ExpiryDate",
    "DeliveryDate",
    "LastModified",
    "Created",
    "OrderTitle",
    "OrderLines",
    "TotalExcl",
    "TotalVAT",
    "TotalIncl",
    "Currency",
    "Reference",
    "PaymentReference",
    "Comments",
    "Paid",
    "PaidDate",
    "ToPay",
    "OrderStatus",
    "IsSent",
    "ExternalProviderReferences",
    "CurrentDocumentDeliveryDetails",
    "Messages",
    "TaxReportingStatusTC",
    "FileID",
    "FileName",
    "MimeType",
    "FileContent",
    "PartyID",
    "Nr",
    "Name",
    "PartyType",
    "VATNumber",
    "Email",
    "Phone",
    "Mobile",
    "Language",
    "Street",
    "StreetNumber",
    "Zipcode",
    "City",
    "CountryCode",
    "IBAN",
    "BIC",
    "Addresses",
    "Identifiers",
    "AddressType",
    "IdentifierType",
    "Identifier",
    "SchemeID",
    "Preferred",
    "IdentifierAddress",
    "OrderLineID",
    "Quantity",
    "UnitPriceExcl",
    "UnitPriceIncl",
    "Description",
    "DescriptionExtended",
    "Unit",
    "VATPercentage",
    "EntityType",
    "EntityUpdateType",
    "WebhookURL",
    "TransportType",
    "OrderIDs",
    "Amount",
    "PaymentDate",
    "ApiKey",
    "VentilationCode",
    "Tags",
    "CustomFields",
    "VatGroups",
];

fn canonical(key: &str) -> Option<&'static str> {
    CANONICAL
        .iter()
        .copied()
        .find(|name| name.eq_ignore_ascii_case(key))
}

/// Renames every object key to its canonical spelling (case-insensitively), recursively.
/// Unknown keys are kept as they came. Depth is bounded by serde_json's own recursion limit.
pub fn normalize_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, inner) in map {
                let name = canonical(&key).map_or(key, str::to_owned);
                out.insert(name, normalize_keys(inner));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(normalize_keys).collect()),
        other => other,
    }
}

/// Removes `null` members from objects, recursively (Billit omits nulls).
pub fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, inner)| !inner.is_null())
                .map(|(key, inner)| (key, strip_nulls(inner)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_matched_case_insensitively() {
        let value = normalize_keys(
            json!({"ordernumber": "A", "customer": {"vatnumber": "FR1"}, "x": null}),
        );
        assert_eq!(value["OrderNumber"], "A");
        assert_eq!(value["Customer"]["VATNumber"], "FR1");
        assert_eq!(strip_nulls(value).get("x"), None);
    }
}
