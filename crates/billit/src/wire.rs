//! Billit's JSON, as Rust types.
//!
//! - Property names are PascalCase as Billit writes them; the spellings Billit's docs mix are
//!   accepted too (`Transporttype`, `OrderIds`).
//! - Every type keeps the fields it does not know in a flattened map (`extra`), so reading a
//!   payload and writing it back loses nothing.
//! - Absent fields stay absent (Billit omits nulls); an explicit `null` on a known field is
//!   read as absent and not written back.
//! - Date-times are kept as Billit wrote them ([`BillitDateTime`]) and converted to UTC by
//!   [`BillitDateTime::to_utc`] (Europe/Brussels local time, see [`crate::time`]).
//! - Amounts are exact decimals ([`Decimal`]), read from JSON numbers or strings and written as
//!   JSON numbers.

use crate::time;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// Fields a type does not know, kept as they came.
pub type Extra = BTreeMap<String, Value>;

/// A Billit date-time as written (no time zone: Brussels local time).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BillitDateTime(pub String);

impl BillitDateTime {
    /// The instant in UTC (`None` when the text is not a date-time).
    pub fn to_utc(&self) -> Option<DateTime<Utc>> {
        time::parse_billit(&self.0)
    }

    /// A UTC instant written as Billit expects it (Brussels local time).
    pub fn from_utc(at: DateTime<Utc>) -> Self {
        Self(time::format_billit(at))
    }

    /// The text as Billit wrote it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BillitDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Serde helpers: exact decimals read from JSON numbers (or strings) and written as numbers.
pub mod decimal_number {
    use rust_decimal::Decimal;
    use rust_decimal::prelude::ToPrimitive;
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;
    use std::str::FromStr;

    struct DecimalVisitor;

    impl Visitor<'_> for DecimalVisitor {
        type Value = Decimal;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a decimal number")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
            if !v.is_finite() {
                return Err(E::custom("not a finite number"));
            }
            // Rust prints the shortest text that reads back as the same f64: "1.21", not 1.2099….
            let mut value = Decimal::from_str(&v.to_string())
                .or_else(|_| Decimal::from_scientific(&format!("{v:e}")))
                .map_err(|_| E::custom("number out of range"))?;
            // A JSON float stays a float when written back (400.0, not 400).
            if value.scale() == 0 {
                value.rescale(1);
            }
            Ok(value)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
            let v = v.trim();
            Decimal::from_str(v)
                .or_else(|_| Decimal::from_scientific(v))
                .map_err(|_| E::custom("not a decimal number"))
        }
    }

    /// Writes a decimal as a JSON number.
    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        if value.scale() == 0
            && let Some(int) = value.to_i64()
        {
            return serializer.serialize_i64(int);
        }
        match value.to_f64() {
            Some(float) => serializer.serialize_f64(float),
            None => serializer.serialize_str(&value.to_string()),
        }
    }

    /// Reads a decimal from a JSON number or string.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        deserializer.deserialize_any(DecimalVisitor)
    }

    /// The same for `Option<Decimal>` (with `#[serde(default)]`).
    pub mod option {
        use super::DecimalVisitor;
        use rust_decimal::Decimal;
        use serde::de::{self, Visitor};
        use serde::{Deserializer, Serializer};
        use std::fmt;

        struct OptionVisitor;

        impl<'de> Visitor<'de> for OptionVisitor {
            type Value = Option<Decimal>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal number or null")
            }

            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(DecimalVisitor).map(Some)
            }
        }

        /// Writes `Some` as a JSON number (use with `skip_serializing_if = "Option::is_none"`).
        pub fn serialize<S: Serializer>(
            value: &Option<Decimal>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(value) => super::serialize(value, serializer),
                None => serializer.serialize_none(),
            }
        }

        /// Reads a decimal, null or absent.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Decimal>, D::Error> {
            deserializer.deserialize_option(OptionVisitor)
        }
    }
}

