//! HTTP handlers: thin, they parse, call a service or repository, and render.

pub mod health;
pub mod home;
