//! `fusionrt replay BAG`: a rosbag2 recording (MCAP or sqlite3) through the pipeline, inside
//! the process: the bag source ([`fusionrt_sources::BagSource`]) swapped into the unchanged
//! graph. Default (`--max`, or no `--rate`): the deterministic executor, as fast as the CPU
//! allows, and the same bag with the same config gives the same bytes in `output.mcap` and
//! `tracks.jsonl`. `--rate R`: the real-time executor at R times the bag's time (stale inputs
//! dropped and counted, as on the vehicle).
//!
//! Output in `--out DIR`: `output.mcap` (tracks as Autoware TrackedObjects, fused objects as
//! DetectedObjects, MarkerArray, per-sweep DiagnosticArray counters, and the inputs with
//! `--record-inputs`; see [`fusionrt_sources::mcap_out`]), `tracks.jsonl`, and `report.json`
//! (topic roles, skipped messages, results, timings, the speed as a factor of real time).
//!
//! With `--kitti-results NAME --kitti-calib F` the tracks are also written as KITTI tracking
//! results (`OUT/kitti/NAME.txt`), so a bag converted from a KITTI tracking sequence can be
//! scored against its labels with `fusionrt kitti eval`.
//!
//! Example: `fusionrt replay ../shared/data/rosbag2/embag_luminar_mcap --out OUT`

use crate::commands::runner::{
    FusionCounts, LiveArgs, Report, print_run, progress_bar, progress_callback, stop_flag,
    write_report,
};
use crate::exit::bad_input;
use anyhow::Context as _;
use clap::Args;
use fusionrt_kitti::KittiCalib;
use fusionrt_kitti::calib::KITTI_IMAGE_SIZE;
use fusionrt_runtime::config::Preset;
use fusionrt_runtime::sinks::TracksJsonl;
use fusionrt_runtime::{
    CameraMode, Graph, Output, PipelineConfig, Results, RunOptions, Sink, SinkError, Source,
    run_deterministic, run_realtime,
};
use fusionrt_sources::bag::{BagRoles, InputTap};
use fusionrt_sources::{BagSource, BagSourceOptions, KittiResultsSink, McapSink};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Arguments of `fusionrt replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A rosbag2 folder (with metadata.yaml) or one .mcap / .db3 file.
    bag: PathBuf,
    /// Pipeline config YAML (same tree as launch/fusionrt.yaml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output folder (created if missing): output.mcap, tracks.jsonl, report.json.
    #[arg(long, default_value = "replay_out")]
    out: PathBuf,
    /// Play at this factor of real time on the real-time executor (e.g. 1, 0.5, 5).
    #[arg(long, conflicts_with = "max", allow_negative_numbers = true)]
    rate: Option<f64>,
    /// As fast as possible on the deterministic executor (the default).
    #[arg(long)]
    max: bool,
    /// Start this many seconds after the bag's first message.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    start_offset: f64,
    /// Play this many seconds (default: to the end).
    #[arg(long, allow_negative_numbers = true)]
    duration: Option<f64>,
    /// Read only these topics (roles are found among them).
    #[arg(long, num_args = 1..)]
    topics: Vec<String>,
    /// Never read these topics.
    #[arg(long, num_args = 1..)]
    exclude_topics: Vec<String>,
    /// Rename a topic in the recorded inputs: FROM:=TO (repeatable).
    #[arg(long)]
    remap: Vec<String>,
    /// Also write the inputs used (CDR bytes as read) into output.mcap.
    #[arg(long)]
    record_inputs: bool,
    /// Camera path: `model` runs the camera model on the bag's images, `none` is lidar only;
    /// `auto` is `model` when the bag has a camera (an image topic with CameraInfo).
    #[arg(long, default_value = "auto", value_parser = ["auto", "model", "none"])]
    camera: String,
    /// Seed of the 128-bit track ids.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    live: LiveArgs,
    /// Also write the tracks as KITTI tracking results `OUT/kitti/NAME.txt`, for `fusionrt
    /// kitti eval` (needs --kitti-calib). Frame numbers are sweep stamps at 10 Hz from 0, as
    /// `fusionrt convert kitti` writes them (its default --start-ns).
    #[arg(long, value_name = "NAME", requires = "kitti_calib")]
    kitti_results: Option<String>,
    /// The KITTI calibration file (P2, R0_rect, Tr_velo_to_cam) of --kitti-results.
    #[arg(long, value_name = "CALIB", requires = "kitti_results")]
    kitti_calib: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct ReplaySettings<'a> {
    bag: String,
    camera: &'a str,
    rate: Option<f64>,
    start_offset_s: f64,
    duration_s: Option<f64>,
    record_inputs: bool,
    roles: &'a BagRoles,
}

