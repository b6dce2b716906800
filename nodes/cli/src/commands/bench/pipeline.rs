//! `fusionrt bench pipeline`: the whole graph on the real-time executor, played at sensor rate
//! (or as fast as possible with `--max`), with budgets and policies acting. A source shorter
//! than `--frames` loops. Writes `OUT/report.json` (end-to-end p50/p99/max, misses and drops by
//! reason, camera frames processed per second and the tile policy's record, peak RSS) and
//! `OUT/tracks.jsonl`.
//!
//! Examples:
//! ```text
//! fusionrt bench pipeline --scenario urban --camera sim --rate 10 --frames 300 --out OUT
//! fusionrt bench pipeline --kitti-raw ../shared/data/kitti_raw/2011_09_26_drive_0052_sync \
//!     --camera model --rate 10 --out OUT
//! ```

use crate::commands::runner::{
    KittiSourceArgs, Report, print_run, progress_bar, progress_callback, stop_flag, tracks_sink,
    write_report,
};
use crate::commands::sim::frame_count;
use crate::exit::bad_input;
use anyhow::Context as _;
use clap::Args;
use fusionrt_runtime::config::Preset;

use fusionrt_runtime::{
    CameraMode, Graph, Looping, PipelineConfig, RunOptions, Sink, Source, run_realtime,
};
use fusionrt_scenario::load_scenario;
use fusionrt_sources::{KittiSource, SimSource};
use serde::Serialize;
use std::path::PathBuf;

/// Arguments of `fusionrt bench pipeline`.
#[derive(Debug, Args)]
pub struct BenchPipelineArgs {
    /// Built-in scenario or scenario file (the default source: urban).
    #[arg(long, conflicts_with_all = ["kitti_raw", "kitti_tracking"])]
    scenario: Option<String>,
    #[command(flatten)]
    kitti: KittiSourceArgs,
    /// Camera path: none, sim (scenarios) or model (KITTI images); default: sim for a scenario,
    /// model for KITTI data with images.
    #[arg(long, value_parser = ["none", "sim", "model"])]
    camera: Option<String>,
    /// Lidar sweeps per second to play at.
    #[arg(
        long,
        default_value_t = 10.0,
        conflicts_with = "max",
        allow_negative_numbers = true
    )]
    rate: f64,
    /// Play as fast as the pipeline takes it (back-pressure: nothing dropped for staleness).
    #[arg(long)]
    max: bool,
    /// Sweeps to play (a shorter source loops); default: the source's length.
    #[arg(long, allow_negative_numbers = true)]
    frames: Option<i64>,
    /// Pipeline config YAML (same tree as launch/fusionrt.yaml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Seed of the simulation and of the track ids.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output folder (created if missing).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Serialize)]
struct BenchSettings<'a> {
    camera: &'a str,
    rate_hz: Option<f64>,
    frames: u64,
}

impl BenchPipelineArgs {
    /// Runs the benchmark.
    pub fn execute(self) -> anyhow::Result<()> {
        let rate_ok = self.rate.is_finite() && self.rate > 0.0 && self.rate <= 10_000.0;
        if !self.max && !rate_ok {
            return Err(bad_input(anyhow::anyhow!(
                "--rate must be a sweep rate in (0, 10000] Hz, got {}",
                self.rate
            )));
        }
        let config =
            PipelineConfig::load(self.config.as_deref(), Preset::Default).map_err(bad_input)?;
        let (mut source, camera): (Box<dyn Source>, CameraMode) = match self.kitti.sequence()? {
            Some(sequence) => {
                let camera = match (self.camera.as_deref(), sequence.has_images()) {
                    (Some("none"), _) | (None, false) => CameraMode::None,
                    (Some("sim"), _) => {
                        return Err(bad_input(anyhow::anyhow!(
                            "--camera sim needs a scenario; KITTI data has images: use model"
                        )));
                    }
                    (Some(_), false) => {
                        return Err(bad_input(anyhow::anyhow!(
                            "--camera model: {} has no images",
                            sequence.name
                        )));
                    }
                    _ => CameraMode::Model,
                };
                let kitti =
                    KittiSource::new(sequence, camera == CameraMode::Model).map_err(bad_input)?;
                (Box::new(Looping::new(kitti)), camera)
            }
            None => {
                let spec = load_scenario(self.scenario.as_deref().unwrap_or("urban"))
                    .map_err(bad_input)?;
                let camera = match self.camera.as_deref() {
                    Some("none") => CameraMode::None,
                    Some("model") => {
                        return Err(bad_input(anyhow::anyhow!(
                            "--camera model needs images: scenarios simulate detections (use sim)"
                        )));
                    }
                    _ => CameraMode::Sim,
                };
                let frames = frame_count(self.frames, spec.default_frames)?;
                let sim = SimSource::new(&spec, self.seed, frames).map_err(bad_input)?;
                (Box::new(sim), camera)
            }
        };
        let info = source.info();
        let frames = frame_count(self.frames, info.sweeps.unwrap_or(0))?;
        let frames = if frames == 0 {
            // A looping source has no length: play the recording once by default.
            self.kitti.sequence()?.map_or(0, |s| s.frames.len() as u64)
        } else {
            frames
        };
        let camera_name = match camera {
            CameraMode::None => "none",
            CameraMode::Sim => "sim",
            CameraMode::Model => "model",
        };
        let graph = Graph::new(&config, camera, info.cameras, self.seed)
            .context("starting the pipeline")?;
        let mut sinks: Vec<Box<dyn Sink>> = vec![tracks_sink(&self.out)?];
        let period_s = info.period_ns as f64 * 1e-9;
        let rate_factor = (!self.max).then_some(self.rate * period_s);
        let bar = progress_bar(Some(frames), &format!("bench pipeline {}", info.name));
        let options = RunOptions {
            max_sweeps: Some(frames),
            rate_factor,
            stop: stop_flag(),
            progress: Some(progress_callback(&bar)),
        };
        let summary = run_realtime(graph, source.as_mut(), &mut sinks, &options)?;
        bar.finish_and_clear();
        let report_path = self.out.join("report.json");
        write_report(
            &report_path,
            &Report {
                command: "bench pipeline",
                settings: BenchSettings {
                    camera: camera_name,
                    rate_hz: (!self.max).then_some(self.rate),
                    frames,
                },
                source: (&info).into(),
                executor: "realtime",
                interrupted: summary.interrupted,
                results: &summary.results,
                timings: &summary.metrics,
            },
        )?;
        crate::commands::print_stdout(&format!(
            "bench pipeline {}: {} sweeps in, {} published, camera {camera_name}, {}\n",
            info.name,
            summary.metrics.sweeps_in,
            summary.metrics.sweeps_published,
            match rate_factor {
                Some(_) => format!("{} Hz", self.rate),
                None => "as fast as possible".into(),
            }
        ));
        print_run(&summary, &report_path);
        Ok(())
    }
}
