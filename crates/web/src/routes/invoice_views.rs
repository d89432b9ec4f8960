//! Routes of this area; registered by `configure`.

use actix_web::web;

pub fn configure(_cfg: &mut web::ServiceConfig) {}
