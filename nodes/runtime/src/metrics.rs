//! Metrics you can trust: per stage, HDR histograms of processing time (the stage's own cost,
//! monotonic clock) and of pipeline latency (now minus the input's sensor stamp, on the graph's
//! clock), the same end to end (sensor stamp -> tracks published), drops and misses counted by
//! reason, camera throughput and tile policy, and the process's peak RSS.
//!
//! Each executor thread keeps its own [`Metrics`]; they are merged at the end, so recording
//! takes no lock. Names and reasons are sorted in outputs ([`BTreeMap`]).

use crate::degrade::TileStats;
use crate::latency::{LatencySummary, StageLatency};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// One stage's measurements.
#[derive(Debug)]
struct StageMetrics {
    processing: StageLatency,
    pipeline: StageLatency,
    runs: u64,
    over_budget: u64,
}

/// One camera's counters.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CameraCounters {
    /// Images that reached the camera stage's input.
    pub images_in: u64,
    /// Images the model ran on.
    pub processed: u64,
    /// The tile policy's record.
    pub tiles: TileStats,
}

/// Measurements of one run (or one thread of it).
#[derive(Debug, Default)]
pub struct Metrics {
    stages: BTreeMap<String, StageMetrics>,
    end_to_end: Option<StageLatency>,
    end_to_end_misses: u64,
    drops: BTreeMap<String, u64>,
    misses: BTreeMap<String, u64>,
    cameras: BTreeMap<String, CameraCounters>,
    sweeps_in: u64,
    published: u64,
    stamps_in_future: u64,
}

fn ns_duration(ns: i64) -> Duration {
    Duration::from_nanos(u64::try_from(ns).unwrap_or(0))
}

impl Metrics {
    /// Records one run of `stage`: its processing time, the age of its output (`now - stamp`,
    /// ns) and whether it kept its budget (a miss is counted with the stage's name).
    pub fn record_stage(
        &mut self,
        stage: &str,
        processing: Duration,
        age_ns: i64,
        budget: Duration,
    ) {
        if age_ns < 0 {
            self.stamps_in_future += 1;
        }
        let m = self
            .stages
            .entry(stage.to_string())
            .or_insert_with(|| StageMetrics {
                processing: StageLatency::new(stage),
                pipeline: StageLatency::new(stage),
                runs: 0,
                over_budget: 0,
            });
        m.processing.record(processing);
        m.pipeline.record(ns_duration(age_ns));
        m.runs += 1;
        if processing > budget {
            m.over_budget += 1;
            *self
                .misses
                .entry(format!("{stage}_over_budget"))
                .or_default() += 1;
        }
    }

    /// Records a sweep whose tracks were published `age_ns` after its sensor stamp.
    pub fn record_published(&mut self, age_ns: i64, budget: Duration) {
        if age_ns < 0 {
            self.stamps_in_future += 1;
        }
        self.end_to_end
            .get_or_insert_with(|| StageLatency::new("end_to_end"))
            .record(ns_duration(age_ns));
        self.published += 1;
        if ns_duration(age_ns) > budget {
            self.end_to_end_misses += 1;
            *self
                .misses
                .entry("end_to_end_over_budget".into())
                .or_default() += 1;
        }
    }

    /// Counts a sweep that entered the graph.
    pub fn count_sweep(&mut self) {
        self.sweeps_in += 1;
    }

    /// Counts an input dropped for `reason` (`lidar_stale`, `camera0_stale`, `lidar_bad_input`).
    pub fn count_drop(&mut self, reason: impl Into<String>) {
        *self.drops.entry(reason.into()).or_default() += 1;
    }

    /// Counts a policy action for `reason` (`camera0_not_ready`, `camera0_too_old`).
    pub fn count_miss(&mut self, reason: impl Into<String>) {
        *self.misses.entry(reason.into()).or_default() += 1;
    }

    /// A camera's counters.
    pub fn camera(&mut self, name: &str) -> &mut CameraCounters {
        self.cameras.entry(name.to_string()).or_default()
    }

