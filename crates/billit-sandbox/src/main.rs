//! `billit-sandbox [--bind ADDR] [--step-ms N] [--state FILE]`: a local Billit.

use billit_sandbox::{PartyAccount, Sandbox, SandboxConfig};
use clap::Parser;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A local Billit (API under /v1, control API under /_sandbox).
#[derive(Debug, Parser)]
#[command(name = "billit-sandbox", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8091")]
    bind: SocketAddr,
    /// Milliseconds between two steps of an order's life.
    #[arg(long, default_value_t = 3_000)]
    step_ms: u64,
    /// JSON file the state is loaded from and saved to.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Webhook payloads in the older shape (message fields directly).
    #[arg(long)]
    old_webhook_shape: bool,
    /// Provision a company at start: PartyID.
    #[arg(long, requires = "api_key")]
    party_id: Option<i64>,
    /// Provision a company at start: ApiKey.
    #[arg(long)]
    api_key: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let sandbox = Sandbox::start(SandboxConfig {
        bind: args.bind,
        step_ms: args.step_ms,
        state_file: args.state,
        webhook_new_shape: !args.old_webhook_shape,
        ..SandboxConfig::default()
    })
    .await?;
    if let (Some(party_id), Some(api_key)) = (args.party_id, args.api_key) {
        sandbox
            .add_party(PartyAccount {
                party_id,
                api_key,
                name: "Sandbox company".to_owned(),
                vat_number: "FR99227010068".to_owned(),
                email: None,
            })
            .map_err(|failure| anyhow::anyhow!("{}", failure.description))?;
    }
    // The first line of stdout is the base URL (a closed pipe is not an error).
    let mut stdout = std::io::stdout();
    let _ignored = writeln!(stdout, "Billit sandbox listening on {}", sandbox.base_url())
        .and_then(|()| stdout.flush());
    tokio::signal::ctrl_c().await?;
    sandbox.shutdown().await;
    Ok(())
}
