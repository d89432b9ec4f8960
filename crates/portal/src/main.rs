//! `portal`: see `portal --help` and contracts.md.

use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = portal::cli::Cli::parse();
    match portal::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // One line, for people and scripts; the log (if started) has the details.
            eprintln!("portal: {}", failure.message.replace('\n', " "));
            ExitCode::from(failure.code)
        }
    }
}
