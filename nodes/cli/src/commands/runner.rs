//! What every graph command shares: Ctrl-C that ends a run cleanly, a progress bar with ETA on
//! a terminal (nothing in pipes and CI), the source flags of `kitti run` and `bench pipeline`,
//! the live Foxglove view of `sim` and `replay`, report.json, and the fusion counts it holds.

use crate::exit::bad_input;
use anyhow::Context as _;
use clap::Args;
use fusionrt_core::ObjectClass;
use fusionrt_kitti::sequence::SensorSequence;
use fusionrt_live::{LiveAddr, LiveLayout, LiveView};
use fusionrt_runtime::sinks::TracksJsonl;
use fusionrt_runtime::{MetricsReport, Output, Results, RunSummary, Sink, SinkError, SourceInfo};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// Set once the run is over and `--foxglove-hold` serves its last sweep: Ctrl-C then only stops
/// the view, and says so.
static HOLDING: AtomicBool = AtomicBool::new(false);

/// The flag Ctrl-C sets: executors finish the sweep in progress, sinks flush, the report says
/// the run was interrupted. A second Ctrl-C ends the process at once.
pub fn stop_flag() -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let handler_flag = flag.clone();
        let installed = ctrlc::set_handler(move || {
            if handler_flag.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            if HOLDING.load(Ordering::SeqCst) {
                eprintln!("\nstopping the live view (the run had finished)");
            } else {
                eprintln!("\ninterrupted: finishing the current sweep and writing the records");
            }
        });
        if let Err(e) = installed {
            tracing::warn!("Ctrl-C handler not installed: {e}");
        }
        flag
    })
    .clone()
}

/// A progress bar over `len` sweeps (a spinner when unknown), drawn only on a terminal.
pub fn progress_bar(len: Option<u64>, what: &str) -> ProgressBar {
    progress_bar_of(len, what, "sweeps")
}

/// A progress bar over `len` items named `unit`, drawn only on a terminal.
pub fn progress_bar_of(len: Option<u64>, what: &str, unit: &str) -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(len, target);
    let template = if len.is_some() {
        format!("{{prefix}} {{bar:32}} {{pos}}/{{len}} {unit}, {{per_sec}}, ETA {{eta}}")
    } else {
        format!("{{prefix}} {{spinner}} {{pos}} {unit}, {{per_sec}}")
    };
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar.set_prefix(what.to_string());
    bar
}

/// A progress callback for the executors.
pub fn progress_callback(bar: &ProgressBar) -> Arc<dyn Fn(u64) + Send + Sync> {
    let bar = bar.clone();
    Arc::new(move |n| bar.set_position(n))
}

/// KITTI source flags.
#[derive(Debug, Args)]
pub struct KittiSourceArgs {
    /// A KITTI raw drive folder (velodyne_points/data, image_02/data, calib.txt).
    #[arg(long, conflicts_with = "kitti_tracking")]
    pub kitti_raw: Option<PathBuf>,
    /// A KITTI tracking folder (velodyne/NNNN, image_02/NNNN, calib/NNNN.txt); with --seq.
    #[arg(long, requires = "seq")]
    pub kitti_tracking: Option<PathBuf>,
    /// The tracking sequence, e.g. 0000.
    #[arg(long)]
    pub seq: Option<String>,
}

impl KittiSourceArgs {
    /// The sequence the flags name, or None when they name none.
    pub fn sequence(&self) -> anyhow::Result<Option<SensorSequence>> {
        let sequence = match (&self.kitti_raw, &self.kitti_tracking, &self.seq) {
            (Some(dir), _, _) => SensorSequence::kitti_raw(dir),
            (None, Some(root), Some(seq)) => SensorSequence::kitti_tracking(root, seq),
            _ => return Ok(None),
        };
        sequence.map(Some).map_err(bad_input)
    }
}

/// The live Foxglove view's flags.
#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Serve a live Foxglove view of the run (point cloud, boxes, tracks, camera images with 2D
    /// boxes) on ws://127.0.0.1:8765: in Foxglove, Open connection, Foxglove WebSocket.
    #[arg(long)]
    pub foxglove: bool,
    /// Where the view listens (port 0: any free port).
    #[arg(long, value_name = "HOST:PORT", requires = "foxglove")]
    pub foxglove_addr: Option<LiveAddr>,
    /// Start the run only when a Foxglove client has subscribed.
    #[arg(long, requires = "foxglove")]
    pub foxglove_wait_client: bool,
    /// After the run, keep serving its last sweep until Ctrl-C.
    #[arg(long, requires = "foxglove")]
    pub foxglove_hold: bool,
    /// Publish sweeps at this factor of sensor rate (1: real time), holding a faster run back
    /// so it can be watched; results do not change. Default: as fast as the run goes.
    #[arg(
        long,
        value_name = "FACTOR",
        requires = "foxglove",
        allow_negative_numbers = true
    )]
    pub foxglove_rate: Option<f64>,
}

