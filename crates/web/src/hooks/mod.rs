//! Billit's webhooks: signature checked, body stored with its job, answered at once.

pub mod routes;
