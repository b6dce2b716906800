//! `fusionrt kitti lidar`: the lidar stage on one KITTI scan, with recall against labels.

use clap::Args;

/// Arguments of `fusionrt kitti lidar`.
#[derive(Debug, Args)]
pub struct KittiLidarArgs {}

impl KittiLidarArgs {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        anyhow::bail!("`fusionrt kitti lidar` is not built yet")
    }
}
