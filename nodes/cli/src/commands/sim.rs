//! `fusionrt sim`: runs a scenario through the pipeline, scores the tracks against the
//! simulator's ground truth and prints metrics and per-stage latencies.
//!
//! Results (metrics, a digest of every published track) depend only on scenario, seed and
//! config; timings are kept apart in `report.json` so two runs can be compared byte for byte.

use crate::exit::bad_input;
use anyhow::Context;
use clap::Args;
use fusionrt_core::{ObjectClass, Track, TrackState};
use fusionrt_eval::{EvalObject, MatchCriterion, MotAccumulator, MotSummary};
use fusionrt_runtime::latency::{LatencySummary, StageLatency};
use fusionrt_runtime::{Pipeline, PipelineConfig, SensorFrame};
use fusionrt_scenario::{SimFrame, Simulator, load_scenario};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

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
    /// Pipeline config YAML (same keys as launch/fusionrt.yaml); defaults when absent.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Ground-truth objects count when at least this many lidar returns hit them.
    #[arg(long, default_value_t = 10)]
    min_gt_points: u32,
    /// Score only ground truth and tracks within this range of the lidar, m.
    #[arg(long, default_value_t = 80.0)]
    eval_range_m: f64,
    /// A track matches a ground-truth object within this BEV center distance, m.
    #[arg(long, default_value_t = 2.0)]
    match_distance_m: f64,
}

/// The deterministic part of the report.
#[derive(Debug, Serialize)]
struct Results {
    mot: MotSummary,
    /// FNV-1a digest of every published track (frame, id, class, box at mm / mrad).
    tracks_digest: String,
    mean_obstacles_per_frame: f64,
    mean_fused_with_camera_per_frame: f64,
    mean_tracks_per_frame: f64,
}

/// Wall-clock measurements, which differ from run to run.
#[derive(Debug, Serialize)]
struct Timings {
    stages: Vec<LatencySummary>,
    simulator: LatencySummary,
    wall_secs: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    scenario: String,
    seed: u64,
    frames: u64,
    eval: EvalSettings,
    results: Results,
    timings: Timings,
}

#[derive(Debug, Serialize)]
struct EvalSettings {
    min_gt_points: u32,
    eval_range_m: f64,
    match_distance_m: f64,
}

/// One published track in tracks.jsonl.
#[derive(Debug, Serialize)]
struct TrackRecord<'a> {
    id: String,
    class: &'a str,
    state: TrackState,
    existence_probability: f32,
    center_m: [f64; 3],
    size_m: [f64; 3],
    yaw_rad: f64,
    velocity_mps: [f64; 3],
}

#[derive(Debug, Serialize)]
struct FrameRecord<'a> {
    frame: u64,
    stamp_ns: i64,
    tracks: Vec<TrackRecord<'a>>,
}

/// 64-bit FNV-1a, for a compact, platform-independent digest of results.
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_i64(&mut self, v: i64) {
        self.write(&v.to_le_bytes());
    }
}

fn is_published(track: &Track) -> bool {
    matches!(track.state, TrackState::Confirmed | TrackState::Coasting)
}

