//! `fusionrt kitti frame`: the whole single-frame pipeline (lidar, camera, fusion) on one KITTI frame.

use clap::Args;

/// Arguments of `fusionrt kitti frame`.
#[derive(Debug, Args)]
pub struct KittiFrameArgs {}

impl KittiFrameArgs {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        anyhow::bail!("`fusionrt kitti frame` is not built yet")
    }
}
