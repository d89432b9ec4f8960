//! Bulk onboarding of companies from a CSV file, for firm administrators: upload, preview, confirm, report.

pub mod routes;
