//! `fusionrt models`: lists, verifies and builds the installed models.

use clap::Args;

/// Arguments of `fusionrt models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {}

impl ModelsArgs {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        anyhow::bail!("`fusionrt models` is not built yet")
    }
}
