//! The `portal` command (contracts.md): serve, migrate, create-admin.

use crate::config::{Config, ConfigError, ConfigSources};
use crate::startup::{Application, StartError, open_database};
use anyhow::Context;
use clap::{Parser, Subcommand};
use portal_persistence::audit::AuditEntry;
use portal_persistence::users::{AdminUpsert, UserRepository};
use std::io::Read;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "portal",
    version,
    about = "E-invoicing portal for French suppliers (through Billit)"
)]
pub struct Cli {
    /// A TOML configuration file (also PORTAL_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where the SQLite database, the outbox and the master key live (default ./data).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server and the background workers (the default).
    Serve(ServeArgs),
    /// Apply the database migrations and exit.
    Migrate,
    /// Create a firm administrator, or reset one's password; the password is read from standard input.
    CreateAdmin(CreateAdminArgs),
    /// Billit tools for support staff.
    #[command(subcommand)]
    Billit(BillitCommand),
    /// Tools for developers (benchmarks, demonstrations).
    #[command(subcommand)]
    Dev(DevCommand),
}

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Fill the database with companies, customers and invoices with realistic status histories.
    Seed(SeedArgs),
    /// Recompute every company's kept counts (invoices per status, invoices sent per month) from its invoices,
    /// and print what changed.
    Recount,
}

#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// How many companies.
    #[arg(long, default_value_t = 2)]
    pub tenants: usize,
    /// How many invoices per company.
    #[arg(long, default_value_t = 100)]
    pub invoices: usize,
    /// How many customers per company.
    #[arg(long, default_value_t = 50)]
    pub customers: usize,
    /// Company addresses are `<prefix>-001`, `<prefix>-002`…
    #[arg(long, default_value = "seed")]
    pub prefix: String,
    /// The password of every seeded administrator (12 characters at least).
    #[arg(long, default_value = "seed password 2026")]
    pub password: String,
    /// The random seed (the same seed gives the same data).
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
}

#[derive(Debug, Subcommand)]
pub enum BillitCommand {
    /// Read a Billit order (JSON), a Billit webhook payload (JSON) or a status file (CDAR XML) and print what the
    /// portal understands of it: the status observations and the resulting lifecycle.
    Inspect(InspectArgs),
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The file to read.
    pub file: PathBuf,
    /// `table` (readable, the default) or `json` (the contract of contracts.md).
    #[arg(long, value_enum, default_value_t = InspectFormat::Table)]
    pub format: InspectFormat,
    /// Language of the table's labels.
    #[arg(long, default_value = "fr")]
    pub lang: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InspectFormat {
    Table,
    Json,
}

#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// Start with an empty database: no demonstration companies.
    #[arg(long)]
    pub no_demo: bool,
}

#[derive(Debug, clap::Args)]
pub struct CreateAdminArgs {
    #[arg(long)]
    pub email: String,
    /// Read the password from standard input (its first line).
    #[arg(long, required = true)]
    pub password_stdin: bool,
    /// The name shown in the portal (defaults to the part of the email before the @).
    #[arg(long)]
    pub name: Option<String>,
}

/// A failure, with the exit code it deserves: 2 for what the user gave (configuration, input), 1 otherwise.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl From<ConfigError> for Failure {
    fn from(error: ConfigError) -> Self {
        Self {
            code: 2,
            message: format!("configuration error: {error}"),
        }
    }
}

impl From<StartError> for Failure {
    fn from(error: StartError) -> Self {
        match error {
            StartError::Config(error) => error.into(),
            StartError::Other(error) => error.into(),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self {
            code: 1,
            message: format!("{error:#}"),
        }
    }
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: 2,
        message: message.into(),
    }
}

pub async fn run(cli: Cli) -> Result<(), Failure> {
    // Inspecting a file needs no configuration, database or data dir: it only reads the file.
    if let Some(Command::Billit(BillitCommand::Inspect(args))) = &cli.command {
        return inspect(args);
    }
    let mut sources = ConfigSources::from_process(cli.config.clone(), cli.data_dir.clone());
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    if let Command::Serve(args) = &command {
        sources.bind.clone_from(&args.bind);
    }
    let config = Config::load(&sources)?;
    crate::telemetry::init(&config.log.level, config.log.json);
    match command {
        Command::Serve(args) => serve(config, &args).await,
        Command::Migrate => {
            let db = open_database(&config).await?;
            println!(
                "Migrations applied ({}).",
                portal_persistence::db::backend_name(&db)
            );
            db.close().await.context("closing the database")?;
            Ok(())
        }
        Command::CreateAdmin(args) => create_admin(config, args).await,
        Command::Billit(BillitCommand::Inspect(args)) => inspect(&args),
        Command::Dev(DevCommand::Seed(args)) => seed(config, args).await,
        Command::Dev(DevCommand::Recount) => recount(config).await,
    }
}