/// An order (invoice or credit note), as Billit returns it and as the portal creates it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Order {
    #[serde(rename = "OrderID", default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<i64>,
    #[serde(rename = "CompanyID", default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<i64>,
    #[serde(rename = "OrderPDF", default, skip_serializing_if = "Option::is_none")]
    pub order_pdf: Option<FileRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Vec<FileRef>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
    /// `Invoice` or `CreditNote`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_type: Option<String>,
    /// `Income` (sales) or `Cost` (purchases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_direction: Option<String>,
    /// For a credit note: the invoice it corrects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about_invoice_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Party>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier: Option<Party>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_date: Option<BillitDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<BillitDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_date: Option<BillitDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<BillitDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<BillitDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_lines: Option<Vec<OrderLine>>,
    #[serde(
        default,
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_excl: Option<Decimal>,
    #[serde(
        rename = "TotalVAT",
        default,
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_vat: Option<Decimal>,
    #[serde(
        default,
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_incl: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_date: Option<BillitDateTime>,
    /// The amount still due.
    #[serde(
        default,
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub to_pay: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_sent: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_provider_references: Option<Vec<ExternalProviderReference>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_document_delivery_details: Option<DeliveryDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<Message>>,
    /// `Done` or `Failed`; absent while pending.
    #[serde(
        rename = "TaxReportingStatusTC",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tax_reporting_status_tc: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Order {
    /// The order's messages (none when absent).
    pub fn messages(&self) -> &[Message] {
        self.messages.as_deref().unwrap_or_default()
    }
}

