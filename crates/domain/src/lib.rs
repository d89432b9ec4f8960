//! The rules of French e-invoicing as pure Rust: no I/O, no framework.
//!
//! Every other crate asks this one instead of re-deciding a rule.

pub mod ids;
