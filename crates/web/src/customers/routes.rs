//! A tenant's customers: the list with its search, the form (new and edit), the customer's page with the check
//! of its electronic address on the network, and deletion of a customer nobody invoiced.
//!
//! Anyone in the tenant may read; members and admins may change. The invoice editor fills its buyer from
//! `CustomerRepository::get(..).buyer_draft()` (`/t/{slug}/invoices/new?customer=<id>`).

use super::forms::{CustomerForm, FieldErrors};
use super::network::{NetworkCheck, document_type_label};
use crate::errors::{WebError, respond};
use crate::extract::{Member, TenantContext, client_ip, layout_for};
use crate::forms::see_other;
use crate::i18n::Tr;
use crate::layout::Layout;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use chrono::Utc;
use portal_domain::Language;
use portal_domain::ids::CustomerId;
use portal_persistence::audit::AuditEntry;
use portal_persistence::customers::{Customer, CustomerError, CustomerRepository};
use portal_persistence::scope::TenantRole;
use portal_persistence::tenants::Tenant;
use serde::Deserialize;

/// The longest list shown at once; the search narrows it.
const LIST_LIMIT: u64 = 200;

/// Its routes inside the company's scope (`/t/{slug}`, see `crate::routes`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/customers", web::get().to(list))
        .route("/customers", web::post().to(create))
        // Before `{id}`, which would otherwise take "new".
        .route("/customers/new", web::get().to(new_form))
        .route("/customers/import", web::get().to(super::import::form))
        .route("/customers/import", web::post().to(super::import::submit))
        .route("/customers/{id}", web::get().to(show))
        .route("/customers/{id}", web::post().to(update))
        .route("/customers/{id}/edit", web::get().to(edit_form))
        .route("/customers/{id}/delete", web::post().to(delete))
        .route(
            "/customers/{id}/check-network",
            web::post().to(check_network),
        );
}

fn repository(state: &AppState) -> CustomerRepository {
    state.customers.clone()
}

fn customer_id(path: &(String, String)) -> Result<CustomerId, WebError> {
    CustomerId::parse(&path.1).ok_or(WebError::NotFound)
}

async fn find(state: &AppState, ctx: &TenantContext, id: CustomerId) -> Result<Customer, WebError> {
    repository(state)
        .get(&ctx.scope, id)
        .await?
        .ok_or(WebError::NotFound)
}

/// The audit entry of a change to `customer` (the repository writes it with the change).
fn entry(
    req: &HttpRequest,
    ctx: &TenantContext,
    action: &'static str,
    customer: &Customer,
) -> AuditEntry {
    AuditEntry::new(action, format!("customer:{}", customer.id))
        .by(Some(ctx.user.user.id))
        .from_ip(client_ip(req))
        .details(serde_json::json!({
            "legal_name": customer.legal_name,
            "siren": customer.siren,
        }))
}

// ---- list ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/customers/list.html")]
struct ListPage {
    layout: Layout,
    tenant: Tenant,
    customers: Vec<Customer>,
    search: String,
    /// More customers match than are shown.
    truncated: bool,
    can_edit: bool,
    notice: Option<String>,
}

impl ListPage {
    /// Whether the last network check found the customer, in a word.
    fn reachability(&self, customer: &Customer) -> &str {
        let registered = customer
            .network_check
            .as_ref()
            .and_then(|(_, summary)| summary.get("registered"))
            .and_then(serde_json::Value::as_bool);
        self.layout.t.get(match registered {
            Some(true) => "customers.network.short_registered",
            Some(false) => "customers.network.short_not_registered",
            None => "customers.network.short_unchecked",
        })
    }

    fn no_match(&self) -> String {
        self.layout
            .t
            .fill("customers.no_match", &[("search", &self.search)])
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    notice: Option<String>,
}

pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    ctx: TenantContext,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, WebError> {
    let search = query.q.clone().unwrap_or_default();
    let mut customers = repository(&state)
        .list(&ctx.scope, Some(&search), LIST_LIMIT + 1)
        .await?;
    let truncated = customers.len() as u64 > LIST_LIMIT;
    customers.truncate(usize::try_from(LIST_LIMIT).unwrap_or(usize::MAX));
    let layout = layout_for(&state, &req, &ctx.user, Some(&ctx)).await?;
    let notice = match query.notice.as_deref() {
        Some("deleted") => Some(layout.t.get("customers.deleted").to_owned()),
        _ => None,
    };
    let page = ListPage {
        layout,
        tenant: ctx.tenant.clone(),
        customers,
        search: search.trim().to_owned(),
        truncated,
        can_edit: ctx.scope.allows(TenantRole::Member),
        notice,
    };
    Ok(respond(&req, StatusCode::OK, page))
}

// ---- the form ----

#[derive(Template, WebTemplate)]
#[template(path = "pages/customers/form.html")]
struct FormPage {
    layout: Layout,
    tenant: Tenant,
    /// `None` for a new customer.
    customer_id: Option<CustomerId>,
    form: CustomerForm,
    errors: FieldErrors,
}

impl FormPage {
    fn action(&self) -> String {
        match self.customer_id {
            Some(id) => format!("/t/{}/customers/{id}", self.tenant.slug),
            None => format!("/t/{}/customers", self.tenant.slug),
        }
    }

