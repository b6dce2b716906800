//! `fusionrt detect`: runs the camera model on images and prints detections.

use clap::Args;

/// Arguments of `fusionrt detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {}

impl DetectArgs {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        anyhow::bail!("`fusionrt detect` is not built yet")
    }
}
