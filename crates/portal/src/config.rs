//! Typed, layered configuration: embedded defaults < TOML file (`--config` or `PORTAL_CONFIG`) < environment
//! (`PORTAL_<SECTION>__<KEY>`, and `DATABASE_URL`) < command-line flags.
//!
//! Unknown keys are refused by name, wherever they come from, and every value is checked before anything starts,
//! so a typo stops the start with one clear line (exit code 2) instead of being silently ignored.

use crate::secret::Secret;
use portal_persistence::db::validate_database_url;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variables that start with `PORTAL_` but are not settings.
const NOT_SETTINGS: &[&str] = &["PORTAL_CONFIG", "PORTAL_TEST_DATABASE_URL"];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub mail: MailConfig,
    pub jobs: JobsConfig,
    pub security: SecurityConfig,
    pub log: LogConfig,
    pub billit: BillitConfig,
    pub integrations: IntegrationsConfig,
    pub api: ApiConfig,
}

/// The companies' own systems: outgoing webhooks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntegrationsConfig {
    /// Whether webhook endpoints may be loopback `http://` addresses (`http://127.0.0.1…`). Unset: only in the
    /// demonstration (`server.mode = "demo"`), never in production, where endpoints must be https.
    pub allow_loopback_webhooks: Option<bool>,
}

/// The JSON API (`/api/v1`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Requests each API token may make per minute, on average (per node).
    pub requests_per_minute: u32,
    /// Requests a token may make at once before the per-minute rate applies.
    pub burst: u32,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            requests_per_minute: 600,
            burst: 100,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BillitConfig {
    /// Billit's production API.
    pub production_url: String,
    /// Billit's own sandbox.
    pub sandbox_url: String,
    /// The sandbox embedded in the portal, when one runs (development and demonstration).
    pub embedded_url: Option<String>,
    /// `portal serve` starts a local Billit sandbox (and sets `embedded_url`) unless an `embedded_url` is given.
    pub embedded_sandbox: bool,
    /// Milliseconds between two steps of an embedded sandbox scenario.
    pub embedded_step_ms: u64,
    /// How old a webhook's signature timestamp may be.
    pub webhook_tolerance_secs: u64,
    /// How often each tenant's orders changed at Billit are listed (what webhooks may have missed).
    pub poll_interval_secs: u64,
    /// How often every open invoice's order is read again, changed or not.
    pub full_check_interval_secs: u64,
}

impl Default for BillitConfig {
    fn default() -> Self {
        Self {
            production_url: "https://api.billit.be".to_owned(),
            sandbox_url: "https://api.sandbox.billit.be".to_owned(),
            embedded_url: None,
            embedded_sandbox: true,
            embedded_step_ms: 20_000,
            webhook_tolerance_secs: 300,
            poll_interval_secs: 60,
            full_check_interval_secs: 900,
        }
    }
}

