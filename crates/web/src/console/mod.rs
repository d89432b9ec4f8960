//! The firm's console, company side: every company's health (`/firm/companies`) and the pictures
//! (`/firm/charts`), for firm administrators.

pub mod routes;
pub mod svg;
