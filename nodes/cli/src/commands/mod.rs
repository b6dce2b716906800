//! The subcommands: one module each, each with an args struct and an `execute`.

mod bag;
mod bench;
mod convert;
mod detect;
mod kitti;
mod models;
mod replay;
mod runner;
mod sim;

use clap::Subcommand;

/// All `fusionrt` subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a built-in or YAML scenario through the pipeline and score it against ground truth.
    Sim(sim::SimArgs),
    /// Run stages on KITTI-format data: lidar, frame, track, eval.
    Kitti(kitti::KittiArgs),
    /// Detect objects in images with the camera model.
    Detect(detect::DetectArgs),
    /// List, verify and prepare the installed models.
    Models(models::ModelsArgs),
    /// Benchmark a stage.
    Bench(bench::BenchArgs),
    /// Inspect rosbag2 bags (MCAP, sqlite3).
    Bag(bag::BagArgs),
    /// Convert datasets to rosbag2 (KITTI raw drives and tracking sequences).
    Convert(convert::ConvertArgs),
    /// Replay a rosbag2 bag through the pipeline: output.mcap, tracks.jsonl, report.json.
    Replay(replay::ReplayArgs),
}

impl Command {
    /// Runs the chosen subcommand.
    pub fn execute(self) -> anyhow::Result<()> {
        match self {
            Command::Sim(args) => args.execute(),
            Command::Kitti(args) => args.execute(),
            Command::Detect(args) => args.execute(),
            Command::Models(args) => args.execute(),
            Command::Bench(args) => args.execute(),
            Command::Bag(args) => args.execute(),
            Command::Convert(args) => args.execute(),
            Command::Replay(args) => args.execute(),
        }
    }
}

/// Writes `text` to stdout at once; a closed pipe (`| head`) is not an error.
pub(crate) fn print_stdout(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