/// What a deployment is for: a living demonstration (the default, for a newcomer's `cargo run`), or production.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerMode {
    /// An empty database gets demonstration companies (their passwords printed) and an embedded Billit sandbox.
    #[default]
    Demo,
    /// No demonstration and no embedded sandbox, whatever the database holds.
    Production,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// `demo` (default) or `production` (`PORTAL_SERVER__MODE=production`, as in the Docker image).
    pub mode: ServerMode,
    /// Address and port to listen on; port 0 picks a free one (tests).
    #[serde(deserialize_with = "string_or_scalar")]
    pub bind: String,
    /// Where the SQLite database, the mail outbox and the generated master key live.
    pub data_dir: PathBuf,
    /// The address users reach the portal at (links in emails); defaults to `http://<bind>`.
    pub public_url: Option<String>,
    /// How long in-flight requests and jobs get to finish on shutdown.
    pub shutdown_grace_secs: u64,
    /// Addresses or networks (CIDR: `10.0.0.0/8`, `fd00::/8`) of the reverse proxies in front of the portal: only
    /// from these is `X-Forwarded-For` read to learn the client's address (throttling, audit log). Empty: the
    /// direct peer is the client. A list, or one text with commas (`PORTAL_SERVER__TRUSTED_PROXIES=10.0.0.2,
    /// 10.1.0.0/16`).
    #[serde(deserialize_with = "list_or_commas")]
    pub trusted_proxies: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://…` or `sqlite:…`; unset means SQLite at `<data_dir>/portal.db`.
    pub url: Option<Secret<String>>,
    pub max_connections: u32,
    /// The memory SQLite's page caches may keep, the whole pool together, in MiB (0: SQLite's 2 MiB per
    /// connection); PostgreSQL ignores it. 8 by default: the pages are in the system's file cache anyway, and with
    /// 16 the load bench's peak resident memory was 101–105 MiB against 92 with 8, at the same page rates.
    pub sqlite_memory_mib: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// `smtp://user:pass@host:port` (or `smtps://`); unset means `.eml` files under `<data_dir>/outbox/`.
    pub smtp_url: Option<Secret<String>>,
    /// The sender of the portal's own emails (invitations, password resets).
    pub from: String,
    /// Answers to customers one company may send per hour (all its people together).
    pub answers_per_company_hour: u32,
    /// Answers to customers one person may send per hour.
    pub answers_per_user_hour: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Concurrent workers in this process; 0 runs none (a web-only node).
    pub workers: usize,
    /// How often an idle worker looks for due jobs.
    pub poll_interval_ms: u64,
    /// How long a claimed job stays with its worker without a heartbeat.
    pub lease_secs: u64,
    pub retry_base_secs: u64,
    pub retry_cap_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// 64 hex characters (AES-256 key for secrets at rest); unset means generated into `<data_dir>/master.key`.
    pub master_key: Option<Secret<String>>,
    /// Mark cookies `Secure`; defaults to true when `public_url` is https.
    pub secure_cookies: Option<bool>,
    /// How often an open live-update stream checks that its session and access are still valid.
    pub live_recheck_secs: u64,
    /// How many live-update streams one user may have open at once.
    pub live_streams_per_user: usize,
    /// How long a node keeps a session, a membership or a menu it read (0: not at all). Sign-out, role changes,
    /// deactivation, suspension and portfolio changes invalidate them at once on every node; this bounds how long
    /// one lost invalidation could matter.
    pub session_cache_secs: u64,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            master_key: None,
            secure_cookies: None,
            live_recheck_secs: 30,
            live_streams_per_user: 8,
            session_cache_secs: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A level (`info`) or `tracing` directives (`info,portal_web=debug`).
    pub level: String,
    /// One JSON object per line, for log collectors.
    pub json: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            mode: ServerMode::Demo,
            bind: "127.0.0.1:8080".to_owned(),
            data_dir: PathBuf::from("data"),
            public_url: None,
            shutdown_grace_secs: 10,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 10,
            sqlite_memory_mib: 8,
        }
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "Portail de facturation <no-reply@localhost>".to_owned(),
            answers_per_company_hour: 100,
            answers_per_user_hour: 30,
        }
    }
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            workers: 2,
            poll_interval_ms: 500,
            lease_secs: 60,
            retry_base_secs: 5,
            retry_cap_secs: 3600,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            // actix-server announces its workers at info, after the demo's logins: warnings only.
            level: "info,actix_server=warn".to_owned(),
            json: false,
        }
    }
}