    fn cancel(&self) -> String {
        match self.customer_id {
            Some(id) => format!("/t/{}/customers/{id}", self.tenant.slug),
            None => format!("/t/{}/customers", self.tenant.slug),
        }
    }
}

async fn form_page(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    status: StatusCode,
    customer_id: Option<CustomerId>,
    form: CustomerForm,
    errors: FieldErrors,
) -> Result<HttpResponse, WebError> {
    let page = FormPage {
        layout: layout_for(state, req, &ctx.user, Some(ctx)).await?,
        tenant: ctx.tenant.clone(),
        customer_id,
        form,
        errors,
    };
    Ok(respond(req, status, page))
}

pub async fn new_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
) -> Result<HttpResponse, WebError> {
    form_page(
        &state,
        &req,
        &ctx,
        StatusCode::OK,
        None,
        CustomerForm::blank(),
        FieldErrors::default(),
    )
    .await
}

pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    form: web::Form<CustomerForm>,
) -> Result<HttpResponse, WebError> {
    let form = form.into_inner();
    let input = match form.validate(Tr::new(ctx.user.language())) {
        Ok(input) => input,
        Err(errors) => {
            return form_page(
                &state,
                &req,
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                form,
                *errors,
            )
            .await;
        }
    };
    let customer = repository(&state)
        .create(&ctx.scope, &input, |customer| {
            Some(entry(&req, &ctx, "customer.created", customer))
        })
        .await?;
    if form.excluded_from_reminders() {
        set_exclusion(&state, &req, &ctx, customer.id, true).await?;
    }
    Ok(see_other(&format!(
        "/t/{}/customers/{}?notice=created",
        ctx.tenant.slug, customer.id
    )))
}

pub async fn edit_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let id = customer_id(&path)?;
    let customer = find(&state, &ctx, id).await?;
    let excluded = state
        .reminders
        .customer_excluded(&ctx.scope, id)
        .await?
        .unwrap_or_default();
    form_page(
        &state,
        &req,
        &ctx,
        StatusCode::OK,
        Some(id),
        CustomerForm::from_customer(&customer).with_exclusion(excluded),
        FieldErrors::default(),
    )
    .await
}

pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    path: web::Path<(String, String)>,
    form: web::Form<CustomerForm>,
) -> Result<HttpResponse, WebError> {
    let id = customer_id(&path)?;
    find(&state, &ctx, id).await?;
    let form = form.into_inner();
    let input = match form.validate(Tr::new(ctx.user.language())) {
        Ok(input) => input,
        Err(errors) => {
            return form_page(
                &state,
                &req,
                &ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(id),
                form,
                *errors,
            )
            .await;
        }
    };
    match repository(&state)
        .update(&ctx.scope, id, &input, |customer| {
            entry(&req, &ctx, "customer.updated", customer)
        })
        .await
    {
        Ok(_) => set_exclusion(&state, &req, &ctx, id, form.excluded_from_reminders()).await?,
        Err(CustomerError::NotFound) => return Err(WebError::NotFound),
        Err(error) => return Err(error.into()),
    }
    Ok(see_other(&format!(
        "/t/{}/customers/{id}?notice=saved",
        ctx.tenant.slug
    )))
}

// ---- the customer's page ----

