//! One struct per page; each carries the [`Layout`] that the base template needs.

use crate::assets;
use crate::i18n::Tr;
use askama::Template;
use askama_web::WebTemplate;
use portal_domain::Language;

/// What every page's frame needs.
#[derive(Debug, Clone)]
pub struct Layout {
    pub t: Tr,
    pub lang: &'static str,
    pub stylesheet: String,
    pub favicon: String,
    /// The signed-in user's menu; `None` on public pages.
    pub nav: Option<Nav>,
    /// For the header's forms (sign out, language).
    pub csrf: String,
    /// Whether the "sent emails" pages exist here (a demonstration writing emails to files).
    pub outbox: bool,
}

#[derive(Debug, Clone)]
pub struct Nav {
    pub user_name: String,
    pub is_firm_admin: bool,
    /// A firm administrator or accountant: the firm's console is theirs.
    pub is_firm_staff: bool,
    pub current: Option<NavTenant>,
    pub tenants: Vec<NavTenant>,
}

#[derive(Debug, Clone)]
pub struct NavTenant {
    pub slug: String,
    pub name: String,
    pub is_admin: bool,
}

impl Layout {
    pub fn anonymous(lang: Language) -> Self {
        Self {
            t: Tr::new(lang),
            lang: lang.code(),
            stylesheet: assets::url("css/portal.css"),
            favicon: assets::url("img/favicon.svg"),
            nav: None,
            csrf: String::new(),
            outbox: false,
        }
    }

    pub fn with_csrf(mut self, csrf: &str) -> Self {
        csrf.clone_into(&mut self.csrf);
        self
    }

    pub fn with_nav(mut self, nav: Nav) -> Self {
        self.nav = Some(nav);
        self
    }

    /// Whether the current tenant's admin pages should be offered.
    pub fn tenant_admin(&self) -> bool {
        self.nav
            .as_ref()
            .and_then(|nav| nav.current.as_ref())
            .is_some_and(|tenant| tenant.is_admin)
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/home.html")]
pub struct HomePage {
    pub layout: Layout,
}

/// 403, 404, 500 and the refused-form page.
#[derive(Template, WebTemplate)]
#[template(path = "pages/error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub status: u16,
    /// The request id on a 500, `csrf` for a refused form.
    pub detail: String,
    /// On a 409 the table of actions gave: why, in French and in English.
    pub reason: Option<(String, String)>,
}

/// A one-message page (check your email, link expired, done).
#[derive(Template, WebTemplate)]
#[template(path = "pages/notice.html")]
pub struct NoticePage {
    pub layout: Layout,
    pub title: String,
    pub message: String,
    pub link: Option<(String, String)>,
}

/// The catalogue key of a role's name.
pub fn role_key(role: portal_persistence::TenantRole) -> &'static str {
    match role {
        portal_persistence::TenantRole::Admin => "role.admin",
        portal_persistence::TenantRole::Member => "role.member",
        portal_persistence::TenantRole::Viewer => "role.viewer",
    }
}