fn inspect(args: &InspectArgs) -> Result<(), Failure> {
    let bytes = std::fs::read(&args.file)
        .map_err(|error| usage(format!("cannot read {}: {error}", args.file.display())))?;
    let report = portal_billit::inspect::inspect_bytes(&bytes)
        .map_err(|error| usage(format!("{}: {error}", args.file.display())))?;
    let text = match args.format {
        InspectFormat::Json => {
            let mut json = serde_json::to_string_pretty(&report)
                .map_err(|error| Failure::from(anyhow::Error::from(error)))?;
            json.push('\n');
            json
        }
        InspectFormat::Table => {
            let lang = portal_domain::Language::parse(&args.lang).unwrap_or_default();
            portal_billit::inspect::render_table(&report, lang)
        }
    };
    write_stdout(&text)
}

/// Prints without panicking when the reader goes away (`portal billit inspect … | head`).
fn write_stdout(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(Failure::from(
            anyhow::Error::from(error).context("writing to standard output"),
        )),
    }
}

async fn serve(mut config: Config, args: &ServeArgs) -> Result<(), Failure> {
    let bind_host = config.bind_addr()?.ip();
    let data_dir = crate::config::describe_data_dir(&config.server.data_dir);
    let exposed = config.exposed_demo_warning()?;
    let production = config.server.mode == crate::config::ServerMode::Production;
    let sandbox = start_embedded_sandbox(&mut config).await?;
    let app = Application::build(config).await?;
    let backend = portal_persistence::db::backend_name(&app.state().db);
    // Scripts and tests read this line to learn the port (with --bind …:0).
    println!("Portal listening on http://{bind_host}:{}", app.port());
    println!("Data dir: {data_dir} · database: {backend}");
    if let Some(warning) = exposed {
        println!("{warning}");
        tracing::warn!("{warning}");
    }
    let mut demo_logins = None;
    if let Some(sandbox) = &sandbox {
        println!("Embedded Billit sandbox on {}", sandbox.base_url());
        if !args.no_demo && !production {
            match portal_app::demo::create_if_empty(&app.state().app, &DemoAccounts(sandbox)).await
            {
                Ok(logins) => demo_logins = logins,
                Err(error) => {
                    tracing::error!(
                        error = format!("{error:#}"),
                        "the demonstration could not be created"
                    );
                }
            }
        }
    }
    tracing::info!(port = app.port(), database = backend, "portal started");
    println!("Ready: Ctrl-C stops the portal.");
    // Last, so that the start-up lines do not scroll them away.
    if let Some(logins) = demo_logins {
        println!(
            "Demonstration created: sign in at {}/login with",
            app.state().base_url
        );
        for login in logins {
            println!("  {:<40} {} / {}", login.who, login.email, login.password);
        }
        println!("(the passwords are shown once; statuses keep arriving over the next minutes)");
    }
    let served = app.run_until_stopped().await;
    if let Some(sandbox) = sandbox {
        sandbox.shutdown().await;
    }
    served?;
    Ok(())
}

/// The running sandbox, as the demonstration asks it for accounts.
struct DemoAccounts<'a>(&'a billit_sandbox::RunningSandbox);

impl portal_app::demo::DemoSandbox for DemoAccounts<'_> {
    fn add_party(&self, party: portal_app::demo::DemoParty) -> portal_app::demo::SandboxFuture<'_> {
        let added = self
            .0
            .add_party(billit_sandbox::PartyAccount {
                party_id: party.party_id,
                api_key: party.api_key,
                name: party.name,
                vat_number: party.vat_number,
                email: None,
            })
            .map_err(|failure| anyhow::anyhow!("{failure:?}"));
        Box::pin(async move { added })
    }
}

/// The local Billit of contracts.md: started unless the configuration names one (`billit.embedded_url`), turns
/// it off (`billit.embedded_sandbox = false`) or says production (`server.mode`). Its state lives in the data dir, so orders survive a restart.
async fn start_embedded_sandbox(
    config: &mut Config,
) -> Result<Option<billit_sandbox::RunningSandbox>, Failure> {
    if config.billit.embedded_url.is_some()
        || !config.billit.embedded_sandbox
        || config.server.mode == crate::config::ServerMode::Production
    {
        return Ok(None);
    }
    crate::config::prepare_data_dir(config)?;
    let sandbox = billit_sandbox::Sandbox::start(billit_sandbox::SandboxConfig {
        step_ms: config.billit.embedded_step_ms,
        state_file: Some(config.server.data_dir.join("billit-sandbox.json")),
        ..billit_sandbox::SandboxConfig::default()
    })
    .await
    .context("cannot start the embedded Billit sandbox")?;
    config.billit.embedded_url = Some(sandbox.base_url());
    Ok(Some(sandbox))
}

