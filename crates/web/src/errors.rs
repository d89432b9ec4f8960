//! What users see when something goes wrong: an opaque page with a reference, while the log gets the whole cause
//! chain under the same request id.

use crate::pages::{Layout, NotFoundPage, ServerErrorPage};
use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use askama::Template;

/// An internal failure: never shown as such, always logged.
#[derive(Debug)]
pub struct AppError(anyhow::Error);

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("internal error")
    }
}

impl<E: Into<anyhow::Error>> From<E> for AppError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    fn error_response(&self) -> HttpResponse {
        // `{:#}` prints the whole chain of causes on one line.
        tracing::error!(error = format!("{:#}", self.0), "internal error");
        // The request middleware replaces every 500 body with the page that carries the request id.
        HttpResponse::InternalServerError().finish()
    }
}

pub fn server_error_page(request_id: &str) -> HttpResponse {
    let page = ServerErrorPage {
        layout: Layout::new(),
        request_id: request_id.to_owned(),
    };
    html(StatusCode::INTERNAL_SERVER_ERROR, page.render())
}

pub fn not_found_page(_request: &HttpRequest) -> HttpResponse {
    html(
        StatusCode::NOT_FOUND,
        NotFoundPage {
            layout: Layout::new(),
        }
        .render(),
    )
}

pub async fn not_found(request: HttpRequest) -> HttpResponse {
    not_found_page(&request)
}

fn html(status: StatusCode, rendered: Result<String, askama::Error>) -> HttpResponse {
    match rendered {
        Ok(body) => HttpResponse::build(status)
            .content_type(ContentType::html())
            .body(body),
        Err(error) => {
            tracing::error!(error = %error, "a page template failed to render");
            HttpResponse::build(status)
                .content_type(ContentType::plaintext())
                .body(status.canonical_reason().unwrap_or("error"))
        }
    }
}
