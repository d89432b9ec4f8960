//! The company's API tokens (`/t/{slug}/settings/api-tokens`, company admins): create one (its secret is shown
//! once, on the answer to the form, never in a URL), list them with their last use, revoke one. Creation and
//! revocation are audited by the repository.

use crate::errors::{WebError, respond};
use crate::extract::{Admin, client_ip, layout_for};
use crate::forms::see_other;
use crate::layout::Layout;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use portal_persistence::api::{ApiToken, TokenScope};
use portal_persistence::tenants::Tenant;
use serde::Deserialize;

/// The longest name kept (the column's width).
const NAME_MAX: usize = 100;

#[derive(Template, WebTemplate)]
#[template(path = "pages/settings/api_tokens.html")]
struct TokensPage {
    layout: Layout,
    tenant: Tenant,
    tokens: Vec<ApiToken>,
    /// The new token's secret, on the answer to its creation only.
    secret: Option<String>,
    notice: Option<String>,
    error: Option<String>,
    name: String,
    read_write: bool,
}

impl TokensPage {
    fn scope_label(&self, token: &ApiToken) -> &str {
        match token.scope {
            TokenScope::Read => self.layout.t.get("api_tokens.scope_read"),
            TokenScope::ReadWrite => self.layout.t.get("api_tokens.scope_read_write"),
        }
    }

    fn when(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        crate::format::date_time(*at, self.layout.t.lang)
    }

    fn state_of(&self, token: &ApiToken) -> String {
        match &token.revoked_at {
            Some(at) => self
                .layout
                .t
                .fill("api_tokens.revoked", &[("date", &self.when(at))]),
            None => self.layout.t.get("api_tokens.active").to_owned(),
        }
    }

    fn revoke_label(&self, token: &ApiToken) -> String {
        self.layout
            .t
            .fill("api_tokens.revoke_label", &[("name", &token.name)])
    }
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    revoked: Option<String>,
}

pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    query: web::Query<NoticeQuery>,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let notice = query
        .revoked
        .is_some()
        .then(|| layout.t.get("api_tokens.revoked_done").to_owned());
    let page = TokensPage {
        tokens: state.api.tokens(&ctx.scope).await?,
        layout,
        tenant: ctx.tenant.clone(),
        secret: None,
        notice,
        error: None,
        name: String::new(),
        read_write: true,
    };
    Ok(respond(&req, StatusCode::OK, page))
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
}

pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let name = form.name.trim();
    let scope = TokenScope::parse(&form.scope);
    let error = if name.is_empty() {
        Some("api_tokens.name_required")
    } else if name.chars().count() > NAME_MAX {
        Some("api_tokens.name_too_long")
    } else if scope.is_none() {
        Some("api_tokens.scope_invalid")
    } else {
        None
    };
    let (status, secret, error) = match (error, scope) {
        (None, Some(scope)) => {
            let (_, secret) = state
                .api
                .create_token(&ctx.scope, name, scope, ctx.user.user.id, client_ip(&req))
                .await?;
            (StatusCode::CREATED, Some(secret), None)
        }
        (error, _) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            error.map(|key| layout.t.get(key).to_owned()),
        ),
    };
    let created = secret.is_some();
    let page = TokensPage {
        tokens: state.api.tokens(&ctx.scope).await?,
        layout,
        tenant: ctx.tenant.clone(),
        secret,
        notice: None,
        error,
        // After a creation the form starts again empty.
        name: if created {
            String::new()
        } else {
            name.to_owned()
        },
        read_write: scope != Some(TokenScope::Read),
    };
    Ok(respond(&req, status, page))
}

pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    Admin(ctx): Admin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let id = uuid::Uuid::parse_str(path.1.trim()).map_err(|_| WebError::NotFound)?;
    if !state
        .api
        .revoke_token(&ctx.scope, id, ctx.user.user.id, client_ip(&req))
        .await?
    {
        return Err(WebError::NotFound);
    }
    Ok(see_other(&format!(
        "/t/{}/settings/api-tokens?revoked=1",
        ctx.tenant.slug
    )))
}
