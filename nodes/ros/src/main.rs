//! `fusionrt_node`: the ROS 2 node (see the fusionrt-ros crate docs and `launch/`).
//! Exit 2: a bad command line or parameter file; exit 1: a failure.

use fusionrt_ros::args::NodeArgs;
use fusionrt_ros::node::{NodeError, run};
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: every sweep hands multi-megabyte buffers between the
/// spin, source and stage threads, and glibc gave those pages back and faulted them in again.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FUSIONRT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = match NodeArgs::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(NodeError::BadInput(e)) => {
            eprintln!("fusionrt_node: {e:#}");
            ExitCode::from(2)
        }
        Err(NodeError::Failed(e)) => {
            eprintln!("fusionrt_node: {e:#}");
            ExitCode::from(1)
        }
    }
}
