//! The API's OpenAPI 3.1 document, generated from the handlers and their types by `utoipa` (so it cannot say
//! something the code does not do: the conformance test checks real answers against it), served at
//! `/api/v1/openapi.json`, and a page that lists the operations for people (`/api/v1/docs`, no script, no CDN).

use super::problem::{FieldProblem, Problem, RefusalInfo};
use super::{customers, events, invoices, payments};
use crate::extract::public_layout;
use crate::layout::Layout;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use askama_web::WebTemplate;
use std::sync::LazyLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portail de facturation électronique — API",
        version = "1",
        description = "A company's software creates customers and invoices, submits them to Billit, records \
payments and follows statuses. Authenticate with `Authorization: Bearer pt_…` (a token made by a company admin under \
Settings › API access). Errors are RFC 9457 problem details (`application/problem+json`) with every problem's field, \
business term and French and English words. Lists page with a keyset cursor (`next_cursor`)."
    ),
    paths(
        customers::create,
        customers::list,
        customers::get,
        customers::update,
        invoices::create,
        invoices::list,
        invoices::by_number,
        invoices::get,
        invoices::update,
        invoices::submit,
        payments::record,
        payments::list,
        events::feed,
    ),
    components(schemas(Problem, FieldProblem, RefusalInfo)),
    modifiers(&BearerToken),
    tags(
        (name = "customers", description = "The company's customers (buyers)"),
        (name = "invoices", description = "Invoices and credit notes: drafts, submission, summary, timeline"),
        (name = "payments", description = "Payments received (status 212)"),
        (name = "events", description = "The feed of status events"),
    )
)]
pub struct ApiDoc;

struct BearerToken;

/// The answers every operation may give besides its own: no valid token (401), over the token's rate (429), a
/// read token writing (403, on writes), an unreadable request (400) and the portal's own failure (500).
fn common_responses(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let problem = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    super::problem::PROBLEM_JSON,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        )
    };
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            (&mut item.get, false),
            (&mut item.post, true),
            (&mut item.put, true),
            (&mut item.delete, true),
        ];
        for (operation, writes) in operations {
            let Some(operation) = operation else {
                continue;
            };
            let responses = &mut operation.responses.responses;
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem(description));
            };
            add("400", "An unreadable request (body, parameters or headers)");
            add("401", "No token, or an unknown or revoked one");
            if writes {
                add("403", "A read-only token");
            }
            add("429", "Over the token's rate: wait `Retry-After` seconds");
            add(
                "500",
                "The portal's own failure (opaque; the request id is in `x-request-id`)",
            );
        }
    }
}

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        common_responses(openapi);
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("pt_<64 hex>")
                    .build(),
            ),
        );
    }
}

static DOCUMENT: LazyLock<String> =
    LazyLock::new(|| ApiDoc::openapi().to_json().unwrap_or_default());

/// The document, for tools (and the conformance test).
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT.as_str())
}

/// One operation as the page lists it.
pub struct OperationView {
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub parameters: Vec<(String, String, String)>,
    pub responses: Vec<(String, String)>,
    pub anchor: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/api_docs.html")]
struct DocsPage {
    layout: Layout,
    title: String,
    description: String,
    operations: Vec<OperationView>,
    problem_codes: Vec<&'static str>,
}

fn operations() -> Vec<OperationView> {
    let document = ApiDoc::openapi();
    let mut out = Vec::new();
    for (path, item) in &document.paths.paths {
        let methods = [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("DELETE", &item.delete),
        ];
        for (method, operation) in methods {
            let Some(operation) = operation else {
                continue;
            };
            out.push(OperationView {
                method: method.to_owned(),
                path: path.clone(),
                summary: operation.summary.clone().unwrap_or_default(),
                description: operation.description.clone().unwrap_or_default(),
                parameters: operation
                    .parameters
                    .iter()
                    .flatten()
                    .map(|parameter| {
                        (
                            parameter.name.clone(),
                            serde_json::to_value(&parameter.parameter_in)
                                .ok()
                                .and_then(|place| place.as_str().map(str::to_owned))
                                .unwrap_or_default(),
                            parameter.description.clone().unwrap_or_default(),
                        )
                    })
                    .collect(),
                responses: operation
                    .responses
                    .responses
                    .iter()
                    .map(|(status, response)| {
                        let description = match response {
                            utoipa::openapi::RefOr::T(response) => response.description.clone(),
                            utoipa::openapi::RefOr::Ref(reference) => {
                                reference.ref_location.clone()
                            }
                        };
                        (status.clone(), description)
                    })
                    .collect(),
                anchor: format!(
                    "{}-{}",
                    method.to_lowercase(),
                    path.trim_start_matches('/').replace(['/', '{', '}'], "-")
                ),
            });
        }
    }
    out
}

/// The page for people: every operation, its parameters and answers, and the problem codes.
pub async fn page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let document = ApiDoc::openapi();
    let page = DocsPage {
        layout: public_layout(&state, &req),
        title: document.info.title.clone(),
        description: document.info.description.clone().unwrap_or_default(),
        operations: operations(),
        problem_codes: vec![
            "not_found",
            "unauthorized",
            "forbidden",
            "rate_limited",
            "invalid_body",
            "invalid_query",
            "validation",
            "refused",
            "idempotency_key_missing",
            "idempotency_key_reused",
            "idempotency_in_progress",
            "internal",
        ],
    };
    crate::errors::respond(&req, StatusCode::OK, page)
}