impl Config {
    pub fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.server.bind.parse().map_err(|_| ConfigError::Invalid {
            key: "server.bind".to_owned(),
            message: format!(
                "'{}' is not an address like 127.0.0.1:8080",
                self.server.bind
            ),
        })
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.server.data_dir.join("portal.db")
    }

    /// `database.sqlite_memory_mib` in bytes, `None` for 0 (no limit).
    pub fn sqlite_memory_limit(&self) -> Option<u64> {
        let mib = self.database.sqlite_memory_mib;
        (mib > 0).then(|| mib.saturating_mul(1024 * 1024))
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.server.data_dir.join("outbox")
    }

    /// `server.trusted_proxies`, parsed: each an address (one host) or a network in CIDR notation.
    pub fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.server
            .trusted_proxies
            .iter()
            .map(|proxy| parse_proxy(proxy).map_err(|why| invalid("server.trusted_proxies", &why)))
            .collect()
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.jobs.lease_secs)
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.jobs.poll_interval_ms)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.server.shutdown_grace_secs)
    }

    /// Every value that can be checked without touching the world.
    /// The loud warning of a demonstration reachable from other machines (its printed passwords, its sandbox).
    pub fn exposed_demo_warning(&self) -> Result<Option<String>, ConfigError> {
        let addr = self.bind_addr()?;
        Ok((self.server.mode == ServerMode::Demo && !addr.ip().is_loopback()).then(|| {
            format!(
                "WARNING: this is a DEMONSTRATION (server.mode = \"demo\") listening on {addr}, reachable from \
                 other machines: it creates demo companies and prints their passwords, and runs a fake Billit. \
                 Set PORTAL_SERVER__MODE=production for real use."
            )
        }))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.bind_addr()?;
        if self.server.mode == ServerMode::Production && self.billit.embedded_url.is_some() {
            return Err(invalid(
                "billit.embedded_url",
                "an embedded Billit sandbox is for demonstrations: not allowed with server.mode = \"production\"",
            ));
        }
        self.trusted_proxies()?;
        if self.security.session_cache_secs > 60 {
            return Err(invalid(
                "security.session_cache_secs",
                "must be at most 60 (a signed-out session must not live on)",
            ));
        }
        if self.security.live_recheck_secs == 0 {
            return Err(invalid("security.live_recheck_secs", "must be at least 1"));
        }
        if self.api.requests_per_minute == 0 {
            return Err(invalid("api.requests_per_minute", "must be at least 1"));
        }
        if self.api.burst == 0 {
            return Err(invalid("api.burst", "must be at least 1"));
        }
        if self.security.live_streams_per_user == 0 {
            return Err(invalid(
                "security.live_streams_per_user",
                "must be at least 1",
            ));
        }
        if let Some(url) = &self.database.url {
            validate_database_url(url.expose()).map_err(|error| ConfigError::Invalid {
                key: "database.url".to_owned(),
                message: error.to_string(),
            })?;
        }
        if self.database.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        if self.jobs.workers > 64 {
            return Err(invalid("jobs.workers", "must be between 0 and 64"));
        }
        if self.jobs.lease_secs == 0 {
            return Err(invalid("jobs.lease_secs", "must be at least 1"));
        }
        if self.jobs.poll_interval_ms == 0 {
            return Err(invalid("jobs.poll_interval_ms", "must be at least 1"));
        }
        if self.billit.poll_interval_secs == 0 {
            return Err(invalid("billit.poll_interval_secs", "must be at least 1"));
        }
        if self.billit.full_check_interval_secs == 0 {
            return Err(invalid(
                "billit.full_check_interval_secs",
                "must be at least 1",
            ));
        }
        if self.jobs.retry_base_secs == 0 || self.jobs.retry_cap_secs < self.jobs.retry_base_secs {
            return Err(invalid(
                "jobs.retry_base_secs",
                "must be at least 1 and not above jobs.retry_cap_secs",
            ));
        }
        if let Some(key) = &self.security.master_key {
            portal_app::master_key::MasterKey::from_hex(key.expose())
                .map_err(|message| invalid("security.master_key", &message))?;
        }
        if let Some(url) = &self.mail.smtp_url {
            let url = url.expose();
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                return Err(invalid(
                    "mail.smtp_url",
                    "must start with smtp:// or smtps://",
                ));
            }
        }
        if let Some(url) = &self.server.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            {
                return Err(invalid(
                    "server.public_url",
                    "must start with http:// or https://",
                ));
            }
        }
        for (key, url) in [
            ("billit.production_url", Some(&self.billit.production_url)),
            ("billit.sandbox_url", Some(&self.billit.sandbox_url)),
            ("billit.embedded_url", self.billit.embedded_url.as_ref()),
        ] {
            if let Some(url) = url
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                return Err(invalid(key, "must start with http:// or https://"));
            }
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|error| invalid("log.level", &error.to_string()))?;
        Ok(())
    }
}

/// One trusted proxy: an address (that host alone) or a network in CIDR notation (`ipnet`'s parser). A network
/// written with host bits (`10.0.0.1/8`) is refused with its proper form: it is most likely a typing mistake, and
/// trusting a whole network by accident lets its every host choose the client address the portal logs.
fn parse_proxy(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    if let Ok(address) = text.parse::<std::net::IpAddr>() {
        return Ok(ipnet::IpNet::from(address));
    }
    let net = text.parse::<ipnet::IpNet>().map_err(|_| {
        format!("'{text}' is not an IP address or network (like 10.0.0.2, 10.0.0.0/8 or fd00::/8)")
    })?;
    if net.trunc() != net {
        return Err(format!(
            "'{text}' has bits set after its /{} prefix: write the network as {}",
            net.prefix_len(),
            net.trunc()
        ));
    }
    Ok(net)
}

