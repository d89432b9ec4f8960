//! The portal's web layer: HTTP handlers and pages over the application (`portal-app`). No business rules and no
//! SQL here: handlers check roles, parse forms into domain types, call a use case and render.
//!
//! Laid out by feature (one folder each, with its `routes.rs` and, as needed, its forms and page pieces) over a
//! shared layer that never imports a feature; `routes` and `server` are the root that knows every feature.
//! `.ci/check-layers` keeps features from importing each other.

// The shared layer.
pub mod assets;
pub mod components;
pub mod emails;
pub mod errors;
pub mod extract;
pub mod format;
pub mod forms;
pub mod i18n;
pub mod layout;
pub mod state;
pub mod telemetry;

// The features.
pub mod admin;
pub mod answers;
pub mod api;
pub mod auth;
pub mod console;
pub mod customers;
pub mod firm;
pub mod health;
pub mod hooks;
pub mod invoices;
pub mod live;
pub mod onboarding;
pub mod outbox;
pub mod payments;
pub mod reminders;
pub mod statics;
pub mod tenant;
pub mod webhooks;

// The root.
pub mod routes;
pub mod server;