impl SimArgs {
    /// Runs the scenario.
    pub fn execute(self) -> anyhow::Result<()> {
        let spec = load_scenario(&self.scenario).map_err(bad_input)?;
        let config = match &self.config {
            Some(path) => {
                PipelineConfig::load(Some(path), fusionrt_runtime::config::Preset::Default)
                    .map_err(bad_input)?
            }
            None => PipelineConfig::default(),
        };
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
        let frames = match self.frames {
            None => spec.default_frames,
            Some(n) => u64::try_from(n).map_err(|_| {
                bad_input(anyhow::anyhow!(
                    "--frames must be zero or a positive count, got {n}"
                ))
            })?,
        };
        let mut sim = Simulator::new(&spec, self.seed).map_err(bad_input)?;
        let mut pipeline = Pipeline::new(&config, self.seed);
        let mut accumulator =
            MotAccumulator::new(MatchCriterion::CenterDistance(self.match_distance_m));
        std::fs::create_dir_all(&self.out)
            .with_context(|| format!("cannot create output directory {}", self.out.display()))?;
        let tracks_path = self.out.join("tracks.jsonl");
        let mut tracks_file = std::io::BufWriter::new(
            std::fs::File::create(&tracks_path)
                .with_context(|| format!("cannot create {}", tracks_path.display()))?,
        );

        let mut frame = SimFrame::default();
        let mut sim_latency = StageLatency::new("simulator");
        let mut digest = Fnv1a::new();
        let mut gt_objects = Vec::new();
        let mut hyp_objects = Vec::new();
        let (mut sum_obstacles, mut sum_camera, mut sum_tracks) = (0usize, 0usize, 0usize);
        let wall = Instant::now();
        for _ in 0..frames {
            let t = Instant::now();
            sim.step(&mut frame);
            sim_latency.record(t.elapsed());
            let tracks = pipeline.process(&SensorFrame {
                cloud: &frame.cloud,
                cameras: sim.cameras(),
                camera_frames: &frame.detections,
                world_from_lidar: Some(frame.world_from_lidar),
            });
            let ego_xy = frame.world_from_lidar.translation.vector.xy();
            let in_range = |center: &nalgebra::Vector3<f64>| {
                (center.xy() - ego_xy).norm() <= self.eval_range_m
            };

            gt_objects.clear();
            gt_objects.extend(
                frame
                    .ground_truth
                    .iter()
                    .filter(|g| {
                        g.lidar_points >= self.min_gt_points && in_range(&g.bbox_world.center)
                    })
                    .map(|g| EvalObject {
                        id: u128::from(g.id),
                        class: g.class,
                        bbox: g.bbox_world,
                        score: 1.0,
                    }),
            );
            hyp_objects.clear();
            let mut record = FrameRecord {
                frame: frame.index,
                stamp_ns: frame.stamp_ns,
                tracks: Vec::new(),
            };
            for track in tracks.iter().filter(|t| is_published(t)) {
                let b = &track.bbox;
                digest.write_i64(frame.index as i64);
                digest.write(&track.id.0.to_le_bytes());
                digest.write(&[track.class as u8]);
                for v in [
                    b.center.x, b.center.y, b.center.z, b.size.x, b.size.y, b.size.z, b.yaw_rad,
                ] {
                    digest.write_i64((v * 1000.0).round() as i64);
                }
                record.tracks.push(TrackRecord {
                    id: track.id.to_string(),
                    class: track.class.name(),
                    state: track.state,
                    existence_probability: track.existence_probability,
                    center_m: b.center.into(),
                    size_m: b.size.into(),
                    yaw_rad: b.yaw_rad,
                    velocity_mps: track.velocity_mps.into(),
                });
                if track.class != ObjectClass::Unknown && in_range(&b.center) {
                    hyp_objects.push(EvalObject {
                        id: track.id.0,
                        class: track.class,
                        bbox: track.bbox,
                        score: track.score,
                    });
                }
            }
            accumulator.add_frame(&gt_objects, &hyp_objects);
            serde_json::to_writer(&mut tracks_file, &record)?;
            tracks_file.write_all(b"\n")?;
            let counts = pipeline.last_counts();
            sum_obstacles += counts.obstacles;
            sum_camera += counts.fused_with_camera;
            sum_tracks += record.tracks.len();
        }
        tracks_file.flush()?;
        let per_frame = |sum: usize| {
            if frames == 0 {
                0.0
            } else {
                sum as f64 / frames as f64
            }
        };
        let report = Report {
            scenario: spec.name.clone(),
            seed: self.seed,
            frames,
            eval: EvalSettings {
                min_gt_points: self.min_gt_points,
                eval_range_m: self.eval_range_m,
                match_distance_m: self.match_distance_m,
            },
            results: Results {
                mot: accumulator.summary(),
                tracks_digest: format!("{:016x}", digest.0),
                mean_obstacles_per_frame: per_frame(sum_obstacles),
                mean_fused_with_camera_per_frame: per_frame(sum_camera),
                mean_tracks_per_frame: per_frame(sum_tracks),
            },
            timings: Timings {
                stages: pipeline.latency(),
                simulator: sim_latency.summary(),
                wall_secs: wall.elapsed().as_secs_f64(),
            },
        };
        let report_path = self.out.join("report.json");
        std::fs::write(&report_path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("cannot write {}", report_path.display()))?;
        print_summary(&report, &report_path);
        Ok(())
    }
}

/// The summary table; written at once so a closed pipe (`| head`) is not an error.
fn print_summary(report: &Report, report_path: &std::path::Path) {
    use std::fmt::Write as _;
    let mut text = String::new();
    let r = &report.results;
    let m = &r.mot;
    let _ = writeln!(
        text,
        "fusionrt sim: scenario `{}`, seed {}, {} frames in {:.2} s",
        report.scenario, report.seed, report.frames, report.timings.wall_secs
    );
    let _ = writeln!(text);
    let _ = writeln!(
        text,
        "tracking of classified tracks (BEV center distance <= {} m, ground truth with >= {} lidar points within {} m)",
        report.eval.match_distance_m, report.eval.min_gt_points, report.eval.eval_range_m
    );
    let _ = writeln!(
        text,
        "  MOTA {:>7.3}   MOTP {:>6.3} m   IDF1 {:>6.3}   ID switches {:>4}   fragmentations {:>4}",
        m.mota, m.motp, m.idf1, m.id_switches, m.fragmentations
    );
    let _ = writeln!(
        text,
        "  precision {:>6.3}   recall {:>6.3}   false positives {:>5}   misses {:>5}   ground truth {:>6}",
        m.precision, m.recall, m.false_positives, m.misses, m.num_gt
    );
    let _ = writeln!(
        text,
        "  per frame: {:.1} obstacles, {:.1} with camera support, {:.1} tracks",
        r.mean_obstacles_per_frame, r.mean_fused_with_camera_per_frame, r.mean_tracks_per_frame
    );
    let _ = writeln!(text);
    let _ = writeln!(
        text,
        "  {:<10} {:>9} {:>9} {:>9} {:>9}",
        "stage", "p50 ms", "p99 ms", "max ms", "mean ms"
    );
    for s in report
        .timings
        .stages
        .iter()
        .chain(std::iter::once(&report.timings.simulator))
    {
        let _ = writeln!(
            text,
            "  {:<10} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
            s.stage, s.p50_ms, s.p99_ms, s.max_ms, s.mean_ms
        );
    }
    let _ = writeln!(text);
    let _ = writeln!(text, "report: {}", report_path.display());
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_digest_depends_on_every_byte() {
        let mut a = Fnv1a::new();
        a.write(b"track");
        let mut b = Fnv1a::new();
        b.write(b"trace");
        assert_ne!(a.0, b.0);
        // Known FNV-1a 64 test vector.
        let mut c = Fnv1a::new();
        c.write(b"a");
        assert_eq!(c.0, 0xaf63_dc4c_8601_ec8c);
    }
}
