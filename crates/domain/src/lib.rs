//! The rules of French e-invoicing as pure Rust: no I/O, no framework.
//!
//! Every other crate asks this one instead of re-deciding a rule:
//! - [`money`]: exact amounts, quantities, unit prices, VAT rates, exemption reasons, totals;
//! - [`identifiers`]: SIREN, SIRET, VAT number, IBAN, BIC, electronic address, email, invoice number;
//! - [`invoice`]: invoices and credit notes, and the pre-submission check;
//! - [`status`]: the catalogue of lifecycle statuses, reason codes and requested actions;
//! - [`lifecycle`]: status events and the fold that derives an invoice's state from them;
//! - [`ids`]: the entities' UUID v7 identifiers.

pub mod identifiers;
pub mod ids;
pub mod invoice;
pub mod lang;
pub mod lifecycle;
pub mod money;
pub mod status;

pub use lang::{Language, Localized};