/// Seconds as ns, for a flag named `flag`.
fn seconds_ns(flag: &str, seconds: f64) -> anyhow::Result<i64> {
    if !seconds.is_finite() || !(0.0..=1e9).contains(&seconds) {
        return Err(bad_input(anyhow::anyhow!(
            "--{flag} must be seconds in [0, 1e9], got {seconds}"
        )));
    }
    Ok((seconds * 1e9).round() as i64)
}

/// The first and last sweep stamps, for the speed as a factor of real time.
#[derive(Clone, Default)]
struct SpanSink {
    span: Arc<Mutex<Option<(i64, i64)>>>,
}

impl Sink for SpanSink {
    fn publish(&mut self, output: &Output) -> Result<(), SinkError> {
        let mut span = self.span.lock().unwrap_or_else(|e| e.into_inner());
        let (first, _) = span.unwrap_or((output.stamp_ns, output.stamp_ns));
        *span = Some((first, output.stamp_ns));
        Ok(())
    }

    fn finish(&mut self, _results: &mut Results) -> Result<(), SinkError> {
        Ok(())
    }
}

impl ReplayArgs {
    /// Runs the command.
    pub fn execute(self) -> anyhow::Result<()> {
        if let Some(rate) = self.rate
            && !(rate.is_finite() && rate > 0.0 && rate <= 1000.0)
        {
            return Err(bad_input(anyhow::anyhow!(
                "--rate must be a factor of real time in (0, 1000], got {rate}"
            )));
        }
        let start_offset_ns = seconds_ns("start-offset", self.start_offset)?;
        let duration_ns = self
            .duration
            .map(|d| seconds_ns("duration", d))
            .transpose()?;
        let remap = self
            .remap
            .iter()
            .map(|r| match r.split_once(":=") {
                Some((from, to)) if !from.is_empty() && !to.is_empty() => {
                    Ok((from.to_string(), to.to_string()))
                }
                _ => Err(bad_input(anyhow::anyhow!("--remap {r}: expected FROM:=TO"))),
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let config =
            PipelineConfig::load(self.config.as_deref(), Preset::Default).map_err(bad_input)?;
        let kitti = match (&self.kitti_results, &self.kitti_calib) {
            (Some(name), Some(calib)) => {
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
                    || name.starts_with('.')
                {
                    return Err(bad_input(anyhow::anyhow!(
                        "--kitti-results {name:?}: expected a sequence name such as 0000 \
                         (letters, digits, _ - .)"
                    )));
                }
                Some((name.clone(), KittiCalib::read(calib).map_err(bad_input)?))
            }
            _ => None,
        };
        let tap: Option<InputTap> = self.record_inputs.then(InputTap::default);
        let mut source = BagSource::open(
            &self.bag,
            BagSourceOptions {
                topics: self.topics.clone(),
                exclude_topics: self.exclude_topics.clone(),
                remap,
                start_offset_ns,
                duration_ns,
                with_cameras: self.camera != "none",
                tap: tap.clone(),
            },
        )
        .map_err(bad_input)?;
        if source.roles().lidar.is_none() {
            return Err(bad_input(anyhow::anyhow!(
                "{}: no PointCloud2 topic to replay{}",
                self.bag.display(),
                if self.topics.is_empty() {
                    ""
                } else {
                    " among --topics"
                }
            )));
        }
        let info = source.info();
        let camera_mode = match (self.camera.as_str(), info.cameras) {
            ("none", _) | ("auto", 0) => CameraMode::None,
            ("model", 0) => {
                return Err(bad_input(anyhow::anyhow!(
                    "--camera model: {} has no camera (an Image or CompressedImage topic with \
                     a CameraInfo beside it)",
                    self.bag.display()
                )));
            }
            _ => CameraMode::Model,
        };
        let camera = if camera_mode == CameraMode::Model {
            "model"
        } else {
            "none"
        };
        let graph = Graph::new(&config, camera_mode, info.cameras, self.seed)
            .context("starting the pipeline")?;
        std::fs::create_dir_all(&self.out)
            .with_context(|| format!("cannot create {}", self.out.display()))?;
        let mcap_path = self.out.join("output.mcap");
        if mcap_path.is_file() {
            std::fs::remove_file(&mcap_path)
                .with_context(|| format!("cannot replace {}", mcap_path.display()))?;
        }
        let tracks_path = self.out.join("tracks.jsonl");
        let tracks_file = std::fs::File::create(&tracks_path)
            .with_context(|| format!("cannot create {}", tracks_path.display()))?;
        let span = SpanSink::default();
        let mut sinks: Vec<Box<dyn Sink>> = vec![
            Box::new(McapSink::create(&mcap_path, tap)?),
            Box::new(TracksJsonl::new(
                tracks_path.display().to_string(),
                std::io::BufWriter::new(tracks_file),
            )),
            Box::new(span.clone()),
            Box::<FusionCounts>::default(),
        ];
        let stop = stop_flag();
        let layout = fusionrt_live::LiveLayout {
            cameras: info.cameras,
            images: camera_mode == CameraMode::Model,
        };
        let live = self.live.start(layout, &stop, &mut sinks)?;
        if let Some((name, calib)) = kitti {
            let dir = self.out.join("kitti");
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            sinks.push(Box::new(KittiResultsSink::new(
                &dir,
                &name,
                calib,
                KITTI_IMAGE_SIZE,
            )));
        }
        let bar = progress_bar(info.sweeps, "replay");
        let options = RunOptions {
            stop: stop.clone(),
            progress: Some(progress_callback(&bar)),
            rate_factor: self.rate,
            ..RunOptions::default()
        };
        let started = Instant::now();
        let summary = match self.rate {
            Some(_) => run_realtime(graph, &mut source, &mut sinks, &options)?,
            None => run_deterministic(graph, &mut source, &mut sinks, &options)?,
        };
        let wall_s = started.elapsed().as_secs_f64();
        bar.finish_and_clear();
        drop(sinks);
        // Data time covered: first to last sweep plus one period (N sweeps span N periods).
        let data_s = span
            .span
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map_or(0.0, |(first, last)| {
                (last - first + info.period_ns) as f64 * 1e-9
            });
        let speed_x = if wall_s > 0.0 { data_s / wall_s } else { 0.0 };
        let mut results = summary.results.clone();
        let stats = source.read_stats();
        let skipped_topics: BTreeMap<&str, serde_json::Value> = stats
            .skipped
            .iter()
            .map(|(topic, c)| {
                (
                    topic.as_str(),
                    serde_json::json!({
                        "not_cdr": c.not_cdr,
                        "unknown_type": c.unknown_type,
                        "unsupported": c.unsupported,
                        "malformed": c.malformed,
                    }),
                )
            })
            .collect();
        results.insert(
            "bag".into(),
            serde_json::json!({
                "messages_read": stats.messages,
                "out_of_order": stats.out_of_order,
                "file_errors": stats.file_errors,
                "skipped_by_topic": skipped_topics,
                "skipped_by_reason": source.skipped(),
            }),
        );
        let report_path = self.out.join("report.json");
        #[derive(Serialize)]
        struct WithSpeed<'a, T: Serialize> {
            #[serde(flatten)]
            report: Report<'a, T>,
            /// Not deterministic: wall time.
            speed: serde_json::Value,
        }
        write_report(
            &report_path,
            &WithSpeed {
                report: Report {
                    command: "replay",
                    settings: ReplaySettings {
                        bag: self.bag.display().to_string(),
                        camera,
                        rate: self.rate,
                        start_offset_s: self.start_offset,
                        duration_s: self.duration,
                        record_inputs: self.record_inputs,
                        roles: source.roles(),
                    },
                    source: (&info).into(),
                    executor: if self.rate.is_some() {
                        "realtime"
                    } else {
                        "deterministic"
                    },
                    interrupted: summary.interrupted,
                    results: &results,
                    timings: &summary.metrics,
                },
                speed: serde_json::json!({
                    "data_s": data_s,
                    "wall_s": wall_s,
                    "factor_of_real_time": speed_x,
                }),
            },
        )?;
        crate::commands::print_stdout(&format!(
            "replay {}: {} sweeps, camera {camera}, {data_s:.2} s of data in {wall_s:.2} s \
             ({speed_x:.1}x real time); output {}\n",
            self.bag.display(),
            summary.metrics.sweeps_published,
            mcap_path.display()
        ));
        print_run(&summary, &report_path);
        self.live.finish(live, &stop);
        Ok(())
    }
}
