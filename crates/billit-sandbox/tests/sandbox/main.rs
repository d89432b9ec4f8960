//! Tests of the Billit sandbox (one test binary), through the real client over HTTP.

#[cfg(test)]
mod contract;
#[cfg(test)]
mod faults;
#[cfg(test)]
mod robustness;
#[cfg(test)]
mod scenarios;
#[cfg(test)]
mod support;
#[cfg(test)]
mod webhooks;
