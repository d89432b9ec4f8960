//! What users see when something goes wrong: a page in both languages, never an internal detail. Internal
//! failures are logged with their whole cause chain under the request's id, which the 500 page shows.

use crate::layout::{ErrorPage, Layout};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, Responder, ResponseError};
use askama::Template;
use portal_domain::Language;
use portal_domain::Localized;
use portal_domain::actions::Refusal;

/// The ways a handler can fail.
#[derive(Debug)]
pub enum WebError {
    /// Unknown, or not yours: the same answer, so nobody learns what exists in another tenant.
    NotFound,
    /// Signed in, but the role does not allow it.
    Forbidden,
    /// The rules refuse it in the state things are in.
    Conflict,
    /// The domain's table of actions refuses it: the 409 page says which action and why.
    Refused(Refusal),
    /// The page needs a signed-in user: go to the login page, then come back.
    SignIn { next: String },
    /// Anything else: logged, shown as an opaque 500.
    Internal(anyhow::Error),
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound => f.write_str("not found"),
            Self::Forbidden => f.write_str("forbidden"),
            Self::Conflict => f.write_str("conflict"),
            Self::Refused(refusal) => write!(f, "refused: {refusal}"),
            Self::SignIn { .. } => f.write_str("sign-in required"),
            Self::Internal(_) => f.write_str("internal error"),
        }
    }
}

impl<E: Into<anyhow::Error>> From<E> for WebError {
    fn from(error: E) -> Self {
        Self::Internal(error.into())
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Conflict | Self::Refused(_) => StatusCode::CONFLICT,
            Self::SignIn { .. } => StatusCode::SEE_OTHER,
            Self::Internal(error) if error.is::<portal_app::password::Busy>() => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::NotFound => error_page(StatusCode::NOT_FOUND, ""),
            Self::Forbidden => error_page(StatusCode::FORBIDDEN, ""),
            Self::Conflict => error_page(StatusCode::CONFLICT, ""),
            Self::Refused(refusal) => refusal_page(refusal),
            Self::SignIn { next } => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, login_url(next)))
                .finish(),
            // Too many passwords to hash at once: refused at once rather than queued.
            Self::Internal(error) if error.is::<portal_app::password::Busy>() => {
                tracing::warn!("password hashing queue full: request refused");
                error_page(StatusCode::TOO_MANY_REQUESTS, "")
            }
            Self::Internal(error) => {
                // `{:#}` prints the whole chain of causes on one line.
                tracing::error!(error = format!("{error:#}"), "internal error");
                // The request middleware replaces every 500 body with the page that carries the request id.
                HttpResponse::InternalServerError().finish()
            }
        }
    }
}

impl WebError {
    /// The one place where a use case's error becomes HTTP (when its handler has no page of its own for it):
    /// not found is the 404 page, a refusal the 409 page, anything else an opaque 500 with the causes logged.
    pub fn from_failure(failure: impl portal_app::Failure) -> Self {
        match failure.kind() {
            portal_app::FailureKind::NotFound => Self::NotFound,
            portal_app::FailureKind::Refused => match failure.refusal() {
                Some(refusal) => Self::Refused(refusal),
                None => Self::Conflict,
            },
            portal_app::FailureKind::Internal => Self::Internal(failure.into()),
        }
    }
}

/// `/login?next=…`, keeping only local paths.
pub fn login_url(next: &str) -> String {
    if next.is_empty() || next == "/" {
        "/login".to_owned()
    } else {
        format!("/login?next={}", urlencode(next))
    }
}

fn urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(char::from(byte))
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

pub fn server_error_page(request_id: &str) -> HttpResponse {
    error_page(StatusCode::INTERNAL_SERVER_ERROR, request_id)
}

/// A refused state-changing request (missing or wrong CSRF token).
pub fn csrf_refused_page() -> HttpResponse {
    error_page(StatusCode::FORBIDDEN, "csrf")
}

/// The 409 page of an action the table refuses, with the reason in French and in English (an error response has
/// no request, hence no reader's language).
fn refusal_page(refusal: &Refusal) -> HttpResponse {
    render_error(ErrorPage {
        layout: Layout::anonymous(Default::default()),
        status: StatusCode::CONFLICT.as_u16(),
        detail: String::new(),
        reason: Some((refusal.message(Language::Fr), refusal.message(Language::En))),
    })
}

/// A request body larger than the portal accepts (a form over its limit).
pub fn too_large_page() -> HttpResponse {
    error_page(StatusCode::PAYLOAD_TOO_LARGE, "")
}

pub fn error_page(status: StatusCode, detail: &str) -> HttpResponse {
    render_error(ErrorPage {
        layout: Layout::anonymous(Default::default()),
        status: status.as_u16(),
        detail: detail.to_owned(),
        reason: None,
    })
}

fn render_error(page: ErrorPage) -> HttpResponse {
    let status = StatusCode::from_u16(page.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // The one page rendered by hand: error responses have no request to answer.
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type(ContentType::html())
            .body(body),
        Err(error) => {
            tracing::error!(error = %error, "the error page failed to render");
            HttpResponse::build(StatusCode::INTERNAL_SERVER_ERROR)
                .content_type(ContentType::plaintext())
                .body("error")
        }
    }
}

pub fn not_found_page(_request: &HttpRequest) -> HttpResponse {
    error_page(StatusCode::NOT_FOUND, "")
}

pub async fn not_found(request: HttpRequest) -> HttpResponse {
    not_found_page(&request)
}

/// A page as the response, through askama_web's responder (a template that fails to render is logged and
/// answered as a 500, which the request middleware turns into the opaque error page).
pub fn respond(req: &HttpRequest, status: StatusCode, page: impl Responder) -> HttpResponse {
    page.customize()
        .with_status(status)
        .respond_to(req)
        .map_into_boxed_body()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_redirects_keep_the_path_encoded() {
        assert_eq!(login_url("/"), "/login");
        assert_eq!(
            login_url("/t/acme/settings?x=1&y=2"),
            "/login?next=/t/acme/settings%3Fx%3D1%26y%3D2"
        );
    }
}