/// The last network check, ready to show.
struct CheckView {
    at: String,
    registered: bool,
    identifier: String,
    /// The identifier the answer names, when it is not the one asked.
    answered_identifier: Option<String>,
    /// `(in words, as the network names it)`.
    document_types: Vec<(Option<String>, String)>,
    details: Vec<(String, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/customers/detail.html")]
struct DetailPage {
    layout: Layout,
    tenant: Tenant,
    customer: Customer,
    check: Option<CheckView>,
    can_edit: bool,
    notice: Option<String>,
    error: Option<String>,
}

impl DetailPage {
    fn language_name(&self) -> &str {
        match self.customer.language {
            Language::Fr => self.layout.t.get("customers.language_fr"),
            Language::En => self.layout.t.get("customers.language_en"),
        }
    }
}

#[derive(Deserialize)]
pub struct DetailQuery {
    notice: Option<String>,
}

async fn detail_page(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    customer: Customer,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<String>,
) -> Result<HttpResponse, WebError> {
    let layout = layout_for(state, req, &ctx.user, Some(ctx)).await?;
    let t = layout.t;
    let check = customer.network_check.as_ref().and_then(|(at, summary)| {
        // A summary of another shape (written by an older version) is not shown rather than shown wrong.
        let check: NetworkCheck = serde_json::from_value(summary.clone()).ok()?;
        Some(CheckView {
            at: crate::format::date_time(*at, t.lang),
            registered: check.registered,
            answered_identifier: check
                .answered_identifier
                .filter(|answered| *answered != check.identifier),
            identifier: check.identifier,
            document_types: check
                .document_types
                .into_iter()
                .map(|code| (document_type_label(&code, t), code))
                .collect(),
            details: check.details,
        })
    });
    let notice = match notice {
        Some("created") => Some(t.get("customers.created").to_owned()),
        Some("saved") => Some(t.get("customers.saved").to_owned()),
        Some("checked") => Some(t.get("customers.network.checked").to_owned()),
        _ => None,
    };
    let page = DetailPage {
        layout,
        tenant: ctx.tenant.clone(),
        customer,
        check,
        can_edit: ctx.scope.allows(TenantRole::Member),
        notice,
        error,
    };
    Ok(respond(req, status, page))
}

pub async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    ctx: TenantContext,
    path: web::Path<(String, String)>,
    query: web::Query<DetailQuery>,
) -> Result<HttpResponse, WebError> {
    let customer = find(&state, &ctx, customer_id(&path)?).await?;
    detail_page(
        &state,
        &req,
        &ctx,
        customer,
        StatusCode::OK,
        query.notice.as_deref(),
        None,
    )
    .await
}

pub async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let customer = find(&state, &ctx, customer_id(&path)?).await?;
    let deleted = entry(&req, &ctx, "customer.deleted", &customer);
    match repository(&state)
        .delete(&ctx.scope, customer.id, deleted)
        .await
    {
        Ok(()) => {}
        Err(CustomerError::NotFound) => return Err(WebError::NotFound),
        Err(CustomerError::InUse { invoices }) => {
            let t = Tr::new(ctx.user.language());
            let error = t.fill(
                "customers.delete_in_use",
                &[("count", &invoices.to_string())],
            );
            return detail_page(
                &state,
                &req,
                &ctx,
                customer,
                StatusCode::CONFLICT,
                None,
                Some(error),
            )
            .await;
        }
        Err(error) => return Err(error.into()),
    }
    Ok(see_other(&format!(
        "/t/{}/customers?notice=deleted",
        ctx.tenant.slug
    )))
}

/// Asks Billit about `identifier`; `Err` is the sentence explaining why no answer could be had.
async fn ask_network(
    state: &AppState,
    ctx: &TenantContext,
    identifier: &str,
) -> Result<NetworkCheck, String> {
    use portal_app::billit_connection::{ConnectionProblem, NetworkLookupError};
    use portal_domain::Localized;
    let t = Tr::new(ctx.user.language());
    match portal_app::billit_connection::peppol_participant(state, &ctx.scope, identifier).await {
        Ok(Some(answer)) => Ok(NetworkCheck::from_answer(identifier, answer)),
        Ok(None) => Ok(NetworkCheck::unknown_participant(identifier)),
        Err(NetworkLookupError::Connection(problem)) => {
            tracing::info!(problem = %problem, "the network check cannot ask Billit");
            let key = match problem {
                ConnectionProblem::NotConfigured | ConnectionProblem::Incomplete => {
                    "customers.network.not_configured"
                }
                ConnectionProblem::NoEmbeddedSandbox => "customers.network.no_sandbox",
                _ => "customers.network.unavailable",
            };
            Err(t.get(key).to_owned())
        }
        Err(NetworkLookupError::Billit(error)) => {
            tracing::info!(error = %error, "the Peppol participant lookup failed");
            let reason = error.message(ctx.user.language());
            Err(t.fill("customers.network.failed", &[("reason", &reason)]))
        }
    }
}

/// "Check on the network": asks Billit whether the customer's electronic address is registered on Peppol, and
/// keeps the answer. When Billit cannot be asked, the page says why and nothing is stored.
pub async fn check_network(
    state: web::Data<AppState>,
    req: HttpRequest,
    Member(ctx): Member,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let customer = find(&state, &ctx, customer_id(&path)?).await?;
    let check = match ask_network(&state, &ctx, &customer.electronic_address).await {
        Ok(check) => check,
        Err(message) => {
            return detail_page(
                &state,
                &req,
                &ctx,
                customer,
                StatusCode::OK,
                None,
                Some(message),
            )
            .await;
        }
    };
    let summary = serde_json::to_value(&check)?;
    match repository(&state)
        .set_network_check(&ctx.scope, customer.id, &summary, Utc::now())
        .await
    {
        Ok(()) => {}
        Err(CustomerError::NotFound) => return Err(WebError::NotFound),
        Err(error) => return Err(error.into()),
    }
    Ok(see_other(&format!(
        "/t/{}/customers/{}?notice=checked",
        ctx.tenant.slug, customer.id
    )))
}

/// Excludes the customer from reminders, or includes it again (audited when it changed).
async fn set_exclusion(
    state: &AppState,
    req: &HttpRequest,
    ctx: &TenantContext,
    id: CustomerId,
    excluded: bool,
) -> Result<(), WebError> {
    let actor = portal_app::reminders::Actor {
        user: &ctx.user.user,
        ip: client_ip(req),
    };
    portal_app::reminders::set_customer_excluded(state, &ctx.scope, id, excluded, actor).await?;
    Ok(())
}
