//! `fusionrt bench lidar`: benchmarks the lidar stage on real and synthetic clouds.

use clap::Args;

/// Arguments of `fusionrt bench lidar`.
#[derive(Debug, Args)]
pub struct BenchLidarArgs {}

impl BenchLidarArgs {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        anyhow::bail!("`fusionrt bench lidar` is not built yet")
    }
}
