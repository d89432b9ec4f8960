//! A company's home: what needs the supplier, the latest statuses, the counts per status.

use crate::errors::{WebError, respond};
use crate::extract::{TenantContext, layout_for};
use crate::layout::Layout;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use portal_persistence::tenants::Tenant;

#[derive(Template, WebTemplate)]
#[template(path = "pages/tenant_home.html")]
struct TenantHomePage {
    layout: Layout,
    tenant: Tenant,
    role: &'static str,
    billit_configured: bool,
    views: super::views::DashboardPanels,
    chips: Vec<super::views::Chip>,
}

pub async fn dashboard(
    state: web::Data<AppState>,
    req: HttpRequest,
    ctx: TenantContext,
) -> Result<HttpResponse, WebError> {
    let connection = state.billit.get(&ctx.scope).await?;
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let mut views = super::views::dashboard_panels(&state, &ctx, layout.t).await?;
    let page = TenantHomePage {
        role: layout.t.get(crate::layout::role_key(ctx.scope.role())),
        layout,
        tenant: ctx.tenant.clone(),
        billit_configured: connection.is_some_and(|connection| connection.has_api_key),
        // The chips component reads `chips`, as on the list.
        chips: std::mem::take(&mut views.chips),
        views,
    };
    Ok(respond(&req, StatusCode::OK, page))
}
