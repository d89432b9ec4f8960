//! The portal's web application: HTTP handlers and pages, background workers, configuration and the `portal`
//! command. It is the only crate that uses every other one.

pub mod answers;
pub mod assets;
pub mod auth;
pub mod billit_connection;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod emails;
pub mod errors;
pub mod i18n;
pub mod invoicing;
pub mod live;
pub mod mailer;
pub mod master_key;
pub mod pages;
pub mod password;
pub mod payments;
pub mod routes;
pub mod secret;
pub mod seed;
pub mod settlements;
pub mod startup;
pub mod state;
pub mod statuses;
pub mod telemetry;
pub mod worker;