    /// Adds another thread's measurements.
    pub fn merge(&mut self, other: Metrics) {
        for (name, m) in other.stages {
            match self.stages.get_mut(&name) {
                Some(mine) => {
                    mine.processing.merge(&m.processing);
                    mine.pipeline.merge(&m.pipeline);
                    mine.runs += m.runs;
                    mine.over_budget += m.over_budget;
                }
                None => {
                    self.stages.insert(name, m);
                }
            }
        }
        if let Some(e2e) = other.end_to_end {
            match &mut self.end_to_end {
                Some(mine) => mine.merge(&e2e),
                None => self.end_to_end = Some(e2e),
            }
        }
        self.end_to_end_misses += other.end_to_end_misses;
        for (k, v) in other.drops {
            *self.drops.entry(k).or_default() += v;
        }
        for (k, v) in other.misses {
            *self.misses.entry(k).or_default() += v;
        }
        for (k, v) in other.cameras {
            let mine = self.cameras.entry(k).or_default();
            mine.images_in += v.images_in;
            mine.processed += v.processed;
            for (tiles, n) in v.tiles.frames_by_tiles {
                *mine.tiles.frames_by_tiles.entry(tiles).or_default() += n;
            }
            mine.tiles.degrades += v.tiles.degrades;
            mine.tiles.recoveries += v.tiles.recoveries;
            mine.tiles.over_budget += v.tiles.over_budget;
        }
        self.sweeps_in += other.sweeps_in;
        self.published += other.published;
        self.stamps_in_future += other.stamps_in_future;
    }

    /// The report over a run that took `wall`.
    pub fn report(&self, wall: Duration) -> MetricsReport {
        let secs = wall.as_secs_f64().max(1e-9);
        MetricsReport {
            wall_s: wall.as_secs_f64(),
            sweeps_in: self.sweeps_in,
            sweeps_published: self.published,
            end_to_end: self.end_to_end.as_ref().map_or_else(
                || StageLatency::new("end_to_end").summary(),
                |h| h.summary(),
            ),
            end_to_end_misses: self.end_to_end_misses,
            stages: self
                .stages
                .values()
                .map(|m| StageReport {
                    stage: m.processing.name().to_string(),
                    runs: m.runs,
                    over_budget: m.over_budget,
                    processing: m.processing.summary(),
                    pipeline_latency: m.pipeline.summary(),
                })
                .collect(),
            drops: self.drops.clone(),
            misses: self.misses.clone(),
            cameras: self
                .cameras
                .iter()
                .map(|(name, c)| CameraReport {
                    camera: name.clone(),
                    processed_per_s: c.processed as f64 / secs,
                    counters: c.clone(),
                })
                .collect(),
            stamps_in_future: self.stamps_in_future,
            peak_rss_mb: peak_rss_mb(),
        }
    }
}

/// One stage in the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StageReport {
    /// Stage name.
    pub stage: String,
    /// Inputs processed.
    pub runs: u64,
    /// Runs over the stage's budget.
    pub over_budget: u64,
    /// The stage's own processing time (Autoware's `processing_time_ms`).
    pub processing: LatencySummary,
    /// Age of the stage's output: now minus the input's sensor stamp
    /// (Autoware's `pipeline_latency_ms`).
    pub pipeline_latency: LatencySummary,
}

/// One camera in the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CameraReport {
    /// `camera<i>`.
    pub camera: String,
    /// Images the model ran on, per second of wall time.
    pub processed_per_s: f64,
    /// Counters and the tile policy's record.
    #[serde(flatten)]
    pub counters: CameraCounters,
}