impl LiveArgs {
    /// With `--foxglove`, starts the view before the run and adds its sink to `sinks`.
    pub fn start(
        &self,
        layout: LiveLayout,
        stop: &AtomicBool,
        sinks: &mut Vec<Box<dyn Sink>>,
    ) -> anyhow::Result<Option<LiveView>> {
        if !self.foxglove {
            return Ok(None);
        }
        if let Some(rate) = self.foxglove_rate
            && !(rate.is_finite() && rate > 0.0 && rate <= 1000.0)
        {
            return Err(bad_input(anyhow::anyhow!(
                "--foxglove-rate must be a factor of sensor rate in (0, 1000], got {rate}"
            )));
        }
        let addr = self.foxglove_addr.clone().unwrap_or(LiveAddr {
            host: "127.0.0.1".into(),
            port: 8765,
        });
        let view = LiveView::start(&addr, layout).map_err(bad_input)?;
        eprintln!(
            "foxglove: live view on {} (in Foxglove: Open connection, Foxglove WebSocket)",
            view.url()
        );
        if self.foxglove_wait_client {
            eprintln!("foxglove: waiting for a client to subscribe (Ctrl-C to give up)");
            view.wait_for_subscriber(stop);
        }
        sinks.push(Box::new(view.sink(self.foxglove_rate)));
        Ok(Some(view))
    }

    /// After the run: with `--foxglove-hold`, serves until Ctrl-C; then stops the view.
    pub fn finish(&self, view: Option<LiveView>, stop: &AtomicBool) {
        let Some(view) = view else {
            return;
        };
        if self.foxglove_hold && !stop.load(Ordering::SeqCst) {
            eprintln!(
                "foxglove: run finished; serving its last sweep on {} until Ctrl-C",
                view.url()
            );
            HOLDING.store(true, Ordering::SeqCst);
            view.hold(stop);
        }
        eprintln!("foxglove: live view stopped");
    }
}

/// The source as the report describes it.
#[derive(Debug, Serialize)]
pub struct SourceReport {
    name: String,
    cameras: usize,
    period_ns: i64,
}

impl From<&SourceInfo> for SourceReport {
    fn from(info: &SourceInfo) -> Self {
        Self {
            name: info.name.clone(),
            cameras: info.cameras,
            period_ns: info.period_ns,
        }
    }
}

/// report.json: what ran, its results (deterministic) and its timings (not).
#[derive(Debug, Serialize)]
pub struct Report<'a, E: Serialize> {
    /// The command line's subcommand.
    pub command: &'a str,
    /// Command-specific settings (scenario, seed, camera mode...).
    pub settings: E,
    /// The source.
    pub source: SourceReport,
    /// `deterministic` or `realtime`.
    pub executor: &'a str,
    /// True when Ctrl-C ended the run early.
    pub interrupted: bool,
    /// What the sinks found.
    pub results: &'a Results,
    /// Latency, drops, misses, camera throughput, peak RSS.
    pub timings: &'a MetricsReport,
}

/// Creates the output folder and the sink writing its `tracks.jsonl`.
pub fn tracks_sink(out: &Path) -> anyhow::Result<Box<dyn Sink>> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create output directory {}", out.display()))?;
    let path = out.join("tracks.jsonl");
    let file = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    Ok(Box::new(TracksJsonl::new(
        path.display().to_string(),
        std::io::BufWriter::new(file),
    )))
}

/// What fusion did over a run, summed over the sweeps: report.json's `results.fusion`.
#[derive(Debug, Default, Serialize)]
pub struct FusionCounts {
    /// Sweeps fused.
    sweeps: u64,
    /// Objects out.
    objects: u64,
    /// Objects with camera support.
    fused: u64,
    /// Objects with lidar support only.
    lidar_only: u64,
    /// Objects with a class (not `unknown`), by class.
    classified: BTreeMap<&'static str, u64>,
    /// Cluster-detection pairs refused as primary matches for lack of evidence, by reason
    /// (`fusion.evidence`: depth, occluded, background), over all cameras.
    rejected_depth: u64,
    rejected_occluded: u64,
    rejected_background: u64,
}

impl Sink for FusionCounts {
    fn publish(&mut self, output: &Output) -> Result<(), SinkError> {
        let r = &output.fusion_report;
        self.sweeps += 1;
        self.objects += output.fused.len() as u64;
        self.fused += u64::from(r.fused);
        self.lidar_only += u64::from(r.lidar_only);
        for o in output
            .fused
            .iter()
            .filter(|o| o.class != ObjectClass::Unknown)
        {
            *self.classified.entry(o.class.name()).or_default() += 1;
        }
        for c in r.cameras() {
            self.rejected_depth += u64::from(c.rejected_depth);
            self.rejected_occluded += u64::from(c.rejected_occluded);
            self.rejected_background += u64::from(c.rejected_background);
        }
        Ok(())
    }

    fn finish(&mut self, results: &mut Results) -> Result<(), SinkError> {
        let value = serde_json::to_value(&*self).map_err(|e| SinkError {
            sink: "fusion counts".into(),
            message: e.to_string(),
        })?;
        results.insert("fusion".into(), value);
        Ok(())
    }
}

/// Writes `report` as pretty JSON to `path`.
pub fn write_report(path: &Path, report: &impl Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(report)? + "\n";
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The end-of-run lines: the metrics table and where the report is.
pub fn print_run(summary: &RunSummary, report_path: &Path) {
    let mut text = summary.metrics.table();
    if summary.interrupted {
        text.push_str("  interrupted by Ctrl-C: records are complete up to the last sweep\n");
    }
    text.push_str(&format!("report: {}\n", report_path.display()));
    crate::commands::print_stdout(&text);
}
