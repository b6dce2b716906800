//! `fusionrt`: the command line of the fusionrt sensor-fusion runtime.
//!
//! One subcommand per module in [`commands`], each with its own clap args struct and an
//! `execute`. Errors print as one line; exit code 2 means bad input or config, 1 a failure.

mod commands;
mod exit;

use clap::Parser;
use std::process::ExitCode;

/// fusionrt: lidar-camera fusion and tracking for automated vehicles.
#[derive(Debug, Parser)]
#[command(name = "fusionrt", version, about, propagate_version = true)]
struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `fusionrt_lidar=debug`.
    #[arg(long, global = true, default_value = "warn", env = "FUSIONRT_LOG")]
    log: String,
    #[command(subcommand)]
    command: commands::Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    match cli.command.execute() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", exit::one_line(&err));
            ExitCode::from(exit::code_for(&err))
        }
    }
}
