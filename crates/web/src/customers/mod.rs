//! Customers: the list, the form, and the check on the Peppol network.

pub mod forms;
pub mod network;
pub mod routes;
