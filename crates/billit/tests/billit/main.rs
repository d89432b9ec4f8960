//! Tests of the Billit crate (one test binary).

#[cfg(test)]
mod cdar;
#[cfg(test)]
mod classify;
#[cfg(test)]
mod client;
#[cfg(test)]
mod inspect;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod support;
#[cfg(test)]
mod untrusted;
#[cfg(test)]
mod webhook;
#[cfg(test)]
mod wire;
