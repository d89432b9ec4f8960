//! (Modules are `cfg(test)` so that their helpers count as test code for clippy.)
//!
//! End-to-end tests of the real `portal` binary: started as a user would, on a free port, each with its own data
//! dir and database (a fresh PostgreSQL database when PORTAL_TEST_DATABASE_URL is set).

#[cfg(test)]
mod browser;
#[cfg(test)]
mod cli;
#[cfg(test)]
mod demo;
#[cfg(test)]
mod faults;
#[cfg(test)]
mod process;
#[cfg(test)]
mod serve;
// One SMTP test server for both test targets: the API tests' copy.
#[cfg(test)]
#[path = "../../crates/portal/tests/api/smtp.rs"]
mod smtp;
