//! `fusionrt sim`: runs a scenario through the pipeline and prints metrics and latencies.

use clap::Args;

/// Arguments of `fusionrt sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Built-in scenario name (urban, highway, crowded) or a path to a scenario YAML file.
    #[arg(long, default_value = "urban")]
    scenario: String,
}

impl SimArgs {
    /// Runs the scenario.
    pub fn execute(self) -> anyhow::Result<()> {
        Err(crate::exit::bad_input(anyhow::anyhow!(
            "scenario `{}`: the simulator is being built",
            self.scenario
        )))
    }
}
