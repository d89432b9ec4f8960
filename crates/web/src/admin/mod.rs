//! The firm's administration: companies, firm administrators, the whole audit log.

pub mod routes;
