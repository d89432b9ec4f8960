//! The emails the demonstration would have sent, readable in the browser.

pub mod routes;
