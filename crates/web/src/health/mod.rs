//! Health and readiness probes.

pub mod routes;
