//! The Billit API: wire types, client, webhook signatures, message classification, CDAR.
//!
//! - [`wire`]: Billit's JSON as Rust types (PascalCase, unknown fields kept, lossless round trip);
//! - [`time`]: Billit's zone-less date-times read as Europe/Brussels local time, in one place;
//! - [`client`]: the [`client::BillitClient`] trait and its reqwest implementation;
//! - [`webhook`]: `Billit-Signature` verification and signing, webhook payload parsing;
//! - [`classify`]: Billit's signals turned into the domain's status events (the signal table);
//! - [`cdar`]: the CDAR status file parser (hardened against hostile XML);
//! - [`inspect`]: what `portal billit inspect` prints.
//!
//! Nothing here panics on input: bad input gives a typed error.

pub mod cdar;
pub mod classify;
pub mod client;
pub mod inspect;
pub mod time;
pub mod webhook;
pub mod wire;
