//! Static files, embedded into the binary at build time and served with validators and long-lived caching.
//!
//! Pages link to `/static/<path>?v=<content hash>`: such a URL never changes meaning, so browsers may keep it for a
//! year; a bare URL is cached briefly and revalidated with its ETag.

use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../static/"]
pub struct Static;

pub fn version_of(file: &rust_embed::EmbeddedFile) -> String {
    hex::encode(&file.metadata.sha256_hash()[..8])
}

/// The cache-busting URL of an embedded file (the bare path if it does not exist, which a test would catch).
pub fn url(path: &str) -> String {
    match Static::get(path) {
        Some(file) => format!("/static/{path}?v={}", version_of(&file)),
        None => format!("/static/{path}"),
    }
}
