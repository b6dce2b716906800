//! `fusionrt_node`: the ROS 2 node (see the fusionrt-ros crate docs and `launch/`).
//! Exit 2: a bad command line or parameter file; exit 1: a failure.

use fusionrt_ros::args::NodeArgs;
use fusionrt_ros::node::{NodeError, run};
use fusionrt_ros::realtime::{no_transparent_huge_pages, prefault_heaps, set_fifo_priority};
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: every sweep hands multi-megabyte buffers between the
/// spin, source and stage threads, and glibc gave those pages back and faulted them in again.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Grown and touched at start-up in each heap: a few 2 MB clouds in the middleware's reader
/// pool, rcl's take buffer and the publishers' messages (glibc); the CDR bytes, decoded clouds
/// and stage buffers in flight (mimalloc).
const PREFAULT_BYTES: usize = 32 << 20;

fn main() -> ExitCode {
    // Before any thread starts, so that every thread inherits it (see the realtime module).
    let small_pages = no_transparent_huge_pages();
    let heap = prefault_heaps(PREFAULT_BYTES);
    let args = NodeArgs::parse(std::env::args().skip(1));
    let priority = match &args {
        Ok(a) if a.rt_priority > 0 => Some(set_fifo_priority(a.rt_priority)),
        _ => None,
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FUSIONRT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    tracing::debug!(?heap, small_pages, "heaps tuned and prefaulted");
    if !small_pages {
        tracing::warn!("transparent huge pages stay on: a thread's first allocations may be late");
    }
    if !heap.c_tuned || heap.c_bytes == 0 {
        tracing::warn!(
            ?heap,
            "glibc refused a heap setting: the first sweeps may be late"
        );
    }
    match priority {
        Some(Ok(())) => tracing::info!("running under SCHED_FIFO (--rt-priority)"),
        Some(Err(e)) => tracing::warn!("running at normal priority: {e}"),
        None => {}
    }
    let args = match args {
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
