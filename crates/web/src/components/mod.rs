//! Page pieces that several features show: the table of actions' decisions and refusals, the payment panel and the
//! answers panel of an invoice, the status badge. Shared layer: they use the application and the formatting, never a feature.

pub mod actions;
pub mod answers;
pub mod customer_form;
pub mod payments;
pub mod reminders;
pub mod status;
