//! The subcommands: one module each, each with an args struct and an `execute`.

mod sim;

use clap::Subcommand;

/// All `fusionrt` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a built-in or YAML scenario through the pipeline and score it against ground truth.
    Sim(sim::SimArgs),
}

impl Command {
    /// Runs the chosen subcommand.
    pub fn execute(self) -> anyhow::Result<()> {
        match self {
            Command::Sim(args) => args.execute(),
        }
    }
}
