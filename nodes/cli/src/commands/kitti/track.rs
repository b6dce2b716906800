//! `fusionrt kitti track`: tracks KITTI tracking detections and writes KITTI result files.

use clap::Args;

/// Arguments of `fusionrt kitti track`.
#[derive(Debug, Args)]
pub struct KittiTrackArgs {}

impl KittiTrackArgs {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        anyhow::bail!("`fusionrt kitti track` is not built yet")
    }
}
