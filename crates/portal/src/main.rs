//! `portal`: see `portal --help` and contracts.md.

use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: portal_allocator::MiMalloc = portal_allocator::MiMalloc;

fn main() -> ExitCode {
    // Before the runtime's threads exist (see the crate).
    portal_allocator::return_freed_memory_promptly();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run()),
        Err(error) => {
            eprintln!("portal: cannot start the runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
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
