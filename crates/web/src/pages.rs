//! One struct per page; each carries the [`Layout`] that the base template needs.

use crate::assets;
use askama::Template;
use askama_web::WebTemplate;

/// What every page's frame needs.
#[derive(Debug, Clone)]
pub struct Layout {
    pub lang: &'static str,
    pub stylesheet: String,
    pub favicon: String,
}

impl Layout {
    pub fn new() -> Self {
        Self {
            lang: "fr",
            stylesheet: assets::url("css/portal.css"),
            favicon: assets::url("img/favicon.svg"),
        }
    }
}

impl Default for Layout {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/home.html")]
pub struct HomePage {
    pub layout: Layout,
}

#[derive(Template)]
#[template(path = "pages/not_found.html")]
pub struct NotFoundPage {
    pub layout: Layout,
}

#[derive(Template)]
#[template(path = "pages/server_error.html")]
pub struct ServerErrorPage {
    pub layout: Layout,
    pub request_id: String,
}
