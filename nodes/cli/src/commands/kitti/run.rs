//! `fusionrt kitti run`: the whole pipeline on a real KITTI sensor sequence, on the
//! deterministic executor: scans (and images, through the camera model) -> lidar, camera,
//! fusion, tracker -> KITTI tracking results (`OUT/NAME.txt`, scored by `kitti eval`),
//! `tracks.jsonl` and `report.json` (`results.fusion`: objects, classes, pairs refused for lack
//! of evidence), and with `--overlays DIR` one overlay PNG per sweep. The same input and config
//! give byte-identical files
//! (timings apart, which only report.json's `timings` holds).
//!
//! Example: `fusionrt kitti run --kitti-tracking ../shared/data/kitti_tracking --seq 0000 --out OUT`

use super::overlay::OverlaySink;
use crate::commands::runner::{
    FusionCounts, KittiSourceArgs, Report, print_run, progress_bar, progress_callback, stop_flag,
    tracks_sink, write_report,
};
use crate::exit::bad_input;
use anyhow::Context as _;
use clap::Args;
use fusionrt_runtime::config::Preset;

use fusionrt_runtime::{
    CameraMode, Graph, PipelineConfig, RunOptions, Sink, Source, run_deterministic,
};
use fusionrt_sources::{KittiResultsSink, KittiSource};
use serde::Serialize;
use std::path::PathBuf;

/// Arguments of `fusionrt kitti run`.
#[derive(Debug, Args)]
pub struct KittiRunArgs {
    #[command(flatten)]
    source: KittiSourceArgs,
    /// Pipeline config YAML (same tree as launch/fusionrt.yaml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Camera path: `model` runs the camera model on the images, `none` is lidar only; `auto`
    /// is `model` when the sequence has images.
    #[arg(long, default_value = "auto", value_parser = ["auto", "model", "none"])]
    camera: String,
    /// Output folder (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Seed of the 128-bit track ids.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also draw every sweep's fused objects (class, score, track id, fused or lidar-only) on
    /// camera 0's image, with a legend: `DIR/NNNNNN.png` per sweep (camera model only).
    #[arg(long)]
    overlays: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct RunSettings<'a> {
    sequence: &'a str,
    camera: &'a str,
    frames: usize,
}

impl KittiRunArgs {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        let Some(sequence) = self.source.sequence()? else {
            return Err(bad_input(anyhow::anyhow!(
                "give --kitti-raw DIR or --kitti-tracking ROOT --seq NNNN"
            )));
        };
        let config =
            PipelineConfig::load(self.config.as_deref(), Preset::Default).map_err(bad_input)?;
        let camera_mode = match (self.camera.as_str(), sequence.has_images()) {
            ("none", _) | ("auto", false) => CameraMode::None,
            ("model", false) => {
                return Err(bad_input(anyhow::anyhow!(
                    "--camera model: the sequence {} has no images",
                    sequence.name
                )));
            }
            _ => CameraMode::Model,
        };
        let camera = if camera_mode == CameraMode::Model {
            "model"
        } else {
            "none"
        };
        let name = sequence.name.clone();
        let frames = sequence.frames.len();
        let mut source =
            KittiSource::new(sequence, camera_mode == CameraMode::Model).map_err(bad_input)?;
        let info = source.info();
        let graph = Graph::new(&config, camera_mode, info.cameras, self.seed)
            .context("starting the pipeline")?;
        let mut sinks: Vec<Box<dyn Sink>> = vec![
            Box::new(KittiResultsSink::new(
                &self.out,
                &name,
                source.calib().clone(),
                source.image_size(),
            )),
            tracks_sink(&self.out)?,
            Box::<FusionCounts>::default(),
        ];
        if let Some(dir) = &self.overlays {
            if camera_mode != CameraMode::Model {
                return Err(bad_input(anyhow::anyhow!(
                    "--overlays needs the camera model (the sequence's images)"
                )));
            }
            let (w, h) = source.image_size();
            let camera = source
                .calib()
                .camera_calib_sized("P2", w, h)
                .map_err(bad_input)?;
            sinks.push(Box::new(OverlaySink::new(dir, camera)?));
        }
        let bar = progress_bar(info.sweeps, &format!("kitti run {name}"));
        let options = RunOptions {
            stop: stop_flag(),
            progress: Some(progress_callback(&bar)),
            ..RunOptions::default()
        };
        let summary = run_deterministic(graph, &mut source, &mut sinks, &options)?;
        bar.finish_and_clear();
        let report_path = self.out.join("report.json");
        write_report(
            &report_path,
            &Report {
                command: "kitti run",
                settings: RunSettings {
                    sequence: &name,
                    camera,
                    frames,
                },
                source: (&info).into(),
                executor: "deterministic",
                interrupted: summary.interrupted,
                results: &summary.results,
                timings: &summary.metrics,
            },
        )?;
        crate::commands::print_stdout(&format!(
            "kitti run {name}: {} sweeps, camera {camera}; results {}\n",
            summary.metrics.sweeps_published,
            self.out.join(format!("{name}.txt")).display()
        ));
        print_run(&summary, &report_path);
        Ok(())
    }
}
