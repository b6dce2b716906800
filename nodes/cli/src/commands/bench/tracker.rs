//! `fusionrt bench tracker`: benchmarks the tracker.

use clap::Args;

/// Arguments of `fusionrt bench tracker`.
#[derive(Debug, Args)]
pub struct BenchTrackerArgs {}

impl BenchTrackerArgs {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        anyhow::bail!("`fusionrt bench tracker` is not built yet")
    }
}
