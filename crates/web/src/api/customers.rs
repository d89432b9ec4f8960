//! `/api/v1/customers`: create, update, get, list (search, keyset cursor). Checked by the customer form's own
//! rules (`components::customer_form`), so the API says what the page says, in both languages.

use super::auth::{Caller, Writer};
use super::problem::{ApiError, FieldProblem, Problem};
use super::{audit, json, limit_of, parse_json, via_token};
use crate::components::customer_form::{CustomerForm, FieldErrors};
use crate::i18n::Tr;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portal_domain::Language;
use portal_domain::ids::CustomerId;
use portal_persistence::customers::{Customer, CustomerError, CustomerInput};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A customer to create or replace.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerBody {
    /// Legal name (BT-44).
    pub legal_name: String,
    /// SIREN, 9 digits (BT-47).
    pub siren: String,
    /// SIRET, 14 digits, of the SIREN.
    #[serde(default)]
    pub siret: Option<String>,
    /// VAT number (BT-48); derived from the SIREN for a French customer when left out.
    #[serde(default)]
    pub vat_number: Option<String>,
    /// Electronic address (BT-49), `0225:<SIREN>` when left out.
    #[serde(default)]
    pub electronic_address: Option<String>,
    /// At least one address for emails about its invoices.
    pub contact_emails: Vec<String>,
    #[serde(default)]
    pub address: Option<AddressBody>,
    /// `fr` or `en` (the language of emails to it); `fr` when left out.
    #[serde(default)]
    pub language: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressBody {
    #[serde(default)]
    pub street: String,
    #[serde(default)]
    pub additional: String,
    #[serde(default)]
    pub postcode: String,
    #[serde(default)]
    pub city: String,
    /// ISO 3166-1 alpha-2, `FR` when empty.
    #[serde(default)]
    pub country: String,
}

/// A customer as stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerOut {
    pub id: uuid::Uuid,
    pub legal_name: String,
    pub siren: String,
    pub siret: Option<String>,
    pub vat_number: Option<String>,
    pub electronic_address: String,
    pub contact_emails: Vec<String>,
    pub address: AddressBody,
    /// `fr` or `en`.
    pub language: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Customer> for CustomerOut {
    fn from(customer: Customer) -> Self {
        Self {
            id: customer.id.as_uuid(),
            legal_name: customer.legal_name,
            siren: customer.siren,
            siret: customer.siret,
            vat_number: customer.vat_number,
            electronic_address: customer.electronic_address,
            contact_emails: customer.contact_emails,
            address: AddressBody {
                street: customer.address.street,
                additional: customer.address.additional,
                postcode: customer.address.postcode,
                city: customer.address.city,
                country: customer.address.country_code,
            },
            language: customer.language.code().to_owned(),
            created_at: customer.created_at,
            updated_at: customer.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerList {
    pub items: Vec<CustomerOut>,
    /// Give it as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// Part of the name or of the SIREN.
    pub q: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 100 (50).
    pub limit: Option<u64>,
}

impl CustomerBody {
    fn form(&self) -> CustomerForm {
        let address = self.address.clone().unwrap_or_default();
        CustomerForm {
            legal_name: self.legal_name.clone(),
            siren: self.siren.clone(),
            siret: self.siret.clone().unwrap_or_default(),
            vat_number: self.vat_number.clone().unwrap_or_default(),
            electronic_address: self.electronic_address.clone().unwrap_or_default(),
            contact_emails: self.contact_emails.join("\n"),
            street: address.street,
            additional: address.additional,
            postcode: address.postcode,
            city: address.city,
            country: address.country,
            language: self.language.clone().unwrap_or_else(|| "fr".to_owned()),
            exclude_from_reminders: String::new(),
        }
    }

    /// The checked customer, or every field's problem in both languages.
    fn check(&self) -> Result<CustomerInput, ApiError> {
        let form = self.form();
        match (
            form.validate(Tr::new(Language::Fr)),
            form.validate(Tr::new(Language::En)),
        ) {
            (Ok(input), Ok(_)) => Ok(input),
            (Err(fr), Err(en)) => Err(ApiError::Validation(problems(&fr, &en))),
            _ => Err(ApiError::Internal(anyhow::anyhow!(
                "the customer check differs between languages"
            ))),
        }
    }
}

/// A field of the form: its path in the request, its business term, and its message in French and English.
type FieldMessages<'a> = (
    &'a str,
    Option<&'a str>,
    &'a Option<String>,
    &'a Option<String>,
);

/// Each field's message in both languages, with the field's path and business term.
fn problems(fr: &FieldErrors, en: &FieldErrors) -> Vec<FieldProblem> {
    let fields: [FieldMessages<'_>; 12] = [
        ("legal_name", Some("BT-44"), &fr.legal_name, &en.legal_name),
        ("siren", Some("BT-47"), &fr.siren, &en.siren),
        ("siret", Some("BT-47"), &fr.siret, &en.siret),
        ("vat_number", Some("BT-48"), &fr.vat_number, &en.vat_number),
        (
            "electronic_address",
            Some("BT-49"),
            &fr.electronic_address,
            &en.electronic_address,
        ),
        (
            "contact_emails",
            None,
            &fr.contact_emails,
            &en.contact_emails,
        ),
        ("address.street", Some("BT-50"), &fr.street, &en.street),
        (
            "address.additional",
            Some("BT-51"),
            &fr.additional,
            &en.additional,
        ),
        (
            "address.postcode",
            Some("BT-53"),
            &fr.postcode,
            &en.postcode,
        ),
        ("address.city", Some("BT-52"), &fr.city, &en.city),
        ("address.country", Some("BT-55"), &fr.country, &en.country),
        ("language", None, &fr.language, &en.language),
    ];
    fields
        .into_iter()
        .filter_map(|(field, term, fr, en)| {
            let fr = fr.clone()?;
            Some(FieldProblem::new(
                field,
                term,
                "invalid",
                fr.clone(),
                en.clone().unwrap_or(fr),
            ))
        })
        .collect()
}

fn parse_id(id: &str) -> Result<CustomerId, ApiError> {
    CustomerId::parse(id.trim()).ok_or(ApiError::NotFound)
}

fn entry(
    req: &HttpRequest,
    caller: &Caller,
    action: &'static str,
    customer: &Customer,
) -> portal_persistence::audit::AuditEntry {
    audit(req, caller, action, format!("customer:{}", customer.id)).details(serde_json::json!({
        "legal_name": customer.legal_name,
        "siren": customer.siren,
        "api_token": via_token(caller),
    }))
}

/// Creates a customer.
#[utoipa::path(
    post, path = "/api/v1/customers", tag = "customers",
    request_body = CustomerBody,
    responses(
        (status = 201, description = "Created", body = CustomerOut),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Read-only token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Every problem", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    Writer(caller): Writer,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let input = parse_json::<CustomerBody>(&body)?.check()?;
    let customer = state
        .customers
        .create(&caller.scope, &input, |customer| {
            Some(entry(&req, &caller, "customer.created", customer))
        })
        .await?;
    json(StatusCode::CREATED, &CustomerOut::from(customer))
}

/// Replaces a customer's details.
#[utoipa::path(
    put, path = "/api/v1/customers/{id}", tag = "customers",
    params(("id" = uuid::Uuid, Path, description = "The customer's id")),
    request_body = CustomerBody,
    responses(
        (status = 200, description = "Saved", body = CustomerOut),
        (status = 404, description = "Not a customer of this company", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Every problem", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    Writer(caller): Writer,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    if state.customers.get(&caller.scope, id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let input = parse_json::<CustomerBody>(&body)?.check()?;
    match state
        .customers
        .update(&caller.scope, id, &input, |customer| {
            entry(&req, &caller, "customer.updated", customer)
        })
        .await
    {
        Ok(customer) => json(StatusCode::OK, &CustomerOut::from(customer)),
        Err(CustomerError::NotFound) => Err(ApiError::NotFound),
        Err(error) => Err(error.into()),
    }
}

/// One customer.
#[utoipa::path(
    get, path = "/api/v1/customers/{id}", tag = "customers",
    params(("id" = uuid::Uuid, Path, description = "The customer's id")),
    responses(
        (status = 200, description = "The customer", body = CustomerOut),
        (status = 404, description = "Not a customer of this company", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let customer = state
        .customers
        .get(&caller.scope, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    json(StatusCode::OK, &CustomerOut::from(customer))
}

/// The company's customers, in creation order, page by page.
#[utoipa::path(
    get, path = "/api/v1/customers", tag = "customers",
    params(CustomerQuery),
    responses(
        (status = 200, description = "A page of customers", body = CustomerList),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<CustomerQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = limit_of(query.limit)?;
    let after = match query.cursor.as_deref() {
        None | Some("") => None,
        Some(cursor) => Some(
            CustomerId::parse(cursor).ok_or_else(|| ApiError::InvalidQuery("cursor".to_owned()))?,
        ),
    };
    let mut customers = state
        .api
        .customers_page(&caller.scope, query.q.as_deref(), after, limit + 1)
        .await?;
    let more = customers.len() as u64 > limit;
    customers.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let items: Vec<CustomerOut> = customers.into_iter().map(CustomerOut::from).collect();
    let next_cursor = more
        .then(|| items.last().map(|customer| customer.id.to_string()))
        .flatten();
    json(StatusCode::OK, &CustomerList { items, next_cursor })
}
