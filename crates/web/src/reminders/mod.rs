//! Reminders (relances) of unpaid invoices: the "reminders due" page and the company's reminder settings.

pub mod routes;
