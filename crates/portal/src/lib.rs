//! The program: the `portal` command, its configuration, start-up and telemetry. The only place that reads the
//! configuration and wires the crates together (the application, the web layer, the embedded sandbox).

pub mod cli;
pub mod config;
pub mod secret;
pub mod startup;
pub mod telemetry;