fn invalid(key: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.to_owned(),
    }
}

/// Why the configuration was refused. Each renders as one line that names the key and where it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("unknown setting {name}{origin}")]
    UnknownKey { name: String, origin: String },
    #[error("bad value for {key}{origin}: {message}")]
    BadValue {
        key: String,
        origin: String,
        message: String,
    },
    #[error("bad value for {key}: {message}")]
    Invalid { key: String, message: String },
    #[error(
        "environment variable {name} is not a setting: use PORTAL_<SECTION>__<KEY>, e.g. PORTAL_SERVER__BIND"
    )]
    BadEnvName { name: String },
    #[error("the data dir {path} cannot be used: {message}")]
    DataDir { path: PathBuf, message: String },
}

/// Everything the configuration is read from, gathered by `main` (and built by hand in tests).
#[derive(Debug, Clone, Default)]
pub struct ConfigSources {
    pub file: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    pub data_dir: Option<PathBuf>,
    pub bind: Option<String>,
}

impl ConfigSources {
    /// The process's environment and the global flags.
    pub fn from_process(file: Option<PathBuf>, data_dir: Option<PathBuf>) -> Self {
        let env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        let file = file.or_else(|| {
            env.iter()
                .find(|(key, _)| key == "PORTAL_CONFIG")
                .map(|(_, value)| PathBuf::from(value))
        });
        Self {
            file,
            env,
            data_dir,
            bind: None,
        }
    }
}

impl Config {
    pub fn load(sources: &ConfigSources) -> Result<Self, ConfigError> {
        let mut table = toml::Table::new();
        let mut origins: BTreeMap<String, String> = BTreeMap::new();
        if let Some(path) = &sources.file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
                path: path.clone(),
                source,
            })?;
            table = text
                .parse::<toml::Table>()
                .map_err(|error| ConfigError::Syntax {
                    path: path.clone(),
                    message: error.message().to_owned(),
                })?;
            let origin = format!(" (in {})", path.display());
            collect_paths(&table, "", &origin, &mut origins);
        }
        for (name, value) in &sources.env {
            if name == "DATABASE_URL" {
                if value.trim().is_empty() {
                    continue;
                }
                set_path(
                    &mut table,
                    &["database", "url"],
                    toml::Value::String(value.clone()),
                );
                origins.insert("database.url".to_owned(), " (from DATABASE_URL)".to_owned());
                continue;
            }
            let Some(rest) = name.strip_prefix("PORTAL_") else {
                continue;
            };
            if NOT_SETTINGS.contains(&name.as_str()) {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
            if path.len() < 2 || path.iter().any(String::is_empty) {
                return Err(ConfigError::BadEnvName { name: name.clone() });
            }
            let keys: Vec<&str> = path.iter().map(String::as_str).collect();
            set_path(&mut table, &keys, env_value(value));
            origins.insert(path.join("."), format!(" (from {name})"));
        }
        if let Some(dir) = &sources.data_dir {
            set_path(
                &mut table,
                &["server", "data_dir"],
                toml::Value::String(dir.display().to_string()),
            );
            origins.insert(
                "server.data_dir".to_owned(),
                " (from --data-dir)".to_owned(),
            );
        }
        if let Some(bind) = &sources.bind {
            set_path(
                &mut table,
                &["server", "bind"],
                toml::Value::String(bind.clone()),
            );
            origins.insert("server.bind".to_owned(), " (from --bind)".to_owned());
        }

        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|error| {
                let path = error.path().to_string();
                let message = error.inner().to_string();
                if let Some(field) = unknown_field(&message) {
                    let name = if path == "." || path.is_empty() {
                        field.to_owned()
                    } else {
                        format!("{path}.{field}")
                    };
                    let origin = origin_of(&origins, &name);
                    ConfigError::UnknownKey { name, origin }
                } else {
                    let origin = origin_of(&origins, &path);
                    ConfigError::BadValue {
                        key: path,
                        origin,
                        message: first_line(&message),
                    }
                }
            })?;
        config.validate()?;
        Ok(config)
    }
}

