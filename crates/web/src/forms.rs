//! What every form handler shares: reading dates and blank fields, company addresses, and post/redirect/get.

use actix_web::HttpResponse;
use actix_web::http::header::LOCATION;

/// 303 to `location`: what every successful form post answers (post/redirect/get).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location.to_owned()))
        .finish()
}

/// The address fields of a company form, or `None` when the country is not an ISO 3166 code (empty means none).
pub fn address_from_form(
    street: &str,
    postal_code: &str,
    city: &str,
    country: &str,
) -> Option<portal_persistence::tenants::TenantAddress> {
    let country = match blank_to_none(country) {
        None => None,
        Some(text) => Some(portal_domain::identifiers::country_code(&text)?),
    };
    Some(portal_persistence::tenants::TenantAddress {
        street: blank_to_none(street),
        postal_code: blank_to_none(postal_code),
        city: blank_to_none(city),
        country,
    })
}

/// `2026-11-30` (what a date input sends) or `30/11/2026` (what people type without a date picker).
pub fn parse_date(text: &str) -> Option<chrono::NaiveDate> {
    let text = text.trim();
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| chrono::NaiveDate::parse_from_str(text, "%d/%m/%Y"))
        .ok()
}

/// A form field left empty (or only spaces) means "none".
pub fn blank_to_none(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}
