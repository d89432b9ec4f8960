//! A company: the switcher, its dashboard and its settings (profile, users, Billit, email, audit log).

pub mod routes;