/// Creates the data dir and proves it can be written to; the outbox folder with it.
pub fn prepare_data_dir(config: &Config) -> Result<(), ConfigError> {
    let dir = &config.server.data_dir;
    let fail = |message: String| ConfigError::DataDir {
        path: dir.clone(),
        message,
    };
    std::fs::create_dir_all(dir).map_err(|error| fail(error.to_string()))?;
    std::fs::create_dir_all(config.outbox_dir()).map_err(|error| fail(error.to_string()))?;
    // The database, the master key and the emails (with their links) are the owner's only.
    for private in [dir.clone(), config.outbox_dir()] {
        restrict(&private, 0o700).map_err(|error| fail(error.to_string()))?;
    }
    let probe = dir.join(format!(".write-test-{}", std::process::id()));
    std::fs::write(&probe, b"ok").map_err(|error| fail(format!("not writable ({error})")))?;
    std::fs::remove_file(&probe).map_err(|error| fail(error.to_string()))?;
    Ok(())
}

/// Sets `path`'s permission bits to `mode` (unix; nothing elsewhere).
pub fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

/// The SQLite database and its journal files, owner-only (0600) once they exist.
pub fn restrict_database_files(config: &Config) -> std::io::Result<()> {
    let database = config.sqlite_path();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = database.clone().into_os_string();
        name.push(suffix);
        let path = PathBuf::from(name);
        if path.exists() {
            restrict(&path, 0o600)?;
        }
    }
    Ok(())
}

fn collect_paths(
    table: &toml::Table,
    prefix: &str,
    origin: &str,
    out: &mut BTreeMap<String, String>,
) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if let toml::Value::Table(inner) = value {
            collect_paths(inner, &path, origin, out);
        }
        out.insert(path, origin.to_owned());
    }
}

fn set_path(table: &mut toml::Table, keys: &[&str], value: toml::Value) {
    let Some((last, parents)) = keys.split_last() else {
        return;
    };
    let mut current = table;
    for key in parents {
        let entry = current
            .entry((*key).to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else {
            return;
        };
        current = next;
    }
    current.insert((*last).to_owned(), value);
}

/// Environment values are text; numbers and booleans are recognised so that typed settings accept them.
fn env_value(raw: &str) -> toml::Value {
    if let Ok(number) = raw.parse::<i64>() {
        return toml::Value::Integer(number);
    }
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(raw.to_owned()),
    }
}

fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split('`').next()
}

fn origin_of(origins: &BTreeMap<String, String>, path: &str) -> String {
    let mut candidate = path;
    loop {
        if let Some(origin) = origins.get(candidate) {
            return origin.clone();
        }
        match candidate.rsplit_once('.') {
            Some((parent, _)) => candidate = parent,
            None => return String::new(),
        }
    }
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or_default().trim().to_owned()
}

/// Text settings accept numbers and booleans written without quotes (environment variables have no types).
pub(crate) fn string_or_scalar<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Integer(i64),
        Float(f64),
        Boolean(bool),
    }
    Ok(match Scalar::deserialize(deserializer)? {
        Scalar::Text(text) => text,
        Scalar::Integer(number) => number.to_string(),
        Scalar::Float(number) => number.to_string(),
        Scalar::Boolean(flag) => flag.to_string(),
    })
}