async fn seed(config: Config, args: SeedArgs) -> Result<(), Failure> {
    if args.password.chars().count() < portal_app::password::MIN_LENGTH {
        return Err(usage(format!(
            "the password must have at least {} characters",
            portal_app::password::MIN_LENGTH
        )));
    }
    if args.tenants == 0 || args.tenants > 10_000 || args.invoices > 1_000_000 {
        return Err(usage(
            "--tenants must be between 1 and 10000 and --invoices at most 1000000",
        ));
    }
    let prefix = args.prefix.trim().to_lowercase();
    if prefix.is_empty()
        || prefix.len() > 40
        || !prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(usage(
            "--prefix must be lowercase letters, digits and dashes (at most 40)",
        ));
    }
    let db = open_database(&config).await?;
    let plan = portal_app::seed::SeedPlan {
        tenants: args.tenants,
        invoices_per_tenant: args.invoices,
        customers_per_tenant: args.customers,
        prefix,
        password: args.password.clone(),
        seed: args.seed,
    };
    let started = std::time::Instant::now();
    let report = portal_app::seed::run(&db, &plan, |line| eprintln!("{line}")).await?;
    db.close().await.context("closing the database")?;
    println!(
        "Seeded {} companies, {} invoices, {} status events in {:.1} s.",
        report.tenants.len(),
        report.invoices,
        report.events,
        started.elapsed().as_secs_f64()
    );
    for (slug, email) in report.tenants.iter().take(5) {
        println!("  /t/{slug}/  sign in as {email} / {}", args.password);
    }
    if report.tenants.len() > 5 {
        println!(
            "  … and {} more (admin@<slug>.example.fr)",
            report.tenants.len() - 5
        );
    }
    Ok(())
}

async fn recount(config: Config) -> Result<(), Failure> {
    let db = open_database(&config).await?;
    let report = portal_app::counts::recount_all(&db, |line| println!("{line}")).await?;
    db.close().await.context("closing the database")?;
    println!(
        "Recounted {} companies: {} corrected.",
        report.companies,
        report.changed.len()
    );
    Ok(())
}

async fn create_admin(config: Config, args: CreateAdminArgs) -> Result<(), Failure> {
    let email = parse_email(&args.email)?;
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|error| {
            usage(format!(
                "cannot read the password from standard input: {error}"
            ))
        })?;
    let password = input.lines().next().unwrap_or_default().to_owned();
    if password.chars().count() < portal_app::password::MIN_LENGTH {
        return Err(usage(format!(
            "the password must have at least {} characters",
            portal_app::password::MIN_LENGTH
        )));
    }
    let name = args
        .name
        .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
    let db = open_database(&config).await?;
    let hash = portal_app::password::hash(password).await?;
    // The administrator and the audit entry are saved together, or neither is.
    let outcome = UserRepository::new(db.clone())
        .upsert_firm_admin(&email, &name, &hash, |outcome| {
            let (action, id) = match outcome {
                AdminUpsert::Created(id) => ("firm_admin.created", id),
                AdminUpsert::Reset(id) => ("firm_admin.reset", id),
            };
            Some(
                AuditEntry::new(action, format!("user:{id}"))
                    .details(serde_json::json!({ "email": email, "via": "command line" })),
            )
        })
        .await
        .context("cannot save the administrator")?;
    let verb = match outcome {
        AdminUpsert::Created(_) => "created",
        AdminUpsert::Reset(_) => "updated (password reset)",
    };
    db.close().await.context("closing the database")?;
    println!("Firm administrator {email} {verb}.");
    Ok(())
}

/// The domain's email rules, as a command-line error (exit code 2).
fn parse_email(text: &str) -> Result<String, Failure> {
    portal_domain::identifiers::Email::parse(text)
        .map(|email| email.to_string())
        .map_err(|_| usage(format!("'{}' is not an email address", text.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_emails_are_checked() {
        assert_eq!(
            parse_email(" Admin@Cabinet.fr ").unwrap(),
            "Admin@cabinet.fr"
        );
        assert!(parse_email("admin").is_err());
        assert!(parse_email("admin@localhost").is_err());
        assert!(parse_email("a b@cabinet.fr").is_err());
    }

    #[test]
    fn no_subcommand_means_serve() {
        let cli = Cli::try_parse_from(["portal"]).unwrap();
        assert!(cli.command.is_none());
        let cli = Cli::try_parse_from([
            "portal",
            "--data-dir",
            "/tmp/x",
            "serve",
            "--bind",
            "127.0.0.1:0",
        ])
        .unwrap();
        assert_eq!(cli.data_dir, Some(PathBuf::from("/tmp/x")));
        assert!(matches!(
            cli.command,
            Some(Command::Serve(ServeArgs { bind: Some(_), .. }))
        ));
        let cli = Cli::try_parse_from(["portal", "migrate", "--data-dir", "/tmp/y"]).unwrap();
        assert_eq!(
            cli.data_dir,
            Some(PathBuf::from("/tmp/y")),
            "global flags go anywhere"
        );
    }
}