/// Everything measured in one run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricsReport {
    /// Wall time of the run, s.
    pub wall_s: f64,
    /// Sweeps that entered the graph.
    pub sweeps_in: u64,
    /// Sweeps whose tracks were published.
    pub sweeps_published: u64,
    /// Sensor stamp -> tracks published.
    pub end_to_end: LatencySummary,
    /// Sweeps published over the end-to-end budget.
    pub end_to_end_misses: u64,
    /// Per stage.
    pub stages: Vec<StageReport>,
    /// Inputs dropped, by reason.
    pub drops: BTreeMap<String, u64>,
    /// Budget misses and policy actions, by reason.
    pub misses: BTreeMap<String, u64>,
    /// Per camera.
    pub cameras: Vec<CameraReport>,
    /// Latencies that came out negative (a sensor stamp ahead of the clock): recorded as 0 and
    /// counted here, never hidden.
    pub stamps_in_future: u64,
    /// Peak resident memory of the process, MB (Linux; `None` elsewhere).
    pub peak_rss_mb: Option<f64>,
}

impl MetricsReport {
    /// The table printed at the end of a run.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "  {:<12} {:>6} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}",
            "stage", "runs", "p50 ms", "p99 ms", "max ms", "misses", "age p50", "age p99"
        );
        for s in &self.stages {
            let _ = writeln!(
                t,
                "  {:<12} {:>6} {:>8.2} {:>8.2} {:>8.2} {:>8} {:>9.2} {:>9.2}",
                s.stage,
                s.runs,
                s.processing.p50_ms,
                s.processing.p99_ms,
                s.processing.max_ms,
                s.over_budget,
                s.pipeline_latency.p50_ms,
                s.pipeline_latency.p99_ms
            );
        }
        let e = &self.end_to_end;
        let _ = writeln!(
            t,
            "  {:<12} {:>6} {:>8.2} {:>8.2} {:>8.2} {:>8}   (sensor stamp -> tracks published)",
            "end_to_end", e.count, e.p50_ms, e.p99_ms, e.max_ms, self.end_to_end_misses
        );
        for c in &self.cameras {
            let _ = writeln!(
                t,
                "  {}: {} images in, {} processed ({:.1}/s); tiles {:?}, {} degrades, {} recoveries",
                c.camera,
                c.counters.images_in,
                c.counters.processed,
                c.processed_per_s,
                c.counters.tiles.frames_by_tiles,
                c.counters.tiles.degrades,
                c.counters.tiles.recoveries
            );
        }
        let list = |m: &BTreeMap<String, u64>| {
            if m.is_empty() {
                "none".to_string()
            } else {
                m.iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let _ = writeln!(t, "  drops: {}", list(&self.drops));
        let _ = writeln!(t, "  misses: {}", list(&self.misses));
        if self.stamps_in_future > 0 {
            let _ = writeln!(
                t,
                "  {} latencies were negative (stamps ahead of the clock), recorded as 0",
                self.stamps_in_future
            );
        }
        if let Some(rss) = self.peak_rss_mb {
            let _ = writeln!(t, "  peak RSS {rss:.1} MB");
        }
        t
    }
}

/// Peak resident set size of this process, MB, from `/proc/self/status` (`VmHWM`).
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_threads_add_up_and_misses_are_named() {
        let budget = Duration::from_millis(10);
        let mut a = Metrics::default();
        a.record_stage("lidar", Duration::from_millis(3), 3_000_000, budget);
        a.record_stage("lidar", Duration::from_millis(30), 30_000_000, budget);
        a.count_drop("lidar_stale");
        let mut b = Metrics::default();
        b.record_stage("lidar", Duration::from_millis(4), 4_000_000, budget);
        b.record_published(-5, budget);
        b.count_drop("lidar_stale");
        b.camera("camera0").processed += 2;
        a.merge(b);
        let r = a.report(Duration::from_secs(1));
        assert_eq!(r.stages[0].runs, 3);
        assert_eq!(r.stages[0].over_budget, 1);
        assert_eq!(r.misses["lidar_over_budget"], 1);
        assert_eq!(r.drops["lidar_stale"], 2);
        assert_eq!(r.stamps_in_future, 1);
        assert_eq!(r.sweeps_published, 1);
        assert!((r.cameras[0].processed_per_s - 2.0).abs() < 1e-9);
        assert!(r.table().contains("lidar_stale 2"));
    }

    #[test]
    fn peak_rss_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss_mb().is_some_and(|mb| mb > 0.0));
        }
    }
}
