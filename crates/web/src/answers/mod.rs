//! Answering a customer's 207 or 208 by email: the composer and its multipart form, the answer templates.

pub mod forms;
pub mod routes;
