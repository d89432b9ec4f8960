//! Recording payments received (212), retrying or cancelling a refused report.

pub mod routes;
