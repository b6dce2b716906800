//! `fusionrt bench camera`: benchmarks camera pre-processing, inference and post-processing.

use clap::Args;

/// Arguments of `fusionrt bench camera`.
#[derive(Debug, Args)]
pub struct BenchCameraArgs {}

impl BenchCameraArgs {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        anyhow::bail!("`fusionrt bench camera` is not built yet")
    }
}
