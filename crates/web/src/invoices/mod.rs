//! Invoices: the list, the invoice page and its files, the editor and its form, and credit notes or corrected
//! invoices issued from an invoice (settlements).

pub mod dashboard;
pub mod editor;
pub mod export;
pub mod forms;
pub mod settlements;
pub mod views;