/// A reference to a file (`FileID` + `FileName`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileRef {
    #[serde(rename = "FileID", default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Base64 content (in `GET /v1/files/{id}` answers and in uploads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_content: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A customer or supplier.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Party {
    #[serde(rename = "PartyID", default, skip_serializing_if = "Option::is_none")]
    pub party_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party_type: Option<String>,
    #[serde(rename = "VATNumber", default, skip_serializing_if = "Option::is_none")]
    pub vat_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zipcode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    #[serde(rename = "IBAN", default, skip_serializing_if = "Option::is_none")]
    pub iban: Option<String>,
    #[serde(rename = "BIC", default, skip_serializing_if = "Option::is_none")]
    pub bic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<Address>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifiers: Option<Vec<Identifier>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Address {
    /// `InvoiceAddress` or `DeliveryAddress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zipcode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A party identifier (SIREN, SIRET, VAT, CTC…).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Identifier {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    #[serde(rename = "SchemeID", default, skip_serializing_if = "Option::is_none")]
    pub scheme_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier_address: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// An order line.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrderLine {
    #[serde(
        rename = "OrderLineID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub order_line_id: Option<i64>,
    #[serde(
        default,
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub quantity: Option<Decimal>,
    #[serde(
        default,
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub unit_price_excl: Option<Decimal>,
    #[serde(
        default,
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub unit_price_incl: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description_extended: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(
        rename = "VATPercentage",
        default,
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub vat_percentage: Option<Decimal>,
    #[serde(
        default,
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_excl: Option<Decimal>,
    #[serde(
        rename = "TotalVAT",
        default,
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_vat: Option<Decimal>,
    #[serde(
        default,
        with = "decimal_number::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_incl: Option<Decimal>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A PPF reference attached to the order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExternalProviderReference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(rename = "EntityID", default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<i64>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `CurrentDocumentDeliveryDetails`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeliveryDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_delivery_date: Option<BillitDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_delivery_info: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_document_delivered: Option<bool>,
    /// `Pending`, `Delivered` or `Error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_delivery_status: Option<String>,
    #[serde(
        rename = "DocumentRefusedReasonTC",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub document_refused_reason_tc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_refused_info: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A message on an order (also the old shape of a webhook's `EntityDetail`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Message {
    #[serde(rename = "MessageID", default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<i64>,
    #[serde(rename = "OrderID", default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "FileID", default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<BillitDateTime>,
    /// `Peppol`, `FrenchTaxAuthority`, `SDI`, `Email`…
    #[serde(
        rename = "TransportType",
        alias = "Transporttype",
        alias = "transportType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transport_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trials: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// `Incoming` or `Outgoing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_direction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The old webhook shape's flow state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_additional_information: Option<AdditionalInformation>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `MessageAdditionalInformation` / `AdditionalMessageInformation`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AdditionalInformation {
    /// `Sent`, `Accepted`, `Delivered` or `Refused`.
    #[serde(
        rename = "EInvoiceFlowState",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub e_invoice_flow_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_flow_state_information: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The body of a webhook call.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WebhookPayload {
    /// The message's (or order's) id.
    #[serde(
        rename = "UpdatedEntityID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_entity_id: Option<i64>,
    /// `Message` or `Order`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_entity_type: Option<String>,
    /// `I`, `U` or `D`.
    #[serde(
        rename = "WebhookUpdateTypeTC",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub webhook_update_type_tc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_detail: Option<EntityDetail>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Which shape a webhook's `EntityDetail` has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailShape {
    /// The message's fields directly, plus `MessageAdditionalInformation`.
    Old,
    /// `OrderMessage` plus `AdditionalMessageInformation`.
    New,
    /// Nothing usable: fetch the order.
    Empty,
}

/// A webhook's `EntityDetail`, in any of its three shapes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EntityDetail {
    /// The newer shape's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_message: Option<Message>,
    /// The newer shape's flow state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_message_information: Option<AdditionalInformation>,
    /// The older shape: the message's fields directly (and anything else, kept in its `extra`).
    #[serde(flatten)]
    pub message: Message,
}

impl EntityDetail {
    /// Which shape this is.
    pub fn shape(&self) -> DetailShape {
        if self.order_message.is_some() || self.additional_message_information.is_some() {
            DetailShape::New
        } else if message_has_content(&self.message) {
            DetailShape::Old
        } else {
            DetailShape::Empty
        }
    }

    /// The message, whatever the shape, with its flow state (`None` when empty).
    pub fn effective_message(&self) -> Option<Message> {
        match self.shape() {
            DetailShape::Empty => None,
            DetailShape::Old => Some(self.message.clone()),
            DetailShape::New => {
                let mut message = self.order_message.clone().unwrap_or_default();
                if message.message_additional_information.is_none() {
                    message
                        .message_additional_information
                        .clone_from(&self.additional_message_information);
                }
                if message.order_id.is_none() {
                    message.order_id = self.message.order_id;
                }
                Some(message)
            }
        }
    }
}

fn message_has_content(message: &Message) -> bool {
    message.description.is_some()
        || message.file_id.is_some()
        || message.creation_date.is_some()
        || message.transport_type.is_some()
        || message.message_direction.is_some()
        || message.message_additional_information.is_some()
}

impl WebhookPayload {
    /// The shape of the detail (`Empty` when there is none).
    pub fn shape(&self) -> DetailShape {
        self.entity_detail
            .as_ref()
            .map_or(DetailShape::Empty, EntityDetail::shape)
    }

    /// The order the payload is about, when it says.
    pub fn order_id(&self) -> Option<i64> {
        let detail = self.entity_detail.as_ref()?;
        if self
            .updated_entity_type
            .as_deref()
            .is_some_and(|kind| kind.eq_ignore_ascii_case("Order"))
        {
            return detail.message.order_id.or(self.updated_entity_id);
        }
        detail
            .effective_message()
            .and_then(|message| message.order_id)
            .or(detail.message.order_id)
    }
}

/// `POST /v1/webhooks` body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WebhookRegistration {
    /// `Message` or `Order`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<String>,
    /// `I`, `U` or `D`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_update_type: Option<String>,
    #[serde(
        rename = "WebhookURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub webhook_url: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A registered webhook (its `Secret` is redacted from `Debug`).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Webhook {
    #[serde(rename = "WebhookID", default, skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_update_type: Option<String>,
    #[serde(
        rename = "WebhookURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub webhook_url: Option<String>,
    /// The signing secret (shown once, at creation or refresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("webhook_id", &self.webhook_id)
            .field("entity_type", &self.entity_type)
            .field("entity_update_type", &self.entity_update_type)
            .field("webhook_url", &self.webhook_url)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// `POST /v1/orders/commands/send` body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SendCommand {
    /// `Peppol` in France.
    #[serde(
        rename = "TransportType",
        alias = "Transporttype",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transport_type: Option<String>,
    #[serde(rename = "OrderIDs", alias = "OrderIds", default)]
    pub order_ids: Vec<i64>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `PATCH /v1/orders/{id}` body to mark an order paid.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PaidPatch {
    pub paid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_date: Option<BillitDateTime>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `POST /v1/orders/{id}/payments` body: one (partial) payment received (status 212).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PaymentRequest {
    #[serde(with = "decimal_number")]
    pub amount: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_date: Option<BillitDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Billit's error body: `{"errors":[{"Code":…,"Description":…}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "errors", alias = "Errors", default)]
    pub errors: Vec<ApiError>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One error in Billit's error body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApiError {
    #[serde(
        rename = "Code",
        alias = "code",
        default,
        deserialize_with = "string_or_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<String>,
    #[serde(
        rename = "Description",
        alias = "description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text),
        Some(other) => Some(other.to_string()),
    })
}

/// A page of a list: `{"Items":[…],"NextPageLink":…}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Paged<T> {
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_link: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A company the API key may act for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Company {
    #[serde(rename = "PartyID", default, skip_serializing_if = "Option::is_none")]
    pub party_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "VATNumber", default, skip_serializing_if = "Option::is_none")]
    pub vat_number: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `GET /v1/account/accountInformation`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountInformation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub companies: Option<Vec<Company>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `GET /v1/peppol/participantInformation/{identifier}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParticipantInformation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_types: Option<Vec<Value>>,
    #[serde(flatten)]
    pub extra: Extra,
}
