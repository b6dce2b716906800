//! `fusionrt kitti eval`: scores KITTI tracking results: CLEAR MOT, sAMOTA/AMOTA, HOTA.

use clap::Args;

/// Arguments of `fusionrt kitti eval`.
#[derive(Debug, Args)]
pub struct KittiEvalArgs {}

impl KittiEvalArgs {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        anyhow::bail!("`fusionrt kitti eval` is not built yet")
    }
}
