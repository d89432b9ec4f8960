//! The firm's console: the exception inbox across the companies firm staff may see (`/firm`), its CSV export
//! and live stream, and the firm accountants with their portfolios (`/firm/staff`).

pub mod routes;
pub mod staff;
