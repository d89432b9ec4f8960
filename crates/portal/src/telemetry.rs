//! Logs: `tracing` to standard error, human-readable or JSON (the web crate adds one span per HTTP request).

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once (later calls, e.g. from several tests, do nothing).
pub fn init(level: &str, json: bool) {
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true);
    let _already_set = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.compact().try_init()
    };
}
