//! The embedded static files (CSS, scripts, images), served with their version for caching.

pub mod routes;
