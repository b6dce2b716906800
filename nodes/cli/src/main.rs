//! `fusionrt`: the command line of the fusionrt sensor-fusion runtime.
//!
//! One subcommand per module in [`commands`], each with its own clap args struct and an
//! `execute`. Errors print as one line; exit code 2 means bad input or config, 1 a failure.

mod commands;
mod exit;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: a replay hands multi-megabyte clouds between threads
/// every sweep, and glibc returned those pages to the kernel and faulted them in again each time
/// (a quarter of the reading thread's time went to zeroing fresh pages).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// Exit status of a process ended by SIGPIPE (128 + 13), as `head` and other Unix tools expect.
const BROKEN_PIPE_EXIT: i32 = 141;

/// Makes a closed stdout (`fusionrt ... | head`) end the process quietly, as SIGPIPE does for C
/// programs, instead of panicking in `println!` (Rust ignores SIGPIPE, so writes fail with
/// EPIPE and `println!` panics).
fn exit_quietly_on_broken_pipe() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(BROKEN_PIPE_EXIT);
        }
        default_hook(info);
    }));
}

fn main() -> ExitCode {
    exit_quietly_on_broken_pipe();
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
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
