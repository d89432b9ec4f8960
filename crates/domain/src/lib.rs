//! The rules of French e-invoicing as pure Rust: no I/O, no framework.
//!
//! Every other crate asks this one instead of re-deciding a rule:
//! - [`money`]: exact amounts, quantities, unit prices, VAT rates, exemption reasons, totals;
//! - [`identifiers`]: SIREN, SIRET, VAT number, IBAN, BIC, electronic address, email, invoice number;
//! - [`invoice`]: invoices and credit notes, and the pre-submission check;
//! - [`status`]: the catalogue of lifecycle statuses, reason codes and requested actions;
//! - [`lifecycle`]: status events and the fold that derives an invoice's state from them;
//! - [`ids`]: the entities' UUID v7 identifiers;
//! - [`submission`]: where a document is on its way to Billit (draft, queued, sending, sent, failed);
//! - [`payments`]: which invoices can be paid, which payments count, what remains, whether a payment fits;
//! - [`settlement`]: what can be settled by a credit note or a corrected invoice, and the credit limit;
//! - [`connection`]: a company's Billit connection (when the key is needed again, whether a key's company is
//!   the tenant's), the directory answer's freshness, and the sender name of its emails;
//! - [`actions`]: the one table of what may be done with a document after each status, and why not;
//! - [`reminders`]: the reminder schedule of unpaid invoices and the rule deciding which step is due or why not;
//! - [`search`]: the folded text a search box finds documents by (case, accents, amounts as typed).
//!
//! Decisions worth knowing:
//! - amounts are never negative: credit notes carry positive amounts and are told apart by their
//!   kind (as Billit's `OrderType: "CreditNote"`); negative quantities and prices are refused;
//! - VAT groups are keyed by rate *and* exemption reason; 0 % requires an exemption reason;
//! - a 0225 address does not require a Luhn-valid SIREN (Billit's sandbox identifiers have none),
//!   but the buyer's own SIREN (BT-47) does;
//! - 220 Annulée is final, takes the headline, closes open requests and needs no action;
//! - the REJ_* reason codes are allowed on 251 as well as 213 (the PPF's Flux 1 rejections use them);
//! - a line's net amount is rounded half away from zero to the cent, and the totals add up those rounded
//!   nets ([`money::line_net`]);
//! - a failed payment still counts in what was paid until it is cancelled; issued (queued, sending, sent)
//!   credit notes count against their invoice's credit limit.

pub mod actions;
pub mod connection;
pub mod identifiers;
pub mod ids;
pub mod invoice;
pub mod lang;
pub mod lifecycle;
pub mod money;
pub mod payments;
pub mod reminders;
pub mod search;
pub mod settlement;
pub mod status;
pub mod submission;

pub use lang::{Language, Localized};
