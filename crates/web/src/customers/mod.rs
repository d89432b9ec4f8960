//! Customers: the list, the form, the check on the Peppol network, and the CSV import.

pub mod forms;
pub mod import;
pub mod network;
pub mod routes;
