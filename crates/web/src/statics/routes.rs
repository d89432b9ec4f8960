//! `/static/{path}`: a file embedded at build time, cached for a year when asked by its versioned URL.

use crate::assets::{Static, version_of};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

pub async fn serve(request: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let path = path.into_inner();
    let Some(file) = Static::get(&path) else {
        return crate::errors::not_found_page(&request);
    };
    let version = version_of(&file);
    let etag = format!("\"{version}\"");
    let immutable =
        web::Query::<std::collections::HashMap<String, String>>::from_query(request.query_string())
            .ok()
            .and_then(|query| query.get("v").cloned())
            .is_some_and(|asked| asked == version);
    let cache_control = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300, must-revalidate"
    };
    let matches = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    let mut response = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response.insert_header((header::ETAG, etag)).insert_header((
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    ));
    if matches {
        return response.finish();
    }
    let mime = mime_guess::from_path(&path).first_or_octet_stream();
    response
        .insert_header((header::CONTENT_TYPE, mime.essence_str().to_owned()))
        .body(file.data.into_owned())
}
