//! The domain's table of actions on the pages: which buttons and forms an invoice's page shows (only the open
//! actions, and only to a member), and the 409 page that says why an action posted anyway is refused.

use crate::errors::{WebError, respond};
use crate::extract::{TenantContext, layout_for};
use crate::layout::NoticePage;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use portal_domain::Localized;
pub use portal_domain::actions::{Action, Refusal, Situation, decide};
use portal_persistence::TenantRole;

/// The table's answers for one document, as a page asks them.
#[derive(Debug, Clone, Copy)]
pub struct Decisions {
    situation: Situation,
    /// The reader may act (a member); a viewer is offered nothing.
    member: bool,
}

impl Decisions {
    pub fn new(situation: Situation, ctx: &TenantContext) -> Self {
        Self {
            situation,
            member: ctx.scope.allows(TenantRole::Member),
        }
    }

    /// What the decisions were made from.
    pub fn situation(&self) -> &Situation {
        &self.situation
    }

    /// Whether the page offers `action`: open in the table, and the reader a member.
    pub fn offers(&self, action: Action) -> bool {
        self.member && decide(action, &self.situation).is_ok()
    }

    /// Why the table closes `action`, if it does.
    pub fn refusal(&self, action: Action) -> Option<Refusal> {
        decide(action, &self.situation).err()
    }

    pub fn is_member(&self) -> bool {
        self.member
    }
}

/// The 409 page of a refused action, in the reader's language: `title_key` as its title, the refusal as its
/// message, and `link` (`(href, catalogue key)`) back to where the person came from.
pub async fn refused_page(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    refusal: &Refusal,
    title_key: &str,
    (href, link_key): (String, &str),
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(state, req, &ctx.user, Some(ctx)).await?;
    let t = layout.t;
    let page = NoticePage {
        title: t.get(title_key).to_owned(),
        message: refusal.message(t.lang),
        link: Some((href, t.get(link_key).to_owned())),
        layout,
    };
    Ok(respond(req, StatusCode::CONFLICT, page))
}