/// A list of texts, or one text whose entries are separated by commas (environment variables have no lists).
pub(crate) fn list_or_commas<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List {
        Items(Vec<String>),
        Text(String),
    }
    Ok(match List::deserialize(deserializer)? {
        List::Items(items) => items,
        List::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// For the configuration reference in the README and `--help`: where a relative data dir ends up.
pub fn describe_data_dir(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> ConfigSources {
        ConfigSources {
            env: pairs
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                .collect(),
            ..ConfigSources::default()
        }
    }

    fn file(text: &str) -> (tempfile::NamedTempFile, ConfigSources) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        let sources = ConfigSources {
            file: Some(file.path().to_path_buf()),
            ..ConfigSources::default()
        };
        (file, sources)
    }

    #[test]
    fn embedded_defaults_need_nothing() {
        let config = Config::load(&ConfigSources::default()).unwrap();
        assert_eq!(config.server.bind, "127.0.0.1:8080");
        assert_eq!(config.server.data_dir, PathBuf::from("data"));
        assert!(config.database.url.is_none());
        assert_eq!(config.database.sqlite_memory_mib, 8);
        assert_eq!(config.sqlite_memory_limit(), Some(8 * 1024 * 1024));
        assert!(config.mail.smtp_url.is_none());
        assert_eq!(config.sqlite_path(), PathBuf::from("data/portal.db"));
    }

    #[test]
    fn no_sqlite_memory_limit_is_zero_in_the_environment() {
        let config = Config::load(&env(&[("PORTAL_DATABASE__SQLITE_MEMORY_MIB", "0")])).unwrap();
        assert_eq!(config.sqlite_memory_limit(), None);
        let config = Config::load(&env(&[("PORTAL_DATABASE__SQLITE_MEMORY_MIB", "48")])).unwrap();
        assert_eq!(config.sqlite_memory_limit(), Some(48 * 1024 * 1024));
    }

    #[test]
    fn layers_apply_in_order_file_then_environment_then_flags() {
        let (_file, mut sources) =
            file("[server]\nbind = \"127.0.0.1:9000\"\n[jobs]\nworkers = 3\nlease_secs = 30\n");
        sources.env = vec![
            ("PORTAL_JOBS__WORKERS".to_owned(), "5".to_owned()),
            (
                "PORTAL_SERVER__BIND".to_owned(),
                "127.0.0.1:9100".to_owned(),
            ),
        ];
        sources.bind = Some("127.0.0.1:0".to_owned());
        let config = Config::load(&sources).unwrap();
        assert_eq!(config.jobs.workers, 5, "environment beats the file");
        assert_eq!(config.jobs.lease_secs, 30, "the file beats the defaults");
        assert_eq!(
            config.server.bind, "127.0.0.1:0",
            "flags beat the environment"
        );
    }

    #[test]
    fn trusted_proxies_may_be_networks_and_a_bad_one_is_named() {
        let config = Config::load(&env(&[(
            "PORTAL_SERVER__TRUSTED_PROXIES",
            "10.0.0.0/8, ::1/128, 192.168.1.7, fd00::/8",
        )]))
        .unwrap();
        let nets = config.trusted_proxies().unwrap();
        let net = |text: &str| text.parse::<ipnet::IpNet>().unwrap();
        assert_eq!(
            nets,
            vec![
                net("10.0.0.0/8"),
                net("::1/128"),
                net("192.168.1.7/32"),
                net("fd00::/8")
            ]
        );
        let contains = |address: &str| {
            let address: std::net::IpAddr = address.parse().unwrap();
            nets.iter().any(|net| net.contains(&address))
        };
        assert!(contains("10.200.3.4") && contains("::1") && contains("192.168.1.7"));
        assert!(!contains("11.0.0.1") && !contains("192.168.1.8") && !contains("::2"));
        for (bad, says) in [
            ("10.0.0.0/33", "not an IP address or network"),
            ("10.0.0.0/", "not an IP address or network"),
            ("proxy.local", "not an IP address or network"),
            ("10.0.0.1/8", "10.0.0.0/8"),
            ("::1/129", "not an IP address or network"),
        ] {
            let error = Config::load(&env(&[("PORTAL_SERVER__TRUSTED_PROXIES", bad)]))
                .err()
                .unwrap_or_else(|| panic!("{bad:?} accepted"));
            let text = error.to_string();
            assert!(text.contains("server.trusted_proxies"), "{bad:?}: {text}");
            assert!(text.contains(says), "{bad:?}: {text}");
        }
    }

    #[test]
    fn trusted_proxies_come_as_a_list_or_commas_and_must_be_addresses() {
        let config = Config::load(&env(&[(
            "PORTAL_SERVER__TRUSTED_PROXIES",
            "10.0.0.2, 10.0.0.3",
        )]))
        .unwrap();
        assert_eq!(
            config.trusted_proxies().unwrap(),
            vec![
                "10.0.0.2/32".parse::<ipnet::IpNet>().unwrap(),
                "10.0.0.3/32".parse().unwrap()
            ]
        );
        let (_file, sources) = file("[server]\ntrusted_proxies = [\"::1\"]\n");
        assert_eq!(
            Config::load(&sources)
                .unwrap()
                .trusted_proxies()
                .unwrap()
                .len(),
            1
        );
        let error =
            Config::load(&env(&[("PORTAL_SERVER__TRUSTED_PROXIES", "proxy.local")])).unwrap_err();
        assert!(
            error.to_string().contains("server.trusted_proxies"),
            "{error}"
        );
        assert!(Config::default().server.trusted_proxies.is_empty());
    }

    #[test]
    fn production_mode_refuses_a_sandbox_and_a_demo_open_to_the_network_is_loud() {
        let config = Config::load(&env(&[("PORTAL_SERVER__MODE", "production")])).unwrap();
        assert_eq!(config.server.mode, ServerMode::Production);
        assert_eq!(Config::default().server.mode, ServerMode::Demo);
        let error = Config::load(&env(&[
            ("PORTAL_SERVER__MODE", "production"),
            ("PORTAL_BILLIT__EMBEDDED_URL", "http://127.0.0.1:9"),
        ]))
        .unwrap_err();
        assert!(error.to_string().contains("billit.embedded_url"), "{error}");
        assert!(Config::load(&env(&[("PORTAL_SERVER__MODE", "staging")])).is_err());

        let open = Config::load(&env(&[("PORTAL_SERVER__BIND", "0.0.0.0:8080")])).unwrap();
        let warning = open.exposed_demo_warning().unwrap().expect("a warning");
        assert!(warning.contains("DEMONSTRATION") && warning.contains("0.0.0.0:8080"));
        assert!(
            Config::default().exposed_demo_warning().unwrap().is_none(),
            "loopback"
        );
        let production = Config::load(&env(&[
            ("PORTAL_SERVER__BIND", "0.0.0.0:8080"),
            ("PORTAL_SERVER__MODE", "production"),
        ]))
        .unwrap();
        assert!(production.exposed_demo_warning().unwrap().is_none());
    }

    #[test]
    fn database_url_shortcut_sets_the_database() {
        let config = Config::load(&env(&[(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/test",
        )]))
        .unwrap();
        assert_eq!(
            config
                .database
                .url
                .as_ref()
                .map(|url| url.expose().as_str()),
            Some("postgres://postgres@127.0.0.1:5432/test")
        );
    }

    #[test]
    fn unknown_keys_are_refused_by_name_with_their_origin() {
        let (_file, sources) = file("[server]\nbnd = \"x\"\n");
        let error = Config::load(&sources).unwrap_err().to_string();
        assert!(error.contains("server.bnd"), "{error}");
        assert!(error.contains("(in "), "{error}");

        let error = Config::load(&env(&[("PORTAL_SERVER__PORT", "80")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("server.port"), "{error}");
        assert!(error.contains("PORTAL_SERVER__PORT"), "{error}");

        let error = Config::load(&env(&[("PORTAL_NOPE__X", "1")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("nope"), "{error}");

        let error = Config::load(&env(&[("PORTAL_BIND", "1")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("PORTAL_BIND"), "{error}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let error = Config::load(&env(&[("PORTAL_JOBS__WORKERS", "many")]))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("jobs.workers") && error.contains("PORTAL_JOBS__WORKERS"),
            "{error}"
        );

        let error = Config::load(&env(&[(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:notaport/test",
        )]))
        .unwrap_err()
        .to_string();
        assert!(error.contains("database.url"), "{error}");

        let error = Config::load(&env(&[("DATABASE_URL", "mysql://x")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("postgres://"), "{error}");

        let error = Config::load(&env(&[("PORTAL_SERVER__BIND", "localhost")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("server.bind"), "{error}");

        let error = Config::load(&env(&[("PORTAL_SECURITY__MASTER_KEY", "abc")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("security.master_key"), "{error}");
        assert!(
            !error.contains("abc"),
            "the secret itself is not repeated: {error}"
        );
    }

    #[test]
    fn invalid_toml_is_reported_with_the_file() {
        let (_file, sources) = file("[server\n");
        let error = Config::load(&sources).unwrap_err();
        assert!(matches!(error, ConfigError::Syntax { .. }), "{error}");
    }

    #[test]
    fn secrets_do_not_print() {
        let config = Config::load(&env(&[(
            "DATABASE_URL",
            "postgres://app:pw123@127.0.0.1/db",
        )]))
        .unwrap();
        assert!(!format!("{config:?}").contains("pw123"));
    }

    #[test]
    fn test_variables_are_not_settings() {
        assert!(
            Config::load(&env(&[
                ("PORTAL_TEST_DATABASE_URL", "postgres://x@y/z"),
                ("PORTAL_CONFIG", "")
            ]))
            .is_ok()
        );
    }

    #[test]
    fn a_data_dir_under_a_file_is_refused() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut config = Config::default();
        config.server.data_dir = file.path().join("data");
        let error = prepare_data_dir(&config).unwrap_err();
        assert!(matches!(error, ConfigError::DataDir { .. }), "{error}");
    }
}
