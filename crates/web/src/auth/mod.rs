//! Signing in and out, the account page, invitations and password resets.

pub mod routes;
