//! `fusionrt kitti ...`: the pipeline's stages on KITTI-format input and output.

mod detect_eval;
mod eval;
mod frame;
mod lidar;
mod overlay;
mod run;
pub(crate) mod track;

use clap::{Args, Subcommand};

/// Arguments of `fusionrt kitti`.
#[derive(Debug, Args)]
pub struct KittiArgs {
    #[command(subcommand)]
    command: KittiCommand,
}

/// The KITTI subcommands.
#[derive(Debug, Subcommand)]
enum KittiCommand {
    /// Run the lidar stage on one KITTI velodyne scan; with labels, print recall.
    Lidar(lidar::KittiLidarArgs),
    /// Score the lidar stage KITTI object-style on labelled scans (object frames, a tracking
    /// sequence): recall per type, precision, class figures, centre error, time.
    DetectEval(detect_eval::KittiDetectEvalArgs),
    /// Run lidar, camera and fusion on one KITTI frame; with labels, print recall by class.
    Frame(frame::KittiFrameArgs),
    /// Run the whole pipeline (lidar, camera model, fusion, tracker) on a KITTI raw drive or
    /// tracking sequence; write KITTI tracking results, tracks.jsonl and report.json.
    Run(run::KittiRunArgs),
    /// Track KITTI tracking detections; write one KITTI result file per sequence.
    Track(track::KittiTrackArgs),
    /// Score KITTI tracking results against labels (CLEAR MOT, sAMOTA, HOTA).
    Eval(eval::KittiEvalArgs),
}

impl KittiArgs {
    /// Runs the chosen KITTI subcommand.
    pub fn execute(self) -> anyhow::Result<()> {
        match self.command {
            KittiCommand::Lidar(args) => args.execute(),
            KittiCommand::DetectEval(args) => args.execute(),
            KittiCommand::Frame(args) => args.execute(),
            KittiCommand::Run(args) => args.execute(),
            KittiCommand::Track(args) => args.execute(),
            KittiCommand::Eval(args) => args.execute(),
        }
    }
}
