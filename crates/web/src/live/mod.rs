//! Live updates of open pages (server-sent events).

pub mod routes;
