//! `fusionrt bench ...`: benchmarks of the stages on real and synthetic input.

mod camera;
mod lidar;
mod pipeline;
mod tracker;

use clap::{Args, Subcommand};

/// Arguments of `fusionrt bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

/// The benchmark targets.
#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Lidar stage on KITTI scans and synthetic clouds of 30k to 2M points.
    Lidar(lidar::BenchLidarArgs),
    /// Camera stage: pre-processing, inference, post-processing per image.
    Camera(camera::BenchCameraArgs),
    /// The whole graph on the real-time executor at sensor rate (or --max), budgets acting.
    Pipeline(pipeline::BenchPipelineArgs),
    /// Tracker: frames per second on KITTI sequences, and 500 objects per frame.
    Tracker(tracker::BenchTrackerArgs),
}

impl BenchArgs {
    /// Runs the chosen benchmark.
    pub fn execute(self) -> anyhow::Result<()> {
        match self.command {
            BenchCommand::Lidar(args) => args.execute(),
            BenchCommand::Camera(args) => args.execute(),
            BenchCommand::Pipeline(args) => args.execute(),
            BenchCommand::Tracker(args) => args.execute(),
        }
    }
}
