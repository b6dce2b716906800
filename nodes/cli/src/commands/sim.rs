//! `fusionrt sim`: a scenario through the runtime graph on the deterministic executor, scored
//! against the simulator's ground truth.
//!
//! The graph: the simulator as source (sweeps, odometry, the simulated cameras' detections),
//! lidar -> fusion -> tracker, sinks `tracks.jsonl` and the score. `report.json` keeps the
//! results (they depend only on scenario, seed and config) apart from the timings.

use super::runner::{
    FusionCounts, LiveArgs, Report, print_run, progress_bar, progress_callback, stop_flag,
    tracks_sink, write_report,
};
use crate::exit::bad_input;
use clap::Args;
use fusionrt_live::LiveLayout;
use fusionrt_runtime::config::Preset;

use fusionrt_runtime::{
    CameraMode, Graph, PipelineConfig, RunOptions, Sink, Source, run_deterministic,
};
use fusionrt_scenario::load_scenario;
use fusionrt_sources::score::ScoreSettings;
use fusionrt_sources::{SimScoreSink, SimSource};
use serde::Serialize;
use std::path::PathBuf;

/// Arguments of `fusionrt sim`.
///
/// Example: `fusionrt sim --scenario highway --frames 300 --seed 7 --out out/highway`
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Built-in scenario (urban, highway, crowded) or a path to a scenario YAML file.
    #[arg(long, default_value = "urban")]
    scenario: String,
    /// Number of lidar sweeps to simulate (default: the scenario's `default_frames`).
    #[arg(long, allow_negative_numbers = true)]
    frames: Option<i64>,
    /// Random seed of the simulation (same seed, same results).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory for report.json and tracks.jsonl.
    #[arg(long, default_value = "out/sim")]
    out: PathBuf,
    /// Pipeline config YAML (same tree as launch/fusionrt.yaml); defaults when absent.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Camera path: `sim` (the simulator's detector) or `none` (lidar only).
    #[arg(long, default_value = "sim", value_parser = ["sim", "none"])]
    camera: String,
    /// Ground-truth objects count when at least this many lidar returns hit them.
    #[arg(long, default_value_t = 10)]
    min_gt_points: u32,
    /// Score only ground truth and tracks within this range of the lidar, m.
    #[arg(long, default_value_t = 80.0)]
    eval_range_m: f64,
    /// A track matches a ground-truth object within this BEV center distance, m.
    #[arg(long, default_value_t = 2.0)]
    match_distance_m: f64,
    #[command(flatten)]
    live: LiveArgs,
}

#[derive(Debug, Serialize)]
struct SimSettings<'a> {
    scenario: &'a str,
    seed: u64,
    frames: u64,
    camera: &'a str,
}

/// The frame count a `--frames` flag asks for: none means `default`; negative is an error.
pub(crate) fn frame_count(frames: Option<i64>, default: u64) -> anyhow::Result<u64> {
    match frames {
        None => Ok(default),
        Some(n) => u64::try_from(n).map_err(|_| {
            bad_input(anyhow::anyhow!(
                "--frames must be zero or a positive count, got {n}"
            ))
        }),
    }
}

impl SimArgs {
    /// Runs the scenario.
    pub fn execute(self) -> anyhow::Result<()> {
        let spec = load_scenario(&self.scenario).map_err(bad_input)?;
        let config =
            PipelineConfig::load(self.config.as_deref(), Preset::Default).map_err(bad_input)?;
        for (name, value) in [
            ("--eval-range-m", self.eval_range_m),
            ("--match-distance-m", self.match_distance_m),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(bad_input(anyhow::anyhow!(
                    "{name} must be a positive number, got {value}"
                )));
            }
        }
        let frames = frame_count(self.frames, spec.default_frames)?;
        let mut source = SimSource::new(&spec, self.seed, frames).map_err(bad_input)?;
        let info = source.info();
        let camera_mode = if self.camera == "none" {
            CameraMode::None
        } else {
            CameraMode::Sim
        };
        let graph = Graph::new(&config, camera_mode, info.cameras, self.seed).map_err(bad_input)?;
        let mut sinks: Vec<Box<dyn Sink>> = vec![
            tracks_sink(&self.out)?,
            Box::new(SimScoreSink::new(ScoreSettings {
                min_gt_points: self.min_gt_points,
                eval_range_m: self.eval_range_m,
                match_distance_m: self.match_distance_m,
            })),
            Box::<FusionCounts>::default(),
        ];
        let stop = stop_flag();
        let layout = LiveLayout {
            cameras: info.cameras,
            images: false,
        };
        let live = self.live.start(layout, &stop, &mut sinks)?;
        let bar = progress_bar(Some(frames), &format!("sim {}", spec.name));
        let options = RunOptions {
            stop: stop.clone(),
            progress: Some(progress_callback(&bar)),
            ..RunOptions::default()
        };
        let summary = run_deterministic(graph, &mut source, &mut sinks, &options)?;
        bar.finish_and_clear();
        let report_path = self.out.join("report.json");
        write_report(
            &report_path,
            &Report {
                command: "sim",
                settings: SimSettings {
                    scenario: &spec.name,
                    seed: self.seed,
                    frames,
                    camera: &self.camera,
                },
                source: (&info).into(),
                executor: "deterministic",
                interrupted: summary.interrupted,
                results: &summary.results,
                timings: &summary.metrics,
            },
        )?;
        print_score(&spec.name, self.seed, frames, &summary.results);
        print_run(&summary, &report_path);
        self.live.finish(live, &stop);
        Ok(())
    }
}

/// The tracking score lines.
fn print_score(scenario: &str, seed: u64, frames: u64, results: &fusionrt_runtime::Results) {
    let get = |section: &str, key: &str| {
        results
            .get(section)
            .and_then(|s| s.get(key))
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(f64::NAN)
    };
    let m = |key: &str| get("mot", key);
    let top = |key: &str| {
        results
            .get(key)
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(f64::NAN)
    };
    let text = format!(
        "fusionrt sim: scenario `{scenario}`, seed {seed}, {frames} frames\n\n\
         tracking of classified tracks (BEV center distance <= {} m, ground truth with >= {} lidar points within {} m)\n  \
         MOTA {:>7.3}   MOTP {:>6.3} m   IDF1 {:>6.3}   ID switches {:>4}   fragmentations {:>4}\n  \
         precision {:>6.3}   recall {:>6.3}   false positives {:>5}   misses {:>5}   ground truth {:>6}\n  \
         per frame: {:.1} fused objects, {:.1} with camera support, {:.1} tracks\n\n",
        get("eval", "match_distance_m"),
        get("eval", "min_gt_points"),
        get("eval", "eval_range_m"),
        m("mota"),
        m("motp"),
        m("idf1"),
        m("id_switches"),
        m("fragmentations"),
        m("precision"),
        m("recall"),
        m("false_positives"),
        m("misses"),
        m("num_gt"),
        top("mean_fused_per_frame"),
        top("mean_fused_with_camera_per_frame"),
        top("mean_tracks_per_frame"),
    );
    crate::commands::print_stdout(&text);
}
